// flowexport: meters packets (live interface or capture files) into flows and exports them as
// NetFlow v9, IPFIX or NetFlow v5 (-v 9|10|5) over UDP. This file is wiring only: options,
// signals, the capture loop and statistics; the work happens in nf::capture, nf::packet,
// nf::flowtable, nf::v9export / nf::ipfixexport / nf::v5export and nf::udpsend.
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
//     "pcap_dropped": N, "pcap_if_dropped": N,  pcap_stats (live capture)
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
//     "collectors": [{"name": "...", "address": "...", "datagrams": N, "send_errors": N,
//                     "last_error": "strerror text of the last failed send, or empty"}]
//   }
#include <pcap/pcap.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/atomic_file.h"
#include "common/exit_status.h"
#include "common/progress.h"
#include "common/privileges.h"
#include "capture/iface_state.h"
#include "wire/v9_fields.h"
#include "exporter/app/export_metrics.h"
#include "exporter/meter/flow_table.h"
#include "exporter/encode/ipfix_encoder.h"
#include "capture/packet_parser.h"
#include "capture/pcap_source.h"
#include "exporter/app/run_status.h"
#include "exporter/meter/sharded_meter.h"
#include "exporter/send/udp_sender.h"
#include "exporter/encode/v5_encoder.h"
#include "exporter/encode/v9_encoder.h"
#include "templates/template_spec.h"
#if NF_HAVE_NGNETFLOW
#include "ngnetflow/ng_setup.h"
#endif

namespace {

// Signal state: the handlers only set these and ask libpcap to return (pcap_breakloop just
// sets a flag and, on Linux, writes to an eventfd, both async-signal-safe).
volatile sig_atomic_t g_stop = 0;
volatile sig_atomic_t g_dump_stats = 0;
std::atomic<nf::PcapSource*> g_source{nullptr};

void OnStopSignal(int) {
  g_stop = 1;
  if (nf::PcapSource* s = g_source.load()) s->BreakLoop();
}
void OnStatsSignal(int) { g_dump_stats = 1; }

// --on-iface-down: once a second, make the capture loop return so it checks the interface.
volatile sig_atomic_t g_check_iface = 0;
void OnIfaceTimer(int) {
  g_check_iface = 1;
  if (nf::PcapSource* s = g_source.load()) s->BreakLoop();
}
void StartIfaceTimer() {
  struct sigaction sa {};
  sa.sa_handler = OnIfaceTimer;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, nullptr);
  itimerval every_second{{1, 0}, {1, 0}};
  setitimer(ITIMER_REAL, &every_second, nullptr);
}

void InstallSignals() {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sa.sa_handler = OnStatsSignal;
  sigaction(SIGUSR1, &sa, nullptr);
  sa.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &sa, nullptr);
}

nf::TimeUs WallClockUs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return nf::TimeUs{ts.tv_sec} * 1000000 + ts.tv_nsec / 1000;
}

struct Options {
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
  int export_version = 9;
  std::string stats_json;
  std::string metrics_listen;  // --metrics [ADDR:]PORT
  int verbose = 0;
  double status_interval_s = 10;
  nf::ProgressMode progress = nf::ProgressMode::kAuto;
  bool ng_netflow = false;
  std::string user;   // -u: switch to this user once the capture is open
  std::string group;  // -g
  std::string on_iface_down = "exit";  // the capture interface went down or away: exit | wait
};

struct Counters {
  uint64_t seen = 0;
  uint64_t parsed = 0;
  std::array<uint64_t, nf::kParseResultCount> results{};
  uint64_t sampled_out = 0;
  uint64_t fragments = 0;
  uint64_t non_first_fragments = 0;
  uint64_t l4_truncated = 0;
  uint64_t packets_exported = 0;
  uint64_t bytes_exported = 0;
};

// The encoder chosen by -v: one of the three, with the common calls and counters.
class Exporter {
 public:
  struct Stats {
    uint64_t records = 0;
    uint64_t template_records = 0;
    uint64_t datagrams = 0;
    uint64_t not_exportable = 0;
  };
  std::unique_ptr<nf::V9Encoder> v9;
  std::unique_ptr<nf::IpfixEncoder> ipfix;
  std::unique_ptr<nf::V5Encoder> v5;

  // False when the record cannot be exported in this version (counted in not_exportable).
  bool Add(const nf::FlowRecord& r, nf::TimeUs now) {
    if (v9) v9->Add(r, now);
    if (ipfix) ipfix->Add(r, now);
    if (v5) return v5->Add(r, now);
    return true;
  }
  void Tick(nf::TimeUs now) {
    if (v9) v9->Tick(now);
    if (ipfix) ipfix->Tick(now);
    if (v5) v5->Tick(now);
  }
  void Flush(nf::TimeUs now) {
    if (v9) v9->Flush(now);
    if (ipfix) ipfix->Flush(now);
    if (v5) v5->Flush(now);
  }
  void SetBootTime(nf::TimeUs boot) {
    if (v9) v9->SetBootTime(boot);
    if (ipfix) ipfix->SetBootTime(boot);
    if (v5) v5->SetBootTime(boot);
  }
  Stats stats() const {
    Stats s;
    if (v9) s = {v9->stats().records, v9->stats().template_records, v9->stats().datagrams, 0};
    if (ipfix) {
      s = {ipfix->stats().records, ipfix->stats().template_records, ipfix->stats().datagrams, 0};
    }
    if (v5) s = {v5->stats().records, 0, v5->stats().datagrams, v5->stats().not_exportable};
    return s;
  }
};

const char* EndReasonName(size_t reason) {
  switch (reason) {
    case 1:
      return "idle_timeout";
    case 2:
      return "active_timeout";
    case 3:
      return "end_of_flow";
    case 4:
      return "forced_end";
    case 5:
      return "lack_of_resources";
  }
  return nullptr;
}

struct Pipeline {
  Counters counters;
  std::unique_ptr<nf::PcapSource> source;
  std::unique_ptr<nf::FlowTable> table;          // --threads 1
  std::unique_ptr<nf::ShardedMeter> meter;       // --threads N > 1 (table is then null)
  Exporter exporter;
  std::unique_ptr<nf::UdpSender> sender;
};

// Flow-table counters, summed over the shards with --threads N.
nf::FlowTableStats TableStats(const Pipeline& p) {
  return p.meter ? p.meter->stats().table : p.table->stats();
}
size_t ActiveFlows(const Pipeline& p) {
  return p.meter ? p.meter->stats().active_flows : p.table->active_flows();
}
uint64_t RingFullDrops(const Pipeline& p) {
  return p.meter ? p.meter->stats().ring_full_drops : 0;
}

// What --metrics serves: the counters StatsJson writes, copied on the capture loop.
nf::ExportSnapshot Snapshot(const Pipeline& p) {
  const Counters& c = p.counters;
  const nf::CaptureStats cs = p.source ? p.source->Stats() : nf::CaptureStats{};
  const nf::FlowTableStats ts = TableStats(p);
  const Exporter::Stats es = p.exporter.stats();
  nf::ExportSnapshot s;
  s.packets_seen = c.seen;
  s.packets_parsed = c.parsed;
  for (size_t i = 1; i < nf::kParseResultCount; ++i) {
    s.packets_dropped.emplace_back(nf::ParseResultName(static_cast<nf::ParseResult>(i)),
                                   c.results[i]);
  }
  s.packets_sampled_out = c.sampled_out;
  s.packets_fragment = c.fragments;
  s.packets_non_first_fragment = c.non_first_fragments;
  s.packets_l4_truncated = c.l4_truncated;
  s.packets_ring_full_dropped = RingFullDrops(p);
  s.pcap_dropped = cs.dropped;
  s.pcap_if_dropped = cs.if_dropped;
  s.flows_created = ts.flows_created;
  for (size_t r = 1; r < nf::kEndReasonSlots; ++r) {
    s.flows_expired.emplace_back(EndReasonName(r), ts.expired[r]);
  }
  s.flows_active = ActiveFlows(p);
  s.packets_exported = c.packets_exported;
  s.bytes_exported = c.bytes_exported;
  s.records_sent = es.records;
  s.template_records_sent = es.template_records;
  s.records_not_exportable = es.not_exportable;
  s.datagrams_sent = es.datagrams;
  for (const nf::CollectorStats& col : p.sender->stats()) {
    s.collectors.push_back({col.name, col.address, col.datagrams, col.send_errors});
  }
  return s;
}

std::string StatsJson(const Pipeline& p) {
  const Counters& c = p.counters;
  const nf::CaptureStats cs = p.source ? p.source->Stats() : nf::CaptureStats{};
  const nf::FlowTableStats ts = TableStats(p);
  const Exporter::Stats es = p.exporter.stats();
  std::string j = "{\n";
  absl::StrAppend(&j, "  \"packets_seen\": ", c.seen, ",\n");
  absl::StrAppend(&j, "  \"packets_parsed\": ", c.parsed, ",\n");
  j += "  \"packets_dropped\": {";
  bool first = true;
  for (size_t i = 1; i < nf::kParseResultCount; ++i) {
    absl::StrAppend(&j, first ? "" : ", ", "\"",
                    nf::ParseResultName(static_cast<nf::ParseResult>(i)), "\": ", c.results[i]);
    first = false;
  }
  j += "},\n";
  absl::StrAppend(&j, "  \"packets_sampled_out\": ", c.sampled_out, ",\n");
  absl::StrAppend(&j, "  \"packets_fragment\": ", c.fragments, ",\n");
  absl::StrAppend(&j, "  \"packets_non_first_fragment\": ", c.non_first_fragments, ",\n");
  absl::StrAppend(&j, "  \"packets_l4_truncated\": ", c.l4_truncated, ",\n");
  absl::StrAppend(&j, "  \"pcap_dropped\": ", cs.dropped, ",\n");
  absl::StrAppend(&j, "  \"pcap_if_dropped\": ", cs.if_dropped, ",\n");
  absl::StrAppend(&j, "  \"flows_created\": ", ts.flows_created, ",\n");
  j += "  \"flows_expired\": {";
  first = true;
  for (size_t r = 1; r < nf::kEndReasonSlots; ++r) {
    absl::StrAppend(&j, first ? "" : ", ", "\"", EndReasonName(r), "\": ", ts.expired[r]);
    first = false;
  }
  j += "},\n";
  absl::StrAppend(&j, "  \"flows_active\": ", ActiveFlows(p), ",\n");
  absl::StrAppend(&j, "  \"packets_ring_full_dropped\": ", RingFullDrops(p), ",\n");
  absl::StrAppend(&j, "  \"packets_exported\": ", c.packets_exported, ",\n");
  absl::StrAppend(&j, "  \"bytes_exported\": ", c.bytes_exported, ",\n");
  absl::StrAppend(&j, "  \"records_sent\": ", es.records, ",\n");
  absl::StrAppend(&j, "  \"template_records_sent\": ", es.template_records, ",\n");
  absl::StrAppend(&j, "  \"records_not_exportable\": ", es.not_exportable, ",\n");
  absl::StrAppend(&j, "  \"datagrams_sent\": ", es.datagrams, ",\n");
  absl::StrAppend(&j, "  \"send_errors\": ", p.sender->send_errors(), ",\n");
  j += "  \"collectors\": [";
  first = true;
  for (const nf::CollectorStats& s : p.sender->stats()) {
    absl::StrAppend(&j, first ? "" : ", ", "{\"name\": \"", s.name, "\", \"address\": \"",
                    s.address, "\", \"datagrams\": ", s.datagrams,
                    ", \"send_errors\": ", s.send_errors, ", \"last_error\": \"",
                    s.last_errno != 0 ? std::strerror(s.last_errno) : "", "\"}");
    first = false;
  }
  j += "]\n}\n";
  return j;
}

// The human summary (at exit and on SIGUSR1): what was read, what was exported where, and
// every loss with its reason. Same counters as StatsJson; zero drop counters are left out.
void PrintStats(const Pipeline& p, std::ostream& out) {
  using nf::Grouped;
  const Counters& c = p.counters;
  const nf::CaptureStats cs = p.source ? p.source->Stats() : nf::CaptureStats{};
  const nf::FlowTableStats ts = TableStats(p);
  const Exporter::Stats es = p.exporter.stats();
  std::string s = "flowexport summary\n";
  absl::StrAppend(&s, "  read:      packets seen ", Grouped(c.seen), ", parsed ", Grouped(c.parsed), " (",
                  Grouped(c.fragments), " fragments, ", Grouped(c.non_first_fragments),
                  " non-first; ", Grouped(c.l4_truncated), " with the L4 header cut by the snaplen)\n");
  if (c.sampled_out != 0) {
    absl::StrAppend(&s, "  sampling:  ", Grouped(c.sampled_out),
                    " parsed packets skipped by --sampling (expected, announced to collectors)\n");
  }
  absl::StrAppend(&s, "  flows:     ", Grouped(ts.flows_created), " created, ",
                  Grouped(ts.expired_total()), " exported (");
  bool first = true;
  for (size_t r = 1; r < nf::kEndReasonSlots; ++r) {
    if (ts.expired[r] == 0) continue;
    absl::StrAppend(&s, first ? "" : ", ", EndReasonName(r), " ", Grouped(ts.expired[r]));
    first = false;
  }
  absl::StrAppend(&s, first ? "none yet" : "", "), ", Grouped(ActiveFlows(p)),
                  " still active\n");
  absl::StrAppend(&s, "  exported:  ", Grouped(c.packets_exported), " packets, ",
                  nf::HumanBytes(c.bytes_exported), " in ", Grouped(es.records), " records, ",
                  Grouped(es.datagrams), " datagrams (", Grouped(es.template_records),
                  " template records) to");
  for (const nf::CollectorStats& col : p.sender->stats()) {
    absl::StrAppend(&s, " ", col.address.empty() ? col.name : col.address);
  }
  s += "\n";

  std::vector<std::string> drops;
  auto add = [&drops](uint64_t n, absl::string_view what) {
    if (n != 0) drops.push_back(absl::StrCat(Grouped(n), " ", what));
  };
  for (size_t i = 1; i < nf::kParseResultCount; ++i) {
    add(c.results[i], absl::StrCat("packets not metered: ",
                                   nf::ParseResultName(static_cast<nf::ParseResult>(i))));
  }
  if (p.source && p.source->is_live()) {
    add(cs.dropped, "packets dropped by the kernel (capture buffer full: raise --buffer-size)");
    add(cs.if_dropped, "packets dropped by the interface or driver");
  }
  add(RingFullDrops(p), "packets dropped on full shard rings (--ring-full drop)");
  add(es.not_exportable, "flows not exportable in this version (IPv6 with -v 5)");
  add(p.sender->send_errors(), "datagram sends failed (collector unreachable?)");
  if (drops.empty()) {
    s += "  dropped:   nothing\n";
  } else {
    absl::StrAppend(&s, "  dropped:   ", absl::StrJoin(drops, "\n             "), "\n");
  }
  out << s << std::flush;
}

// Writes `text` to `path` atomically (common/atomic_file.h; devices such as /dev/null are
// written in place, never renamed over).
bool WriteFileAtomically(const std::string& path, const std::string& text, std::string* error) {
  absl::Status st = nf::WriteFileAtomically(path, text);
  if (!st.ok()) *error = std::string(st.message());
  return st.ok();
}

// Paces datagrams to at most `rate` per second (file replay must not overrun a collector's
// socket buffer; a live link paces itself).
class Pacer {
 public:
  explicit Pacer(double rate) : interval_ns_(rate > 0 ? static_cast<int64_t>(1e9 / rate) : 0) {}
  void Wait() {
    if (interval_ns_ == 0) return;
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    const int64_t now_ns = int64_t{now.tv_sec} * 1000000000 + now.tv_nsec;
    if (next_ns_ == 0 || next_ns_ < now_ns - 50 * interval_ns_) next_ns_ = now_ns;
    if (next_ns_ > now_ns) {
      timespec until{static_cast<time_t>(next_ns_ / 1000000000), next_ns_ % 1000000000};
      while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, nullptr) == EINTR) {
      }
    }
    next_ns_ += interval_ns_;
  }

 private:
  int64_t interval_ns_;
  int64_t next_ns_ = 0;
};

// Says what went wrong in one line; the exit status tells a command-line mistake (2) from a
// failed run (1), see common/exit_status.h.
int Fail(const absl::Status& status) {
  std::cerr << "flowexport: " << status.message() << "\n";
  return nf::ExitStatusFor(status);
}
int Usage(const std::string& message) { return Fail(absl::InvalidArgumentError(message)); }
int Failure(const std::string& message) { return Fail(absl::UnknownError(message)); }

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{
      "flowexport: meter packets from an interface or capture files into flows and export them "
      "as NetFlow v9 (RFC 3954), IPFIX (RFC 7011) or NetFlow v5 over UDP.",
      "flowexport"};
  app.option_defaults()->always_capture_default();
  app.footer(
      "Signals: SIGINT/SIGTERM stop and export every flow; SIGUSR1 prints statistics.\n"
      "\n"
      "Examples:\n"
      "  flowexport -i igb0 -c 10.0.0.5:1234\n"
      "      capture on igb0 and export NetFlow v9 to the collector at 10.0.0.5, UDP port 1234\n"
      "  flowexport -r trace.pcap -c 127.0.0.1:2055\n"
      "      export the flows of a capture file (its clock drives time) to a local collector\n"
      "  flowexport --ng-netflow -i igb0 -c 10.0.0.5:1234 --emit bootstrap\n"
      "      print a FreeBSD boot script that makes the kernel's ng_netflow do the same export");
  app.set_version_flag("--version",
                       std::string("flowexport " NF_VERSION "\nbuilt with libpcap " NF_PCAP_BUILD_VERSION
                                   ", running ") +
                           pcap_lib_version(),
                       "Print the version (and libpcap's) and exit");
  app.get_formatter()->column_width(40);

  app.add_option("-r,--read", o.files,
                 "Read packets from a pcap/pcapng FILE (repeatable; "
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
  app.add_option("--buffer-size", o.buffer_mib, "Kernel capture buffer in MiB")
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
                 "evenly over them (1 = one table on the capture thread)")
      ->group("Flows")
      ->check(CLI::Range(int64_t{1}, int64_t{64}));
  app.add_option("--ring-full", o.ring_full,
                 "With --threads N: when a shard's ring is full, block (wait, lose nothing) or "
                 "drop (count the packet and go on)")
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
  app.add_option("--metrics", o.metrics_listen,
                 "Serve Prometheus metrics at http://[ADDR:]PORT/metrics (bare PORT: all IPv4 "
                 "addresses; see docs/metrics.md)")
      ->group("Output")
      ->type_name("[ADDR:]PORT");
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
         "--progress", [&o] { o.progress = nf::ProgressMode::kAlways; },
         "With -r: draw a progress bar on stderr even when it is not a terminal")
      ->group("Output");
  app.add_flag_callback(
         "--no-progress", [&o] { o.progress = nf::ProgressMode::kNever; },
         "With -r: no progress bar (default: drawn when stderr is a terminal)")
      ->group("Output");

#if NF_HAVE_NGNETFLOW
  nf::ng::SetupOptions ng;
  CLI::Option_group* ng_group = app.add_option_group(
      "ng_netflow setup", "FreeBSD in-kernel export instead of capturing (see docs/ng_netflow.md)");
  ng_group->add_flag("--ng-netflow", o.ng_netflow,
                     "Do not capture: generate (or --apply) a FreeBSD ng_netflow setup for -i/-c "
                     "and the timeout, --mtu and template options");
  nf::ng::AddCliOptions(*ng_group, ng);
#endif

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11's own codes (105, 109, ...) would hide that every one of these is a usage error.
    return app.exit(e) == 0 ? nf::kExitOk : nf::kExitUsage;
  }

#if NF_HAVE_NGNETFLOW
  if (o.ng_netflow) {
    // Shared options are copied only when given: ng_netflow has its own sensible defaults
    // (e.g. a 120 s active timeout, templates by time only) that flowexport's must not mask.
    ng.interfaces = o.interfaces;
    ng.collectors = o.collectors;
    if (app.count("--active-timeout") != 0) {
      ng.active_timeout_s = static_cast<int64_t>(o.active_timeout_s);
    }
    if (app.count("--inactive-timeout") != 0) {
      ng.inactive_timeout_s = static_cast<int64_t>(o.inactive_timeout_s);
    }
    if (app.count("--mtu") != 0) ng.mtu = o.mtu;
    if (app.count("--template-refresh-seconds") != 0) {
      ng.template_refresh_s = static_cast<int64_t>(o.template_refresh_seconds);
    }
    if (app.count("--template-refresh-packets") != 0) {
      ng.template_refresh_packets = o.template_refresh_packets;
    }
    return nf::ng::RunSetup(ng, std::cout, std::cerr);
  }
#endif

  // ---- Validate the combination.
  if (o.files.empty() == o.interfaces.empty()) {
    return Usage("give exactly one input: -r FILE... or -i IFACE (see --help)");
  }
  if (o.interfaces.size() > 1) {
    return Usage(
        "capturing on several interfaces at once is not supported; run one flowexport "
        "per interface with distinct --source-id");
  }
  if (o.collectors.empty()) return Usage("no collector given: -c HOST:PORT (see --help)");
  const std::string filter = absl::StrJoin(o.filter_words, " ");
  const bool live = !o.interfaces.empty();

  if (o.export_version == 5 && app.count("--template") != 0) {
    return Usage("-T has no effect with -v 5: NetFlow v5 records have a fixed layout");
  }
  if (o.export_version == 5 && o.source_id > 0xffff) {
    return Usage(absl::StrCat("--source-id ", o.source_id,
                             " does not fit NetFlow v5's engine type and ID (at most 65535)"));
  }
  absl::StatusOr<nf::TemplateSpec> spec = nf::LoadTemplate(o.template_name);
  if (!spec.ok()) return Fail(spec.status());
  // Looked up before anything is opened, so a typo costs nothing.
  absl::StatusOr<nf::Identity> identity = nf::ResolveIdentity(o.user, o.group);
  if (!identity.ok()) return Fail(identity.status());

  Pipeline p;
  // ---- Collectors first: a typo there should not cost a capture start-up.
  absl::StatusOr<std::unique_ptr<nf::UdpSender>> sender = nf::UdpSender::Create(o.collectors);
  if (!sender.ok()) return Fail(sender.status());
  p.sender = std::move(*sender);
  for (const nf::CollectorStats& s : p.sender->stats()) {
    if (!s.connected) {
      std::cerr << "flowexport: collector " << s.name << " is not reachable now ("
                << std::strerror(s.last_errno) << "): sends count as errors until it is\n";
    }
  }

  // ---- Input.
  nf::LiveCaptureOptions live_options;  // kept for --on-iface-down wait
  if (live) {
    nf::LiveCaptureOptions& lo = live_options;
    lo.interface = o.interfaces[0];
    lo.promiscuous = !o.no_promisc;
    lo.snaplen = o.snaplen;
    lo.buffer_size_bytes = o.buffer_mib << 20;
    lo.filter = filter;
    absl::StatusOr<std::unique_ptr<nf::PcapSource>> src = nf::PcapSource::OpenLive(lo);
    if (!src.ok()) return Fail(src.status());
    p.source = std::move(*src);
  } else {
    absl::StatusOr<std::unique_ptr<nf::PcapSource>> src =
        nf::PcapSource::OpenOffline(o.files, filter);
    if (!src.ok()) return Fail(src.status());
    p.source = std::move(*src);
  }

  // ---- Flow table and encoder.
  nf::FlowTableOptions to;
  to.max_flows = static_cast<size_t>(o.max_flows);
  to.inactive_timeout_us = static_cast<nf::TimeUs>(o.inactive_timeout_s * 1e6);
  to.active_timeout_us = static_cast<nf::TimeUs>(o.active_timeout_s * 1e6);
  to.input_if = p.source->if_index();
  if (o.threads > 1) {
    nf::ShardedMeterOptions mo;
    mo.shards = static_cast<size_t>(o.threads);
    mo.table = to;
    mo.ring_full = o.ring_full == "drop" ? nf::RingFullPolicy::kDrop : nf::RingFullPolicy::kBlock;
    absl::StatusOr<std::unique_ptr<nf::ShardedMeter>> meter = nf::ShardedMeter::Create(mo);
    if (!meter.ok()) return Fail(meter.status());
    p.meter = std::move(*meter);
  } else {
    p.table = std::make_unique<nf::FlowTable>(to);
    if (!p.table->ok()) {
      return Failure(absl::StrCat("cannot allocate a flow table of ", o.max_flows,
                               " flows (lower --max-flows)"));
    }
  }
  nf::PacketSampler sampler(static_cast<uint32_t>(o.sampling),
                            o.sampling_mode == "random" ? nf::PacketSampler::Mode::kRandom
                                                        : nf::PacketSampler::Mode::kDeterministic,
                            static_cast<uint64_t>(WallClockUs()));

  nf::V9EncoderOptions eo;
  eo.source_id = static_cast<uint32_t>(o.source_id >= 0 ? o.source_id : p.source->if_index());
  eo.mtu = static_cast<size_t>(o.mtu);
  eo.ip_udp_overhead = p.sender->any_ipv6() ? 48 : 28;
  eo.template_refresh_datagrams = static_cast<uint32_t>(o.template_refresh_packets);
  eo.template_refresh_us = static_cast<nf::TimeUs>(o.template_refresh_seconds * 1e6);
  eo.flush_interval_us = static_cast<nf::TimeUs>(o.flush_interval_s * 1e6);
  eo.boot_us = WallClockUs();  // live: process start; -r: replaced by the first packet's time
  if (o.sampling > 1) {
    eo.sampling_interval = static_cast<uint32_t>(o.sampling);
    eo.sampling_algorithm = static_cast<uint8_t>(sampler.mode());
  }
  Pacer pacer(o.max_export_rate >= 0 ? o.max_export_rate : (live ? 0 : 10000));
  nf::UdpSender* send = p.sender.get();
  auto datagram_sink = [send, &pacer](std::span<const uint8_t> d) {
    pacer.Wait();
    send->Send(d);
  };
  absl::Status created;
  if (o.export_version == 10) {
    nf::IpfixEncoderOptions io;
    io.observation_domain_id = eo.source_id;
    io.mtu = eo.mtu;
    io.ip_udp_overhead = eo.ip_udp_overhead;
    io.template_refresh_datagrams = eo.template_refresh_datagrams;
    io.template_refresh_us = eo.template_refresh_us;
    io.flush_interval_us = eo.flush_interval_us;
    io.sampling_interval = eo.sampling_interval;
    io.sampling_algorithm = eo.sampling_algorithm;
    absl::StatusOr<std::unique_ptr<nf::IpfixEncoder>> e =
        nf::IpfixEncoder::Create(io, *spec, datagram_sink);
    if (e.ok()) p.exporter.ipfix = std::move(*e);
    created = e.status();
  } else if (o.export_version == 5) {
    nf::V5EncoderOptions vo;
    // v5 has 16 bits of exporter identity; collectors read them as type*256+ID.
    vo.engine_type = static_cast<uint8_t>((eo.source_id >> 8) & 0xff);
    vo.engine_id = static_cast<uint8_t>(eo.source_id & 0xff);
    vo.mtu = eo.mtu;
    vo.ip_udp_overhead = eo.ip_udp_overhead;
    vo.flush_interval_us = eo.flush_interval_us;
    vo.boot_us = eo.boot_us;
    vo.sampling_interval = eo.sampling_interval;
    vo.sampling_algorithm = eo.sampling_algorithm;
    absl::StatusOr<std::unique_ptr<nf::V5Encoder>> e = nf::V5Encoder::Create(vo, datagram_sink);
    if (e.ok()) p.exporter.v5 = std::move(*e);
    created = e.status();
  } else {
    absl::StatusOr<std::unique_ptr<nf::V9Encoder>> e =
        nf::V9Encoder::Create(eo, *spec, datagram_sink);
    if (e.ok()) p.exporter.v9 = std::move(*e);
    created = e.status();
  }
  if (!created.ok()) return Fail(created);
  // ---- Prometheus endpoint: serves snapshots the loop publishes (nothing per packet).
  nf::metrics::Registry registry;
  nf::metrics::ExportStatsPublisher publisher;
  std::unique_ptr<nf::metrics::MetricsServer> metrics_server;
  if (!o.metrics_listen.empty()) {
    publisher.Publish(Snapshot(p));
    publisher.Register(registry);
    auto server = nf::metrics::MetricsServer::Start(registry, o.metrics_listen);
    if (!server.ok()) return Fail(server.status());
    metrics_server = std::move(*server);
    if (o.verbose > 0) {
      std::cerr << "flowexport: metrics on port " << metrics_server->port() << " at /metrics"
                << std::endl;
    }
  }
  // Capture handle and sockets are open: nothing below needs privileges.
  if (absl::Status st = nf::DropPrivileges(*identity); !st.ok()) {
    return Fail(st);
  }
  if (o.verbose > 0 && (!o.user.empty() || !o.group.empty())) {
    std::cerr << "flowexport: running as " << nf::DescribeIdentity(*identity) << std::endl;
  }

  InstallSignals();
  g_source.store(p.source.get());
  if (o.verbose > 0) {
    std::cerr << "flowexport: " << (live ? "capturing on " : "reading ")
              << (live ? o.interfaces[0] : absl::StrJoin(o.files, ", "))
              << (filter.empty() ? "" : " with filter '" + filter + "'") << ", exporting to "
              << absl::StrJoin(o.collectors, ", ") << std::endl;
  }

  // Display only (wall clock, never flow logic): the -r progress bar and --verbose status.
  nf::ProgressOptions po;
  po.label = "flowexport";
  for (const std::string& f : o.files) {
    struct stat st {};
    if (stat(f.c_str(), &st) == 0 && S_ISREG(st.st_mode)) po.total_bytes += st.st_size;
  }
  po.width = nf::TerminalColumns(STDERR_FILENO);
  po.final_line_always = o.progress == nf::ProgressMode::kAlways;
  nf::ProgressBar progress(
      po, !live && nf::ProgressEnabled(o.progress, isatty(STDERR_FILENO) == 1),
      nf::MonotonicMicros, [](absl::string_view t) { std::fwrite(t.data(), 1, t.size(), stderr); });
  nf::StatusTicker status_ticker(o.verbose > 0 ? o.status_interval_s : 0, nf::MonotonicMicros());
  nf::ExportStatusSample status_before;

  // ---- The loop.
  Counters& c = p.counters;
  nf::FlowTable* table = p.table.get();
  nf::ShardedMeter* meter = p.meter.get();
  // Packet time for files: the latest packet metered (submitted to the shards).
  auto packet_now = [&] { return meter != nullptr ? meter->now() : table->now(); };
  Exporter& enc = p.exporter;
  bool first_packet = true;
  auto sink = [&](const nf::FlowRecord& r) {
    if (!enc.Add(r, live ? WallClockUs() : packet_now())) return;  // counted by the encoder
    c.packets_exported += r.packets;
    c.bytes_exported += r.bytes;
  };
  auto on_packet = [&](const nf::RawPacket& pkt) {
    ++c.seen;
    nf::PacketMeta meta;
    meta.time_us = pkt.time_us;
    const nf::ParseResult r =
        pkt.link_supported ? nf::ParsePacket(pkt.data, pkt.caplen, pkt.wire_len, pkt.link, meta)
                           : nf::ParseResult::kUnsupportedLinkType;
    ++c.results[static_cast<size_t>(r)];
    if (r != nf::ParseResult::kOk) return;
    ++c.parsed;
    if (meta.is_fragment()) ++c.fragments;
    if (meta.is_non_first_fragment()) ++c.non_first_fragments;
    if (meta.l4_truncated()) ++c.l4_truncated;
    if (!sampler.Take()) {
      ++c.sampled_out;
      return;
    }
    if (first_packet) {
      first_packet = false;
      if (!live) enc.SetBootTime(pkt.time_us);
    }
    if (meter != nullptr) {
      meter->Submit(meta, sink);
    } else {
      table->Enqueue(meta, sink);  // pipelined: drained after every batch below
    }
  };

  int exit_code = 0;
  // Only kernel network interfaces go down; libpcap's pseudo-devices (nflog:N, any, ...) have
  // no ifindex and no link state, so watching them would read as "gone" at once.
  const bool watch_iface = live && p.source->if_index() != 0;
  if (live) StartIfaceTimer();
  while (!g_stop) {
    absl::StatusOr<int> n = p.source->Dispatch(256, on_packet);
    if (table != nullptr) table->Drain(sink);
    // The interface going down gives no capture error (the handle just sees nothing and, with
    // TPACKET_V3, libpcap waits for the next packet), its deletion does: a 1 s timer breaks
    // the capture loop so the state is checked.
    bool iface_down = false;
    if (watch_iface && (!n.ok() || g_check_iface)) {
      g_check_iface = 0;
      iface_down = nf::GetIfaceState(o.interfaces[0]) != nf::IfaceState::kUp;
    }
    if (!n.ok() || iface_down) {
      if (!n.ok() && absl::IsOutOfRange(n.status())) break;  // end of the files
      if (!n.ok()) std::cerr << "flowexport: " << n.status().message() << "\n";
      exit_code = 1;
      if (!watch_iface) break;
      std::cerr << "flowexport: interface " << o.interfaces[0] << " is "
                << nf::IfaceStateName(nf::GetIfaceState(o.interfaces[0]))
                << (o.on_iface_down == "wait"
                        ? ": waiting for it to come back (--on-iface-down wait)\n"
                        : ": exporting every flow and exiting (--on-iface-down exit)\n");
      if (o.on_iface_down != "wait") break;
      auto reopened = nf::ReopenWhenUp(live_options, &g_stop, [&] {
        const nf::TimeUs t = WallClockUs();
        if (meter != nullptr) {
          meter->AdvanceTime(t, sink);
        } else {
          table->ExpireUntil(t, sink);
        }
        enc.Tick(t);
      });
      if (!reopened.ok()) {
        std::cerr << "flowexport: cannot capture on " << o.interfaces[0]
                  << " again: " << reopened.status().message() << "\n";
        break;
      }
      exit_code = 0;
      if (*reopened == nullptr) break;  // SIGINT/SIGTERM while waiting: a normal stop
      g_source.store(reopened->get());
      p.source = std::move(*reopened);  // the old handle closes here
      std::cerr << "flowexport: interface " << o.interfaces[0] << " is back: capturing\n";
      continue;
    }
    // Expiry and flushing run on the export clock: packet time for files, wall time live
    // (so a quiet link still expires flows and sends partial datagrams).
    const nf::TimeUs now = live ? WallClockUs() : packet_now();
    if (meter != nullptr) {
      // Publishes this batch to the shards and exports what they expired.
      if (live) {
        meter->AdvanceTime(now, sink);
      } else {
        meter->Poll(sink);
      }
    } else if (live) {
      table->ExpireUntil(now, sink);
    }
    enc.Tick(now);
    if (metrics_server != nullptr && publisher.Due()) publisher.Publish(Snapshot(p));
    progress.Update(p.source->BytesRead(), c.seen);
    if (g_dump_stats) {
      g_dump_stats = 0;
      progress.Clear();
      PrintStats(p, std::cerr);
    }
    if (double seconds = 0; status_ticker.Due(nf::MonotonicMicros(), &seconds)) {
      const nf::CaptureStats cs = p.source->Stats();
      const nf::ExportStatusSample now_sample{c.seen, ActiveFlows(p), p.exporter.stats().records,
                                              p.exporter.stats().datagrams,
                                              cs.dropped + cs.if_dropped + RingFullDrops(p),
                                              p.sender->send_errors()};
      progress.Clear();
      std::cerr << nf::ExportStatusLine(status_before, now_sample, seconds) << std::flush;
      status_before = now_sample;
    }
  }
  g_source.store(nullptr);

  // ---- Flush everything: end of input or SIGINT/SIGTERM.
  const nf::TimeUs end = live ? WallClockUs() : packet_now();
  if (meter != nullptr) {
    meter->Finish(sink);  // every shard flushes; every record is drained before this returns
  } else {
    table->FlushAll(sink);
  }
  enc.Flush(end);
  progress.Finish(p.source->BytesRead(), c.seen);
  PrintStats(p, std::cerr);
  if (metrics_server != nullptr) publisher.Publish(Snapshot(p));  // = the stats JSON below
  if (!o.stats_json.empty()) {
    std::string error;
    if (!WriteFileAtomically(o.stats_json, StatsJson(p), &error)) return Failure(error);
  }
  return exit_code;
}
