#include "collector/app/collector_cli.h"

#include <string>

#include "collector/output/clickhouse/clickhouse_sink.h"
#include "collector/output/format/csv_format.h"
#include "enrich/enrichment_cli.h"
#include "metrics/metrics_cli.h"

namespace nf {

void AddCollectorOptions(CLI::App& app, CollectorOptions& o) {
  const std::string in = "Input";
  app.add_option("-l,--listen", o.listen,
                 "UDP address to receive on, [ADDR:]PORT, IPv6 as [ADDR]:PORT; repeatable "
                 "(default 0.0.0.0:2055 and [::]:2055)")
      ->allow_extra_args(false)
      ->group(in);
  app.add_option("-r,--read", o.read_files,
                 "read export traffic from a pcap/pcapng file, a zstd-compressed pcap, or a "
                 "--store directory (every file under it, in time order) instead of the "
                 "network; repeatable; exits at end of input")
      ->check(CLI::ExistingPath)
      ->allow_extra_args(false)  // one path per -r: `-r DIR 'proto tcp'` leaves the filter
      ->group(in);
  app.add_option("--from", o.from,
                 "with -r: only datagrams received at or after TIME (ISO 8601 in UTC, e.g. "
                 "2026-12-02T13:00, or relative: -2h, -30m, -1d); a store's files are chosen "
                 "by name first")
      ->type_name("TIME")
      ->group(in);
  app.add_option("--to", o.to, "with -r: only datagrams received before TIME (as --from)")
      ->type_name("TIME")
      ->group(in);
  app.add_option("--read-threads", o.read_threads,
                 "with -r over several files: decode on N threads and merge (0 = as many as "
                 "useful, up to the CPUs)")
      ->capture_default_str()
      ->check(CLI::Range(0, 256))
      ->group(in);
  app.add_option("--port", o.port, "with -r: only UDP datagrams to this destination port")
      ->group(in);
  app.add_option("--allow", o.allow,
                 "only accept datagrams from this prefix (CIDR); repeatable; others are dropped "
                 "and counted")
      ->allow_extra_args(false)
      ->group(in);
  app.add_option("--listen-tcp", o.listen_tcp,
                 "accept IPFIX over TCP (RFC 7011) on [ADDR:]PORT, IPv6 as [ADDR]:PORT; "
                 "repeatable; templates last as long as their connection; served by worker 0; "
                 "UDP (-l) listens as well")
      ->allow_extra_args(false)
      ->group(in);
  app.add_option("--max-tcp-exporters", o.max_tcp_exporters,
                 "with --listen-tcp: connections at once; further ones are closed and counted")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{65536}))
      ->group(in);
  app.add_option("--tcp-idle-timeout", o.tcp_idle_timeout_s,
                 "with --listen-tcp: close a connection silent this many seconds (0 = never)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 864000.0))
      ->type_name("SECONDS")
      ->group(in);
  app.add_option("--tcp-message-timeout", o.tcp_message_timeout_s,
                 "with --listen-tcp: close a connection whose message is not complete this many "
                 "seconds after its first byte (0 = never)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 864000.0))
      ->type_name("SECONDS")
      ->group(in);
  app.add_option("--receive-coalesce", o.receive_coalesce_us,
                 "while a stream keeps coming, pause up to this many microseconds between "
                 "socket drains so one wake-up serves many datagrams; the pause adapts to the "
                 "stream and the receive buffer (each datagram waits at most this long; "
                 "0 = read at every wake-up)")
      ->capture_default_str()
      ->check(CLI::Range(0, 100000))
      ->type_name("USEC")
      ->group(in);
  app.add_option("--rcvbuf", o.rcvbuf, "socket receive buffer in bytes")
      ->capture_default_str()
      ->check(CLI::Range(4096, 1 << 30))
      ->group(in);
  app.add_option("--forward", o.forward,
                 "with -l: send every received datagram (and --listen-tcp message), unchanged "
                 "and before decoding, on to HOST:PORT ([IPV6]:PORT, NAME:PORT) over UDP; "
                 "repeatable; from its own thread, a full queue drops copies and counts them")
      ->type_name("HOST:PORT")
      ->allow_extra_args(false)
      ->group(in);
  app.add_flag("--forward-keep-source", o.forward_keep_source,
               "with --forward: copies leave with the exporter's own source address and port "
               "(raw socket; needs root or CAP_NET_RAW), so the next collector sees the real "
               "exporter")
      ->group(in);

  const std::string dec = "Decoding";
  app.add_flag("--template-key-port", o.template_key_port,
               "include the exporter's UDP port in the template key (RFC 7011 transport session)")
      ->group(dec);
  app.add_option("--template-ttl", o.template_ttl_s,
                 "forget templates not refreshed for this many seconds (0 = never)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber)
      ->group(dec);
  app.add_option("--template-store", o.template_store,
                 "load templates from FILE at start and save them at exit (and every minute), "
                 "so a restart decodes at once")
      ->group(dec);
  app.add_option("--max-templates", o.max_templates, "templates kept per exporter")
      ->capture_default_str()
      ->check(CLI::PositiveNumber)
      ->group(dec);
  app.add_flag("--apply-sampling", o.apply_sampling,
               "multiply packets and bytes by the sampling interval the exporter announced")
      ->group(dec);
  app.add_option("--biflow", o.biflow,
                 "bidirectional records (RFC 5103, NSEL): 'columns' keeps one row with "
                 "reverse_packets/reverse_bytes; 'split' writes the reverse direction as its "
                 "own row, endpoints swapped")
      ->capture_default_str()
      ->check(CLI::IsMember({"columns", "split"}))
      ->group(dec);
  app.add_option("--early-max-sets", o.early_max_sets,
                 "data sets kept per exporter while waiting for their template (0 = none)")
      ->capture_default_str()
      ->group(dec);
  app.add_option("--early-max-bytes", o.early_max_bytes,
                 "bytes of data sets kept per exporter while waiting for their template; sets "
                 "beyond it are dropped and counted (suffixes k, m, g)")
      ->capture_default_str()
      ->transform(CLI::AsSizeValue(false))
      ->group(dec);
  app.add_option("--max-exporters", o.max_exporters,
                 "exporters tracked (address, or address and port with --template-key-port); "
                 "datagrams from more are dropped and counted (exporters_refused)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber)
      ->group(dec);
  app.add_option("--early-max-age", o.early_max_age_s,
                 "seconds a data set waits for its template before it is counted as aged out")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber)
      ->group(dec);
  app.add_option("--reorder-window", o.reorder_window,
                 "sequence numbers this far behind are reordering, not loss")
      ->capture_default_str()
      ->group(dec);

  const std::string sel = "Selection";
  app.add_option("-f,--filter", o.filter,
                 "only records matching EXPR, in nfdump's filter language (see "
                 "docs/filters.md); the filter may also follow the options as words")
      ->type_name("EXPR")
      ->group(sel);
  app.add_option("filter", o.filter_words, "filter words (as -f)")->group(sel);

  const std::string sto = "Store";
  app.add_option("--store", o.store_dir,
                 "keep every received datagram, before decoding, in rotated pcap files under "
                 "DIR/YYYY/MM/DD/ (read back with -r DIR; see docs/store.md)")
      ->type_name("DIR")
      ->group(sto);
  app.add_option("--store-rotate", o.store_rotate_s, "seconds per --store file")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{86400}))
      ->group(sto);
  app.add_flag("--store-compress", o.store_compress, "compress --store files with zstd")
      ->group(sto);
  app.add_option("--store-retention", o.store_retention,
                 "remove the oldest --store files beyond an age (30d, 12h, 90m) or a total size "
                 "(200G, 500M)")
      ->type_name("AGE|SIZE")
      ->group(sto);

  const std::string ha = "High availability (docs/ha.md)";
  app.add_option("--ha-peer", o.ha_peer,
                 "run as one node of an active/standby pair: confirmations of what this node "
                 "writes go to the peer at ADDR:PORT, and the peer's are accepted from ADDR only")
      ->type_name("ADDR:PORT")
      ->group(ha);
  app.add_option("--ha-listen", o.ha_listen, "with --ha-peer: receive the peer's confirmations on "
                 "[ADDR:]PORT")
      ->capture_default_str()
      ->group(ha);
  app.add_option("--ha-state", o.ha_state,
                 "with --ha-peer: the role file the failover hook writes (CARP devd, ucarp, "
                 "keepalived): 'active' or 'master' writes, anything else or no file stands by "
                 "(spools what it receives until the active confirms it)")
      ->type_name("FILE")
      ->group(ha);
  app.add_option("--ha-spool-seconds", o.ha_spool_s,
                 "with --ha-peer: how long a standby keeps an unconfirmed datagram")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 86400.0))
      ->group(ha);
  app.add_option("--ha-spool-bytes", o.ha_spool_bytes,
                 "with --ha-peer: memory for the standby's spool of unconfirmed datagrams")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1} << 16, uint64_t{1} << 36))
      ->group(ha);

  const std::string outg = "Output";
  app.add_option("-o,--output", o.output, "CSV output file ('-' = stdout), written atomically")
      ->capture_default_str()
      ->group(outg);
  app.add_option("-w,--write-dir", o.write_dir,
                 "write one CSV file per --rotate interval into DIR (flows-YYYYMMDDTHHMMSSZ.csv)")
      ->group(outg);
  app.add_option("--rotate", o.rotate_s, "rotation interval in seconds for -w")
      ->capture_default_str()
      ->check(CLI::PositiveNumber)
      ->group(outg);
  app.add_option("--columns", o.columns,
                 "comma list of raw-record columns (see --list-columns); the enrichment options "
                 "add theirs to the default list")
      ->default_str(std::string(kDefaultCsvColumns))
      ->group(outg);
  app.add_flag("--list-columns", o.list_columns, "print the available columns and exit")
      ->group(outg);
  app.add_option("--report", o.report,
                 "write an HTML page (traffic by protocol over time, top talkers and ports, "
                 "exporters) to FILE at exit; live also every --rotate seconds; no CSV unless "
                 "-o/-w")
      ->group(outg);
  app.add_option("-A,--aggregate", o.aggregate,
                 "aggregate on these columns, e.g. src_addr/24,protocol; prints keys then "
                 "flows,packets,bytes")
      ->group(outg);
  app.add_option("-t,--time-bin", o.bin_s, "with -A: time bins of this many seconds (bin_start)")
      ->check(CLI::NonNegativeNumber)
      ->group(outg);
  app.add_option("--top", o.top, "with -A: keep the top N groups per time bin")
      ->group(outg);
  app.add_option("--order-by", o.order_by, "with -A: sort groups by bytes, packets or flows")
      ->capture_default_str()
      ->check(CLI::IsMember({"bytes", "packets", "flows"}))
      ->group(outg);
  app.add_option("--max-groups", o.max_groups,
                 "with -A: groups kept in memory; records beyond are counted as overflow")
      ->capture_default_str()
      ->check(CLI::PositiveNumber)
      ->group(outg);

  const std::string st = "Statistics";
  app.add_option("--stats-json", o.stats_json,
                 "write statistics as JSON to FILE at exit and on SIGUSR1")
      ->group(st);
  CLI::Option* quiet =
      app.add_flag("-q,--quiet", o.quiet, "no statistics on stderr (not with -v)")->group(st);
  app.add_flag("-v,--verbose", o.verbose,
               "one-line status every --status-interval seconds (datagrams/s, records/s, "
               "exporters, templates, drops, early data); every counter at exit")
      ->group(st)
      ->excludes(quiet);
  app.add_option("--status-interval", o.status_interval_s,
                 "seconds between -v status lines (0 = none)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 86400.0))
      ->type_name("SECONDS")
      ->group(st);
  app.add_flag_callback(
         "--progress", [&o] { o.progress = ProgressMode::kAlways; },
         "with -r: draw a progress bar on stderr even when it is not a terminal")
      ->group(st);
  app.add_flag_callback(
         "--no-progress", [&o] { o.progress = ProgressMode::kNever; },
         "with -r: no progress bar (default: drawn when stderr is a terminal)")
      ->group(st);
  metrics::AddMetricsOptions(app, o.metrics, st, metrics::HelpCase::kLower);

  const std::string chg = "ClickHouse";
  app.add_option("--clickhouse", o.clickhouse_url,
                 "insert raw records into ClickHouse: http[s]://HOST[:PORT]/?database=DB "
                 "(ports 8123 and 8443 by default; see docs/clickhouse.md)")
      ->group(chg);
  app.add_option("--clickhouse-user", o.clickhouse_user,
                 "ClickHouse user (sent in a header, never in the URL)")
      ->group(chg);
  app.add_option("--clickhouse-password-file", o.clickhouse_password_file,
                 "read the ClickHouse password from FILE (first line; keep it mode 600); "
                 "without it, from $FLOWCOLLECT_CLICKHOUSE_PASSWORD")
      ->group(chg);
  app.add_option("--clickhouse-ca", o.clickhouse_ca,
                 "https: verify ClickHouse's certificate against the CA bundle FILE instead of "
                 "the system's trust store")
      ->check(CLI::ExistingFile)
      ->group(chg);
  app.add_option("--table", o.table, "ClickHouse table, [db.]name")
      ->capture_default_str()
      ->group(chg);
  app.add_option("--clickhouse-batch-rows", o.clickhouse_batch_rows,
                 "send a batch at this many rows")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, clickhouse::kMaxBatchRows))
      ->group(chg);
  app.add_option("--clickhouse-batch-age", o.clickhouse_batch_age_s,
                 "... or when its first row is this many seconds old")
      ->capture_default_str()
      ->check(CLI::PositiveNumber)
      ->group(chg);
  app.add_option("--spool-dir", o.spool_dir,
                 "keep batches ClickHouse did not take in DIR (replayed at start); without it "
                 "they wait in memory")
      ->group(chg);
  app.add_option("--spool-max-bytes", o.spool_max_bytes,
                 "bound on the spool; batches beyond it are dropped and counted (suffixes k, "
                 "m, g: powers of 1024)")
      ->capture_default_str()
      ->transform(CLI::AsSizeValue(false))
      ->group(chg);
  app.add_flag("--clickhouse-schema", o.clickhouse_schema,
               "print the CREATE TABLE for --table and exit")
      ->group(chg);
  app.add_option("--workers", o.workers,
                 "with -l: decode on N threads, each with its own SO_REUSEPORT sockets; "
                 "templates are shared")
      ->capture_default_str()
      ->check(CLI::Range(1, 256))
      ->group(in);
  app.add_option("-u,--user", o.user,
                 "switch to USER (and its groups) once the sockets are bound and outputs "
                 "opened (see docs/ROBUSTNESS.md)")
      ->group(in);
  app.add_option("-g,--group", o.group, "switch to GROUP (default: USER's primary group)")
      ->group(in);

  AddEnrichmentOptions(app, o.enrichment, /*for_collector=*/true);
  app.add_flag("--enrich-override", o.enrich_override,
               "take AS numbers, masks and interface names from the enrichment sources even "
               "where the exporter set them (default: keep non-zero exporter values)")
      ->group("Enrichment");
}

void NoteGivenOptions(const CLI::App& app, CollectorOptions& o) {
  o.output_given = app.count("--output") > 0;
  o.columns_given = app.count("--columns") > 0;
  o.store_tuning_given = app.count("--store-rotate") > 0 || app.count("--store-compress") > 0 ||
                         app.count("--store-retention") > 0;
  o.clickhouse_tuning_given = app.count("--clickhouse-batch-rows") > 0 ||
                              app.count("--clickhouse-batch-age") > 0 ||
                              app.count("--spool-max-bytes") > 0 ||
                              app.count("--clickhouse-user") > 0 ||
                              app.count("--clickhouse-password-file") > 0 ||
                              app.count("--clickhouse-ca") > 0;
}

}  // namespace nf
