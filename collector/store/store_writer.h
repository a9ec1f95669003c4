// The raw flow store (`flowcollect --store DIR`): every received export datagram, kept as it
// arrived, before decoding, so nothing is lost that a later version could decode.
//
// Layout, like nfcapd's: DIR/YYYY/MM/DD/flows-YYYYMMDDhhmmss.pcap (".pcap.zst" with
// compression), one file per rotation interval (UTC, aligned on multiples of the interval), the
// name giving the interval's start. Each file is a classic pcap (LINKTYPE_RAW) that tshark
// reads: a synthetic IPv4/IPv6 + UDP header carries the exporter's address and port as source,
// the record timestamp is the receive time, the payload is the datagram's bytes.
//
// Every file decodes alone: it begins with synthetic datagrams holding the templates and
// options templates in force for each exporter (source ID / observation domain), taken from
// the datagrams stored so far (IPFIX withdrawals honoured). They are marked so a reader can tell
// them from received datagrams (IsTemplateReplay), since they must not count as traffic or
// sequence numbers.
//
// Durability: a file is written under a hidden temporary name in its day folder, fsynced and
// renamed when its interval ends (or at Close), so a reader never sees a partial file. A write
// error (a full disk) is counted and reported once per file through `on_error`: the data already
// in the file is kept (the file is cut back to its last whole record and still renamed), later
// datagrams of the interval are counted as lost, and the next interval tries again. The
// collector keeps decoding and its other outputs keep working. Retention (age, total size)
// removes the oldest files after each rotation and at start.
#ifndef NF_COLLECTOR_STORE_STORE_WRITER_H_
#define NF_COLLECTOR_STORE_STORE_WRITER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "collector/decode/decoded_record.h"
#include "common/time_format.h"

namespace nf {

struct StoreOptions {
  std::string directory;           // --store
  int64_t rotate_seconds = 300;    // --store-rotate
  bool compress = false;           // --store-compress: zstd
  int zstd_level = 3;
  int64_t retention_seconds = 0;   // --store-retention 30d: files older than this go (0: keep)
  uint64_t retention_bytes = 0;    // --store-retention 200G: oldest go beyond this (0: no limit)
  // Called (under the writer's lock) for each failure: once per file and cause, not per datagram.
  std::function<void(const absl::Status&)> on_error;
};

// Monotonic counters, readable from any thread (statistics, metrics).
struct StoreCounters {
  // Received datagrams written to files (counted as each buffer reaches the file).
  std::atomic<uint64_t> datagrams{0};
  std::atomic<uint64_t> bytes{0};             // bytes written to files (after compression)
  std::atomic<uint64_t> files{0};             // files completed (renamed into place)
  std::atomic<uint64_t> template_datagrams{0};  // synthetic template datagrams written
  std::atomic<uint64_t> datagrams_lost{0};    // not stored because of a write error
  std::atomic<uint64_t> write_errors{0};      // failures reported (open, write, fsync, rename)
  std::atomic<uint64_t> files_removed{0};     // by retention
  std::atomic<uint64_t> files_recovered{0};   // left by a crashed run, finished at Create
  // Template records not kept for the files' template datagrams (bound reached).
  std::atomic<uint64_t> templates_untracked{0};
};

class StoreWriter {
 public:
  // Creates DIR when missing and checks it is writable; finishes temporary files a previous run
  // left behind (cut to their last whole record and renamed); applies retention. Errors: a
  // directory that cannot be created or written (FailedPrecondition), bad options
  // (InvalidArgument).
  static absl::StatusOr<std::unique_ptr<StoreWriter>> Create(const StoreOptions& options);
  ~StoreWriter();  // Close() if not called
  StoreWriter(const StoreWriter&) = delete;
  StoreWriter& operator=(const StoreWriter&) = delete;

  // Thread-safe (one lock). Stores one datagram received at `receive_time_us` from `exporter`;
  // rotates first when the time has left the current interval. A datagram stamped before the
  // current (or last completed) file's interval, from threads racing at a boundary or a clock
  // stepping back, goes into the current (next) file with its true timestamp: a completed
  // file is never reopened within a run.
  void Append(std::span<const uint8_t> datagram, const ExporterId& exporter,
              TimeUs receive_time_us);
  // Thread-safe; call every second or so. Rotates when the interval of `now` is past the
  // current file's, so an idle collector still completes its files on time; writes out
  // buffered records once the oldest is 10 s old; applies retention once per interval while
  // idle.
  void Tick(TimeUs now);
  // Completes the current file (flush, fsync, rename). Returns the first write error of the run
  // (the run still stored what it could). Idempotent.
  absl::Status Close();

  const StoreCounters& counters() const { return counters_; }
  // The last error message, empty when none (thread-safe copy).
  std::string last_error() const;

 private:
  class Impl;
  explicit StoreWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  StoreCounters counters_;
};

// True when a datagram read back from a store file is one of the synthetic template datagrams
// a file begins with. `ip_ttl` is the IPv4 TTL / IPv6 hop limit of the stored packet.
bool IsTemplateReplay(uint8_t ip_ttl);

}  // namespace nf

#endif  // NF_COLLECTOR_STORE_STORE_WRITER_H_
