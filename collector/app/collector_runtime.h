// The flowcollect runtime: inputs (UDP sockets with N decode workers, or -r capture files and
// flow store directories) -> [--store: every datagram kept raw] -> Decoder -> enrichment -> the
// -f filter -> outputs (CSV or -A aggregates, ClickHouse, the HTML report), with signals,
// periodic maintenance, statistics and the Prometheus endpoint.
//
// Order is the contract. Create checks the options against each other, resolves -u/-g, opens
// the -r files or checks the -l addresses, and only then opens the outputs, so a bad argument
// fails with nothing written (stdout empty, no -o file). Run binds the sockets, drops
// privileges, and at the end flushes in this order: decoders (early data that can no longer
// get a template), CSV (committed atomically), ClickHouse (a few seconds, the rest spooled),
// the template store, the report page, the statistics. With --store the store's current file is
// completed first. A second SIGINT/SIGTERM during that
// flush is ignored: an impatient service manager must not leave a half-written file.
// SIGHUP reloads the enrichment sources (--routes, --asn-db, --geo-db, --interfaces) without
// stopping the workers; without them it is ignored.
//
// --workers N (live): N threads, each with its own SO_REUSEPORT sockets, Decoder and
// ClickHouse batcher; templates are shared through a SharedTemplateStore; the CSV sink and the
// report are shared under one lock taken once per datagram; statistics are summed over workers.
// --ha-peer (collector/ha/ha_node.h): worker 0 (HA runs one worker) spools instead of writing
// while the node stands by, and confirms each burst to the peer once its rows reached the kernel.
// --listen-tcp (IPFIX over TCP) is served by worker 0 alone, on its io_context and decoder:
// a session's templates are its own (Decoder::DecodeSessionMessage), so no other worker needs
// them. On stop, complete TCP messages already received are decoded, incomplete ones counted.
//
// -r over a store (or several store files): each file decodes alone (it begins with the
// templates in force), so with -A, --report or ClickHouse and no raw CSV the files are read on
// several threads (--read-threads), the outputs shared under the per-datagram lock. Raw CSV rows
// and --store keep the files' order on one thread. --from/--to choose store files by name and
// datagrams by receive time.
//
// --stats-json FILE (written atomically at exit and on SIGUSR1) is a stable interface:
//   version            1
//   receive            {datagrams, bytes, kernel_drops, denied, receive_errors, truncated,
//                       file_packets, file_not_udp, file_port_filtered, file_truncated,
//                       file_out_of_range (outside --from/--to), store_templates (a store
//                       file's template datagrams, learned but not counted as traffic)}
//   templates          {cached, added, refreshed, replaced, refused, withdrawn, expired}
//   output             {rows, files, aggregate_groups, aggregate_overflow, files_failed,
//                       rows_lost, records_filtered (left out by -f), error}
//   exporters_refused  datagrams from exporters beyond the exporter limit
//   tcp                with --listen-tcp only: {accepted, active, refused_limit, denied,
//                       closed_peer, closed_idle, closed_slow, framing_errors, messages, bytes,
//                       messages_dropped (incomplete at close), errors}
//   totals             counters summed over exporters (keys below)
//   exporters          [{exporter: "ADDR", port: N (0 unless --template-key-port), counters}]
//   clickhouse         with --clickhouse only: the sink's counters (keys in
//                       collector/output/clickhouse/sink_stats.h: batches, records, retries, spool
//                       bytes/files/records, drops by reason, last_error)
//   enrichment         with an enrichment option only: {generation (1 after the first load,
//                       +1 per reload), reloads, reload_failures (reloads that kept the old
//                       data), lookup_errors (MaxMind lookups that met a corrupt database)}
//   forward            with --forward only: {keep_source, destinations: [{destination (as
//                       given), address (resolved), datagrams, bytes (UDP payload), send_errors,
//                       drops {queue_full, family_mismatch, too_large, stop_timeout}}]}
//   store              with --store only: {datagrams, bytes, files, template_datagrams,
//                       datagrams_lost, write_errors, files_removed, files_recovered (left
//                       by a crash, finished at start), templates_untracked, last_error}
//   ha                 with --ha-peer only: {role ("active"/"standby"), became_active,
//                       became_standby, commits, confirmations_sent, confirm_messages_sent,
//                       confirmations_received, confirmations_while_active,
//                       peer_messages_refused, send_errors, output_flush_errors, last_replay
//                       (datagrams written at the last takeover), last_replay_ms, spool
//                       {datagrams, unconfirmed, bytes (held now), spooled, confirmed,
//                       confirmed_before_arrival, confirmations_unmatched,
//                       evicted_unconfirmed, expired_unconfirmed, too_large, replayed}}
// Counters (totals and each exporter): datagrams, datagram_bytes, v5_datagrams, v9_datagrams,
//   ipfix_datagrams, sflow_datagrams, records, options_records, packets, bytes, templates,
//   templates_new, templates_redefined, templates_withdrawn, sequence_lost, sequence_reordered,
//   sequence_resets, restarts, early_sets_buffered, early_records_decoded,
//   early_sets_aged_out, early_sets_dropped, early_sets_pending, sampling_interval,
//   decode_errors (sum of errors), errors {<reason>: count for every DecodeError name},
//   sflow {datagrams, flow_samples, counter_samples, drop_samples, other_samples,
//   discarded_flow_samples, records_skipped, headers_unsupported, headers_not_ip,
//   datagrams_lost, datagrams_reordered, datagram_sequence_resets, interfaces_refused,
//   streams_untracked; totals only: interfaces_tracked}.
#ifndef NF_COLLECTOR_APP_COLLECTOR_RUNTIME_H_
#define NF_COLLECTOR_APP_COLLECTOR_RUNTIME_H_

#include <memory>

#include "absl/status/statusor.h"
#include "collector/app/collector_options.h"

namespace nf {

class CollectorRuntime {
 public:
  // Everything up to the first byte of output; see the header comment. The error's code gives
  // the exit status (common/exit_status.h): a bad argument is a usage error.
  static absl::StatusOr<std::unique_ptr<CollectorRuntime>> Create(const CollectorOptions& options);
  ~CollectorRuntime();
  CollectorRuntime(const CollectorRuntime&) = delete;
  CollectorRuntime& operator=(const CollectorRuntime&) = delete;

  // Runs until the end of the -r input or a stop (SIGINT, SIGTERM or RequestStop), flushes
  // everything and returns the exit status: 0, or 1 when a socket could not be bound, an input
  // could not be read or an output could not be written.
  int Run();

  // Thread-safe, and the same as SIGTERM: stop receiving, drain what the sockets hold, flush.
  // Before Run it makes Run stop at once.
  void RequestStop();

 private:
  class Impl;
  explicit CollectorRuntime(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// What a main does after parsing: --list-columns and --clickhouse-schema (on stdout), or
// Create (its error on stderr) and Run. Returns the exit status.
int RunCollector(const CollectorOptions& options);

}  // namespace nf

#endif  // NF_COLLECTOR_APP_COLLECTOR_RUNTIME_H_
