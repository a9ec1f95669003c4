// Sequence number tracking for one exporter, per (UDP port, version, source ID / domain):
// records loss, reordering, resets and restarts in the exporter's ExporterStats.
//
// Invariants: a stream's first countable datagram only sets the expectation (nothing is lost
// before it); a late number within the reorder window gives back what was counted lost, at
// most what was counted; jumps over kMaxSequenceGap are resets, not loss. v9 numbers
// datagrams, IPFIX and v5 number records; a v9 exporter whose gaps match flow counts instead
// (softflowd) is detected once and then followed in that mode.
#ifndef NF_COLLECTOR_DECODE_SEQUENCE_TRACKER_H_
#define NF_COLLECTOR_DECODE_SEQUENCE_TRACKER_H_

#include <cstddef>
#include <cstdint>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "collector/decode/decode_stats.h"

namespace nf {

class SequenceTracker {
 public:
  struct Key {
    uint16_t port;
    uint8_t version;
    uint32_t domain;
    friend bool operator==(const Key&, const Key&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.port, k.version, k.domain);
    }
  };
  // Streams per exporter: beyond this, new ones are not tracked (no growth).
  static constexpr size_t kMaxStreams = 4096;

  // A v5 header's sysUptime: going back (beyond reorder slack) is a restart, counted, and the
  // stream starts over.
  void NoteV5Uptime(const Key& key, uint32_t uptime_ms, ExporterStats& stats);
  // The same for v9, which also allows for the 32-bit uptime wrapping.
  void NoteV9Uptime(const Key& key, uint32_t uptime_ms, ExporterStats& stats);
  // Checks `seq`. `units` is what the number normally counts in this datagram; `alt_units`
  // (v9 only, -1 otherwise) is its flow record count, for exporters that number flows.
  // `countable` is false when the datagram could not be fully counted: the stream then
  // resynchronises on the next one.
  void Check(const Key& key, uint32_t seq, uint32_t units, bool countable, int64_t alt_units,
             uint32_t reorder_window, ExporterStats& stats);
  // Forgets every stream of `port`: a TCP session that ended (the next one starts afresh, and
  // reconnections must not fill the table).
  void Forget(uint16_t port);

 private:
  struct Stream {
    bool init = false;
    // softflowd numbers v9 datagrams by flows (like IPFIX); detected once, then used.
    bool alt_mode = false;
    uint32_t expected = 0;
    uint32_t expected_alt = 0;
    uint32_t last_uptime = 0;
    bool have_uptime = false;
  };
  absl::flat_hash_map<Key, Stream> streams_;
};

}  // namespace nf

#endif  // NF_COLLECTOR_DECODE_SEQUENCE_TRACKER_H_
