// Multi-core flow metering without locks (`flowexport --threads N`): N FlowTable shards, each
// owned by one worker thread, fed by the caller over SPSC rings; expired records come back by
// value over one SPSC ring per shard (architecture.md section 3, design A).
//
// Threads and roles:
// - The caller (one thread: capture + export) calls Submit per parsed packet. Submit builds the
//   flow key and hashes it ONCE with the table's own hash (FlowTable::HashOf), picks the shard
//   from the hash's high bits (the table probes with the low bits, so the two stay
//   independent) and stages a 64-byte work item for that shard. Staged items are published in
//   batches (one release store per batch).
// - Worker i owns FlowTable i outright: no mutex, no shared writes on the per-packet path. It
//   calls FlowTable::UpdateHashed (no rehash) and pushes expired FlowRecords, by value, onto its
//   record ring.
// - The caller drains the record rings round-robin (Poll, and also while it waits for ring
//   space, so a full packet ring and a full record ring can never deadlock) and feeds the
//   encoder from its sink.
//
// Time: every shard must see time advance, not only through its own packets. Submit sends a
// time tick to every shard that has not seen a packet that recent whenever packet time has
// advanced by `tick_interval_us` since the last tick, so idle expiry happens in file mode too
// and depends only on the input (deterministic). AdvanceTime does the same on demand (live
// capture: the wall clock).
//
// Equivalence: for input whose packet times never go backwards and no LRU evictions, the
// records are those of one FlowTable over the same input (same flows, packets, bytes, times),
// in another order. Each shard gets max_flows / N entries, so a full table evicts per shard.
// Packet times that go backwards are clamped per shard instead of globally.
//
// End of input / SIGTERM: Finish sends a flush to every shard (FlowTable::FlushAll, EndReason
// kForcedEnd), drains every record until all workers are done, and joins them.
#ifndef NF_EXPORTER_METER_SHARDED_METER_H_
#define NF_EXPORTER_METER_SHARDED_METER_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/flow_record.h"
#include "exporter/meter/flow_table.h"
#include "exporter/meter/meter.h"
#include "capture/packet_parser.h"
#include "exporter/meter/spsc_ring.h"

namespace nf {

// What Submit does when a shard's packet ring is full.
enum class RingFullPolicy : uint8_t {
  kBlock,  // spin, yield, then sleep briefly until the worker makes room (no packet lost)
  kDrop,   // drop the packet and count it (capture never stalls)
};
// "block" / "drop".
const char* RingFullPolicyName(RingFullPolicy p);
absl::StatusOr<RingFullPolicy> ParseRingFullPolicy(absl::string_view name);

struct ShardedMeterOptions {
  size_t shards = 2;  // worker threads, 1..64
  // Table options for the whole meter: max_flows is split evenly (rounded up) over the shards;
  // hash_override, timeouts and input_if apply to every shard.
  FlowTableOptions table;
  size_t packet_ring_capacity = 8192;  // per shard, rounded up to a power of two
  size_t record_ring_capacity = 4096;  // per shard
  RingFullPolicy ring_full = RingFullPolicy::kBlock;
  // Packet time between broadcast time ticks (see the header comment). 0 = never tick.
  TimeUs tick_interval_us = 1'000'000;
};

struct ShardedMeterStats {
  FlowTableStats table;     // summed over shards, as of each shard's last finished batch
  size_t active_flows = 0;  // summed likewise
  uint64_t packets_submitted = 0;
  uint64_t ring_full_drops = 0;  // packets dropped under RingFullPolicy::kDrop
  uint64_t ring_full_waits = 0;  // times Submit found a full ring under kBlock and waited
  uint64_t ticks = 0;            // time ticks sent (all shards)
};

// One unit of work for a shard: a packet whose key is built and hashed, or a control item.
// Exactly one cache line. The key's input_if is the meter's (constant), so it is not carried.
struct ShardWork {
  enum Kind : uint8_t { kPacket = 0, kTick = 1, kFlush = 2 };
  IpAddress src;
  IpAddress dst;
  uint16_t src_port;
  uint16_t dst_port;
  uint8_t protocol;
  uint8_t tos;
  uint16_t vlan;
  uint8_t tcp_flags;
  uint8_t ttl;
  uint8_t kind;
  uint8_t pad[3];
  uint32_t hash;  // FlowTable::HashOf(key)
  uint32_t l3_length;
  TimeUs time_us;
};
static_assert(sizeof(ShardWork) == 64, "one cache line per packet hand-off");

// The multi-core Meter (--threads N): Add is Submit.
class ShardedMeter final : public Meter {
 public:
  using RecordSink = absl::FunctionRef<void(const FlowRecord&)>;

  // Allocates every table and ring and starts the workers. Errors: bad options, allocation.
  static absl::StatusOr<std::unique_ptr<ShardedMeter>> Create(const ShardedMeterOptions& options);
  // Stops the workers; records not yet drained are discarded (call Finish first to keep them).
  ~ShardedMeter();
  ShardedMeter(const ShardedMeter&) = delete;
  ShardedMeter& operator=(const ShardedMeter&) = delete;

  // All of the following are for the one caller thread.

  // Hands one parsed packet to its shard (staged; published in batches). Returns false only
  // after Finish. Under kDrop, packets that find their ring full when their batch is published
  // are dropped and counted in stats().ring_full_drops. `sink` receives records drained while
  // waiting for ring space.
  bool Submit(const PacketMeta& meta, RecordSink sink);
  void Add(const PacketMeta& meta, FlowSink sink) override { Submit(meta, sink); }
  // Publishes staged work and delivers every record already available, round-robin over the
  // shards. Returns the number of records delivered. Call it after every capture batch.
  size_t Poll(RecordSink sink) override;
  // Advances every shard's clock to `now` (expiry on a quiet link), then polls.
  void AdvanceTime(TimeUs now, RecordSink sink) override;
  // Flushes every flow (kForcedEnd) and delivers every record; joins the workers. After
  // Finish, Submit/AdvanceTime do nothing and return false. Idempotent.
  void Finish(RecordSink sink) override;

  // Latest packet or tick time submitted (the export clock for file input).
  TimeUs now() const override { return now_; }
  size_t shards() const { return shards_.size(); }
  // Safe to call at any time from the caller thread.
  ShardedMeterStats stats() const;
  MeterTotals Totals() const override;

  // The shard a packet with table hash `hash` goes to, out of `n`.
  static size_t ShardOf(uint32_t hash, size_t n) {
    return static_cast<size_t>((static_cast<uint64_t>(hash) * n) >> 32);
  }

 private:
  static constexpr size_t kBatch = 32;
  // Per-shard statistics the worker publishes after each batch (relaxed: counters only).
  struct alignas(kCacheLineBytes) Published {
    std::atomic<uint64_t> packets{0};
    std::atomic<uint64_t> bytes{0};
    std::atomic<uint64_t> flows_created{0};
    std::array<std::atomic<uint64_t>, kEndReasonSlots> expired{};
    std::atomic<uint64_t> active{0};
  };
  struct Shard {
    Shard(const FlowTableOptions& to, size_t packet_cap, size_t record_cap)
        : table(to), packets(packet_cap), records(record_cap) {}
    FlowTable table;               // worker only (caller reads it after join)
    SpscRing<ShardWork> packets;   // caller -> worker
    SpscRing<FlowRecord> records;  // worker -> caller
    alignas(kCacheLineBytes) std::atomic<bool> done{false};  // worker exits after the flush
    Published published;
    // Caller-only state.
    alignas(kCacheLineBytes) std::array<ShardWork, kBatch> stage{};
    size_t staged = 0;
    TimeUs last_time_sent = INT64_MIN;
    std::thread thread;
  };

  explicit ShardedMeter(const ShardedMeterOptions& options);
  void WorkerLoop(Shard& shard);
  // Caller side.
  void Stage(Shard& shard, const ShardWork& item, RecordSink sink);
  void Publish(Shard& shard, RecordSink sink);
  // Pushes items[0..n) onto the shard's ring, waiting (and draining records) while full.
  void PushBlocking(Shard& shard, const ShardWork* items, size_t n, RecordSink sink);
  void BroadcastTick(TimeUs now, RecordSink sink);
  size_t DrainOnce(RecordSink sink);
  void StopWorkers();

  ShardedMeterOptions options_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<bool> abort_{false};  // destructor without Finish: workers leave their waits
  bool finished_ = false;
  TimeUs now_ = 0;
  TimeUs last_tick_ = INT64_MIN;
  size_t next_drain_ = 0;
  uint64_t submitted_ = 0;
  uint64_t drops_ = 0;
  uint64_t waits_ = 0;
  uint64_t ticks_ = 0;
};

}  // namespace nf

#endif  // NF_EXPORTER_METER_SHARDED_METER_H_
