#include "collector/output/csv/csv_sink.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/time_format.h"

namespace nf {

namespace {
constexpr size_t kFlushBytes = 1 << 20;
}  // namespace

absl::StatusOr<std::unique_ptr<CsvSink>> CsvSink::Create(const CsvSinkOptions& options) {
  std::unique_ptr<CsvSink> s(new CsvSink(options));
  if (!options.aggregate.keys.empty()) {
    auto agg = Aggregator::Create(options.aggregate);
    if (!agg.ok()) return agg.status();
    s->aggregator_ = std::move(*agg);
  } else {
    auto f = CsvFormatter::Create(options.columns);
    if (!f.ok()) return f.status();
    s->formatter_ = std::make_unique<CsvFormatter>(std::move(*f));
  }
  if (!options.directory.empty()) {
    if (options.rotate_seconds <= 0) return absl::InvalidArgumentError("--rotate must be > 0");
    if (::access(options.directory.c_str(), W_OK) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("output directory ", options.directory, ": ", std::strerror(errno)));
    }
  } else {
    // A single output is opened now so a bad path fails at start-up, not at the first record.
    absl::Status st = s->file_.Open(options.output);
    if (!st.ok()) return st;
    s->header_written_ = false;
  }
  if (s->formatter_) {
    s->rows_cap_ = kFlushBytes + s->formatter_->max_row_length();
    // new char[n], not make_unique: not zeroed, as rows are written before they are read, and
    // an idle collector keeps the buffer's pages untouched.
    s->rows_buffer_.reset(new char[s->rows_cap_]);
  }
  return s;
}

CsvSink::~CsvSink() {
  if (!closed_) file_.Abort();
}

absl::Status CsvSink::OpenFor(TimeUs t) {
  const int64_t width = options_.rotate_seconds * 1'000'000;
  interval_start_us_ = (t >= 0 ? t / width : (t - width + 1) / width) * width;
  std::string name = "flows-";
  std::string iso;
  AppendIso8601Ms(interval_start_us_ / 1000, iso);
  // 2024-01-31T12:00:00.000Z -> 20240131T120000Z (no ':' in file names)
  for (char c : iso.substr(0, 19)) {
    if (c != '-' && c != ':') name.push_back(c);
  }
  header_written_ = false;
  file_failed_ = false;
  rows_in_file_ = 0;
  // A restart within the same interval must not replace the file the previous run wrote:
  // flows-...Z.csv, then flows-...Z-1.csv, -2, ...
  std::string path = absl::StrCat(options_.directory, "/", name, "Z.csv");
  struct stat st;
  for (int n = 1; n < 10000 && ::stat(path.c_str(), &st) == 0; ++n) {
    path = absl::StrCat(options_.directory, "/", name, "Z-", n, ".csv");
  }
  return file_.Open(path);
}

void CsvSink::FailFile(const absl::Status& st) {
  file_.Abort();
  buffer_.clear();
  rows_len_ = 0;
  rows_lost_ += rows_in_file_;
  rows_in_file_ = 0;
  ++files_failed_;
  file_failed_ = true;
  if (status_.ok()) status_ = st;
  if (options_.on_error) options_.on_error(st);
}

absl::Status CsvSink::FinishFile() {
  if (file_failed_ || !file_.is_open()) return absl::OkStatus();
  if (!header_written_) {
    if (aggregator_) {
      aggregator_->AppendHeader(buffer_);
    } else {
      formatter_->AppendHeader(buffer_);
    }
    header_written_ = true;
  }
  if (aggregator_) {
    const size_t before = std::count(buffer_.begin(), buffer_.end(), '\n');
    aggregator_->AppendRowsAndClear(buffer_);
    const size_t n = std::count(buffer_.begin(), buffer_.end(), '\n') - before;
    rows_ += n;
    rows_in_file_ += n;
  }
  absl::Status st = file_.Write(buffer_);
  if (st.ok()) st = file_.Write(absl::string_view(rows_buffer_.get(), rows_len_));
  buffer_.clear();
  rows_len_ = 0;
  if (st.ok()) st = file_.Commit();
  if (!st.ok()) {
    FailFile(st);
    return st;
  }
  rows_in_file_ = 0;
  ++files_;
  return absl::OkStatus();
}

void CsvSink::FlushIfLarge() {
  if (rows_len_ < kFlushBytes) return;
  (void)WriteBuffered();
}

bool CsvSink::WriteBuffered() {
  if (file_failed_ || closed_) return !file_failed_;
  if (buffer_.empty() && rows_len_ == 0) return true;
  // The header (if any) is in buffer_ and precedes the rows.
  absl::Status st = file_.Write(buffer_);
  if (st.ok()) st = file_.Write(absl::string_view(rows_buffer_.get(), rows_len_));
  buffer_.clear();
  rows_len_ = 0;
  if (!st.ok()) FailFile(st);
  return st.ok();
}

void CsvSink::OnRecord(const DecodedRecord& r) {
  if (closed_) return;
  if (!options_.directory.empty()) {
    const int64_t width = options_.rotate_seconds * 1'000'000;
    if (!file_.is_open() || r.receive_time_us >= interval_start_us_ + width) {
      if (file_.is_open()) (void)FinishFile();  // a failure is counted by FailFile
      absl::Status st = OpenFor(r.receive_time_us);
      if (!st.ok()) FailFile(st);
    }
  }
  if (file_failed_) {
    ++rows_lost_;  // the output of this interval (-w) or run (-o) is gone: count, do not store
    return;
  }
  if (!header_written_) {
    if (aggregator_) {
      // The aggregated header is written when the rows are (at the end of the file).
    } else {
      formatter_->AppendHeader(buffer_);
      header_written_ = true;
    }
  }
  if (aggregator_) {
    aggregator_->Add(r);
    return;
  }
  rows_len_ = static_cast<size_t>(formatter_->WriteRow(r, rows_buffer_.get() + rows_len_) -
                                  rows_buffer_.get());
  ++rows_;
  ++rows_in_file_;
  FlushIfLarge();
}

absl::Status CsvSink::Tick(TimeUs now) {
  if (closed_ || options_.directory.empty() || !file_.is_open()) return absl::OkStatus();
  if (now >= interval_start_us_ + options_.rotate_seconds * 1'000'000) {
    return FinishFile();  // a failure is counted and kept in status_ by FailFile
  }
  return absl::OkStatus();
}

absl::Status CsvSink::Close() {
  if (closed_) return status_;
  closed_ = true;
  if (options_.directory.empty() || file_.is_open()) (void)FinishFile();
  return status_;
}

}  // namespace nf
