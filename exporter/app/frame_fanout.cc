#include "exporter/app/frame_fanout.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "capture/classic_pcap_reader.h"
#include "exporter/meter/sharded_meter.h"

namespace nf {
namespace {

constexpr size_t kPrefetchFrames = 8;

}  // namespace

absl::StatusOr<std::unique_ptr<FrameFanout>> FrameFanout::Create(const FrameFanoutOptions& options,
                                                                 PcapSource* source) {
  if (options.workers < 2 || options.workers > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("frame fanout needs 2..64 workers, not ", options.workers));
  }
  if (options.batches < options.workers + 1 || options.batches > 128 ||
      options.batch_bytes < ClassicPcapReader::kMinChunkBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("frame fanout needs workers + 1 to 128 batches of at least ",
                     ClassicPcapReader::kMinChunkBytes, " bytes"));
  }
  if (source == nullptr || !source->ReadsFrameBatches()) {
    return absl::InvalidArgumentError("frame fanout needs classic pcap files");
  }
  std::unique_ptr<FrameFanout> f(new FrameFanout());
  f->source_ = source;
  FlowTableOptions to = options.table;
  to.max_flows = (options.table.max_flows + options.workers - 1) / options.workers;
  for (size_t i = 0; i < options.workers; ++i) {
    auto w = std::make_unique<Worker>(i, to, options.record_ring_capacity);
    if (!w->table.ok()) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "cannot allocate a flow table of ", to.max_flows, " flows (lower --max-flows)"));
    }
    f->workers_.push_back(std::move(w));
  }
  f->sampler_ = PacketSampler(options.sampling, options.sampling_mode, options.sampling_seed);
  for (size_t i = 0; i < options.batches; ++i) {
    f->slots_.push_back(std::make_unique<Slot>(options.batch_bytes, options.workers));
  }
  for (auto& w : f->workers_) {
    Worker* worker = w.get();
    FrameFanout* self = f.get();
    w->thread = std::thread([self, worker] { self->WorkerLoop(*worker); });
  }
  return f;
}

FrameFanout::Slot::Slot(size_t batch_bytes, size_t workers) : batch(batch_bytes), shares(workers) {
  // Room for twice a fair share of a batch of 64-byte frames; a batch of tinier frames, or one
  // flow taking most of a batch, grows a share once, and it keeps that capacity.
  for (auto& share : shares) share.reserve(2 * batch_bytes / 64 / workers);
}

FrameFanout::~FrameFanout() {
  ended_.store(true, std::memory_order_release);
  Signal();
  for (auto& w : workers_) {
    // A worker blocked on a full ring would never leave: empty the rings while joining.
    while (!w->exited.load(std::memory_order_acquire)) {
      FlowRecord sink_away[64];
      while (w->records.PopBatch(sink_away, 64) > 0) {
      }
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    if (w->thread.joinable()) w->thread.join();
  }
}

void FrameFanout::Signal() {
  signal_.fetch_add(1, std::memory_order_release);
  signal_.notify_all();
}

void FrameFanout::Progress() {
  progress_.fetch_add(1, std::memory_order_release);
  progress_.notify_one();
}

bool FrameFanout::BatchFree(uint32_t seq) const {
  // Batch `seq` reuses the slot of batch seq - batches; it is free once every worker is past it.
  const uint32_t k = static_cast<uint32_t>(slots_.size());
  if (seq < k) return true;
  for (const auto& w : workers_) {
    if (w->done.load(std::memory_order_acquire) <= seq - k) return false;
  }
  return true;
}

void FrameFanout::ParseBatch(Worker& w, Slot& slot, uint32_t seq) {
  const size_t n = workers_.size();
  const uint32_t input_if = w.table.options().input_if;
  for (auto& share : slot.shares) share.clear();
  const FrameBatch& b = slot.batch;
  const uint8_t* base = b.bytes.get();
  const FrameRef* frames = b.frames.data();
  const size_t count = b.frames.size();
  RawPacket pkt;
  pkt.link = b.link;
  uint32_t ordinal = 0;
  for (size_t i = 0; i < count; ++i) {
    // The reader's read() left the batch in another core's cache: fetch frames a few ahead so
    // the parse of each one does not start with a miss (hints only).
    if (i + kPrefetchFrames < count) {
      const uint8_t* ahead = base + frames[i + kPrefetchFrames].offset;
      __builtin_prefetch(ahead);
      __builtin_prefetch(ahead + 64);
    }
    const FrameRef& f = frames[i];
    pkt.data = base + f.offset;
    pkt.caplen = f.caplen;
    pkt.wire_len = f.wire_len;
    pkt.time_us = f.time_us;
    PacketMeta meta;
    if (!ParseAndCount(pkt, w.counters, meta)) continue;
    const FlowKey key = FlowTable::KeyOf(meta, input_if);
    const uint32_t hash = FlowTable::HashOf(key, w.table.options());
    ParsedPacket& p = slot.shares[ShardedMeter::ShardOf(hash, n)].emplace_back();
    p.key = key;
    p.hash = hash;
    p.time_us = meta.time_us;
    p.l3_length = meta.l3_length;
    p.ordinal = ordinal++;
    p.tcp_flags = meta.tcp_flags;
    p.ttl = meta.ttl;
  }
  slot.parsed_count = ordinal;
  slot.last_time = count > 0 ? frames[count - 1].time_us : 0;
  slot.parsed.store(seq + 1, std::memory_order_release);
  Signal();
}

void FrameFanout::MeterBatch(Worker& w, const Slot& slot, uint64_t ordinal_base, FlowSink push) {
  const bool sampling = sampler_.interval() > 1;
  for (const ParsedPacket& p : slot.shares[w.index]) {
    if (sampling && !sampler_.TakeAt(ordinal_base + p.ordinal)) {
      ++w.counters.sampled_out;
      continue;
    }
    w.table.EnqueueHashed(p.key, p.hash, p.time_us, p.l3_length, p.tcp_flags, p.ttl, push);
  }
  // Drains the pipeline, then expires by the batch's last frame time: this worker's clock
  // advances with every frame read, not only with the packets it meters.
  w.table.ExpireUntil(slot.last_time, push);
}

void FrameFanout::WorkerLoop(Worker& w) {
  // A full ring wakes the reader, which may be waiting for this worker to finish a batch.
  auto push = [this, &w](const FlowRecord& rec) {
    PushRecordWaiting(w.records, rec, [this] { Progress(); });
  };
  const uint32_t n = static_cast<uint32_t>(workers_.size());
  const uint32_t k = static_cast<uint32_t>(slots_.size());
  uint32_t next_parse = static_cast<uint32_t>(w.index);  // this worker parses s % n == index
  uint32_t next_meter = 0;                               // and meters every batch, in order
  uint64_t ordinal_base = 0;  // packets parsed in the batches before next_meter
  for (;;) {
    const uint32_t signal = signal_.load(std::memory_order_acquire);
    const uint32_t published = published_.load(std::memory_order_acquire);
    bool worked = false;
    // One batch of its own to parse (the other workers may be waiting for it), then every
    // batch parsed so far to meter.
    if (next_parse < published) {
      ParseBatch(w, *slots_[next_parse % k], next_parse);
      next_parse += n;
      worked = true;
    }
    while (next_meter < published) {
      const Slot& slot = *slots_[next_meter % k];
      if (slot.parsed.load(std::memory_order_acquire) != next_meter + 1) break;
      MeterBatch(w, slot, ordinal_base, push);
      ordinal_base += slot.parsed_count;
      w.published.Store(w.counters, w.table);
      w.done.store(++next_meter, std::memory_order_release);
      Progress();
      worked = true;
    }
    if (worked) continue;
    if (ended_.load(std::memory_order_acquire) &&
        next_meter == published_.load(std::memory_order_acquire)) {
      break;
    }
    signal_.wait(signal, std::memory_order_acquire);
  }
  w.published.Store(w.counters, w.table);
  w.exited.store(true, std::memory_order_release);
  Progress();
}

absl::StatusOr<size_t> FrameFanout::Pump(FlowSink sink) {
  if (finished_) return absl::OutOfRangeError("end of input");
  while (!BatchFree(seq_)) {
    const uint32_t seen = progress_.load(std::memory_order_acquire);
    if (Drain(sink) > 0 || BatchFree(seq_)) continue;
    progress_.wait(seen, std::memory_order_acquire);
  }
  FrameBatch& b = slots_[seq_ % slots_.size()]->batch;
  absl::StatusOr<size_t> n = source_->ReadFrames(b);
  if (!n.ok()) return n.status();
  if (*n > 0) {
    if (first_time_ == 0) first_time_ = b.frames.front().time_us;
    now_ = std::max(now_, b.frames.back().time_us);
    ++seq_;
    published_.store(seq_, std::memory_order_release);
    Signal();
  }
  Drain(sink);
  return *n;
}

size_t FrameFanout::Drain(FlowSink sink) { return DrainRecordRings(workers_, next_drain_, sink); }

void FrameFanout::Finish(FlowSink sink) {
  if (finished_) return;
  finished_ = true;
  ended_.store(true, std::memory_order_release);
  Signal();
  // Workers finish every published batch; one may wait on a full ring meanwhile.
  for (;;) {
    const uint32_t seen = progress_.load(std::memory_order_acquire);
    bool all_exited = true;
    for (const auto& w : workers_) all_exited &= w->exited.load(std::memory_order_acquire);
    if (Drain(sink) > 0) continue;
    if (all_exited) break;
    progress_.wait(seen, std::memory_order_acquire);
  }
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  Drain(sink);
  // The tables are the caller's now: flush them here, so no ring can fill during the flush.
  for (auto& w : workers_) {
    w->table.Finish(sink);
    w->published.Store(w->counters, w->table);
  }
}

FanoutTotals FrameFanout::Totals() const {
  FanoutTotals t;
  for (const auto& w : workers_) w->published.AddTo(t.packets, t.meter);
  return t;
}

std::vector<uint64_t> FrameFanout::MeteredPerWorker() const {
  std::vector<uint64_t> metered;
  for (const auto& w : workers_) metered.push_back(w->published.table_packets());
  return metered;
}

}  // namespace nf
