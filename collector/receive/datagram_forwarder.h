// flowcollect --forward: every received datagram, unchanged and before decoding, sent on to other
// collectors (what samplicator and pmacct's tee do), so one copy of the export traffic feeds
// several consumers and a datagram this collector cannot decode still reaches the next one.
//
// The decode workers must not wait for the copies: each worker pushes the datagram into its own
// preallocated single-producer ring (bytes, no allocation per datagram; a full ring drops the
// copy and counts `queue_full`), and one forwarder thread empties the rings in batches, sending
// each batch to every destination with one sendmmsg() call. On Stop the rings are drained within
// a bounded time; what is left then is counted (`stop_timeout`).
//
// With keep_source every copy leaves with the exporter's own source address and port, over a raw
// socket whose IPv4/IPv6 and UDP headers (UDP checksum included) are built here, so the next
// collector keys its templates on the real exporter. That needs CAP_NET_RAW (root); Create fails
// with an error naming it. The raw path cannot fragment: a copy larger than the path MTU fails in
// the kernel (EMSGSIZE, a send error). An exporter of the other address family than a destination
// cannot keep its source there: counted as `family_mismatch`.
#ifndef NF_COLLECTOR_RECEIVE_DATAGRAM_FORWARDER_H_
#define NF_COLLECTOR_RECEIVE_DATAGRAM_FORWARDER_H_

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "collector/decode/decoded_record.h"
#include "common/ip_address.h"

namespace nf {

// Why a copy did not leave for a destination.
enum class ForwardDrop : uint8_t {
  kQueueFull,       // the worker's ring was full (the forwarder fell behind): every destination
  kFamilyMismatch,  // keep_source: exporter and destination of different address families
  kTooLarge,        // payload beyond what one UDP datagram of the destination's family holds
  kStopTimeout,     // still queued when the drain at stop ran out of time
};
inline constexpr size_t kForwardDropCount = 4;
// "queue_full", "family_mismatch", "too_large", "stop_timeout".
absl::string_view ForwardDropName(ForwardDrop reason);

struct ForwardOptions {
  std::vector<std::string> destinations;  // "HOST:PORT", "[V6]:PORT" or "NAME:PORT"
  bool keep_source = false;
  // One ring per producer (decode worker) of this many bytes; a copy takes its payload plus 24.
  size_t ring_bytes = size_t{8} << 20;
  size_t producers = 1;
};

// One destination's counters (a snapshot; the live values are atomics).
struct ForwardDestinationStats {
  std::string name;     // as given
  std::string address;  // resolved, numeric
  uint64_t datagrams = 0;
  uint64_t bytes = 0;  // UDP payload bytes
  uint64_t send_errors = 0;
  int last_errno = 0;
  std::array<uint64_t, kForwardDropCount> drops{};
};

struct ForwardStats {
  bool keep_source = false;
  std::vector<ForwardDestinationStats> destinations;
};

// `--forward` as text lines for the stderr statistics, and the JSON object written under the key
// "forward" of --stats-json (collector/app/collector_runtime.h lists its keys).
std::string ForwardStatsText(const ForwardStats& stats);
std::string ForwardStatsJson(const ForwardStats& stats);

// Builds the IPv4 (20 bytes) or IPv6 (40 bytes) header and the UDP header (8 bytes) of a copy
// from `source` to `destination` carrying `payload` into `out` (at least 48 bytes); returns the
// header length, or 0 when the families differ or the payload does not fit. The UDP checksum
// covers the pseudo-header; `payload_sum` is OnesComplementSum(payload).
size_t BuildUdpHeaders(const ExporterId& source, const ExporterId& destination,
                       std::span<const uint8_t> payload, uint32_t payload_sum, uint8_t* out);
// The 32-bit running one's-complement sum of `data` as big-endian 16-bit words (an odd last byte
// padded with zero), not yet folded.
uint32_t OnesComplementSum(std::span<const uint8_t> data, uint32_t sum = 0);

class DatagramForwarder {
 public:
  // Resolves every destination and opens the sockets (raw ones with keep_source). A bad
  // destination is an InvalidArgument error naming it; a raw socket refused is a
  // PermissionDenied error naming CAP_NET_RAW. Nothing runs until Start.
  static absl::StatusOr<std::unique_ptr<DatagramForwarder>> Create(const ForwardOptions& options);
  ~DatagramForwarder();
  DatagramForwarder(const DatagramForwarder&) = delete;
  DatagramForwarder& operator=(const DatagramForwarder&) = delete;

  // Starts the forwarder thread.
  void Start();
  // Queues a copy of `datagram` from `source`. Called by producer `producer` only (one thread
  // per producer index); never blocks, never allocates.
  void Push(size_t producer, std::span<const uint8_t> datagram, const ExporterId& source);
  // Sends what is queued (at most `drain_ms` more), then ends the thread. Call once the
  // producers have stopped pushing. Idempotent.
  void Stop(int drain_ms = 2000);

  // Thread-safe snapshot of the counters.
  ForwardStats Stats() const;

 private:
  struct Ring;
  struct Destination;
  DatagramForwarder() = default;
  void Loop();
  // Sends up to one batch from `ring`; returns the number of datagrams taken from it.
  size_t SendBatch(Ring& ring);
  bool AllEmpty() const;
  void Wake();

  bool keep_source_ = false;
  std::vector<std::unique_ptr<Ring>> rings_;
  std::vector<std::unique_ptr<Destination>> destinations_;
  int raw4_ = -1;  // keep_source: one raw socket per family in use
  int raw6_ = -1;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> drain_deadline_us_{0};
  // The thread sleeps on cv_ only after a while without work, and says so in sleeping_, so a
  // busy producer never pays for a wake-up.
  std::atomic<bool> sleeping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool wake_ = false;
  bool stopped_ = false;
};

}  // namespace nf

#endif  // NF_COLLECTOR_RECEIVE_DATAGRAM_FORWARDER_H_
