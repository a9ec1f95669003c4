// The ClickHouse sink's bounded on-disk spool: batches that could not be inserted (ClickHouse
// down, refusing the batch, or the answer lost) wait here, oldest first, until a retry
// succeeds, also across collector restarts.
//
// Each batch is one file "<dir>/b-<16 digit sequence>-<batch id hex>.nfch", written under a
// temporary name, fsynced and renamed, so a crash never leaves a half batch that would be
// replayed. The header records the batch id, row count, receive-time range and the row layout
// version. Every spooled batch is treated as possibly sent: the sender checks ClickHouse for its
// batch id before re-sending it (a lost answer looks exactly like a refused insert). The
// directory's total
// size is bounded: a batch that would exceed the bound is refused (the caller counts its
// records as dropped), never written.
//
// Without a directory the spool keeps batches in memory under the same byte bound (they are
// then lost if the process dies; docs/clickhouse.md says to configure --spool-dir).
#ifndef NF_COLLECTOR_OUTPUT_CLICKHOUSE_SPOOL_H_
#define NF_COLLECTOR_OUTPUT_CLICKHOUSE_SPOOL_H_

#include <cstdint>
#include <deque>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace nf::clickhouse {

// One insert: RowBinary rows of the layout kLayoutVersion, all in one receive-time partition.
struct Batch {
  uint64_t id = 0;
  uint32_t rows = 0;
  uint32_t min_time = 0;  // receive_time range (seconds), narrows the re-send check
  uint32_t max_time = 0;
  // True once a request carrying it may have reached ClickHouse: a re-send must first check
  // whether the batch is already in the table.
  bool maybe_sent = false;
  std::string data;
};

class Spool {
 public:
  // `dir` empty = memory only. Creates the directory; loads the batches already there (a
  // restart), removes stale temporary files. Files of another layout version are renamed
  // "*.bad" and reported in `skipped_files()`.
  static absl::StatusOr<Spool> Open(const std::string& dir, uint64_t max_bytes);

  // Stores a batch. ResourceExhausted when it would exceed the bound (nothing written).
  absl::Status Put(const Batch& batch);
  bool empty() const { return entries_.empty(); }
  size_t batches() const { return entries_.size(); }
  uint64_t bytes() const { return bytes_; }
  uint64_t rows() const { return rows_; }
  uint64_t max_bytes() const { return max_bytes_; }
  size_t skipped_files() const { return skipped_files_; }

  // Reads the oldest batch (its data loaded from disk).
  absl::StatusOr<Batch> ReadOldest() const;
  // Removes the oldest batch (after it was inserted or found present).
  absl::Status PopOldest();

 private:
  struct Entry {
    std::string path;  // empty in memory mode
    uint64_t size = 0;
    uint32_t rows = 0;
    Batch batch;  // memory mode: the whole batch; disk mode: header fields only
  };
  absl::Status WriteFile(const std::string& path, const Batch& batch) const;

  std::string dir_;
  uint64_t max_bytes_ = 0;
  uint64_t bytes_ = 0;
  uint64_t rows_ = 0;
  uint64_t next_seq_ = 0;
  size_t skipped_files_ = 0;
  std::deque<Entry> entries_;
};

}  // namespace nf::clickhouse

#endif  // NF_COLLECTOR_OUTPUT_CLICKHOUSE_SPOOL_H_
