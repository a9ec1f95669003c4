// flowcollect: a NetFlow v5 / v9 / IPFIX collector that writes CSV.
//
// Wiring only: input (UDP sockets or -r capture files) -> nf::decode Decoder -> nf::csv CsvSink,
// plus signals, periodic maintenance and statistics.
//
// Exit codes: 0 normal end (end of -r input, or SIGINT/SIGTERM after flushing), 1 runtime
// error (output could not be written, capture read error), 2 bad command line / set-up error.
//
// --stats-json FILE (written atomically at exit and on SIGUSR1) is a stable interface:
//   version            1
//   receive            {datagrams, bytes, kernel_drops, denied, receive_errors, truncated,
//                       file_packets, file_not_udp, file_port_filtered, file_truncated}
//   templates          {cached, added, refreshed, replaced, refused, withdrawn, expired}
//   output             {rows, files, aggregate_groups, aggregate_overflow, error}
//   exporters_refused  datagrams from exporters beyond the exporter limit
//   totals             counters summed over exporters (keys below)
//   exporters          [{exporter: "ADDR", port: N (0 unless --template-key-port), counters}]
// Counters (totals and each exporter): datagrams, datagram_bytes, v5_datagrams, v9_datagrams,
//   ipfix_datagrams, records, options_records, packets, bytes, templates, templates_new,
//   templates_redefined, templates_withdrawn, sequence_lost, sequence_reordered,
//   sequence_resets, restarts, early_sets_buffered, early_records_decoded,
//   early_sets_aged_out, early_sets_dropped, early_sets_pending, sampling_interval,
//   decode_errors (sum of errors), errors {<reason>: count for every DecodeError name}.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "collector/csv_writer.h"
#include "collector/decoder.h"
#include "collector/stats_report.h"
#include "collector/udp_server.h"
#include "exporter/packet_parser.h"
#include "exporter/pcap_source.h"

namespace nf {
namespace {

namespace asio = boost::asio;

volatile sig_atomic_t g_stop = 0;
volatile sig_atomic_t g_usr1 = 0;

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

  std::string stats_json;
  bool quiet = false;
};

TimeUs NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class Collector {
 public:
  Collector(const Config& cfg, Decoder& decoder, CsvSink& sink, std::vector<Cidr> allow)
      : cfg_(cfg), decoder_(decoder), sink_(sink), allow_(std::move(allow)) {}

  // Reads every -r file in order. Returns false on a read error.
  bool RunFiles() {
    struct sigaction sa {};
    sa.sa_handler = OnFileSignal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGUSR1, &sa, nullptr);
    auto source = PcapSource::OpenOffline(cfg_.read_files);
    if (!source.ok()) {
      std::fprintf(stderr, "flowcollect: %s\n", std::string(source.status().message()).c_str());
      return false;
    }
    TimeUs last_tick = 0;
    bool ok = true;
    while (!g_stop) {
      auto n = (*source)->Dispatch(512, [&](const RawPacket& p) { OnFrame(p, last_tick); });
      if (!n.ok()) {
        if (!absl::IsOutOfRange(n.status())) {
          std::fprintf(stderr, "flowcollect: %s\n", std::string(n.status().message()).c_str());
          ok = false;
        }
        break;
      }
      if (g_usr1) {
        g_usr1 = 0;
        ReportStats();
      }
    }
    // End of input: data still waiting for a template will never get one.
    decoder_.DiscardEarly();
    return ok;
  }

  // Receives on UDP until SIGINT/SIGTERM. Returns false when no socket could be bound.
  bool RunLive() {
    asio::io_context io;
    UdpServerOptions options;
    options.listen = cfg_.listen;
    options.rcvbuf_bytes = cfg_.rcvbuf;
    options.allow = allow_;
    auto server = UdpServer::Create(
        io, options, [this](std::span<const uint8_t> d, const ExporterId& e, TimeUs t) {
          decoder_.DecodeDatagram(d, e, t, sink_);
        });
    if (!server.ok()) {
      std::fprintf(stderr, "flowcollect: %s\n", std::string(server.status().message()).c_str());
      return false;
    }
    server_ = server->get();
    if (!cfg_.quiet) {
      std::string where;
      for (const auto& e : (*server)->LocalEndpoints()) absl::StrAppend(&where, " ", e);
      std::fprintf(stderr, "flowcollect: listening on%s (rcvbuf %d bytes)\n", where.c_str(),
                   (*server)->EffectiveRcvbuf());
    }
    asio::signal_set signals(io, SIGINT, SIGTERM, SIGUSR1);
    asio::steady_timer timer(io);
    bool stopping = false;
    std::function<void(const boost::system::error_code&, int)> on_signal =
        [&](const boost::system::error_code& ec, int sig) {
          if (ec) return;
          if (sig == SIGUSR1) {
            ReportStats();
            signals.async_wait(on_signal);
            return;
          }
          stopping = true;
          (*server)->DrainPending();
          (*server)->Stop();
          boost::system::error_code ignored;
          timer.cancel(ignored);
          signals.cancel(ignored);
          io.stop();
        };
    signals.async_wait(on_signal);
    int ticks = 0;
    std::function<void(const boost::system::error_code&)> on_tick =
        [&](const boost::system::error_code& ec) {
          if (ec || stopping) return;
          const TimeUs now = NowUs();
          decoder_.Expire(now);
          (void)sink_.Tick(now);
          if (!cfg_.template_store.empty() && ++ticks % 60 == 0) SaveTemplates();
          timer.expires_after(std::chrono::seconds(1));
          timer.async_wait(on_tick);
        };
    timer.expires_after(std::chrono::seconds(1));
    timer.async_wait(on_tick);
    (*server)->Start();
    io.run();
    input_.receive = (*server)->stats();
    server_ = nullptr;
    return true;
  }

  void SaveTemplates() {
    if (cfg_.template_store.empty()) return;
    absl::Status st = decoder_.templates().Save(cfg_.template_store);
    if (!st.ok()) std::fprintf(stderr, "flowcollect: %s\n", std::string(st.message()).c_str());
  }

  OutputStats Output() const {
    OutputStats o;
    o.rows = sink_.rows_written();
    o.files = sink_.files_written();
    o.aggregate_groups = sink_.aggregate_groups();
    o.aggregate_overflow = sink_.aggregate_overflow();
    if (!sink_.status().ok()) o.error = std::string(sink_.status().message());
    return o;
  }

  InputStats Input() const {
    InputStats in = input_;
    if (server_ != nullptr) in.receive = server_->stats();
    return in;
  }

  void ReportStats() {
    const InputStats in = Input();
    const OutputStats out = Output();
    if (!cfg_.quiet) {
      const std::string text = StatsText(decoder_, in, out);
      std::fwrite(text.data(), 1, text.size(), stderr);
    }
    if (!cfg_.stats_json.empty()) {
      AtomicFile f;
      absl::Status st = f.Open(cfg_.stats_json);
      if (st.ok()) st = f.Write(StatsJson(decoder_, in, out));
      if (st.ok()) st = f.Commit();
      if (!st.ok()) std::fprintf(stderr, "flowcollect: %s\n", std::string(st.message()).c_str());
    }
  }

 private:
  void OnFrame(const RawPacket& p, TimeUs& last_tick) {
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
    decoder_.DecodeDatagram(std::span<const uint8_t>(p.data + meta.payload_offset,
                                                     meta.payload_length),
                            ExporterId{meta.src, meta.src_port}, p.time_us, sink_);
    if (p.time_us - last_tick >= 1'000'000) {
      last_tick = p.time_us;
      decoder_.Expire(p.time_us);
      (void)sink_.Tick(p.time_us);
    }
  }

  const Config& cfg_;
  Decoder& decoder_;
  CsvSink& sink_;
  std::vector<Cidr> allow_;
  InputStats input_;
  UdpServer* server_ = nullptr;
};

int Main(int argc, char** argv) {
  Config cfg;
  CLI::App app{
      "flowcollect: collect NetFlow v5, v9 and IPFIX export datagrams (UDP or capture files) and "
      "write flow records or aggregates as CSV.",
      "flowcollect"};
  app.get_formatter()->column_width(34);

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
  app.add_flag("-q,--quiet", cfg.quiet, "no statistics on stderr")->group(st);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (cfg.list_columns) {
    for (const CsvColumnInfo& c : AllCsvColumns()) {
      std::printf("%-16s %s\n", std::string(c.name).c_str(), std::string(c.description).c_str());
    }
    return 0;
  }
  auto fail = [](absl::string_view msg) {
    std::fprintf(stderr, "flowcollect: %s\n", std::string(msg).c_str());
    return 2;
  };
  if (!cfg.read_files.empty() && !cfg.listen.empty()) return fail("use either -l or -r, not both");
  if (!cfg.write_dir.empty() && app.count("--output") > 0) {
    return fail("use either -o or -w, not both");
  }
  if (cfg.aggregate.empty() && (cfg.top > 0 || cfg.bin_s > 0)) {
    return fail("--top and -t need -A");
  }
  std::vector<Cidr> allow;
  for (const auto& a : cfg.allow) {
    auto c = ParseCidr(a);
    if (!c.ok()) return fail(c.status().message());
    allow.push_back(*c);
  }

  DecoderOptions dopts;
  dopts.templates.key_port = cfg.template_key_port;
  dopts.templates.ttl_us = static_cast<int64_t>(cfg.template_ttl_s * 1e6);
  dopts.templates.max_per_exporter = cfg.max_templates;
  dopts.apply_sampling = cfg.apply_sampling;
  dopts.early_max_sets = cfg.early_max_sets;
  dopts.early_max_age_us = static_cast<int64_t>(cfg.early_max_age_s * 1e6);
  dopts.reorder_window = cfg.reorder_window;
  Decoder decoder(dopts);
  if (!cfg.template_store.empty()) {
    size_t loaded = 0;
    absl::Status s = decoder.templates().Load(
        cfg.template_store,
        [&decoder](CachedTemplate& t, uint8_t version) { return decoder.Compile(t, version); },
        &loaded);
    if (!s.ok()) return fail(s.message());
    if (!cfg.quiet && loaded > 0) {
      std::fprintf(stderr, "flowcollect: loaded %zu templates from %s\n", loaded,
                   cfg.template_store.c_str());
    }
  }

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
  auto sink = CsvSink::Create(sopts);
  if (!sink.ok()) return fail(sink.status().message());

  Collector collector(cfg, decoder, **sink, allow);
  bool ok = cfg.read_files.empty() ? collector.RunLive() : collector.RunFiles();
  if (!ok && cfg.read_files.empty()) {
    (*sink)->Close().IgnoreError();
    return 2;
  }
  absl::Status closed = (*sink)->Close();
  if (!closed.ok()) {
    std::fprintf(stderr, "flowcollect: %s\n", std::string(closed.message()).c_str());
    ok = false;
  }
  collector.SaveTemplates();
  collector.ReportStats();
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace nf

int main(int argc, char** argv) { return nf::Main(argc, argv); }
