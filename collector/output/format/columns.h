// The registry of output columns: every field of a DecodedRecord that `--columns` can print
// and `-A` can group on, each with its text writer and its binary group key. CSV rows
// (csv_format.h) and the aggregator both work from this one table, so a column prints the
// same text whether it is a raw column or an aggregation key.
#ifndef NF_COLLECTOR_OUTPUT_FORMAT_COLUMNS_H_
#define NF_COLLECTOR_OUTPUT_FORMAT_COLUMNS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "absl/strings/string_view.h"
#include "collector/decode/decoded_record.h"
#include "collector/output/format/text.h"
#include "common/ip_address.h"

namespace nf {

struct CsvColumnInfo {
  absl::string_view name;
  absl::string_view description;
  // Address columns: the address (-A masks it with /N). Null for every other column.
  const IpAddress& (*address)(const DecodedRecord&);
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

  bool is_address() const { return address != nullptr; }
};
inline constexpr int kMaxDirectKeyBits = 16;
// Longest text value a column holds (interface names, InterfaceTable::kMaxNameBytes); longer
// ones are cut here so a column's text and key stay bounded whatever the source gave.
inline constexpr size_t kMaxTextColumnBytes = 64;
// Longest group key of one column (a text: a byte count and kMaxTextColumnBytes bytes; an
// address: a byte count and 16 bytes).
inline constexpr size_t kMaxGroupKeyBytes = 1 + kMaxTextColumnBytes;

void AppendColumn(const CsvColumnInfo& column, const DecodedRecord& r, std::string& out);
// Every column `--columns` and `-A` accept.
std::span<const CsvColumnInfo> AllCsvColumns();
const CsvColumnInfo* FindCsvColumn(absl::string_view name);
// The columns of kDefaultCsvColumns (csv_format.h), comma-separated, without the row's newline:
// the same text as their writers one by one, in one call.
inline constexpr size_t kDefaultCsvColumnCount = 18;

// The text of a row's first three default columns, "exporter,source_id,template_id,", kept
// from the last row: every record of a data set shares them, so the set's next rows copy 64
// bytes instead of formatting an address and two numbers (8% of decoding and formatting a
// row). One per writer; not thread-safe.
class CsvIdentityText {
 public:
  // Writes the text at `out`, which must have kBytes free, and returns its end.
  char* Write(const DecodedRecord& r, char* out) {
    if (len_ == 0 || r.template_id != template_id_ || r.source_id != source_id_ ||
        !(r.exporter.address == exporter_)) {
      Update(r);
    }
    std::memcpy(out, text_, kBytes);  // one fixed-size copy; only len_ bytes count
    return out + len_;
  }
  // An IPv6 address (45) and two numbers (10 and 5) with their commas fit.
  static constexpr size_t kBytes = 64;

 private:
  void Update(const DecodedRecord& r);
  IpAddress exporter_;
  uint32_t source_id_ = 0;
  uint16_t template_id_ = 0;
  uint8_t len_ = 0;  // 0: nothing kept yet
  char text_[kBytes] = {};
};

// `out` must have kDefaultCsvColumnCount * (kMaxCsvColumnChars + 1) bytes free.
char* WriteDefaultCsvColumns(const DecodedRecord& r, CsvIdentityText& identity, char* out);

// Group keys (CsvColumnInfo::key): a number as its 8 bytes; a text as its length and bytes; an
// address as the count of bytes
// WriteAddress prints (4, 16 or 0) and then those bytes, so bytes an address does not use
// never split a group, and the count keeps a list of keys unambiguous. Public so that -A can
// key a masked address the same way; inline because -A runs them for every record.
inline char* WriteNumberKey(uint64_t v, char* out) {
  std::memcpy(out, &v, sizeof(v));
  return out + sizeof(v);
}
inline char* WriteAddressKey(const IpAddress& a, char* out) {
  const size_t n = a.version == 4 ? 4 : a.version == 6 ? 16 : 0;
  *out++ = static_cast<char>(n);
  std::memcpy(out, a.bytes.data(), n);
  return out + n;
}
// A text (interface name): its byte count (cut at kMaxTextColumnBytes) and its bytes.
inline char* WriteTextKey(absl::string_view text, char* out) {
  const size_t n = text.size() < kMaxTextColumnBytes ? text.size() : kMaxTextColumnBytes;
  *out++ = static_cast<char>(n);
  if (n != 0) std::memcpy(out, text.data(), n);
  return out + n;
}
// A country code as a number below 2^16 (so -A on countries can index an array directly).
inline uint64_t CountryKey(const std::array<char, 2>& c) {
  return static_cast<uint64_t>(static_cast<uint8_t>(c[0])) |
         static_cast<uint64_t>(static_cast<uint8_t>(c[1])) << 8;
}

}  // namespace nf

#endif  // NF_COLLECTOR_OUTPUT_FORMAT_COLUMNS_H_
