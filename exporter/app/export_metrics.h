// The flowexport_* Prometheus metrics: capture, parsing, flow-table, encoder and sender
// counters of one flowexport process, served through nf::metrics (metrics/registry.h).
//
// flowexport's counters are plain integers owned by the capture loop (and the flow-table
// shards' own threads with --threads), so the scrape thread never reads them: the capture
// loop builds an ExportSnapshot about once a second (Due()) and once more after the final
// flush, and Publish() swaps it in under a mutex — one lock per second, nothing per packet.
// A scrape renders the last published snapshot, so after the final publish the endpoint shows
// exactly what --stats-json reports at exit.
#ifndef NF_EXPORTER_APP_EXPORT_METRICS_H_
#define NF_EXPORTER_APP_EXPORT_METRICS_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "exporter/app/export_stats.h"
#include "metrics/registry.h"

namespace nf::metrics {

class ExportStatsPublisher {
 public:
  // `interval_us`: how often Due() says yes (monotonic clock).
  explicit ExportStatsPublisher(int64_t interval_us = 1'000'000) : interval_us_(interval_us) {}

  // True when a snapshot should be published now (at most once per interval; one
  // clock_gettime, cheap enough once per capture batch). Call from the capture loop only.
  bool Due();
  void Publish(ExportSnapshot snapshot);
  ExportSnapshot Last() const;

  // Registers the scrape callback (all flowexport_* metrics). The publisher must outlive the
  // registry's use.
  void Register(Registry& registry) const;

 private:
  int64_t interval_us_;
  int64_t next_us_ = 0;  // capture-loop state (Due)
  mutable std::mutex mu_;
  ExportSnapshot last_;
};

// Renders `s` as flowexport_* samples (what the registered callback does). Exposed for tests.
void WriteExportSamples(const ExportSnapshot& s, SampleWriter& w);

}  // namespace nf::metrics

#endif  // NF_EXPORTER_APP_EXPORT_METRICS_H_
