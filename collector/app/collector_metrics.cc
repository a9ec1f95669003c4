#include "collector/app/collector_metrics.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"

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
  std::lock_guard<std::mutex> lock(mu_);
  if (worker < slots_.size()) slots_[worker] = std::move(fresh);
}

CollectorStatsPublisher::Totals CollectorStatsPublisher::Sum() const {
  Totals t;
  absl::flat_hash_map<IpAddress, size_t> index;
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
  }
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
            "Missing sequence numbers: datagrams for v9, records for v5 and IPFIX.", kC, l,
            D(s.sequence_lost));
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
    }
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

}  // namespace nf::metrics
