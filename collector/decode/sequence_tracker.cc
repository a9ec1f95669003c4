#include "collector/decode/sequence_tracker.h"

#include <algorithm>

namespace nf {

namespace {

// Sequence jumps larger than this are a reset (restart, new stream), not loss.
constexpr int64_t kMaxSequenceGap = 1 << 20;
// sysUptime may step back this much from reordering before we call it a restart.
constexpr uint32_t kUptimeSlackMs = 10'000;

}  // namespace

void SequenceTracker::NoteV5Uptime(const Key& key, uint32_t uptime_ms, ExporterStats& stats) {
  // v5 keys are bounded by the 16-bit engine type/ID and the port, so no stream limit here.
  Stream& t = streams_[key];
  if (t.have_uptime && uptime_ms + kUptimeSlackMs < t.last_uptime) {
    ++stats.restarts;
    t.init = false;
  }
  t.have_uptime = true;
  t.last_uptime = uptime_ms;
}

void SequenceTracker::NoteV9Uptime(const Key& key, uint32_t uptime_ms, ExporterStats& stats) {
  auto it = streams_.find(key);
  if (it != streams_.end()) {
    Stream& t = it->second;
    const bool wrapped = t.last_uptime > 0xF0000000u && uptime_ms < 0x10000000u;
    if (t.have_uptime && !wrapped && uptime_ms + kUptimeSlackMs < t.last_uptime) {
      ++stats.restarts;
      t.init = false;  // a restarted exporter starts a new sequence: not loss
    }
    t.have_uptime = true;
    t.last_uptime = uptime_ms;
  } else if (streams_.size() < kMaxStreams) {
    Stream t;
    t.have_uptime = true;
    t.last_uptime = uptime_ms;
    streams_.emplace(key, t);
  }
}

void SequenceTracker::Check(const Key& key, uint32_t seq, uint32_t units, bool countable,
                            int64_t alt_units, uint32_t reorder_window, ExporterStats& stats) {
  auto it = streams_.find(key);
  if (it == streams_.end()) {
    if (streams_.size() >= kMaxStreams) return;
    it = streams_.emplace(key, Stream{}).first;
  }
  Stream& t = it->second;
  const bool have_alt = alt_units >= 0;
  const uint32_t alt = have_alt ? static_cast<uint32_t>(alt_units) : units;
  auto advance = [&] {
    t.expected = seq + units;
    t.expected_alt = seq + alt;
  };
  if (!t.init) {
    if (countable) {
      t.init = true;
      advance();
    }
    return;
  }
  uint32_t want = t.alt_mode ? t.expected_alt : t.expected;
  if (have_alt && !t.alt_mode && seq != t.expected && seq == t.expected_alt &&
      t.expected != t.expected_alt) {
    // The gap is exactly the previous datagram's flow count: this exporter numbers flows.
    t.alt_mode = true;
    want = seq;
  }
  const uint32_t step = t.alt_mode ? alt : units;
  const int64_t diff = static_cast<int32_t>(seq - want);
  if (diff == 0) {
    advance();
  } else if (diff > 0) {
    if (diff <= kMaxSequenceGap) {
      stats.sequence_lost += static_cast<uint64_t>(diff);
    } else {
      ++stats.sequence_resets;
    }
    advance();
  } else if (-diff <= static_cast<int64_t>(reorder_window)) {
    // A late datagram we already counted as missing: it was reordered, not lost.
    ++stats.sequence_reordered;
    stats.sequence_lost -= std::min<uint64_t>(stats.sequence_lost, step);
  } else {
    ++stats.sequence_resets;
    advance();
  }
  // Without a flow count an exporter that numbers flows cannot be followed: resync next time.
  if (!countable || (t.alt_mode && !have_alt)) t.init = false;
}

void SequenceTracker::Forget(uint16_t port) {
  for (auto it = streams_.begin(); it != streams_.end();) {
    if (it->first.port == port) {
      streams_.erase(it++);
    } else {
      ++it;
    }
  }
}

}  // namespace nf
