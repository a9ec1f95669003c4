// CSV output of the collector: raw records or aggregates, to stdout, one file, or one file per
// rotation interval. Every file is written under a temporary name and renamed when complete,
// so readers never see half a file.
//
// The raw-record header starts with the stable column set documented in docs/csv.md
// (`exporter,...,packets,bytes,sampling`); `--columns` picks any registered columns by name.
// Rows are appended into one large buffer with hand-rolled number/address/time formatting (no
// iostreams), which keeps the writer at millions of rows per second.
//
// Aggregation (-A) groups on a list of columns (addresses may carry a prefix mask, e.g.
// `src_addr/24`), optionally per time bin (`bin_start`, from each record's first time), keeps
// the top N per bin, and prints keys then `flows,packets,bytes`. The number of groups is
// bounded; records that would create a group past the bound are counted, not stored.
#ifndef NF_COLLECTOR_OUTPUT_CSV_CSV_WRITER_H_
#define NF_COLLECTOR_OUTPUT_CSV_CSV_WRITER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "collector/decode/decoded_record.h"
#include "common/atomic_file.h"

namespace nf {

// The default raw-record columns, in order.
inline constexpr absl::string_view kDefaultCsvColumns =
    "exporter,source_id,template_id,first,last,ip_version,protocol,src_addr,dst_addr,src_port,"
    "dst_port,tos,tcp_flags,input_if,output_if,packets,bytes,sampling";

struct CsvColumnInfo {
  absl::string_view name;
  absl::string_view description;
  bool is_address;  // accepts a /N prefix mask in -A
  bool is_counter;  // packets/bytes-like: cannot be an aggregation key
  // Writes the field at `out` (at most kMaxCsvColumnChars bytes) and returns its end.
  char* (*write)(const DecodedRecord&, char* out);
  // -A's group key: at most kMaxGroupKeyBytes that two records share exactly when `write`
  // prints the same text for both, so grouping needs no text formatting per record. Null for
  // counters, which cannot be keys.
  char* (*key)(const DecodedRecord&, char* out);
  // Non-zero for numbers that always fit in this many bits (protocol, ports, ToS, VLAN...): -A
  // on such columns alone (at most kMaxDirectKeyBits in all, no time bins) indexes an array by
  // the key instead of hashing it.
  uint8_t key_bits = 0;
};
inline constexpr int kMaxDirectKeyBits = 16;
// Longest text one column can produce (an IPv6 address is 45 characters).
inline constexpr size_t kMaxCsvColumnChars = 64;
// Longest group key of one column (an address: a byte count and 16 bytes).
inline constexpr size_t kMaxGroupKeyBytes = 17;
void AppendColumn(const CsvColumnInfo& column, const DecodedRecord& r, std::string& out);
// Every column `--columns` and `-A` accept.
std::span<const CsvColumnInfo> AllCsvColumns();
const CsvColumnInfo* FindCsvColumn(absl::string_view name);

// Appends `field` as one RFC 4180 field: quoted (with doubled quotes) when it holds a comma,
// quote, CR or LF.
void AppendCsvField(absl::string_view field, std::string& out);
// Fast decimal / address formatting used by the writer (exposed for tests and benchmarks).
void AppendUnsigned(uint64_t v, std::string& out);
void AppendAddress(const IpAddress& a, std::string& out);
char* WriteUnsigned(uint64_t v, char* out);
char* WriteAddress(const IpAddress& a, char* out);
// "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 characters), same text as AppendIso8601Ms.
char* WriteIso8601Ms(int64_t unix_ms, char* out);


// Formats raw rows for a chosen column list.
class CsvFormatter {
 public:
  // `columns` is a comma list of column names (empty = kDefaultCsvColumns).
  static absl::StatusOr<CsvFormatter> Create(absl::string_view columns);
  void AppendHeader(std::string& out) const;
  // Writes one row (with its newline) at `out`, which must have max_row_length() bytes free.
  char* WriteRow(const DecodedRecord& r, char* out) const {
    for (size_t i = 0; i < columns_.size(); ++i) {
      if (i != 0) *out++ = ',';
      out = columns_[i]->write(r, out);
    }
    *out++ = '\n';
    return out;
  }
  size_t max_row_length() const { return columns_.size() * (kMaxCsvColumnChars + 1) + 1; }
  void AppendRow(const DecodedRecord& r, std::string& out) const;

 private:
  std::vector<const CsvColumnInfo*> columns_;
};

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
  std::vector<Group> groups_;
  std::string key_arena_;   // binary group keys longer than Group::short_key
  std::string text_arena_;
  std::vector<IndexSlot> index_;  // a power of two, at most half full; empty until needed
  uint64_t overflow_records_ = 0;
};

struct CsvSinkOptions {
  std::string output = "-";   // -o
  std::string directory;      // -w (enables rotation)
  int64_t rotate_seconds = 300;
  std::string columns;        // --columns
  AggregateOptions aggregate; // enabled when aggregate.keys is not empty
  // Called at each write failure (disk full, EFBIG, EACCES...), so a daemon can say so at once.
  std::function<void(const absl::Status&)> on_error;
};

// The collector's output sink: raw rows or aggregates, single output or rotated files.
class CsvSink final : public RecordSink {
 public:
  static absl::StatusOr<std::unique_ptr<CsvSink>> Create(const CsvSinkOptions& options);
  ~CsvSink() override;

  void OnRecord(const DecodedRecord& r) override;
  // Closes the current rotation file if `now` is past its interval.
  absl::Status Tick(TimeUs now);
  // Writes everything still buffered / aggregated and commits the output file(s).
  absl::Status Close();
  // The first write error. A file that fails is removed (never committed with rows missing);
  // its rows and the records of the rest of its interval (-w) or of the run (-o) are counted in
  // rows_lost(); with -w the next rotation interval starts a new file.
  const absl::Status& status() const { return status_; }
  uint64_t files_failed() const { return files_failed_; }
  uint64_t rows_lost() const { return rows_lost_; }

  uint64_t rows_written() const { return rows_; }
  uint64_t files_written() const { return files_; }
  uint64_t aggregate_overflow() const { return aggregator_ ? aggregator_->overflow_records() : 0; }
  uint64_t aggregate_groups() const { return aggregator_ ? aggregator_->groups() : 0; }

 private:
  explicit CsvSink(const CsvSinkOptions& options) : options_(options) {}
  absl::Status OpenFor(TimeUs t);
  absl::Status FinishFile();
  void FlushIfLarge();
  // Removes the current file after a write error and counts what it held.
  void FailFile(const absl::Status& st);

  CsvSinkOptions options_;
  std::unique_ptr<CsvFormatter> formatter_;
  std::unique_ptr<Aggregator> aggregator_;
  AtomicFile file_;
  std::string buffer_;  // headers and aggregate rows
  // Raw rows are formatted straight into this fixed buffer and written when it is full.
  std::unique_ptr<char[]> rows_buffer_;
  size_t rows_len_ = 0;
  size_t rows_cap_ = 0;
  bool header_written_ = false;
  bool file_failed_ = false;    // the current file hit a write error and was removed
  uint64_t rows_in_file_ = 0;   // rows formatted into the current file, not yet committed
  uint64_t rows_lost_ = 0;
  uint64_t files_failed_ = 0;
  int64_t interval_start_us_ = 0;
  bool closed_ = false;
  absl::Status status_;
  uint64_t rows_ = 0;
  uint64_t files_ = 0;
};

}  // namespace nf

#endif  // NF_COLLECTOR_OUTPUT_CSV_CSV_WRITER_H_
