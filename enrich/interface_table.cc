#include "enrich/interface_table.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace nf {

namespace {

constexpr size_t kMaxFields = 5;

// One CSV record: its fields and the line it starts on.
struct Record {
  std::vector<std::string> fields;
  std::vector<bool> quoted;
  size_t line = 0;
};

// Splits RFC 4180 records. A quoted field may hold commas, "" and line breaks; outside quotes,
// spaces around a field are dropped and CR before LF is ignored. Comment ('#' first) and blank
// lines give no record.
class CsvReader {
 public:
  CsvReader(absl::string_view name, absl::string_view text) : name_(name), text_(text) {}

  // False at the end of the text; errors go to `status`.
  bool Next(Record& record, absl::Status& status) {
    while (pos_ < text_.size()) {
      const size_t line_start = pos_;
      const size_t eol = text_.find('\n', pos_);
      const size_t end = eol == absl::string_view::npos ? text_.size() : eol;
      absl::string_view line = text_.substr(pos_, end - pos_);
      absl::string_view stripped = absl::StripAsciiWhitespace(line);
      if (stripped.empty() || stripped.front() == '#') {
        pos_ = eol == absl::string_view::npos ? text_.size() : eol + 1;
        ++line_;
        continue;
      }
      pos_ = line_start;
      return ParseRecord(record, status);
    }
    return false;
  }

 private:
  bool ParseRecord(Record& record, absl::Status& status) {
    record.fields.clear();
    record.quoted.clear();
    record.line = line_;
    std::string field;
    bool quoted = false;
    while (true) {
      field.clear();
      quoted = false;
      // Skip leading blanks.
      while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t')) ++pos_;
      if (pos_ < text_.size() && text_[pos_] == '"') {
        quoted = true;
        const size_t open_line = line_;
        ++pos_;
        while (true) {
          if (pos_ >= text_.size()) {
            status = absl::DataLossError(
                absl::StrCat(name_, ":", open_line, ": unterminated quoted field"));
            return false;
          }
          const char c = text_[pos_++];
          if (c == '"') {
            if (pos_ < text_.size() && text_[pos_] == '"') {
              field.push_back('"');
              ++pos_;
              continue;
            }
            break;
          }
          if (c == '\n') ++line_;
          field.push_back(c);
        }
        while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                       text_[pos_] == '\r')) {
          ++pos_;
        }
        if (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '\n') {
          status = absl::DataLossError(
              absl::StrCat(name_, ":", line_, ": text after a closing quote"));
          return false;
        }
      } else {
        const size_t start = pos_;
        while (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '\n') {
          if (text_[pos_] == '"') {
            status = absl::DataLossError(absl::StrCat(
                name_, ":", line_, ": a quote inside an unquoted field (quote the whole field)"));
            return false;
          }
          ++pos_;
        }
        field = std::string(absl::StripAsciiWhitespace(text_.substr(start, pos_ - start)));
      }
      record.fields.push_back(field);
      record.quoted.push_back(quoted);
      if (pos_ >= text_.size()) return true;
      if (text_[pos_] == '\n') {
        ++pos_;
        ++line_;
        return true;
      }
      ++pos_;  // ','
    }
  }

  absl::string_view name_;
  absl::string_view text_;
  size_t pos_ = 0;
  size_t line_ = 1;
};

}  // namespace

absl::StatusOr<InterfaceTable> InterfaceTable::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::ErrnoToStatus(errno, absl::StrCat(path, ": cannot open"));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) {
    return absl::DataLossError(absl::StrCat(path, ": read error: ", std::strerror(errno)));
  }
  return Parse(path, buffer.str());
}

absl::StatusOr<InterfaceTable> InterfaceTable::Parse(absl::string_view name,
                                                     absl::string_view text) {
  InterfaceTable table;
  absl::flat_hash_map<Key, size_t> lines;  // where each key was given, for the duplicate error
  CsvReader reader(name, text);
  Record record;
  absl::Status status;
  bool first = true;
  while (reader.Next(record, status)) {
    const auto where = [&] { return absl::StrCat(name, ":", record.line, ": "); };
    const std::vector<std::string>& f = record.fields;
    // A spreadsheet export starts with column names; take them as a header, on line one only.
    if (first && f.size() >= 2 && !record.quoted[0] &&
        absl::EqualsIgnoreCase(f[0], "exporter") && absl::EqualsIgnoreCase(f[1], "ifindex")) {
      first = false;
      continue;
    }
    first = false;
    if (f.size() > kMaxFields) {
      return absl::DataLossError(absl::StrCat(
          where(), f.size(), " fields; expected exporter,ifindex,name[,description[,speed]]"));
    }
    if (f.size() < 3 || f[2].empty()) {
      return absl::DataLossError(
          absl::StrCat(where(), "missing interface name; expected "
                                "exporter,ifindex,name[,description[,speed]]"));
    }
    absl::StatusOr<IpAddress> exporter = ParseIpAddress(f[0]);
    if (!exporter.ok()) {
      return absl::DataLossError(
          absl::StrCat(where(), "exporter '", f[0], "' is not an IPv4 or IPv6 address"));
    }
    uint32_t ifindex = 0;
    if (f[1].empty() || !absl::SimpleAtoi(f[1], &ifindex) || f[1][0] == '-' || f[1][0] == '+') {
      return absl::DataLossError(
          absl::StrCat(where(), "ifindex '", f[1], "' is not a number from 0 to 4294967295"));
    }
    if (f[2].size() > kMaxNameBytes) {
      return absl::DataLossError(absl::StrCat(where(), "interface name is ", f[2].size(),
                                                     " bytes long; the limit is ", kMaxNameBytes));
    }
    InterfaceInfo info;
    info.name = f[2];
    if (f.size() > 3) info.description = f[3];
    if (f.size() > 4 && !f[4].empty()) {
      if (!absl::SimpleAtoi(f[4], &info.speed) || f[4][0] == '-' || f[4][0] == '+') {
        return absl::DataLossError(
            absl::StrCat(where(), "speed '", f[4], "' is not a number of bits per second"));
      }
    }
    Key key{exporter->Unmapped(), ifindex};
    auto [it, inserted] = lines.emplace(key, record.line);
    if (!inserted) {
      return absl::DataLossError(absl::StrCat(where(), "exporter ",
                                                     key.exporter.ToString(), " ifindex ", ifindex,
                                                     " was already given on line ", it->second));
    }
    table.entries_.emplace(key, std::move(info));
  }
  if (!status.ok()) return status;
  return table;
}

const InterfaceInfo* InterfaceTable::Find(const IpAddress& exporter, uint32_t ifindex) const {
  if (entries_.empty()) return nullptr;
  auto it = entries_.find(Key{exporter.Unmapped(), ifindex});
  return it == entries_.end() ? nullptr : &it->second;
}

}  // namespace nf
