// The standby side of an active/standby collector pair (docs/ha.md): every datagram the
// standby receives waits here, raw, until the active node confirms it wrote the same datagram,
// so that a standby taking over writes exactly what its peer had not written.
//
// Both nodes receive every datagram (the exporter sends to both). A datagram is named by a
// 64-bit digest of its bytes (DatagramDigest), which is the same on both nodes whatever path or
// source address it arrived with. The active node sends the digests of what it has handed to
// its outputs; the standby drops those from the spool. A confirmation may arrive before the
// datagram itself (the active was faster), so confirmations not yet matched are kept too, for
// as long as a datagram is.
//
// Memory is fixed at construction: one byte ring for the datagrams and one entry ring; nothing
// is allocated per datagram. When the ring is full the oldest entry goes, counted as evicted
// when it was unconfirmed: that is the bound of what a takeover can replay.
#ifndef NF_COLLECTOR_HA_HA_SPOOL_H_
#define NF_COLLECTOR_HA_HA_SPOOL_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "collector/decode/decoded_record.h"
#include "common/time_format.h"

namespace nf {

// A stable 64-bit digest of a datagram's bytes: the same on every node and every build (no
// per-process seed), so two collectors agree on which datagram is which.
uint64_t DatagramDigest(std::span<const uint8_t> bytes);

struct HaSpoolOptions {
  size_t max_bytes = 64 << 20;       // datagram bytes kept
  size_t max_datagrams = 1 << 18;    // entries kept (and unmatched confirmations)
  TimeUs max_age_us = 60'000'000;    // older entries and confirmations are forgotten
};

struct HaSpoolStats {
  uint64_t spooled = 0;                 // datagrams put in the spool
  uint64_t confirmed = 0;               // spooled datagrams the peer confirmed
  uint64_t confirmed_before_arrival = 0;  // confirmations that came first, then matched
  uint64_t confirmations_unmatched = 0;   // confirmations aged out with no datagram
  uint64_t evicted_unconfirmed = 0;     // unconfirmed datagrams pushed out by a full spool
  uint64_t expired_unconfirmed = 0;     // unconfirmed datagrams older than max_age
  uint64_t too_large = 0;               // a datagram larger than the whole byte ring
  uint64_t replayed = 0;                // handed back by Replay
};

class HaSpool {
 public:
  explicit HaSpool(const HaSpoolOptions& options);

  // A datagram received while standing by. `digest` is DatagramDigest(bytes).
  void Add(uint64_t digest, std::span<const uint8_t> bytes, const ExporterId& exporter,
           TimeUs receive_time);
  // The peer wrote the datagram with this digest.
  void Confirm(uint64_t digest, TimeUs now);
  // Forgets entries and confirmations older than max_age (call periodically).
  void Expire(TimeUs now);

  using ReplayFn =
      std::function<void(std::span<const uint8_t>, const ExporterId&, TimeUs receive_time)>;
  // Hands every unconfirmed datagram to `fn`, oldest first, then empties the spool and the
  // unmatched confirmations. Returns how many were handed over.
  size_t Replay(const ReplayFn& fn);
  // Empties everything (a node that becomes active with nothing to replay, or a reset).
  void Clear();

  size_t datagrams() const { return count_; }  // entries held (confirmed ones included)
  size_t unconfirmed() const { return unconfirmed_; }
  size_t bytes() const { return used_bytes_; }
  size_t pending_confirmations() const { return early_.size(); }
  const HaSpoolStats& stats() const { return stats_; }

 private:
  struct Entry {
    uint64_t digest = 0;
    TimeUs time = 0;
    ExporterId exporter;
    size_t offset = 0;  // in data_
    uint32_t length = 0;
    uint32_t skipped = 0;  // ring bytes wasted before this entry (wrap), freed with it
    bool confirmed = false;
  };
  // Removes the oldest entry, counting it when it was unconfirmed (`expired` says why).
  void PopFront(bool expired);
  // Drops confirmed entries at the front (they hold space for nothing).
  void TrimConfirmed();

  HaSpoolOptions options_;
  std::vector<uint8_t> data_;
  std::vector<Entry> entries_;
  size_t head_ = 0;   // oldest entry
  size_t count_ = 0;
  size_t unconfirmed_ = 0;
  size_t write_ = 0;  // next free byte in data_
  size_t used_bytes_ = 0;  // bytes held, wrap waste included
  // Digest -> entry index of an unconfirmed entry. A digest seen twice keeps its first entry.
  absl::flat_hash_map<uint64_t, size_t> index_;
  // Confirmations whose datagram has not arrived: digest -> when confirmed.
  absl::flat_hash_map<uint64_t, TimeUs> early_;
  HaSpoolStats stats_;
};

}  // namespace nf

#endif  // NF_COLLECTOR_HA_HA_SPOOL_H_
