// The early-data buffer of one exporter: data sets that arrived before their template (cold
// start, router reboot, data set placed before the template set in one datagram), kept with
// what decoding them later needs until the template arrives or they age out.
//
// Invariants: at most `max_sets` sets and `max_bytes` body bytes are held (what does not fit
// is dropped and counted); sets are held in arrival order, so the oldest is at the front and
// ageing stops at the first young one; stats.early_sets_pending always equals size() after
// every call. This is the cold path: buffering copies the set body.
#ifndef NF_COLLECTOR_DECODE_EARLY_BUFFER_H_
#define NF_COLLECTOR_DECODE_EARLY_BUFFER_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <vector>

#include "collector/decode/decode_stats.h"
#include "collector/decode/decoded_record.h"
#include "collector/decode/template_cache.h"
#include "common/time_format.h"

namespace nf {

// A data set whose template was unknown, kept with what decoding it later needs.
struct EarlySet {
  TemplateKey key;
  ExporterId exporter;
  uint32_t sys_uptime_ms;
  uint32_t export_secs;
  TimeUs receive_time;
  std::vector<uint8_t> body;
};

class EarlyBuffer {
 public:
  struct Limits {
    size_t max_sets = 0;
    size_t max_bytes = 0;
    int64_t max_age_us = 0;
  };

  bool empty() const { return sets_.empty(); }
  size_t size() const { return sets_.size(); }

  // Keeps a copy of `body`. False (counted as dropped and kEarlyBufferFull) when full.
  bool Add(const Limits& limits, const TemplateKey& key, const ExporterId& exporter,
           uint32_t sys_uptime_ms, uint32_t export_secs, TimeUs receive_time,
           std::span<const uint8_t> body, ExporterStats& stats);
  // Moves the sets waiting for `key` into `out` (appended, in arrival order).
  void TakeFor(const TemplateKey& key, std::vector<EarlySet>& out, ExporterStats& stats);
  // Drops (counting as aged out) sets received more than limits.max_age_us before `now`.
  void Age(const Limits& limits, TimeUs now, ExporterStats& stats);
  // Drops (counting as aged out) the sets of one exporter address and port: a TCP session that
  // ended, whose templates can no longer come.
  void DiscardFor(const IpAddress& exporter, uint16_t port, ExporterStats& stats);
  // Drops every set, counting each as aged out (end of input / shutdown).
  void DiscardAll(ExporterStats& stats);

 private:
  std::deque<EarlySet> sets_;
  size_t bytes_ = 0;
};

}  // namespace nf

#endif  // NF_COLLECTOR_DECODE_EARLY_BUFFER_H_
