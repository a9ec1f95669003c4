#include "collector/app/collector_runtime.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "capture/packet_parser.h"
#include "capture/pcap_source.h"
#include "collector/app/collector_metrics.h"
#include "collector/app/run_status.h"
#include "collector/decode/decoder.h"
#include "collector/decode/shared_templates.h"
#include "collector/filter/flow_filter.h"
#include "collector/ha/ha_node.h"
#include "collector/output/clickhouse/clickhouse_sink.h"
#include "collector/output/clickhouse/credentials.h"
#include "collector/output/clickhouse/schema.h"
#include "collector/output/clickhouse/sink_stats.h"
#include "collector/output/aggregate/aggregator.h"
#include "collector/output/csv/csv_sink.h"
#include "collector/output/format/columns.h"
#include "collector/output/fanout/fanout_sink.h"
#include "collector/output/report/html_report.h"
#include "collector/output/report/report_accumulator.h"
#include "collector/receive/datagram_forwarder.h"
#include "collector/receive/tcp_server.h"
#include "collector/receive/udp_server.h"
#include "collector/store/store_files.h"
#include "collector/store/store_writer.h"
#include "collector/stats/stats_report.h"
#include "common/atomic_file.h"
#include "common/exit_status.h"
#include "common/privileges.h"
#include "common/progress.h"
#include "enrich/enrichment.h"
#include "metrics/metrics_server.h"

namespace nf {
namespace {

namespace asio = boost::asio;

volatile sig_atomic_t g_stop = 0;
volatile sig_atomic_t g_usr1 = 0;
volatile sig_atomic_t g_hup = 0;

// SIGINT, SIGTERM, SIGUSR1 and SIGHUP are blocked in every thread from the start of Main (threads
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
  sigaddset(&set, SIGHUP);
  pthread_sigmask(blocked ? SIG_BLOCK : SIG_UNBLOCK, &set, nullptr);
}

void OnFileSignal(int sig) {
  if (sig == SIGUSR1) {
    g_usr1 = 1;
  } else if (sig == SIGHUP) {
    g_hup = 1;
  } else {
    g_stop = 1;
  }
}

TimeUs NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The default raw columns, and those of each configured enrichment source after them (only
// when --columns is not given: an explicit list is the user's).
std::string EffectiveColumns(const CollectorOptions& o) {
  if (!o.columns.empty()) return o.columns;
  std::string columns(kDefaultCsvColumns);
  const EnrichmentConfig& e = o.enrichment;
  if (!e.routes.empty() || !e.asn_db.empty()) columns += ",src_as,dst_as";
  if (!e.routes.empty()) columns += ",src_mask,dst_mask";
  if (!e.geo_db.empty()) columns += ",src_country,dst_country";
  if (!e.interfaces.empty()) columns += ",input_if_name,output_if_name";
  return columns;
}

struct Worker {
  Worker(const DecoderOptions& options, CsvSink* csv, std::mutex* csv_mu,
         clickhouse::ClickHouseWriter* clickhouse, RecordSink* report,
         const Enrichment* enrichment, bool enrich_override, const FlowFilter* filter)
      : decoder(options),
        sink(csv, csv_mu, clickhouse, report, enrichment, enrich_override, filter) {}
  Decoder decoder;
  FanoutSink sink;
  asio::io_context io;
  std::unique_ptr<UdpServer> server;
  std::unique_ptr<TcpServer> tcp;  // --listen-tcp: worker 0 only
  DatagramForwarder* forward = nullptr;  // --forward: this worker pushes as producer `index`
  std::thread thread;
  size_t index = 0;
  InputStats input;      // -r: this worker's share of the file counters
  TimeUs last_tick = 0;  // -r: packet time of the last periodic work
};

// One -r input: a capture file as given, or a file of a flow store directory.
struct ReadInput {
  std::string path;
  uint64_t size = 0;
  // A flow store file: its leading template datagrams are learned, not counted as traffic.
  bool store = false;
};

void AddInputStats(InputStats& into, const InputStats& from) {
  into.receive.datagrams += from.receive.datagrams;
  into.receive.bytes += from.receive.bytes;
  into.receive.denied += from.receive.denied;
  into.file_packets += from.file_packets;
  into.file_not_udp += from.file_not_udp;
  into.file_port_filtered += from.file_port_filtered;
  into.file_truncated += from.file_truncated;
  into.file_out_of_range += from.file_out_of_range;
  into.store_templates += from.store_templates;
}

}  // namespace

class CollectorRuntime::Impl {
 public:
  explicit Impl(const CollectorOptions& o) : o_(o) {}

  // The part of Create after the options were checked; see CollectorRuntime::Create.
  absl::Status Open() {
    if (absl::Status s = CompileSelection(); !s.ok()) return s;
    // Looked up before anything is opened, so a typo costs nothing.
    absl::StatusOr<Identity> identity = ResolveIdentity(o_.user, o_.group);
    if (!identity.ok()) return identity.status();
    identity_storage_ = *identity;
    identity_ = &identity_storage_;
    for (const auto& a : o_.allow) {
      absl::StatusOr<Cidr> c = ParseCidr(a);
      if (!c.ok()) return c.status();
      allow_.push_back(*c);
    }
    // Inputs before outputs: a bad -l or -r fails with nothing written to stdout or -o.
    if (!o_.read_files.empty()) {
      if (absl::Status s = ExpandReadInputs(); !s.ok()) return s;
    } else if (absl::Status s = ValidateListenAddresses(o_.listen); !s.ok()) {
      return s;
    } else if (absl::Status t = ValidateListenAddresses(o_.listen_tcp); !t.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--listen-tcp: ", t.message()));
    }
    if (!o_.forward.empty()) {
      // Resolved, and the raw sockets opened, while privileges are still held.
      ForwardOptions fo;
      fo.destinations = o_.forward;
      fo.keep_source = o_.forward_keep_source;
      fo.producers = static_cast<size_t>(o_.workers);
      absl::StatusOr<std::unique_ptr<DatagramForwarder>> f = DatagramForwarder::Create(fo);
      if (!f.ok()) return f.status();
      forwarder_ = *std::move(f);
    }
    if (o_.enrichment.any()) {
      // The files exist (the command line checked); what is in them is this run's problem, so
      // a bad one fails the run (exit 1), not the usage.
      absl::StatusOr<std::unique_ptr<Enrichment>> e = Enrichment::Create(o_.enrichment);
      if (!e.ok()) return absl::FailedPreconditionError(e.status().message());
      enrichment_ = *std::move(e);
      if (!o_.quiet) {
        std::fprintf(stderr, "flowcollect: enrichment: %s\n",
                     enrichment_->Current()->Summary().c_str());
      }
    }
    if (!o_.store_dir.empty()) {
      StoreOptions so;
      so.directory = o_.store_dir;
      so.rotate_seconds = o_.store_rotate_s;
      so.compress = o_.store_compress;
      if (!o_.store_retention.empty()) {
        absl::Status s =
            ParseRetention(o_.store_retention, &so.retention_seconds, &so.retention_bytes);
        if (!s.ok()) return s;
      }
      // Disk full, permission: said at once, once per file (the run goes on, see ROBUSTNESS.md).
      so.on_error = [](const absl::Status& e) {
        std::fprintf(stderr, "flowcollect: store error: %s\n", std::string(e.message()).c_str());
      };
      absl::StatusOr<std::unique_ptr<StoreWriter>> store = StoreWriter::Create(so);
      if (!store.ok()) return store.status();
      store_ = *std::move(store);
    }
    return OpenOutputs();
  }

  // -f and --from/--to, before anything is opened: a typo in either is a usage error.
  absl::Status CompileSelection() {
    const auto usage = [](absl::string_view msg) { return absl::InvalidArgumentError(msg); };
    if (!o_.filter.empty() && !o_.filter_words.empty()) {
      return usage(absl::StrCat("give the filter either with -f or as words after the options, "
                                "not both (unexpected '", o_.filter_words[0], "')"));
    }
    filter_text_ = o_.filter.empty() ? absl::StrJoin(o_.filter_words, " ") : o_.filter;
    absl::StatusOr<FlowFilter> filter = FlowFilter::Compile(filter_text_);
    if (!filter.ok()) return usage(absl::StrCat("filter: ", filter.status().message()));
    filter_ = *std::move(filter);
    if (filter_.uses_country() && o_.enrichment.geo_db.empty()) {
      return usage("filter: country terms need --geo-db");
    }
    if (filter_.uses_interface_names() && o_.enrichment.interfaces.empty()) {
      return usage("filter: interface names need --interfaces");
    }
    if ((!o_.from.empty() || !o_.to.empty()) && o_.read_files.empty()) {
      return usage("--from and --to need -r");
    }
    const TimeUs now = NowUs();
    if (!o_.from.empty()) {
      absl::StatusOr<TimeUs> t = ParseTimeArgument(o_.from, now);
      if (!t.ok()) return usage(absl::StrCat("--from: ", t.status().message()));
      from_us_ = *t;
    }
    if (!o_.to.empty()) {
      absl::StatusOr<TimeUs> t = ParseTimeArgument(o_.to, now);
      if (!t.ok()) return usage(absl::StrCat("--to: ", t.status().message()));
      to_us_ = *t;
    }
    if (from_us_ >= to_us_) return usage("--from must be before --to");
    return absl::OkStatus();
  }

  // -r: directories become their store files (time order, chosen by --from/--to), files stay
  // as given. The first input is opened here, so the usual mistakes fail before any output;
  // the others only have to be readable (they are opened one at a time: a store may hold
  // thousands).
  absl::Status ExpandReadInputs() {
    for (const std::string& arg : o_.read_files) {
      struct stat st {};
      if (stat(arg.c_str(), &st) != 0) {
        return absl::NotFoundError(absl::StrCat(arg, ": ", std::strerror(errno)));
      }
      if (S_ISDIR(st.st_mode)) {
        absl::StatusOr<std::vector<StoreFile>> files = ListStoreFiles(arg, from_us_, to_us_);
        if (!files.ok()) return files.status();
        for (StoreFile& f : *files) inputs_.push_back({std::move(f.path), f.size, true});
        continue;
      }
      if (access(arg.c_str(), R_OK) != 0) {
        return absl::PermissionDeniedError(absl::StrCat(arg, ": ", std::strerror(errno)));
      }
      const std::string base = arg.substr(arg.find_last_of('/') + 1);
      inputs_.push_back({arg, static_cast<uint64_t>(st.st_size), StoreFileStart(base) >= 0});
    }
    if (inputs_.empty()) {
      if (!o_.quiet) std::fprintf(stderr, "flowcollect: no store files in the time range\n");
      return absl::OkStatus();
    }
    absl::StatusOr<std::unique_ptr<PcapSource>> opened = PcapSource::OpenOffline({inputs_[0].path});
    if (!opened.ok()) return opened.status();
    first_source_ = *std::move(opened);
    return absl::OkStatus();
  }

  // -r on more than one thread: store files only (each decodes alone, so no thread needs
  // another's templates), and only for outputs that do not depend on record order (raw CSV
  // rows keep the files' time order, --store the datagrams', -w its rotation).
  size_t FileThreads() const {
    // -w rotates its files by packet time, which must advance in one order.
    if (inputs_.size() < 2 || !o_.store_dir.empty() || !o_.write_dir.empty()) return 1;
    const bool raw_csv = o_.aggregate.empty() &&
                         ((o_.clickhouse_url.empty() && o_.report.empty()) || o_.output_given ||
                          !o_.write_dir.empty());
    if (raw_csv) return 1;
    for (const ReadInput& in : inputs_) {
      if (!in.store) return 1;
    }
    size_t n = o_.read_threads > 0 ? static_cast<size_t>(o_.read_threads)
                                   : std::min<size_t>(std::thread::hardware_concurrency(), 8);
    return std::max<size_t>(1, std::min(n, inputs_.size()));
  }

  // Reads the -r inputs: in order on one thread, or (FileThreads) each worker taking the next
  // file. Returns false on a read error.
  bool RunFiles() {
    struct sigaction sa {};
    sa.sa_handler = OnFileSignal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGUSR1, &sa, nullptr);
    if (enrichment_ != nullptr) sigaction(SIGHUP, &sa, nullptr);
    SetControlSignalsBlocked(false);
    if (!DropPrivilegesNow()) return false;
    // Display only (wall clock, never decoding): progress bar on a terminal, -v status.
    ProgressOptions po;
    po.label = "flowcollect";
    for (const ReadInput& in : inputs_) po.total_bytes += in.size;
    po.width = TerminalColumns(STDERR_FILENO);
    po.final_line_always = o_.progress == ProgressMode::kAlways;
    ProgressBar progress(po, ProgressEnabled(o_.progress, isatty(STDERR_FILENO) == 1),
                         MonotonicMicros, [](absl::string_view t) {
                           std::fwrite(t.data(), 1, t.size(), stderr);
                         });
    progress_ = &progress;
    std::vector<std::thread> threads;
    std::vector<char> thread_ok(workers_.size(), 1);
    for (size_t w = 1; w < workers_.size(); ++w) {
      threads.emplace_back([this, w, &thread_ok] { thread_ok[w] = ReadFiles(w) ? 1 : 0; });
    }
    thread_ok[0] = ReadFiles(0) ? 1 : 0;
    for (std::thread& t : threads) t.join();
    progress.Finish(bytes_done_.load(), FileInputStats().file_packets);
    progress_ = nullptr;
    for (size_t w = 0; w < workers_.size(); ++w) {
      // End of input: data still waiting for a template will never get one.
      workers_[w]->decoder.DiscardEarly();
      workers_[w]->sink.Flush();
      if (publisher_ != nullptr) {
        publisher_->Publish(w, workers_[w]->decoder, &workers_[w]->input.receive);
      }
    }
    return std::all_of(thread_ok.begin(), thread_ok.end(), [](char ok) { return ok != 0; });
  }

  // One reader: takes the next input until none is left, a stop, or a read error. Worker 0
  // runs on the main thread and alone handles signals, the progress bar and the -v status.
  bool ReadFiles(size_t w) {
    Worker& worker = *workers_[w];
    const bool alone = workers_.size() == 1;
    StatusTicker ticker(o_.verbose > 0 && alone ? o_.status_interval_s : 0, MonotonicMicros());
    bool ok = true;
    while (ok && !stop_requested_.load()) {
      const size_t i = next_input_.fetch_add(1);
      if (i >= inputs_.size()) break;
      std::unique_ptr<PcapSource> source;
      if (i == 0) {
        source = std::move(first_source_);
      } else {
        absl::StatusOr<std::unique_ptr<PcapSource>> opened =
            PcapSource::OpenOffline({inputs_[i].path});
        if (!opened.ok()) {
          std::fprintf(stderr, "flowcollect: %s\n", std::string(opened.status().message()).c_str());
          ok = false;
          break;
        }
        source = *std::move(opened);
      }
      const bool store = inputs_[i].store;
      while (true) {
        if (w == 0 && g_stop) stop_requested_.store(true);
        if (stop_requested_.load()) break;
        auto n = source->Dispatch(512, [&](const RawPacket& p) { OnFrame(worker, store, p); });
        if (!n.ok()) {
          if (!absl::IsOutOfRange(n.status())) {
            std::fprintf(stderr, "flowcollect: %s\n", std::string(n.status().message()).c_str());
            ok = false;
          }
          break;
        }
        if (w != 0) continue;
        if (progress_ != nullptr) {
          progress_->Update(bytes_done_.load() + source->BytesRead(), worker.input.file_packets);
        }
        if (g_usr1) {
          g_usr1 = 0;
          // Other readers' counters cannot be read while they run: all of them come at the end.
          if (alone) ReportStats();
        }
        if (g_hup) {
          g_hup = 0;
          if (enrichment_ != nullptr) enrichment_->RequestReload();
        }
        if (double seconds = 0; ticker.Due(MonotonicMicros(), &seconds)) {
          ReportStats(Report::kStatus, seconds);
        }
      }
      bytes_done_ += inputs_[i].size;
    }
    if (!ok) stop_requested_.store(true);
    return ok;
  }

  InputStats FileInputStats() const {
    InputStats in;
    for (const auto& worker : workers_) AddInputStats(in, worker->input);
    return in;
  }

  // Receives on UDP until SIGINT/SIGTERM, one thread per worker. Returns false when no socket
  // could be bound.
  bool RunLive() {
    const bool reuse_port = workers_.size() > 1;
    for (size_t w = 0; w < workers_.size(); ++w) {
      Worker& worker = *workers_[w];
      worker.forward = forwarder_.get();
      UdpServerOptions options;
      options.listen = o_.listen;
      options.rcvbuf_bytes = o_.rcvbuf;
      options.coalesce_us = o_.receive_coalesce_us;
      options.allow = allow_;
      options.reuse_port = reuse_port;
      auto server = UdpServer::Create(
          worker.io, options,
          [&worker, store = store_.get(), ha = ha_.get()](std::span<const uint8_t> d,
                                                          const ExporterId& e, TimeUs t) {
            // --forward: the copy is queued before anything can refuse the datagram.
            if (worker.forward != nullptr) worker.forward->Push(worker.index, d, e);
            if (ha != nullptr && !ha->active()) {
              // Standing by: keep it for a takeover, and keep the templates warm.
              ha->Spool(d, e, t);
              worker.decoder.LearnTemplatesOnly(d, e, t, worker.sink);
              worker.sink.EndDatagram();  // releases the outputs' lock if a record was written
              return;
            }
            if (store != nullptr) store->Append(d, e, t);
            worker.decoder.DecodeDatagram(d, e, t, worker.sink);
            worker.sink.EndDatagram();
            if (ha != nullptr) ha->Written(d);
          });
      if (!server.ok()) {
        std::fprintf(stderr, "flowcollect: %s\n", std::string(server.status().message()).c_str());
        return false;
      }
      worker.server = *std::move(server);
      // Confirm once per burst: the outputs are flushed to the kernel first.
      if (ha_ != nullptr) worker.server->set_batch_end([ha = ha_.get()] { ha->Commit(); });
    }
    if (!o_.listen_tcp.empty()) {
      // IPFIX over TCP: every connection on worker 0, whose decoder keeps each session's
      // templates to itself and forgets them when the connection closes.
      Worker& worker = *workers_[0];
      TcpServerOptions options;
      options.listen = o_.listen_tcp;
      options.allow = allow_;
      options.max_connections = o_.max_tcp_exporters;
      options.idle_timeout = std::chrono::milliseconds(
          static_cast<int64_t>(o_.tcp_idle_timeout_s * 1000));
      options.message_timeout = std::chrono::milliseconds(
          static_cast<int64_t>(o_.tcp_message_timeout_s * 1000));
      auto tcp = TcpServer::Create(
          worker.io, options,
          [&worker, store = store_.get()](std::span<const uint8_t> m, const ExporterId& e,
                                          TimeUs t) {
            if (worker.forward != nullptr) worker.forward->Push(worker.index, m, e);
            if (store != nullptr) store->Append(m, e, t);
            worker.decoder.DecodeSessionMessage(m, e, t, worker.sink);
            worker.sink.EndDatagram();
          },
          [&worker](const ExporterId& e) {
            worker.decoder.EndSession(e);
            worker.sink.EndDatagram();
          });
      if (!tcp.ok()) {
        std::fprintf(stderr, "flowcollect: %s\n", std::string(tcp.status().message()).c_str());
        return false;
      }
      worker.tcp = *std::move(tcp);
    }
    // Sockets bound, outputs open: nothing below needs privileges.
    if (!DropPrivilegesNow()) return false;
    if (!o_.quiet) {
      std::string where;
      for (const auto& e : workers_[0]->server->LocalEndpoints()) absl::StrAppend(&where, " ", e);
      if (workers_[0]->tcp != nullptr) {
        for (const auto& e : workers_[0]->tcp->LocalEndpoints()) {
          absl::StrAppend(&where, " tcp:", e);
        }
      }
      std::fprintf(stderr, "flowcollect: listening on%s (rcvbuf %d bytes, %zu worker%s)\n",
                   where.c_str(), workers_[0]->server->EffectiveRcvbuf(), workers_.size(),
                   workers_.size() == 1 ? "" : "s");
      if (workers_[0]->server->RcvbufCapped()) {
        // Bursts beyond the smaller buffer become kernel drops: say how to get the full size.
#ifdef __linux__
        const std::string how = absl::StrCat("sysctl -w net.core.rmem_max=", o_.rcvbuf,
                                             ", or start flowcollect with CAP_NET_ADMIN");
#else
        const std::string how = "raise kern.ipc.maxsockbuf (docs/freebsd.md) or lower --rcvbuf";
#endif
        std::fprintf(stderr,
                     "flowcollect: warning: the kernel gave a smaller receive buffer than "
                     "--rcvbuf %d asks (%s)\n",
                     o_.rcvbuf, how.c_str());
      }
    }
    if (forwarder_ != nullptr) forwarder_->Start();
    for (size_t w = 0; w < workers_.size(); ++w) {
      workers_[w]->thread = std::thread([this, w] { RunWorker(w); });
    }
    // The main thread only waits for signals (and RequestStop, posted to the same context).
    asio::io_context& io = control_io_;
    asio::signal_set signals(io, SIGINT, SIGTERM, SIGUSR1);
    // SIGHUP reloads the enrichment sources (on the enrichment's own thread: workers never
    // wait). Without them it stays ignored (RunCollector).
    if (enrichment_ != nullptr) {
      boost::system::error_code ec;
      signals.add(SIGHUP, ec);
      if (ec) std::fprintf(stderr, "flowcollect: SIGHUP reloads unavailable: %s\n",
                           ec.message().c_str());
    }
    stop_live_ = [this, &io] {
      SetControlSignalsBlocked(true);  // a second stop signal must not interrupt the flush
      // Each worker reads what is already queued on its sockets, then stops.
      for (auto& worker : workers_) {
        Worker* wp = worker.get();
        HaNode* ha = wp->index == 0 ? ha_.get() : nullptr;
        asio::post(wp->io, [wp, ha] {
          wp->server->DrainPending();  // its burst ends with an HA commit
          if (ha != nullptr) ha->Stop();
          // Complete TCP messages already received are decoded, incomplete ones counted.
          if (wp->tcp != nullptr) wp->tcp->DrainAndStop();
          wp->server->Stop();
          wp->io.stop();
        });
      }
      io.stop();
    };
    std::function<void(const boost::system::error_code&, int)> on_signal =
        [&](const boost::system::error_code& ec, int sig) {
          if (ec) return;
          if (sig == SIGUSR1) {
            ReportStats();
            signals.async_wait(on_signal);
            return;
          }
          if (sig == SIGHUP) {
            enrichment_->RequestReload();
            signals.async_wait(on_signal);
            return;
          }
          stop_live_();
        };
    signals.async_wait(on_signal);
    if (stop_requested_.load()) asio::post(io, stop_live_);
    // -v: the one-line status every --status-interval seconds (wall clock, display only).
    asio::steady_timer status_timer(io);
    const auto status_period = std::chrono::microseconds(
        static_cast<int64_t>(o_.status_interval_s * 1e6));
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
    if (o_.verbose > 0 && o_.status_interval_s > 0) {
      status_timer.expires_after(status_period);
      status_timer.async_wait(on_status);
    }
    SetControlSignalsBlocked(false);  // only this thread, and only until the first stop signal
    io.run();
    stop_live_ = nullptr;
    SetControlSignalsBlocked(true);
    for (auto& worker : workers_) {
      if (worker->thread.joinable()) worker->thread.join();
    }
    // The workers pushed their last copies while draining their sockets: send them (bounded).
    if (forwarder_ != nullptr) forwarder_->Stop();
    live_done_ = true;
    for (size_t w = 0; w < workers_.size(); ++w) {
      // Templates another worker learned last: decode early data still waiting for them.
      workers_[w]->decoder.SyncSharedTemplates(NowUs(), workers_[w]->sink);
      workers_[w]->sink.Flush();
      if (publisher_ != nullptr) {
        publisher_->Publish(w, workers_[w]->decoder, &workers_[w]->server->stats());
        if (workers_[w]->tcp != nullptr) publisher_->PublishTcp(workers_[w]->tcp->stats());
      }
    }
    return true;
  }

  // --report: the page over everything collected so far, written atomically. At exit (`final`:
  // workers joined, decoder counters of all of them) and, live, from worker 0's tick every
  // --rotate seconds (decoder counters only with one worker: others run concurrently).
  bool WriteReport(TimeUs now, bool final) {
    if (report_ == nullptr) return true;
    report::ReportPageInfo info;
    if (o_.read_files.empty()) {
      info.source = absl::StrCat("-l ", o_.listen.empty() ? "0.0.0.0:2055 [::]:2055"
                                                            : absl::StrJoin(o_.listen, " "));
      info.generated_ms = now / 1000;
    } else {
      info.source = absl::StrCat("-r ", absl::StrJoin(o_.read_files, " "));
      if (!o_.from.empty()) absl::StrAppend(&info.source, " --from ", o_.from);
      if (!o_.to.empty()) absl::StrAppend(&info.source, " --to ", o_.to);
      if (!filter_text_.empty()) absl::StrAppend(&info.source, " -f '", filter_text_, "'");
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
    absl::Status st = WriteFileAtomically(o_.report, page);
    if (!st.ok()) std::fprintf(stderr, "flowcollect: %s\n", std::string(st.message()).c_str());
    return st.ok();
  }

  void SaveTemplates() {
    if (o_.template_store.empty()) return;
    // Worker 0 holds every shared template (it syncs them on its ticks).
    absl::Status st = workers_[0]->decoder.templates().Save(o_.template_store);
    if (!st.ok()) std::fprintf(stderr, "flowcollect: %s\n", std::string(st.message()).c_str());
  }

  // Statistics summed over workers. While workers run, each copies its own counters on its
  // own thread (posted to its io_context), so nothing is read concurrently.
  // kDetail: every counter (SIGUSR1, and at exit with -v); kExit: the short summary;
  // kStatus: the one-line -v status, with rates over `seconds`.
  enum class Report { kDetail, kExit, kStatus };
  void ReportStats(Report kind = Report::kDetail, double seconds = 0) {
    DecoderSummary summary;
    InputStats in = o_.read_files.empty() ? InputStats{} : FileInputStats();
    if (!workers_.empty() && workers_[0]->server != nullptr) {
      // Shared with the posted handlers, which may outlive a report that gave up waiting.
      auto parts =
          std::make_shared<std::vector<std::pair<DecoderSummary, ReceiveStats>>>(workers_.size());
      auto tcp = std::make_shared<TcpReceiveStats>();  // worker 0's
      for (size_t w = 0; w < workers_.size(); ++w) {
        Worker* wp = workers_[w].get();
        if (live_done_ || !wp->thread.joinable()) {
          (*parts)[w].first.Add(wp->decoder);
          (*parts)[w].second = wp->server->stats();
          if (wp->tcp != nullptr) *tcp = wp->tcp->stats();
          continue;
        }
        auto done = std::make_shared<std::promise<void>>();
        std::future<void> f = done->get_future();
        asio::post(wp->io, [wp, parts, w, done, tcp] {
          (*parts)[w].first.Add(wp->decoder);
          (*parts)[w].second = wp->server->stats();
          if (wp->tcp != nullptr) *tcp = wp->tcp->stats();
          done->set_value();
        });
        if (f.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
          std::fprintf(stderr, "flowcollect: worker %zu did not answer for statistics\n", w);
          return;
        }
      }
      in.receive = ReceiveStats{};
      in.tcp_listening = workers_[0]->tcp != nullptr;
      in.tcp = *tcp;
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
      for (const auto& worker : workers_) summary.Add(worker->decoder);
    }
    OutputStats out;
    for (const auto& worker : workers_) out.records_filtered += worker->sink.records_filtered();
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
    if (!o_.quiet) {
      std::string text = kind == Report::kExit ? CollectorSummaryText(summary, in, out) : "";
      if (kind == Report::kDetail || o_.verbose > 0) text += StatsText(summary, in, out);
      if (clickhouse_ != nullptr) text += clickhouse::SinkStatsText(*clickhouse_);
      if (forwarder_ != nullptr) text += ForwardStatsText(forwarder_->Stats());
      if (ha_ != nullptr && kind == Report::kDetail) text += HaStatsText(ha_->stats());
      std::fwrite(text.data(), 1, text.size(), stderr);
    }
    if (!o_.stats_json.empty()) {
      if (clickhouse_ != nullptr) out.clickhouse_json = clickhouse::SinkStatsJson(*clickhouse_);
      if (forwarder_ != nullptr) out.forward_json = ForwardStatsJson(forwarder_->Stats());
      if (store_ != nullptr) {
        const StoreCounters& c = store_->counters();
        out.store_json = absl::StrCat(
            "{\"datagrams\":", c.datagrams.load(), ",\"bytes\":", c.bytes.load(),
            ",\"files\":", c.files.load(), ",\"template_datagrams\":",
            c.template_datagrams.load(), ",\"datagrams_lost\":", c.datagrams_lost.load(),
            ",\"write_errors\":", c.write_errors.load(), ",\"files_removed\":",
            c.files_removed.load(), ",\"files_recovered\":", c.files_recovered.load(),
            ",\"templates_untracked\":", c.templates_untracked.load(), ",\"last_error\":");
        AppendJsonString(store_->last_error(), out.store_json);
        out.store_json.push_back('}');
      }
      if (ha_ != nullptr) out.ha_json = HaStatsJson(ha_->stats());
      if (enrichment_ != nullptr) {
        const EnrichmentStats e = enrichment_->stats();
        out.enrichment_json = absl::StrCat(
            "{\"generation\":", e.generation, ",\"reloads\":", e.reloads,
            ",\"reload_failures\":", e.reload_failures, ",\"lookup_errors\":", e.lookup_errors,
            "}");
      }
      AtomicFile f;
      absl::Status st = f.Open(o_.stats_json);
      if (st.ok()) st = f.Write(StatsJson(summary, in, out));
      if (st.ok()) st = f.Commit();
      if (!st.ok()) std::fprintf(stderr, "flowcollect: %s\n", std::string(st.message()).c_str());
    }
  }

 private:
  // --ha-peer: the node on worker 0's io_context (HA runs one worker). A replayed datagram
  // takes the path a live one does when active; the outputs are flushed before a confirmation.
  absl::Status CreateHaNode(Worker& worker) {
    HaOptions options;
    options.peer = o_.ha_peer;
    options.listen = o_.ha_listen;
    options.state_file = o_.ha_state;
    options.spool.max_bytes = static_cast<size_t>(o_.ha_spool_bytes);
    options.spool.max_age_us = static_cast<TimeUs>(o_.ha_spool_s * 1e6);
    HaNode::Callbacks callbacks;
    callbacks.replay = [&worker, store = store_.get()](std::span<const uint8_t> d,
                                                       const ExporterId& e, TimeUs t) {
      if (store != nullptr) store->Append(d, e, t);
      worker.decoder.DecodeDatagram(d, e, t, worker.sink);
      worker.sink.EndDatagram();
    };
    callbacks.flush_outputs = [this] {
      if (csv_ == nullptr) return true;
      std::lock_guard<std::mutex> lock(*csv_mu_);  // the statistics read the sink under it
      return csv_->WriteBuffered();
    };
    callbacks.on_role = [this](bool active, size_t replayed) {
      if (o_.quiet) return;
      if (active) {
        std::fprintf(stderr, "flowcollect: ha: active (replayed %zu unconfirmed datagrams)\n",
                     replayed);
      } else {
        std::fprintf(stderr, "flowcollect: ha: standing by\n");
      }
    };
    auto node = HaNode::Create(worker.io, options, std::move(callbacks));
    if (!node.ok()) return node.status();
    ha_ = *std::move(node);
    return absl::OkStatus();
  }

  bool DropPrivilegesNow() {
    if (identity_ == nullptr) return true;
    absl::Status st = DropPrivileges(*identity_);
    if (!st.ok()) {
      std::fprintf(stderr, "flowcollect: %s\n", std::string(st.message()).c_str());
      return false;
    }
    if (!o_.quiet && (identity_->change_user || identity_->change_group)) {
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
          if (w == 0 && store_ != nullptr) store_->Tick(now);
          if (publisher_ != nullptr) {
            publisher_->Publish(w, worker.decoder, &worker.server->stats());
            if (worker.tcp != nullptr) publisher_->PublishTcp(worker.tcp->stats());
          }
          if (w == 0 && !o_.template_store.empty() && ++ticks % 60 == 0) SaveTemplates();
          if (w == 0 && report_ != nullptr) {
            const TimeUs period = o_.rotate_s * 1'000'000;
            if (next_report_us_ != 0 && now >= next_report_us_) (void)WriteReport(now, false);
            if (now >= next_report_us_) next_report_us_ = (now / period + 1) * period;
          }
          timer.expires_after(std::chrono::seconds(1));
          timer.async_wait(on_tick);
        };
    timer.expires_after(std::chrono::seconds(1));
    timer.async_wait(on_tick);
    if (w == 0 && ha_ != nullptr) ha_->Start();
    worker.server->Start();
    if (worker.tcp != nullptr) worker.tcp->Start();
    worker.io.run();
    boost::system::error_code ignored;
    timer.cancel(ignored);
  }

  void OnFrame(Worker& worker, bool store_file, const RawPacket& p) {
    InputStats& in = worker.input;
    ++in.file_packets;
    PacketMeta meta;
    if (ParsePacket(p.data, p.caplen, p.wire_len, p.link, meta) != ParseResult::kOk ||
        meta.protocol != 17 || meta.payload_offset == 0 || meta.is_non_first_fragment()) {
      ++in.file_not_udp;
      return;
    }
    if (o_.port != 0 && meta.dst_port != o_.port) {
      ++in.file_port_filtered;
      return;
    }
    if (meta.payload_offset > p.caplen || meta.payload_length > p.caplen - meta.payload_offset) {
      ++in.file_truncated;
      return;
    }
    if (!Allowed(allow_, meta.src)) {
      ++in.receive.denied;
      return;
    }
    const std::span<const uint8_t> payload(p.data + meta.payload_offset, meta.payload_length);
    const ExporterId exporter{meta.src, meta.src_port};
    if (store_file && IsTemplateReplay(meta.ttl)) {
      // A store file's leading templates: learned whatever --from says (the records after them
      // need them), never counted as traffic.
      ++in.store_templates;
      worker.decoder.LearnTemplatesOnly(payload, exporter, p.time_us, worker.sink);
      worker.sink.EndDatagram();
      return;
    }
    if (p.time_us < from_us_ || p.time_us >= to_us_) {
      // Outside --from/--to: its records are not wanted, but a template it carries may be the
      // one the records inside the window need (a file opens only with the templates known
      // when it started).
      ++in.file_out_of_range;
      worker.decoder.LearnTemplatesOnly(payload, exporter, p.time_us, worker.sink);
      worker.sink.EndDatagram();
      return;
    }
    ++in.receive.datagrams;
    in.receive.bytes += meta.payload_length;
    if (store_ != nullptr) store_->Append(payload, exporter, p.time_us);
    worker.decoder.DecodeDatagram(payload, exporter, p.time_us, worker.sink);
    worker.sink.EndDatagram();
    if (p.time_us - worker.last_tick >= 1'000'000) {
      worker.last_tick = p.time_us;
      worker.decoder.Expire(p.time_us);
      // CSV rotation (-w) follows packet time on one thread only; -w reads on one thread.
      worker.sink.Tick(p.time_us, &worker == workers_[0].get());
      if (store_ != nullptr) store_->Tick(p.time_us);
      if (publisher_ != nullptr) publisher_->Publish(worker.index, worker.decoder, &in.receive);
    }
  }

  absl::Status OpenOutputs() {
    const CollectorOptions& o = o_;
    DecoderOptions dopts;
    dopts.templates.key_port = o.template_key_port;
    dopts.templates.ttl_us = static_cast<int64_t>(o.template_ttl_s * 1e6);
    dopts.templates.max_per_exporter = o.max_templates;
    dopts.apply_sampling = o.apply_sampling;
    dopts.biflow_split = o.biflow == "split";
    dopts.early_max_sets = o.early_max_sets;
    dopts.early_max_bytes = static_cast<size_t>(o.early_max_bytes);
    dopts.max_exporters = o.max_exporters;
    dopts.early_max_age_us = static_cast<int64_t>(o.early_max_age_s * 1e6);
    dopts.reorder_window = o.reorder_window;
    if (o.workers > 1) dopts.shared_templates = &shared_templates_;

    // CSV: always without --clickhouse or --report; with them only when -o or -w is given.
    if ((o.clickhouse_url.empty() && o.report.empty()) || o.output_given ||
        !o.write_dir.empty()) {
      CsvSinkOptions sopts;
      sopts.output = o.output;
      sopts.directory = o.write_dir;
      sopts.rotate_seconds = o.rotate_s;
      sopts.columns = EffectiveColumns(o);
      sopts.aggregate.keys = o.aggregate;
      sopts.aggregate.bin_seconds = o.bin_s;
      sopts.aggregate.top = o.top;
      sopts.aggregate.order_by = o.order_by == "packets" ? OrderBy::kPackets
                                 : o.order_by == "flows" ? OrderBy::kFlows
                                                           : OrderBy::kBytes;
      sopts.aggregate.max_groups = o.max_groups;
      // Disk full, file too large, permission: said at once (the run goes on, see ROBUSTNESS.md).
      sopts.on_error = [](const absl::Status& e) {
        std::fprintf(stderr, "flowcollect: output error: %s\n", std::string(e.message()).c_str());
      };
      auto sink = CsvSink::Create(sopts);
      if (!sink.ok()) return sink.status();
      csv_ = *std::move(sink);
    }

    if (!o.clickhouse_url.empty()) {
      clickhouse::ClickHouseOptions copts;
      copts.url = o.clickhouse_url;
      copts.user = o.clickhouse_user;
      copts.ca_file = o.clickhouse_ca;
      std::string warning;
      absl::StatusOr<std::string> password =
          clickhouse::LoadPassword(o.clickhouse_password_file, &warning);
      if (!password.ok()) return password.status();
      if (!warning.empty()) std::fprintf(stderr, "flowcollect: warning: %s\n", warning.c_str());
      copts.password = *std::move(password);
      copts.table = o.table;
      copts.batch_rows = o.clickhouse_batch_rows;
      copts.batch_age_us = static_cast<int64_t>(o.clickhouse_batch_age_s * 1e6);
      copts.spool_dir = o.spool_dir;
      copts.spool_max_bytes = o.spool_max_bytes;
      auto writer = clickhouse::ClickHouseWriter::Create(copts);
      if (!writer.ok()) return writer.status();
      clickhouse_ = *std::move(writer);
      if (clickhouse_->password_in_url()) {
        std::fprintf(stderr,
                     "flowcollect: warning: the ClickHouse password is in the --clickhouse URL, "
                     "where every local user can read it (ps, /proc/PID/cmdline) and shell "
                     "history keeps it; use --clickhouse-password-file or $%s\n",
                     clickhouse::kPasswordEnvironmentVariable);
      }
      if (!o.quiet && clickhouse_->counters().spool_records.load() > 0) {
        std::fprintf(stderr, "flowcollect: %llu spooled records to replay into ClickHouse\n",
                     static_cast<unsigned long long>(
                         clickhouse_->counters().spool_records.load()));
      }
    }

    if (!o.report.empty()) report_ = std::make_unique<report::ReportAccumulator>();

    const size_t worker_count = o.read_files.empty() ? static_cast<size_t>(o.workers)
                                                     : FileThreads();
    for (size_t w = 0; w < worker_count; ++w) {
      workers_.push_back(std::make_unique<Worker>(dopts, csv_.get(), csv_mu_, clickhouse_.get(),
                                                  report_.get(), enrichment_.get(),
                                                  o.enrich_override, &filter_));
      workers_.back()->index = w;
      workers_.back()->sink.set_sole_producer(worker_count == 1);
      if (!o.template_store.empty()) {
        Decoder& decoder = workers_.back()->decoder;
        size_t loaded = 0;
        absl::Status s = decoder.templates().Load(
            o.template_store,
            [&decoder](CachedTemplate& t, uint8_t version) { return decoder.Compile(t, version); },
            &loaded);
        if (!s.ok()) return s;
        if (!o.quiet && loaded > 0 && w == 0) {
          std::fprintf(stderr, "flowcollect: loaded %zu templates from %s\n", loaded,
                       o.template_store.c_str());
        }
      }
    }

    // --ha-peer: bound here, with the other sockets' checks, before any privilege is dropped.
    if (!o.ha_peer.empty()) {
      if (absl::Status s = CreateHaNode(*workers_[0]); !s.ok()) return s;
    }

    publisher_storage_ = std::make_unique<metrics::CollectorStatsPublisher>(workers_.size());
    if (!o.metrics.listen.empty()) {
      publisher_storage_->Register(registry_);
      publisher_ = publisher_storage_.get();
      if (clickhouse_ != nullptr) metrics::RegisterClickHouseMetrics(registry_, *clickhouse_);
      if (enrichment_ != nullptr) metrics::RegisterEnrichmentMetrics(registry_, *enrichment_);
      if (forwarder_ != nullptr) metrics::RegisterForwardMetrics(registry_, *forwarder_);
      if (ha_ != nullptr) metrics::RegisterHaMetrics(registry_, *ha_);
      auto server = metrics::MetricsServer::Start(registry_, o.metrics);
      if (!server.ok()) return server.status();
      metrics_server_ = *std::move(server);
      if (!o.quiet) {
        std::fprintf(stderr, "flowcollect: metrics on port %u at /metrics%s\n",
                     metrics_server_->port(), o.metrics.tls_cert_file.empty() ? "" : " (https)");
      }
    }
    return absl::OkStatus();
  }

 public:
  // Run: the loop, then every flush in order; see the header comment.
  int Run() {
    bool ok = o_.read_files.empty() ? RunLive() : RunFiles();
    // The final flush must finish: a second SIGTERM/SIGINT (an impatient service manager, a
    // double Ctrl-C) must not kill the process with a rotation file half written.
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    if (!ok && o_.read_files.empty()) {
      // No socket bound or no privilege drop: nothing was received, so nothing is written (the
      // sink's destructor abandons its output).
      if (clickhouse_ != nullptr) clickhouse_->Close(0);
      if (store_ != nullptr) (void)store_->Close();
      return kExitFailure;
    }
    if (store_ != nullptr) {
      // The raw datagrams first: the current interval's file is completed and renamed.
      absl::Status closed = store_->Close();
      if (!closed.ok()) {
        std::fprintf(stderr, "flowcollect: store: %s\n", std::string(closed.message()).c_str());
        ok = false;
      }
    }
    if (csv_ != nullptr) {
      absl::Status closed = csv_->Close();
      if (!closed.ok()) {
        std::fprintf(stderr, "flowcollect: %s\n", std::string(closed.message()).c_str());
        ok = false;
      }
    }
    if (clickhouse_ != nullptr) {
      // Give ClickHouse a few seconds for what is queued; the rest stays in the spool.
      clickhouse_->Close(5'000'000);
    }
    SaveTemplates();
    if (!WriteReport(NowUs(), true)) ok = false;
    ReportStats(Report::kExit);
    if (metrics_server_ != nullptr) metrics_server_->Stop();
    return ok ? kExitOk : kExitFailure;
  }

  void RequestStop() {
    stop_requested_.store(true);
    // Live: wake the control loop; the stop runs on its thread. Before Run, Run sees the flag.
    asio::post(control_io_, [this] {
      if (stop_live_) stop_live_();
    });
  }

 private:
  const CollectorOptions o_;
  Identity identity_storage_;
  const Identity* identity_ = nullptr;
  std::vector<Cidr> allow_;
  // -r: the inputs, the first one opened by Create, the next one to read, bytes of the inputs
  // read to the end (progress), the --from/--to window (receive time).
  std::vector<ReadInput> inputs_;
  std::unique_ptr<PcapSource> first_source_;
  std::atomic<size_t> next_input_{0};
  std::atomic<uint64_t> bytes_done_{0};
  TimeUs from_us_ = 0;
  TimeUs to_us_ = kNoTimeLimit;
  FlowFilter filter_;        // matches everything without -f
  std::string filter_text_;  // as given, for the report page
  std::unique_ptr<StoreWriter> store_;
  std::unique_ptr<DatagramForwarder> forwarder_;  // --forward
  SharedTemplateStore shared_templates_;
  std::unique_ptr<CsvSink> csv_;
  std::mutex csv_mu_storage_;
  std::mutex* csv_mu_ = &csv_mu_storage_;
  std::unique_ptr<clickhouse::ClickHouseWriter> clickhouse_;
  std::unique_ptr<report::ReportAccumulator> report_;
  // Before workers_: every worker's sink reads its snapshots.
  std::unique_ptr<Enrichment> enrichment_;
  std::vector<std::unique_ptr<Worker>> workers_;
  // --ha-peer: its timer and socket live on worker 0's io_context, so it is declared after
  // the workers and destroyed before them.
  std::unique_ptr<HaNode> ha_;
  metrics::Registry registry_;
  std::unique_ptr<metrics::CollectorStatsPublisher> publisher_storage_;
  metrics::CollectorStatsPublisher* publisher_ = nullptr;
  std::unique_ptr<metrics::MetricsServer> metrics_server_;
  ProgressBar* progress_ = nullptr;  // while RunFiles draws one
  CollectorStatusSample status_before_;
  bool live_done_ = false;
  TimeUs next_report_us_ = 0;  // live --report: next periodic write
  asio::io_context control_io_;  // the main thread's signal wait (live)
  std::function<void()> stop_live_;  // set while the live loop runs
  std::atomic<bool> stop_requested_{false};
};

absl::StatusOr<std::unique_ptr<CollectorRuntime>> CollectorRuntime::Create(
    const CollectorOptions& o) {
  auto usage = [](absl::string_view msg) { return absl::InvalidArgumentError(msg); };
  if (o.workers > 1 && !o.read_files.empty()) return usage("--workers needs -l (live input)");
  if (o.clickhouse_url.empty() && (!o.spool_dir.empty() || o.clickhouse_tuning_given)) {
    return usage("the --clickhouse-*/--spool-* options need --clickhouse");
  }
  if (!o.read_files.empty() && !o.listen.empty()) return usage("use either -l or -r, not both");
  if (!o.read_files.empty() && !o.listen_tcp.empty()) {
    return usage("use either --listen-tcp or -r, not both");
  }
  if (!o.write_dir.empty() && o.output_given) return usage("use either -o or -w, not both");
  if (o.aggregate.empty() && (o.top > 0 || o.bin_s > 0)) return usage("--top and -t need -A");
  if (o.store_dir.empty() && o.store_tuning_given) {
    return usage("--store-rotate, --store-compress and --store-retention need --store");
  }
  if (o.read_files.empty() && o.read_threads > 0) return usage("--read-threads needs -r");
  if (!o.forward.empty() && !o.read_files.empty()) {
    return usage("--forward needs -l (live input): datagrams are sent on as they arrive, not "
                 "from -r files");
  }
  if (o.forward_keep_source && o.forward.empty()) {
    return usage("--forward-keep-source needs --forward");
  }
  if (o.ha_peer.empty() && !o.ha_state.empty()) return usage("--ha-state needs --ha-peer");
  if (!o.ha_peer.empty()) {
    // A confirmation promises the records were handed to the kernel: true of raw CSV rows, not
    // of -A groups held until their bin ends, nor of a ClickHouse batch not yet acknowledged.
    if (!o.read_files.empty()) return usage("--ha-peer needs -l (live input)");
    if (o.workers > 1) return usage("--ha-peer runs one worker (--workers 1)");
    if (!o.aggregate.empty()) return usage("--ha-peer writes raw rows: it cannot be used with -A");
    if (!o.clickhouse_url.empty()) {
      return usage("--ha-peer confirms rows written to CSV files; it cannot be used with "
                   "--clickhouse yet");
    }
    if (absl::Status s = ValidateHaOptions(HaOptions{o.ha_peer, o.ha_listen, o.ha_state, {}});
        !s.ok()) {
      return usage(s.message());
    }
  }
  if (o.enrich_override && !o.enrichment.any()) {
    return usage("--enrich-override needs --routes, --asn-db, --geo-db or --interfaces");
  }
  auto impl = std::make_unique<Impl>(o);
  if (absl::Status s = impl->Open(); !s.ok()) return s;
  return std::unique_ptr<CollectorRuntime>(new CollectorRuntime(std::move(impl)));
}

CollectorRuntime::CollectorRuntime(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CollectorRuntime::~CollectorRuntime() = default;
int CollectorRuntime::Run() { return impl_->Run(); }
void CollectorRuntime::RequestStop() { impl_->RequestStop(); }

int RunCollector(const CollectorOptions& o) {
  // SIGINT, SIGTERM, SIGUSR1 and SIGHUP stay blocked in every thread this process starts from
  // here on (the enrichment's reload thread too); see SetControlSignalsBlocked. Without
  // enrichment SIGHUP means nothing, and a service manager's reload must not kill the collector.
  SetControlSignalsBlocked(true);
  if (!o.enrichment.any()) signal(SIGHUP, SIG_IGN);
  if (o.list_columns) {
    for (const CsvColumnInfo& c : AllCsvColumns()) {
      std::printf("%-16s %s\n", std::string(c.name).c_str(), std::string(c.description).c_str());
    }
    return kExitOk;
  }
  auto fail = [](const absl::Status& status) {
    std::fprintf(stderr, "flowcollect: %s\n", std::string(status.message()).c_str());
    return ExitStatusFor(status);
  };
  if (o.clickhouse_schema) {
    if (absl::Status s = clickhouse::ValidateTableName(o.table); !s.ok()) return fail(s);
    std::fputs(clickhouse::CreateTableSql(o.table).c_str(), stdout);
    return kExitOk;
  }
  absl::StatusOr<std::unique_ptr<CollectorRuntime>> runtime = CollectorRuntime::Create(o);
  if (!runtime.ok()) return fail(runtime.status());
  return (*runtime)->Run();
}

}  // namespace nf
