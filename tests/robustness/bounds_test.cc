// Resource bounds (docs/ROBUSTNESS.md): at each bound the input is counted, never
// stored without limit. flowcollect -r on generated export captures: exporters tracked
// (--max-exporters), templates per exporter (--max-templates), early data waiting for a
// template (--early-max-sets), aggregation groups (--max-groups); flowexport's flow table
// (--max-flows) exports the least recently used flow and loses no packet.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/robustness/robustness_support.h"
#include "tests/support/test_support.h"

namespace nf {
namespace {

using testing::TempDir;

std::string RunCollect(const TempDir& tmp, const std::vector<testing::TimedDatagram>& dg,
                       std::vector<std::string> args) {
  const std::string pcap = tmp.File("in.pcap");
  EXPECT_TRUE(testing::WriteExportPcap(pcap, dg));
  const std::string json = tmp.File("stats.json");
  std::vector<std::string> argv = {testing::BinaryPath("flowcollect"), "-q", "-r", pcap,
                                   "--stats-json", json};
  argv.insert(argv.end(), args.begin(), args.end());
  const int status = testing::WaitBounded(testing::Spawn(argv, {-1, tmp.File("err.txt")}), 60'000);
  EXPECT_EQ(testing::ExitCode(status), 0) << testing::ReadWholeFile(tmp.File("err.txt"));
  return testing::ReadWholeFile(json);
}

int64_t Totals(const std::string& j, const std::string& key) {
  return testing::JsonNumber(j, key, j.find("\"totals\""));
}

TEST(BoundsTest, ExportersBeyondTheLimitAreRefusedAndCounted) {
  TempDir tmp;
  std::vector<testing::TimedDatagram> dg;
  for (uint32_t e = 0; e < 5; ++e) {
    for (uint32_t s = 0; s < 3; ++s) {
      testing::V9Spec v;
      v.sequence = s;
      dg.push_back({int64_t{1'700'000'000'000'000} + e * 10 + s, testing::V9Datagram(v),
                    0x0A010000u + e});
    }
  }
  const std::string j = RunCollect(tmp, dg, {"-o", tmp.File("o.csv"), "--max-exporters", "2"});
  EXPECT_EQ(testing::JsonNumber(j, "exporters_refused"), 9) << j;  // 3 exporters x 3 datagrams
  EXPECT_EQ(Totals(j, "records"), 2 * 3 * 5) << j;
}

TEST(BoundsTest, TemplatesBeyondTheLimitAreRefusedAndCounted) {
  TempDir tmp;
  std::vector<testing::TimedDatagram> dg;
  for (uint16_t t = 0; t < 10; ++t) {
    testing::V9Spec v;
    v.sequence = t;
    v.template_id = static_cast<uint16_t>(256 + t);
    dg.push_back({int64_t{1'700'000'000'000'000} + t, testing::V9Datagram(v)});
  }
  const std::string j = RunCollect(tmp, dg, {"-o", tmp.File("o.csv"), "--max-templates", "3"});
  EXPECT_EQ(testing::JsonNumber(j, "refused", j.find("\"templates\"")), 7) << j;
  EXPECT_EQ(testing::JsonNumber(j, "cached", j.find("\"templates\"")), 3) << j;
  EXPECT_EQ(Totals(j, "records"), 3 * 5) << j;  // data of refused templates is not decoded
}

TEST(BoundsTest, EarlyDataBeyondTheLimitIsDroppedAndCounted) {
  TempDir tmp;
  std::vector<testing::TimedDatagram> dg;
  for (uint32_t s = 0; s < 5; ++s) {  // data sets whose template never comes
    testing::V9Spec v;
    v.sequence = s;
    v.with_template = false;
    dg.push_back({int64_t{1'700'000'000'000'000} + s, testing::V9Datagram(v)});
  }
  const std::string j = RunCollect(tmp, dg, {"-o", tmp.File("o.csv"), "--early-max-sets", "2"});
  EXPECT_EQ(Totals(j, "early_sets_buffered"), 2) << j;
  EXPECT_EQ(Totals(j, "early_sets_dropped"), 3) << j;
  EXPECT_EQ(Totals(j, "records"), 0) << j;
}

TEST(BoundsTest, AggregationGroupsBeyondTheLimitAreCounted) {
  TempDir tmp;
  testing::V9Spec v;
  v.records = 10;  // 10 distinct destinations
  const std::string csv = tmp.File("agg.csv");
  const std::string j = RunCollect(tmp, {{1'700'000'000'000'000, testing::V9Datagram(v)}},
                                   {"-o", csv, "-A", "dst_addr", "--max-groups", "4"});
  EXPECT_EQ(testing::JsonNumber(j, "aggregate_overflow"), 6) << j;
  EXPECT_EQ(testing::ReadCsv(csv).size(), 4u);
}

TEST(BoundsTest, FullFlowTableExportsLeastRecentlyUsedAndLosesNothing) {
  TempDir tmp;
  const std::string pcap = tmp.File("t.pcap");
  ASSERT_EQ(testing::RunCommand(absl::StrCat(testing::BinaryPath("nf-trafgen"), " -q -o ", pcap,
                                             " -n 5000 -f 500 --concurrency 200 -s 9 >/dev/null "
                                             "2>&1")),
            0);
  const std::string json = tmp.File("e.json");
  const int status = testing::WaitBounded(
      testing::Spawn({testing::BinaryPath("flowexport"), "-r", pcap, "-c",
                      absl::StrCat("127.0.0.1:", testing::FreeUdpPort()), "--max-flows", "50",
                      "--max-export-rate", "0", "--stats-json", json},
                     {-1, tmp.File("err.txt")}),
      60'000);
  EXPECT_EQ(testing::ExitCode(status), 0) << testing::ReadWholeFile(tmp.File("err.txt"));
  const std::string j = testing::ReadWholeFile(json);
  EXPECT_GT(testing::JsonNumber(j, "lack_of_resources"), 0) << j;
  EXPECT_EQ(testing::JsonNumber(j, "packets_exported"), 5000) << j;
}

}  // namespace
}  // namespace nf
