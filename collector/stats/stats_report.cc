#include "collector/stats/stats_report.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace nf {

namespace {

std::string ExporterName(const ExporterId& id) {
  if (id.port == 0) return id.address.ToString();
  return id.address.is_v6() ? absl::StrCat("[", id.address.ToString(), "]:", id.port)
                            : absl::StrCat(id.address.ToString(), ":", id.port);
}


// The "sflow" object of a counters object; the totals' also says how many interfaces the
// counter table holds (`interfaces_tracked` >= 0).
void AppendSflow(const SflowStats& f, uint64_t datagrams, int64_t interfaces_tracked,
                 std::string& out) {
  absl::StrAppend(&out, ",\"sflow\":{\"datagrams\":", datagrams,
                  ",\"flow_samples\":", f.flow_samples, ",\"counter_samples\":", f.counter_samples,
                  ",\"drop_samples\":", f.drop_samples, ",\"other_samples\":", f.other_samples,
                  ",\"discarded_flow_samples\":", f.discarded_flow_samples,
                  ",\"records_skipped\":", f.records_skipped,
                  ",\"headers_unsupported\":", f.headers_unsupported,
                  ",\"headers_not_ip\":", f.headers_not_ip);
  absl::StrAppend(&out, ",\"datagrams_lost\":", f.datagrams_lost,
                  ",\"datagrams_reordered\":", f.datagrams_reordered,
                  ",\"datagram_sequence_resets\":", f.datagram_sequence_resets,
                  ",\"interfaces_refused\":", f.interfaces_refused,
                  ",\"streams_untracked\":", f.streams_untracked);
  if (interfaces_tracked >= 0) absl::StrAppend(&out, ",\"interfaces_tracked\":", interfaces_tracked);
  out.push_back('}');
}

// The per-exporter counters, shared by the "totals" object and each exporter entry.
void AppendCounters(const ExporterStats& s, std::string& out, int64_t interfaces_tracked = -1) {
  absl::StrAppend(&out, "\"datagrams\":", s.datagrams, ",\"datagram_bytes\":", s.datagram_bytes,
                  ",\"v5_datagrams\":", s.v5_datagrams, ",\"v9_datagrams\":", s.v9_datagrams,
                  ",\"ipfix_datagrams\":", s.ipfix_datagrams,
                  ",\"sflow_datagrams\":", s.sflow_datagrams, ",\"records\":", s.records,
                  ",\"options_records\":", s.options_records, ",\"packets\":", s.packets,
                  ",\"bytes\":", s.bytes, ",\"templates\":", s.templates,
                  ",\"templates_new\":", s.templates_new,
                  ",\"templates_redefined\":", s.templates_redefined,
                  ",\"templates_withdrawn\":", s.templates_withdrawn);
  absl::StrAppend(&out, ",\"sequence_lost\":", s.sequence_lost,
                  ",\"sequence_reordered\":", s.sequence_reordered,
                  ",\"sequence_resets\":", s.sequence_resets, ",\"restarts\":", s.restarts,
                  ",\"early_sets_buffered\":", s.early_sets_buffered,
                  ",\"early_records_decoded\":", s.early_records_decoded,
                  ",\"early_sets_aged_out\":", s.early_sets_aged_out,
                  ",\"early_sets_dropped\":", s.early_sets_dropped,
                  ",\"early_sets_pending\":", s.early_sets_pending,
                  ",\"sampling_interval\":", s.sampling_interval,
                  ",\"decode_errors\":", s.ErrorTotal(), ",\"errors\":{");
  bool first = true;
  for (size_t i = 0; i < kDecodeErrorCount; ++i) {
    if (!first) out.push_back(',');
    first = false;
    absl::StrAppend(&out, "\"", DecodeErrorName(static_cast<DecodeError>(i)), "\":", s.errors[i]);
  }
  out.push_back('}');
  AppendSflow(s.sflow, s.sflow_datagrams, interfaces_tracked, out);
}

void AppendCountersText(const ExporterStats& s, std::string& out) {
  absl::StrAppend(&out, "  datagrams ", s.datagrams, " (v5 ", s.v5_datagrams, ", v9 ",
                  s.v9_datagrams, ", ipfix ", s.ipfix_datagrams, ", sflow ", s.sflow_datagrams,
                  "), ", s.datagram_bytes,
                  " bytes\n  records ", s.records, " (packets ", s.packets, ", bytes ", s.bytes,
                  "), options records ", s.options_records, "\n  templates ", s.templates,
                  " received (", s.templates_new, " new, ", s.templates_redefined,
                  " redefined, ", s.templates_withdrawn, " withdrawn)\n");
  absl::StrAppend(&out, "  sequence: lost ", s.sequence_lost, ", reordered ",
                  s.sequence_reordered, ", resets ", s.sequence_resets, ", restarts ", s.restarts,
                  "\n  early data: sets buffered ", s.early_sets_buffered, ", records decoded ",
                  s.early_records_decoded, ", sets aged out ", s.early_sets_aged_out,
                  ", dropped ", s.early_sets_dropped, ", pending ", s.early_sets_pending, "\n");
  if (s.sampling_interval != 0) absl::StrAppend(&out, "  sampling 1:", s.sampling_interval, "\n");
  if (s.sflow_datagrams != 0) {
    const SflowStats& f = s.sflow;
    absl::StrAppend(&out, "  sflow samples: flow ", f.flow_samples, " (discarded packets ",
                    f.discarded_flow_samples, "), counter ", f.counter_samples, ", drop ",
                    f.drop_samples, ", other ", f.other_samples, "; records skipped ",
                    f.records_skipped, "; headers unsupported ", f.headers_unsupported,
                    ", not IP ", f.headers_not_ip, "; datagrams lost ", f.datagrams_lost,
                    ", reordered ", f.datagrams_reordered, ", resets ",
                    f.datagram_sequence_resets, "; interfaces refused ", f.interfaces_refused,
                    ", streams untracked ", f.streams_untracked, "\n");
  }
  absl::StrAppend(&out, "  decode errors ", s.ErrorTotal());
  for (size_t i = 0; i < kDecodeErrorCount; ++i) {
    if (s.errors[i] != 0) {
      absl::StrAppend(&out, " ", DecodeErrorName(static_cast<DecodeError>(i)), "=", s.errors[i]);
    }
  }
  out.push_back('\n');
}

void AddCounters(ExporterStats& t, const ExporterStats& s) {
  t.AddCounters(s);
  if (s.sampling_interval != 0) t.sampling_interval = s.sampling_interval;
}

void AddTemplateCounters(TemplateCache::Counters& t, const TemplateCache::Counters& s) {
  t.added += s.added;
  t.refreshed += s.refreshed;
  t.replaced += s.replaced;
  t.refused += s.refused;
  t.withdrawn += s.withdrawn;
  t.expired += s.expired;
}

}  // namespace

void DecoderSummary::Add(const Decoder& decoder) {
  DecoderSummary one;
  decoder.ForEachExporter([&](const ExporterId& id, const ExporterStats& s) {
    one.exporters.emplace_back(id, s);
  });
  one.totals = decoder.Totals();
  one.templates = decoder.templates().counters();
  one.templates_cached = decoder.templates().size();
  one.exporters_refused = decoder.exporters_refused();
  one.sflow_interfaces.reserve(decoder.sflow_interfaces());
  decoder.ForEachSflowInterface([&](const SflowInterfaceKey& key, const SflowInterfaceCounters&) {
    one.sflow_interfaces.insert(key);
  });
  Merge(one);
}

void DecoderSummary::Merge(const DecoderSummary& other) {
  // Indexed, not searched: a status line every second over thousands of exporters (and as
  // many per worker) must stay linear.
  absl::flat_hash_map<ExporterId, size_t> index;
  index.reserve(exporters.size() + other.exporters.size());
  for (size_t i = 0; i < exporters.size(); ++i) index.emplace(exporters[i].first, i);
  for (const auto& [id, s] : other.exporters) {
    const auto [it, added] = index.try_emplace(id, exporters.size());
    if (added) {
      exporters.emplace_back(id, s);
    } else {
      AddCounters(exporters[it->second].second, s);
    }
  }
  AddCounters(totals, other.totals);
  AddTemplateCounters(templates, other.templates);
  templates_cached = std::max(templates_cached, other.templates_cached);
  exporters_refused += other.exporters_refused;
  // Workers each keep their own table; an interface two of them saw counts once.
  sflow_interfaces.insert(other.sflow_interfaces.begin(), other.sflow_interfaces.end());
}

std::string StatsText(const Decoder& decoder, const InputStats& input, const OutputStats& output) {
  DecoderSummary summary;
  summary.Add(decoder);
  return StatsText(summary, input, output);
}

std::string StatsJson(const Decoder& decoder, const InputStats& input, const OutputStats& output) {
  DecoderSummary summary;
  summary.Add(decoder);
  return StatsJson(summary, input, output);
}

std::string StatsText(const DecoderSummary& decoder, const InputStats& input,
                      const OutputStats& output) {
  std::string out = "flowcollect statistics\n";
  const ReceiveStats& r = input.receive;
  absl::StrAppend(&out, "receive: datagrams ", r.datagrams, ", bytes ", r.bytes,
                  ", kernel drops ",
                  r.kernel_drops_available ? absl::StrCat(r.kernel_drops) : "n/a",
                  ", denied ", r.denied, ", errors ",
                  r.receive_errors, ", truncated ", r.truncated, "\n");
  if (input.tcp_listening) {
    const TcpReceiveStats& t = input.tcp;
    absl::StrAppend(&out, "tcp: messages ", t.messages, ", bytes ", t.bytes, ", connections ",
                    t.accepted, " (", t.active, " open), refused (limit) ", t.refused_limit,
                    ", denied ", t.denied, ", closed: peer ", t.closed_peer, ", idle ",
                    t.closed_idle, ", slow ", t.closed_slow, ", framing errors ",
                    t.framing_errors, "; incomplete messages dropped ", t.messages_dropped,
                    ", errors ", t.errors, "\n");
  }
  if (input.file_packets != 0) {
    absl::StrAppend(&out, "files: packets ", input.file_packets, ", not udp ", input.file_not_udp,
                    ", other ports ", input.file_port_filtered, ", truncated ",
                    input.file_truncated, ", out of --from/--to ", input.file_out_of_range,
                    ", store template datagrams ", input.store_templates, "\n");
  }
  const auto& tc = decoder.templates;
  absl::StrAppend(&out, "templates: cached ", decoder.templates_cached, ", added ", tc.added,
                  ", replaced ", tc.replaced, ", refused ", tc.refused, ", withdrawn ",
                  tc.withdrawn, ", expired ", tc.expired, "\n");
  absl::StrAppend(&out, "output: rows ", output.rows, ", files ", output.files,
                  ", aggregate groups ", output.aggregate_groups, ", aggregate overflow ",
                  output.aggregate_overflow, ", files failed ", output.files_failed,
                  ", rows lost ", output.rows_lost, ", filtered out ", output.records_filtered,
                  output.error.empty() ? "" : ", error: ",
                  output.error, "\n");
  if (decoder.exporters_refused != 0) {
    absl::StrAppend(&out, "exporters refused (limit): ", decoder.exporters_refused, "\n");
  }
  for (const auto& [id, s] : decoder.exporters) {
    absl::StrAppend(&out, "exporter ", ExporterName(id), "\n");
    AppendCountersText(s, out);
  }
  out += "total\n";
  AppendCountersText(decoder.totals, out);
  return out;
}

std::string StatsJson(const DecoderSummary& decoder, const InputStats& input,
                      const OutputStats& output) {
  std::string out = "{\"version\":1,\"receive\":{";
  const ReceiveStats& r = input.receive;
  absl::StrAppend(&out, "\"datagrams\":", r.datagrams, ",\"bytes\":", r.bytes,
                  ",\"kernel_drops\":",
                  r.kernel_drops_available ? absl::StrCat(r.kernel_drops) : "null",
                  ",\"denied\":", r.denied,
                  ",\"receive_errors\":", r.receive_errors, ",\"truncated\":", r.truncated,
                  ",\"file_packets\":", input.file_packets, ",\"file_not_udp\":",
                  input.file_not_udp, ",\"file_port_filtered\":", input.file_port_filtered,
                  ",\"file_truncated\":", input.file_truncated, ",\"file_out_of_range\":",
                  input.file_out_of_range, ",\"store_templates\":", input.store_templates,
                  "},\"templates\":{");
  const auto& tc = decoder.templates;
  absl::StrAppend(&out, "\"cached\":", decoder.templates_cached, ",\"added\":", tc.added,
                  ",\"refreshed\":", tc.refreshed, ",\"replaced\":", tc.replaced,
                  ",\"refused\":", tc.refused, ",\"withdrawn\":", tc.withdrawn,
                  ",\"expired\":", tc.expired, "},\"output\":{");
  absl::StrAppend(&out, "\"rows\":", output.rows, ",\"files\":", output.files,
                  ",\"aggregate_groups\":", output.aggregate_groups,
                  ",\"aggregate_overflow\":", output.aggregate_overflow,
                  ",\"files_failed\":", output.files_failed, ",\"rows_lost\":", output.rows_lost,
                  ",\"records_filtered\":", output.records_filtered, ",\"error\":");
  AppendJsonString(output.error, out);
  absl::StrAppend(&out, "},\"exporters_refused\":", decoder.exporters_refused, ",");
  if (input.tcp_listening) {
    const TcpReceiveStats& t = input.tcp;
    absl::StrAppend(&out, "\"tcp\":{\"accepted\":", t.accepted, ",\"active\":", t.active,
                    ",\"refused_limit\":", t.refused_limit, ",\"denied\":", t.denied,
                    ",\"closed_peer\":", t.closed_peer, ",\"closed_idle\":", t.closed_idle,
                    ",\"closed_slow\":", t.closed_slow, ",\"framing_errors\":", t.framing_errors,
                    ",\"messages\":", t.messages, ",\"bytes\":", t.bytes,
                    ",\"messages_dropped\":", t.messages_dropped, ",\"errors\":", t.errors, "},");
  }
  out += "\"totals\":{";
  AppendCounters(decoder.totals, out, static_cast<int64_t>(decoder.sflow_interfaces.size()));
  out += "},\"exporters\":[";
  bool first = true;
  for (const auto& [id, s] : decoder.exporters) {
    if (!first) out.push_back(',');
    first = false;
    out += "{\"exporter\":";
    AppendJsonString(id.address.ToString(), out);
    absl::StrAppend(&out, ",\"port\":", id.port, ",");
    AppendCounters(s, out);
    out.push_back('}');
  }
  out += "]";
  if (!output.clickhouse_json.empty()) absl::StrAppend(&out, ",\"clickhouse\":", output.clickhouse_json);
  if (!output.enrichment_json.empty()) {
    absl::StrAppend(&out, ",\"enrichment\":", output.enrichment_json);
  }
  if (!output.store_json.empty()) absl::StrAppend(&out, ",\"store\":", output.store_json);
  if (!output.forward_json.empty()) absl::StrAppend(&out, ",\"forward\":", output.forward_json);
  if (!output.ha_json.empty()) absl::StrAppend(&out, ",\"ha\":", output.ha_json);
  out += "}\n";
  return out;
}

}  // namespace nf
