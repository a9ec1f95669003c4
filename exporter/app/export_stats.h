// flowexport's statistics, read once into one snapshot: the --stats-json file, the printed
// summary (at exit and on SIGUSR1), the --verbose status line and the Prometheus metrics
// (exporter/app/export_metrics.h) are all produced from an ExportSnapshot, so they cannot
// disagree.
//
// Statistics JSON (--stats-json FILE, written atomically at exit; keys are stable, other tools
// and tests read them):
//   {
//     "packets_seen": N,            frames delivered by libpcap
//     "packets_parsed": N,          frames that yielded a flow key
//     "packets_dropped": {"<reason>": N, ...}, one key per ParseResult name except "ok"
//                                   (truncated_link, truncated_ip, not_ip, ...); seen =
//                                   parsed + sum(dropped)
//     "packets_sampled_out": N,     parsed packets skipped by --sampling
//     "packets_fragment": N,        IPv4/IPv6 fragments (included in parsed)
//     "packets_non_first_fragment": N, of which non-first (keyed without ports)
//     "packets_l4_truncated": N,    parsed packets whose L4 header was cut by the snaplen
//     "pcap_dropped": N, "pcap_if_dropped": N,  pcap_stats (live capture), summed over the
//                                   capture handles
//     "capture_workers": N,         capture threads: 1, or N with fanout capture
//                                   (-i IFACE --threads N on Linux)
//     "flows_created": N,
//     "flows_expired": {"idle_timeout": N, "active_timeout": N, "end_of_flow": N,
//                       "forced_end": N, "lack_of_resources": N},
//     "flows_active": N,            still in the table (0 after a normal exit)
//     "packets_ring_full_dropped": N, --threads N with --ring-full drop: packets dropped because
//                                   a shard's ring was full (never in packets/bytes_exported)
//     "packets_exported": N, "bytes_exported": N,  sums over exported records (layer-3 bytes)
//     "records_sent": N,            data records in sent datagrams
//     "template_records_sent": N,
//     "records_not_exportable": N,  flows the export version cannot carry (IPv6 with -v 5);
//                                   counted here, never in packets/bytes_exported
//     "datagrams_sent": N,          datagrams built (= next v9 sequence number)
//     "send_errors": N,             failed sends summed over collectors
//     "enrichment": {"generation": N, "reloads": N, "reload_failures": N,
//                    "addresses_looked_up": N, "addresses_matched": N},
//                                   --routes/--asn-db: generation is 1 after the start-up load
//                                   and +1 per successful SIGHUP reload (0 without sources);
//                                   a failed reload keeps the old data and counts a failure;
//                                   addresses of exported flows looked up, and of them those
//                                   that got an AS or a prefix length
//     "collectors": [{"name": "...", "address": "...", "datagrams": N, "send_errors": N,
//                     "last_error": "strerror text of the last failed send, or empty"}]
//   }
#ifndef NF_EXPORTER_APP_EXPORT_STATS_H_
#define NF_EXPORTER_APP_EXPORT_STATS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "exporter/app/run_status.h"

namespace nf {

// One copy of flowexport's statistics; field meanings as in the JSON keys of the same name.
struct ExportSnapshot {
  struct Collector {
    std::string name;     // as given with -c
    std::string address;  // resolved address:port
    uint64_t datagrams = 0;
    uint64_t send_errors = 0;
    std::string last_error;  // strerror text of the last failed send, or empty
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
  bool live = false;  // live capture: the pcap drop counters mean something
  uint64_t pcap_dropped = 0;
  uint64_t pcap_if_dropped = 0;
  uint64_t capture_workers = 1;  // N with fanout capture, else 1
  uint64_t flows_created = 0;
  std::vector<std::pair<std::string, uint64_t>> flows_expired;  // (end reason, count)
  uint64_t flows_active = 0;
  uint64_t packets_exported = 0;
  uint64_t bytes_exported = 0;
  uint64_t records_sent = 0;
  uint64_t template_records_sent = 0;
  uint64_t records_not_exportable = 0;
  uint64_t datagrams_sent = 0;
  uint64_t send_errors = 0;  // summed over collectors
  uint64_t enrichment_generation = 0;
  uint64_t enrichment_reloads = 0;
  uint64_t enrichment_reload_failures = 0;
  uint64_t addresses_looked_up = 0;
  uint64_t addresses_matched = 0;
  std::vector<Collector> collectors;
};

// The --stats-json document (keys above, in that order).
std::string FormatStatsJson(const ExportSnapshot& s);
// The human summary: what was read, what was exported where, and every loss with its reason
// (zero drop counters are left out).
std::string FormatSummary(const ExportSnapshot& s);
// The counters of the --verbose status line.
ExportStatusSample StatusSampleOf(const ExportSnapshot& s);

}  // namespace nf

#endif  // NF_EXPORTER_APP_EXPORT_STATS_H_
