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

namespace {
constexpr size_t CountColumns(absl::string_view list) {
  size_t n = 1;
  for (char c : list) n += c == ',';
  return n;
}
// The one-call writer covers exactly the default list.
static_assert(CountColumns(kDefaultCsvColumns) == kDefaultCsvColumnCount,
              "WriteDefaultCsvColumns must write every column of kDefaultCsvColumns");
}  // namespace

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
  // The list starts with every default column, in order: WriteDefaultCsvColumns writes them.
  f.default_prefix_ = true;
  size_t i = 0;
  for (absl::string_view name : absl::StrSplit(kDefaultCsvColumns, ',')) {
    if (i >= f.columns_.size() || f.columns_[i]->name != name) f.default_prefix_ = false;
    ++i;
  }
  return f;
}

void CsvFormatter::AppendRow(const DecodedRecord& r, std::string& out) {
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
