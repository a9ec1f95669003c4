#include "collector/output/aggregate/aggregator.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/hash/hash.h"
#include "absl/numeric/int128.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "collector/output/format/text.h"
#include "common/time_format.h"

namespace nf {

absl::StatusOr<std::unique_ptr<Aggregator>> Aggregator::Create(const AggregateOptions& options) {
  std::unique_ptr<Aggregator> a(new Aggregator(options));
  for (absl::string_view spec : absl::StrSplit(options.keys, ',', absl::SkipEmpty())) {
    spec = absl::StripAsciiWhitespace(spec);
    int prefix = -1;
    absl::string_view name = spec;
    if (size_t slash = spec.find('/'); slash != absl::string_view::npos) {
      name = spec.substr(0, slash);
      if (!absl::SimpleAtoi(spec.substr(slash + 1), &prefix) || prefix < 0 || prefix > 128) {
        return absl::InvalidArgumentError(absl::StrCat("bad prefix mask in '", spec, "'"));
      }
    }
    const CsvColumnInfo* c = FindCsvColumn(name);
    if (c == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown aggregation key '", name, "'"));
    }
    if (c->is_counter || c->key == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", name, "' is a counter and cannot be an aggregation key"));
    }
    if (prefix >= 0 && !c->is_address()) {
      return absl::InvalidArgumentError(
          absl::StrCat("a prefix mask needs an address column, not '", name, "'"));
    }
    const IpAddress& (*address)(const DecodedRecord&) = prefix >= 0 ? c->address : nullptr;
    a->keys_.push_back(Key{c, prefix, address});
  }
  if (a->keys_.empty()) return absl::InvalidArgumentError("-A needs at least one key column");
  // Bin, then each key.
  a->key_bytes_.resize((a->keys_.size() + 1) * kMaxGroupKeyBytes);
  if (options.bin_seconds < 0) return absl::InvalidArgumentError("-t must be >= 0");
  if (options.bin_seconds == 0 && options.direct_index) {
    int bits = 0;
    for (const Key& k : a->keys_) {
      bits = k.prefix >= 0 || k.column->key_bits == 0 ? kMaxDirectKeyBits + 1
                                                       : bits + k.column->key_bits;
    }
    if (bits <= kMaxDirectKeyBits) {
      a->direct_bits_ = bits;
      a->direct_.resize(size_t{1} << bits);
    }
  }
  return a;
}

Aggregator::Group* Aggregator::FindGroup(absl::string_view key, uint32_t hash) {
  if (index_.empty()) return nullptr;
  const size_t mask = index_.size() - 1;
  for (size_t pos = hash & mask;; pos = (pos + 1) & mask) {
    const IndexSlot& slot = index_[pos];
    if (slot.group_plus1 == 0) return nullptr;
    if (slot.hash == hash && KeyOf(slot.group_plus1 - 1) == key) {
      return &groups_[slot.group_plus1 - 1];
    }
  }
}

void Aggregator::IndexGroup(uint32_t group) {
  if (2 * (groups_.size() + 1) > index_.size()) {
    // Grow (or create): at most half full keeps probes short. Slots carry their hash, so
    // moving them reads no group.
    auto old = std::move(index_);
    index_.assign(std::max<size_t>(64, old.size() * 2), IndexSlot{});
    const size_t mask = index_.size() - 1;
    for (const IndexSlot& slot : old) {
      if (slot.group_plus1 == 0) continue;
      size_t pos = slot.hash & mask;
      while (index_[pos].group_plus1 != 0) pos = (pos + 1) & mask;
      index_[pos] = slot;
    }
  }
  const uint32_t hash = groups_[group].hash;
  const size_t mask = index_.size() - 1;
  size_t pos = hash & mask;
  while (index_[pos].group_plus1 != 0) pos = (pos + 1) & mask;
  index_[pos] = IndexSlot{group + 1, hash};
}

Aggregator::Group* Aggregator::NewGroup(const DecodedRecord& r, int64_t bin,
                                         absl::string_view key, uint32_t hash) {
  if (groups_.size() >= options_.max_groups) {
    ++overflow_records_;
    return nullptr;
  }
  Group& g = groups_.emplace_back();
  g.bin = bin;
  g.hash = hash;
  g.key_length = static_cast<uint32_t>(key.size());
  if (key.empty()) {
    // Direct groups have no key bytes (and key.data() may be null, which memcpy must not see).
  } else if (key.size() <= sizeof(g.short_key)) {
    std::memcpy(g.short_key, key.data(), key.size());
  } else {
    g.key_offset = key_arena_.size();
    key_arena_.append(key.data(), key.size());
  }
  // The text: bin and key columns, each followed by a comma.
  g.text_offset = text_arena_.size();
  char buf[kMaxCsvColumnChars];
  if (options_.bin_seconds > 0) {
    text_arena_.append(buf, WriteIso8601Ms(bin, buf));
    text_arena_.push_back(',');
  }
  for (const Key& k : keys_) {
    if (k.address != nullptr) {
      // Every address column prints with WriteAddress.
      text_arena_.append(buf, WriteAddress(MaskAddress(k.address(r), k.prefix), buf));
    } else {
      text_arena_.append(buf, k.column->write(r, buf));
    }
    text_arena_.push_back(',');
  }
  g.text_length = static_cast<uint32_t>(text_arena_.size() - g.text_offset);
  return &g;
}

bool Aggregator::AddDirect(const DecodedRecord& r) {
  uint64_t index = 0;
  for (const Key& k : keys_) {
    char buf[kMaxGroupKeyBytes];
    k.column->key(r, buf);
    uint64_t v;
    std::memcpy(&v, buf, sizeof(v));  // WriteNumberKey's bytes
    if ((v >> k.column->key_bits) != 0) return false;  // not as narrow as declared: hash it
    index = (index << k.column->key_bits) | v;
  }
  uint32_t& slot = direct_[index];
  if (slot == 0) {
    if (NewGroup(r, 0, {}, 0) == nullptr) return true;
    slot = static_cast<uint32_t>(groups_.size());
    direct_used_.push_back(static_cast<uint32_t>(index));
  }
  Group& g = groups_[slot - 1];
  ++g.flows;
  g.packets += r.packets;
  g.bytes += r.bytes;
  return true;
}

void Aggregator::Add(const DecodedRecord& r) {
  if (direct_bits_ > 0 && AddDirect(r)) return;
  int64_t bin = 0;
  // The group key is binary (CsvColumnInfo::key), written into a fixed buffer: no text
  // formatting and no allocation per record for an existing group; a new group formats its
  // text once (NewGroup).
  char* const start = key_bytes_.data();
  char* out = start;
  if (options_.bin_seconds > 0) {
    const int64_t t = r.first_ms != kNoTime ? r.first_ms : r.receive_time_us / 1000;
    const int64_t width = options_.bin_seconds * 1000;
    // The bin's start, for any 64-bit time an exporter sent (one that would start below the
    // int64 range stays at the truncated one).
    if (__builtin_sub_overflow(t, FloorMod(t, width), &bin)) bin = t - t % width;
    std::memcpy(out, &bin, sizeof(bin));
    out += sizeof(bin);
  }
  for (const Key& k : keys_) {
    if (k.address != nullptr) {
      out = WriteAddressKey(MaskAddress(k.address(r), k.prefix), out);
    } else {
      out = k.column->key(r, out);  // every column that can be a key has one (Create)
    }
  }
  const absl::string_view key(start, static_cast<size_t>(out - start));
  const uint32_t hash = static_cast<uint32_t>(absl::Hash<absl::string_view>{}(key));
  Group* g = FindGroup(key, hash);
  if (g == nullptr) {
    g = NewGroup(r, bin, key, hash);
    if (g == nullptr) return;
    IndexGroup(static_cast<uint32_t>(groups_.size() - 1));
  }
  ++g->flows;
  g->packets += r.packets;
  g->bytes += r.bytes;
}

void Aggregator::AppendHeader(std::string& out) const {
  if (options_.bin_seconds > 0) out += "bin_start,";
  for (const Key& k : keys_) {
    out.append(k.column->name.data(), k.column->name.size());
    if (k.prefix >= 0) absl::StrAppend(&out, "/", k.prefix);
    out.push_back(',');
  }
  out += "flows,packets,bytes\n";
}

void Aggregator::AppendRowsAndClear(std::string& out) {
  // Sorted on copies of what the order needs, so comparisons rarely touch the groups.
  // Ties (common: many groups have the same counts) go by text; its first 16 bytes, as a
  // big-endian number, settle most of them without reading the text.
  struct Row {
    int64_t bin;
    uint64_t metric;
    absl::uint128 prefix;
    uint32_t group;
  };
  std::vector<Row, LargeAllocator<Row>> rows;
  rows.reserve(groups_.size());
  const auto metric_of = [this](const Group& g) {
    return options_.order_by == OrderBy::kPackets ? g.packets
           : options_.order_by == OrderBy::kFlows ? g.flows
                                                  : g.bytes;
  };
  const auto order = [this](const Row& a, const Row& b) {
    if (a.bin != b.bin) return a.bin < b.bin;
    if (a.metric != b.metric) return a.metric > b.metric;
    if (a.prefix != b.prefix) return a.prefix < b.prefix;
    return TextOf(groups_[a.group]) < TextOf(groups_[b.group]);  // deterministic ties
  };
  if (options_.top > 0) {
    // --top N: only N rows per bin are printed, so each bin's N are selected (nth_element)
    // and only they are sorted. Their text prefix is not precomputed: ties at the top are
    // rare, and reading every group's text would touch all of them once more.
    for (size_t i = 0; i < groups_.size(); ++i) {
      rows.push_back(Row{groups_[i].bin, metric_of(groups_[i]), 0, static_cast<uint32_t>(i)});
    }
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.bin < b.bin; });
    decltype(rows) kept;
    for (size_t begin = 0; begin < rows.size();) {
      size_t end = begin;
      while (end < rows.size() && rows[end].bin == rows[begin].bin) ++end;
      const auto first = rows.begin() + static_cast<ptrdiff_t>(begin);
      auto last = rows.begin() + static_cast<ptrdiff_t>(end);
      if (end - begin > options_.top) {
        const auto nth = first + static_cast<ptrdiff_t>(options_.top);
        std::nth_element(first, nth, last, order);
        last = nth;
      }
      std::sort(first, last, order);
      kept.insert(kept.end(), first, last);
      begin = end;
    }
    rows.swap(kept);
  } else {
    for (size_t i = 0; i < groups_.size(); ++i) {
      const Group& g = groups_[i];
      uint8_t head[16] = {};
      const absl::string_view text = TextOf(g);
      std::memcpy(head, text.data(), std::min(text.size(), sizeof(head)));
      uint64_t hi = 0, lo = 0;
      for (int k = 0; k < 8; ++k) {
        hi = (hi << 8) | head[k];
        lo = (lo << 8) | head[8 + k];
      }
      rows.push_back(Row{g.bin, metric_of(g), absl::MakeUint128(hi, lo), static_cast<uint32_t>(i)});
    }
    std::sort(rows.begin(), rows.end(), order);
  }
  size_t in_bin = 0;
  int64_t current_bin = 0;
  constexpr size_t kAhead = 8;  // rows are in sorted order, groups are not: fetch ahead
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i + kAhead < rows.size()) {
      const Group& next = groups_[rows[i + kAhead].group];
      __builtin_prefetch(&next);
      __builtin_prefetch(text_arena_.data() + next.text_offset);
    }
    const Group& g = groups_[rows[i].group];
    if (i == 0 || g.bin != current_bin) {
      current_bin = g.bin;
      in_bin = 0;
    }
    if (options_.top > 0 && in_bin >= options_.top) continue;
    ++in_bin;
    const absl::string_view text = TextOf(g);
    out.append(text.data(), text.size());
    AppendUnsigned(g.flows, out);
    out.push_back(',');
    AppendUnsigned(g.packets, out);
    out.push_back(',');
    AppendUnsigned(g.bytes, out);
    out.push_back('\n');
  }
  groups_.clear();
  key_arena_.clear();
  text_arena_.clear();
  // Freed, not kept: the next interval may need far fewer groups.
  decltype(index_)().swap(index_);
  for (uint32_t i : direct_used_) direct_[i] = 0;
  direct_used_.clear();
}

}  // namespace nf
