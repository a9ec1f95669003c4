// nf::clickhouse — the collector's ClickHouse sink: raw DecodedRecords inserted over
// ClickHouse's HTTP interface (`INSERT INTO t (cols) FORMAT RowBinary`), in batches cut by row
// count and by age, with a bounded on-disk spool, retries with exponential back-off, replay
// of the spool after a restart, and records inserted exactly once.
//
// Threads: a `ClickHouseBatcher` lives on each decode thread (it is the RecordSink); it appends
// rows to a private buffer (no lock, no I/O, no allocation per record) and hands complete
// batches to the shared `ClickHouseWriter`, whose single sender thread does all network and
// disk I/O. Decoding never waits for ClickHouse: a batch the sender cannot take (in-memory
// queue full) or the spool cannot hold (bound reached) is dropped and counted.
//
// Transport: HTTP or HTTPS (nf::http, certificate and name always verified), one connection
// kept alive between batches. Credentials travel in the X-ClickHouse-User/X-ClickHouse-Key
// headers, never in the URL, so they stay out of the server's and proxies' request logs.
//
// Exactly once (ClickHouse 18.16 deduplicates blocks only for Replicated* tables, so it is not
// relied on): every batch carries a random 64-bit `batch_id` column. A batch is sent once;
// when that fails in a way that may have left it in the table (the request was sent but no
// answer came back), or when it comes out of the spool, the sender first asks
// `SELECT count() FROM t WHERE receive_time BETWEEN .. AND batch_id = X` and re-sends only
// when the answer is 0. This is correct because each batch is inserted atomically: batches
// never span a day (the partition key is toYYYYMMDD(receive_time)) and are smaller than
// max_insert_block_size, so an INSERT creates exactly one part, which appears all at once or
// not at all. With a Distributed table, insert synchronously (`insert_distributed_sync=1` in the
// URL) with `batch_id` as the sharding key, so a batch lands whole on one shard.
#ifndef NF_COLLECTOR_OUTPUT_CLICKHOUSE_CLICKHOUSE_SINK_H_
#define NF_COLLECTOR_OUTPUT_CLICKHOUSE_CLICKHOUSE_SINK_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "collector/output/clickhouse/spool.h"
#include "collector/decode/decoded_record.h"
#include "common/time_format.h"
#include "http/client.h"
#include "http/url.h"

namespace nf::clickhouse {

struct ClickHouseOptions {
  // http[s]://HOST[:PORT]/?database=DB[&insert_distributed_sync=1]; ports default to 8123
  // (http) and 8443 (https). `user`/`password` parameters in it still work (moved to headers).
  std::string url;
  std::string user;      // empty: the URL's `user`, else none (ClickHouse's "default")
  std::string password;  // never logged
  std::string ca_file;   // https: trust this CA bundle instead of the system's
  std::string table = "flows";  // [db.]name
  size_t batch_rows = 50'000;   // cut a batch at this many rows (at most kMaxBatchRows)
  int64_t batch_age_us = 5'000'000;  // ... or when its first row is this old (Tick)
  std::string spool_dir;        // empty: failed batches wait in memory (lost on exit)
  uint64_t spool_max_bytes = uint64_t{1} << 30;
  size_t max_queued_batches = 16;  // handed over, not yet taken by the sender
  int64_t retry_initial_us = 250'000;
  int64_t retry_max_us = 30'000'000;
  http::ClientOptions http;  // its ca_file is set from ca_file
};
// One INSERT must stay below ClickHouse's max_insert_block_size (1,048,576) to be one block.
inline constexpr size_t kMaxBatchRows = 1'000'000;

// Counters, readable from any thread (relaxed atomics) — e.g. by the metrics endpoint.
struct ClickHouseCounters {
  std::atomic<uint64_t> records_queued{0};     // handed to the writer in batches
  std::atomic<uint64_t> records_inserted{0};   // acknowledged by ClickHouse
  std::atomic<uint64_t> batches_inserted{0};
  std::atomic<uint64_t> insert_failures{0};    // INSERT attempts that failed (any reason)
  std::atomic<uint64_t> retries{0};            // re-send attempts of spooled batches
  std::atomic<uint64_t> batches_found_present{0};  // re-send check: already in the table
  std::atomic<uint64_t> batches_partial{0};    // re-send check found a partial batch (see docs)
  std::atomic<uint64_t> records_dropped_spool_full{0};
  std::atomic<uint64_t> records_dropped_queue_full{0};
  std::atomic<uint64_t> records_dropped_other{0};  // spool write error, unreadable spool file
  std::atomic<uint64_t> batches_spooled{0};
  std::atomic<uint64_t> spool_bytes{0};        // gauge
  std::atomic<uint64_t> spool_batches{0};      // gauge
  std::atomic<uint64_t> spool_records{0};      // gauge
  std::atomic<uint64_t> up{0};                 // gauge: 1 after a success, 0 after a failure
};

class ClickHouseWriter {
 public:
  // Validates the options, opens (and loads) the spool and starts the sender thread. Does not
  // contact ClickHouse: the collector starts even when ClickHouse is down.
  static absl::StatusOr<std::unique_ptr<ClickHouseWriter>> Create(const ClickHouseOptions& options);
  ~ClickHouseWriter();  // = Close(0)
  ClickHouseWriter(const ClickHouseWriter&) = delete;
  ClickHouseWriter& operator=(const ClickHouseWriter&) = delete;

  // Hands over a complete batch (thread-safe, never blocks on I/O). False when the queue is
  // full: the batch's records are then counted as dropped.
  bool Submit(Batch&& batch);
  // A fresh batch id (thread-safe).
  uint64_t NextBatchId();

  // Stops accepting batches and sends what is queued, retrying until `deadline_us` of waiting
  // has passed; whatever is left then stays in the spool (on disk: replayed by the next start;
  // in memory: counted as dropped). Idempotent.
  void Close(int64_t deadline_us);

  // Blocks until the queue and the spool are empty or `timeout_us` passes; true when empty.
  // (For tests and benchmarks; the collector never waits.)
  bool WaitIdle(int64_t timeout_us);

  const ClickHouseCounters& counters() const { return counters_; }
  const ClickHouseOptions& options() const { return options_; }
  // The last error text (empty when the last attempt succeeded). Thread-safe copy.
  std::string last_error() const;
  // True when the password came from the URL (the command line), which the caller warns about.
  bool password_in_url() const { return password_in_url_; }
  // The URL without secrets, for logs.
  std::string redacted_url() const { return url_.Redacted(); }
  size_t spool_skipped_files() const { return spool_skipped_files_; }

 private:
  ClickHouseWriter(const ClickHouseOptions& options, http::Url url,
                   std::unique_ptr<http::Client> client, http::Headers auth, Spool spool);
  // POSTs one statement (`sql` in the query string, `body` as the data).
  http::Result Request(absl::string_view sql, absl::string_view body);
  void Run();
  // One step of work; returns false when nothing could be done (wait for back-off or input).
  bool Step(std::unique_lock<std::mutex>& lock);
  // INSERT; OK on success. Sets *may_have_arrived.
  absl::Status Insert(const Batch& batch, bool* may_have_arrived);
  // How many rows of `batch` are already in the table.
  absl::StatusOr<uint64_t> CountPresent(const Batch& batch);
  void SpoolOrDrop(Batch&& batch);
  void Failed(const absl::Status& s);
  void Succeeded();
  void PublishSpool();

  ClickHouseOptions options_;
  http::Url url_;  // without credentials
  std::unique_ptr<http::Client> client_;  // sender thread only
  http::Headers auth_;
  bool password_in_url_ = false;
  std::string insert_sql_;
  Spool spool_;  // sender thread only (and Close after join)
  size_t spool_skipped_files_ = 0;
  ClickHouseCounters counters_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::deque<Batch> queue_;       // guarded by mu_
  bool closing_ = false;          // guarded by mu_
  bool busy_ = false;             // guarded by mu_: sender holds a batch outside the queue
  int64_t close_deadline_us_ = 0; // guarded by mu_ (steady clock)
  std::string last_error_;        // guarded by mu_
  int64_t backoff_us_ = 0;        // sender thread only
  int64_t next_attempt_us_ = 0;   // sender thread only (steady clock)

  std::mutex id_mu_;
  std::mt19937_64 id_rng_;
  std::thread thread_;
  bool closed_ = false;
};

// The per-decode-thread batcher: a RecordSink. Not thread-safe; one per decode thread.
class ClickHouseBatcher : public RecordSink {
 public:
  explicit ClickHouseBatcher(ClickHouseWriter& writer);
  ~ClickHouseBatcher() override;  // Flush()

  void OnRecord(const DecodedRecord& r) override;
  // Submits the current batch if its first record is older than the batch age at `now`.
  void Tick(TimeUs now);
  // Submits the current batch (if any).
  void Flush();
  size_t pending_rows() const { return batch_.rows; }

 private:
  void StartBatch(const DecodedRecord& r);

  ClickHouseWriter& writer_;
  size_t batch_rows_;
  int64_t batch_age_us_;
  Batch batch_;
  uint32_t day_ = 0;
  TimeUs started_us_ = 0;
};

}  // namespace nf::clickhouse

#endif  // NF_COLLECTOR_OUTPUT_CLICKHOUSE_CLICKHOUSE_SINK_H_
