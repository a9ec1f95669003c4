#include "exporter/app/export_metrics.h"

#include <time.h>

namespace nf::metrics {
namespace {

double D(uint64_t v) { return static_cast<double>(v); }

}  // namespace

bool ExportStatsPublisher::Due() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const int64_t now_us = int64_t{ts.tv_sec} * 1'000'000 + ts.tv_nsec / 1000;
  if (now_us < next_us_) return false;
  next_us_ = now_us + interval_us_;
  return true;
}

void ExportStatsPublisher::Publish(ExportSnapshot snapshot) {
  std::lock_guard<std::mutex> lock(mu_);
  last_ = std::move(snapshot);
}

ExportSnapshot ExportStatsPublisher::Last() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_;
}

void ExportStatsPublisher::Register(Registry& registry) const {
  registry.AddCallback([this](SampleWriter& w) { WriteExportSamples(Last(), w); });
}

void WriteExportSamples(const ExportSnapshot& s, SampleWriter& w) {
  constexpr MetricType kC = MetricType::kCounter;
  constexpr MetricType kG = MetricType::kGauge;
  // Capture and parsing.
  w.Add("flowexport_packets_total", "Frames delivered by the capture (libpcap).", kC, {},
        D(s.packets_seen));
  w.Add("flowexport_packets_parsed_total", "Frames that yielded a flow key.", kC, {},
        D(s.packets_parsed));
  for (const auto& [reason, n] : s.packets_dropped) {
    w.Add("flowexport_packets_dropped_total",
          "Frames not metered because they could not be parsed, by reason.", kC,
          {{"reason", reason}}, D(n));
  }
  w.Add("flowexport_packets_sampled_out_total", "Parsed packets skipped by --sampling.", kC, {},
        D(s.packets_sampled_out));
  w.Add("flowexport_packets_fragments_total", "IP fragments metered (part of parsed).", kC, {},
        D(s.packets_fragment));
  w.Add("flowexport_packets_non_first_fragments_total",
        "Non-first IP fragments (keyed without ports).", kC, {}, D(s.packets_non_first_fragment));
  w.Add("flowexport_packets_l4_truncated_total",
        "Parsed packets whose L4 header was cut by the snaplen.", kC, {},
        D(s.packets_l4_truncated));
  w.Add("flowexport_capture_drops_total",
        "Packets the kernel dropped because the capture buffer was full (pcap_stats ps_drop).",
        kC, {}, D(s.pcap_dropped));
  w.Add("flowexport_capture_interface_drops_total",
        "Packets dropped by the interface or driver (pcap_stats ps_ifdrop).", kC, {},
        D(s.pcap_if_dropped));
  w.Add("flowexport_ring_drops_total",
        "Packets dropped because a --threads shard's ring was full (--ring-full drop).", kC, {},
        D(s.packets_ring_full_dropped));
  // Flow table.
  w.Add("flowexport_flows_created_total", "Flows created in the flow table.", kC, {},
        D(s.flows_created));
  for (const auto& [reason, n] : s.flows_expired) {
    w.Add("flowexport_flows_expired_total", "Flows expired and handed to the encoder, by reason.",
          kC, {{"reason", reason}}, D(n));
  }
  w.Add("flowexport_flows_active", "Flows in the flow table now.", kG, {}, D(s.flows_active));
  // Export.
  w.Add("flowexport_flow_packets_total", "Sum of the packets of the exported records.", kC, {},
        D(s.packets_exported));
  w.Add("flowexport_flow_bytes_total", "Sum of the layer-3 bytes of the exported records.", kC,
        {}, D(s.bytes_exported));
  w.Add("flowexport_records_exported_total", "Flow data records in sent datagrams.", kC, {},
        D(s.records_sent));
  w.Add("flowexport_template_records_total", "Template records in sent datagrams.", kC, {},
        D(s.template_records_sent));
  w.Add("flowexport_records_not_exportable_total",
        "Flows the export version cannot carry (IPv6 with -v 5).", kC, {},
        D(s.records_not_exportable));
  w.Add("flowexport_datagrams_sent_total",
        "Export datagrams built and sent (each to every collector).", kC, {}, D(s.datagrams_sent));
  // Enrichment (--routes, --asn-db).
  w.Add("flowexport_enrichment_generation",
        "Enrichment data generation: 1 after the start-up load, +1 per successful reload.", kG,
        {}, D(s.enrichment_generation));
  w.Add("flowexport_enrichment_reloads_total", "Successful SIGHUP reloads of enrichment data.",
        kC, {}, D(s.enrichment_reloads));
  w.Add("flowexport_enrichment_reload_failures_total",
        "SIGHUP reloads that failed and kept the previous data.", kC, {},
        D(s.enrichment_reload_failures));
  w.Add("flowexport_enrichment_lookups_total", "Addresses of exported flows looked up.", kC, {},
        D(s.addresses_looked_up));
  w.Add("flowexport_enrichment_matches_total",
        "Looked-up addresses that got an AS number or a prefix length.", kC, {},
        D(s.addresses_matched));
  for (const ExportSnapshot::Collector& c : s.collectors) {
    const Labels l = {{"collector", c.name}};
    w.Add("flowexport_collector_datagrams_total", "Datagrams sent to the collector.", kC, l,
          D(c.datagrams));
    w.Add("flowexport_send_errors_total", "Failed datagram sends to the collector.", kC, l,
          D(c.send_errors));
  }
}

}  // namespace nf::metrics
