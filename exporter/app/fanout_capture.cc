#include "exporter/app/fanout_capture.h"

#include <net/if.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"

namespace nf {
namespace {

TimeUs WallClockUs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return TimeUs{ts.tv_sec} * 1000000 + ts.tv_nsec / 1000;
}

// pcap_stats is a system call on Linux: once per this much wall time per worker is plenty for
// the status line and metrics (the final numbers are read when the worker leaves).
constexpr TimeUs kPcapStatsIntervalUs = 250'000;

}  // namespace

int FanoutBufferBytes(int total_bytes, size_t workers) {
  if (total_bytes <= 0 || workers == 0) return total_bytes;  // the platform's default
  const int share = static_cast<int>(static_cast<int64_t>(total_bytes) /
                                     static_cast<int64_t>(workers));
  return std::max(share, std::min(total_bytes, kMinFanoutBufferBytes));
}

absl::StatusOr<std::unique_ptr<FanoutCapture>> FanoutCapture::Open(const FanoutOptions& options) {
  if (options.workers < 2 || options.workers > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("fanout capture needs 2..64 workers, not ", options.workers));
  }
  std::unique_ptr<FanoutCapture> f(new FanoutCapture());
  f->group_id_ = FanoutGroupIdFor(options.pid);
  FlowTableOptions to = options.table;
  to.max_flows = (options.table.max_flows + options.workers - 1) / options.workers;
  // INPUT_SNMP: the interface's index, as the one-thread live path stamps it.
  to.input_if = if_nametoindex(options.capture.interface.c_str());
  LiveCaptureOptions lo = options.capture;
  lo.fanout_group = f->group_id_;
  lo.buffer_size_bytes = FanoutBufferBytes(options.capture.buffer_size_bytes, options.workers);
  for (size_t i = 0; i < options.workers; ++i) {
    auto w = std::make_unique<Worker>(to, options.record_ring_capacity, options.sampling,
                                      options.sampling_mode, options.sampling_seed + i);
    if (!w->table.ok()) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "cannot allocate a flow table of ", to.max_flows, " flows (lower --max-flows)"));
    }
    absl::StatusOr<std::unique_ptr<PcapSource>> src = PcapSource::OpenLive(lo);
    if (!src.ok()) return src.status();
    if (i == 0) {
      f->if_index_ = (*src)->if_index();
      f->buffer_note_ = (*src)->buffer_note();
    }
    w->source = std::move(*src);
    f->workers_.push_back(std::move(w));
  }
  return f;
}

FanoutCapture::~FanoutCapture() {
  Stop();
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

void FanoutCapture::Start() {
  if (started_) return;
  started_ = true;
  for (auto& w : workers_) {
    Worker* worker = w.get();
    w->thread = std::thread([this, worker] { WorkerLoop(*worker); });
  }
}

void FanoutCapture::Publish(Worker& w, bool with_pcap_stats) {
  constexpr auto r = std::memory_order_relaxed;
  Published& p = w.published;
  p.counters.Store(w.counters, w.table);
  if (with_pcap_stats) {
    const CaptureStats cs = w.source->Stats();
    p.pcap_dropped.store(cs.dropped, r);
    p.pcap_if_dropped.store(cs.if_dropped, r);
  }
}

void FanoutCapture::WorkerLoop(Worker& w) {
  // Expired records wait for ring space: a record must never be lost (the packets it carries
  // are already counted). The export thread sleeps until a ring is a quarter full (this
  // worker rings after its batch) or full (rung here), or its longest pause passes.
  auto push = [this, &w](const FlowRecord& rec) {
    PushRecordWaiting(w.records, rec, [this] { doorbell_.Ring(); });
  };
  const size_t ring_quarter = w.records.capacity() / 4;
  PacketCounters& c = w.counters;
  auto on_packet = [&](const RawPacket& pkt) {
    PacketMeta meta;
    if (ParseCountAndSample(pkt, w.sampler, c, meta)) w.table.Add(meta, push);
  };
  TimeUs next_stats = 0;
  while (!stop_.load(std::memory_order_relaxed)) {
    absl::StatusOr<int> n = w.source->Dispatch(256, on_packet);
    w.table.Poll(push);
    if (!n.ok()) {
      w.failure = std::string(n.status().message());
      break;
    }
    // Expiry on the wall clock, as the one-thread live path does after every batch.
    const TimeUs now = WallClockUs();
    w.table.AdvanceTime(now, push);
    if (w.records.SizeApprox() >= ring_quarter) doorbell_.Ring();
    const bool stats_due = now >= next_stats;
    if (stats_due) next_stats = now + kPcapStatsIntervalUs;
    Publish(w, stats_due);
  }
  w.table.Poll(push);
  Publish(w, /*with_pcap_stats=*/true);
  w.exited.store(true, std::memory_order_release);
}

size_t FanoutCapture::Drain(FlowSink sink) {
  return DrainRecordRings(workers_, next_drain_, sink);
}

std::string FanoutCapture::Failure() const {
  for (const auto& w : workers_) {
    if (w->exited.load(std::memory_order_acquire) && !w->failure.empty()) return w->failure;
  }
  return {};
}

void FanoutCapture::Finish(FlowSink sink) {
  if (finished_) return;
  finished_ = true;
  Stop();
  // Workers may be blocked on a full record ring: keep draining until every one has left.
  for (bool all_exited = false; !all_exited;) {
    all_exited = true;
    for (const auto& w : workers_) {
      all_exited &= !started_ || w->exited.load(std::memory_order_acquire);
    }
    if (Drain(sink) == 0 && !all_exited) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  Drain(sink);
  // The tables are the caller's now: flush them here, so no ring can fill during the flush.
  for (auto& w : workers_) {
    w->table.Finish(sink);
    Publish(*w, /*with_pcap_stats=*/false);
  }
}

std::vector<uint64_t> FanoutCapture::SeenPerWorker() const {
  std::vector<uint64_t> seen;
  for (const auto& w : workers_) seen.push_back(w->published.counters.seen());
  return seen;
}

FanoutTotals FanoutCapture::Totals() const {
  constexpr auto r = std::memory_order_relaxed;
  FanoutTotals t;
  for (const auto& w : workers_) {
    const Published& p = w->published;
    p.counters.AddTo(t.packets, t.meter);
    t.capture.received += p.counters.seen();
    t.capture.dropped += p.pcap_dropped.load(r);
    t.capture.if_dropped += p.pcap_if_dropped.load(r);
  }
  return t;
}

}  // namespace nf
