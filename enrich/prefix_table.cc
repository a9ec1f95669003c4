#include "enrich/prefix_table.h"

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "common/large_allocator.h"

namespace nf {
namespace {

// A first-level entry with this bit set holds a second-level group index; otherwise (both
// levels) an entry is an index into the results array, 0 meaning "no route".
constexpr uint32_t kGroupBit = 0x8000'0000u;
constexpr size_t kTbl24Entries = size_t{1} << 24;
constexpr size_t kTbl24Bytes = kTbl24Entries * sizeof(uint32_t);  // 64 MiB
constexpr size_t kGroupEntries = 256;
constexpr size_t kBuckets = size_t{1} << 16;  // one per value of the top 16 bits
// A /16 whose bucket holds more ranges than this gets a finer index on the next bits, sized to
// leave about kRangesPerSlot ranges (two cache lines at most) to each binary search.
constexpr size_t kRefineAbove = 16;
constexpr size_t kRangesPerSlot = 4;
constexpr uint32_t kMaxRefineBits = 16;

struct U128 {
  uint64_t hi = 0;
  uint64_t lo = 0;
  friend bool operator==(const U128&, const U128&) = default;
};

inline bool Less(const U128& a, const U128& b) {
  return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo);
}
// As one 128-bit comparison (cmp + sbb), so that the search loop below has no branch on the
// outcome for the predictor to miss half the time; GCC turns the two-part form into branches.
__extension__ typedef unsigned __int128 Uint128;
inline bool LessEq(const U128& a, const U128& b) {
  return ((Uint128{a.hi} << 64) | a.lo) <= ((Uint128{b.hi} << 64) | b.lo);
}

inline uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap64(v);
  return v;
}

inline U128 Load128(const IpAddress& a) {
  return {Load64(a.bytes.data()), Load64(a.bytes.data() + 8)};
}

// Bits past `length` set (the host part of a prefix).
inline U128 HostMask(int length) {
  U128 m;
  m.hi = length == 0 ? ~uint64_t{0} : (length >= 64 ? 0 : ~uint64_t{0} >> length);
  m.lo = length <= 64 ? ~uint64_t{0} : (length == 128 ? 0 : ~uint64_t{0} >> (length - 64));
  return m;
}

// Stand-ins for an empty family, so that Lookup needs no "is there a table" branch: an IPv4
// lookup indexes the first level with (address >> 32) == 0, and an IPv6 lookup finds one
// range, [::, end], holding result 0.
constexpr uint32_t kEmptyTbl24[1] = {0};
constexpr uint32_t kEmptyBuckets[1] = {0};
constexpr uint32_t kEmptySlots[2] = {0, 0};
// The result sits next to the start it belongs to: the search has just loaded that line, so
// the answer costs no further cache miss (4 bytes more a range than a parallel array).
struct Range {
  U128 start;
  uint32_t result;
};
constexpr Range kEmptyRanges[1] = {Range{U128{}, 0}};

struct V4Input {
  uint32_t prefix;
  uint32_t length;
  uint32_t origin_as;
  size_t order;
};

struct V6Input {
  U128 start;
  uint32_t length;
  uint32_t origin_as;
  size_t order;
};

}  // namespace

struct PrefixTable::Impl {
  // IPv4, DIR-24-8. The first level is an anonymous mapping (AllocateLarge) rather than a
  // std::vector: a vector value-initializes, writing all 64 MiB (and making unrouted space
  // resident) before a single prefix is painted, whereas a mapping hands out zero pages on
  // demand; and the mapping is 2 MiB aligned and marked for transparent huge pages, which takes
  // the TLB miss out of most random lookups (64 MiB is 16,384 small pages but only 32 huge
  // ones). It is also returned to the kernel on destruction whatever the allocator does.
  const uint32_t* tbl24 = kEmptyTbl24;
  uint64_t tbl24_shift = 32;  // 8 with a real first level
  void* tbl24_map = nullptr;
  size_t tbl24_map_bytes = 0;
  std::vector<uint32_t> tbl8;  // second-level groups, kGroupEntries each

  // Unique (origin_as, length) pairs of both families; [0] is the miss.
  std::vector<PrefixMatch> results{PrefixMatch{}};

  // IPv6: disjoint ranges covering the whole space, range i being [ranges[i].start,
  // ranges[i + 1].start) with results[ranges[i].result]; ranges[0] starts at ::.
  // A slot is the index of the last range starting at or before some address X, so an address
  // between X and the next slot's address lies in ranges slots[j]..slots[j + 1]. Slots 0..2^16
  // are for the addresses t::/16 (t = top 16 bits). buckets[t] is (first slot << 5 | k): a
  // crowded /16 has 2^k + 1 slots of its own, for the addresses t:i::/(16 + k), i = the next k
  // bits; an ordinary /16 has k = 0 and uses slots t and t + 1 of the first block.
  const uint32_t* buckets = kEmptyBuckets;
  // How far the top 64 bits shift to give the bucket: 48, or 64 for the empty stand-in.
  uint64_t bucket_shift = 64;
  const uint32_t* slots = kEmptySlots;
  const Range* ranges = kEmptyRanges;
  std::vector<uint32_t> bucket_storage;
  std::vector<uint32_t> slot_storage;
  std::vector<Range> range_storage;

  size_t v4_prefixes = 0;
  size_t v6_prefixes = 0;

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    if (tbl24_map != nullptr) FreeLarge(tbl24_map, tbl24_map_bytes);
  }

  PrefixMatch LookupV4(uint32_t a) const {
    uint32_t e = tbl24[uint64_t{a} >> tbl24_shift];
    if (e & kGroupBit) e = tbl8[(size_t{e & ~kGroupBit} * kGroupEntries) | (a & 0xff)];
    return results[e];
  }

  PrefixMatch LookupV6(const U128& a) const {
    // Two shifts rather than one, here and for the next k bits: shifting by 64 is undefined.
    const uint32_t bucket = buckets[(a.hi >> 48) >> (bucket_shift - 48)];
    const uint32_t k = bucket & 31;
    const size_t j = (bucket >> 5) + (((a.hi << 16) >> 1) >> (63 - k));
    const Range* base = ranges + slots[j];
    size_t n = size_t{slots[j + 1]} - slots[j] + 1;
    // The search steps depend on each other; asking for the lines of the first eight ranges at
    // once lets their misses overlap instead of following one another (a prefetch never faults,
    // so asking past the end is harmless; integer arithmetic, as a pointer may not go there).
    const uintptr_t line = reinterpret_cast<uintptr_t>(base);
    __builtin_prefetch(reinterpret_cast<const void*>(line));
    __builtin_prefetch(reinterpret_cast<const void*>(line + 64));
    __builtin_prefetch(reinterpret_cast<const void*>(line + 128));
    __builtin_prefetch(reinterpret_cast<const void*>(line + 8 * sizeof(Range) - 1));
    // Last start <= a, knowing base[0] <= a: each step keeps the half that holds it.
    while (n > 1) {
      const size_t half = n / 2;
      base += half * static_cast<size_t>(LessEq(base[half].start, a));
      n -= half;
    }
    return results[base->result];
  }

  absl::Status AllocateTbl24();
  void BuildV4(std::vector<V4Input>& routes, absl::flat_hash_map<uint64_t, uint32_t>& interned);
  void BuildV6(std::vector<V6Input>& routes, absl::flat_hash_map<uint64_t, uint32_t>& interned);
  uint32_t Intern(uint32_t origin_as, uint32_t length,
                  absl::flat_hash_map<uint64_t, uint32_t>& interned);
};

absl::Status PrefixTable::Impl::AllocateTbl24() {
  // 2 MiB aligned and advised for huge pages: every IPv4 lookup reads one random entry of these
  // 64 MiB, and with 4 KiB pages nearly each would also miss the TLB.
  tbl24_map = AllocateLarge(kTbl24Bytes);
  if (tbl24_map == nullptr) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "prefix table: cannot map %d bytes for the IPv4 first level", kTbl24Bytes));
  }
  tbl24_map_bytes = kTbl24Bytes;
  return absl::OkStatus();
}

uint32_t PrefixTable::Impl::Intern(uint32_t origin_as, uint32_t length,
                                   absl::flat_hash_map<uint64_t, uint32_t>& interned) {
  const uint64_t key = (uint64_t{origin_as} << 8) | length;
  auto [it, inserted] = interned.try_emplace(key, static_cast<uint32_t>(results.size()));
  if (inserted) {
    results.push_back(PrefixMatch{origin_as, static_cast<uint8_t>(length), true});
  }
  return it->second;
}

void PrefixTable::Impl::BuildV4(std::vector<V4Input>& routes,
                                absl::flat_hash_map<uint64_t, uint32_t>& interned) {
  // Shorter prefixes first so longer ones paint over them; by address within a length so the
  // painting walks memory forwards; by input order last so the later duplicate wins below.
  std::sort(routes.begin(), routes.end(), [](const V4Input& a, const V4Input& b) {
    if (a.length != b.length) return a.length < b.length;
    if (a.prefix != b.prefix) return a.prefix < b.prefix;
    return a.order < b.order;
  });
  uint32_t* first = static_cast<uint32_t*>(tbl24_map);
  size_t unique = 0;
  for (size_t i = 0; i < routes.size(); ++i) {
    const V4Input& r = routes[i];
    if (i + 1 < routes.size() && routes[i + 1].length == r.length &&
        routes[i + 1].prefix == r.prefix) {
      continue;  // a later entry for the same prefix follows
    }
    ++unique;
    const uint32_t result = Intern(r.origin_as, r.length, interned);
    if (r.length <= 24) {
      std::fill_n(first + (r.prefix >> 8), size_t{1} << (24 - r.length), result);
      continue;
    }
    // Every prefix of 24 bits or less is painted by now, so a new group inherits what the
    // first level says for its /24.
    uint32_t& slot = first[r.prefix >> 8];
    if (!(slot & kGroupBit)) {
      const size_t group = tbl8.size() / kGroupEntries;
      tbl8.insert(tbl8.end(), kGroupEntries, slot);
      slot = kGroupBit | static_cast<uint32_t>(group);
    }
    const size_t group = slot & ~kGroupBit;
    std::fill_n(tbl8.begin() + static_cast<ptrdiff_t>(group * kGroupEntries + (r.prefix & 0xff)),
                size_t{1} << (32 - r.length), result);
  }
  tbl8.shrink_to_fit();
  v4_prefixes = unique;
}

void PrefixTable::Impl::BuildV6(std::vector<V6Input>& routes,
                                absl::flat_hash_map<uint64_t, uint32_t>& interned) {
  // By start, then shorter first: a prefix comes right after every prefix that contains it,
  // which is what the stack sweep below needs. Input order last: the later duplicate wins.
  std::sort(routes.begin(), routes.end(), [](const V6Input& a, const V6Input& b) {
    if (!(a.start == b.start)) return Less(a.start, b.start);
    if (a.length != b.length) return a.length < b.length;
    return a.order < b.order;
  });

  std::vector<U128> s;
  std::vector<uint32_t> res;
  s.reserve(2 * routes.size() + 1);
  res.reserve(2 * routes.size() + 1);
  s.push_back(U128{});
  res.push_back(0);
  // A range starting where the last one started replaces it (a more specific prefix, or the
  // end of one, at the same address).
  auto emit = [&](const U128& start, uint32_t result) {
    if (s.back() == start) {
      res.back() = result;
    } else {
      s.push_back(start);
      res.push_back(result);
    }
  };
  struct Open {
    U128 end;  // last address
    uint32_t result;
  };
  std::vector<Open> open;  // the prefixes containing the current position, innermost last
  // Closes every open prefix that ends before `next` (all of them when `next` is null): past
  // its end the enclosing prefix, or nothing, applies again.
  auto close_before = [&](const U128* next) {
    while (!open.empty() && (next == nullptr || Less(open.back().end, *next))) {
      const U128 end = open.back().end;
      open.pop_back();
      if (end.hi == ~uint64_t{0} && end.lo == ~uint64_t{0}) continue;  // nothing after
      U128 after = end;
      if (++after.lo == 0) ++after.hi;
      emit(after, open.empty() ? 0 : open.back().result);
    }
  };

  size_t unique = 0;
  for (size_t i = 0; i < routes.size(); ++i) {
    const V6Input& r = routes[i];
    if (i + 1 < routes.size() && routes[i + 1].start == r.start &&
        routes[i + 1].length == r.length) {
      continue;  // a later entry for the same prefix follows
    }
    ++unique;
    const uint32_t result = Intern(r.origin_as, r.length, interned);
    close_before(&r.start);
    // Prefixes nest or are disjoint, so what is still open contains this one.
    emit(r.start, result);
    const U128 host = HostMask(static_cast<int>(r.length));
    open.push_back(Open{U128{r.start.hi | host.hi, r.start.lo | host.lo}, result});
  }
  close_before(nullptr);
  v6_prefixes = unique;

  // Merge neighbours with the same result: adjacent prefixes of one origin and length (two
  // /48s of one AS side by side) need only one range, which shortens the searches.
  size_t kept = 1;
  for (size_t i = 1; i < s.size(); ++i) {
    if (res[i] == res[kept - 1]) continue;
    s[kept] = s[i];
    res[kept] = res[i];
    ++kept;
  }
  s.resize(kept);
  res.resize(kept);

  // Slot of the last range starting at or before `key`, searched from `from` onwards.
  auto last_at_or_before = [&s](const U128& key, size_t from) {
    while (from + 1 < s.size() && LessEq(s[from + 1], key)) ++from;
    return from;
  };
  slot_storage.resize(kBuckets + 1);
  for (size_t t = 0; t < kBuckets; ++t) {
    const size_t from = t == 0 ? 0 : slot_storage[t - 1];
    slot_storage[t] = static_cast<uint32_t>(last_at_or_before(U128{uint64_t{t} << 48, 0}, from));
  }
  slot_storage[kBuckets] = static_cast<uint32_t>(s.size() - 1);
  bucket_storage.resize(kBuckets);
  for (size_t t = 0; t < kBuckets; ++t) {
    const size_t first = slot_storage[t];
    const size_t last = slot_storage[t + 1];
    const size_t candidates = last - first + 1;
    if (candidates <= kRefineAbove) {
      bucket_storage[t] = static_cast<uint32_t>(t << 5);
      continue;
    }
    const uint32_t k = std::min<uint32_t>(
        kMaxRefineBits, static_cast<uint32_t>(std::bit_width((candidates - 1) / kRangesPerSlot)));
    const size_t block = slot_storage.size();
    bucket_storage[t] = static_cast<uint32_t>(block << 5 | k);
    size_t at = first;
    for (uint64_t i = 0; i < (uint64_t{1} << k); ++i) {
      at = last_at_or_before(U128{uint64_t{t} << 48 | i << (48 - k), 0}, at);
      slot_storage.push_back(static_cast<uint32_t>(at));
    }
    slot_storage.push_back(static_cast<uint32_t>(last));
  }
  slot_storage.shrink_to_fit();

  range_storage.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) range_storage.push_back(Range{s[i], res[i]});
  buckets = bucket_storage.data();
  bucket_shift = 48;
  slots = slot_storage.data();
  ranges = range_storage.data();
}

PrefixTable::PrefixTable() : impl_(std::make_unique<Impl>()) {}
PrefixTable::~PrefixTable() = default;
PrefixTable::PrefixTable(PrefixTable&&) noexcept = default;
PrefixTable& PrefixTable::operator=(PrefixTable&&) noexcept = default;

absl::StatusOr<PrefixTable> PrefixTable::Build(std::span<const Route> routes) {
  std::vector<V4Input> v4;
  std::vector<V6Input> v6;
  for (size_t i = 0; i < routes.size(); ++i) {
    const Route& r = routes[i];
    if (r.prefix.version == 4 && r.length <= 32) {
      const uint32_t mask = r.length == 0 ? 0 : ~uint32_t{0} << (32 - r.length);
      v4.push_back(V4Input{r.prefix.v4_host_order() & mask, r.length, r.origin_as, i});
    } else if (r.prefix.version == 6 && r.length <= 128) {
      const U128 a = Load128(r.prefix);
      const U128 host = HostMask(r.length);
      v6.push_back(V6Input{U128{a.hi & ~host.hi, a.lo & ~host.lo}, r.length, r.origin_as, i});
    } else {
      return absl::InvalidArgumentError(absl::StrFormat(
          "prefix table: route %d (%s/%d) is not an IPv4 prefix of 0..32 bits or an IPv6 "
          "prefix of 0..128 bits",
          i, r.prefix.ToString(), r.length));
    }
  }

  PrefixTable table;
  Impl& impl = *table.impl_;
  absl::flat_hash_map<uint64_t, uint32_t> interned;
  if (!v4.empty()) {
    if (absl::Status s = impl.AllocateTbl24(); !s.ok()) return s;
    impl.BuildV4(v4, interned);
    impl.tbl24 = static_cast<const uint32_t*>(impl.tbl24_map);
    impl.tbl24_shift = 8;
  }
  if (!v6.empty()) impl.BuildV6(v6, interned);
  impl.results.shrink_to_fit();
  return table;
}

PrefixMatch PrefixTable::Lookup(const IpAddress& address) const {
  if (impl_ == nullptr) return {};  // moved from
  const Impl& t = *impl_;
  if (address.version == 4) return t.LookupV4(address.v4_host_order());
  if (address.version != 6) return {};
  const U128 a = Load128(address);
  if (a.hi == 0 && (a.lo >> 32) == 0xffff) return t.LookupV4(static_cast<uint32_t>(a.lo));
  return t.LookupV6(a);
}

size_t PrefixTable::ipv4_prefixes() const { return impl_ ? impl_->v4_prefixes : 0; }
size_t PrefixTable::ipv6_prefixes() const { return impl_ ? impl_->v6_prefixes : 0; }

size_t PrefixTable::MemoryBytes() const {
  if (impl_ == nullptr) return 0;
  const Impl& t = *impl_;
  return sizeof(Impl) + t.tbl24_map_bytes + t.tbl8.capacity() * sizeof(uint32_t) +
         t.results.capacity() * sizeof(PrefixMatch) +
         t.bucket_storage.capacity() * sizeof(uint32_t) +
         t.slot_storage.capacity() * sizeof(uint32_t) +
         t.range_storage.capacity() * sizeof(Range);
}

}  // namespace nf
