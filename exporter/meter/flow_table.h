// The exporter's flow table: packets in, expired NetFlow flow records out.
//
// One FlowTable is one shard: it owns all its memory (no globals), so a later change can run N
// tables on N threads with a dispatcher hashing keys onto them. Time is always passed in (packet
// time for files), which keeps runs deterministic.
//
// Design (see docs: architecture.md section 3, designs A and C):
// - Open addressing with linear probing over a flat, preallocated slot array (load factor
//   <= 0.5); each slot holds a 32-bit hash tag and the index of an entry in a preallocated entry
//   pool. Lookups compare the full FlowKey after the tag, never the hash alone. Deletion is
//   backward-shift, so there are no tombstones. Nothing is allocated per packet.
// - Two intrusive doubly-linked lists thread the entries: an LRU list ordered by last-seen time
//   (idle expiry pops its head; a full table evicts its head) and a creation-order list ordered
//   by first-seen time (active expiry pops its head). Both are O(1) per packet; expiry work is
//   proportional to the flows that actually expire.
// - Memory per flow, IPv4 or IPv6 alike (the key stores 16-byte addresses either way):
//   Entry 104 bytes (FlowKey 48, counters and times 32, two list links 16, hash 4, flags/TTL 4)
//   + 2 slots x 8 bytes (load factor 0.5) = 120 bytes per flow at --max-flows. Pool and slots
//   are anonymous mappings (huge pages where THP allows), so untouched capacity costs address
//   space, not RAM.
#ifndef NF_EXPORTER_METER_FLOW_TABLE_H_
#define NF_EXPORTER_METER_FLOW_TABLE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/functional/function_ref.h"
#include "common/flow_record.h"
#include "capture/packet_parser.h"
#include "exporter/meter/meter.h"

namespace nf {

struct FlowTableOptions {
  size_t max_flows = 1 << 20;  // 1,048,576
  TimeUs inactive_timeout_us = 15'000'000;
  TimeUs active_timeout_us = 1'800'000'000;
  uint32_t input_if = 0;  // SNMP ifIndex stamped into every key (INPUT_SNMP)
  // Tests only: replaces the key hash (e.g. to force collisions). Null = the keyed flow hash.
  uint64_t (*hash_override)(const FlowKey&) = nullptr;
};

// The single-threaded Meter (--threads 1): Add is Enqueue, Poll is Drain, AdvanceTime is
// ExpireUntil and Finish is FlushAll.
class FlowTable final : public Meter {
 public:
  explicit FlowTable(const FlowTableOptions& options);
  ~FlowTable();
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  // False when the pool or slot array could not be allocated (check once after construction).
  bool ok() const { return entries_ != nullptr && slots_ != nullptr; }

  // Accounts one parsed packet (meta.time_us is its time). Flows that expire on the way (idle
  // or active timeout by now, LRU eviction when full, TCP FIN/RST on this packet) go to `sink`
  // before Update returns. Packet time that goes backwards is clamped to the latest seen so
  // the expiry lists stay ordered.
  void Update(const PacketMeta& meta, FlowSink sink);

  // Update split in two for a dispatcher that builds and hashes the key once and hands the
  // packet to a shard (ShardedMeter): KeyOf is the key Update builds, HashOf the table's hash
  // of it (honouring options.hash_override), and UpdateHashed accounts the packet exactly as
  // Update does without rehashing. `hash` must be HashOf(key, options of this table).
  static FlowKey KeyOf(const PacketMeta& meta, uint32_t input_if);
  static uint32_t HashOf(const FlowKey& key, const FlowTableOptions& options);
  void UpdateHashed(const FlowKey& key, uint32_t hash, TimeUs time_us, uint32_t l3_length,
                    uint8_t tcp_flags, uint8_t ttl, FlowSink sink);
  const FlowTableOptions& options() const { return options_; }

  // Pipelined forms of Update/UpdateHashed for a stream of packets. A lookup is a chain of
  // dependent cache misses (slot, then entry); Enqueue prefetches the slot of each new packet
  // and, half the pipeline later, its entry, and accounts the packet kPipelineDepth packets
  // later, so the misses of ~16 packets overlap instead of adding up. Packets are accounted in
  // order and exactly as Update would; at most kPipelineDepth - 1 wait in the pipeline, so
  // call Drain before reading stats(), active_flows() or now() (ExpireUntil and FlushAll drain
  // first by themselves).
  static constexpr uint32_t kPipelineDepth = 16;
  void Enqueue(const PacketMeta& meta, FlowSink sink);
  void EnqueueHashed(const FlowKey& key, uint32_t hash, TimeUs time_us, uint32_t l3_length,
                     uint8_t tcp_flags, uint8_t ttl, FlowSink sink);
  void Drain(FlowSink sink);
  uint32_t queued() const { return queued_; }

  // Exports every flow idle for the inactive timeout or older than the active timeout at `now`
  // (call it periodically so a quiet link still expires flows).
  void ExpireUntil(TimeUs now, FlowSink sink);

  // Exports every flow with EndReason kForcedEnd (end of input, SIGINT/SIGTERM).
  void FlushAll(FlowSink sink);

  // Meter.
  void Add(const PacketMeta& meta, FlowSink sink) override { Enqueue(meta, sink); }
  size_t Poll(FlowSink sink) override;
  void AdvanceTime(TimeUs now, FlowSink sink) override { ExpireUntil(now, sink); }
  void Finish(FlowSink sink) override { FlushAll(sink); }
  MeterTotals Totals() const override { return {stats_, active_, 0}; }

  size_t active_flows() const { return active_; }
  size_t capacity() const { return capacity_; }
  TimeUs now() const override { return now_; }
  const FlowTableStats& stats() const { return stats_; }

 private:
  static constexpr uint32_t kNil = 0xffffffffu;
  struct List {
    uint32_t head = kNil;
    uint32_t tail = kNil;
  };
  struct Entry {
    FlowKey key;
    uint64_t packets;
    uint64_t bytes;
    TimeUs first_us;
    TimeUs last_us;
    uint32_t lru_prev;
    uint32_t lru_next;  // also the free-list link
    uint32_t age_prev;
    uint32_t age_next;
    uint32_t hash;
    uint8_t tcp_flags;
    uint8_t min_ttl;
    uint8_t max_ttl;
    uint8_t pad;
  };
  struct Slot {
    uint32_t hash;
    uint32_t index_plus1;  // 0 = empty
  };

  // One packet waiting in the Enqueue pipeline.
  struct Pending {
    FlowKey key;
    TimeUs time_us;
    uint32_t hash;
    uint32_t l3_length;
    uint8_t tcp_flags;
    uint8_t ttl;
  };
  static constexpr uint32_t kPipelineMask = kPipelineDepth - 1;
  static_assert((kPipelineDepth & kPipelineMask) == 0, "depth must be a power of two");

  uint32_t HashKey(const FlowKey& key) const;
  void ExpireDue(TimeUs now, FlowSink sink);
  void Account(const FlowKey& key, uint32_t hash, TimeUs time_us, uint32_t l3_length,
               uint8_t tcp_flags, uint8_t ttl, FlowSink sink);
  // Second pipeline stage: the slot has arrived; fetch the entry it points to (a hint only).
  void PrefetchEntry(uint32_t hash) const;
  // Slot position of `key`, or kNil.
  uint32_t Find(const FlowKey& key, uint32_t hash) const;
  void InsertSlot(uint32_t hash, uint32_t index);
  void EraseSlot(uint32_t pos);
  uint32_t SlotOf(uint32_t index) const;
  // Unlinks and frees the entry, emitting it with `reason`.
  void Export(uint32_t index, EndReason reason, FlowSink sink);
  void ListUnlinkLru(uint32_t i);
  void ListPushLru(uint32_t i);
  void ListUnlinkAge(uint32_t i);
  void ListPushAge(uint32_t i);

  FlowTableOptions options_;
  size_t capacity_ = 0;  // entries
  uint32_t slot_mask_ = 0;
  Entry* entries_ = nullptr;
  Slot* slots_ = nullptr;
  size_t entries_bytes_ = 0;
  size_t slots_bytes_ = 0;
  uint32_t free_head_ = kNil;
  uint32_t next_unused_ = 0;  // entries never used yet (keeps the pool untouched until needed)
  List lru_;
  List age_;
  size_t active_ = 0;
  TimeUs now_ = 0;
  // No flow can expire before this time. Lowered on insertion, recomputed by ExpireUntil; it
  // spares the per-packet path two cache misses (the list heads) while nothing is due.
  TimeUs next_deadline_ = INT64_MAX;
  FlowTableStats stats_;
  Pending pending_[kPipelineDepth];
  uint32_t pending_head_ = 0;
  uint32_t queued_ = 0;
};

// 1-in-N packet sampling applied before the flow table. Deterministic mode takes the first of
// every N packets; random mode takes each packet with probability 1/N, from a hash of the seed
// and the packet's ordinal (reproducible for a given seed). Either way the decision for a packet
// depends only on its ordinal among the packets offered, so workers that share a packet stream
// can decide for any packet of it (TakeAt) and agree with one sampler taking them in order.
class PacketSampler {
 public:
  enum class Mode : uint8_t { kDeterministic = 1, kRandom = 2 };  // v9 SAMPLING_ALGORITHM
  PacketSampler(uint32_t interval, Mode mode, uint64_t seed = 0x9e3779b97f4a7c15ull)
      : interval_(interval == 0 ? 1 : interval), mode_(mode), seed_(seed) {}
  // True when the next packet is sampled. Deterministic mode counts instead of dividing (the
  // per-packet path); TakeAt gives the same answers.
  bool Take() {
    if (interval_ == 1) return true;
    if (mode_ == Mode::kDeterministic) {
      const bool take = counter_ == 0;
      if (++counter_ == interval_) counter_ = 0;
      return take;
    }
    return TakeAt(offered_++);
  }
  // True when the packet with this ordinal (0 = the first offered) is sampled.
  bool TakeAt(uint64_t ordinal) const {
    if (interval_ == 1) return true;
    if (mode_ == Mode::kDeterministic) return ordinal % interval_ == 0;
    // SplitMix64's finaliser: consecutive ordinals give independent-looking values.
    uint64_t z = seed_ + (ordinal + 1) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return z % interval_ == 0;
  }
  uint32_t interval() const { return interval_; }
  Mode mode() const { return mode_; }

 private:
  uint32_t interval_;
  Mode mode_;
  uint64_t seed_;
  uint64_t offered_ = 0;  // random mode
  uint32_t counter_ = 0;  // deterministic mode: offered_ % interval_
};

}  // namespace nf

#endif  // NF_EXPORTER_METER_FLOW_TABLE_H_
