// Micro-benchmarks of the longest-prefix-match table (enrich/prefix_table.h), the lookup every
// flow or record pays for when AS enrichment is on:
// (1) lookups over the 2002 RIB of the shared corpus (112,988 prefixes), from uniformly random
//     IPv4 addresses and from addresses inside routed prefixes;
// (2) a synthetic table the size of today's (1,000,000 IPv4 + 200,000 IPv6 prefixes with
//     today's length mix): build time, memory, IPv4 and IPv6 lookups;
// (3) build time and memory of the 2002 RIB table.
// Lookup items are lookups, so items_per_second is lookups per second of one core. Addresses are
// generated before the timed loop; memory_MiB is PrefixTable::MemoryBytes().
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/ip_address.h"
#include "enrich/prefix_table.h"
#include "enrich/route.h"
#include "enrich/routes_file.h"

namespace nf {
namespace {

constexpr size_t kAddresses = size_t{1} << 20;  // 17 MiB of IpAddress: streamed, not cached
constexpr size_t kBatch = 256;                   // lookups per benchmark iteration

const std::string& RibPath() {
  static const std::string path =
      std::string(NF_SOURCE_DIR) + "/../shared/corpus/enrich/bgpdump/bview.20020722.2337.gz";
  return path;
}

struct LoadedRib {
  std::vector<Route> routes;
  std::string error;  // why there are no routes
};

// Read once, through the same loader the tools use.
const LoadedRib& Rib() {
  static const LoadedRib* rib = [] {
    auto* r = new LoadedRib;
    if (access(RibPath().c_str(), R_OK) != 0) {
      r->error = RibPath() + " is absent: the RIB benchmarks need the shared corpus";
      return r;
    }
    RoutesBuilder builder;
    if (absl::Status s = builder.AddFile(RibPath()); !s.ok()) {
      r->error = "cannot load " + RibPath() + ": " + s.ToString();
      return r;
    }
    r->routes = builder.Finish();
    if (r->routes.empty()) r->error = RibPath() + " gave no routes";
    return r;
  }();
  return *rib;
}

const PrefixTable* RibTable(benchmark::State& state) {
  static const PrefixTable* table = []() -> const PrefixTable* {
    if (!Rib().error.empty()) return nullptr;
    absl::StatusOr<PrefixTable> t = PrefixTable::Build(Rib().routes);
    return t.ok() ? new PrefixTable(std::move(*t)) : nullptr;
  }();
  if (table == nullptr) {
    state.SkipWithError(Rib().error.empty() ? "building the RIB table failed" : Rib().error.c_str());
  }
  return table;
}

// Today's mix, roughly (RIPE RIS / CIDR report shares): most IPv4 prefixes are /24, then /22,
// /23, /21, /20, /19; a few /8-/18; 0.5% longer than /24 (the global table filters them, an
// internal one has some) so the second-level groups are exercised too. Shares are per 10,000.
std::vector<Route> SyntheticRoutes() {
  std::mt19937_64 rng(2024);
  std::vector<Route> routes;
  routes.reserve(1'200'000);
  struct Share {
    int length;
    int per_10k;
  };
  const std::vector<Share> v4_mix = {
      {24, 6200}, {22, 1200}, {23, 1000}, {21, 450}, {20, 400}, {19, 250}, {18, 130},
      {16, 140},  {17, 80},   {15, 30},   {14, 20},  {13, 20},  {12, 10},  {11, 5},
      {10, 5},    {9, 3},     {8, 7},     {25, 15},  {26, 10},  {27, 5},   {28, 5},
      {29, 5},    {30, 5},    {32, 5}};
  const std::vector<Share> v6_mix = {{48, 5000}, {32, 1500}, {44, 1000}, {40, 800},
                                     {29, 500},  {36, 400},  {46, 300},  {47, 200},
                                     {56, 100},  {64, 100},  {28, 100}};
  // 75,000 origin ASes, skewed as today (a few hundred announce most prefixes), which sets how
  // many distinct (origin, length) results there are.
  std::uniform_real_distribution<double> unit(0, 1);
  auto origin = [&] {
    const double u = unit(rng);
    return 1 + static_cast<uint32_t>(75'000 * u * u * u);
  };
  auto pick = [&](const std::vector<Share>& mix) {
    int x = static_cast<int>(rng() % 10'000);
    for (const Share& s : mix) {
      if (x < s.per_10k) return s.length;
      x -= s.per_10k;
    }
    return mix.front().length;
  };
  for (int i = 0; i < 1'000'000; ++i) {
    Route r;
    const int length = pick(v4_mix);
    // Unicast space, 1.0.0.0 - 223.255.255.255.
    uint32_t a = 0x01000000u + static_cast<uint32_t>(rng() % (0xE0000000u - 0x01000000u));
    a &= ~uint32_t{0} << (32 - length);
    r.prefix = IpAddress::V4(a);
    r.length = static_cast<uint8_t>(length);
    r.origin_as = origin();
    routes.push_back(r);
  }
  // IPv6 routes sit in a few dozen /16s (2001::/16 and the /12s of the RIRs), as today, so the
  // top-16 index leaves thousands of ranges per bucket to search.
  std::vector<uint16_t> tops = {0x2001, 0x2001, 0x2001, 0x2c0f};
  for (uint16_t base : {0x2400, 0x2600, 0x2800, 0x2a00}) {
    for (uint16_t t = 0; t < 16; ++t) tops.push_back(static_cast<uint16_t>(base + t));
  }
  for (int i = 0; i < 200'000; ++i) {
    Route r;
    const int length = pick(v6_mix);
    uint8_t b[16] = {};
    const uint16_t top = tops[rng() % tops.size()];
    b[0] = static_cast<uint8_t>(top >> 8);
    b[1] = static_cast<uint8_t>(top);
    const uint64_t x = rng();
    for (int k = 2; k < 8; ++k) b[k] = static_cast<uint8_t>(x >> (8 * k));
    for (int bit = length; bit < 64; ++bit) b[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
    r.prefix = IpAddress::V6(b);
    r.length = static_cast<uint8_t>(length);
    r.origin_as = origin();
    routes.push_back(r);
  }
  return routes;
}

const std::vector<Route>& Synthetic() {
  static const std::vector<Route>* routes = new std::vector<Route>(SyntheticRoutes());
  return *routes;
}

const PrefixTable* SyntheticTable(benchmark::State& state) {
  static const PrefixTable* table = [] () -> const PrefixTable* {
    absl::StatusOr<PrefixTable> t = PrefixTable::Build(Synthetic());
    return t.ok() ? new PrefixTable(std::move(*t)) : nullptr;
  }();
  if (table == nullptr) state.SkipWithError("building the synthetic table failed");
  return table;
}

std::vector<IpAddress> RandomV4(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<IpAddress> out;
  out.reserve(kAddresses);
  for (size_t i = 0; i < kAddresses; ++i) out.push_back(IpAddress::V4(static_cast<uint32_t>(rng())));
  return out;
}

// Addresses inside the given routes of one family, each route as likely as any other.
std::vector<IpAddress> InsideRoutes(const std::vector<Route>& routes, int version, uint64_t seed) {
  std::vector<const Route*> family;
  for (const Route& r : routes) {
    if (r.prefix.version == version) family.push_back(&r);
  }
  std::mt19937_64 rng(seed);
  std::vector<IpAddress> out;
  out.reserve(kAddresses);
  for (size_t i = 0; i < kAddresses && !family.empty(); ++i) {
    const Route& r = *family[rng() % family.size()];
    IpAddress a = r.prefix;
    const int width = version == 4 ? 32 : 128;
    const uint64_t noise[2] = {rng(), rng()};
    for (int bit = r.length; bit < width; ++bit) {
      if ((noise[bit / 64] >> (bit % 64)) & 1) a.bytes[bit / 8] |= static_cast<uint8_t>(0x80 >> (bit % 8));
    }
    out.push_back(a);
  }
  return out;
}

void RunLookups(benchmark::State& state, const PrefixTable& table,
                const std::vector<IpAddress>& addresses) {
  if (addresses.size() != kAddresses) {
    state.SkipWithError("no addresses to look up");
    return;
  }
  size_t next = 0;
  uint64_t found = 0;
  for (auto _ : state) {
    const IpAddress* batch = addresses.data() + next;
    for (size_t k = 0; k < kBatch; ++k) found += table.Lookup(batch[k]).found;
    next = (next + kBatch) & (kAddresses - 1);
  }
  benchmark::DoNotOptimize(found);
  const double lookups = static_cast<double>(state.iterations()) * kBatch;
  state.SetItemsProcessed(static_cast<int64_t>(lookups));
  state.counters["hit_ratio"] = lookups > 0 ? static_cast<double>(found) / lookups : 0;
}

void SetTableCounters(benchmark::State& state, const PrefixTable& table) {
  state.counters["memory_MiB"] = static_cast<double>(table.MemoryBytes()) / (1 << 20);
  state.counters["ipv4_prefixes"] = static_cast<double>(table.ipv4_prefixes());
  state.counters["ipv6_prefixes"] = static_cast<double>(table.ipv6_prefixes());
}

void BM_Rib2002LookupRandomV4(benchmark::State& state) {
  const PrefixTable* table = RibTable(state);
  if (table == nullptr) return;
  static const std::vector<IpAddress> addresses = RandomV4(1);
  RunLookups(state, *table, addresses);
}
BENCHMARK(BM_Rib2002LookupRandomV4);

void BM_Rib2002LookupRoutedV4(benchmark::State& state) {
  const PrefixTable* table = RibTable(state);
  if (table == nullptr) return;
  static const std::vector<IpAddress> addresses = InsideRoutes(Rib().routes, 4, 2);
  RunLookups(state, *table, addresses);
}
BENCHMARK(BM_Rib2002LookupRoutedV4);

void BM_Rib2002Build(benchmark::State& state) {
  if (RibTable(state) == nullptr) return;
  for (auto _ : state) {
    absl::StatusOr<PrefixTable> table = PrefixTable::Build(Rib().routes);
    if (!table.ok()) {
      state.SkipWithError("build failed");
      return;
    }
    benchmark::DoNotOptimize(*table);
    state.PauseTiming();  // the unmap of the table is not part of the build
    SetTableCounters(state, *table);
    table = PrefixTable();
    state.ResumeTiming();
  }
}
BENCHMARK(BM_Rib2002Build)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SyntheticBuild(benchmark::State& state) {
  const std::vector<Route>& routes = Synthetic();
  for (auto _ : state) {
    absl::StatusOr<PrefixTable> table = PrefixTable::Build(routes);
    if (!table.ok()) {
      state.SkipWithError("build failed");
      return;
    }
    benchmark::DoNotOptimize(*table);
    state.PauseTiming();
    SetTableCounters(state, *table);
    table = PrefixTable();
    state.ResumeTiming();
  }
}
BENCHMARK(BM_SyntheticBuild)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SyntheticLookupRandomV4(benchmark::State& state) {
  const PrefixTable* table = SyntheticTable(state);
  if (table == nullptr) return;
  static const std::vector<IpAddress> addresses = RandomV4(3);
  RunLookups(state, *table, addresses);
}
BENCHMARK(BM_SyntheticLookupRandomV4);

void BM_SyntheticLookupRoutedV4(benchmark::State& state) {
  const PrefixTable* table = SyntheticTable(state);
  if (table == nullptr) return;
  static const std::vector<IpAddress> addresses = InsideRoutes(Synthetic(), 4, 4);
  RunLookups(state, *table, addresses);
}
BENCHMARK(BM_SyntheticLookupRoutedV4);

void BM_SyntheticLookupRoutedV6(benchmark::State& state) {
  const PrefixTable* table = SyntheticTable(state);
  if (table == nullptr) return;
  static const std::vector<IpAddress> addresses = InsideRoutes(Synthetic(), 6, 5);
  RunLookups(state, *table, addresses);
}
BENCHMARK(BM_SyntheticLookupRoutedV6);

}  // namespace
}  // namespace nf
