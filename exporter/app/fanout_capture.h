// Multi-core live capture without a hand-off (`flowexport -i IFACE --threads N` on Linux): N
// capture workers, each with its OWN libpcap handle on the interface, all in one PACKET_FANOUT
// group in hash mode, so the kernel sends every packet of a 5-tuple to the same worker. Each
// worker parses, samples and meters into its own FlowTable; no packet crosses threads. Expired
// records go, by value, over one SPSC ring per worker to the one export thread (the caller),
// which enriches, encodes and sends them as with one capture thread.
//
// Threads and roles:
// - Worker i owns handle i and table i outright. Per batch it dispatches up to 256 packets,
//   finishes the table's pipeline (Poll), expires by the wall clock (AdvanceTime, as the
//   one-thread live path does once per batch) and publishes its counters (relaxed atomics).
//   pcap_stats runs on the worker too: libpcap handles are not shared between threads.
// - The caller drains the record rings (Drain), reads the summed counters (Totals) and, at the
//   end, Finish: the workers leave, are joined, and their tables are flushed (kForcedEnd) on the
//   caller's thread.
//
// Equivalence with one capture thread: a flow's packets all reach one worker, so each flow is
// one record with the same packets and bytes (the tables differ only in size: max_flows / N
// each). Fragments: PACKET_FANOUT_FLAG_DEFRAG makes the kernel reassemble IPv4 fragments before
// choosing a worker, so a fragmented datagram is metered as one packet of its reassembled
// length where one capture thread counts its fragments. Per-worker sampling (--sampling) is 1
// in N of that worker's packets.
#ifndef NF_EXPORTER_APP_FANOUT_CAPTURE_H_
#define NF_EXPORTER_APP_FANOUT_CAPTURE_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "capture/packet_parser.h"
#include "capture/pcap_source.h"
#include "common/flow_record.h"
#include "exporter/app/packet_step.h"
#include "exporter/app/worker_counters.h"
#include "exporter/meter/flow_table.h"
#include "exporter/meter/meter.h"
#include "exporter/meter/spsc_ring.h"

namespace nf {

// Each worker's share of the capture buffer: --buffer-size is the process's, split over the
// sockets. Each socket gets its share of the traffic, so its share absorbs as long a burst as
// the whole buffer does for one socket, and the kernel's ring memory stays what one thread
// uses. It also costs less CPU: with a full-size ring each, two workers got 78% of one
// thread's packets per CPU-second; with shares, 94% (bench/live.sh; smaller rings are cheaper
// per packet, likely for the TLB, as a ring is mapped 4 KiB at a time).
// Never below 1 MiB (four of libpcap's 256 KiB blocks), unless the total is.
inline constexpr int kMinFanoutBufferBytes = 1 << 20;
int FanoutBufferBytes(int total_bytes, size_t workers);

struct FanoutOptions {
  size_t workers = 2;           // capture handles and threads, 2..64
  LiveCaptureOptions capture;   // fanout_group is set by Open; buffer_size_bytes is the
                                // total, split by FanoutBufferBytes
  int64_t pid = 0;              // the group id is FanoutGroupIdFor(pid)
  FlowTableOptions table;       // max_flows is split evenly (rounded up) over the workers;
                                // input_if is the interface's index
  uint32_t sampling = 1;        // 1 in N per worker
  PacketSampler::Mode sampling_mode = PacketSampler::Mode::kDeterministic;
  uint64_t sampling_seed = 1;
  size_t record_ring_capacity = 4096;  // per worker
};

struct FanoutTotals {
  PacketCounters packets;  // summed over the workers
  MeterTotals meter;
  CaptureStats capture;  // pcap_stats summed over the handles
};

class FanoutCapture {
 public:
  // Opens and activates every handle and joins them to one fanout group (the threads start
  // with Start). Errors name the interface; a kernel without PACKET_FANOUT fails here.
  static absl::StatusOr<std::unique_ptr<FanoutCapture>> Open(const FanoutOptions& options);
  // Stops and joins the workers if Finish was not called (records not drained are lost).
  ~FanoutCapture();
  FanoutCapture(const FanoutCapture&) = delete;
  FanoutCapture& operator=(const FanoutCapture&) = delete;

  // Starts the workers. Call once.
  void Start();
  // Delivers every record the workers have expired so far, round-robin. Returns how many.
  size_t Drain(FlowSink sink);
  // Sleeps until a worker's record ring is a quarter full (it rings after its batch, or when
  // the ring is full), or `timeout` passes. A ring filled while no one waited counts too: the
  // next call returns at once.
  void WaitForRecords(std::chrono::microseconds timeout) { doorbell_.Wait(timeout); }
  // A worker's capture failed (interface gone, read error): its message, else empty. The
  // worker stops; the caller decides whether to end the run.
  std::string Failure() const;
  // Makes the workers leave their loops (they notice within one capture wake-up, 100 ms).
  void Stop() { stop_.store(true, std::memory_order_relaxed); }
  // Stop, drain until every worker has left, join them, flush every flow (kForcedEnd) into
  // `sink`. Idempotent.
  void Finish(FlowSink sink);
  // Counters as of each worker's last batch (exact after Finish).
  FanoutTotals Totals() const;
  // Packets each worker has seen (how evenly the kernel's hash spreads the traffic).
  std::vector<uint64_t> SeenPerWorker() const;

  size_t workers() const { return workers_.size(); }
  // Records the workers' rings hold together before a worker has to wait for a drain.
  size_t record_capacity() const {
    size_t n = 0;
    for (const auto& w : workers_) n += w->records.capacity();
    return n;
  }
  uint16_t group_id() const { return group_id_; }
  uint32_t if_index() const { return if_index_; }
  const std::string& buffer_note() const { return buffer_note_; }

 private:
  struct alignas(kCacheLineBytes) Published {
    WorkerCounters counters;
    std::atomic<uint64_t> pcap_dropped{0};
    std::atomic<uint64_t> pcap_if_dropped{0};
  };
  struct Worker {
    Worker(const FlowTableOptions& to, size_t record_cap, uint32_t sampling,
           PacketSampler::Mode mode, uint64_t seed)
        : table(to), records(record_cap), sampler(sampling, mode, seed) {}
    std::unique_ptr<PcapSource> source;  // worker only
    FlowTable table;                     // worker only (caller after join)
    SpscRing<FlowRecord> records;        // worker -> caller
    PacketSampler sampler;               // worker only
    PacketCounters counters;             // worker only; published after each batch
    Published published;
    alignas(kCacheLineBytes) std::atomic<bool> exited{false};
    std::string failure;  // written before `exited` is set
    std::thread thread;
  };

  FanoutCapture() = default;
  void WorkerLoop(Worker& w);
  void Publish(Worker& w, bool with_pcap_stats);

  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<bool> stop_{false};
  bool started_ = false;
  bool finished_ = false;
  size_t next_drain_ = 0;
  Doorbell doorbell_;  // workers -> the export thread
  uint16_t group_id_ = 0;
  uint32_t if_index_ = 0;
  std::string buffer_note_;
};

}  // namespace nf

#endif  // NF_EXPORTER_APP_FANOUT_CAPTURE_H_
