#include "exporter/app/export_cli.h"

#include "enrich/enrichment_cli.h"
#include "metrics/metrics_cli.h"

namespace nf {

void AddExportOptions(CLI::App& app, ExportOptions& o) {
  app.add_option("-r,--read", o.files,
                 "Read packets from a pcap/pcapng FILE or a zstd-compressed pcap (repeatable; "
                 "read in order; the file clock drives time)")
      ->group("Input")
      ->type_name("FILE")
      ->allow_extra_args(false);
  app.add_option("-i,--interface", o.interfaces,
                 "Capture live on IFACE (one per process); nflog:GROUP meters what a netfilter "
                 "rule logs to that NFLOG group")
      ->group("Input")
      ->type_name("IFACE")
      ->allow_extra_args(false);
  app.add_flag("--no-promisc", o.no_promisc, "Do not put the interface in promiscuous mode")
      ->group("Input");
  app.add_option("--snaplen", o.snaplen,
                 "Bytes captured per packet (headers suffice: byte "
                 "counts come from the IP length)")
      ->group("Input")
      ->check(CLI::Range(64, 262144));
  app.add_option("--buffer-size", o.buffer_mib,
                 "Kernel capture buffer in MiB (live --threads N on Linux: split over the N "
                 "fanout sockets, at least 1 MiB each)")
      ->group("Input")
      ->check(CLI::Range(1, 4096));
  app.add_option("--on-iface-down", o.on_iface_down,
                 "When the -i interface goes down or away: exit (export every flow, status 1, "
                 "for a service manager to restart) or wait (keep flows, capture again once it "
                 "is back up)")
      ->group("Input")
      ->check(CLI::IsMember({"exit", "wait"}));
  app.add_option("filter", o.filter_words, "BPF filter expression (as for tcpdump)")
      ->group("Input");
  app.add_option("-u,--user", o.user,
                 "Switch to USER (and its groups) once the capture is open and the sockets "
                 "are set up (see docs/ROBUSTNESS.md)")
      ->group("Input")
      ->type_name("USER");
  app.add_option("-g,--group", o.group, "Switch to GROUP (default: USER's primary group)")
      ->group("Input")
      ->type_name("GROUP");

  app.add_option("-c,--collector", o.collectors,
                 "Send to HOST:PORT, [IPv6]:PORT or NAME:PORT (repeatable: every collector "
                 "gets every datagram)")
      ->group("Export")
      ->type_name("HOST:PORT")
      ->allow_extra_args(false);
  app.add_option("-v,--export-version", o.export_version,
                 "Export format: 9 (NetFlow v9), 10 (IPFIX) or 5 (NetFlow v5: IPv4 only, "
                 "fixed record; IPv6 flows are counted as not exportable)")
      ->group("Export")
      ->check(CLI::IsMember({9, 10, 5}));
  app.add_option("--source-id", o.source_id,
                 "v9 Source ID / IPFIX Observation Domain ID / v5 engine type*256+engine ID "
                 "(default: the interface's ifIndex live, 0 for files)")
      ->group("Export")
      ->check(CLI::Range(int64_t{-1}, int64_t{4294967295}))
      ->default_str("auto");
  app.add_option("--mtu", o.mtu,
                 "Largest export datagram including IP and UDP headers "
                 "(never fragmented)")
      ->group("Export")
      ->check(CLI::Range(int64_t{128}, int64_t{65535}));
  app.add_option("-T,--template", o.template_name,
                 "Export template: a shipped name (default, minimal, ng_netflow, softflowd), "
                 "a file, or an inline \"%FIELD %FIELD:LEN ...\" string (v9 and IPFIX)")
      ->group("Export");
  app.add_option("--template-refresh-packets", o.template_refresh_packets,
                 "Resend templates every N datagrams (0: only by time)")
      ->group("Export")
      ->check(CLI::Range(int64_t{0}, int64_t{4294967295}));
  app.add_option("--template-refresh-seconds", o.template_refresh_seconds,
                 "Resend templates every T seconds (0: only by datagrams)")
      ->group("Export")
      ->check(CLI::Range(0.0, 86400.0));
  app.add_option("--flush-interval", o.flush_interval_s,
                 "Send a partial datagram once its oldest record waited this many seconds")
      ->group("Export")
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--max-export-rate", o.max_export_rate,
                 "Datagrams per second at most (0: unlimited; default 10000 with -r so a "
                 "collector is not overrun, unlimited live)")
      ->group("Export")
      ->default_str("auto");

  app.add_option("--inactive-timeout", o.inactive_timeout_s,
                 "Export a flow idle for this many seconds")
      ->group("Flows")
      ->check(CLI::Range(0.0, 86400.0 * 7));
  app.add_option("--active-timeout", o.active_timeout_s,
                 "Export a flow (and start a new one) after this many seconds")
      ->group("Flows")
      ->check(CLI::Range(0.001, 86400.0 * 7));
  app.add_option("--max-flows", o.max_flows,
                 "Flow table size; when full the least recently used flow is exported")
      ->group("Flows")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  app.add_option("--threads", o.threads,
                 "Flow-table shards, each on its own worker thread; --max-flows is split "
                 "evenly over them (1 = one table on the capture thread). Live on Linux (-i "
                 "IFACE, not nflog:): N capture workers, each with its own capture socket in "
                 "one PACKET_FANOUT hash group and its own table. -r on classic pcap files: "
                 "one reader hands out batches of frames, N workers parse and meter them. "
                 "Elsewhere (pcapng or zstd files, nflog:, FreeBSD, --on-iface-down wait) one "
                 "capture thread feeds N shards")
      ->group("Flows")
      ->check(CLI::Range(int64_t{1}, int64_t{64}));
  app.add_option("--ring-full", o.ring_full,
                 "With --threads N where one capture thread feeds shard rings (not fanout "
                 "capture, not -r on classic pcap): when a shard's ring is full, block (wait, "
                 "lose nothing) or drop (count the packet and go on)")
      ->group("Flows")
      ->check(CLI::IsMember({"block", "drop"}));
  app.add_option("--sampling", o.sampling, "Meter 1 in N packets (announced to collectors)")
      ->group("Flows")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  app.add_option("--sampling-mode", o.sampling_mode, "deterministic or random")
      ->group("Flows")
      ->check(CLI::IsMember({"deterministic", "random"}));

  app.add_option("--stats-json", o.stats_json, "Write statistics as JSON to FILE at exit")
      ->group("Output")
      ->type_name("FILE");
  metrics::AddMetricsOptions(app, o.metrics, "Output", metrics::HelpCase::kCapitalized);
  app.add_flag("--verbose", o.verbose,
               "Print the start-up line and a one-line status (packets/s, active flows, "
               "flows/s exported, drops) every --status-interval seconds")
      ->group("Output");
  app.add_option("--status-interval", o.status_interval_s,
                 "Seconds between --verbose status lines (0: none)")
      ->group("Output")
      ->check(CLI::Range(0.0, 86400.0))
      ->type_name("SECONDS");
  app.add_flag_callback(
         "--progress", [&o] { o.progress = ProgressMode::kAlways; },
         "With -r: draw a progress bar on stderr even when it is not a terminal")
      ->group("Output");
  app.add_flag_callback(
         "--no-progress", [&o] { o.progress = ProgressMode::kNever; },
         "With -r: no progress bar (default: drawn when stderr is a terminal)")
      ->group("Output");
  AddEnrichmentOptions(app, o.enrichment, /*for_collector=*/false);
}

}  // namespace nf
