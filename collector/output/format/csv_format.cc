#include "collector/output/format/csv_format.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace nf {

void AppendCsvField(absl::string_view field, std::string& out) {
  if (field.find_first_of(",\"\r\n") == absl::string_view::npos) {
    out.append(field.data(), field.size());
    return;
  }
  out.push_back('"');
  for (char c : field) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

absl::StatusOr<CsvFormatter> CsvFormatter::Create(absl::string_view columns) {
  if (columns.empty()) columns = kDefaultCsvColumns;
  CsvFormatter f;
  for (absl::string_view name : absl::StrSplit(columns, ',')) {
    name = absl::StripAsciiWhitespace(name);
    const CsvColumnInfo* c = FindCsvColumn(name);
    if (c == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown column '", name, "' (see --list-columns)"));
    }
    f.columns_.push_back(c);
    if (f.columns_.size() > 1024) return absl::InvalidArgumentError("too many columns");
  }
  f.default_prefix_ = f.columns_.size() >= kDefaultCsvColumnCount;
  size_t i = 0;
  for (absl::string_view name : absl::StrSplit(kDefaultCsvColumns, ',')) {
    if (i >= f.columns_.size() || f.columns_[i]->name != name) f.default_prefix_ = false;
    ++i;
  }
  // The fast writer covers exactly the default list; a list of another length would be a
  // mismatch between the two, caught here rather than by printing wrong rows.
  if (i != kDefaultCsvColumnCount) f.default_prefix_ = false;
  return f;
}

void CsvFormatter::AppendRow(const DecodedRecord& r, std::string& out) const {
  std::string row(max_row_length(), '\0');
  out.append(row.data(), WriteRow(r, row.data()));
}

void CsvFormatter::AppendHeader(std::string& out) const {
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (i != 0) out.push_back(',');
    AppendCsvField(columns_[i]->name, out);
  }
  out.push_back('\n');
}

}  // namespace nf
