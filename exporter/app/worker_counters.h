// The counters a metering worker thread publishes for the export thread: its packet counters
// and its flow table's, stored after every batch (relaxed atomics: counters only, no ordering),
// read and summed over the workers by the export thread for the summary, status line and
// metrics. Also a worker's push of an expired record, the export thread's drain of the
// workers' record rings, and the doorbell a worker rings when its ring fills. Shared by the two
// multi-core capture paths (fanout_capture.h, frame_fanout.h).
#ifndef NF_EXPORTER_APP_WORKER_COUNTERS_H_
#define NF_EXPORTER_APP_WORKER_COUNTERS_H_

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>

#include "exporter/app/packet_step.h"
#include "exporter/meter/flow_table.h"
#include "exporter/meter/meter.h"
#include "exporter/meter/spsc_ring.h"

namespace nf {

class alignas(kCacheLineBytes) WorkerCounters {
 public:
  // Worker thread: the counters as of now.
  void Store(const PacketCounters& c, const FlowTable& table) {
    constexpr auto r = std::memory_order_relaxed;
    seen_.store(c.seen, r);
    parsed_.store(c.parsed, r);
    for (size_t i = 0; i < kParseResultCount; ++i) results_[i].store(c.results[i], r);
    sampled_out_.store(c.sampled_out, r);
    fragments_.store(c.fragments, r);
    non_first_fragments_.store(c.non_first_fragments, r);
    l4_truncated_.store(c.l4_truncated, r);
    const FlowTableStats& ts = table.stats();
    table_packets_.store(ts.packets, r);
    table_bytes_.store(ts.bytes, r);
    flows_created_.store(ts.flows_created, r);
    for (size_t i = 0; i < kEndReasonSlots; ++i) expired_[i].store(ts.expired[i], r);
    active_.store(table.active_flows(), r);
  }
  // Any thread: adds this worker's last stored counters to the sums.
  void AddTo(PacketCounters& c, MeterTotals& m) const {
    constexpr auto r = std::memory_order_relaxed;
    c.seen += seen_.load(r);
    c.parsed += parsed_.load(r);
    for (size_t i = 0; i < kParseResultCount; ++i) c.results[i] += results_[i].load(r);
    c.sampled_out += sampled_out_.load(r);
    c.fragments += fragments_.load(r);
    c.non_first_fragments += non_first_fragments_.load(r);
    c.l4_truncated += l4_truncated_.load(r);
    m.table.packets += table_packets_.load(r);
    m.table.bytes += table_bytes_.load(r);
    m.table.flows_created += flows_created_.load(r);
    for (size_t i = 0; i < kEndReasonSlots; ++i) m.table.expired[i] += expired_[i].load(r);
    m.active_flows += active_.load(r);
  }
  uint64_t seen() const { return seen_.load(std::memory_order_relaxed); }
  uint64_t table_packets() const { return table_packets_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> seen_{0};
  std::atomic<uint64_t> parsed_{0};
  std::array<std::atomic<uint64_t>, kParseResultCount> results_{};
  std::atomic<uint64_t> sampled_out_{0};
  std::atomic<uint64_t> fragments_{0};
  std::atomic<uint64_t> non_first_fragments_{0};
  std::atomic<uint64_t> l4_truncated_{0};
  std::atomic<uint64_t> table_packets_{0};
  std::atomic<uint64_t> table_bytes_{0};
  std::atomic<uint64_t> flows_created_{0};
  std::array<std::atomic<uint64_t>, kEndReasonSlots> expired_{};
  std::atomic<uint64_t> active_{0};
};

// Wakes the export thread early: workers ring when their record ring fills up; the export
// thread waits between drains. A ring while nobody waits is kept, so the next wait returns at
// once and no wake-up is lost. Rung at most once per worker batch, never per packet.
class Doorbell {
 public:
  void Ring() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      rung_ = true;
    }
    cv_.notify_one();
  }
  // Returns when rung (true) or after `timeout` (false), and clears the ring.
  bool Wait(std::chrono::microseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    const bool rung = cv_.wait_for(lock, timeout, [this] { return rung_; });
    rung_ = false;
    return rung;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool rung_ = false;  // guarded by mu_
};

// A worker's push of an expired record: it waits for ring space as long as it takes (a record
// must never be lost: its packets are counted), yielding, then sleeping 50 us at a time.
// `on_full` runs once when the ring is found full (to wake an export thread that may wait on
// this worker).
template <typename OnFull>
void PushRecordWaiting(SpscRing<FlowRecord>& ring, const FlowRecord& rec, OnFull&& on_full) {
  for (int spins = 0; !ring.TryPush(rec); ++spins) {
    if (spins == 0) on_full();
    if (spins < 64) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }
}

// Delivers every record waiting on the workers' rings (each worker has a `records` SpscRing of
// FlowRecord), starting one worker later on every call so no ring is always served last.
// Returns how many.
template <typename WorkerPtrs>
size_t DrainRecordRings(const WorkerPtrs& workers, size_t& next, FlowSink sink) {
  constexpr size_t kChunk = 64;
  FlowRecord batch[kChunk];
  size_t delivered = 0;
  const size_t n = workers.size();
  for (size_t k = 0; k < n; ++k) {
    auto& ring = workers[(next + k) % n]->records;
    for (size_t got; (got = ring.PopBatch(batch, kChunk)) > 0;) {
      for (size_t i = 0; i < got; ++i) sink(batch[i]);
      delivered += got;
      if (got < kChunk) break;
    }
  }
  next = (next + 1) % n;
  return delivered;
}

}  // namespace nf

#endif  // NF_EXPORTER_APP_WORKER_COUNTERS_H_
