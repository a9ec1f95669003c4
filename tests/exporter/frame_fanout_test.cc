// flowexport -r --threads N's frame fanout against one FlowTable on the same generated captures:
// the same records (every field, end reasons included) with timeouts that split flows, for 2
// and 3 workers, with the smallest batches (many hand-offs) and the default ones, with
// deterministic and random sampling, with a filter, over several files, and up to a truncated
// record; the packet counters counted once; a stop in the middle of the input that still
// exports every metered packet; bad options.
#include "exporter/app/frame_fanout.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "capture/classic_pcap_reader.h"
#include "capture/pcap_source.h"
#include "exporter/app/packet_step.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"
#include "tools/trafgen/trafgen.h"

namespace nf {
namespace {

std::string Describe(const FlowRecord& r) {
  const FlowKey& k = r.key;
  return absl::StrCat(std::string(reinterpret_cast<const char*>(&k.src), sizeof k.src), "|",
                      std::string(reinterpret_cast<const char*>(&k.dst), sizeof k.dst), "|",
                      k.src_port, "|", k.dst_port, "|", k.protocol, "|", k.tos, "|", k.vlan, "|",
                      k.input_if, "|", r.packets, "|", r.bytes, "|", r.first_us, "|", r.last_us,
                      "|", r.tcp_flags, "|", static_cast<int>(r.end_reason), "|", r.min_ttl, "|",
                      r.max_ttl);
}

struct Outcome {
  std::vector<std::string> records;  // sorted
  PacketCounters counters;
  MeterTotals meter;
};

FlowTableOptions Timeouts() {
  FlowTableOptions o;
  o.max_flows = 1 << 16;
  o.inactive_timeout_us = 1'000'000;
  o.active_timeout_us = 5'000'000;
  return o;
}

// The one-thread path: Dispatch, ParseCountAndSample, one FlowTable.
Outcome OneTable(const std::vector<std::string>& pcaps, const std::string& filter,
                 uint32_t sampling, PacketSampler::Mode mode, uint64_t seed,
                 absl::Status* error = nullptr) {
  Outcome out;
  absl::StatusOr<std::unique_ptr<PcapSource>> src = PcapSource::OpenOffline(pcaps, filter);
  EXPECT_TRUE(src.ok()) << src.status();
  if (!src.ok()) return out;
  FlowTable table(Timeouts());
  PacketSampler sampler(sampling, mode, seed);
  auto sink = [&](const FlowRecord& r) { out.records.push_back(Describe(r)); };
  for (;;) {
    absl::StatusOr<int> n = (*src)->Dispatch(256, [&](const RawPacket& pkt) {
      PacketMeta meta;
      if (ParseCountAndSample(pkt, sampler, out.counters, meta)) table.Update(meta, sink);
    });
    if (!n.ok()) {
      if (error != nullptr) {
        *error = n.status();
      } else {
        EXPECT_TRUE(absl::IsOutOfRange(n.status())) << n.status();
      }
      break;
    }
  }
  table.FlushAll(sink);
  out.meter = table.Totals();
  std::sort(out.records.begin(), out.records.end());
  return out;
}

Outcome Fanout(const std::vector<std::string>& pcaps, const std::string& filter,
               FrameFanoutOptions fo, absl::Status* error = nullptr) {
  Outcome out;
  absl::StatusOr<std::unique_ptr<PcapSource>> src = PcapSource::OpenOffline(pcaps, filter);
  EXPECT_TRUE(src.ok()) << src.status();
  if (!src.ok()) return out;
  EXPECT_TRUE((*src)->ReadsFrameBatches());
  fo.table = Timeouts();
  absl::StatusOr<std::unique_ptr<FrameFanout>> f = FrameFanout::Create(fo, src->get());
  EXPECT_TRUE(f.ok()) << f.status();
  if (!f.ok()) return out;
  auto sink = [&](const FlowRecord& r) { out.records.push_back(Describe(r)); };
  for (;;) {
    absl::StatusOr<size_t> n = (*f)->Pump(sink);
    if (!n.ok()) {
      if (error != nullptr && !absl::IsOutOfRange(n.status())) {
        *error = n.status();
      } else {
        EXPECT_TRUE(absl::IsOutOfRange(n.status())) << n.status();
      }
      break;
    }
  }
  (*f)->Finish(sink);
  const FanoutTotals t = (*f)->Totals();
  out.counters = t.packets;
  out.meter = t.meter;
  EXPECT_EQ((*src)->Stats().received, t.packets.seen);
  std::sort(out.records.begin(), out.records.end());
  return out;
}

void ExpectSame(const Outcome& want, const Outcome& got) {
  ASSERT_EQ(got.records.size(), want.records.size());
  EXPECT_TRUE(got.records == want.records);
  EXPECT_EQ(got.counters.seen, want.counters.seen);
  EXPECT_EQ(got.counters.parsed, want.counters.parsed);
  EXPECT_TRUE(got.counters.results == want.counters.results);
  EXPECT_EQ(got.counters.sampled_out, want.counters.sampled_out);
  EXPECT_EQ(got.counters.fragments, want.counters.fragments);
  EXPECT_EQ(got.counters.l4_truncated, want.counters.l4_truncated);
  EXPECT_EQ(got.meter.table.packets, want.meter.table.packets);
  EXPECT_EQ(got.meter.table.bytes, want.meter.table.bytes);
  EXPECT_EQ(got.meter.table.flows_created, want.meter.table.flows_created);
  EXPECT_TRUE(got.meter.table.expired == want.meter.table.expired);
  EXPECT_EQ(got.meter.active_flows, 0u);
}

class FrameFanoutTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    trafgen::Options o;
    o.packets = 60000;
    o.flows = 3000;
    o.seed = 11;
    o.ipv6_ratio = 0.3;
    o.vlan_ratio = 0.2;
    o.rate_pps = 2000;  // 30 s of capture time: the 1 s idle and 5 s active timeouts split flows
    o.max_gap_us = 0;
    o.max_flow_duration_us = 0;
    pcap_ = new std::string(dir_->File("in.pcap"));
    auto summary = trafgen::Generate(o, *pcap_, trafgen::DefaultTruthPath(*pcap_));
    ASSERT_TRUE(summary.ok()) << summary.status();
    // A second capture that starts after the first ends (time never goes backwards across
    // the two), with other flows.
    o.seed = 12;
    o.packets = 20000;
    o.start_us += 40'000'000;
    later_ = new std::string(dir_->File("later.pcap"));
    summary = trafgen::Generate(o, *later_, trafgen::DefaultTruthPath(*later_));
    ASSERT_TRUE(summary.ok()) << summary.status();
  }
  static void TearDownTestSuite() {
    delete pcap_;
    delete later_;
    delete dir_;
  }
  static testing::TempDir* dir_;
  static std::string* pcap_;
  static std::string* later_;
};
testing::TempDir* FrameFanoutTest::dir_ = nullptr;
std::string* FrameFanoutTest::pcap_ = nullptr;
std::string* FrameFanoutTest::later_ = nullptr;

TEST_F(FrameFanoutTest, SameRecordsAsOneTable) {
  const Outcome one = OneTable({*pcap_}, "", 1, PacketSampler::Mode::kDeterministic, 1);
  ASSERT_GT(one.meter.table.expired[static_cast<size_t>(EndReason::kIdleTimeout)], 0u);
  ASSERT_GT(one.meter.table.expired[static_cast<size_t>(EndReason::kActiveTimeout)], 0u);
  ASSERT_EQ(one.counters.seen, 60000u);
  for (size_t workers : {2, 3}) {
    for (bool small : {true, false}) {
      SCOPED_TRACE(absl::StrCat(workers, " workers, ", small ? "smallest" : "default", " batches"));
      FrameFanoutOptions fo;
      fo.workers = workers;
      fo.batches = small ? workers + 1 : 2 * workers;
      if (small) fo.batch_bytes = ClassicPcapReader::kMinChunkBytes;
      if (small) fo.record_ring_capacity = 16;  // workers wait on full rings too
      ExpectSame(one, Fanout({*pcap_}, "", fo));
    }
  }
}

TEST_F(FrameFanoutTest, SamplesTheSamePacketsAsOneThread) {
  for (const PacketSampler::Mode mode :
       {PacketSampler::Mode::kDeterministic, PacketSampler::Mode::kRandom}) {
    SCOPED_TRACE(static_cast<int>(mode));
    const Outcome one = OneTable({*pcap_}, "", 7, mode, 42);
    EXPECT_GT(one.counters.sampled_out, 60000u * 5 / 7);
    EXPECT_LT(one.counters.sampled_out, 60000u * 6 / 7 + 100);
    FrameFanoutOptions fo;
    fo.workers = 2;
    fo.batches = 3;
    fo.batch_bytes = ClassicPcapReader::kMinChunkBytes;
    fo.sampling = 7;
    fo.sampling_mode = mode;
    fo.sampling_seed = 42;
    ExpectSame(one, Fanout({*pcap_}, "", fo));
  }
}

TEST_F(FrameFanoutTest, ReadsSeveralFilesInOrder) {
  const Outcome one =
      OneTable({*pcap_, *later_}, "", 1, PacketSampler::Mode::kDeterministic, 1);
  EXPECT_EQ(one.counters.seen, 80000u);
  FrameFanoutOptions fo;
  fo.workers = 3;
  fo.batches = 5;
  fo.batch_bytes = ClassicPcapReader::kMinChunkBytes;
  ExpectSame(one, Fanout({*pcap_, *later_}, "", fo));
}

// A record cut short in the middle of the input (the file ends inside it) ends the input there,
// as with one thread: the same records and counters, and the same error, naming the file.
TEST_F(FrameFanoutTest, StopsAtATruncatedRecordAsOneThread) {
  const std::string cut = dir_->File("cut.pcap");
  {
    std::ifstream in(*pcap_, std::ios::binary);
    std::string image((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    image.resize(image.size() * 3 / 5);
    std::ofstream(cut, std::ios::binary) << image;
  }
  absl::Status one_error;
  const Outcome one =
      OneTable({cut, *later_}, "", 1, PacketSampler::Mode::kDeterministic, 1, &one_error);
  ASSERT_FALSE(one_error.ok());
  FrameFanoutOptions fo;
  fo.workers = 2;
  fo.batch_bytes = ClassicPcapReader::kMinChunkBytes;
  absl::Status error;
  const Outcome got = Fanout({cut, *later_}, "", fo, &error);
  ExpectSame(one, got);
  EXPECT_EQ(error.message(), one_error.message());
  EXPECT_NE(error.message().find("cut.pcap"), std::string::npos) << error;
  EXPECT_GT(got.counters.seen, 20000u);
  EXPECT_LT(got.counters.seen, 60000u);  // nothing of the cut file's end, nor of the later one
}

TEST_F(FrameFanoutTest, FiltersOnceInTheReader) {
  const Outcome one = OneTable({*pcap_}, "tcp", 1, PacketSampler::Mode::kDeterministic, 1);
  EXPECT_GT(one.counters.seen, 10000u);
  EXPECT_LT(one.counters.seen, 60000u);
  FrameFanoutOptions fo;
  fo.workers = 2;
  ExpectSame(one, Fanout({*pcap_}, "tcp", fo));
}

// Stopping before the end of the input (SIGINT): Finish meters every batch handed out and
// exports every flow, so the records carry exactly the packets the workers metered.
TEST_F(FrameFanoutTest, FinishInTheMiddleExportsEveryMeteredPacket) {
  absl::StatusOr<std::unique_ptr<PcapSource>> src = PcapSource::OpenOffline({*pcap_});
  ASSERT_TRUE(src.ok());
  FrameFanoutOptions fo;
  fo.workers = 2;
  fo.batches = 3;
  fo.batch_bytes = ClassicPcapReader::kMinChunkBytes;
  fo.table = Timeouts();
  absl::StatusOr<std::unique_ptr<FrameFanout>> f = FrameFanout::Create(fo, src->get());
  ASSERT_TRUE(f.ok()) << f.status();
  uint64_t packets = 0;
  uint64_t records = 0;
  auto sink = [&](const FlowRecord& r) {
    packets += r.packets;
    ++records;
  };
  size_t frames = 0;
  for (int i = 0; i < 4; ++i) {
    absl::StatusOr<size_t> n = (*f)->Pump(sink);
    ASSERT_TRUE(n.ok()) << n.status();
    frames += *n;
  }
  (*f)->Finish(sink);
  (*f)->Finish(sink);  // idempotent
  const FanoutTotals t = (*f)->Totals();
  EXPECT_EQ(t.packets.seen, frames);
  EXPECT_GT(frames, 1000u);
  EXPECT_LT(frames, 60000u);
  EXPECT_EQ(t.meter.table.packets, packets);
  EXPECT_EQ(t.meter.table.expired_total(), records);
  EXPECT_EQ(t.meter.active_flows, 0u);
  EXPECT_FALSE((*f)->Pump(sink).ok());
  std::vector<uint64_t> per_worker = (*f)->MeteredPerWorker();
  ASSERT_EQ(per_worker.size(), 2u);
  EXPECT_EQ(per_worker[0] + per_worker[1], packets);
  EXPECT_GT(std::min(per_worker[0], per_worker[1]), packets / 4) << "the hash spreads flows";
}

TEST_F(FrameFanoutTest, RefusesBadOptions) {
  absl::StatusOr<std::unique_ptr<PcapSource>> src = PcapSource::OpenOffline({*pcap_});
  ASSERT_TRUE(src.ok());
  FrameFanoutOptions fo;
  fo.workers = 1;
  EXPECT_FALSE(FrameFanout::Create(fo, src->get()).ok());
  fo.workers = 4;
  fo.batches = 4;  // fewer than workers + 1
  EXPECT_FALSE(FrameFanout::Create(fo, src->get()).ok());
  fo.batches = 8;
  fo.batch_bytes = 4096;
  EXPECT_FALSE(FrameFanout::Create(fo, src->get()).ok());
  fo.batch_bytes = 1 << 20;
  EXPECT_FALSE(FrameFanout::Create(fo, nullptr).ok());
  EXPECT_TRUE(FrameFanout::Create(fo, src->get()).ok());
}

}  // namespace
}  // namespace nf
