// The flowexport runtime: options in, exit status out. It wires the pipeline (capture source ->
// packet parser -> sampler -> Meter -> Encoder -> UdpSender), runs the capture loop with its
// pacing (--max-export-rate), signals (SIGINT/SIGTERM export every flow and stop, SIGUSR1
// prints statistics, SIGHUP reloads the enrichment data) and the 1 s interface-state check
// (--on-iface-down), and reports every counter from one ExportSnapshot
// (exporter/app/export_stats.h). flowexport_main.cc only parses the command line into
// ExportOptions and calls Run.
#ifndef NF_EXPORTER_APP_EXPORT_RUNTIME_H_
#define NF_EXPORTER_APP_EXPORT_RUNTIME_H_

#include <signal.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/progress.h"
#include "enrich/enrichment.h"
#include "exporter/app/export_stats.h"
#include "metrics/metrics_server.h"

namespace nf {

class PcapSource;
struct ExportPipeline;  // the open pipeline of one run (export_runtime.cc)
struct ExportStatusSample;  // run_status.h

// Everything the flowexport command line sets (defaults as documented in --help).
struct ExportOptions {
  std::vector<std::string> files;
  std::vector<std::string> interfaces;
  std::vector<std::string> filter_words;
  std::vector<std::string> collectors;
  bool no_promisc = false;
  int snaplen = 256;
  int buffer_mib = 32;
  int64_t source_id = -1;
  int64_t mtu = 1500;
  double inactive_timeout_s = 15;
  double active_timeout_s = 1800;
  int64_t max_flows = 1 << 20;
  int64_t threads = 1;  // flow-table shards; 1 = one table on the capture thread
  std::string ring_full = "block";
  int64_t sampling = 1;
  std::string sampling_mode = "deterministic";
  int64_t template_refresh_packets = 20;
  double template_refresh_seconds = 60;
  double flush_interval_s = 1;
  double max_export_rate = -1;  // -1: default (10000/s for -r, unlimited live)
  std::string template_name = "default";
  bool template_given = false;  // -T was on the command line (refused with -v 5)
  int export_version = 9;
  std::string stats_json;
  metrics::MetricsServerOptions metrics;  // --metrics*: listen empty = no endpoint
  int verbose = 0;
  double status_interval_s = 10;
  ProgressMode progress = ProgressMode::kAuto;
  bool ng_netflow = false;
  std::string user;                    // -u: switch to this user once the capture is open
  std::string group;                   // -g
  std::string on_iface_down = "exit";  // the capture interface went down or away: exit | wait
  EnrichmentConfig enrichment;         // --routes, --asn-db
};

// How a run is embedded: flowexport uses the defaults; tests observe and steer a run in-process.
struct RunHooks {
  // Messages, the summary and errors ("flowexport: ..."). Never null.
  std::ostream* log = &std::cerr;
  // Install the SIGINT/SIGTERM/SIGUSR1/SIGHUP handlers (and ignore SIGPIPE) for this run.
  bool handle_signals = true;
  // Called on the loop's thread after every capture batch has been metered and exported.
  std::function<void(const ExportSnapshot&)> after_batch;
};

class ExportRuntime {
 public:
  explicit ExportRuntime(ExportOptions options, RunHooks hooks = {});
  ExportRuntime(const ExportRuntime&) = delete;
  ExportRuntime& operator=(const ExportRuntime&) = delete;

  // Runs to the end of the input or a stop request; returns the exit status (common/
  // exit_status.h: 0 ok, 1 failed run, 2 usage).
  int Run();

  // Stop as SIGINT/SIGTERM do: the loop leaves, every flow is exported and flushed, Run returns.
  // Async-signal-safe; call it from a signal handler or the loop's thread (hooks).
  void RequestStop();
  // Print the summary at the next batch, as SIGUSR1 does. Async-signal-safe.
  void RequestStats() { dump_stats_ = 1; }
  // Make the loop check the capture interface's state (the 1 s timer). Async-signal-safe.
  void RequestIfaceCheck();
  // Reload the enrichment data, as SIGHUP does. Async-signal-safe.
  void RequestReload() { reload_ = 1; }

  // The statistics after Run returned (what the summary and --stats-json showed).
  const ExportSnapshot& final_snapshot() const { return final_; }

 private:
  // Checks the option combination and opens the collectors, the input, the meter, the encoder
  // and the metrics endpoint; anything but kExitOk is the exit status.
  int Open(ExportPipeline& p);
  // The capture loop, until the end of the input, a stop request or a capture failure; then
  // every flow is exported and flushed. Returns the exit status so far.
  int Loop(ExportPipeline& p);
  // Loop for fanout capture (-i IFACE --threads N on Linux): this thread only exports what
  // the capture workers expire (fanout_capture.h).
  int LoopFanout(ExportPipeline& p);
  // Loop for -r FILE --threads N on classic pcap files: this thread reads frame batches for
  // the parsing workers and exports what they expire (frame_fanout.h).
  int LoopFrames(ExportPipeline& p);
  // SIGHUP: starts an enrichment reload (the loops pick the new data up).
  void HandleReload(ExportPipeline& p);
  // After every batch, in every loop: metrics, SIGUSR1's summary, the status line, the hook.
  void AfterBatch(ExportPipeline& p, StatusTicker& ticker, ExportStatusSample& before);
  // Reports (summary, metrics, --stats-json) from the final snapshot.
  int Close(ExportPipeline& p, int exit_code);
  // Says what went wrong in one line; the exit status tells a command-line mistake (2) from a
  // failed run (1), see common/exit_status.h.
  int Fail(const absl::Status& status);

  ExportOptions options_;
  RunHooks hooks_;
  volatile sig_atomic_t stop_ = 0;
  volatile sig_atomic_t dump_stats_ = 0;
  volatile sig_atomic_t check_iface_ = 0;
  volatile sig_atomic_t reload_ = 0;
  std::atomic<PcapSource*> source_{nullptr};  // the open capture, for BreakLoop
  ExportSnapshot final_;
};

// Runs one ExportRuntime with default hooks (flowexport's main).
int Run(const ExportOptions& options);

}  // namespace nf

#endif  // NF_EXPORTER_APP_EXPORT_RUNTIME_H_
