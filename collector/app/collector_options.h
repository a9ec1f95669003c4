// What a flowcollect run is asked to do: every command-line setting, parsed but not yet
// checked against each other (RunCollector does that before it opens anything).
#ifndef NF_COLLECTOR_APP_COLLECTOR_OPTIONS_H_
#define NF_COLLECTOR_APP_COLLECTOR_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/progress.h"
#include "enrich/enrichment.h"
#include "metrics/metrics_server.h"

namespace nf {

struct CollectorOptions {
  // Input.
  std::vector<std::string> listen;      // -l; empty with no -r: 0.0.0.0:2055 and [::]:2055
  std::vector<std::string> read_files;  // -r: capture files, or flow store directories
  std::string from;                     // --from: with -r, records received at or after
  std::string to;                       // --to: with -r, records received before
  uint16_t port = 0;                    // --port (with -r)
  std::vector<std::string> allow;       // --allow CIDRs
  // IPFIX over TCP (collector/receive/tcp_server.h), served by worker 0.
  std::vector<std::string> listen_tcp;  // --listen-tcp
  size_t max_tcp_exporters = 64;        // connections at once
  double tcp_idle_timeout_s = 600;      // 0 = never
  double tcp_message_timeout_s = 30;    // 0 = never
  int rcvbuf = 32 << 20;
  int receive_coalesce_us = 16000;  // --receive-coalesce: longest pause between drains of a stream
  int workers = 1;
  std::string user;   // -u: switch to this user once the sockets are bound
  std::string group;  // -g
  // --forward: every received datagram also sent on, unchanged (collector/receive/
  // datagram_forwarder.h); live only.
  std::vector<std::string> forward;   // HOST:PORT, repeatable
  bool forward_keep_source = false;   // --forward-keep-source: the exporter's source address

  // Decoding.
  bool template_key_port = false;
  double template_ttl_s = 0;
  std::string template_store;
  size_t max_templates = 4096;
  bool apply_sampling = false;
  std::string biflow = "columns";  // or "split"
  size_t early_max_sets = 1024;
  uint64_t early_max_bytes = 4 << 20;
  size_t max_exporters = 65536;
  double early_max_age_s = 120;
  uint32_t reorder_window = 64;

  // Selection: -f/--filter, or the filter words after the options (nfdump's language).
  std::string filter;
  std::vector<std::string> filter_words;

  // The raw flow store (collector/store/store_writer.h).
  std::string store_dir;  // --store
  int64_t store_rotate_s = 300;
  bool store_compress = false;
  std::string store_retention;  // "30d" or "200G"
  bool store_tuning_given = false;  // --store-rotate, --store-compress or --store-retention

  // An active/standby pair (collector/ha/ha_node.h, docs/ha.md): on with --ha-peer.
  std::string ha_peer;          // --ha-peer ADDR:PORT
  std::string ha_listen = "2056";  // --ha-listen [ADDR:]PORT
  std::string ha_state;         // --ha-state FILE
  double ha_spool_s = 60;       // --ha-spool-seconds
  uint64_t ha_spool_bytes = uint64_t{64} << 20;  // --ha-spool-bytes

  // -r over several files: decode on this many threads (0: as many as useful, up to the CPUs).
  int read_threads = 0;

  // Output.
  std::string output = "-";
  bool output_given = false;  // -o was on the command line (CSV besides ClickHouse/--report)
  std::string write_dir;
  int64_t rotate_s = 300;
  std::string columns;
  std::string aggregate;
  int64_t bin_s = 0;
  size_t top = 0;
  std::string order_by = "bytes";
  size_t max_groups = 1'000'000;
  bool list_columns = false;
  std::string report;  // --report FILE.html

  // Statistics.
  std::string stats_json;
  bool quiet = false;
  int verbose = 0;  // -v: periodic one-line status (and the detailed exit report)
  double status_interval_s = 10;
  ProgressMode progress = ProgressMode::kAuto;
  metrics::MetricsServerOptions metrics;  // --metrics*: listen empty = no endpoint

  // ClickHouse.
  std::string clickhouse_url;
  std::string clickhouse_user;
  std::string clickhouse_password_file;  // else FLOWCOLLECT_CLICKHOUSE_PASSWORD
  std::string clickhouse_ca;
  std::string table = "flows";
  size_t clickhouse_batch_rows = 50'000;
  double clickhouse_batch_age_s = 5;
  std::string spool_dir;
  uint64_t spool_max_bytes = uint64_t{1} << 30;
  // --clickhouse-batch-rows/-age, --spool-max-bytes, --clickhouse-user/-password-file/-ca
  bool clickhouse_tuning_given = false;
  bool clickhouse_schema = false;

  // Enrichment: --routes, --asn-db, --geo-db, --interfaces (enrich/enrichment_cli.h).
  EnrichmentConfig enrichment;
  bool enrich_override = false;  // --enrich-override: the sources win over exporter values
  bool columns_given = false;    // --columns was on the command line
};

}  // namespace nf

#endif  // NF_COLLECTOR_APP_COLLECTOR_OPTIONS_H_
