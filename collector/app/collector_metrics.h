// The flowcollect_* metrics: decoder, receive, ClickHouse-sink and enrichment counters exposed
// through an nf::metrics::Registry, summed over decode workers.
//
// The decoder's per-exporter stats are plain integers owned by one decode thread, so they are
// never read from the scrape thread directly: each worker calls Publish() from its own thread
// now and then (e.g. once a second and at exit), which copies them into that worker's slot
// under a mutex — one lock per publish, nothing per packet. A scrape sums the slots. The
// ClickHouse sink's counters are atomics and are read live.
#ifndef NF_COLLECTOR_APP_COLLECTOR_METRICS_H_
#define NF_COLLECTOR_APP_COLLECTOR_METRICS_H_

#include <cstddef>
#include <mutex>
#include <utility>
#include <vector>

#include "collector/output/clickhouse/clickhouse_sink.h"
#include "collector/decode/decoder.h"
#include "metrics/registry.h"
#include "collector/ha/ha_node.h"
#include "collector/receive/datagram_forwarder.h"
#include "collector/receive/tcp_server.h"
#include "collector/receive/udp_server.h"
#include "collector/store/store_writer.h"
#include "enrich/enrichment.h"

namespace nf::metrics {

class CollectorStatsPublisher {
 public:
  explicit CollectorStatsPublisher(size_t workers);

  // Copies `decoder`'s per-exporter stats and `receive` into slot `worker`. Call from the
  // thread that owns `decoder`. `receive` may be null (file input).
  void Publish(size_t worker, const Decoder& decoder, const ReceiveStats* receive);
  // Copies the TCP server's counters (--listen-tcp; worker 0's thread). The flowcollect_tcp_*
  // metrics exist from the first call on.
  void PublishTcp(const TcpReceiveStats& tcp);

  // Registers the scrape callback (flowcollect_* decoder and socket metrics). The publisher
  // must outlive the registry's use.
  void Register(Registry& registry) const;

  // The summed snapshot (what a scrape renders), per exporter address in first-seen order.
  struct Totals {
    std::vector<std::pair<IpAddress, ExporterStats>> exporters;
    std::vector<uint64_t> templates_held;  // parallel to exporters (max over workers)
    ReceiveStats receive;
    uint64_t exporters_refused = 0;
    // sFlow interface counters, by (agent, ifIndex); a key two workers hold: the newer.
    std::vector<std::pair<SflowInterfaceKey, SflowInterfaceCounters>> sflow_interfaces;
  };
  Totals Sum() const;

 private:
  struct Slot {
    std::vector<std::pair<ExporterId, ExporterStats>> exporters;
    std::vector<uint64_t> templates_held;
    ReceiveStats receive;
    uint64_t exporters_refused = 0;
    std::vector<std::pair<SflowInterfaceKey, SflowInterfaceCounters>> sflow_interfaces;
  };
  mutable std::mutex mu_;
  std::vector<Slot> slots_;
  bool has_tcp_ = false;
  TcpReceiveStats tcp_;
};

// Registers flowcollect_clickhouse_* metrics read live from `writer`'s atomic counters.
void RegisterClickHouseMetrics(Registry& registry, const clickhouse::ClickHouseWriter& writer);

// Registers flowcollect_enrichment_* metrics (reloads, failures, generation, MaxMind lookup
// errors), read at each scrape from `enrichment`, which must outlive the registry's use.
void RegisterEnrichmentMetrics(Registry& registry, const Enrichment& enrichment);
// flowcollect_store_*: the --store writer's counters.
void RegisterStoreMetrics(Registry& registry, const StoreWriter& store);
// flowcollect_forward_*: --forward's counters per destination, read at each scrape from
// `forwarder`, which must outlive the registry's use.
void RegisterForwardMetrics(Registry& registry, const DatagramForwarder& forwarder);
// flowcollect_ha_*: the active/standby node's role, confirmations and spool, read at each
// scrape from `node`, which must outlive the registry's use.
void RegisterHaMetrics(Registry& registry, const HaNode& node);

}  // namespace nf::metrics

#endif  // NF_COLLECTOR_APP_COLLECTOR_METRICS_H_
