// -A aggregation: groups decoded records on a list of columns (addresses may carry a prefix
// mask, e.g. `src_addr/24`), optionally per time bin (`bin_start`, from each record's first
// time), sums flows, packets and bytes, keeps the top N per bin and prints keys then
// `flows,packets,bytes`. The number of groups is bounded; records that would create a group
// past the bound are counted, not stored. Keys and their text come from the column registry
// (format/columns.h), so a key prints exactly as the raw column does; where the rows go is
// the caller's business.
#ifndef NF_COLLECTOR_OUTPUT_AGGREGATE_AGGREGATOR_H_
#define NF_COLLECTOR_OUTPUT_AGGREGATE_AGGREGATOR_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "collector/decode/decoded_record.h"
#include "collector/output/format/columns.h"
#include "common/ip_address.h"
#include "common/large_allocator.h"

namespace nf {

enum class OrderBy : uint8_t { kBytes, kPackets, kFlows };

struct AggregateOptions {
  std::string keys;          // -A: comma list, e.g. "src_addr/24,protocol"
  int64_t bin_seconds = 0;   // -t: 0 = no time bins
  size_t top = 0;            // --top: 0 = all groups
  OrderBy order_by = OrderBy::kBytes;
  size_t max_groups = 1'000'000;
  // Index narrow keys directly (CsvColumnInfo::key_bits). false = always hash: the output is
  // the same (tests compare the two).
  bool direct_index = true;
};

// Groups records in memory and prints them sorted (per bin, by order_by descending).
//
// Groups live in one vector (keys up to 16 bytes inline, longer ones and the printed texts in
// arenas) and an open-addressing index of (hash, group number) slots finds them: a new group
// costs no allocation of its own, a lookup touches the index slot and the group, and growing
// the index moves 8-byte slots. High-cardinality keys (src_addr/24,dst_port: about one group
// per two records) stay fast, as low-cardinality ones.
class Aggregator {
 public:
  static absl::StatusOr<std::unique_ptr<Aggregator>> Create(const AggregateOptions& options);
  Aggregator(const Aggregator&) = delete;
  Aggregator& operator=(const Aggregator&) = delete;
  void Add(const DecodedRecord& r);
  void AppendHeader(std::string& out) const;
  // Appends all rows and clears the groups.
  void AppendRowsAndClear(std::string& out);
  size_t groups() const { return groups_.size(); }
  uint64_t overflow_records() const { return overflow_records_; }
  bool indexes_directly() const { return direct_bits_ > 0; }

 private:
  struct Key {
    const CsvColumnInfo* column;
    int prefix;  // -1 = no mask
    // With a mask: the record member the column prints (src_addr, dst_addr, ...).
    const IpAddress& (*address)(const DecodedRecord&);
  };
  struct Group {
    int64_t bin = 0;
    uint64_t flows = 0;
    uint64_t packets = 0;
    uint64_t bytes = 0;
    size_t key_offset = 0;   // in key_arena_
    size_t text_offset = 0;  // in text_arena_: the key columns as CSV text, each with a comma
    uint32_t hash = 0;  // of the key, low 32 bits (unused for direct groups)
    uint32_t key_length = 0;
    uint32_t text_length = 0;
    // Keys up to 16 bytes (most: a number is 8, an IPv4 address 5) are compared here, in the
    // line the counters share, without a second cache miss into key_arena_.
    char short_key[16] = {};
  };
  // One slot of the group index: linear probing over 8-byte slots (a probe reads one cache
  // line, and a slot's hash bits settle almost every mismatch without touching the group).
  struct IndexSlot {
    uint32_t group_plus1 = 0;  // 0: empty
    uint32_t hash = 0;         // low 32 bits of the key's hash
  };

  explicit Aggregator(const AggregateOptions& options) : options_(options) {}
  absl::string_view KeyOf(uint32_t g) const {
    const Group& group = groups_[g];
    return absl::string_view(group.key_length <= sizeof(group.short_key)
                                 ? group.short_key
                                 : key_arena_.data() + group.key_offset,
                             group.key_length);
  }
  absl::string_view TextOf(const Group& g) const {
    return absl::string_view(text_arena_.data() + g.text_offset, g.text_length);
  }
  // The group whose key is `key`, or nullptr.
  Group* FindGroup(absl::string_view key, uint32_t hash);
  void IndexGroup(uint32_t group);
  // Appends a group for `r` (its key bytes and its text, formatted once), or counts the record
  // and returns nullptr when max_groups are in use.
  Group* NewGroup(const DecodedRecord& r, int64_t bin, absl::string_view key, uint32_t hash);
  // Direct mode (CsvColumnInfo::key_bits): the group of a record whose key is `i` is
  // direct_[i] - 1 (0: none yet); direct_used_ lists the used slots, for clearing.
  bool AddDirect(const DecodedRecord& r);

  AggregateOptions options_;
  int direct_bits_ = 0;  // 0 = hashed only
  std::vector<uint32_t> direct_;
  std::vector<uint32_t> direct_used_;
  std::vector<Key> keys_;
  std::vector<char> key_bytes_;  // reused: no allocation per record for existing groups
  // The tables that grow with the groups live on huge pages once large (LargeAllocator).
  using Arena = std::basic_string<char, std::char_traits<char>, LargeAllocator<char>>;
  std::vector<Group, LargeAllocator<Group>> groups_;
  Arena key_arena_;   // binary group keys longer than Group::short_key
  Arena text_arena_;
  std::vector<IndexSlot, LargeAllocator<IndexSlot>> index_;  // a power of two, at most half full
  uint64_t overflow_records_ = 0;
};

}  // namespace nf

#endif  // NF_COLLECTOR_OUTPUT_AGGREGATE_AGGREGATOR_H_
