// The Meter seam (exporter/meter/meter.h): the single-table meter and the sharded meter, driven
// only through the interface the flowexport runtime uses (Add per packet, Poll per batch,
// AdvanceTime, Finish), export the same flows with the same counters, and their totals agree
// with what reached the sink.
#include <algorithm>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "exporter/meter/flow_table.h"
#include "exporter/meter/meter.h"
#include "exporter/meter/sharded_meter.h"
#include "gtest/gtest.h"

namespace nf {
namespace {

constexpr TimeUs kBase = 1'700'000'000'000'000;

// `flows` UDP flows, packets round-robin 1 ms apart; flow f stops after 1 + f % 5 packets.
std::vector<PacketMeta> MakePackets(int flows) {
  std::vector<PacketMeta> out;
  TimeUs t = kBase;
  for (int round = 0; round < 5; ++round) {
    for (int f = 0; f < flows; ++f) {
      if (round >= 1 + f % 5) continue;
      PacketMeta m;
      m.ip_version = 4;
      m.src = IpAddress::V4(0x0a000000u + static_cast<uint32_t>(f));
      m.dst = IpAddress::V4(0xc0a80001u);
      m.src_port = static_cast<uint16_t>(1000 + f);
      m.dst_port = 53;
      m.protocol = 17;
      m.l3_length = static_cast<uint16_t>(60 + f % 40);
      m.time_us = t += 1000;
      out.push_back(m);
    }
  }
  return out;
}

struct Exported {
  std::map<std::tuple<uint16_t, int>, std::pair<uint64_t, uint64_t>> flows;  // (port, reason)
  uint64_t records = 0;
  MeterTotals totals;
};

// Feeds `packets` in capture batches of 64, expires at `expire_at`, then finishes.
Exported Drive(Meter& meter, const std::vector<PacketMeta>& packets, TimeUs expire_at) {
  Exported e;
  auto sink = [&e](const FlowRecord& r) {
    auto& [p, b] = e.flows[{r.key.src_port, static_cast<int>(r.end_reason)}];
    p += r.packets;
    b += r.bytes;
    ++e.records;
  };
  for (size_t i = 0; i < packets.size(); ++i) {
    meter.Add(packets[i], sink);
    if (i % 64 == 63) meter.Poll(sink);
  }
  meter.Poll(sink);
  meter.AdvanceTime(expire_at, sink);
  meter.Finish(sink);
  e.totals = meter.Totals();
  return e;
}

std::unique_ptr<Meter> MakeMeter(int threads, const FlowTableOptions& to) {
  if (threads == 1) return std::make_unique<FlowTable>(to);
  ShardedMeterOptions mo;
  mo.shards = static_cast<size_t>(threads);
  mo.table = to;
  absl::StatusOr<std::unique_ptr<ShardedMeter>> m = ShardedMeter::Create(mo);
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? std::move(*m) : nullptr;
}

TEST(MeterTest, TableAndShardsExportTheSameFlowsThroughTheInterface) {
  const std::vector<PacketMeta> packets = MakePackets(500);
  FlowTableOptions to;
  // A round of packets spans at most 0.5 s, so no flow goes idle for 1 s while it still has
  // packets; at AdvanceTime the flows that ended in the first round have been idle over 1 s and
  // expire by timeout, the rest are forced out by Finish.
  to.inactive_timeout_us = 1'000'000;
  const TimeUs expire_at = packets.back().time_us + 50'000;
  std::vector<Exported> runs;
  for (int threads : {1, 2, 4}) {
    std::unique_ptr<Meter> meter = MakeMeter(threads, to);
    ASSERT_NE(meter, nullptr);
    runs.push_back(Drive(*meter, packets, expire_at));
  }
  const Exported& one = runs[0];
  uint64_t packets_out = 0;
  for (const auto& [key, pb] : one.flows) packets_out += pb.first;
  EXPECT_EQ(packets_out, packets.size());
  EXPECT_EQ(one.records, 500u);
  EXPECT_GT(one.totals.table.expired[static_cast<size_t>(EndReason::kIdleTimeout)], 0u);
  EXPECT_GT(one.totals.table.expired[static_cast<size_t>(EndReason::kForcedEnd)], 0u);
  for (const Exported& e : runs) {
    EXPECT_EQ(e.flows, one.flows);
    EXPECT_EQ(e.totals.table.flows_created, 500u);
    EXPECT_EQ(e.totals.table.expired_total(), e.records);
    EXPECT_EQ(e.totals.table.packets, packets.size());
    EXPECT_EQ(e.totals.active_flows, 0u);
    EXPECT_EQ(e.totals.ring_full_drops, 0u);
  }
}

TEST(MeterTest, NowIsTheLatestPacketTimeAfterPoll) {
  const std::vector<PacketMeta> packets = MakePackets(10);
  for (int threads : {1, 2}) {
    std::unique_ptr<Meter> meter = MakeMeter(threads, FlowTableOptions{});
    ASSERT_NE(meter, nullptr);
    auto sink = [](const FlowRecord&) {};
    for (const PacketMeta& m : packets) meter->Add(m, sink);
    meter->Poll(sink);
    EXPECT_EQ(meter->now(), packets.back().time_us) << threads << " threads";
    meter->Finish(sink);
  }
}

}  // namespace
}  // namespace nf
