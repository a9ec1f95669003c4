// flowcollect: a NetFlow v5 / v9 / IPFIX collector that writes CSV and/or ClickHouse.
//
// Wiring only: input (UDP sockets or -r capture files) -> nf::decode Decoder -> sinks (nf::csv
// CsvSink, nf::clickhouse batcher), plus signals, periodic maintenance, statistics and the
// Prometheus endpoint (nf::metrics).
//
// --workers N (live input): N threads, each with its own SO_REUSEPORT sockets, Decoder and
// ClickHouse batcher; templates are shared through a SharedTemplateStore; the CSV sink is
// shared under a lock taken once per datagram; statistics are summed over workers.
//
// Exit codes: 0 normal end (end of -r input, or SIGINT/SIGTERM after flushing), 1 runtime
// error (output could not be written, capture read error), 2 bad command line / set-up error.
//
// --stats-json FILE (written atomically at exit and on SIGUSR1) is a stable interface:
//   version            1
//   receive            {datagrams, bytes, kernel_drops, denied, receive_errors, truncated,
//                       file_packets, file_not_udp, file_port_filtered, file_truncated}
//   templates          {cached, added, refreshed, replaced, refused, withdrawn, expired}
//   output             {rows, files, aggregate_groups, aggregate_overflow, files_failed,
//                       rows_lost, error}
//   exporters_refused  datagrams from exporters beyond the exporter limit
//   totals             counters summed over exporters (keys below)
//   exporters          [{exporter: "ADDR", port: N (0 unless --template-key-port), counters}]
//   clickhouse         with --clickhouse only: the sink's counters (keys in
//                       collector/output/clickhouse/sink_stats.h: batches, records, retries, spool
//                       bytes/files/records, drops by reason, last_error)
// Counters (totals and each exporter): datagrams, datagram_bytes, v5_datagrams, v9_datagrams,
//   ipfix_datagrams, records, options_records, packets, bytes, templates, templates_new,
//   templates_redefined, templates_withdrawn, sequence_lost, sequence_reordered,
//   sequence_resets, restarts, early_sets_buffered, early_records_decoded,
//   early_sets_aged_out, early_sets_dropped, early_sets_pending, sampling_interval,
//   decode_errors (sum of errors), errors {<reason>: count for every DecodeError name}.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "collector/output/clickhouse/clickhouse_sink.h"
#include "collector/output/clickhouse/schema.h"
#include "collector/output/clickhouse/sink_stats.h"
#include "collector/output/csv/csv_writer.h"
#include "collector/decode/decoder.h"
#include "collector/app/collector_metrics.h"
#include "collector/output/report/html_report.h"
#include "collector/output/report/report_accumulator.h"
#include "metrics/metrics_http.h"
#include "collector/decode/shared_templates.h"
#include "collector/app/run_status.h"
#include "collector/stats/stats_report.h"
#include "collector/receive/udp_server.h"
#include "common/exit_status.h"
#include "common/privileges.h"
#include "capture/packet_parser.h"
#include "capture/pcap_source.h"
#include "common/progress.h"

namespace nf {
namespace {

namespace asio = boost::asio;

volatile sig_atomic_t g_stop = 0;
volatile sig_atomic_t g_usr1 = 0;

// SIGINT, SIGTERM and SIGUSR1 are blocked in every thread from the start of Main (threads
// inherit the mask) and unblocked only in the main thread while it waits for them. After the
// first stop signal the main thread blocks them again, so no thread can take a second one:
// Asio restores SIG_DFL when its signal_set and io_context go away, and a second SIGTERM in
// that window used to kill the process mid-flush. A blocked signal stays pending and is
// discarded at exit.
void SetControlSignalsBlocked(bool blocked) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(blocked ? SIG_BLOCK : SIG_UNBLOCK, &set, nullptr);
}

void OnFileSignal(int sig) {
  if (sig == SIGUSR1) {
    g_usr1 = 1;
  } else {
    g_stop = 1;
  }
}

struct Config {
  std::vector<std::string> listen;
  std::vector<std::string> read_files;
  uint16_t port = 0;
  std::vector<std::string> allow;
  int rcvbuf = 32 << 20;

  bool template_key_port = false;
  double template_ttl_s = 0;
  std::string template_store;
  size_t max_templates = 4096;
  bool apply_sampling = false;
  size_t early_max_sets = 1024;
  uint64_t early_max_bytes = 4 << 20;
  size_t max_exporters = 65536;
  double early_max_age_s = 120;
  uint32_t reorder_window = 64;

  std::string output = "-";
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

  std::string stats_json;
  bool quiet = false;
  int verbose = 0;               // -v: periodic one-line status (and the detailed exit report)
  double status_interval_s = 10;
  ProgressMode progress = ProgressMode::kAuto;

  std::string clickhouse_url;
  std::string table = "flows";
  size_t clickhouse_batch_rows = 50'000;
  double clickhouse_batch_age_s = 5;
  std::string spool_dir;
  uint64_t spool_max_bytes = uint64_t{1} << 30;
  bool clickhouse_schema = false;
  std::string metrics_listen;
  int workers = 1;
  std::string user;   // -u: switch to this user once the sockets are bound
  std::string group;  // -g
};

TimeUs NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One decode worker's sink: the shared CSV sink (the records of one datagram are collected and
// handed over under one lock, so other workers and the statistics report can share it) and the
// worker's own ClickHouse batcher (lock-free).
class WorkerSink : public RecordSink {
 public:
  WorkerSink(CsvSink* csv, std::mutex* csv_mu, clickhouse::ClickHouseWriter* clickhouse,
             RecordSink* report)
      : csv_(csv), csv_mu_(csv_mu), report_(report) {
    if (clickhouse != nullptr) batcher_ = std::make_unique<clickhouse::ClickHouseBatcher>(*clickhouse);
    if (csv_mu_ != nullptr) pending_.reserve(4096);
  }

  void OnRecord(const DecodedRecord& r) override {
    if (csv_ != nullptr || report_ != nullptr) {
      if (csv_mu_ == nullptr) {
        Deliver(r);
      } else {
        pending_.push_back(r);
      }
    }
    if (batcher_ != nullptr) batcher_->OnRecord(r);
  }
  // After each datagram.
  void EndDatagram() {
    if (pending_.empty()) return;
    std::lock_guard<std::mutex> lock(*csv_mu_);
    for (const DecodedRecord& r : pending_) Deliver(r);
    pending_.clear();
  }
  // The shared sinks (under csv_mu_ when there is one): CSV and the --report accumulator.
  void Deliver(const DecodedRecord& r) {
    if (csv_ != nullptr) csv_->OnRecord(r);
    if (report_ != nullptr) report_->OnRecord(r);
  }
  // Periodic: batch age; CSV rotation when `tick_csv` (one worker does it).
  void Tick(TimeUs now, bool tick_csv) {
    EndDatagram();
    if (batcher_ != nullptr) batcher_->Tick(now);
    if (tick_csv && csv_ != nullptr) {
      if (csv_mu_ != nullptr) {
        std::lock_guard<std::mutex> lock(*csv_mu_);
        (void)csv_->Tick(now);
      } else {
        (void)csv_->Tick(now);
      }
    }
  }
  void Flush() {
    EndDatagram();
    if (batcher_ != nullptr) batcher_->Flush();
  }

 private:
  CsvSink* csv_;
  std::mutex* csv_mu_;
  RecordSink* report_;
  std::vector<DecodedRecord> pending_;
  std::unique_ptr<clickhouse::ClickHouseBatcher> batcher_;
};

struct Worker {
  Worker(const DecoderOptions& options, CsvSink* csv, std::mutex* csv_mu,
         clickhouse::ClickHouseWriter* clickhouse, RecordSink* report)
      : decoder(options), sink(csv, csv_mu, clickhouse, report) {}
  Decoder decoder;
  WorkerSink sink;
  asio::io_context io;
  std::unique_ptr<UdpServer> server;
  std::thread thread;
};

class Collector {
 public:
  Collector(const Config& cfg, std::vector<std::unique_ptr<Worker>>& workers, CsvSink* csv,
            std::mutex* csv_mu, clickhouse::ClickHouseWriter* clickhouse,
            metrics::CollectorStatsPublisher* publisher, std::vector<Cidr> allow,
            const Identity* identity)
      : identity_(identity),
        cfg_(cfg),
        workers_(workers),
        csv_(csv),
        csv_mu_(csv_mu),
        clickhouse_(clickhouse),
        publisher_(publisher),
        allow_(std::move(allow)) {}

  // Reads every -r file in order (worker 0). Returns false on a read error.
  bool RunFiles() {
    struct sigaction sa {};
    sa.sa_handler = OnFileSignal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGUSR1, &sa, nullptr);
    SetControlSignalsBlocked(false);
    if (!DropPrivilegesNow()) return false;
    TimeUs last_tick = 0;
    bool ok = true;
    // Display only (wall clock, never decoding): progress bar on a terminal, -v status.
    ProgressOptions po;
    po.label = "flowcollect";
    for (const std::string& f : cfg_.read_files) {
      struct stat st {};
      if (stat(f.c_str(), &st) == 0 && S_ISREG(st.st_mode)) po.total_bytes += st.st_size;
    }
    po.width = TerminalColumns(STDERR_FILENO);
    po.final_line_always = cfg_.progress == ProgressMode::kAlways;
    ProgressBar progress(po, ProgressEnabled(cfg_.progress, isatty(STDERR_FILENO) == 1),
                         MonotonicMicros, [](absl::string_view t) {
                           std::fwrite(t.data(), 1, t.size(), stderr);
                         });
    progress_ = &progress;
    StatusTicker ticker(cfg_.verbose > 0 ? cfg_.status_interval_s : 0, MonotonicMicros());
    while (!g_stop) {
      auto n = source_->Dispatch(512, [&](const RawPacket& p) { OnFrame(p, last_tick); });
      if (!n.ok()) {
        if (!absl::IsOutOfRange(n.status())) {
          std::fprintf(stderr, "flowcollect: %s\n", std::string(n.status().message()).c_str());
          ok = false;
        }
        break;
      }
      progress.Update(source_->BytesRead(), input_.file_packets);
      if (g_usr1) {
        g_usr1 = 0;
        ReportStats();
      }
      if (double seconds = 0; ticker.Due(MonotonicMicros(), &seconds)) {
        ReportStats(Report::kStatus, seconds);
      }
    }
    progress.Finish(source_->BytesRead(), input_.file_packets);
    progress_ = nullptr;
    // End of input: data still waiting for a template will never get one.
    workers_[0]->decoder.DiscardEarly();
    workers_[0]->sink.Flush();
    if (publisher_ != nullptr) publisher_->Publish(0, workers_[0]->decoder, &input_.receive);
    return ok;
  }

  // Receives on UDP until SIGINT/SIGTERM, one thread per worker. Returns false when no socket
  // could be bound.
  bool RunLive() {
    const bool reuse_port = workers_.size() > 1;
    for (size_t w = 0; w < workers_.size(); ++w) {
      Worker& worker = *workers_[w];
      UdpServerOptions options;
      options.listen = cfg_.listen;
      options.rcvbuf_bytes = cfg_.rcvbuf;
      options.allow = allow_;
      options.reuse_port = reuse_port;
      auto server = UdpServer::Create(
          worker.io, options, [&worker](std::span<const uint8_t> d, const ExporterId& e, TimeUs t) {
            worker.decoder.DecodeDatagram(d, e, t, worker.sink);
            worker.sink.EndDatagram();
          });
      if (!server.ok()) {
        std::fprintf(stderr, "flowcollect: %s\n", std::string(server.status().message()).c_str());
        return false;
      }
      worker.server = *std::move(server);
    }
    // Sockets bound, outputs open: nothing below needs privileges.
    if (!DropPrivilegesNow()) return false;
    if (!cfg_.quiet) {
      std::string where;
      for (const auto& e : workers_[0]->server->LocalEndpoints()) absl::StrAppend(&where, " ", e);
      std::fprintf(stderr, "flowcollect: listening on%s (rcvbuf %d bytes, %zu worker%s)\n",
                   where.c_str(), workers_[0]->server->EffectiveRcvbuf(), workers_.size(),
                   workers_.size() == 1 ? "" : "s");
    }
    for (size_t w = 0; w < workers_.size(); ++w) {
      workers_[w]->thread = std::thread([this, w] { RunWorker(w); });
    }
    // The main thread only waits for signals.
    asio::io_context io;
    asio::signal_set signals(io, SIGINT, SIGTERM, SIGUSR1);
    std::function<void(const boost::system::error_code&, int)> on_signal =
        [&](const boost::system::error_code& ec, int sig) {
          if (ec) return;
          if (sig == SIGUSR1) {
            ReportStats();
            signals.async_wait(on_signal);
            return;
          }
          SetControlSignalsBlocked(true);  // a second stop signal must not interrupt the flush
          // Each worker reads what is already queued on its sockets, then stops.
          for (auto& worker : workers_) {
            Worker* wp = worker.get();
            asio::post(wp->io, [wp] {
              wp->server->DrainPending();
              wp->server->Stop();
              wp->io.stop();
            });
          }
          io.stop();
        };
    signals.async_wait(on_signal);
    // -v: the one-line status every --status-interval seconds (wall clock, display only).
    asio::steady_timer status_timer(io);
    const auto status_period = std::chrono::microseconds(
        static_cast<int64_t>(cfg_.status_interval_s * 1e6));
    int64_t status_last_us = MonotonicMicros();
    std::function<void(const boost::system::error_code&)> on_status =
        [&](const boost::system::error_code& ec) {
          if (ec) return;
          const int64_t now = MonotonicMicros();
          ReportStats(Report::kStatus, static_cast<double>(now - status_last_us) / 1e6);
          status_last_us = now;
          status_timer.expires_after(status_period);
          status_timer.async_wait(on_status);
        };
    if (cfg_.verbose > 0 && cfg_.status_interval_s > 0) {
      status_timer.expires_after(status_period);
      status_timer.async_wait(on_status);
    }
    SetControlSignalsBlocked(false);  // only this thread, and only until the first stop signal
    io.run();
    SetControlSignalsBlocked(true);
    for (auto& worker : workers_) {
      if (worker->thread.joinable()) worker->thread.join();
    }
    live_done_ = true;
    for (size_t w = 0; w < workers_.size(); ++w) {
      // Templates another worker learned last: decode early data still waiting for them.
      workers_[w]->decoder.SyncSharedTemplates(NowUs(), workers_[w]->sink);
      workers_[w]->sink.Flush();
      if (publisher_ != nullptr) {
        publisher_->Publish(w, workers_[w]->decoder, &workers_[w]->server->stats());
      }
    }
    return true;
  }

  void set_report(report::ReportAccumulator* report) { report_ = report; }
  // The -r files, opened (and so checked) before any output is written.
  void set_source(std::unique_ptr<PcapSource> source) { source_ = std::move(source); }

  // --report: the page over everything collected so far, written atomically. At exit (`final`:
  // workers joined, decoder counters of all of them) and, live, from worker 0's tick every
  // --rotate seconds (decoder counters only with one worker: others run concurrently).
  bool WriteReport(TimeUs now, bool final) {
    if (report_ == nullptr) return true;
    report::ReportPageInfo info;
    if (cfg_.read_files.empty()) {
      info.source = absl::StrCat("-l ", cfg_.listen.empty() ? "0.0.0.0:2055 [::]:2055"
                                                            : absl::StrJoin(cfg_.listen, " "));
      info.generated_ms = now / 1000;
    } else {
      info.source = absl::StrCat("-r ", absl::StrJoin(cfg_.read_files, " "));
    }
    DecoderSummary summary;
    if (final || workers_.size() == 1) {
      for (auto& worker : workers_) summary.Add(worker->decoder);
      info.decoders = &summary;
    }
    std::string page;
    {
      std::lock_guard<std::mutex> lock(*csv_mu_);
      page = report::RenderHtmlReport(*report_, info);
    }
    absl::Status st = WriteFileAtomically(cfg_.report, page);
    if (!st.ok()) std::fprintf(stderr, "flowcollect: %s\n", std::string(st.message()).c_str());
    return st.ok();
  }

  void SaveTemplates() {
    if (cfg_.template_store.empty()) return;
    // Worker 0 holds every shared template (it syncs them on its ticks).
    absl::Status st = workers_[0]->decoder.templates().Save(cfg_.template_store);
    if (!st.ok()) std::fprintf(stderr, "flowcollect: %s\n", std::string(st.message()).c_str());
  }

  // Statistics summed over workers. While workers run, each copies its own counters on its
  // own thread (posted to its io_context), so nothing is read concurrently.
  // kDetail: every counter (SIGUSR1, and at exit with -v); kExit: the short summary;
  // kStatus: the one-line -v status, with rates over `seconds`.
  enum class Report { kDetail, kExit, kStatus };
  void ReportStats(Report kind = Report::kDetail, double seconds = 0) {
    DecoderSummary summary;
    InputStats in = input_;
    if (!workers_.empty() && workers_[0]->server != nullptr) {
      // Shared with the posted handlers, which may outlive a report that gave up waiting.
      auto parts =
          std::make_shared<std::vector<std::pair<DecoderSummary, ReceiveStats>>>(workers_.size());
      for (size_t w = 0; w < workers_.size(); ++w) {
        Worker* wp = workers_[w].get();
        if (live_done_ || !wp->thread.joinable()) {
          (*parts)[w].first.Add(wp->decoder);
          (*parts)[w].second = wp->server->stats();
          continue;
        }
        auto done = std::make_shared<std::promise<void>>();
        std::future<void> f = done->get_future();
        asio::post(wp->io, [wp, parts, w, done] {
          (*parts)[w].first.Add(wp->decoder);
          (*parts)[w].second = wp->server->stats();
          done->set_value();
        });
        if (f.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
          std::fprintf(stderr, "flowcollect: worker %zu did not answer for statistics\n", w);
          return;
        }
      }
      in.receive = ReceiveStats{};
      for (const auto& [d, r] : *parts) {
        summary.Merge(d);
        in.receive.datagrams += r.datagrams;
        in.receive.bytes += r.bytes;
        in.receive.kernel_drops += r.kernel_drops;
        in.receive.denied += r.denied;
        in.receive.receive_errors += r.receive_errors;
        in.receive.truncated += r.truncated;
      }
    } else {
      summary.Add(workers_[0]->decoder);
    }
    OutputStats out;
    if (csv_ != nullptr) {
      std::unique_lock<std::mutex> lock;
      if (csv_mu_ != nullptr) lock = std::unique_lock<std::mutex>(*csv_mu_);
      out.rows = csv_->rows_written();
      out.files = csv_->files_written();
      out.aggregate_groups = csv_->aggregate_groups();
      out.aggregate_overflow = csv_->aggregate_overflow();
      out.files_failed = csv_->files_failed();
      out.rows_lost = csv_->rows_lost();
      if (!csv_->status().ok()) out.error = std::string(csv_->status().message());
    }
    if (kind == Report::kStatus) {
      const CollectorStatusSample now = StatusSample(summary, in);
      const std::string line = CollectorStatusLine(status_before_, now, seconds);
      status_before_ = now;
      if (progress_ != nullptr) progress_->Clear();
      std::fwrite(line.data(), 1, line.size(), stderr);
      return;
    }
    if (progress_ != nullptr) progress_->Clear();
    if (!cfg_.quiet) {
      std::string text = kind == Report::kExit ? CollectorSummaryText(summary, in, out) : "";
      if (kind == Report::kDetail || cfg_.verbose > 0) text += StatsText(summary, in, out);
      if (clickhouse_ != nullptr) text += clickhouse::SinkStatsText(*clickhouse_);
      std::fwrite(text.data(), 1, text.size(), stderr);
    }
    if (!cfg_.stats_json.empty()) {
      if (clickhouse_ != nullptr) out.clickhouse_json = clickhouse::SinkStatsJson(*clickhouse_);
      AtomicFile f;
      absl::Status st = f.Open(cfg_.stats_json);
      if (st.ok()) st = f.Write(StatsJson(summary, in, out));
      if (st.ok()) st = f.Commit();
      if (!st.ok()) std::fprintf(stderr, "flowcollect: %s\n", std::string(st.message()).c_str());
    }
  }

 private:
  bool DropPrivilegesNow() {
    if (identity_ == nullptr) return true;
    absl::Status st = DropPrivileges(*identity_);
    if (!st.ok()) {
      std::fprintf(stderr, "flowcollect: %s\n", std::string(st.message()).c_str());
      return false;
    }
    if (!cfg_.quiet && (identity_->change_user || identity_->change_group)) {
      std::fprintf(stderr, "flowcollect: running as %s\n", DescribeIdentity(*identity_).c_str());
    }
    return true;
  }

  void RunWorker(size_t w) {
    Worker& worker = *workers_[w];
    asio::steady_timer timer(worker.io);
    int ticks = 0;
    std::function<void(const boost::system::error_code&)> on_tick =
        [&](const boost::system::error_code& ec) {
          if (ec) return;
          const TimeUs now = NowUs();
          worker.decoder.SyncSharedTemplates(now, worker.sink);
          worker.decoder.Expire(now);
          worker.sink.Tick(now, w == 0);
          if (publisher_ != nullptr) publisher_->Publish(w, worker.decoder, &worker.server->stats());
          if (w == 0 && !cfg_.template_store.empty() && ++ticks % 60 == 0) SaveTemplates();
          if (w == 0 && report_ != nullptr) {
            const TimeUs period = cfg_.rotate_s * 1'000'000;
            if (next_report_us_ != 0 && now >= next_report_us_) (void)WriteReport(now, false);
            if (now >= next_report_us_) next_report_us_ = (now / period + 1) * period;
          }
          timer.expires_after(std::chrono::seconds(1));
          timer.async_wait(on_tick);
        };
    timer.expires_after(std::chrono::seconds(1));
    timer.async_wait(on_tick);
    worker.server->Start();
    worker.io.run();
    boost::system::error_code ignored;
    timer.cancel(ignored);
  }

  void OnFrame(const RawPacket& p, TimeUs& last_tick) {
    Worker& worker = *workers_[0];
    ++input_.file_packets;
    PacketMeta meta;
    if (ParsePacket(p.data, p.caplen, p.wire_len, p.link, meta) != ParseResult::kOk ||
        meta.protocol != 17 || meta.payload_offset == 0 || meta.is_non_first_fragment()) {
      ++input_.file_not_udp;
      return;
    }
    if (cfg_.port != 0 && meta.dst_port != cfg_.port) {
      ++input_.file_port_filtered;
      return;
    }
    if (meta.payload_offset > p.caplen || meta.payload_length > p.caplen - meta.payload_offset) {
      ++input_.file_truncated;
      return;
    }
    if (!Allowed(allow_, meta.src)) {
      ++input_.receive.denied;
      return;
    }
    ++input_.receive.datagrams;
    input_.receive.bytes += meta.payload_length;
    worker.decoder.DecodeDatagram(std::span<const uint8_t>(p.data + meta.payload_offset,
                                                           meta.payload_length),
                                  ExporterId{meta.src, meta.src_port}, p.time_us, worker.sink);
    worker.sink.EndDatagram();
    if (p.time_us - last_tick >= 1'000'000) {
      last_tick = p.time_us;
      worker.decoder.Expire(p.time_us);
      worker.sink.Tick(p.time_us, true);
      if (publisher_ != nullptr) publisher_->Publish(0, worker.decoder, &input_.receive);
    }
  }

  const Identity* identity_;
  const Config& cfg_;
  std::vector<std::unique_ptr<Worker>>& workers_;
  CsvSink* csv_;
  std::mutex* csv_mu_;
  clickhouse::ClickHouseWriter* clickhouse_;
  metrics::CollectorStatsPublisher* publisher_;
  std::vector<Cidr> allow_;
  InputStats input_;
  ProgressBar* progress_ = nullptr;  // while RunFiles draws one
  CollectorStatusSample status_before_;
  bool live_done_ = false;
  report::ReportAccumulator* report_ = nullptr;
  TimeUs next_report_us_ = 0;  // live --report: next periodic write
  std::unique_ptr<PcapSource> source_;
};

int Main(int argc, char** argv) {
  SetControlSignalsBlocked(true);  // before any thread exists; see SetControlSignalsBlocked
  Config cfg;
  CLI::App app{
      "flowcollect: collect NetFlow v5, v9 and IPFIX export datagrams (UDP or capture files) and "
      "write flow records or aggregates as CSV.",
      "flowcollect"};
  app.get_formatter()->column_width(34);
  app.set_version_flag("--version", "flowcollect " NF_VERSION, "print the version and exit");
  app.footer(
      "Signals: SIGINT/SIGTERM flush everything and exit; SIGUSR1 prints every counter.\n"
      "\n"
      "Examples:\n"
      "  flowcollect -l 2055 -A src_addr -t 300 --top 10\n"
      "      receive on UDP port 2055; when stopped, print (CSV) the 10 sources with the most bytes\n"
      "      in each 5-minute bin");

  const std::string in = "Input";
  app.add_option("-l,--listen", cfg.listen,
                 "UDP address to receive on, [ADDR:]PORT, IPv6 as [ADDR]:PORT; repeatable "
                 "(default 0.0.0.0:2055 and [::]:2055)")
      ->group(in);
  app.add_option("-r,--read", cfg.read_files,
                 "read export traffic from a pcap/pcapng file instead of the network; repeatable, "
                 "read in order; exits at end of input")
      ->check(CLI::ExistingFile)
      ->group(in);
  app.add_option("--port", cfg.port, "with -r: only UDP datagrams to this destination port")
      ->group(in);
  app.add_option("--allow", cfg.allow,
                 "only accept datagrams from this prefix (CIDR); repeatable; others are dropped "
                 "and counted")
      ->group(in);
  app.add_option("--rcvbuf", cfg.rcvbuf, "socket receive buffer in bytes")
      ->capture_default_str()
      ->check(CLI::Range(4096, 1 << 30))
      ->group(in);

  const std::string dec = "Decoding";
  app.add_flag("--template-key-port", cfg.template_key_port,
               "include the exporter's UDP port in the template key (RFC 7011 transport session)")
      ->group(dec);
  app.add_option("--template-ttl", cfg.template_ttl_s,
                 "forget templates not refreshed for this many seconds (0 = never)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber)
      ->group(dec);
  app.add_option("--template-store", cfg.template_store,
                 "load templates from FILE at start and save them at exit (and every minute), "
                 "so a restart decodes at once")
      ->group(dec);
  app.add_option("--max-templates", cfg.max_templates, "templates kept per exporter")
      ->capture_default_str()
      ->check(CLI::PositiveNumber)
      ->group(dec);
  app.add_flag("--apply-sampling", cfg.apply_sampling,
               "multiply packets and bytes by the sampling interval the exporter announced")
      ->group(dec);
  app.add_option("--early-max-sets", cfg.early_max_sets,
                 "data sets kept per exporter while waiting for their template (0 = none)")
      ->capture_default_str()
      ->group(dec);
  app.add_option("--early-max-bytes", cfg.early_max_bytes,
                 "bytes of data sets kept per exporter while waiting for their template; sets "
                 "beyond it are dropped and counted (suffixes k, m, g)")
      ->capture_default_str()
      ->transform(CLI::AsSizeValue(false))
      ->group(dec);
  app.add_option("--max-exporters", cfg.max_exporters,
                 "exporters tracked (address, or address and port with --template-key-port); "
                 "datagrams from more are dropped and counted (exporters_refused)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber)
      ->group(dec);
  app.add_option("--early-max-age", cfg.early_max_age_s,
                 "seconds a data set waits for its template before it is counted as aged out")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber)
      ->group(dec);
  app.add_option("--reorder-window", cfg.reorder_window,
                 "sequence numbers this far behind are reordering, not loss")
      ->capture_default_str()
      ->group(dec);

  const std::string outg = "Output";
  app.add_option("-o,--output", cfg.output, "CSV output file ('-' = stdout), written atomically")
      ->capture_default_str()
      ->group(outg);
  app.add_option("-w,--write-dir", cfg.write_dir,
                 "write one CSV file per --rotate interval into DIR (flows-YYYYMMDDTHHMMSSZ.csv)")
      ->group(outg);
  app.add_option("--rotate", cfg.rotate_s, "rotation interval in seconds for -w")
      ->capture_default_str()
      ->check(CLI::PositiveNumber)
      ->group(outg);
  app.add_option("--columns", cfg.columns,
                 "comma list of raw-record columns (see --list-columns)")
      ->default_str(std::string(kDefaultCsvColumns))
      ->group(outg);
  app.add_flag("--list-columns", cfg.list_columns, "print the available columns and exit")
      ->group(outg);
  app.add_option("--report", cfg.report,
                 "write an HTML page (traffic by protocol over time, top talkers and ports, "
                 "exporters) to FILE at exit; live also every --rotate seconds; no CSV unless "
                 "-o/-w")
      ->group(outg);
  app.add_option("-A,--aggregate", cfg.aggregate,
                 "aggregate on these columns, e.g. src_addr/24,protocol; prints keys then "
                 "flows,packets,bytes")
      ->group(outg);
  app.add_option("-t,--time-bin", cfg.bin_s, "with -A: time bins of this many seconds (bin_start)")
      ->check(CLI::NonNegativeNumber)
      ->group(outg);
  app.add_option("--top", cfg.top, "with -A: keep the top N groups per time bin")
      ->group(outg);
  app.add_option("--order-by", cfg.order_by, "with -A: sort groups by bytes, packets or flows")
      ->capture_default_str()
      ->check(CLI::IsMember({"bytes", "packets", "flows"}))
      ->group(outg);
  app.add_option("--max-groups", cfg.max_groups,
                 "with -A: groups kept in memory; records beyond are counted as overflow")
      ->capture_default_str()
      ->check(CLI::PositiveNumber)
      ->group(outg);

  const std::string st = "Statistics";
  app.add_option("--stats-json", cfg.stats_json,
                 "write statistics as JSON to FILE at exit and on SIGUSR1")
      ->group(st);
  CLI::Option* quiet =
      app.add_flag("-q,--quiet", cfg.quiet, "no statistics on stderr (not with -v)")->group(st);
  app.add_flag("-v,--verbose", cfg.verbose,
               "one-line status every --status-interval seconds (datagrams/s, records/s, "
               "exporters, templates, drops, early data); every counter at exit")
      ->group(st)
      ->excludes(quiet);
  app.add_option("--status-interval", cfg.status_interval_s,
                 "seconds between -v status lines (0 = none)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 86400.0))
      ->type_name("SECONDS")
      ->group(st);
  app.add_flag_callback(
         "--progress", [&cfg] { cfg.progress = ProgressMode::kAlways; },
         "with -r: draw a progress bar on stderr even when it is not a terminal")
      ->group(st);
  app.add_flag_callback(
         "--no-progress", [&cfg] { cfg.progress = ProgressMode::kNever; },
         "with -r: no progress bar (default: drawn when stderr is a terminal)")
      ->group(st);
  app.add_option("--metrics", cfg.metrics_listen,
                 "serve Prometheus metrics at http://[ADDR:]PORT/metrics (bare PORT: all IPv4 "
                 "addresses)")
      ->group(st);

  const std::string chg = "ClickHouse";
  app.add_option("--clickhouse", cfg.clickhouse_url,
                 "insert raw records into ClickHouse: http://HOST:8123/?database=DB (see "
                 "docs/clickhouse.md)")
      ->group(chg);
  app.add_option("--table", cfg.table, "ClickHouse table, [db.]name")
      ->capture_default_str()
      ->group(chg);
  app.add_option("--clickhouse-batch-rows", cfg.clickhouse_batch_rows,
                 "send a batch at this many rows")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, clickhouse::kMaxBatchRows))
      ->group(chg);
  app.add_option("--clickhouse-batch-age", cfg.clickhouse_batch_age_s,
                 "... or when its first row is this many seconds old")
      ->capture_default_str()
      ->check(CLI::PositiveNumber)
      ->group(chg);
  app.add_option("--spool-dir", cfg.spool_dir,
                 "keep batches ClickHouse did not take in DIR (replayed at start); without it "
                 "they wait in memory")
      ->group(chg);
  app.add_option("--spool-max-bytes", cfg.spool_max_bytes,
                 "bound on the spool; batches beyond it are dropped and counted (suffixes k, "
                 "m, g: powers of 1024)")
      ->capture_default_str()
      ->transform(CLI::AsSizeValue(false))
      ->group(chg);
  app.add_flag("--clickhouse-schema", cfg.clickhouse_schema,
               "print the CREATE TABLE for --table and exit")
      ->group(chg);
  app.add_option("--workers", cfg.workers,
                 "with -l: decode on N threads, each with its own SO_REUSEPORT sockets; "
                 "templates are shared")
      ->capture_default_str()
      ->check(CLI::Range(1, 256))
      ->group(in);
  app.add_option("-u,--user", cfg.user,
                 "switch to USER (and its groups) once the sockets are bound and outputs "
                 "opened (see docs/ROBUSTNESS.md)")
      ->group(in);
  app.add_option("-g,--group", cfg.group, "switch to GROUP (default: USER's primary group)")
      ->group(in);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11's own codes (105, 109, ...) would hide that every one of these is a usage error.
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }

  if (cfg.list_columns) {
    for (const CsvColumnInfo& c : AllCsvColumns()) {
      std::printf("%-16s %s\n", std::string(c.name).c_str(), std::string(c.description).c_str());
    }
    return 0;
  }
  // One line on stderr; the exit status tells a command-line mistake (2) from a failed run (1).
  auto fail = [](const absl::Status& status) {
    std::fprintf(stderr, "flowcollect: %s\n", std::string(status.message()).c_str());
    return ExitStatusFor(status);
  };
  auto usage = [&fail](absl::string_view msg) { return fail(absl::InvalidArgumentError(msg)); };
  if (cfg.clickhouse_schema) {
    if (absl::Status s = clickhouse::ValidateTableName(cfg.table); !s.ok()) return fail(s);
    std::fputs(clickhouse::CreateTableSql(cfg.table).c_str(), stdout);
    return 0;
  }
  if (cfg.workers > 1 && !cfg.read_files.empty()) return usage("--workers needs -l (live input)");
  if (cfg.clickhouse_url.empty() &&
      (!cfg.spool_dir.empty() || app.count("--clickhouse-batch-rows") > 0 ||
       app.count("--clickhouse-batch-age") > 0 || app.count("--spool-max-bytes") > 0)) {
    return usage("the --clickhouse-*/--spool-* options need --clickhouse");
  }
  if (!cfg.read_files.empty() && !cfg.listen.empty()) return usage("use either -l or -r, not both");
  if (!cfg.write_dir.empty() && app.count("--output") > 0) {
    return usage("use either -o or -w, not both");
  }
  if (cfg.aggregate.empty() && (cfg.top > 0 || cfg.bin_s > 0)) {
    return usage("--top and -t need -A");
  }
  // Looked up before anything is opened, so a typo costs nothing.
  auto identity = ResolveIdentity(cfg.user, cfg.group);
  if (!identity.ok()) return fail(identity.status());
  std::vector<Cidr> allow;
  for (const auto& a : cfg.allow) {
    auto c = ParseCidr(a);
    if (!c.ok()) return fail(c.status());
    allow.push_back(*c);
  }

  // Inputs before outputs: a bad -l or -r fails with nothing written to stdout or -o.
  std::unique_ptr<PcapSource> source;
  if (!cfg.read_files.empty()) {
    auto opened = PcapSource::OpenOffline(cfg.read_files);
    if (!opened.ok()) return fail(opened.status());
    source = *std::move(opened);
  } else if (absl::Status s = ValidateListenAddresses(cfg.listen); !s.ok()) {
    return fail(s);
  }

  SharedTemplateStore shared_templates;
  DecoderOptions dopts;
  dopts.templates.key_port = cfg.template_key_port;
  dopts.templates.ttl_us = static_cast<int64_t>(cfg.template_ttl_s * 1e6);
  dopts.templates.max_per_exporter = cfg.max_templates;
  dopts.apply_sampling = cfg.apply_sampling;
  dopts.early_max_sets = cfg.early_max_sets;
  dopts.early_max_bytes = static_cast<size_t>(cfg.early_max_bytes);
  dopts.max_exporters = cfg.max_exporters;
  dopts.early_max_age_us = static_cast<int64_t>(cfg.early_max_age_s * 1e6);
  dopts.reorder_window = cfg.reorder_window;
  if (cfg.workers > 1) dopts.shared_templates = &shared_templates;

  // CSV: always without --clickhouse or --report; with them only when -o or -w is given.
  std::unique_ptr<CsvSink> csv;
  if ((cfg.clickhouse_url.empty() && cfg.report.empty()) || app.count("--output") > 0 ||
      !cfg.write_dir.empty()) {
    CsvSinkOptions sopts;
    sopts.output = cfg.output;
    sopts.directory = cfg.write_dir;
    sopts.rotate_seconds = cfg.rotate_s;
    sopts.columns = cfg.columns;
    sopts.aggregate.keys = cfg.aggregate;
    sopts.aggregate.bin_seconds = cfg.bin_s;
    sopts.aggregate.top = cfg.top;
    sopts.aggregate.order_by = cfg.order_by == "packets" ? OrderBy::kPackets
                               : cfg.order_by == "flows" ? OrderBy::kFlows
                                                         : OrderBy::kBytes;
    sopts.aggregate.max_groups = cfg.max_groups;
    // Disk full, file too large, permission: said at once (the run goes on, see ROBUSTNESS.md).
    sopts.on_error = [](const absl::Status& e) {
      std::fprintf(stderr, "flowcollect: output error: %s\n", std::string(e.message()).c_str());
    };
    auto sink = CsvSink::Create(sopts);
    if (!sink.ok()) return fail(sink.status());
    csv = *std::move(sink);
  }

  std::unique_ptr<clickhouse::ClickHouseWriter> clickhouse_writer;
  if (!cfg.clickhouse_url.empty()) {
    clickhouse::ClickHouseOptions copts;
    copts.url = cfg.clickhouse_url;
    copts.table = cfg.table;
    copts.batch_rows = cfg.clickhouse_batch_rows;
    copts.batch_age_us = static_cast<int64_t>(cfg.clickhouse_batch_age_s * 1e6);
    copts.spool_dir = cfg.spool_dir;
    copts.spool_max_bytes = cfg.spool_max_bytes;
    auto writer = clickhouse::ClickHouseWriter::Create(copts);
    if (!writer.ok()) return fail(writer.status());
    clickhouse_writer = *std::move(writer);
    if (!cfg.quiet && clickhouse_writer->counters().spool_records.load() > 0) {
      std::fprintf(stderr, "flowcollect: %llu spooled records to replay into ClickHouse\n",
                   static_cast<unsigned long long>(
                       clickhouse_writer->counters().spool_records.load()));
    }
  }

  std::unique_ptr<report::ReportAccumulator> report;
  if (!cfg.report.empty()) report = std::make_unique<report::ReportAccumulator>();

  std::mutex csv_mu;
  std::vector<std::unique_ptr<Worker>> workers;
  for (int w = 0; w < cfg.workers; ++w) {
    workers.push_back(std::make_unique<Worker>(dopts, csv.get(), &csv_mu,
                                               clickhouse_writer.get(), report.get()));
    if (!cfg.template_store.empty()) {
      Decoder& decoder = workers.back()->decoder;
      size_t loaded = 0;
      absl::Status s = decoder.templates().Load(
          cfg.template_store,
          [&decoder](CachedTemplate& t, uint8_t version) { return decoder.Compile(t, version); },
          &loaded);
      if (!s.ok()) return fail(s);
      if (!cfg.quiet && loaded > 0 && w == 0) {
        std::fprintf(stderr, "flowcollect: loaded %zu templates from %s\n", loaded,
                     cfg.template_store.c_str());
      }
    }
  }

  metrics::Registry registry;
  metrics::CollectorStatsPublisher publisher(workers.size());
  std::unique_ptr<metrics::MetricsServer> metrics_server;
  if (!cfg.metrics_listen.empty()) {
    publisher.Register(registry);
    if (clickhouse_writer != nullptr) metrics::RegisterClickHouseMetrics(registry, *clickhouse_writer);
    auto server = metrics::MetricsServer::Start(registry, cfg.metrics_listen);
    if (!server.ok()) return fail(server.status());
    metrics_server = *std::move(server);
    if (!cfg.quiet) {
      std::fprintf(stderr, "flowcollect: metrics on port %u at /metrics\n", metrics_server->port());
    }
  }

  Collector collector(cfg, workers, csv.get(), &csv_mu,
                      clickhouse_writer.get(), metrics_server ? &publisher : nullptr, allow,
                      &*identity);
  collector.set_report(report.get());
  collector.set_source(std::move(source));
  bool ok = cfg.read_files.empty() ? collector.RunLive() : collector.RunFiles();
  // The final flush must finish: a second SIGTERM/SIGINT (an impatient service manager, a
  // double Ctrl-C) must not kill the process with a rotation file half written.
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  if (!ok && cfg.read_files.empty()) {
    // No socket bound or no privilege drop: nothing was received, so nothing is written (the
    // sink's destructor abandons its output).
    if (clickhouse_writer != nullptr) clickhouse_writer->Close(0);
    return kExitFailure;
  }
  if (csv != nullptr) {
    absl::Status closed = csv->Close();
    if (!closed.ok()) {
      std::fprintf(stderr, "flowcollect: %s\n", std::string(closed.message()).c_str());
      ok = false;
    }
  }
  if (clickhouse_writer != nullptr) {
    // Give ClickHouse a few seconds for what is queued; the rest stays in the spool.
    clickhouse_writer->Close(5'000'000);
  }
  collector.SaveTemplates();
  if (!collector.WriteReport(NowUs(), true)) ok = false;
  collector.ReportStats(Collector::Report::kExit);
  if (metrics_server != nullptr) metrics_server->Stop();
  return ok ? kExitOk : kExitFailure;
}

}  // namespace
}  // namespace nf

int main(int argc, char** argv) { return nf::Main(argc, argv); }
