// Micro-benchmarks of the exporter's per-packet path: parsing, flow-table hits (direct and
// through the Meter interface flowexport uses), misses with eviction at scale, and v9 encoding
// (direct and through the Encoder interface). Items are packets (or records for the encoder).
#include <benchmark/benchmark.h>

#include <vector>

#include "exporter/encode/encoder.h"
#include "exporter/meter/flow_table.h"
#include "exporter/meter/meter.h"
#include "capture/packet_parser.h"
#include "exporter/encode/v9_encoder.h"
#include "templates/template_spec.h"
#include "tests/exporter/frame_builder.h"

namespace nf {
namespace {

using namespace ::nf::testing;  // NOLINT: frame builders

void BM_ParseEthernetIpv4Tcp(benchmark::State& state) {
  const Bytes f =
      Eth(0x0800, Ipv4(0x0a000001, 0x0a000002, 6, Tcp(1234, 443, 0x18, 1200)), {{0x8100, 100}});
  PacketMeta m;
  for (auto _ : state) {
    benchmark::DoNotOptimize(ParsePacket(f.data(), 128, f.size(), LinkType::kEthernet, m));
    benchmark::DoNotOptimize(m);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseEthernetIpv4Tcp);

void BM_ParseIpv6ExtensionChain(benchmark::State& state) {
  Bytes chain = Ext6(43);
  Append(chain, Ext6(60));
  Append(chain, Frag6(17, 0, true));
  Append(chain, Udp(5353, 5353, 100));
  const Bytes f = Eth(0x86dd, Ipv6(1, 2, 0, chain));
  PacketMeta m;
  for (auto _ : state) {
    benchmark::DoNotOptimize(ParsePacket(f.data(), f.size(), f.size(), LinkType::kEthernet, m));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseIpv6ExtensionChain);

std::vector<PacketMeta> MakePackets(size_t flows, size_t count) {
  std::vector<PacketMeta> v(count);
  uint64_t x = 88172645463325252ull;
  for (size_t i = 0; i < count; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const uint32_t flow = static_cast<uint32_t>(x % flows);
    PacketMeta& m = v[i];
    m.ip_version = 4;
    m.src = IpAddress::V4(0x0a000000u + flow);
    m.dst = IpAddress::V4(0xc0a80001u);
    m.src_port = static_cast<uint16_t>(flow >> 8);
    m.dst_port = 443;
    m.protocol = 6;
    m.l3_length = 1000;
    m.tcp_flags = 0x10;
    m.time_us = static_cast<TimeUs>(i);  // 1 Mpps of packet time
  }
  return v;
}

// Arg 0: distinct flows in the traffic; the table holds them all (pure hits after warm-up).
// `pipelined`: through Enqueue, the form flowexport uses (slot and entry prefetched while
// earlier packets are accounted; drained every 256 packets as after a capture batch).
// `via_meter`: the same pipelined path through Meter (Add / Poll, a virtual call per packet), as
// flowexport's capture loop calls it.
void FlowTableHits(benchmark::State& state, bool pipelined, bool via_meter = false) {
  const size_t flows = static_cast<size_t>(state.range(0));
  const std::vector<PacketMeta> pkts = MakePackets(flows, 1 << 20);
  FlowTableOptions o;
  o.max_flows = flows * 2;
  FlowTable table(o);
  Meter* meter = &table;
  benchmark::DoNotOptimize(meter);  // hides the dynamic type: a real virtual call per packet
  uint64_t exported = 0;
  auto sink = [&](const FlowRecord&) { ++exported; };
  size_t i = 0;
  TimeUs base = 0;
  for (auto _ : state) {
    PacketMeta m = pkts[i];
    m.time_us += base;
    if (via_meter) {
      meter->Add(m, sink);
      if ((i & 255) == 255) meter->Poll(sink);
    } else if (pipelined) {
      table.Enqueue(m, sink);
      if ((i & 255) == 255) table.Drain(sink);
    } else {
      table.Update(m, sink);
    }
    if (++i == pkts.size()) {
      i = 0;
      base += static_cast<TimeUs>(pkts.size());
    }
  }
  table.Drain(sink);
  state.SetItemsProcessed(state.iterations());
  state.counters["active_flows"] = static_cast<double>(table.active_flows());
  state.counters["exported"] = static_cast<double>(exported);
}
void BM_FlowTableUpdate(benchmark::State& state) { FlowTableHits(state, false); }
void BM_FlowTableEnqueue(benchmark::State& state) { FlowTableHits(state, true); }
void BM_MeterAdd(benchmark::State& state) { FlowTableHits(state, true, true); }
BENCHMARK(BM_FlowTableUpdate)->Arg(1000)->Arg(100000)->Arg(1000000);
BENCHMARK(BM_FlowTableEnqueue)->Arg(1000)->Arg(100000)->Arg(1000000);
BENCHMARK(BM_MeterAdd)->Arg(1000)->Arg(100000)->Arg(1000000);

// A table smaller than the traffic: most packets evict the least recently used flow.
void BM_FlowTableEvictionChurn(benchmark::State& state) {
  const std::vector<PacketMeta> pkts = MakePackets(4'000'000, 1 << 20);
  FlowTableOptions o;
  o.max_flows = 1 << 18;
  FlowTable table(o);
  uint64_t exported = 0;
  auto sink = [&](const FlowRecord&) { ++exported; };
  size_t i = 0;
  for (auto _ : state) {
    table.Update(pkts[i], sink);
    if (++i == pkts.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["evicted"] =
      static_cast<double>(table.stats().expired[static_cast<size_t>(EndReason::kLackOfResources)]);
}
BENCHMARK(BM_FlowTableEvictionChurn);

// `via_encoder`: through the Encoder interface (a virtual call per record), as flowexport.
void V9EncodeRecords(benchmark::State& state, bool via_encoder) {
  absl::StatusOr<TemplateSpec> spec = LoadTemplate("default");
  uint64_t bytes = 0;
  V9EncoderOptions o;
  auto enc = V9Encoder::Create(o, *spec, [&](std::span<const uint8_t> d) { bytes += d.size(); });
  Encoder* encoder = enc->get();
  benchmark::DoNotOptimize(encoder);  // hides the dynamic type: a real virtual call per record
  FlowRecord r;
  r.key.src = IpAddress::V4(0x0a000001);
  r.key.dst = IpAddress::V4(0x0a000002);
  r.key.protocol = 6;
  r.packets = 10;
  r.bytes = 10000;
  TimeUs t = 1'700'000'000'000'000;
  for (auto _ : state) {
    r.key.src_port = static_cast<uint16_t>(t);
    if (via_encoder) {
      encoder->Add(r, t);
    } else {
      (*enc)->Add(r, t);
    }
    t += 10;
  }
  (*enc)->Flush(t);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
void BM_V9EncodeRecords(benchmark::State& state) { V9EncodeRecords(state, false); }
void BM_EncoderAdd(benchmark::State& state) { V9EncodeRecords(state, true); }
BENCHMARK(BM_V9EncodeRecords);
BENCHMARK(BM_EncoderAdd);

}  // namespace
}  // namespace nf
