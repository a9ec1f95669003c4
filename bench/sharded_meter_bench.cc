// Multi-core metering throughput: one FlowTable on the calling thread against ShardedMeter with
// N shards, over the same in-memory stream of parsed packets (2,000,000 packets, ~120,000
// flows, heavy-tailed). Parsing and capture are left out so the numbers isolate the metering
// path: hash + hand-off on the caller, table updates on the workers, records back.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "benchmark/benchmark.h"
#include "exporter/meter/flow_table.h"
#include "exporter/meter/sharded_meter.h"

namespace nf {
namespace {

const std::vector<PacketMeta>& Stream() {
  static const std::vector<PacketMeta>* stream = [] {
    constexpr size_t kPackets = 2'000'000;
    constexpr size_t kFlows = 120'000;
    auto* out = new std::vector<PacketMeta>();
    out->reserve(kPackets);
    uint64_t s = 0x2545f4914f6cdd1dull;
    auto next = [&s] {
      s ^= s << 13;
      s ^= s >> 7;
      s ^= s << 17;
      return s;
    };
    TimeUs t = 1'700'000'000'000'000;
    for (size_t i = 0; i < kPackets; ++i) {
      const double u = static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0);
      const uint32_t f =
          static_cast<uint32_t>(std::min<double>(kFlows - 1, kFlows * u * u));  // heavy head
      PacketMeta m;
      m.time_us = (t += static_cast<TimeUs>(next() % 20));
      m.ip_version = 4;
      m.src = IpAddress::V4(0x0a000000u + f);
      m.dst = IpAddress::V4(0xc0a80000u + (f * 2654435761u >> 16));
      m.protocol = f % 4 == 0 ? 17 : 6;
      m.src_port = static_cast<uint16_t>(1024 + f % 50000);
      m.dst_port = 443;
      m.ttl = 64;
      m.tcp_flags = m.protocol == 6 ? 0x10 : 0;
      m.l3_length = static_cast<uint32_t>(64 + next() % 1400);
      out->push_back(m);
    }
    return out;
  }();
  return *stream;
}

void BM_OneFlowTable(benchmark::State& state) {
  const std::vector<PacketMeta>& stream = Stream();
  uint64_t packets = 0;
  for (auto _ : state) {
    FlowTableOptions to;
    to.max_flows = 1 << 18;
    FlowTable table(to);
    auto sink = [&packets](const FlowRecord& r) { packets += r.packets; };
    for (const PacketMeta& m : stream) table.Update(m, sink);
    table.FlushAll(sink);
  }
  benchmark::DoNotOptimize(packets);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
}
BENCHMARK(BM_OneFlowTable)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ShardedMeter(benchmark::State& state) {
  const std::vector<PacketMeta>& stream = Stream();
  uint64_t packets = 0;
  for (auto _ : state) {
    ShardedMeterOptions mo;
    mo.shards = static_cast<size_t>(state.range(0));
    mo.table.max_flows = 1 << 18;
    auto meter = ShardedMeter::Create(mo);
    if (!meter.ok()) {
      state.SkipWithError("cannot create the meter");
      return;
    }
    auto sink = [&packets](const FlowRecord& r) { packets += r.packets; };
    size_t i = 0;
    for (const PacketMeta& m : stream) {
      (*meter)->Submit(m, sink);
      if (++i % 256 == 0) (*meter)->Poll(sink);
    }
    (*meter)->Finish(sink);
  }
  benchmark::DoNotOptimize(packets);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
}
BENCHMARK(BM_ShardedMeter)->Arg(1)->Arg(2)->Arg(4)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace nf
