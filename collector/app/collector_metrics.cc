#include "collector/app/collector_metrics.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace nf::metrics {
namespace {

void AddStats(ExporterStats& t, const ExporterStats& s) {
  t.AddCounters(s);
  t.sampling_interval = std::max(t.sampling_interval, s.sampling_interval);
}

void AddReceive(ReceiveStats& t, const ReceiveStats& s) {
  t.datagrams += s.datagrams;
  t.bytes += s.bytes;
  t.kernel_drops += s.kernel_drops;
  t.denied += s.denied;
  t.receive_errors += s.receive_errors;
  t.truncated += s.truncated;
}

double D(uint64_t v) { return static_cast<double>(v); }

// flowcollect_sflow_*: what an exporter's sFlow samples became (only for sFlow exporters).
void AddSflowExporterMetrics(SampleWriter& w, const Labels& l, const ExporterStats& s) {
  constexpr MetricType kC = MetricType::kCounter;
  const SflowStats& f = s.sflow;
  w.Add("flowcollect_sflow_datagrams_total", "sFlow v5 datagrams decoded.", kC, l,
        D(s.sflow_datagrams));
  const char* samples_help =
      "sFlow samples by type: flow (one record each), counter (interface counters), drop "
      "(drop notifications, skipped), other (unknown format or enterprise, skipped).";
  for (const auto& [type, n] :
       {std::pair<const char*, uint64_t>{"flow", f.flow_samples}, {"counter", f.counter_samples},
        {"drop", f.drop_samples}, {"other", f.other_samples}}) {
    Labels lt = l;
    lt.emplace_back("type", type);
    w.Add("flowcollect_sflow_samples_total", samples_help, kC, lt, D(n));
  }
  w.Add("flowcollect_sflow_discarded_flow_samples_total",
        "sFlow flow samples of packets the agent discarded (output interface format 1).", kC, l,
        D(f.discarded_flow_samples));
  w.Add("flowcollect_sflow_records_skipped_total",
        "sFlow flow/counter records of formats or enterprises not decoded.", kC, l,
        D(f.records_skipped));
  const char* headers_help =
      "Sampled packet headers without addresses: a header protocol other than "
      "Ethernet/IPv4/IPv6 (unsupported), or no IP packet in it (not_ip).";
  for (const auto& [reason, n] : {std::pair<const char*, uint64_t>{"unsupported",
                                                                   f.headers_unsupported},
                                  {"not_ip", f.headers_not_ip}}) {
    Labels lr = l;
    lr.emplace_back("reason", reason);
    w.Add("flowcollect_sflow_headers_without_addresses_total", headers_help, kC, lr, D(n));
  }
  w.Add("flowcollect_sflow_datagrams_lost_total",
        "Gaps in sFlow datagram sequence numbers (per agent and sub-agent).", kC, l,
        D(f.datagrams_lost));
  w.Add("flowcollect_sflow_datagrams_reordered_total",
        "sFlow datagram sequence numbers that arrived late.", kC, l, D(f.datagrams_reordered));
  w.Add("flowcollect_sflow_interfaces_refused_total",
        "sFlow interface counter records not kept: the interface table was full.", kC, l,
        D(f.interfaces_refused));
}

// Interfaces exported as labelled series: about 30 series each, so a scrape stays near 100k
// series at most however many interfaces the decoder's table holds (up to 65,536).
constexpr size_t kMaxSflowInterfaceSeries = 4096;

// Per-interface gauges from sFlow counter samples, for the first kMaxSflowInterfaceSeries
// interfaces in (agent, ifIndex) order; the rest are counted, and stay in --stats-json.
void AddSflowInterfaceMetrics(
    SampleWriter& w,
    std::vector<std::pair<SflowInterfaceKey, SflowInterfaceCounters>> interfaces) {
  constexpr MetricType kG = MetricType::kGauge;
  w.Add("flowcollect_sflow_interfaces", "Agent interfaces whose sFlow counters are held.", kG,
        {}, D(interfaces.size()));
  const size_t exported = std::min(interfaces.size(), kMaxSflowInterfaceSeries);
  w.Add("flowcollect_sflow_interfaces_not_exported",
        "Interfaces past the per-scrape bound whose counters get no series here.", kG, {},
        D(interfaces.size() - exported));
  std::partial_sort(interfaces.begin(), interfaces.begin() + static_cast<ptrdiff_t>(exported),
                    interfaces.end(), [](const auto& a, const auto& b) {
                      return SflowInterfaceKeyLess(a.first, b.first);
                    });
  interfaces.resize(exported);
  struct Field {
    const char* name;
    const char* help;
    double (*get)(const SflowInterfaceCounters&);
  };
  static constexpr Field kFields[] = {
      {"flowcollect_sflow_if_in_octets", "ifInOctets (HC) as the agent last reported it.",
       [](const SflowInterfaceCounters& c) { return D(c.in_octets); }},
      {"flowcollect_sflow_if_in_ucast_packets", "ifInUcastPkts as the agent last reported it.",
       [](const SflowInterfaceCounters& c) { return D(c.in_ucast_packets); }},
      {"flowcollect_sflow_if_in_multicast_packets",
       "ifInMulticastPkts as the agent last reported it.",
       [](const SflowInterfaceCounters& c) { return D(c.in_multicast_packets); }},
      {"flowcollect_sflow_if_in_broadcast_packets",
       "ifInBroadcastPkts as the agent last reported it.",
       [](const SflowInterfaceCounters& c) { return D(c.in_broadcast_packets); }},
      {"flowcollect_sflow_if_in_discards", "ifInDiscards as the agent last reported it.",
       [](const SflowInterfaceCounters& c) { return D(c.in_discards); }},
      {"flowcollect_sflow_if_in_errors", "ifInErrors as the agent last reported it.",
       [](const SflowInterfaceCounters& c) { return D(c.in_errors); }},
      {"flowcollect_sflow_if_in_unknown_protos", "ifInUnknownProtos as the agent last reported it.",
       [](const SflowInterfaceCounters& c) { return D(c.in_unknown_protos); }},
      {"flowcollect_sflow_if_out_octets", "ifOutOctets (HC) as the agent last reported it.",
       [](const SflowInterfaceCounters& c) { return D(c.out_octets); }},
      {"flowcollect_sflow_if_out_ucast_packets", "ifOutUcastPkts as the agent last reported it.",
       [](const SflowInterfaceCounters& c) { return D(c.out_ucast_packets); }},
      {"flowcollect_sflow_if_out_multicast_packets",
       "ifOutMulticastPkts as the agent last reported it.",
       [](const SflowInterfaceCounters& c) { return D(c.out_multicast_packets); }},
      {"flowcollect_sflow_if_out_broadcast_packets",
       "ifOutBroadcastPkts as the agent last reported it.",
       [](const SflowInterfaceCounters& c) { return D(c.out_broadcast_packets); }},
      {"flowcollect_sflow_if_out_discards", "ifOutDiscards as the agent last reported it.",
       [](const SflowInterfaceCounters& c) { return D(c.out_discards); }},
      {"flowcollect_sflow_if_out_errors", "ifOutErrors as the agent last reported it.",
       [](const SflowInterfaceCounters& c) { return D(c.out_errors); }},
      {"flowcollect_sflow_if_speed_bps", "ifSpeed in bits per second.",
       [](const SflowInterfaceCounters& c) { return D(c.if_speed); }},
      {"flowcollect_sflow_if_admin_up", "1 when ifAdminStatus is up (ifStatus bit 0).",
       [](const SflowInterfaceCounters& c) { return D(c.if_status & 1u); }},
      {"flowcollect_sflow_if_oper_up", "1 when ifOperStatus is up (ifStatus bit 1).",
       [](const SflowInterfaceCounters& c) { return D((c.if_status >> 1) & 1u); }},
  };
  for (const auto& [key, c] : interfaces) {
    const Labels l = {{"agent", key.agent.ToString()}, {"ifindex", absl::StrCat(key.if_index)}};
    w.Add("flowcollect_sflow_if_last_update_seconds",
          "Receive time (Unix seconds) of the interface's last sFlow counter sample.", kG, l,
          static_cast<double>(c.updated_us) / 1e6);
    if (c.has_generic) {
      for (const Field& f : kFields) w.Add(f.name, f.help, kG, l, f.get(c));
    }
    if (c.has_ethernet) {
      for (size_t i = 0; i < kSflowDot3Counters; ++i) {
        Labels le = l;
        le.emplace_back("counter", SflowDot3Name(i));
        w.Add("flowcollect_sflow_if_dot3",
              "Ethernet dot3Stats* counters (label counter) as the agent last reported them.", kG,
              le, D(c.dot3[i]));
      }
    }
  }
}

}  // namespace

CollectorStatsPublisher::CollectorStatsPublisher(size_t workers) : slots_(std::max<size_t>(1, workers)) {}

void CollectorStatsPublisher::Publish(size_t worker, const Decoder& decoder,
                                      const ReceiveStats* receive) {
  // Copy outside the lock, swap in under it: the scrape thread never waits for the copy.
  Slot fresh;
  decoder.ForEachExporter([&](const ExporterId& id, const ExporterStats& s) {
    fresh.exporters.emplace_back(id, s);
    fresh.templates_held.push_back(decoder.templates().CountFor(id.address, id.port));
  });
  if (receive != nullptr) fresh.receive = *receive;
  fresh.exporters_refused = decoder.exporters_refused();
  fresh.sflow_interfaces.reserve(decoder.sflow_interfaces());
  decoder.ForEachSflowInterface(
      [&](const SflowInterfaceKey& key, const SflowInterfaceCounters& c) {
        fresh.sflow_interfaces.emplace_back(key, c);
      });
  std::lock_guard<std::mutex> lock(mu_);
  if (worker < slots_.size()) slots_[worker] = std::move(fresh);
}

void CollectorStatsPublisher::PublishTcp(const TcpReceiveStats& tcp) {
  std::lock_guard<std::mutex> lock(mu_);
  has_tcp_ = true;
  tcp_ = tcp;
}

CollectorStatsPublisher::Totals CollectorStatsPublisher::Sum() const {
  Totals t;
  absl::flat_hash_map<IpAddress, size_t> index;
  absl::flat_hash_map<SflowInterfaceKey, size_t> sflow_index;
  std::lock_guard<std::mutex> lock(mu_);
  for (const Slot& slot : slots_) {
    for (size_t i = 0; i < slot.exporters.size(); ++i) {
      const auto& [id, stats] = slot.exporters[i];
      auto [it, inserted] = index.try_emplace(id.address, t.exporters.size());
      if (inserted) {
        t.exporters.emplace_back(id.address, ExporterStats{});
        t.templates_held.push_back(0);
      }
      AddStats(t.exporters[it->second].second, stats);
      // Every worker holds the shared templates: the most any worker holds, not the sum.
      // Within one worker, an address seen from several ports holds each port's set.
      t.templates_held[it->second] = std::max(t.templates_held[it->second], slot.templates_held[i]);
    }
    AddReceive(t.receive, slot.receive);
    t.exporters_refused += slot.exporters_refused;
    for (const auto& [key, c] : slot.sflow_interfaces) {
      auto [it, inserted] = sflow_index.try_emplace(key, t.sflow_interfaces.size());
      if (inserted) {
        t.sflow_interfaces.emplace_back(key, c);
      } else if (c.updated_us > t.sflow_interfaces[it->second].second.updated_us) {
        // Counters are the agent's absolute values: the newest report wins, never a sum.
        t.sflow_interfaces[it->second].second = c;
      }
    }
  }
  std::sort(t.sflow_interfaces.begin(), t.sflow_interfaces.end(),
            [](const auto& a, const auto& b) { return SflowInterfaceKeyLess(a.first, b.first); });
  return t;
}

void CollectorStatsPublisher::Register(Registry& registry) const {
  registry.AddCallback([this](SampleWriter& w) {
    Totals t = Sum();
    constexpr MetricType kC = MetricType::kCounter;
    constexpr MetricType kG = MetricType::kGauge;
    for (size_t i = 0; i < t.exporters.size(); ++i) {
      const ExporterStats& s = t.exporters[i].second;
      Labels l = {{"exporter", t.exporters[i].first.ToString()}};
      w.Add("flowcollect_datagrams_total", "Export datagrams decoded, per exporter.", kC, l,
            D(s.datagrams));
      w.Add("flowcollect_datagram_bytes_total", "UDP payload bytes of export datagrams.", kC, l,
            D(s.datagram_bytes));
      w.Add("flowcollect_records_total", "Flow records decoded and delivered to the sinks.", kC,
            l, D(s.records));
      w.Add("flowcollect_options_records_total", "Options data records consumed.", kC, l,
            D(s.options_records));
      w.Add("flowcollect_flow_packets_total", "Sum of the packets field of decoded records.", kC,
            l, D(s.packets));
      w.Add("flowcollect_flow_bytes_total", "Sum of the bytes field of decoded records.", kC, l,
            D(s.bytes));
      w.Add("flowcollect_template_records_total",
            "Template records received (including refreshes).", kC, l, D(s.templates));
      w.Add("flowcollect_templates_redefined_total", "Templates whose layout changed.", kC, l,
            D(s.templates_redefined));
      w.Add("flowcollect_templates_withdrawn_total", "IPFIX template withdrawals.", kC, l,
            D(s.templates_withdrawn));
      w.Add("flowcollect_templates", "Templates currently held for the exporter.", kG, l,
            D(t.templates_held[i]));
      w.Add("flowcollect_sequence_lost_total",
            "Missing sequence numbers: datagrams for v9, records for v5, IPFIX and sFlow (flow "
            "samples).",
            kC, l, D(s.sequence_lost));
      w.Add("flowcollect_sequence_reordered_total", "Late (reordered) sequence numbers.", kC, l,
            D(s.sequence_reordered));
      w.Add("flowcollect_sequence_resets_total", "Sequence jumps too large to be loss.", kC, l,
            D(s.sequence_resets));
      w.Add("flowcollect_exporter_restarts_total", "Exporter restarts (sysUptime went back).",
            kC, l, D(s.restarts));
      w.Add("flowcollect_early_sets_buffered_total",
            "Data sets kept because their template had not arrived yet.", kC, l,
            D(s.early_sets_buffered));
      w.Add("flowcollect_early_records_decoded_total",
            "Records decoded from early data once the template arrived.", kC, l,
            D(s.early_records_decoded));
      w.Add("flowcollect_early_sets_aged_out_total",
            "Early data sets dropped because no template came in time.", kC, l,
            D(s.early_sets_aged_out));
      w.Add("flowcollect_early_sets_dropped_total",
            "Early data sets dropped because the early buffer was full.", kC, l,
            D(s.early_sets_dropped));
      w.Add("flowcollect_early_sets_pending", "Early data sets waiting for their template.", kG,
            l, D(s.early_sets_pending));
      w.Add("flowcollect_sampling_interval", "Last sampling interval (1 in N) the exporter announced; 0 = none.",
            kG, l, D(s.sampling_interval));
      for (size_t e = 0; e < kDecodeErrorCount; ++e) {
        if (s.errors[e] == 0) continue;  // keep the series count bounded by what happened
        Labels le = l;
        le.emplace_back("reason", DecodeErrorName(static_cast<DecodeError>(e)));
        w.Add("flowcollect_decode_errors_total",
              "Malformed or refused input, skipped and counted, by reason.", kC, le,
              D(s.errors[e]));
      }
      if (s.sflow_datagrams != 0) AddSflowExporterMetrics(w, l, s);
    }
    AddSflowInterfaceMetrics(w, t.sflow_interfaces);
    w.Add("flowcollect_socket_datagrams_total", "Datagrams read from the UDP sockets.", kC, {},
          D(t.receive.datagrams));
    w.Add("flowcollect_socket_received_bytes_total", "Bytes read from the UDP sockets.", kC, {},
          D(t.receive.bytes));
    // Left out where the kernel keeps no per-socket drop counter: a missing series says
    // "unknown", a zero would claim no loss.
    if (t.receive.kernel_drops_available) {
      w.Add("flowcollect_socket_drops_total",
            "Datagrams the kernel dropped because a socket buffer was full (SO_MEMINFO).", kC,
            {}, D(t.receive.kernel_drops));
    }
    w.Add("flowcollect_denied_datagrams_total", "Datagrams from sources outside --allow.", kC,
          {}, D(t.receive.denied));
    w.Add("flowcollect_receive_errors_total", "Socket receive errors.", kC, {},
          D(t.receive.receive_errors + t.receive.truncated));
    w.Add("flowcollect_exporters_refused_total",
          "Datagrams dropped because the exporter limit was reached.", kC, {},
          D(t.exporters_refused));
    TcpReceiveStats tcp;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!has_tcp_) return;
      tcp = tcp_;
    }
    w.Add("flowcollect_tcp_connections_accepted_total", "IPFIX-over-TCP connections accepted.",
          kC, {}, D(tcp.accepted));
    w.Add("flowcollect_tcp_connections", "IPFIX-over-TCP connections open.", kG, {},
          D(tcp.active));
    const char* closed_help = "IPFIX-over-TCP connections closed or refused, by reason.";
    for (const auto& [reason, n] :
         {std::pair<const char*, uint64_t>{"limit", tcp.refused_limit}, {"denied", tcp.denied},
          {"peer", tcp.closed_peer}, {"idle", tcp.closed_idle}, {"slow", tcp.closed_slow},
          {"framing", tcp.framing_errors}, {"error", tcp.errors}}) {
      w.Add("flowcollect_tcp_connections_closed_total", closed_help, kC, {{"reason", reason}},
            D(n));
    }
    w.Add("flowcollect_tcp_messages_total", "IPFIX messages framed from TCP connections.", kC, {},
          D(tcp.messages));
    w.Add("flowcollect_tcp_received_bytes_total", "Bytes of those messages.", kC, {},
          D(tcp.bytes));
    w.Add("flowcollect_tcp_messages_dropped_total",
          "Incomplete IPFIX messages discarded when their connection closed.", kC, {},
          D(tcp.messages_dropped));
  });
}

void RegisterClickHouseMetrics(Registry& registry, const clickhouse::ClickHouseWriter& writer) {
  registry.AddCallback([&writer](SampleWriter& w) {
    const clickhouse::ClickHouseCounters& c = writer.counters();
    constexpr MetricType kC = MetricType::kCounter;
    constexpr MetricType kG = MetricType::kGauge;
    auto v = [](const std::atomic<uint64_t>& a) { return D(a.load(std::memory_order_relaxed)); };
    w.Add("flowcollect_clickhouse_records_queued_total",
          "Records handed to the ClickHouse sender in batches.", kC, {}, v(c.records_queued));
    w.Add("flowcollect_clickhouse_records_inserted_total",
          "Records ClickHouse acknowledged.", kC, {}, v(c.records_inserted));
    w.Add("flowcollect_clickhouse_batches_inserted_total", "INSERTs ClickHouse acknowledged.",
          kC, {}, v(c.batches_inserted));
    w.Add("flowcollect_clickhouse_insert_failures_total",
          "INSERT attempts that failed (down, refused, no answer).", kC, {},
          v(c.insert_failures));
    w.Add("flowcollect_clickhouse_retries_total", "Re-send attempts of spooled batches.", kC, {},
          v(c.retries));
    w.Add("flowcollect_clickhouse_batches_spooled_total", "Batches written to the spool.", kC,
          {}, v(c.batches_spooled));
    w.Add("flowcollect_clickhouse_batches_found_present_total",
          "Spooled batches the re-send check found already inserted (not sent again).", kC, {},
          v(c.batches_found_present));
    w.Add("flowcollect_clickhouse_batches_partial_total",
          "Spooled batches found partially inserted (not re-sent; should stay 0).", kC, {},
          v(c.batches_partial));
    w.Add("flowcollect_clickhouse_records_dropped_total", "Records the sink had to drop.", kC,
          {{"reason", "spool_full"}}, v(c.records_dropped_spool_full));
    w.Add("flowcollect_clickhouse_records_dropped_total", "Records the sink had to drop.", kC,
          {{"reason", "queue_full"}}, v(c.records_dropped_queue_full));
    w.Add("flowcollect_clickhouse_records_dropped_total", "Records the sink had to drop.", kC,
          {{"reason", "other"}}, v(c.records_dropped_other));
    w.Add("flowcollect_clickhouse_spool_bytes", "Bytes in the spool.", kG, {}, v(c.spool_bytes));
    w.Add("flowcollect_clickhouse_spool_batches", "Batches in the spool.", kG, {},
          v(c.spool_batches));
    w.Add("flowcollect_clickhouse_spool_records", "Records in the spool.", kG, {},
          v(c.spool_records));
    w.Add("flowcollect_clickhouse_spool_max_bytes", "The spool bound (--spool-max-bytes).", kG,
          {}, D(writer.options().spool_max_bytes));
    w.Add("flowcollect_clickhouse_up", "1 when the last ClickHouse request succeeded.", kG, {},
          v(c.up));
  });
}

void RegisterEnrichmentMetrics(Registry& registry, const Enrichment& enrichment) {
  registry.AddCallback([&enrichment](SampleWriter& w) {
    const EnrichmentStats e = enrichment.stats();
    w.Add("flowcollect_enrichment_reloads_total",
          "Successful reloads of the enrichment sources (SIGHUP).", MetricType::kCounter, {},
          D(e.reloads));
    w.Add("flowcollect_enrichment_reload_failures_total",
          "Reloads that failed and kept the previous data.", MetricType::kCounter, {},
          D(e.reload_failures));
    w.Add("flowcollect_enrichment_lookup_errors_total",
          "MaxMind lookups that met a corrupt database (answered as not found).",
          MetricType::kCounter, {}, D(e.lookup_errors));
    w.Add("flowcollect_enrichment_generation",
          "Enrichment data in use: 1 after the first load, +1 per successful reload.",
          MetricType::kGauge, {}, D(e.generation));
  });
}

void RegisterStoreMetrics(Registry& registry, const StoreWriter& store) {
  registry.AddCallback([&store](SampleWriter& w) {
    const StoreCounters& c = store.counters();
    auto counter = [&w](const char* name, const char* help, const std::atomic<uint64_t>& v) {
      w.Add(name, help, MetricType::kCounter, {}, D(v.load(std::memory_order_relaxed)));
    };
    counter("flowcollect_store_datagrams_total", "Received datagrams written to the store.",
            c.datagrams);
    counter("flowcollect_store_bytes_total", "Bytes written to store files (after compression).",
            c.bytes);
    counter("flowcollect_store_files_total", "Store files completed.", c.files);
    counter("flowcollect_store_datagrams_lost_total",
            "Datagrams not stored because of a write error (a full disk).", c.datagrams_lost);
    counter("flowcollect_store_write_errors_total",
            "Store write failures (open, write, fsync, rename), once per file and cause.",
            c.write_errors);
    counter("flowcollect_store_files_removed_total", "Store files removed by --store-retention.",
            c.files_removed);
  });
}

void RegisterForwardMetrics(Registry& registry, const DatagramForwarder& forwarder) {
  registry.AddCallback([&forwarder](SampleWriter& w) {
    const ForwardStats stats = forwarder.Stats();
    constexpr MetricType kC = MetricType::kCounter;
    for (const ForwardDestinationStats& d : stats.destinations) {
      const Labels l = {{"destination", d.name}};
      w.Add("flowcollect_forward_datagrams_total", "Datagrams sent on to the --forward destination.",
            kC, l, D(d.datagrams));
      w.Add("flowcollect_forward_bytes_total",
            "UDP payload bytes sent on to the --forward destination.", kC, l, D(d.bytes));
      w.Add("flowcollect_forward_send_errors_total",
            "Copies the kernel refused to send (no route, message too long, no buffer space).", kC,
            l, D(d.send_errors));
      for (size_t i = 0; i < kForwardDropCount; ++i) {
        const Labels dl = {{"destination", d.name},
                           {"reason", std::string(ForwardDropName(static_cast<ForwardDrop>(i)))}};
        w.Add("flowcollect_forward_drops_total",
              "Copies not sent to the --forward destination, by reason.", kC, dl, D(d.drops[i]));
      }
    }
  });
}

void RegisterHaMetrics(Registry& registry, const HaNode& node) {
  registry.AddCallback([&node](SampleWriter& w) {
    const HaStats s = node.stats();
    constexpr MetricType kC = MetricType::kCounter;
    constexpr MetricType kG = MetricType::kGauge;
    w.Add("flowcollect_ha_active", "1 while this node writes (its --ha-state says active).", kG,
          {}, s.active ? 1 : 0);
    w.Add("flowcollect_ha_takeovers_total", "Times this node became active.", kC, {},
          D(s.became_active));
    w.Add("flowcollect_ha_confirmations_sent_total",
          "Datagrams confirmed to the peer after their rows reached the kernel.", kC, {},
          D(s.confirmations_sent));
    w.Add("flowcollect_ha_confirmations_received_total", "Confirmations received from the peer.",
          kC, {}, D(s.confirmations_received));
    w.Add("flowcollect_ha_confirmations_while_active_total",
          "Confirmations received while this node was active too (both writing).", kC, {},
          D(s.confirmations_while_active));
    w.Add("flowcollect_ha_send_errors_total", "Confirmation messages the kernel refused.", kC, {},
          D(s.send_errors));
    w.Add("flowcollect_ha_spool_datagrams", "Datagrams held by the standby's spool.", kG, {},
          D(s.spool_datagrams));
    w.Add("flowcollect_ha_spool_unconfirmed", "Held datagrams the peer has not confirmed.", kG, {},
          D(s.spool_unconfirmed));
    w.Add("flowcollect_ha_spool_bytes", "Bytes held by the standby's spool.", kG, {},
          D(s.spool_bytes));
    w.Add("flowcollect_ha_spool_unconfirmed_dropped_total",
          "Unconfirmed datagrams the spool let go, by reason.", kC, {{"reason", "evicted"}},
          D(s.spool.evicted_unconfirmed));
    w.Add("flowcollect_ha_spool_unconfirmed_dropped_total",
          "Unconfirmed datagrams the spool let go, by reason.", kC, {{"reason", "expired"}},
          D(s.spool.expired_unconfirmed));
    w.Add("flowcollect_ha_replayed_total", "Unconfirmed datagrams written at takeovers.", kC, {},
          D(s.spool.replayed));
  });
}

}  // namespace nf::metrics
