// CSV text of raw records: the stable default column list, RFC 4180 field quoting and
// CsvFormatter, which prints a header and one row per record for a chosen list of columns
// (columns.h). It only formats; where the text goes is the caller's business (csv/csv_sink.h).
#ifndef NF_COLLECTOR_OUTPUT_FORMAT_CSV_FORMAT_H_
#define NF_COLLECTOR_OUTPUT_FORMAT_CSV_FORMAT_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "collector/decode/decoded_record.h"
#include "collector/output/format/columns.h"

namespace nf {

// The default raw-record columns, in order (docs/csv.md: only ever extended at the end).
inline constexpr absl::string_view kDefaultCsvColumns =
    "exporter,source_id,template_id,first,last,ip_version,protocol,src_addr,dst_addr,src_port,"
    "dst_port,tos,tcp_flags,input_if,output_if,packets,bytes,sampling";

// Appends `field` as one RFC 4180 field: quoted (with doubled quotes) when it holds a comma,
// quote, CR or LF.
void AppendCsvField(absl::string_view field, std::string& out);

// Formats raw rows for a chosen column list.
class CsvFormatter {
 public:
  // `columns` is a comma list of column names (empty = kDefaultCsvColumns).
  static absl::StatusOr<CsvFormatter> Create(absl::string_view columns);
  void AppendHeader(std::string& out) const;
  // Writes one row (with its newline) at `out`, which must have max_row_length() bytes free.
  // Not const: the formatter keeps the last row's identity text (CsvIdentityText).
  char* WriteRow(const DecodedRecord& r, char* out) {
    size_t i = 0;
    if (default_prefix_) {
      out = WriteDefaultCsvColumns(r, identity_, out);
      i = kDefaultCsvColumnCount;
    }
    for (; i < columns_.size(); ++i) {
      if (i != 0) *out++ = ',';
      out = columns_[i]->write(r, out);
    }
    *out++ = '\n';
    return out;
  }
  size_t max_row_length() const { return columns_.size() * (kMaxCsvColumnChars + 1) + 1; }
  void AppendRow(const DecodedRecord& r, std::string& out);

 private:
  std::vector<const CsvColumnInfo*> columns_;
  // The list starts with the default columns: WriteDefaultCsvColumns writes them.
  bool default_prefix_ = false;
  CsvIdentityText identity_;
};

}  // namespace nf

#endif  // NF_COLLECTOR_OUTPUT_FORMAT_CSV_FORMAT_H_
