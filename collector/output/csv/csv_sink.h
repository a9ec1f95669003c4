// The collector's CSV file output: raw rows (format/csv_format.h) or -A aggregates
// (aggregate/aggregator.h), to stdout, one file, or one file per rotation interval. Every file
// is written under a temporary name and renamed when complete (common/atomic_file.h), so
// readers never see half a file. Raw rows are formatted straight into one large buffer that
// is written when full, which keeps the sink at millions of rows per second.
#ifndef NF_COLLECTOR_OUTPUT_CSV_CSV_SINK_H_
#define NF_COLLECTOR_OUTPUT_CSV_CSV_SINK_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "collector/decode/decoded_record.h"
#include "collector/output/aggregate/aggregator.h"
#include "collector/output/format/csv_format.h"
#include "common/atomic_file.h"

namespace nf {

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
  // Writes the buffered raw rows to the current file now (they reach the kernel, not the
  // disk: the file is still committed at rotation or Close). False after a write error.
  bool WriteBuffered();
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

#endif  // NF_COLLECTOR_OUTPUT_CSV_CSV_SINK_H_
