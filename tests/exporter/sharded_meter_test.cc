#include "exporter/meter/sharded_meter.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <thread>
#include <tuple>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nf {
namespace {

constexpr TimeUs kT0 = 1'700'000'000'000'000;  // microseconds since the epoch

// Deterministic xorshift so every run sees the same stream.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed | 1) {}
  uint64_t Next() {
    s_ ^= s_ << 13;
    s_ ^= s_ >> 7;
    s_ ^= s_ << 17;
    return s_;
  }
  double Unit() { return static_cast<double>(Next() >> 11) * (1.0 / 9007199254740992.0); }

 private:
  uint64_t s_;
};

// A packet stream with a heavy-tailed flow mix (a few elephants, many one- and few-packet
// flows), IPv4 and IPv6, TCP/UDP/ICMP, some VLAN tags and TCP FINs, over ~`packets` packets
// whose times never go backwards. Timeouts in the tests split many flows.
std::vector<PacketMeta> MakeStream(size_t packets, size_t flows, uint64_t seed) {
  std::vector<PacketMeta> templates(flows);
  Rng rng(seed);
  for (size_t f = 0; f < flows; ++f) {
    PacketMeta& m = templates[f];
    const uint32_t id = static_cast<uint32_t>(f);
    if (f % 5 == 4) {
      uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8};
      uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1};
      for (int i = 0; i < 4; ++i) {
        a[12 + i] = static_cast<uint8_t>(id >> (8 * i));
        b[15 - i] = static_cast<uint8_t>(rng.Next());
      }
      m.src = IpAddress::V6(a);
      m.dst = IpAddress::V6(b);
      m.ip_version = 6;
    } else {
      m.src = IpAddress::V4(0x0a000000u + id);
      m.dst = IpAddress::V4(0xc0a80000u + static_cast<uint32_t>(rng.Next() & 0xffff));
      m.ip_version = 4;
    }
    const uint64_t kind = rng.Next() % 10;
    m.protocol = kind < 6 ? 6 : (kind < 9 ? 17 : (m.ip_version == 4 ? 1 : 58));
    if (m.protocol == 6 || m.protocol == 17) {
      m.src_port = static_cast<uint16_t>(1024 + rng.Next() % 60000);
      m.dst_port = static_cast<uint16_t>(rng.Next() % 2 ? 443 : 53);
    } else {
      m.dst_port = 8 * 256;  // echo request
    }
    m.tos = static_cast<uint8_t>(f % 7 == 0 ? 0xb8 : 0);
    m.vlan = static_cast<uint16_t>(f % 3 == 0 ? 100 + f % 50 : 0);
  }
  std::vector<PacketMeta> out;
  out.reserve(packets);
  TimeUs t = kT0;
  for (size_t i = 0; i < packets; ++i) {
    const double u = rng.Unit();
    const size_t f =
        std::min(flows - 1, static_cast<size_t>(static_cast<double>(flows) * u * u * u));
    PacketMeta m = templates[f];
    t += static_cast<TimeUs>(rng.Next() % 200);  // 0..199 us apart: ~20 s in all
    m.time_us = t;
    m.ttl = static_cast<uint8_t>(60 + rng.Next() % 5);
    m.l3_length = static_cast<uint32_t>(40 + rng.Next() % 1460);
    if (m.protocol == 6) m.tcp_flags = rng.Next() % 400 == 0 ? 0x11 : 0x10;  // FIN|ACK or ACK
    out.push_back(m);
  }
  return out;
}

using RecordTuple = std::tuple<uint8_t, std::array<uint8_t, 16>, uint8_t, std::array<uint8_t, 16>,
                               uint16_t, uint16_t, uint8_t, uint8_t, uint16_t, uint32_t, uint64_t,
                               uint64_t, TimeUs, TimeUs, uint8_t, uint8_t, uint8_t, uint8_t>;
RecordTuple AsTuple(const FlowRecord& r) {
  return {r.key.src.version, r.key.src.bytes, r.key.dst.version, r.key.dst.bytes,
          r.key.src_port,    r.key.dst_port,  r.key.protocol,    r.key.tos,
          r.key.vlan,        r.key.input_if,  r.packets,         r.bytes,
          r.first_us,        r.last_us,       r.tcp_flags,       static_cast<uint8_t>(r.end_reason),
          r.min_ttl,         r.max_ttl};
}
std::vector<RecordTuple> Sorted(const std::vector<FlowRecord>& records) {
  std::vector<RecordTuple> v;
  v.reserve(records.size());
  for (const FlowRecord& r : records) v.push_back(AsTuple(r));
  std::sort(v.begin(), v.end());
  return v;
}

FlowTableOptions TableOptions() {
  FlowTableOptions to;
  to.max_flows = 1 << 16;  // no LRU eviction for these streams
  to.inactive_timeout_us = 2'000'000;
  to.active_timeout_us = 8'000'000;
  to.input_if = 7;
  return to;
}

struct Totals {
  uint64_t packets = 0;
  uint64_t bytes = 0;
};
Totals Sum(const std::vector<FlowRecord>& records) {
  Totals t;
  for (const FlowRecord& r : records) {
    t.packets += r.packets;
    t.bytes += r.bytes;
  }
  return t;
}

class ShardedMeterEquivalenceTest : public ::testing::TestWithParam<size_t> {};

// The sharded meter exports exactly what one FlowTable exports for the same input: the same
// records (flows, packets, bytes, times, flags, end reasons), in another order.
TEST_P(ShardedMeterEquivalenceTest, SameRecordsAsOneTable) {
  const std::vector<PacketMeta> stream = MakeStream(200'000, 30'000, 42);
  Totals truth;
  for (const PacketMeta& m : stream) {
    truth.packets += 1;
    truth.bytes += m.l3_length;
  }

  FlowTable table(TableOptions());
  ASSERT_TRUE(table.ok());
  std::vector<FlowRecord> expected;
  auto expected_sink = [&](const FlowRecord& r) { expected.push_back(r); };
  for (const PacketMeta& m : stream) table.Update(m, expected_sink);
  table.FlushAll(expected_sink);

  ShardedMeterOptions mo;
  mo.shards = GetParam();
  mo.table = TableOptions();
  mo.packet_ring_capacity = 1024;
  mo.record_ring_capacity = 256;
  absl::StatusOr<std::unique_ptr<ShardedMeter>> meter = ShardedMeter::Create(mo);
  ASSERT_TRUE(meter.ok()) << meter.status();
  std::vector<FlowRecord> got;
  auto sink = [&](const FlowRecord& r) { got.push_back(r); };
  size_t i = 0;
  for (const PacketMeta& m : stream) {
    ASSERT_TRUE((*meter)->Submit(m, sink));
    if (++i % 256 == 0) (*meter)->Poll(sink);  // as the capture loop does per batch
  }
  EXPECT_EQ((*meter)->now(), stream.back().time_us);
  (*meter)->Finish(sink);

  // The stream really exercises every path.
  const FlowTableStats& ts = table.stats();
  EXPECT_GT(ts.expired[static_cast<size_t>(EndReason::kIdleTimeout)], 1000u);
  EXPECT_GT(ts.expired[static_cast<size_t>(EndReason::kActiveTimeout)], 0u);
  EXPECT_GT(ts.expired[static_cast<size_t>(EndReason::kEndOfFlow)], 0u);
  EXPECT_GT(ts.expired[static_cast<size_t>(EndReason::kForcedEnd)], 0u);

  EXPECT_EQ(Sum(expected).packets, truth.packets);
  EXPECT_EQ(Sum(got).packets, truth.packets);
  EXPECT_EQ(Sum(got).bytes, truth.bytes);
  EXPECT_EQ(got.size(), expected.size());
  EXPECT_TRUE(Sorted(got) == Sorted(expected)) << "records differ from the single table's";

  const ShardedMeterStats ms = (*meter)->stats();
  EXPECT_EQ(ms.packets_submitted, stream.size());
  EXPECT_EQ(ms.ring_full_drops, 0u);
  EXPECT_EQ(ms.table.packets, ts.packets);
  EXPECT_EQ(ms.table.bytes, ts.bytes);
  EXPECT_EQ(ms.table.flows_created, ts.flows_created);
  EXPECT_EQ(ms.table.expired, ts.expired);
  EXPECT_EQ(ms.active_flows, 0u);
  if (GetParam() > 1) {
    EXPECT_GT(ms.ticks, 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Shards, ShardedMeterEquivalenceTest, ::testing::Values(1, 2, 4));

TEST(ShardedMeterTest, ShardOfSpreadsHashesByHighBits) {
  EXPECT_EQ(ShardedMeter::ShardOf(0, 4), 0u);
  EXPECT_EQ(ShardedMeter::ShardOf(0x3fffffffu, 4), 0u);
  EXPECT_EQ(ShardedMeter::ShardOf(0x40000000u, 4), 1u);
  EXPECT_EQ(ShardedMeter::ShardOf(0xffffffffu, 4), 3u);
  EXPECT_EQ(ShardedMeter::ShardOf(0xffffffffu, 1), 0u);
}

TEST(ShardedMeterTest, RejectsBadOptions) {
  ShardedMeterOptions mo;
  mo.shards = 0;
  EXPECT_FALSE(ShardedMeter::Create(mo).ok());
  mo.shards = 65;
  EXPECT_FALSE(ShardedMeter::Create(mo).ok());
  mo.shards = 2;
  mo.packet_ring_capacity = 4;
  EXPECT_FALSE(ShardedMeter::Create(mo).ok());
}

TEST(ShardedMeterTest, ParsesRingFullPolicy) {
  EXPECT_EQ(*ParseRingFullPolicy("block"), RingFullPolicy::kBlock);
  EXPECT_EQ(*ParseRingFullPolicy("drop"), RingFullPolicy::kDrop);
  EXPECT_FALSE(ParseRingFullPolicy("wait").ok());
  EXPECT_STREQ(RingFullPolicyName(RingFullPolicy::kDrop), "drop");
  EXPECT_STREQ(RingFullPolicyName(RingFullPolicy::kBlock), "block");
}

// Every packet a record of its own (TCP FIN), tiny rings and no Poll: the worker fills its
// record ring and stops, the packet ring fills behind it.
std::vector<PacketMeta> FinPackets(size_t n) {
  std::vector<PacketMeta> v(n);
  for (size_t i = 0; i < n; ++i) {
    PacketMeta& m = v[i];
    m.time_us = kT0 + static_cast<TimeUs>(i);
    m.ip_version = 4;
    m.src = IpAddress::V4(0x0a000001u);
    m.dst = IpAddress::V4(0x0a000002u);
    m.protocol = 6;
    m.src_port = static_cast<uint16_t>(1000 + i % 50000);
    m.dst_port = 80;
    m.tcp_flags = 0x01;
    m.l3_length = 40;
    m.ttl = 64;
  }
  return v;
}

// Block: the caller waits for room and drains records meanwhile, so nothing is lost and
// nothing deadlocks although the caller never polls.
TEST(ShardedMeterTest, BlockPolicyLosesNothingWithTinyRings) {
  ShardedMeterOptions mo;
  mo.shards = 2;
  mo.table = TableOptions();
  mo.packet_ring_capacity = 32;
  mo.record_ring_capacity = 32;
  mo.ring_full = RingFullPolicy::kBlock;
  auto meter = ShardedMeter::Create(mo);
  ASSERT_TRUE(meter.ok()) << meter.status();
  const std::vector<PacketMeta> packets = FinPackets(20'000);
  std::vector<FlowRecord> got;
  auto sink = [&](const FlowRecord& r) { got.push_back(r); };
  for (const PacketMeta& m : packets) (*meter)->Submit(m, sink);
  (*meter)->Finish(sink);
  EXPECT_EQ(got.size(), packets.size());
  EXPECT_EQ(Sum(got).packets, packets.size());
  const ShardedMeterStats ms = (*meter)->stats();
  EXPECT_EQ(ms.ring_full_drops, 0u);
  EXPECT_GT(ms.ring_full_waits, 0u) << "the rings really were full";
  EXPECT_EQ(ms.table.expired[static_cast<size_t>(EndReason::kEndOfFlow)], packets.size());
}

// Drop: a full ring drops packets and counts them; what was not dropped is accounted exactly.
TEST(ShardedMeterTest, DropPolicyCountsEveryDroppedPacket) {
  ShardedMeterOptions mo;
  mo.shards = 2;
  mo.table = TableOptions();
  mo.packet_ring_capacity = 32;
  mo.record_ring_capacity = 32;
  mo.ring_full = RingFullPolicy::kDrop;
  auto meter = ShardedMeter::Create(mo);
  ASSERT_TRUE(meter.ok()) << meter.status();
  const std::vector<PacketMeta> packets = FinPackets(20'000);
  std::vector<FlowRecord> got;
  auto sink = [&](const FlowRecord& r) { got.push_back(r); };
  for (const PacketMeta& m : packets) (*meter)->Submit(m, sink);
  (*meter)->Finish(sink);
  const ShardedMeterStats ms = (*meter)->stats();
  // Without polling at most a few hundred records fit in the rings and stages.
  EXPECT_GT(ms.ring_full_drops, 10'000u);
  EXPECT_EQ(Sum(got).packets + ms.ring_full_drops, packets.size());
  EXPECT_EQ(ms.table.packets, Sum(got).packets);
}

// Routes by the flow's source port: ports < 0x8000 to shard 0, the rest to shard 1 (N = 2).
uint64_t PortHash(const FlowKey& k) { return static_cast<uint64_t>(k.src_port) << 16; }

PacketMeta UdpPacket(uint16_t src_port, TimeUs t) {
  PacketMeta m;
  m.time_us = t;
  m.ip_version = 4;
  m.src = IpAddress::V4(0x0a000001u);
  m.dst = IpAddress::V4(0x0a000002u);
  m.protocol = 17;
  m.src_port = src_port;
  m.dst_port = 53;
  m.l3_length = 100;
  m.ttl = 64;
  return m;
}

// A shard that receives no packets still sees packet time through ticks, so its idle flow
// expires (kIdleTimeout) while the input runs, as it would in one table, not only at the end.
TEST(ShardedMeterTest, TimeTicksExpireIdleFlowsOnQuietShards) {
  ShardedMeterOptions mo;
  mo.shards = 2;
  mo.table = TableOptions();
  mo.table.hash_override = PortHash;
  mo.tick_interval_us = 1'000'000;
  auto meter = ShardedMeter::Create(mo);
  ASSERT_TRUE(meter.ok()) << meter.status();
  ASSERT_EQ(
      ShardedMeter::ShardOf(FlowTable::HashOf(FlowTable::KeyOf(UdpPacket(1, 0), 7), mo.table), 2),
      0u);
  ASSERT_EQ(ShardedMeter::ShardOf(
                FlowTable::HashOf(FlowTable::KeyOf(UdpPacket(0x9000, 0), 7), mo.table), 2),
            1u);
  std::vector<FlowRecord> got;
  auto sink = [&](const FlowRecord& r) { got.push_back(r); };
  (*meter)->Submit(UdpPacket(1, kT0), sink);  // shard 0, then silence there
  for (int i = 1; i <= 20; ++i) {
    (*meter)->Submit(UdpPacket(0x9000, kT0 + i * 500'000), sink);  // shard 1, 10 s of traffic
  }
  // The quiet flow's record arrives before Finish; the wait is bounded (a failure, not a pass,
  // if it does not arrive).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  auto has_quiet_flow = [&] {
    return std::any_of(got.begin(), got.end(),
                       [](const FlowRecord& r) { return r.key.src_port == 1; });
  };
  while (!has_quiet_flow() && std::chrono::steady_clock::now() < deadline) {
    if ((*meter)->Poll(sink) == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(has_quiet_flow());
  const auto it =
      std::find_if(got.begin(), got.end(), [](const FlowRecord& r) { return r.key.src_port == 1; });
  EXPECT_EQ(it->end_reason, EndReason::kIdleTimeout);
  EXPECT_EQ(it->packets, 1u);
  (*meter)->Finish(sink);
  EXPECT_EQ(Sum(got).packets, 21u);
}

// AdvanceTime (the live clock) expires idle flows on every shard without any packet.
TEST(ShardedMeterTest, AdvanceTimeExpiresWithoutPackets) {
  ShardedMeterOptions mo;
  mo.shards = 4;
  mo.table = TableOptions();
  auto meter = ShardedMeter::Create(mo);
  ASSERT_TRUE(meter.ok()) << meter.status();
  std::vector<FlowRecord> got;
  auto sink = [&](const FlowRecord& r) { got.push_back(r); };
  for (uint16_t p = 1; p <= 100; ++p) (*meter)->Submit(UdpPacket(p, kT0), sink);
  (*meter)->AdvanceTime(kT0 + mo.table.inactive_timeout_us, sink);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (got.size() < 100 && std::chrono::steady_clock::now() < deadline) {
    if ((*meter)->Poll(sink) == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(got.size(), 100u);
  for (const FlowRecord& r : got) EXPECT_EQ(r.end_reason, EndReason::kIdleTimeout);
  EXPECT_EQ((*meter)->stats().active_flows, 0u);
  (*meter)->Finish(sink);
  EXPECT_EQ(got.size(), 100u);
}

// End of input: every flow still active comes out as kForcedEnd, and Submit is refused after.
TEST(ShardedMeterTest, FinishFlushesEverythingAsForcedEnd) {
  ShardedMeterOptions mo;
  mo.shards = 3;
  mo.table = TableOptions();
  auto meter = ShardedMeter::Create(mo);
  ASSERT_TRUE(meter.ok()) << meter.status();
  std::vector<FlowRecord> got;
  auto sink = [&](const FlowRecord& r) { got.push_back(r); };
  for (uint16_t p = 1; p <= 1000; ++p) (*meter)->Submit(UdpPacket(p, kT0 + p), sink);
  (*meter)->Finish(sink);
  ASSERT_EQ(got.size(), 1000u);
  for (const FlowRecord& r : got) EXPECT_EQ(r.end_reason, EndReason::kForcedEnd);
  EXPECT_FALSE((*meter)->Submit(UdpPacket(1, kT0 + 5000), sink));
  (*meter)->Finish(sink);  // idempotent
  EXPECT_EQ(got.size(), 1000u);
}

// Destroying a meter without Finish (error paths) stops its workers cleanly.
TEST(ShardedMeterTest, DestructorStopsWorkersWithoutFinish) {
  ShardedMeterOptions mo;
  mo.shards = 2;
  mo.table = TableOptions();
  mo.packet_ring_capacity = 32;
  mo.record_ring_capacity = 32;
  auto meter = ShardedMeter::Create(mo);
  ASSERT_TRUE(meter.ok()) << meter.status();
  std::vector<FlowRecord> got;
  auto sink = [&](const FlowRecord& r) { got.push_back(r); };
  const std::vector<PacketMeta> packets = FinPackets(2'000);
  for (const PacketMeta& m : packets) (*meter)->Submit(m, sink);
  meter->reset();
  EXPECT_LE(got.size(), packets.size());
}

}  // namespace
}  // namespace nf
