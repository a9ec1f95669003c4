// Tests of nf::flowtable: counting, every expiry reason, LRU eviction, full-key compare under
// forced hash collisions, IPv6 keys, clamped time, and sampling.
#include "exporter/meter/flow_table.h"

#include <algorithm>
#include <functional>
#include <map>
#include <vector>

#include "gtest/gtest.h"

namespace nf {
namespace {

constexpr TimeUs kSec = 1'000'000;

PacketMeta V4(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, TimeUs t,
              uint32_t len = 100, uint8_t proto = 17, uint8_t tcp_flags = 0) {
  PacketMeta m;
  m.time_us = t;
  m.ip_version = 4;
  m.src = IpAddress::V4(src);
  m.dst = IpAddress::V4(dst);
  m.src_port = sport;
  m.dst_port = dport;
  m.protocol = proto;
  m.tcp_flags = tcp_flags;
  m.l3_length = len;
  m.ttl = 64;
  return m;
}

PacketMeta V6(uint8_t last, uint16_t sport, TimeUs t, uint32_t len = 200) {
  uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8};
  uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8};
  a[15] = last;
  b[15] = 0xff;
  PacketMeta m;
  m.time_us = t;
  m.ip_version = 6;
  m.src = IpAddress::V6(a);
  m.dst = IpAddress::V6(b);
  m.src_port = sport;
  m.dst_port = 443;
  m.protocol = 6;
  m.l3_length = len;
  return m;
}

struct Collector {
  std::vector<FlowRecord> records;
  void operator()(const FlowRecord& r) { records.push_back(r); }
  uint64_t Count(EndReason reason) const {
    uint64_t n = 0;
    for (const FlowRecord& r : records) n += r.end_reason == reason;
    return n;
  }
};

TEST(FlowTableTest, AggregatesPacketsIntoOneFlow) {
  FlowTable table({});
  ASSERT_TRUE(table.ok());
  Collector out;
  auto sink = [&](const FlowRecord& r) { out(r); };
  table.Update(V4(1, 2, 10, 20, 1 * kSec, 100, 6, 0x02), sink);
  table.Update(V4(1, 2, 10, 20, 2 * kSec, 60, 6, 0x10), sink);
  table.Update(V4(2, 1, 20, 10, 2 * kSec, 40, 6, 0x12), sink);  // reverse direction: own flow
  EXPECT_EQ(table.active_flows(), 2u);
  EXPECT_TRUE(out.records.empty());
  table.FlushAll(sink);
  ASSERT_EQ(out.records.size(), 2u);
  const FlowRecord& r = out.records[0];
  EXPECT_EQ(r.key.src, IpAddress::V4(1));
  EXPECT_EQ(r.packets, 2u);
  EXPECT_EQ(r.bytes, 160u);
  EXPECT_EQ(r.first_us, 1 * kSec);
  EXPECT_EQ(r.last_us, 2 * kSec);
  EXPECT_EQ(r.tcp_flags, 0x12);
  EXPECT_EQ(r.end_reason, EndReason::kForcedEnd);
  EXPECT_EQ(table.stats().expired[static_cast<size_t>(EndReason::kForcedEnd)], 2u);
  EXPECT_EQ(table.active_flows(), 0u);
}

TEST(FlowTableTest, InactiveTimeout) {
  FlowTableOptions o;
  o.inactive_timeout_us = 15 * kSec;
  FlowTable table(o);
  Collector out;
  auto sink = [&](const FlowRecord& r) { out(r); };
  table.Update(V4(1, 2, 10, 20, 0), sink);
  table.Update(V4(3, 4, 10, 20, 10 * kSec), sink);
  table.ExpireUntil(15 * kSec - 1, sink);
  EXPECT_TRUE(out.records.empty());
  table.ExpireUntil(15 * kSec, sink);
  ASSERT_EQ(out.records.size(), 1u);
  EXPECT_EQ(out.records[0].key.src, IpAddress::V4(1));
  EXPECT_EQ(out.records[0].end_reason, EndReason::kIdleTimeout);
  // A packet arriving later expires the other flow before being counted.
  table.Update(V4(5, 6, 1, 1, 26 * kSec), sink);
  ASSERT_EQ(out.records.size(), 2u);
  EXPECT_EQ(out.records[1].key.src, IpAddress::V4(3));
  EXPECT_EQ(table.stats().expired[static_cast<size_t>(EndReason::kIdleTimeout)], 2u);
}

TEST(FlowTableTest, ActiveTimeoutSplitsLongFlows) {
  FlowTableOptions o;
  o.inactive_timeout_us = 15 * kSec;
  o.active_timeout_us = 60 * kSec;
  FlowTable table(o);
  Collector out;
  auto sink = [&](const FlowRecord& r) { out(r); };
  // One packet every 10 s for 130 s: never idle, cut at 60 s of age.
  for (int i = 0; i <= 13; ++i) table.Update(V4(1, 2, 10, 20, i * 10 * kSec), sink);
  table.FlushAll(sink);
  ASSERT_EQ(out.records.size(), 3u);
  EXPECT_EQ(out.records[0].end_reason, EndReason::kActiveTimeout);
  EXPECT_EQ(out.records[0].packets, 6u);  // 0..50 s
  EXPECT_EQ(out.records[1].end_reason, EndReason::kActiveTimeout);
  EXPECT_EQ(out.records[1].first_us, 60 * kSec);
  EXPECT_EQ(out.records[2].end_reason, EndReason::kForcedEnd);
  uint64_t packets = 0;
  for (const FlowRecord& r : out.records) packets += r.packets;
  EXPECT_EQ(packets, 14u);
}

// The end reason is whichever timeout came first in packet time, however rarely the table
// looks: a shard of --threads N checks at other moments than one table, and must agree.
TEST(FlowTableTest, EndReasonDoesNotDependOnWhenTheTableLooks) {
  FlowTableOptions o;
  o.inactive_timeout_us = 1 * kSec;
  o.active_timeout_us = 5 * kSec;
  // Packets from 0 to 4.5 s: the active timeout is due at 5 s, the idle one at 5.5 s.
  for (const TimeUs look : {TimeUs{5'200'000}, TimeUs{6 * kSec}, TimeUs{60 * kSec}}) {
    SCOPED_TRACE(look);
    FlowTable table(o);
    Collector out;
    auto sink = [&](const FlowRecord& r) { out(r); };
    for (int i = 0; i <= 9; ++i) table.Update(V4(1, 2, 10, 20, i * kSec / 2), sink);
    table.ExpireUntil(look, sink);
    ASSERT_EQ(out.records.size(), 1u);
    EXPECT_EQ(out.records[0].end_reason, EndReason::kActiveTimeout);
    EXPECT_EQ(out.records[0].packets, 10u);
  }
  // The other way round: idle first (due at 1.5 s), active later (5 s).
  for (const TimeUs look : {TimeUs{2'500'000}, TimeUs{60 * kSec}}) {
    SCOPED_TRACE(look);
    FlowTable table(o);
    Collector out;
    auto sink = [&](const FlowRecord& r) { out(r); };
    table.Update(V4(1, 2, 10, 20, 0), sink);
    table.Update(V4(1, 2, 10, 20, kSec / 2), sink);
    table.ExpireUntil(look, sink);
    ASSERT_EQ(out.records.size(), 1u);
    EXPECT_EQ(out.records[0].end_reason, EndReason::kIdleTimeout);
  }
}

TEST(FlowTableTest, TcpFinAndRstEndTheFlowAfterThePacket) {
  FlowTable table({});
  Collector out;
  auto sink = [&](const FlowRecord& r) { out(r); };
  table.Update(V4(1, 2, 10, 80, 1, 60, 6, 0x02), sink);
  table.Update(V4(1, 2, 10, 80, 2, 52, 6, 0x11), sink);  // FIN+ACK
  ASSERT_EQ(out.records.size(), 1u);
  EXPECT_EQ(out.records[0].end_reason, EndReason::kEndOfFlow);
  EXPECT_EQ(out.records[0].packets, 2u);
  EXPECT_EQ(out.records[0].bytes, 112u);
  EXPECT_EQ(out.records[0].tcp_flags, 0x13);
  // The final ACK starts a new flow; RST ends one too.
  table.Update(V4(1, 2, 10, 80, 3, 40, 6, 0x10), sink);
  table.Update(V4(3, 4, 10, 80, 4, 40, 6, 0x04), sink);
  EXPECT_EQ(out.records.size(), 2u);
  EXPECT_EQ(table.active_flows(), 1u);
  // FIN bits on UDP are not TCP flags.
  table.Update(V4(5, 6, 1, 2, 5, 40, 17, 0x01), sink);
  EXPECT_EQ(table.active_flows(), 2u);
  EXPECT_EQ(table.stats().expired[static_cast<size_t>(EndReason::kEndOfFlow)], 2u);
}

TEST(FlowTableTest, FullTableEvictsLeastRecentlyUsed) {
  FlowTableOptions o;
  o.max_flows = 3;
  FlowTable table(o);
  Collector out;
  auto sink = [&](const FlowRecord& r) { out(r); };
  table.Update(V4(1, 9, 1, 1, 1), sink);
  table.Update(V4(2, 9, 1, 1, 2), sink);
  table.Update(V4(3, 9, 1, 1, 3), sink);
  table.Update(V4(1, 9, 1, 1, 4), sink);  // flow 1 becomes most recent
  table.Update(V4(4, 9, 1, 1, 5), sink);  // evicts flow 2
  ASSERT_EQ(out.records.size(), 1u);
  EXPECT_EQ(out.records[0].key.src, IpAddress::V4(2));
  EXPECT_EQ(out.records[0].end_reason, EndReason::kLackOfResources);
  EXPECT_EQ(table.active_flows(), 3u);
  table.FlushAll(sink);
  std::map<uint32_t, uint64_t> packets;
  for (const FlowRecord& r : out.records) packets[r.key.src.v4_host_order()] += r.packets;
  EXPECT_EQ(packets[1], 2u);
  EXPECT_EQ(packets[4], 1u);
  EXPECT_EQ(table.stats().expired[static_cast<size_t>(EndReason::kLackOfResources)], 1u);
}

uint64_t ConstantHash(const FlowKey&) { return 42; }

TEST(FlowTableTest, FullKeyCompareUnderCollidingHashes) {
  FlowTableOptions o;
  o.max_flows = 64;
  o.hash_override = ConstantHash;
  FlowTable table(o);
  Collector out;
  auto sink = [&](const FlowRecord& r) { out(r); };
  // 40 distinct keys, all with the same hash, differing in one field each.
  for (int round = 0; round < 3; ++round) {
    for (uint16_t p = 0; p < 20; ++p) {
      table.Update(V4(1, 2, p, 80, round, 10), sink);
      table.Update(V6(static_cast<uint8_t>(p), 80, round, 20), sink);
    }
  }
  EXPECT_EQ(table.active_flows(), 40u);
  // Delete from the middle of the probe run (backward shift), then look everything up again.
  table.Update(V4(1, 2, 7, 80, 10, 10, 6, 0x04), sink);  // TCP RST on a fresh key
  table.Update(V4(1, 2, 5, 80, 10, 10), sink);
  table.FlushAll(sink);
  std::map<std::pair<int, uint16_t>, uint64_t> packets;
  for (const FlowRecord& r : out.records) {
    packets[{r.key.src.version, r.key.src_port}] += r.packets;
  }
  EXPECT_EQ((packets[{4, 5}]), 4u);
  EXPECT_EQ((packets[{4, 6}]), 3u);
  EXPECT_EQ((packets[{6, 80}]), 60u);  // 20 IPv6 flows x 3, all src port 80
  EXPECT_EQ((packets[{4, 7}]), 4u);    // 3 UDP + 1 TCP RST (protocol is in the key)
  EXPECT_EQ(out.records.size(), 41u);
}

TEST(FlowTableTest, Ipv6KeysAndTosAndVlanSeparateFlows) {
  FlowTable table({});
  Collector out;
  auto sink = [&](const FlowRecord& r) { out(r); };
  PacketMeta a = V6(1, 1000, 1);
  PacketMeta b = a;
  b.tos = 0xb8;
  PacketMeta c = a;
  c.vlan = 7;
  PacketMeta d = a;
  d.dst.bytes[0] ^= 1;
  for (const PacketMeta* m : {&a, &b, &c, &d, &a}) table.Update(*m, sink);
  EXPECT_EQ(table.active_flows(), 4u);
  table.FlushAll(sink);
  ASSERT_EQ(out.records.size(), 4u);
  EXPECT_EQ(out.records[0].packets, 2u);
  EXPECT_EQ(out.records[0].key.src.version, 6);
}

TEST(FlowTableTest, TimeGoingBackwardsIsClamped) {
  FlowTable table({});
  Collector out;
  auto sink = [&](const FlowRecord& r) { out(r); };
  table.Update(V4(1, 2, 1, 1, 10 * kSec), sink);
  table.Update(V4(1, 2, 1, 1, 5 * kSec), sink);
  table.FlushAll(sink);
  ASSERT_EQ(out.records.size(), 1u);
  EXPECT_EQ(out.records[0].first_us, 10 * kSec);
  EXPECT_EQ(out.records[0].last_us, 10 * kSec);
}

TEST(FlowTableTest, ChurnKeepsCountsExact) {
  FlowTableOptions o;
  o.max_flows = 1000;
  o.inactive_timeout_us = 5 * kSec;
  FlowTable table(o);
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t records = 0;
  auto sink = [&](const FlowRecord& r) {
    packets += r.packets;
    bytes += r.bytes;
    ++records;
  };
  uint32_t x = 12345;
  for (int i = 0; i < 200000; ++i) {
    x = x * 1103515245 + 12345;
    table.Update(V4(x % 3000, 1, static_cast<uint16_t>(x >> 20), 53, i * 100, 64 + (x & 63),
                    (x & 1) ? 6 : 17, (x & 0x700) == 0x700 ? 0x01 : 0),
                 sink);
  }
  table.FlushAll(sink);
  EXPECT_EQ(packets, 200000u);
  EXPECT_EQ(bytes, table.stats().bytes);
  EXPECT_EQ(records, table.stats().flows_created);
  EXPECT_EQ(records, table.stats().expired_total());
  EXPECT_GT(table.stats().expired[static_cast<size_t>(EndReason::kLackOfResources)], 0u);
  EXPECT_GT(table.stats().expired[static_cast<size_t>(EndReason::kEndOfFlow)], 0u);
}

TEST(PacketSamplerTest, DeterministicTakesOneInN) {
  PacketSampler s(10, PacketSampler::Mode::kDeterministic);
  int taken = 0;
  for (int i = 0; i < 1000; ++i) {
    const bool t = s.Take();
    taken += t;
    EXPECT_EQ(t, i % 10 == 0);
  }
  EXPECT_EQ(taken, 100);
}

TEST(PacketSamplerTest, RandomIsRoughlyOneInNAndReproducible) {
  PacketSampler a(10, PacketSampler::Mode::kRandom, 7);
  PacketSampler b(10, PacketSampler::Mode::kRandom, 7);
  int taken = 0;
  for (int i = 0; i < 100000; ++i) {
    const bool t = a.Take();
    EXPECT_EQ(t, b.Take());
    taken += t;
  }
  EXPECT_GT(taken, 9000);
  EXPECT_LT(taken, 11000);
  PacketSampler one(1, PacketSampler::Mode::kRandom);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(one.Take());
  // Another seed takes other packets.
  PacketSampler c(10, PacketSampler::Mode::kRandom, 8);
  PacketSampler d(10, PacketSampler::Mode::kRandom, 7);
  int differ = 0;
  for (int i = 0; i < 1000; ++i) differ += c.Take() != d.Take();
  EXPECT_GT(differ, 50);
}

// Workers that meter parts of one stream decide by ordinal (TakeAt): the same packets as one
// sampler taking them in order, in both modes.
TEST(PacketSamplerTest, TakeAtAgreesWithTakingInOrder) {
  for (const PacketSampler::Mode mode :
       {PacketSampler::Mode::kDeterministic, PacketSampler::Mode::kRandom}) {
    for (uint32_t interval : {1u, 2u, 7u, 100u}) {
      PacketSampler in_order(interval, mode, 99);
      const PacketSampler by_ordinal(interval, mode, 99);
      int taken = 0;
      for (uint64_t i = 0; i < 20000; ++i) {
        const bool t = in_order.Take();
        ASSERT_EQ(t, by_ordinal.TakeAt(i)) << "interval " << interval << " packet " << i;
        taken += t;
      }
      EXPECT_NEAR(taken, 20000.0 / interval, 20000.0 / interval * 0.1 + 5) << interval;
    }
  }
}


// The pipelined form must account every packet exactly as Update does: same records, same
// order, same end reasons and times, through idle/active expiry, FIN/RST, LRU eviction of a
// full table and forced collisions, with Drain and ExpireUntil interleaved at random.
void CheckPipelineMatchesUpdate(uint64_t (*hash)(const FlowKey&)) {
  FlowTableOptions o;
  o.max_flows = 256;  // smaller than the ~1,300 keys below: evictions happen
  o.inactive_timeout_us = 2 * kSec;
  o.active_timeout_us = 4 * kSec;
  o.hash_override = hash;
  FlowTable plain(o);
  FlowTable piped(o);
  ASSERT_TRUE(plain.ok() && piped.ok());
  Collector a;
  Collector b;
  uint64_t state = 0x12345678;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  TimeUs t = 1000 * kSec;
  for (int i = 0; i < 20000; ++i) {
    t += static_cast<TimeUs>(next() % 3000);  // 0-3 ms apart; idle gaps below
    if (next() % 4001 == 0) t += 3 * kSec;  // everything idles out
    const uint64_t r = next();
    const uint8_t flags = (r % 50 == 0) ? 0x01 : ((r % 71 == 0) ? 0x04 : 0x10);
    PacketMeta m = (r % 5 == 0) ? V6(static_cast<uint8_t>(r % 40), 1000, t)
                                : V4(0x0a000000 + static_cast<uint32_t>(r % 97), 0x0a0000ff,
                                     static_cast<uint16_t>(r % 13), 80, t, 40 + r % 1400, 6, flags);
    if (r % 20 == 1) m = V4(1, 2, 3, 4, t);  // a steady flow that lives into the active timeout
    plain.Update(m, std::ref(a));
    piped.Enqueue(m, std::ref(b));
    EXPECT_LT(piped.queued(), FlowTable::kPipelineDepth);
    if (r % 101 == 0) piped.Drain(std::ref(b));
    if (r % 499 == 0) {
      plain.ExpireUntil(t, std::ref(a));
      piped.ExpireUntil(t, std::ref(b));
    }
  }
  plain.FlushAll(std::ref(a));
  piped.FlushAll(std::ref(b));
  EXPECT_EQ(piped.queued(), 0u);
  ASSERT_EQ(a.records.size(), b.records.size());
  for (size_t i = 0; i < a.records.size(); ++i) {
    const FlowRecord& x = a.records[i];
    const FlowRecord& y = b.records[i];
    ASSERT_TRUE(x.key == y.key && x.packets == y.packets && x.bytes == y.bytes &&
                x.first_us == y.first_us && x.last_us == y.last_us &&
                x.tcp_flags == y.tcp_flags && x.end_reason == y.end_reason)
        << "record " << i << " differs";
  }
  EXPECT_EQ(plain.stats().packets, piped.stats().packets);
  EXPECT_EQ(plain.stats().expired, piped.stats().expired);
  // The stream must have exercised every path the pipeline reorders around.
  for (EndReason why : {EndReason::kIdleTimeout, EndReason::kActiveTimeout, EndReason::kEndOfFlow,
                        EndReason::kForcedEnd, EndReason::kLackOfResources}) {
    EXPECT_GT(a.Count(why), 0u) << "end reason " << static_cast<int>(why) << " never happened";
  }
}

uint64_t CollidingHash(const FlowKey& k) { return k.src_port % 3; }

TEST(FlowTablePipelineTest, EnqueueAccountsExactlyAsUpdate) { CheckPipelineMatchesUpdate(nullptr); }

TEST(FlowTablePipelineTest, EnqueueAccountsExactlyAsUpdateUnderCollisions) {
  CheckPipelineMatchesUpdate(&CollidingHash);
}

TEST(FlowTablePipelineTest, StatsAreCompleteAfterDrain) {
  FlowTable table({});
  Collector c;
  for (int i = 0; i < 5; ++i) table.Enqueue(V4(1, 2, 3, 4, kSec + i), std::ref(c));
  EXPECT_EQ(table.queued(), 5u);
  EXPECT_EQ(table.stats().packets, 0u);  // still in the pipeline
  table.Drain(std::ref(c));
  EXPECT_EQ(table.queued(), 0u);
  EXPECT_EQ(table.stats().packets, 5u);
  EXPECT_EQ(table.active_flows(), 1u);
}

TEST(FlowTableHashTest, SpreadsSimilarKeysOverSlots) {
  // Keys that differ in one byte only (typical of a scan) must not pile into a few home slots:
  // the low bits (slot index) and high bits (shard index) both need to vary.
  std::map<uint32_t, int> low;
  std::map<uint32_t, int> high;
  FlowTableOptions o;
  for (uint32_t i = 0; i < 4096; ++i) {
    const FlowKey k = FlowTable::KeyOf(V4(0x0a000001, 0x0a000002, 1024, static_cast<uint16_t>(i), 0), 0);
    const uint32_t h = FlowTable::HashOf(k, o);
    ++low[h & 1023];
    ++high[h >> 22];
  }
  int worst_low = 0;
  int worst_high = 0;
  for (const auto& [slot, n] : low) worst_low = std::max(worst_low, n);
  for (const auto& [slot, n] : high) worst_high = std::max(worst_high, n);
  // 4 keys per bucket on average; a fair hash keeps the fullest bucket far below 32.
  EXPECT_GT(low.size(), 900u);
  EXPECT_GT(high.size(), 900u);
  EXPECT_LT(worst_low, 16);
  EXPECT_LT(worst_high, 16);
}

}  // namespace
}  // namespace nf
