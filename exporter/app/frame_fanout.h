// Multi-core reading of capture files (`flowexport -r FILE --threads N`) with no per-packet
// hand-off: the reader hands out batches of whole frames, and the workers parse them.
//
// Threads and roles:
// - The caller (the export thread) is the reader. Pump reads the next ~1 MiB of the files
//   straight into a free batch (PcapSource::ReadFrames: read(), the record headers walked, the
//   BPF filter applied; no frame is parsed or copied) and publishes it. It delivers expired
//   records while it waits for a free batch, and between batches.
// - Batch s is parsed by worker s % N, once: each packet's flow key is built and hashed once
//   (FlowTable::KeyOf/HashOf) and appended to the batch's list for the worker that owns the
//   hash (ShardedMeter::ShardOf). Then every worker meters its own list of every batch, in file
//   order, into its own FlowTable. So parsing and hashing run on the workers, spread over them,
//   and what crosses threads is a batch (~2,000 frames) at a time, in plain arrays written once
//   and read once: no per-packet atomic, ring slot or wake-up.
// - Expired records go by value over one SPSC ring per worker to the caller, which enriches,
//   encodes and sends them as with one thread.
//
// Counted once: a batch's frames are counted (seen, parse results, fragments) by the worker that
// parses it, and a parsed packet's sampling by the worker that meters it. Sampling is the
// one-thread path's: PacketSampler decides by a packet's ordinal among the parsed packets, and
// each worker knows the ordinals because it meters every batch in order. The filter runs once,
// in the reader.
//
// Equivalence with one FlowTable: a flow's packets all reach one worker, in file order, so each
// flow is one record with the same packets, bytes and times. Every worker's clock also advances
// to the last frame of each batch (ExpireUntil), so idle flows expire although the worker's own
// packets stopped. The tables differ only in size (max_flows / N each), so a full table evicts
// per worker; packet times that go backwards are clamped per worker.
//
// Why one reader: workers that each read their own ranges with pread (and walk the record
// headers in file order between them) were built and measured: on two cores they took as long
// and 10-20% more CPU (the copy into each parsing core's cache evicts its flow table). On two
// cores the reader is not the limit; its share is the read() copy and the header walk.
#ifndef NF_EXPORTER_APP_FRAME_FANOUT_H_
#define NF_EXPORTER_APP_FRAME_FANOUT_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "capture/pcap_source.h"
#include "common/flow_record.h"
#include "exporter/app/fanout_capture.h"
#include "exporter/app/packet_step.h"
#include "exporter/app/worker_counters.h"
#include "exporter/meter/flow_table.h"
#include "exporter/meter/meter.h"
#include "exporter/meter/spsc_ring.h"

namespace nf {

struct FrameFanoutOptions {
  size_t workers = 2;      // 2..64
  FlowTableOptions table;  // max_flows is split evenly (rounded up) over the workers
  uint32_t sampling = 1;   // 1 in N of the parsed packets, the same ones as with one thread
  PacketSampler::Mode sampling_mode = PacketSampler::Mode::kDeterministic;
  uint64_t sampling_seed = 1;
  size_t record_ring_capacity = 4096;  // per worker
  size_t batches = 4;                  // frame batches in flight, workers + 1 .. 128
  size_t batch_bytes = 1 << 20;        // at least ClassicPcapReader::kMinChunkBytes
};

class FrameFanout {
 public:
  // Allocates the tables, rings and batches and starts the workers. `source` must read frame
  // batches (PcapSource::ReadsFrameBatches) and outlive this object.
  static absl::StatusOr<std::unique_ptr<FrameFanout>> Create(const FrameFanoutOptions& options,
                                                             PcapSource* source);
  // Stops and joins the workers if Finish was not called (records not drained are lost).
  ~FrameFanout();
  FrameFanout(const FrameFanout&) = delete;
  FrameFanout& operator=(const FrameFanout&) = delete;

  // All of the following are for the one caller thread.

  // Waits for a free batch (delivering records meanwhile), reads the next frames into it and
  // hands it to the workers, then delivers the records already expired. Returns the frames read
  // (0 when the filter took all of them); OutOfRangeError at the end of the input; the
  // source's error for a malformed file.
  absl::StatusOr<size_t> Pump(FlowSink sink);
  // Delivers every record the workers have expired so far, round-robin. Returns how many.
  size_t Drain(FlowSink sink);
  // Lets the workers finish every batch handed out, joins them and flushes every flow
  // (kForcedEnd) into `sink`. Idempotent.
  void Finish(FlowSink sink);
  // Counters as of each worker's last batch (exact after Finish). `capture` stays empty: the
  // source counts the frames read (PcapSource::Stats).
  FanoutTotals Totals() const;
  // Packets each worker metered (how evenly the flow hash spreads the traffic).
  std::vector<uint64_t> MeteredPerWorker() const;

  // The latest frame time read (the export clock), and the first (the exporter's boot time);
  // 0 before the first frame.
  TimeUs now() const { return now_; }
  TimeUs first_time() const { return first_time_; }
  size_t workers() const { return workers_.size(); }

 private:
  // One parsed packet on its way from the worker that parsed it to the one that meters it.
  struct ParsedPacket {
    FlowKey key;
    TimeUs time_us;
    uint32_t hash;      // FlowTable::HashOf(key)
    uint32_t l3_length;
    uint32_t ordinal;   // among the batch's parsed packets (for the sampler)
    uint8_t tcp_flags;
    uint8_t ttl;
  };
  // One batch in flight: its frames, and once parsed, its packets split by owner.
  struct Slot {
    Slot(size_t batch_bytes, size_t workers);
    FrameBatch batch;                                // reader, then workers (read only)
    std::vector<std::vector<ParsedPacket>> shares;   // [owner]: written by the parsing worker
    uint32_t parsed_count = 0;                       // packets parsed (sampler ordinals)
    TimeUs last_time = 0;                            // of the batch's last frame
    // seq + 1 once batch `seq` in this slot is parsed (release: shares and counts are written).
    alignas(kCacheLineBytes) std::atomic<uint32_t> parsed{0};
  };
  struct Worker {
    Worker(size_t i, const FlowTableOptions& to, size_t record_cap)
        : index(i), table(to), records(record_cap) {}
    size_t index;
    FlowTable table;               // worker only (caller after join)
    SpscRing<FlowRecord> records;  // worker -> caller
    PacketCounters counters;       // worker only; published after each batch
    WorkerCounters published;
    // Batches this worker has metered: batch s's slot is free again once every worker's `done`
    // exceeds s.
    alignas(kCacheLineBytes) std::atomic<uint32_t> done{0};
    std::atomic<bool> exited{false};
    std::thread thread;
  };

  FrameFanout() = default;
  void WorkerLoop(Worker& w);
  void ParseBatch(Worker& w, Slot& slot, uint32_t seq);
  void MeterBatch(Worker& w, const Slot& slot, uint64_t ordinal_base, FlowSink push);
  bool BatchFree(uint32_t seq) const;
  // Wakes the workers (a new batch, a batch parsed, the end).
  void Signal();
  // Wakes the reader (a batch metered, a full record ring, a worker leaving).
  void Progress();

  PcapSource* source_ = nullptr;
  std::vector<std::unique_ptr<Worker>> workers_;
  PacketSampler sampler_{1, PacketSampler::Mode::kDeterministic};  // read only (TakeAt)
  std::vector<std::unique_ptr<Slot>> slots_;
  // Batches handed out so far (batch s lives in slots_[s % slots_.size()]). uint32_t for
  // the futex behind atomic wait; at 1 MiB a batch it wraps after 4 PiB of capture.
  alignas(kCacheLineBytes) std::atomic<uint32_t> published_{0};
  std::atomic<bool> ended_{false};
  // Bumped by the reader on every publish and at the end, and by a worker when it has parsed a
  // batch: what idle workers wait on.
  alignas(kCacheLineBytes) std::atomic<uint32_t> signal_{0};
  // Bumped by a worker when it has metered a batch or finds its record ring full: what the
  // reader waits on.
  alignas(kCacheLineBytes) std::atomic<uint32_t> progress_{0};
  uint32_t seq_ = 0;  // caller: the next batch to publish
  bool finished_ = false;
  size_t next_drain_ = 0;
  TimeUs now_ = 0;
  TimeUs first_time_ = 0;
};

}  // namespace nf

#endif  // NF_EXPORTER_APP_FRAME_FANOUT_H_
