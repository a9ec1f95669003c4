// PrefixTable against a brute-force reference (a linear scan for the longest covering prefix,
// the latest entry winning among duplicates) on random tables with nesting, /0, host routes,
// duplicates and host bits set, probed at every prefix's first and last address, one before
// and one after, and at random addresses; plus the edge cases of the API.
#include "enrich/prefix_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/ip_address.h"
#include "enrich/route.h"

namespace nf {
namespace {

__extension__ typedef unsigned __int128 U128;

U128 AllOnes(int width) { return width == 128 ? ~U128{0} : (U128{1} << width) - 1; }
// Network part of `length` bits out of `width`.
U128 NetMask(int width, int length) {
  if (length == 0) return 0;
  if (length == 128) return ~U128{0};  // shifting by 128 would be undefined
  return AllOnes(width) & ~(AllOnes(width) >> length);
}

IpAddress V6(U128 v) {
  uint8_t b[16];
  for (int i = 15; i >= 0; --i, v >>= 8) b[i] = static_cast<uint8_t>(v);
  return IpAddress::V6(b);
}
IpAddress Address(int version, U128 v) {
  return version == 4 ? IpAddress::V4(static_cast<uint32_t>(v)) : V6(v);
}
U128 Value(const IpAddress& a) {
  if (a.version == 4) return a.v4_host_order();
  U128 v = 0;
  for (uint8_t b : a.bytes) v = (v << 8) | b;
  return v;
}
IpAddress Mapped(uint32_t v4) { return V6((U128{0xffff} << 32) | v4); }

// The reference: every route of the family, scanned in input order.
struct RefRoute {
  U128 network;
  U128 mask;
  uint8_t length;
  uint32_t origin_as;
};
std::vector<RefRoute> RefRoutes(std::span<const Route> routes, int version) {
  const int width = version == 4 ? 32 : 128;
  std::vector<RefRoute> out;
  for (const Route& r : routes) {
    if (r.prefix.version != version) continue;
    const U128 mask = NetMask(width, r.length);
    out.push_back({Value(r.prefix) & mask, mask, r.length, r.origin_as});
  }
  return out;
}
PrefixMatch Reference(std::span<const RefRoute> routes, U128 address) {
  PrefixMatch best;
  for (const RefRoute& r : routes) {
    if ((address & r.mask) != r.network) continue;
    if (!best.found || r.length >= best.length) best = {r.origin_as, r.length, true};
  }
  return best;
}

std::string Describe(const PrefixMatch& m) {
  return m.found ? "AS" + std::to_string(m.origin_as) + " /" + std::to_string(m.length) : "miss";
}

// Random routes of one family: fresh prefixes in a few clusters (so they nest and collide),
// prefixes derived from earlier ones by extending them (nesting on purpose), exact duplicates
// with another origin, and input prefixes with host bits set. Few origins, so that adjacent
// ranges share results.
void AddRandomRoutes(std::mt19937_64& rng, int version, int count, std::vector<Route>& out) {
  const int width = version == 4 ? 32 : 128;
  auto random_value = [&] { return (U128{rng()} << 64 | rng()) & AllOnes(width); };
  std::vector<U128> clusters;
  // IPv4 clusters are /8s; IPv6 ones /16s, so that crowded /16s get (and exercise) the finer
  // index on the next bits.
  const int cluster_bits = version == 4 ? 8 : 16;
  for (int i = 0; i < 4; ++i) clusters.push_back(random_value() & NetMask(width, cluster_bits));
  const size_t first = out.size();
  auto pick_length = [&]() -> int {
    const int kind = static_cast<int>(rng() % 10);
    if (kind == 0) return static_cast<int>(rng() % (width + 1));  // anything, /0 included
    if (kind == 1) return width;                                 // host routes
    if (version == 4) return 8 + static_cast<int>(rng() % 21);  // /8../28
    return 16 + static_cast<int>(rng() % 57);                   // /16../72
  };
  for (int i = 0; i < count; ++i) {
    const int kind = static_cast<int>(rng() % 20);
    Route r;
    U128 prefix;
    int length;
    const size_t have = out.size() - first;
    if (kind < 8 && have > 0) {  // more specific inside an earlier prefix
      const Route& parent = out[first + rng() % have];
      length = parent.length + static_cast<int>(rng() % (width - parent.length + 1));
      prefix = (Value(parent.prefix) & NetMask(width, parent.length)) |
               (random_value() & ~NetMask(width, parent.length));
    } else if (kind == 8 && have > 0) {  // the same prefix again: the later one must win
      const Route& twin = out[first + rng() % have];
      length = twin.length;
      prefix = Value(twin.prefix);
    } else if (kind < 15) {  // in a cluster
      length = pick_length();
      prefix = clusters[rng() % clusters.size()] | (random_value() & AllOnes(width - cluster_bits));
    } else {
      length = pick_length();
      prefix = random_value();
    }
    prefix &= NetMask(width, length);
    if (rng() % 3 == 0) prefix |= random_value() & ~NetMask(width, length);  // host bits set
    r.prefix = Address(version, prefix);
    r.length = static_cast<uint8_t>(length);
    r.origin_as = 64500 + static_cast<uint32_t>(rng() % 40);
    out.push_back(r);
  }
}

// Probes: each prefix's first and last address and its neighbours (wrapping at the ends of
// the space), and random addresses, half of them inside routed prefixes.
std::vector<U128> Probes(std::mt19937_64& rng, std::span<const Route> routes, int version,
                         int random_count) {
  const int width = version == 4 ? 32 : 128;
  const U128 all = AllOnes(width);
  std::vector<U128> probes{0, all};
  std::vector<const Route*> family;
  for (const Route& r : routes) {
    if (r.prefix.version != version) continue;
    family.push_back(&r);
    const U128 start = Value(r.prefix) & NetMask(width, r.length);
    const U128 end = start | (all & ~NetMask(width, r.length));
    probes.insert(probes.end(), {start, end, (start - 1) & all, (end + 1) & all});
  }
  for (int i = 0; i < random_count; ++i) {
    U128 v = (U128{rng()} << 64 | rng()) & all;
    if (i % 2 == 0 && !family.empty()) {
      const Route& r = *family[rng() % family.size()];
      v = (Value(r.prefix) & NetMask(width, r.length)) | (v & ~NetMask(width, r.length));
    }
    probes.push_back(v);
  }
  return probes;
}

void ExpectSameAsReference(const PrefixTable& table, std::span<const Route> routes,
                           std::mt19937_64& rng) {
  for (int version : {4, 6}) {
    const std::vector<RefRoute> ref = RefRoutes(routes, version);
    int mismatches = 0;
    for (U128 v : Probes(rng, routes, version, 4000)) {
      const IpAddress a = Address(version, v);
      const PrefixMatch want = Reference(ref, v);
      const PrefixMatch got = table.Lookup(a);
      if (got.found != want.found || got.origin_as != want.origin_as ||
          got.length != want.length) {
        ADD_FAILURE() << a.ToString() << ": got " << Describe(got) << ", want " << Describe(want);
        if (++mismatches == 10) return;
      }
      if (version == 4) {  // the same address, IPv4-mapped
        const PrefixMatch mapped = table.Lookup(Mapped(static_cast<uint32_t>(v)));
        EXPECT_EQ(mapped.found, want.found) << Mapped(static_cast<uint32_t>(v)).ToString();
        EXPECT_EQ(mapped.origin_as, want.origin_as);
        EXPECT_EQ(mapped.length, want.length);
      }
    }
  }
}

size_t UniquePrefixes(std::span<const Route> routes, int version) {
  std::vector<std::pair<U128, int>> keys;
  const int width = version == 4 ? 32 : 128;
  for (const Route& r : routes) {
    if (r.prefix.version == version) {
      keys.emplace_back(Value(r.prefix) & NetMask(width, r.length), r.length);
    }
  }
  std::sort(keys.begin(), keys.end());
  return static_cast<size_t>(std::unique(keys.begin(), keys.end()) - keys.begin());
}

Route MakeRoute(const char* prefix, int length, uint32_t origin_as) {
  Route r;
  r.prefix = *ParseIpAddress(prefix);
  r.length = static_cast<uint8_t>(length);
  r.origin_as = origin_as;
  return r;
}

IpAddress Ip(const char* text) { return *ParseIpAddress(text); }

// One table per seed, IPv4 and IPv6 routes interleaved in one input (they share the results
// array), each seed shaped differently: few or many routes, with or without /0 and the edges
// of the address space.
TEST(PrefixTableTest, MatchesBruteForceOnRandomTables) {
  struct Case {
    uint64_t seed;
    int v4_routes;
    int v6_routes;
    bool edges;  // /0, and host routes at the first and last address
  };
  for (const Case& c : {Case{1, 1500, 1500, true}, Case{2, 1500, 1500, false},
                        Case{3, 60, 60, false}, Case{4, 800, 0, true}, Case{5, 0, 800, true}}) {
    SCOPED_TRACE("seed " + std::to_string(c.seed));
    std::mt19937_64 rng(c.seed);
    std::vector<Route> v4;
    std::vector<Route> v6;
    AddRandomRoutes(rng, 4, c.v4_routes, v4);
    AddRandomRoutes(rng, 6, c.v6_routes, v6);
    std::vector<Route> routes;
    if (c.edges) {
      routes.push_back(MakeRoute("0.0.0.0", 0, 1));
      routes.push_back(MakeRoute("::", 0, 2));
    }
    for (size_t i = 0; i < std::max(v4.size(), v6.size()); ++i) {
      if (i < v4.size()) routes.push_back(v4[i]);
      if (i < v6.size()) routes.push_back(v6[i]);
    }
    if (c.edges) {
      routes.push_back(MakeRoute("0.0.0.0", 32, 3));
      routes.push_back(MakeRoute("255.255.255.255", 32, 4));
      routes.push_back(MakeRoute("::", 128, 5));
      routes.push_back(MakeRoute("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 128, 6));
      routes.push_back(MakeRoute("ffff::", 16, 7));
    }
    absl::StatusOr<PrefixTable> table = PrefixTable::Build(routes);
    ASSERT_TRUE(table.ok()) << table.status();
    EXPECT_EQ(table->ipv4_prefixes(), UniquePrefixes(routes, 4));
    EXPECT_EQ(table->ipv6_prefixes(), UniquePrefixes(routes, 6));
    ExpectSameAsReference(*table, routes, rng);
  }
}

TEST(PrefixTableTest, EmptyTableMissesEverything) {
  PrefixTable empty;
  absl::StatusOr<PrefixTable> built = PrefixTable::Build({});
  ASSERT_TRUE(built.ok()) << built.status();
  for (const PrefixTable* t : {&empty, &*built}) {
    EXPECT_FALSE(t->Lookup(Ip("10.1.2.3")).found);
    EXPECT_FALSE(t->Lookup(Ip("0.0.0.0")).found);
    EXPECT_FALSE(t->Lookup(Ip("255.255.255.255")).found);
    EXPECT_FALSE(t->Lookup(Ip("2001:db8::1")).found);
    EXPECT_FALSE(t->Lookup(Ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")).found);
    EXPECT_FALSE(t->Lookup(Ip("::ffff:10.1.2.3")).found);
    EXPECT_FALSE(t->Lookup(IpAddress{}).found);
    EXPECT_EQ(t->ipv4_prefixes(), 0u);
    EXPECT_EQ(t->ipv6_prefixes(), 0u);
    // No 64 MiB first level without an IPv4 route.
    EXPECT_LT(t->MemoryBytes(), size_t{1} << 20);
  }
}

TEST(PrefixTableTest, Ipv4MappedAddressesUseTheIpv4Routes) {
  const std::vector<Route> routes = {MakeRoute("10.0.0.0", 8, 100), MakeRoute("10.1.0.0", 16, 101),
                                     MakeRoute("::", 0, 200), MakeRoute("::ffff:0:0", 96, 201)};
  absl::StatusOr<PrefixTable> table = PrefixTable::Build(routes);
  ASSERT_TRUE(table.ok()) << table.status();
  PrefixMatch m = table->Lookup(Ip("::ffff:10.1.2.3"));
  EXPECT_TRUE(m.found);
  EXPECT_EQ(m.origin_as, 101u);
  EXPECT_EQ(m.length, 16);
  m = table->Lookup(Ip("::ffff:10.2.0.1"));
  EXPECT_EQ(m.origin_as, 100u);
  EXPECT_EQ(m.length, 8);
  // A mapped address outside every IPv4 route misses: IPv6 routes (even ::/0 and
  // ::ffff:0:0/96) do not apply to it.
  EXPECT_FALSE(table->Lookup(Ip("::ffff:192.0.2.1")).found);
  // Not mapped: ::fffe:a01:203 and ::a01:203 (IPv4-compatible) are IPv6.
  EXPECT_EQ(table->Lookup(Ip("::fffe:a01:203")).origin_as, 200u);
  EXPECT_EQ(table->Lookup(Ip("::a01:203")).origin_as, 200u);
  EXPECT_EQ(table->Lookup(Ip("2001:db8::1")).origin_as, 200u);
}

TEST(PrefixTableTest, UnsetAddressMisses) {
  absl::StatusOr<PrefixTable> table =
      PrefixTable::Build(std::vector<Route>{MakeRoute("0.0.0.0", 0, 1), MakeRoute("::", 0, 2)});
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_TRUE(table->Lookup(Ip("192.0.2.1")).found);
  EXPECT_TRUE(table->Lookup(Ip("2001:db8::1")).found);
  EXPECT_FALSE(table->Lookup(IpAddress{}).found);
  IpAddress odd = Ip("192.0.2.1");
  odd.version = 5;
  EXPECT_FALSE(table->Lookup(odd).found);
}

TEST(PrefixTableTest, LaterDuplicateWinsAndHostBitsAreIgnored) {
  const std::vector<Route> routes = {
      MakeRoute("10.1.2.3", 8, 1),      MakeRoute("10.0.0.0", 8, 2),  // same /8, later wins
      MakeRoute("10.9.9.9", 30, 3),     MakeRoute("10.9.9.8", 30, 4),
      MakeRoute("2001:db8::1", 32, 5),  MakeRoute("2001:db8::", 32, 6),
      MakeRoute("2001:db8:1::", 48, 7), MakeRoute("2001:db8:1:ffff::", 48, 8)};
  absl::StatusOr<PrefixTable> table = PrefixTable::Build(routes);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->ipv4_prefixes(), 2u);
  EXPECT_EQ(table->ipv6_prefixes(), 2u);
  EXPECT_EQ(table->Lookup(Ip("10.200.0.1")).origin_as, 2u);
  EXPECT_EQ(table->Lookup(Ip("10.9.9.11")).origin_as, 4u);
  EXPECT_EQ(table->Lookup(Ip("10.9.9.11")).length, 30);
  EXPECT_EQ(table->Lookup(Ip("10.9.9.12")).origin_as, 2u);
  EXPECT_EQ(table->Lookup(Ip("2001:db8:ffff::1")).origin_as, 6u);
  EXPECT_EQ(table->Lookup(Ip("2001:db8:1:abcd::1")).origin_as, 8u);
  EXPECT_EQ(table->Lookup(Ip("2001:db8:2::")).origin_as, 6u);
  EXPECT_FALSE(table->Lookup(Ip("2001:db9::")).found);
}

TEST(PrefixTableTest, MalformedRoutesAreRejected) {
  for (const Route& bad : {MakeRoute("10.0.0.0", 33, 1), MakeRoute("2001:db8::", 129, 1),
                           Route{IpAddress{}, 0, 1}}) {
    const std::vector<Route> routes = {MakeRoute("192.0.2.0", 24, 1), bad};
    absl::StatusOr<PrefixTable> table = PrefixTable::Build(routes);
    ASSERT_FALSE(table.ok());
    EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(table.status().message().find("route 1"), std::string::npos) << table.status();
  }
}

TEST(PrefixTableTest, MemoryBytesCountsWhatIsHeld) {
  absl::StatusOr<PrefixTable> v4 = PrefixTable::Build(std::vector<Route>{
      MakeRoute("192.0.2.0", 24, 1), MakeRoute("192.0.2.128", 25, 2)});
  ASSERT_TRUE(v4.ok()) << v4.status();
  // The 2^24-entry first level, one 256-entry group, and a little more.
  EXPECT_GE(v4->MemoryBytes(), (size_t{64} << 20) + 1024);
  EXPECT_LT(v4->MemoryBytes(), size_t{65} << 20);

  std::mt19937_64 rng(7);
  std::vector<Route> routes;
  AddRandomRoutes(rng, 6, 1000, routes);
  absl::StatusOr<PrefixTable> v6 = PrefixTable::Build(routes);
  ASSERT_TRUE(v6.ok()) << v6.status();
  // The top-16 index (2 x 256 KiB), at most 2n+1 ranges of 24 bytes, n+1 results of 8 and
  // the finer indexes of crowded /16s; no IPv4 first level.
  EXPECT_GT(v6->MemoryBytes(), (size_t{512} << 10) + 1001 * 24);
  EXPECT_LT(v6->MemoryBytes(), size_t{1} << 20);
}

TEST(PrefixTableTest, MovedTableKeepsItsRoutes) {
  absl::StatusOr<PrefixTable> built = PrefixTable::Build(
      std::vector<Route>{MakeRoute("198.51.100.0", 24, 9), MakeRoute("2001:db8::", 32, 10)});
  ASSERT_TRUE(built.ok()) << built.status();
  PrefixTable table = std::move(*built);
  EXPECT_EQ(table.Lookup(Ip("198.51.100.7")).origin_as, 9u);
  EXPECT_EQ(table.Lookup(Ip("2001:db8::7")).origin_as, 10u);
  PrefixTable other;
  other = std::move(table);
  EXPECT_EQ(other.Lookup(Ip("198.51.100.7")).origin_as, 9u);
  EXPECT_EQ(other.ipv4_prefixes(), 1u);
}

// Lookup is const and touches no shared mutable state: concurrent readers agree with a
// single-threaded pass (TSan builds check the absence of races).
TEST(PrefixTableTest, ConcurrentLookupsAgree) {
  std::mt19937_64 rng(11);
  std::vector<Route> routes;
  AddRandomRoutes(rng, 4, 300, routes);
  AddRandomRoutes(rng, 6, 300, routes);
  absl::StatusOr<PrefixTable> table = PrefixTable::Build(routes);
  ASSERT_TRUE(table.ok()) << table.status();
  std::vector<IpAddress> addresses;
  for (int version : {4, 6}) {
    for (U128 v : Probes(rng, routes, version, 500)) addresses.push_back(Address(version, v));
  }
  std::vector<uint64_t> expected;
  for (const IpAddress& a : addresses) {
    const PrefixMatch m = table->Lookup(a);
    expected.push_back(uint64_t{m.origin_as} << 9 | uint64_t{m.length} << 1 | m.found);
  }
  std::vector<int> wrong(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = 0; i < addresses.size(); ++i) {
        const PrefixMatch m = table->Lookup(addresses[i]);
        if ((uint64_t{m.origin_as} << 9 | uint64_t{m.length} << 1 | m.found) != expected[i]) {
          ++wrong[t];
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(wrong[t], 0) << "thread " << t;
}

}  // namespace
}  // namespace nf
