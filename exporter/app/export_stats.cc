#include "exporter/app/export_stats.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/progress.h"

namespace nf {
namespace {

// Appends `"key": N, ...` for each pair.
void AppendPairs(const std::vector<std::pair<std::string, uint64_t>>& pairs, std::string& j) {
  bool first = true;
  for (const auto& [name, n] : pairs) {
    absl::StrAppend(&j, first ? "" : ", ", "\"", name, "\": ", n);
    first = false;
  }
}

}  // namespace

std::string FormatStatsJson(const ExportSnapshot& s) {
  std::string j = "{\n";
  absl::StrAppend(&j, "  \"packets_seen\": ", s.packets_seen, ",\n");
  absl::StrAppend(&j, "  \"packets_parsed\": ", s.packets_parsed, ",\n");
  j += "  \"packets_dropped\": {";
  AppendPairs(s.packets_dropped, j);
  j += "},\n";
  absl::StrAppend(&j, "  \"packets_sampled_out\": ", s.packets_sampled_out, ",\n");
  absl::StrAppend(&j, "  \"packets_fragment\": ", s.packets_fragment, ",\n");
  absl::StrAppend(&j, "  \"packets_non_first_fragment\": ", s.packets_non_first_fragment, ",\n");
  absl::StrAppend(&j, "  \"packets_l4_truncated\": ", s.packets_l4_truncated, ",\n");
  absl::StrAppend(&j, "  \"pcap_dropped\": ", s.pcap_dropped, ",\n");
  absl::StrAppend(&j, "  \"pcap_if_dropped\": ", s.pcap_if_dropped, ",\n");
  absl::StrAppend(&j, "  \"capture_workers\": ", s.capture_workers, ",\n");
  absl::StrAppend(&j, "  \"flows_created\": ", s.flows_created, ",\n");
  j += "  \"flows_expired\": {";
  AppendPairs(s.flows_expired, j);
  j += "},\n";
  absl::StrAppend(&j, "  \"flows_active\": ", s.flows_active, ",\n");
  absl::StrAppend(&j, "  \"packets_ring_full_dropped\": ", s.packets_ring_full_dropped, ",\n");
  absl::StrAppend(&j, "  \"packets_exported\": ", s.packets_exported, ",\n");
  absl::StrAppend(&j, "  \"bytes_exported\": ", s.bytes_exported, ",\n");
  absl::StrAppend(&j, "  \"records_sent\": ", s.records_sent, ",\n");
  absl::StrAppend(&j, "  \"template_records_sent\": ", s.template_records_sent, ",\n");
  absl::StrAppend(&j, "  \"records_not_exportable\": ", s.records_not_exportable, ",\n");
  absl::StrAppend(&j, "  \"datagrams_sent\": ", s.datagrams_sent, ",\n");
  absl::StrAppend(&j, "  \"send_errors\": ", s.send_errors, ",\n");
  absl::StrAppend(&j, "  \"enrichment\": {\"generation\": ", s.enrichment_generation,
                  ", \"reloads\": ", s.enrichment_reloads, ", \"reload_failures\": ",
                  s.enrichment_reload_failures, ", \"addresses_looked_up\": ",
                  s.addresses_looked_up, ", \"addresses_matched\": ", s.addresses_matched,
                  "},\n");
  j += "  \"collectors\": [";
  bool first = true;
  for (const ExportSnapshot::Collector& c : s.collectors) {
    absl::StrAppend(&j, first ? "" : ", ", "{\"name\": \"", c.name, "\", \"address\": \"",
                    c.address, "\", \"datagrams\": ", c.datagrams,
                    ", \"send_errors\": ", c.send_errors, ", \"last_error\": \"", c.last_error,
                    "\"}");
    first = false;
  }
  j += "]\n}\n";
  return j;
}

std::string FormatSummary(const ExportSnapshot& s) {
  std::string out = "flowexport summary\n";
  absl::StrAppend(&out, "  read:      packets seen ", Grouped(s.packets_seen), ", parsed ",
                  Grouped(s.packets_parsed), " (", Grouped(s.packets_fragment), " fragments, ",
                  Grouped(s.packets_non_first_fragment), " non-first; ",
                  Grouped(s.packets_l4_truncated), " with the L4 header cut by the snaplen)\n");
  if (s.packets_sampled_out != 0) {
    absl::StrAppend(&out, "  sampling:  ", Grouped(s.packets_sampled_out),
                    " parsed packets skipped by --sampling (expected, announced to collectors)\n");
  }
  uint64_t expired_total = 0;
  for (const auto& [reason, n] : s.flows_expired) expired_total += n;
  absl::StrAppend(&out, "  flows:     ", Grouped(s.flows_created), " created, ",
                  Grouped(expired_total), " exported (");
  bool first = true;
  for (const auto& [reason, n] : s.flows_expired) {
    if (n == 0) continue;
    absl::StrAppend(&out, first ? "" : ", ", reason, " ", Grouped(n));
    first = false;
  }
  absl::StrAppend(&out, first ? "none yet" : "", "), ", Grouped(s.flows_active),
                  " still active\n");
  absl::StrAppend(&out, "  exported:  ", Grouped(s.packets_exported), " packets, ",
                  HumanBytes(s.bytes_exported), " in ", Grouped(s.records_sent), " records, ",
                  Grouped(s.datagrams_sent), " datagrams (", Grouped(s.template_records_sent),
                  " template records) to");
  for (const ExportSnapshot::Collector& c : s.collectors) {
    absl::StrAppend(&out, " ", c.address.empty() ? c.name : c.address);
  }
  out += "\n";
  if (s.enrichment_generation != 0) {
    absl::StrAppend(&out, "  enriched:  ", Grouped(s.addresses_matched), " of ",
                    Grouped(s.addresses_looked_up),
                    " flow addresses got an AS or prefix length; data loaded ",
                    s.enrichment_reloads + 1, " time", s.enrichment_reloads == 0 ? "" : "s",
                    s.enrichment_reload_failures == 0
                        ? ""
                        : absl::StrCat(", ", s.enrichment_reload_failures,
                                       " reload(s) failed and kept the previous data"),
                    "\n");
  }

  std::vector<std::string> drops;
  auto add = [&drops](uint64_t n, absl::string_view what) {
    if (n != 0) drops.push_back(absl::StrCat(Grouped(n), " ", what));
  };
  for (const auto& [reason, n] : s.packets_dropped) {
    add(n, absl::StrCat("packets not metered: ", reason));
  }
  if (s.live) {
    add(s.pcap_dropped, "packets dropped by the kernel (capture buffer full: raise --buffer-size)");
    add(s.pcap_if_dropped, "packets dropped by the interface or driver");
  }
  add(s.packets_ring_full_dropped, "packets dropped on full shard rings (--ring-full drop)");
  add(s.records_not_exportable, "flows not exportable in this version (IPv6 with -v 5)");
  add(s.send_errors, "datagram sends failed (collector unreachable?)");
  if (drops.empty()) {
    out += "  dropped:   nothing\n";
  } else {
    absl::StrAppend(&out, "  dropped:   ", absl::StrJoin(drops, "\n             "), "\n");
  }
  return out;
}

ExportStatusSample StatusSampleOf(const ExportSnapshot& s) {
  return {s.packets_seen,   s.flows_active,
          s.records_sent,   s.datagrams_sent,
          s.pcap_dropped + s.pcap_if_dropped + s.packets_ring_full_dropped,
          s.send_errors};
}

}  // namespace nf
