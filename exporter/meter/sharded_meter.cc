#include "exporter/meter/sharded_meter.h"

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace nf {
namespace {

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Waiting without a lock: spin briefly (the other side is usually mid-batch), then yield the
// core (2 cores are shared with the capture thread), then sleep in short naps so an idle
// worker costs almost nothing. Reset after every success.
class Backoff {
 public:
  void Wait() {
    if (round_ < 64) {
      CpuRelax();
    } else if (round_ < 128) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(round_ < 256 ? 20 : 200));
    }
    if (round_ < 1024) ++round_;
  }
  void Reset() { round_ = 0; }

 private:
  uint32_t round_ = 0;
};

constexpr size_t kRecordBatch = 32;

}  // namespace

const char* RingFullPolicyName(RingFullPolicy p) {
  return p == RingFullPolicy::kDrop ? "drop" : "block";
}

absl::StatusOr<RingFullPolicy> ParseRingFullPolicy(absl::string_view name) {
  if (name == "block") return RingFullPolicy::kBlock;
  if (name == "drop") return RingFullPolicy::kDrop;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown ring-full policy '", name, "' (expected block or drop)"));
}

absl::StatusOr<std::unique_ptr<ShardedMeter>> ShardedMeter::Create(
    const ShardedMeterOptions& options) {
  if (options.shards < 1 || options.shards > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("shard count must be 1..64, got ", options.shards));
  }
  if (options.packet_ring_capacity < kBatch || options.record_ring_capacity < kRecordBatch) {
    return absl::InvalidArgumentError(absl::StrCat("ring capacities must be at least ", kBatch));
  }
  std::unique_ptr<ShardedMeter> m(new ShardedMeter(options));
  for (const auto& s : m->shards_) {
    if (!s->table.ok() || !s->packets.ok() || !s->records.ok()) {
      return absl::ResourceExhaustedError(
          absl::StrCat("cannot allocate ", options.shards, " flow-table shards of ",
                       s->table.options().max_flows, " flows and their rings (lower --max-flows)"));
    }
  }
  for (const auto& s : m->shards_) {
    Shard* shard = s.get();
    ShardedMeter* self = m.get();
    shard->thread = std::thread([self, shard] { self->WorkerLoop(*shard); });
  }
  return m;
}

ShardedMeter::ShardedMeter(const ShardedMeterOptions& options) : options_(options) {
  FlowTableOptions to = options.table;
  to.max_flows = (options.table.max_flows + options.shards - 1) / options.shards;
  shards_.reserve(options.shards);
  for (size_t i = 0; i < options.shards; ++i) {
    shards_.push_back(
        std::make_unique<Shard>(to, options.packet_ring_capacity, options.record_ring_capacity));
  }
}

ShardedMeter::~ShardedMeter() { StopWorkers(); }

void ShardedMeter::StopWorkers() {
  abort_.store(true, std::memory_order_release);
  for (auto& s : shards_) {
    if (s->thread.joinable()) s->thread.join();
  }
  finished_ = true;
}

// ---- Worker side.

void ShardedMeter::WorkerLoop(Shard& shard) {
  FlowTable& table = shard.table;
  std::array<ShardWork, kBatch> in;
  std::array<FlowRecord, kRecordBatch> out;
  size_t out_n = 0;
  Backoff backoff;
  bool aborted = false;

  // Pushes the staged records, waiting for the caller to drain. Only an abort ends the wait
  // early (the records are then discarded with the meter).
  auto push_records = [&] {
    size_t done = 0;
    Backoff wait;
    while (done < out_n) {
      const size_t n = shard.records.PushBatch(out.data() + done, out_n - done);
      done += n;
      if (n != 0) {
        wait.Reset();
      } else if (abort_.load(std::memory_order_acquire)) {
        aborted = true;
        break;
      } else {
        wait.Wait();
      }
    }
    out_n = 0;
  };
  auto sink = [&](const FlowRecord& r) {
    out[out_n++] = r;
    if (out_n == out.size()) push_records();
  };
  auto publish_stats = [&] {
    const FlowTableStats& st = table.stats();
    Published& p = shard.published;
    p.packets.store(st.packets, std::memory_order_relaxed);
    p.bytes.store(st.bytes, std::memory_order_relaxed);
    p.flows_created.store(st.flows_created, std::memory_order_relaxed);
    for (size_t i = 0; i < kEndReasonSlots; ++i) {
      p.expired[i].store(st.expired[i], std::memory_order_relaxed);
    }
    p.active.store(table.active_flows(), std::memory_order_relaxed);
  };

  bool flushed = false;
  while (!flushed && !aborted) {
    const size_t n = shard.packets.PopBatch(in.data(), in.size());
    if (n == 0) {
      if (abort_.load(std::memory_order_acquire)) break;
      backoff.Wait();
      continue;
    }
    backoff.Reset();
    for (size_t i = 0; i < n && !aborted; ++i) {
      const ShardWork& w = in[i];
      switch (w.kind) {
        case ShardWork::kPacket: {
          FlowKey key;
          key.src = w.src;
          key.dst = w.dst;
          key.src_port = w.src_port;
          key.dst_port = w.dst_port;
          key.protocol = w.protocol;
          key.tos = w.tos;
          key.vlan = w.vlan;
          key.input_if = options_.table.input_if;
          // Pipelined: the slot and entry of the next packets are fetched while this one is
          // accounted; drained below before stats are published.
          table.EnqueueHashed(key, w.hash, w.time_us, w.l3_length, w.tcp_flags, w.ttl, sink);
          break;
        }
        case ShardWork::kTick:
          table.ExpireUntil(w.time_us, sink);
          break;
        case ShardWork::kFlush:
          table.ExpireUntil(w.time_us, sink);
          table.FlushAll(sink);
          flushed = true;
          break;
        default:
          break;
      }
    }
    table.Drain(sink);
    // Records go out at the end of every batch so none waits on an idle shard.
    push_records();
    publish_stats();
  }
  publish_stats();
  // Release: the caller's acquire of `done` sees every record pushed before it.
  shard.done.store(true, std::memory_order_release);
}

// ---- Caller side.

size_t ShardedMeter::DrainOnce(RecordSink sink) {
  std::array<FlowRecord, kRecordBatch> buf;
  size_t total = 0;
  const size_t n_shards = shards_.size();
  for (size_t k = 0; k < n_shards; ++k) {
    Shard& s = *shards_[(next_drain_ + k) % n_shards];
    // Bounded: at most one ring's worth per shard per call, so one busy shard cannot starve
    // the caller's capture.
    size_t taken = 0;
    while (taken < s.records.capacity()) {
      const size_t n = s.records.PopBatch(buf.data(), buf.size());
      if (n == 0) break;
      for (size_t i = 0; i < n; ++i) sink(buf[i]);
      taken += n;
    }
    total += taken;
  }
  next_drain_ = (next_drain_ + 1) % n_shards;
  return total;
}

void ShardedMeter::PushBlocking(Shard& shard, const ShardWork* items, size_t n, RecordSink sink) {
  size_t done = 0;
  Backoff backoff;
  bool counted = false;
  while (done < n) {
    const size_t k = shard.packets.PushBatch(items + done, n - done);
    done += k;
    if (done == n) break;
    if (k != 0) {
      backoff.Reset();
      continue;
    }
    if (!counted) {
      ++waits_;
      counted = true;
    }
    // The worker may itself be waiting for room on its record ring: drain while we wait.
    if (DrainOnce(sink) == 0) backoff.Wait();
  }
}

void ShardedMeter::Publish(Shard& shard, RecordSink sink) {
  if (shard.staged == 0) return;
  const size_t n = shard.staged;
  shard.staged = 0;
  if (options_.ring_full == RingFullPolicy::kBlock) {
    PushBlocking(shard, shard.stage.data(), n, sink);
    return;
  }
  const size_t pushed = shard.packets.PushBatch(shard.stage.data(), n);
  // Drop policy: packets that did not fit are dropped and counted; control items (ticks,
  // flush) are never dropped, they wait for room.
  for (size_t i = pushed; i < n; ++i) {
    if (shard.stage[i].kind == ShardWork::kPacket) {
      ++drops_;
    } else {
      PushBlocking(shard, &shard.stage[i], 1, sink);
    }
  }
}

void ShardedMeter::Stage(Shard& shard, const ShardWork& item, RecordSink sink) {
  shard.stage[shard.staged++] = item;
  if (item.time_us > shard.last_time_sent) shard.last_time_sent = item.time_us;
  if (shard.staged == kBatch) Publish(shard, sink);
}

void ShardedMeter::BroadcastTick(TimeUs now, RecordSink sink) {
  last_tick_ = now;
  ShardWork tick{};
  tick.kind = ShardWork::kTick;
  tick.time_us = now;
  for (auto& s : shards_) {
    // A shard that already has work this recent will advance its clock by itself.
    if (s->last_time_sent >= now) continue;
    ++ticks_;
    Stage(*s, tick, sink);
  }
}

bool ShardedMeter::Submit(const PacketMeta& meta, RecordSink sink) {
  if (finished_) return false;
  ++submitted_;
  if (meta.time_us > now_) now_ = meta.time_us;
  if (options_.tick_interval_us > 0) {
    if (last_tick_ == INT64_MIN) {
      last_tick_ = now_;
    } else if (now_ - last_tick_ >= options_.tick_interval_us) {
      BroadcastTick(now_, sink);
    }
  }
  const FlowKey key = FlowTable::KeyOf(meta, options_.table.input_if);
  ShardWork w;
  w.src = key.src;
  w.dst = key.dst;
  w.src_port = key.src_port;
  w.dst_port = key.dst_port;
  w.protocol = key.protocol;
  w.tos = key.tos;
  w.vlan = key.vlan;
  w.tcp_flags = meta.tcp_flags;
  w.ttl = meta.ttl;
  w.kind = ShardWork::kPacket;
  std::memset(w.pad, 0, sizeof(w.pad));
  w.hash = FlowTable::HashOf(key, options_.table);
  w.l3_length = meta.l3_length;
  w.time_us = meta.time_us;
  Stage(*shards_[ShardOf(w.hash, shards_.size())], w, sink);
  return true;
}

size_t ShardedMeter::Poll(RecordSink sink) {
  if (!finished_) {
    for (auto& s : shards_) Publish(*s, sink);
  }
  return DrainOnce(sink);
}

void ShardedMeter::AdvanceTime(TimeUs now, RecordSink sink) {
  if (finished_) return;
  if (now > now_) now_ = now;
  BroadcastTick(now_, sink);
  Poll(sink);
}

void ShardedMeter::Finish(RecordSink sink) {
  if (finished_) return;
  // The flush item carries the latest time, so each shard first expires what one table would
  // have expired by then (idle and active timeouts), then flushes the rest as kForcedEnd.
  ShardWork flush{};
  flush.kind = ShardWork::kFlush;
  flush.time_us = now_;
  for (auto& s : shards_) {
    Publish(*s, sink);
    PushBlocking(*s, &flush, 1, sink);
  }
  // Drain until every worker has flushed; `done` is released after its last record push.
  Backoff backoff;
  for (;;) {
    bool all_done = true;
    for (auto& s : shards_) {
      if (!s->done.load(std::memory_order_acquire)) all_done = false;
    }
    const size_t got = DrainOnce(sink);
    if (all_done) {
      while (DrainOnce(sink) != 0) {
      }
      break;
    }
    if (got == 0) {
      backoff.Wait();
    } else {
      backoff.Reset();
    }
  }
  for (auto& s : shards_) {
    if (s->thread.joinable()) s->thread.join();
  }
  finished_ = true;
}

ShardedMeterStats ShardedMeter::stats() const {
  ShardedMeterStats out;
  for (const auto& s : shards_) {
    const Published& p = s->published;
    out.table.packets += p.packets.load(std::memory_order_relaxed);
    out.table.bytes += p.bytes.load(std::memory_order_relaxed);
    out.table.flows_created += p.flows_created.load(std::memory_order_relaxed);
    for (size_t i = 0; i < kEndReasonSlots; ++i) {
      out.table.expired[i] += p.expired[i].load(std::memory_order_relaxed);
    }
    out.active_flows += p.active.load(std::memory_order_relaxed);
  }
  out.packets_submitted = submitted_;
  out.ring_full_drops = drops_;
  out.ring_full_waits = waits_;
  out.ticks = ticks_;
  return out;
}

MeterTotals ShardedMeter::Totals() const {
  const ShardedMeterStats s = stats();
  return {s.table, s.active_flows, s.ring_full_drops};
}

}  // namespace nf
