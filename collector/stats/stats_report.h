// Collector statistics as text (stderr at exit and on SIGUSR1) and as JSON (--stats-json).
//
// The JSON keys are a stable interface (the e2e tests and operators' scripts read them); they
// are listed in flowcollect_main.cc. Formatting lives here so it can be tested without a
// running collector.
#ifndef NF_COLLECTOR_STATS_STATS_REPORT_H_
#define NF_COLLECTOR_STATS_STATS_REPORT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"

#include "collector/decode/decoder.h"
#include "common/json_string.h"
#include "collector/receive/tcp_server.h"
#include "collector/receive/udp_server.h"

namespace nf {

// What the input side saw: sockets (live) or capture files (-r).
struct InputStats {
  ReceiveStats receive;
  uint64_t file_packets = 0;      // frames read from -r files
  uint64_t file_not_udp = 0;      // frames that were not unfragmented UDP (skipped)
  uint64_t file_port_filtered = 0;  // UDP to other ports with --port
  uint64_t file_truncated = 0;    // UDP payload cut by the capture snaplen
  uint64_t file_out_of_range = 0;  // datagrams received outside --from/--to
  uint64_t store_templates = 0;    // a store file's template datagrams learned (not traffic)
  // --listen-tcp: the TCP server's counters (text line and JSON key "tcp" only when set).
  bool tcp_listening = false;
  TcpReceiveStats tcp;
};

struct OutputStats {
  uint64_t rows = 0;
  uint64_t files = 0;
  uint64_t aggregate_groups = 0;
  uint64_t aggregate_overflow = 0;
  uint64_t files_failed = 0;  // output files removed after a write error (disk full, ...)
  uint64_t rows_lost = 0;     // rows (or records) that are in no committed file because of it
  std::string error;  // first output error, empty when fine
  uint64_t records_filtered = 0;  // records the -f filter left out (before every output)
  // The ClickHouse sink's JSON object (clickhouse::SinkStatsJson), written under the key
  // "clickhouse"; empty without --clickhouse (the key is then absent).
  std::string clickhouse_json;
  // The enrichment counters' JSON object, written under the key "enrichment"; empty without an
  // enrichment option (the key is then absent).
  std::string enrichment_json;
  // The flow store's counters (collector/store), written under the key "store"; empty without
  // --store.
  std::string store_json;
  // The --forward counters (collector/receive/datagram_forwarder.h: ForwardStatsJson), written
  // under the key "forward"; empty without --forward.
  std::string forward_json;
  // An HA node's counters (collector/ha), written under the key "ha"; empty without --ha-peer.
  std::string ha_json;
};

std::string StatsText(const Decoder& decoder, const InputStats& input, const OutputStats& output);
std::string StatsJson(const Decoder& decoder, const InputStats& input, const OutputStats& output);

// The decoder side of a report, copied out of one or several decoders (--workers): counters
// summed per exporter (first-seen order), template cache counters summed, templates cached the
// most any decoder holds (workers share them).
struct DecoderSummary {
  std::vector<std::pair<ExporterId, ExporterStats>> exporters;
  ExporterStats totals;
  TemplateCache::Counters templates;
  size_t templates_cached = 0;
  uint64_t exporters_refused = 0;
  // sFlow interfaces (agent, ifIndex) whose counters any decoder holds.
  absl::flat_hash_set<SflowInterfaceKey> sflow_interfaces;
  // Adds one decoder's counters (call on the thread that owns it).
  void Add(const Decoder& decoder);
  void Merge(const DecoderSummary& other);
};
std::string StatsText(const DecoderSummary& decoders, const InputStats& input,
                      const OutputStats& output);
std::string StatsJson(const DecoderSummary& decoders, const InputStats& input,
                      const OutputStats& output);

}  // namespace nf

#endif  // NF_COLLECTOR_STATS_STATS_REPORT_H_
