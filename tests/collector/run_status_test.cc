// The status lines and the exit summaries people read: rates over the interval, every drop
// with its reason, zero counters left out.
#include "collector/app/run_status.h"

#include <string>

#include "exporter/app/run_status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nf {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(CollectorStatusTest, RatesOverTheIntervalAndCurrentGauges) {
  CollectorStatusSample before;
  before.datagrams = 1000;
  before.records = 20'000;
  before.drops = 5;
  CollectorStatusSample now = before;
  now.datagrams = 11'000;   // +10k in 10 s
  now.records = 320'000;    // +300k in 10 s
  now.exporters = 3;
  now.templates = 7;
  now.drops = 12;
  now.early_pending = 2;
  now.early_decoded = 40;
  EXPECT_EQ(CollectorStatusLine(before, now, 10.0),
            "flowcollect: 1.0k datagrams/s, 30.0k records/s; 3 exporters, 7 templates; drops 12 "
            "(+7); early: 2 sets waiting, 40 records decoded late\n");
}

TEST(CollectorStatusTest, SampleCountsEveryKindOfDrop) {
  DecoderSummary d;
  d.totals.records = 9;
  d.totals.early_sets_aged_out = 2;
  d.totals.errors[static_cast<size_t>(DecodeError::kBadVersion)] = 3;
  d.exporters_refused = 4;
  d.templates_cached = 6;
  InputStats in;
  in.receive.datagrams = 50;
  in.receive.kernel_drops = 1;
  in.receive.denied = 10;
  in.file_truncated = 100;
  const CollectorStatusSample s = StatusSample(d, in);
  EXPECT_EQ(s.datagrams, 50u);
  EXPECT_EQ(s.records, 9u);
  EXPECT_EQ(s.templates, 6u);
  EXPECT_EQ(s.drops, 1u + 10 + 100 + 3 + 2 + 4);
}

// Workers' summaries merge per exporter: the same exporter's counters add up, new exporters
// are appended in order, totals add up.
TEST(CollectorSummaryTest, MergeAddsPerExporter) {
  auto exporter = [](uint8_t last) {
    const uint8_t a[4] = {192, 0, 2, last};
    return ExporterId{IpAddress::V4(a), 2055};
  };
  auto stats = [](uint64_t records) {
    ExporterStats s;
    s.records = records;
    return s;
  };
  DecoderSummary a;
  for (uint8_t i = 0; i < 200; ++i) a.exporters.push_back({exporter(i), stats(i)});
  a.totals.records = 5;
  DecoderSummary b;
  for (uint8_t i = 100; i < 250; ++i) b.exporters.push_back({exporter(i), stats(1000)});
  b.totals.records = 7;
  a.Merge(b);
  ASSERT_EQ(a.exporters.size(), 250u);
  for (uint8_t i = 0; i < 250; ++i) {
    EXPECT_EQ(a.exporters[i].first, exporter(i));
    EXPECT_EQ(a.exporters[i].second.records, (i < 200 ? i : 0u) + (i >= 100 ? 1000u : 0u)) << +i;
  }
  EXPECT_EQ(a.totals.records, 12u);
}

TEST(CollectorSummaryTest, CleanRunSaysNothingWasDropped) {
  DecoderSummary d;
  d.exporters.push_back({ExporterId{}, ExporterStats{}});
  d.totals.v9_datagrams = 5;
  d.totals.records = 100;
  d.totals.packets = 2000;
  d.totals.bytes = 3 << 20;
  d.templates_cached = 2;
  InputStats in;
  in.receive.datagrams = 5;
  in.receive.bytes = 6660;
  OutputStats out;
  out.rows = 100;
  out.files = 1;
  const std::string s = CollectorSummaryText(d, in, out);
  EXPECT_THAT(s, HasSubstr("received: 5 datagrams (6.5 KiB) from 1 exporter: v9 5\n"));
  EXPECT_THAT(s, HasSubstr("decoded:  100 flow records (2,000 packets, 3.0 MiB); 2 templates"));
  EXPECT_THAT(s, HasSubstr("written:  100 CSV rows\n"));
  EXPECT_THAT(s, HasSubstr("dropped:  nothing\n"));
  EXPECT_THAT(s, Not(HasSubstr("upstream")));
  EXPECT_THAT(s, Not(HasSubstr("read:")));  // live input: no capture-file line
}

TEST(CollectorSummaryTest, EveryDropWithItsReason) {
  DecoderSummary d;
  d.totals.errors[static_cast<size_t>(DecodeError::kBadVersion)] = 3;
  d.totals.early_sets_aged_out = 2;
  d.totals.sequence_lost = 8;
  InputStats in;
  in.receive.kernel_drops = 1;
  in.receive.denied = 10;
  OutputStats out;
  out.aggregate_overflow = 4;
  out.error = "disk full";
  const std::string s = CollectorSummaryText(d, in, out);
  EXPECT_THAT(s, HasSubstr("1 datagrams dropped by the kernel (receive buffer full: raise --rcvbuf)"));
  EXPECT_THAT(s, HasSubstr("10 datagrams from sources outside --allow"));
  EXPECT_THAT(s, HasSubstr("3 decode errors: bad_version"));
  EXPECT_THAT(s, HasSubstr("2 data sets whose template never arrived"));
  EXPECT_THAT(s, HasSubstr("4 records beyond --max-groups"));
  EXPECT_THAT(s, HasSubstr("OUTPUT ERROR: disk full"));
  EXPECT_THAT(s, HasSubstr("upstream: 8 missing by sequence number"));
  EXPECT_THAT(s, Not(HasSubstr("receive errors")));  // zero counters are left out
  EXPECT_THAT(s, Not(HasSubstr("nothing")));
}

TEST(ExportStatusTest, RatesAndGauges) {
  ExportStatusSample before{100'000, 10, 1000, 40, 0, 0};
  ExportStatusSample now{912'000, 12'345, 13'000, 900, 3, 1};
  EXPECT_EQ(ExportStatusLine(before, now, 10.0),
            "flowexport: 81.2k packets/s, 12,345 active flows, 1.2k flows/s exported, 900 "
            "datagrams; capture drops 3, send errors 1\n");
}

}  // namespace
}  // namespace nf
