// The flowexport_* Prometheus metrics: capture, parsing, flow-table, encoder and sender
// counters of one flowexport process, served through nf::metrics (metrics/metrics_http.h).
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

#include "metrics/metrics_http.h"

namespace nf {

// One copy of flowexport's statistics; field meanings as in the --stats-json keys of the same
// name (exporter/flowexport_main.cc).
struct ExportSnapshot {
  struct Collector {
    std::string name;     // as given with -c
    std::string address;  // resolved address:port
    uint64_t datagrams = 0;
    uint64_t send_errors = 0;
  };
  uint64_t packets_seen = 0;
  uint64_t packets_parsed = 0;
  // (reason, count): every ParseResult except ok, every reason even when 0, so rate() works
  // from the first scrape.
  std::vector<std::pair<std::string, uint64_t>> packets_dropped;
  uint64_t packets_sampled_out = 0;
  uint64_t packets_fragment = 0;
  uint64_t packets_non_first_fragment = 0;
  uint64_t packets_l4_truncated = 0;
  uint64_t packets_ring_full_dropped = 0;
  uint64_t pcap_dropped = 0;
  uint64_t pcap_if_dropped = 0;
  uint64_t flows_created = 0;
  std::vector<std::pair<std::string, uint64_t>> flows_expired;  // (end reason, count)
  uint64_t flows_active = 0;
  uint64_t packets_exported = 0;
  uint64_t bytes_exported = 0;
  uint64_t records_sent = 0;
  uint64_t template_records_sent = 0;
  uint64_t records_not_exportable = 0;
  uint64_t datagrams_sent = 0;
  std::vector<Collector> collectors;
};

namespace metrics {

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

}  // namespace metrics
}  // namespace nf

#endif  // NF_EXPORTER_APP_EXPORT_METRICS_H_
