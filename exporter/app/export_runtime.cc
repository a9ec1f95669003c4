#include "exporter/app/export_runtime.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "capture/iface_state.h"
#include "capture/packet_parser.h"
#include "capture/pcap_source.h"
#include "exporter/app/packet_step.h"
#include "common/atomic_file.h"
#include "common/exit_status.h"
#include "common/privileges.h"
#include "exporter/app/export_metrics.h"
#include "exporter/app/fanout_capture.h"
#include "exporter/app/frame_fanout.h"
#include "exporter/app/run_status.h"
#include "enrich/enrichment.h"
#include "exporter/encode/encoder.h"
#include "exporter/encode/ipfix_encoder.h"
#include "exporter/encode/v5_encoder.h"
#include "exporter/encode/v9_encoder.h"
#include "exporter/meter/flow_table.h"
#include "exporter/meter/meter.h"
#include "exporter/meter/sharded_meter.h"
#include "exporter/send/udp_sender.h"
#include "metrics/metrics_server.h"
#include "templates/template_spec.h"
#include "wire/v9_fields.h"

namespace nf {
namespace {

// The run the signal handlers talk to. The handlers only set flags and ask libpcap to return
// (pcap_breakloop just sets a flag and, on Linux, writes to an eventfd, both async-signal-safe).
std::atomic<ExportRuntime*> g_runtime{nullptr};

void OnStopSignal(int) {
  if (ExportRuntime* r = g_runtime.load()) r->RequestStop();
}
void OnStatsSignal(int) {
  if (ExportRuntime* r = g_runtime.load()) r->RequestStats();
}
void OnReloadSignal(int) {
  if (ExportRuntime* r = g_runtime.load()) r->RequestReload();
}
// --on-iface-down: once a second, make the capture loop return so it checks the interface.
void OnIfaceTimer(int) {
  if (ExportRuntime* r = g_runtime.load()) r->RequestIfaceCheck();
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
  // SIGHUP reloads the enrichment data; without any it is a no-op rather than the default
  // termination, which a daemon's "reload" would otherwise turn into a lost export.
  sa.sa_handler = OnReloadSignal;
  sigaction(SIGHUP, &sa, nullptr);
  sa.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &sa, nullptr);
}

TimeUs WallClockUs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return TimeUs{ts.tv_sec} * 1000000 + ts.tv_nsec / 1000;
}

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

// Counters of the capture loop and the export side (plain integers: one thread).
struct Counters : PacketCounters {
  uint64_t packets_exported = 0;
  uint64_t bytes_exported = 0;
  uint64_t addresses_looked_up = 0;
  uint64_t addresses_matched = 0;
};

// An exported flow's origin AS and prefix length for both ends, from the enrichment snapshot.
void EnrichExported(const EnrichmentData& data, FlowRecord& e, Counters& c) {
  const AddressInfo src = data.LookupAs(e.key.src);
  const AddressInfo dst = data.LookupAs(e.key.dst);
  e.src_as = src.origin_as;
  e.src_mask = src.mask;
  e.dst_as = dst.origin_as;
  e.dst_mask = dst.mask;
  c.addresses_looked_up += 2;
  c.addresses_matched += static_cast<uint64_t>(src.origin_as != 0 || src.mask != 0) +
                         static_cast<uint64_t>(dst.origin_as != 0 || dst.mask != 0);
}

// Enriches (once per exported flow, never per packet: the flow table stays as lean as without
// it, and records exported after a SIGHUP reload see the new data) and encodes one expired
// record at export time `now`, and counts what it carried. Every capture loop's sink.
class RecordExporter {
 public:
  RecordExporter(Encoder& enc, Counters& c) : enc_(enc), c_(c) {}
  void set_enrichment(const EnrichmentData* e) { enrichment_ = e; }
  void Export(const FlowRecord& r, TimeUs now) {
    bool added;
    if (enrichment_ != nullptr) {
      FlowRecord e = r;
      EnrichExported(*enrichment_, e, c_);
      added = enc_.Add(e, now);
    } else {
      added = enc_.Add(r, now);
    }
    if (!added) return;  // counted by the encoder
    c_.packets_exported += r.packets;
    c_.bytes_exported += r.bytes;
  }

 private:
  Encoder& enc_;
  Counters& c_;
  const EnrichmentData* enrichment_ = nullptr;
};

}  // namespace

// source -> parser -> sampler -> meter -> encoder -> sender, and what reports on them. The
// encoder's sink uses the pacer and the sender, so they are declared (and outlive it) before it.
struct ExportPipeline {
  Counters counters;
  bool live = false;
  std::string filter;
  LiveCaptureOptions live_options;  // kept for --on-iface-down wait
  std::unique_ptr<PcapSource> source;
  // -i IFACE --threads N on Linux: N capture workers in one PACKET_FANOUT group, each with its
  // own flow table; then `source` and `meter` stay null (fanout_capture.h).
  std::unique_ptr<FanoutCapture> fanout;
  // -r FILE --threads N on classic pcap files: the reader hands frame batches to N parsing
  // workers, each with its own flow table; then `meter` stays null (frame_fanout.h).
  std::unique_ptr<FrameFanout> frames;
  uint32_t if_index = 0;  // of the capture interface (0 for files and pseudo-devices)
  std::unique_ptr<UdpSender> sender;
  std::unique_ptr<Pacer> pacer;
  std::unique_ptr<PacketSampler> sampler;
  std::unique_ptr<Meter> meter;
  std::unique_ptr<Encoder> encoder;
  // --routes / --asn-db: the snapshot the export sink reads, reloaded on SIGHUP.
  std::unique_ptr<Enrichment> enrichment;
  // --metrics: serves snapshots the loop publishes (nothing per packet).
  metrics::Registry registry;
  metrics::ExportStatsPublisher publisher;
  std::unique_ptr<metrics::MetricsServer> metrics_server;
  // Display only (wall clock, never flow logic): the -r progress bar.
  std::unique_ptr<ProgressBar> progress;
};

namespace {

// The single source of every statistic: JSON, summary, status line and metrics read this.
ExportSnapshot Snapshot(const ExportPipeline& p) {
  Counters c = p.counters;
  CaptureStats cs = p.source ? p.source->Stats() : CaptureStats{};
  MeterTotals mt = p.meter ? p.meter->Totals() : MeterTotals{};
  if (p.fanout != nullptr) {
    // The workers count packets; the export thread (p.counters) counts what it exported.
    const FanoutTotals ft = p.fanout->Totals();
    static_cast<PacketCounters&>(c) = ft.packets;
    mt = ft.meter;
    cs = ft.capture;
  }
  if (p.frames != nullptr) {
    // The workers count packets; the reader (p.source) counts frames read.
    const FanoutTotals ft = p.frames->Totals();
    static_cast<PacketCounters&>(c) = ft.packets;
    mt = ft.meter;
  }
  const EncoderTotals et = p.encoder->Totals();
  ExportSnapshot s;
  s.packets_seen = c.seen;
  s.packets_parsed = c.parsed;
  for (size_t i = 1; i < kParseResultCount; ++i) {
    s.packets_dropped.emplace_back(ParseResultName(static_cast<ParseResult>(i)), c.results[i]);
  }
  s.packets_sampled_out = c.sampled_out;
  s.packets_fragment = c.fragments;
  s.packets_non_first_fragment = c.non_first_fragments;
  s.packets_l4_truncated = c.l4_truncated;
  s.packets_ring_full_dropped = mt.ring_full_drops;
  s.live = (p.source && p.source->is_live()) || p.fanout != nullptr;
  s.capture_workers = p.fanout != nullptr   ? p.fanout->workers()
                      : p.frames != nullptr ? p.frames->workers()
                                            : 1;
  s.pcap_dropped = cs.dropped;
  s.pcap_if_dropped = cs.if_dropped;
  s.flows_created = mt.table.flows_created;
  for (size_t r = 1; r < kEndReasonSlots; ++r) {
    s.flows_expired.emplace_back(EndReasonName(r), mt.table.expired[r]);
  }
  s.flows_active = mt.active_flows;
  s.packets_exported = c.packets_exported;
  s.bytes_exported = c.bytes_exported;
  s.records_sent = et.records;
  s.template_records_sent = et.template_records;
  s.records_not_exportable = et.not_exportable;
  s.datagrams_sent = et.datagrams;
  s.send_errors = p.sender->send_errors();
  if (p.enrichment != nullptr) {
    const EnrichmentStats es = p.enrichment->stats();
    s.enrichment_generation = es.generation;
    s.enrichment_reloads = es.reloads;
    s.enrichment_reload_failures = es.reload_failures;
  }
  s.addresses_looked_up = c.addresses_looked_up;
  s.addresses_matched = c.addresses_matched;
  for (const CollectorStats& col : p.sender->stats()) {
    s.collectors.push_back({col.name, col.address, col.datagrams, col.send_errors,
                            col.last_errno != 0 ? std::strerror(col.last_errno) : ""});
  }
  return s;
}

// The flow table the options ask for (the whole meter's: multi-core paths split max_flows).
FlowTableOptions TableOptionsOf(const ExportOptions& o, uint32_t input_if) {
  FlowTableOptions to;
  to.max_flows = static_cast<size_t>(o.max_flows);
  to.inactive_timeout_us = static_cast<TimeUs>(o.inactive_timeout_s * 1e6);
  to.active_timeout_us = static_cast<TimeUs>(o.active_timeout_s * 1e6);
  to.input_if = input_if;
  return to;
}

PacketSampler::Mode SamplingModeOf(const ExportOptions& o) {
  return o.sampling_mode == "random" ? PacketSampler::Mode::kRandom
                                     : PacketSampler::Mode::kDeterministic;
}

// --threads 1: one FlowTable on the capture thread; N: a ShardedMeter.
absl::StatusOr<std::unique_ptr<Meter>> CreateMeter(const ExportOptions& o, uint32_t input_if) {
  const FlowTableOptions to = TableOptionsOf(o, input_if);
  if (o.threads > 1) {
    ShardedMeterOptions mo;
    mo.shards = static_cast<size_t>(o.threads);
    mo.table = to;
    mo.ring_full = o.ring_full == "drop" ? RingFullPolicy::kDrop : RingFullPolicy::kBlock;
    absl::StatusOr<std::unique_ptr<ShardedMeter>> meter = ShardedMeter::Create(mo);
    if (!meter.ok()) return meter.status();
    return std::unique_ptr<Meter>(std::move(*meter));
  }
  auto table = std::make_unique<FlowTable>(to);
  if (!table->ok()) {
    return absl::UnknownError(absl::StrCat("cannot allocate a flow table of ", o.max_flows,
                                           " flows (lower --max-flows)"));
  }
  return std::unique_ptr<Meter>(std::move(table));
}

// The encoder -v asks for, with the options all formats share.
absl::StatusOr<std::unique_ptr<Encoder>> CreateEncoder(const ExportOptions& o,
                                                       const TemplateSpec& spec,
                                                       const PacketSampler& sampler,
                                                       const ExportPipeline& p,
                                                       Encoder::DatagramSink sink) {
  const uint32_t source_id =
      static_cast<uint32_t>(o.source_id >= 0 ? o.source_id : p.if_index);
  MessageOptions mo;
  mo.mtu = static_cast<size_t>(o.mtu);
  mo.ip_udp_overhead = p.sender->any_ipv6() ? 48 : 28;
  mo.template_refresh_datagrams = static_cast<uint32_t>(o.template_refresh_packets);
  mo.template_refresh_us = static_cast<TimeUs>(o.template_refresh_seconds * 1e6);
  mo.flush_interval_us = static_cast<TimeUs>(o.flush_interval_s * 1e6);
  if (o.sampling > 1) {
    mo.sampling_interval = static_cast<uint32_t>(o.sampling);
    mo.sampling_algorithm = static_cast<uint8_t>(sampler.mode());
  }
  const TimeUs boot_us = WallClockUs();  // live: process start; -r: replaced by the first packet
  if (o.export_version == 10) {
    IpfixEncoderOptions io;
    static_cast<MessageOptions&>(io) = mo;
    io.observation_domain_id = source_id;
    auto e = IpfixEncoder::Create(io, spec, std::move(sink));
    if (!e.ok()) return e.status();
    return std::unique_ptr<Encoder>(std::move(*e));
  }
  if (o.export_version == 5) {
    V5EncoderOptions vo;
    // v5 has 16 bits of exporter identity; collectors read them as type*256+ID.
    vo.engine_type = static_cast<uint8_t>((source_id >> 8) & 0xff);
    vo.engine_id = static_cast<uint8_t>(source_id & 0xff);
    vo.mtu = mo.mtu;
    vo.ip_udp_overhead = mo.ip_udp_overhead;
    vo.flush_interval_us = mo.flush_interval_us;
    vo.boot_us = boot_us;
    vo.sampling_interval = mo.sampling_interval;
    vo.sampling_algorithm = mo.sampling_algorithm;
    auto e = V5Encoder::Create(vo, std::move(sink));
    if (!e.ok()) return e.status();
    return std::unique_ptr<Encoder>(std::move(*e));
  }
  V9EncoderOptions vo;
  static_cast<MessageOptions&>(vo) = mo;
  vo.source_id = source_id;
  vo.boot_us = boot_us;
  auto e = V9Encoder::Create(vo, spec, std::move(sink));
  if (!e.ok()) return e.status();
  return std::unique_ptr<Encoder>(std::move(*e));
}

}  // namespace

ExportRuntime::ExportRuntime(ExportOptions options, RunHooks hooks)
    : options_(std::move(options)), hooks_(std::move(hooks)) {}

void ExportRuntime::RequestStop() {
  stop_ = 1;
  if (PcapSource* s = source_.load()) s->BreakLoop();
}

void ExportRuntime::RequestIfaceCheck() {
  check_iface_ = 1;
  if (PcapSource* s = source_.load()) s->BreakLoop();
}

int ExportRuntime::Run() {
  ExportPipeline p;
  if (const int status = Open(p); status != kExitOk) return status;
  const int exit_code = Loop(p);
  return Close(p, exit_code);
}

int ExportRuntime::Fail(const absl::Status& status) {
  *hooks_.log << "flowexport: " << status.message() << "\n";
  return ExitStatusFor(status);
}

int ExportRuntime::Open(ExportPipeline& p) {
  const ExportOptions& o = options_;
  std::ostream& log = *hooks_.log;
  auto fail = [this](const absl::Status& status) { return Fail(status); };
  auto usage = [this](const std::string& m) { return Fail(absl::InvalidArgumentError(m)); };

  // ---- Validate the combination.
  if (o.files.empty() == o.interfaces.empty()) {
    return usage("give exactly one input: -r FILE... or -i IFACE (see --help)");
  }
  if (o.interfaces.size() > 1) {
    return usage(
        "capturing on several interfaces at once is not supported; run one flowexport "
        "per interface with distinct --source-id");
  }
  if (o.collectors.empty()) return usage("no collector given: -c HOST:PORT (see --help)");
  p.filter = absl::StrJoin(o.filter_words, " ");
  p.live = !o.interfaces.empty();
  const bool live = p.live;

  if (o.export_version == 5 && o.template_given) {
    return usage("-T has no effect with -v 5: NetFlow v5 records have a fixed layout");
  }
  if (o.export_version == 5 && o.source_id > 0xffff) {
    return usage(absl::StrCat("--source-id ", o.source_id,
                              " does not fit NetFlow v5's engine type and ID (at most 65535)"));
  }
  absl::StatusOr<TemplateSpec> spec = LoadTemplate(o.template_name);
  if (!spec.ok()) return fail(spec.status());
  // Looked up before anything is opened, so a typo costs nothing.
  absl::StatusOr<Identity> identity = ResolveIdentity(o.user, o.group);
  if (!identity.ok()) return fail(identity.status());
  // Enrichment data before anything is opened: a bad file is an error before the capture.
  if (o.enrichment.any()) {
    absl::StatusOr<std::unique_ptr<Enrichment>> enrichment = Enrichment::Create(o.enrichment);
    if (!enrichment.ok()) return fail(enrichment.status());
    p.enrichment = std::move(*enrichment);
    // A layout without AS or mask fields would make the lookups pointless: say so once.
    bool carries = o.export_version == 5;
    for (const TemplateRecord* layout : spec->Layouts()) {
      for (const TemplateField& f : layout->fields) {
        carries |= f.type == field::kSrcAs || f.type == field::kDstAs ||
                   f.type == field::kSrcMask || f.type == field::kDstMask ||
                   f.type == field::kIpv6SrcMask || f.type == field::kIpv6DstMask;
      }
    }
    if (!carries) {
      log << "flowexport: note: template '" << spec->name
          << "' has no SRC_AS, DST_AS or mask field, so enrichment fills nothing; use -T "
             "ng_netflow or a template with those fields\n";
    }
    if (o.verbose > 0) {
      log << "flowexport: enrichment: " << p.enrichment->Current()->Summary() << std::endl;
    }
  }

  // ---- Collectors first: a typo there should not cost a capture start-up.
  absl::StatusOr<std::unique_ptr<UdpSender>> sender = UdpSender::Create(o.collectors);
  if (!sender.ok()) return fail(sender.status());
  p.sender = std::move(*sender);
  for (const CollectorStats& s : p.sender->stats()) {
    if (!s.connected) {
      log << "flowexport: collector " << s.name << " is not reachable now ("
          << std::strerror(s.last_errno) << "): sends count as errors until it is\n";
    }
  }

  // ---- Input.
  // --threads N live on Linux: N capture handles in one fanout group, no packet hand-off. Not
  // with --on-iface-down wait, whose re-open is one handle's (the shard path keeps it).
  const bool fanout = live && o.threads > 1 && FanoutSupported(o.interfaces[0]) &&
                      o.on_iface_down != "wait";
  if (fanout) {
    FanoutOptions fo;
    fo.workers = static_cast<size_t>(o.threads);
    LiveCaptureOptions& lo = fo.capture;
    lo.interface = o.interfaces[0];
    lo.promiscuous = !o.no_promisc;
    lo.snaplen = o.snaplen;
    lo.buffer_size_bytes = o.buffer_mib << 20;
    lo.filter = p.filter;
    p.live_options = lo;
    fo.pid = getpid();
    fo.table = TableOptionsOf(o, 0);  // FanoutCapture stamps the interface's index
    fo.sampling = static_cast<uint32_t>(o.sampling);
    fo.sampling_mode = SamplingModeOf(o);
    fo.sampling_seed = static_cast<uint64_t>(WallClockUs());
    absl::StatusOr<std::unique_ptr<FanoutCapture>> f = FanoutCapture::Open(fo);
    if (!f.ok()) return fail(f.status());
    if (!(*f)->buffer_note().empty()) log << "flowexport: " << (*f)->buffer_note() << "\n";
    p.if_index = (*f)->if_index();
    p.fanout = std::move(*f);
  } else if (live) {
    LiveCaptureOptions& lo = p.live_options;
    lo.interface = o.interfaces[0];
    lo.promiscuous = !o.no_promisc;
    lo.snaplen = o.snaplen;
    lo.buffer_size_bytes = o.buffer_mib << 20;
    lo.filter = p.filter;
    absl::StatusOr<std::unique_ptr<PcapSource>> src = PcapSource::OpenLive(lo);
    if (!src.ok()) return fail(src.status());
    if (!(*src)->buffer_note().empty()) log << "flowexport: " << (*src)->buffer_note() << "\n";
    p.if_index = (*src)->if_index();
    p.source = std::move(*src);
  } else {
    absl::StatusOr<std::unique_ptr<PcapSource>> src = PcapSource::OpenOffline(o.files, p.filter);
    if (!src.ok()) return fail(src.status());
    p.source = std::move(*src);
    // --threads N on classic pcap files: the reader hands out frame batches and N workers
    // parse them. pcapng, zstd and what only libpcap reads keep the shard rings.
    if (o.threads > 1 && p.source->ReadsFrameBatches()) {
      FrameFanoutOptions fo;
      fo.workers = static_cast<size_t>(o.threads);
      // Two batches per worker: one being metered while the next is parsed (four measured
      // the same as six for two workers, 1 MiB each).
      fo.batches = std::max<size_t>(4, 2 * fo.workers);
      fo.table = TableOptionsOf(o, 0);  // files have no input interface
      fo.sampling = static_cast<uint32_t>(o.sampling);
      fo.sampling_mode = SamplingModeOf(o);
      fo.sampling_seed = static_cast<uint64_t>(WallClockUs());
      absl::StatusOr<std::unique_ptr<FrameFanout>> f = FrameFanout::Create(fo, p.source.get());
      if (!f.ok()) return fail(f.status());
      p.frames = std::move(*f);
    }
  }

  // ---- Meter and encoder.
  if (p.fanout == nullptr && p.frames == nullptr) {
    absl::StatusOr<std::unique_ptr<Meter>> meter = CreateMeter(o, p.if_index);
    if (!meter.ok()) return fail(meter.status());
    p.meter = std::move(*meter);
  }
  p.sampler = std::make_unique<PacketSampler>(static_cast<uint32_t>(o.sampling),
                                              SamplingModeOf(o),
                                              static_cast<uint64_t>(WallClockUs()));
  p.pacer = std::make_unique<Pacer>(o.max_export_rate >= 0 ? o.max_export_rate
                                                           : (live ? 0 : 10000));
  Pacer* pacer = p.pacer.get();
  UdpSender* send = p.sender.get();
  absl::StatusOr<std::unique_ptr<Encoder>> encoder =
      CreateEncoder(o, *spec, *p.sampler, p, [send, pacer](std::span<const uint8_t> d) {
        pacer->Wait();
        send->Send(d);
      });
  if (!encoder.ok()) return fail(encoder.status());
  p.encoder = std::move(*encoder);

  // ---- Prometheus endpoint: serves snapshots the loop publishes (nothing per packet).
  if (!o.metrics.listen.empty()) {
    p.publisher.Publish(Snapshot(p));
    p.publisher.Register(p.registry);
    auto server = metrics::MetricsServer::Start(p.registry, o.metrics);
    if (!server.ok()) return fail(server.status());
    p.metrics_server = std::move(*server);
    if (o.verbose > 0) {
      log << "flowexport: metrics on port " << p.metrics_server->port() << " at /metrics"
          << (o.metrics.tls_cert_file.empty() ? "" : " (https)") << std::endl;
    }
  }
  // Capture handle and sockets are open: nothing below needs privileges.
  if (absl::Status st = DropPrivileges(*identity); !st.ok()) return fail(st);
  if (o.verbose > 0 && (!o.user.empty() || !o.group.empty())) {
    log << "flowexport: running as " << DescribeIdentity(*identity) << std::endl;
  }

  g_runtime.store(this);
  if (hooks_.handle_signals) InstallSignals();
  source_.store(p.source.get());
  if (o.verbose > 0) {
    log << "flowexport: " << (live ? "capturing on " : "reading ")
        << (live ? o.interfaces[0] : absl::StrJoin(o.files, ", "))
        << (p.filter.empty() ? "" : " with filter '" + p.filter + "'") << ", exporting to "
        << absl::StrJoin(o.collectors, ", ") << std::endl;
    // Which capture path runs (docs/man/flowexport.1, --threads).
    if (p.fanout != nullptr) {
      log << "flowexport: capture: " << p.fanout->workers()
          << " fanout workers (PACKET_FANOUT hash group " << p.fanout->group_id()
          << "), one flow table each" << std::endl;
    } else if (p.frames != nullptr) {
      log << "flowexport: capture: 1 reader, " << p.frames->workers()
          << " parsing workers, one flow table each" << std::endl;
    } else if (o.threads > 1) {
      log << "flowexport: capture: 1 thread, " << o.threads << " flow-table shards over rings"
          << std::endl;
    } else {
      log << "flowexport: capture: 1 thread, 1 flow table" << std::endl;
    }
  }

  // Display only (wall clock, never flow logic): the -r progress bar.
  ProgressOptions po;
  po.label = "flowexport";
  for (const std::string& f : o.files) {
    struct stat st {};
    if (stat(f.c_str(), &st) == 0 && S_ISREG(st.st_mode)) po.total_bytes += st.st_size;
  }
  po.width = TerminalColumns(STDERR_FILENO);
  po.final_line_always = o.progress == ProgressMode::kAlways;
  p.progress = std::make_unique<ProgressBar>(
      po, !live && ProgressEnabled(o.progress, isatty(STDERR_FILENO) == 1), MonotonicMicros,
      [](absl::string_view t) { std::fwrite(t.data(), 1, t.size(), stderr); });
  return kExitOk;
}

int ExportRuntime::Loop(ExportPipeline& p) {
  if (p.fanout != nullptr) return LoopFanout(p);
  if (p.frames != nullptr) return LoopFrames(p);
  const ExportOptions& o = options_;
  std::ostream& log = *hooks_.log;
  const bool live = p.live;
  ProgressBar& progress = *p.progress;
  PacketSampler& sampler = *p.sampler;
  // Display only, like the progress bar: the --verbose status line.
  StatusTicker status_ticker(o.verbose > 0 ? o.status_interval_s : 0, MonotonicMicros());
  ExportStatusSample status_before;

  // ---- The loop.
  Counters& c = p.counters;
  Meter& m = *p.meter;
  Encoder& enc = *p.encoder;
  bool first_packet = true;
  RecordExporter exporter(enc, c);
  EnrichmentView enrichment_view(p.enrichment.get());
  auto sink = [&](const FlowRecord& r) { exporter.Export(r, live ? WallClockUs() : m.now()); };
  auto on_packet = [&](const RawPacket& pkt) {
    PacketMeta meta;
    if (!ParseCountAndSample(pkt, sampler, c, meta)) return;
    if (first_packet) {
      first_packet = false;
      if (!live) enc.SetBootTime(pkt.time_us);
    }
    m.Add(meta, sink);  // may stage (pipelining, shard batches): Poll after the batch
  };

  int exit_code = 0;
  // Only kernel network interfaces go down; libpcap's pseudo-devices (nflog:N, any, ...) have
  // no ifindex and no link state, so watching them would read as "gone" at once.
  const bool watch_iface = live && p.source->if_index() != 0;
  if (live) StartIfaceTimer();
  while (!stop_) {
    HandleReload(p);
    exporter.set_enrichment(enrichment_view.Get());
    absl::StatusOr<int> n = p.source->Dispatch(256, on_packet);
    m.Poll(sink);
    // The interface going down gives no capture error (the handle just sees nothing and, with
    // TPACKET_V3, libpcap waits for the next packet), its deletion does: a 1 s timer breaks
    // the capture loop so the state is checked.
    bool iface_down = false;
    if (watch_iface && (!n.ok() || check_iface_)) {
      check_iface_ = 0;
      iface_down = GetIfaceState(o.interfaces[0]) != IfaceState::kUp;
    }
    if (!n.ok() || iface_down) {
      if (!n.ok() && absl::IsOutOfRange(n.status())) break;  // end of the files
      if (!n.ok()) log << "flowexport: " << n.status().message() << "\n";
      exit_code = 1;
      if (!watch_iface) break;
      log << "flowexport: interface " << o.interfaces[0] << " is "
          << IfaceStateName(GetIfaceState(o.interfaces[0]))
          << (o.on_iface_down == "wait"
                  ? ": waiting for it to come back (--on-iface-down wait)\n"
                  : ": exporting every flow and exiting (--on-iface-down exit)\n");
      if (o.on_iface_down != "wait") break;
      auto reopened = ReopenWhenUp(p.live_options, &stop_, [&] {
        const TimeUs t = WallClockUs();
        m.AdvanceTime(t, sink);
        enc.Tick(t);
      });
      if (!reopened.ok()) {
        log << "flowexport: cannot capture on " << o.interfaces[0]
            << " again: " << reopened.status().message() << "\n";
        break;
      }
      exit_code = 0;
      if (*reopened == nullptr) break;  // SIGINT/SIGTERM while waiting: a normal stop
      source_.store(reopened->get());
      p.source = std::move(*reopened);  // the old handle closes here
      log << "flowexport: interface " << o.interfaces[0] << " is back: capturing\n";
      continue;
    }
    // Expiry and flushing run on the export clock: packet time for files, wall time live
    // (so a quiet link still expires flows and sends partial datagrams).
    const TimeUs now = live ? WallClockUs() : m.now();
    if (live) m.AdvanceTime(now, sink);
    enc.Tick(now);
    progress.Update(p.source->BytesRead(), c.seen);
    AfterBatch(p, status_ticker, status_before);
  }
  source_.store(nullptr);

  // ---- Flush everything: end of input or SIGINT/SIGTERM.
  const TimeUs end = live ? WallClockUs() : m.now();
  m.Finish(sink);  // every shard flushes; every record is drained before this returns
  enc.Flush(end);
  return exit_code;
}

int ExportRuntime::LoopFanout(ExportPipeline& p) {
  const ExportOptions& o = options_;
  std::ostream& log = *hooks_.log;
  FanoutCapture& capture = *p.fanout;
  Counters& c = p.counters;  // export side only: the workers count packets
  Encoder& enc = *p.encoder;
  StatusTicker status_ticker(o.verbose > 0 ? o.status_interval_s : 0, MonotonicMicros());
  ExportStatusSample status_before;
  // Enrichment and encoding stay on this thread, once per exported flow, as in Loop.
  RecordExporter exporter(enc, c);
  EnrichmentView enrichment_view(p.enrichment.get());
  auto sink = [&](const FlowRecord& r) { exporter.Export(r, WallClockUs()); };

  int exit_code = 0;
  const bool watch_iface = p.if_index != 0;
  // The workers expire by the wall clock themselves; this thread only drains their rings,
  // and in a VM each wake-up costs tens of microseconds whatever it finds. So it sleeps until
  // a worker rings (its ring is a quarter full, or full) or the longest pause passes, and a
  // drain of a quarter or more (a burst of expiries) is drained again at once. The longest
  // pause is 100 ms, shorter when --flush-interval asks for partial datagrams sooner; it is
  // also how long SIGINT/SIGTERM may wait. A fixed 1 ms pause woke an idle exporter 1,000
  // times a second; one that doubled to 16 ms, 63 times (3.4 ms of CPU a second).
  const auto max_pause = std::chrono::microseconds(std::clamp<int64_t>(
      static_cast<int64_t>(o.flush_interval_s * 1e6 / 2), 1'000, 100'000));
  const size_t ring_capacity = capture.record_capacity();
  StartIfaceTimer();
  capture.Start();
  while (!stop_) {
    HandleReload(p);
    exporter.set_enrichment(enrichment_view.Get());
    if (capture.Drain(sink) < ring_capacity / 4) capture.WaitForRecords(max_pause);
    if (const std::string failure = capture.Failure(); !failure.empty()) {
      log << "flowexport: " << failure << "\n";
      exit_code = 1;
      break;
    }
    if (watch_iface && check_iface_) {
      check_iface_ = 0;
      if (const IfaceState state = GetIfaceState(o.interfaces[0]); state != IfaceState::kUp) {
        log << "flowexport: interface " << o.interfaces[0] << " is " << IfaceStateName(state)
            << ": exporting every flow and exiting (--on-iface-down exit)\n";
        exit_code = 1;
        break;
      }
    }
    enc.Tick(WallClockUs());
    AfterBatch(p, status_ticker, status_before);
  }
  capture.Finish(sink);  // workers leave and are joined; every flow is exported
  enc.Flush(WallClockUs());
  if (o.verbose > 0) {
    log << "flowexport: capture: packets seen per fanout worker: "
        << absl::StrJoin(capture.SeenPerWorker(), " ") << std::endl;
  }
  return exit_code;
}

void ExportRuntime::HandleReload(ExportPipeline& p) {
  if (!reload_) return;
  reload_ = 0;
  if (p.enrichment != nullptr) {
    p.enrichment->RequestReload();  // loads on its own thread; the loop picks it up with Get()
  } else if (options_.verbose > 0) {
    *hooks_.log << "flowexport: SIGHUP: nothing to reload (no --routes or --asn-db)" << std::endl;
  }
}

void ExportRuntime::AfterBatch(ExportPipeline& p, StatusTicker& ticker,
                               ExportStatusSample& before) {
  std::ostream& log = *hooks_.log;
  if (p.metrics_server != nullptr && p.publisher.Due()) p.publisher.Publish(Snapshot(p));
  if (dump_stats_) {
    dump_stats_ = 0;
    p.progress->Clear();
    log << FormatSummary(Snapshot(p)) << std::flush;
  }
  if (double seconds = 0; ticker.Due(MonotonicMicros(), &seconds)) {
    const ExportStatusSample now_sample = StatusSampleOf(Snapshot(p));
    p.progress->Clear();
    log << ExportStatusLine(before, now_sample, seconds) << std::flush;
    before = now_sample;
  }
  if (hooks_.after_batch) hooks_.after_batch(Snapshot(p));
}

int ExportRuntime::LoopFrames(ExportPipeline& p) {
  const ExportOptions& o = options_;
  std::ostream& log = *hooks_.log;
  FrameFanout& frames = *p.frames;
  Encoder& enc = *p.encoder;
  StatusTicker status_ticker(o.verbose > 0 ? o.status_interval_s : 0, MonotonicMicros());
  ExportStatusSample status_before;
  RecordExporter exporter(enc, p.counters);
  EnrichmentView enrichment_view(p.enrichment.get());
  // The export clock is packet time, as in Loop: the latest frame read. The boot time is the
  // first frame's, known before any record can exist.
  bool boot_set = false;
  auto sink = [&](const FlowRecord& r) {
    if (!boot_set) {
      boot_set = true;
      enc.SetBootTime(frames.first_time());
    }
    exporter.Export(r, frames.now());
  };

  int exit_code = 0;
  while (!stop_) {
    HandleReload(p);
    exporter.set_enrichment(enrichment_view.Get());
    absl::StatusOr<size_t> n = frames.Pump(sink);
    if (!n.ok()) {
      if (absl::IsOutOfRange(n.status())) break;  // end of the files
      log << "flowexport: " << n.status().message() << "\n";
      exit_code = 1;
      break;
    }
    enc.Tick(frames.now());
    p.progress->Update(p.source->BytesRead(), p.source->Stats().received);
    AfterBatch(p, status_ticker, status_before);
  }
  frames.Finish(sink);  // every batch read is metered; every flow is exported
  enc.Flush(frames.now());
  if (o.verbose > 0) {
    log << "flowexport: capture: packets metered per worker: "
        << absl::StrJoin(frames.MeteredPerWorker(), " ") << std::endl;
  }
  return exit_code;
}

int ExportRuntime::Close(ExportPipeline& p, int exit_code) {
  if (p.source != nullptr) p.progress->Finish(p.source->BytesRead(), p.source->Stats().received);
  final_ = Snapshot(p);
  g_runtime.store(nullptr);
  *hooks_.log << FormatSummary(final_) << std::flush;
  if (p.metrics_server != nullptr) p.publisher.Publish(final_);  // = the stats JSON below
  if (!options_.stats_json.empty()) {
    if (absl::Status st = WriteFileAtomically(options_.stats_json, FormatStatsJson(final_));
        !st.ok()) {
      return Fail(absl::UnknownError(st.message()));
    }
  }
  return exit_code;
}

int Run(const ExportOptions& options) {
  ExportRuntime runtime(options);
  return runtime.Run();
}

}  // namespace nf
