// Longest-prefix match over a routing table, for the per-flow and per-record lookups of both
// tools. Immutable once built; Lookup is const, allocation-free and safe from any thread.
//
// IPv4 is DIR-24-8 (Gupta, Lin, McKeown 1998; the layout of DPDK's rte_lpm): one 2^24-entry
// table indexed by the top 24 bits, and 256-entry second-level groups for the /24s that hold
// longer prefixes, so every lookup is one or two dependent loads whatever the table size.
// IPv6 prefixes are flattened into disjoint address ranges (a more specific prefix splits the
// one around it) searched by binary search behind an index on the top 16 bits, the approach of
// DXR (Zec, Rizzo, Mikuc 2012); a /16 crowded with ranges gets a finer index on up to 16 more
// bits, sized to leave about 4 ranges to the search. Memory stays near 24 bytes a range plus
// 512 KiB. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are looked up as IPv4.
#ifndef NF_ENRICH_PREFIX_TABLE_H_
#define NF_ENRICH_PREFIX_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "absl/status/statusor.h"
#include "common/ip_address.h"
#include "enrich/route.h"

namespace nf {

struct PrefixMatch {
  uint32_t origin_as = 0;
  uint8_t length = 0;  // prefix length of the match
  bool found = false;
};

class PrefixTable {
 public:
  // An empty table (every lookup misses).
  PrefixTable();
  ~PrefixTable();
  PrefixTable(PrefixTable&&) noexcept;
  PrefixTable& operator=(PrefixTable&&) noexcept;

  // `routes` in any order; a prefix given twice keeps the later entry; bits past a route's
  // length are ignored. Fails when memory cannot be had, or (InvalidArgument, naming the
  // route's index) when a route is neither IPv4 of length 0..32 nor IPv6 of 0..128.
  static absl::StatusOr<PrefixTable> Build(std::span<const Route> routes);

  PrefixMatch Lookup(const IpAddress& address) const;

  size_t ipv4_prefixes() const;
  size_t ipv6_prefixes() const;
  // Bytes the table holds (resident once every page is touched).
  size_t MemoryBytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nf

#endif  // NF_ENRICH_PREFIX_TABLE_H_
