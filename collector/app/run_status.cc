#include "collector/app/run_status.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/progress.h"

namespace nf {
namespace {

// Drops at the input (before decoding).
uint64_t InputDrops(const InputStats& in) {
  const ReceiveStats& r = in.receive;
  return r.kernel_drops + r.denied + r.receive_errors + r.truncated + in.file_truncated;
}

// Drops in the decoder: malformed data, refused exporters, data whose template never came.
// early_sets_dropped is also one of the errors, so it is not added twice.
uint64_t DecodeDrops(const DecoderSummary& d) {
  return d.totals.ErrorTotal() + d.totals.early_sets_aged_out + d.exporters_refused;
}

}  // namespace

CollectorStatusSample StatusSample(const DecoderSummary& decoders, const InputStats& input) {
  CollectorStatusSample s;
  s.datagrams = input.receive.datagrams;
  s.records = decoders.totals.records;
  s.exporters = decoders.exporters.size();
  s.templates = decoders.templates_cached;
  s.drops = InputDrops(input) + DecodeDrops(decoders);
  s.early_pending = decoders.totals.early_sets_pending;
  s.early_decoded = decoders.totals.early_records_decoded;
  return s;
}

std::string CollectorStatusLine(const CollectorStatusSample& before,
                                const CollectorStatusSample& now, double seconds) {
  return absl::StrCat("flowcollect: ", HumanRate(PerSecond(before.datagrams, now.datagrams, seconds)),
                      " datagrams/s, ", HumanRate(PerSecond(before.records, now.records, seconds)),
                      " records/s; ", Grouped(now.exporters),
                      now.exporters == 1 ? " exporter, " : " exporters, ",
                      Grouped(now.templates), now.templates == 1 ? " template" : " templates",
                      "; drops ", Grouped(now.drops), " (+",
                      Grouped(now.drops >= before.drops ? now.drops - before.drops : 0),
                      "); early: ", Grouped(now.early_pending), " sets waiting, ",
                      Grouped(now.early_decoded), " records decoded late\n");
}

std::string CollectorSummaryText(const DecoderSummary& d, const InputStats& in,
                                 const OutputStats& out) {
  const ReceiveStats& r = in.receive;
  const ExporterStats& t = d.totals;
  std::string s = "flowcollect summary\n";
  if (in.file_packets != 0) {
    absl::StrAppend(&s, "  read:     ", Grouped(in.file_packets), " packets from the capture files",
                    " (", Grouped(in.file_not_udp), " not export traffic, ",
                    Grouped(in.file_port_filtered), " to other ports)\n");
  }
  std::vector<std::string> versions;
  if (t.v9_datagrams != 0) versions.push_back(absl::StrCat("v9 ", Grouped(t.v9_datagrams)));
  if (t.ipfix_datagrams != 0) versions.push_back(absl::StrCat("IPFIX ", Grouped(t.ipfix_datagrams)));
  if (t.v5_datagrams != 0) versions.push_back(absl::StrCat("v5 ", Grouped(t.v5_datagrams)));
  if (t.sflow_datagrams != 0) versions.push_back(absl::StrCat("sFlow ", Grouped(t.sflow_datagrams)));
  absl::StrAppend(&s, "  received: ", Grouped(r.datagrams), " datagrams (", HumanBytes(r.bytes),
                  ") from ", Grouped(d.exporters.size()),
                  d.exporters.size() == 1 ? " exporter" : " exporters",
                  versions.empty() ? "" : ": ", absl::StrJoin(versions, ", "), "\n");
  if (in.tcp_listening) {
    absl::StrAppend(&s, "  tcp:      ", Grouped(in.tcp.messages), " IPFIX messages (",
                    HumanBytes(in.tcp.bytes), ") over ", Grouped(in.tcp.accepted),
                    in.tcp.accepted == 1 ? " connection" : " connections", "\n");
  }
  absl::StrAppend(&s, "  decoded:  ", Grouped(t.records), " flow records (", Grouped(t.packets),
                  " packets, ", HumanBytes(t.bytes), "); ", Grouped(d.templates_cached),
                  " templates cached");
  if (t.early_records_decoded != 0) {
    absl::StrAppend(&s, "; ", Grouped(t.early_records_decoded),
                    " records decoded after their template arrived");
  }
  s += "\n";
  absl::StrAppend(&s, "  written:  ", Grouped(out.rows), " CSV rows");
  if (out.files > 1) absl::StrAppend(&s, " in ", Grouped(out.files), " files");
  if (out.aggregate_groups != 0) {
    absl::StrAppend(&s, " (", Grouped(out.aggregate_groups), " aggregate groups)");
  }
  if (!out.error.empty()) absl::StrAppend(&s, "; OUTPUT ERROR: ", out.error);
  s += "\n";

  // Every loss with its reason; zero counters are left out.
  std::vector<std::string> drops;
  auto add = [&drops](uint64_t n, absl::string_view what) {
    if (n != 0) drops.push_back(absl::StrCat(Grouped(n), " ", what));
  };
  add(r.kernel_drops, "datagrams dropped by the kernel (receive buffer full: raise --rcvbuf)");
  add(r.denied, "datagrams from sources outside --allow");
  add(in.tcp.denied, "TCP connections from sources outside --allow");
  add(in.tcp.refused_limit, "TCP connections beyond --max-tcp-exporters");
  add(in.tcp.framing_errors, "TCP connections closed on a framing error (not IPFIX)");
  add(in.tcp.messages_dropped, "incomplete TCP messages (connection closed mid-message)");
  add(r.receive_errors, "receive errors");
  add(r.truncated + in.file_truncated, "datagrams truncated (capture snaplen)");
  add(d.exporters_refused, "datagrams from exporters beyond the exporter limit");
  add(t.early_sets_aged_out, "data sets whose template never arrived");
  for (size_t i = 0; i < kDecodeErrorCount; ++i) {
    add(t.errors[i], absl::StrCat("decode errors: ", DecodeErrorName(static_cast<DecodeError>(i))));
  }
  add(out.aggregate_overflow, "records beyond --max-groups (aggregate overflow)");
  if (drops.empty()) {
    s += "  dropped:  nothing\n";
  } else {
    absl::StrAppend(&s, "  dropped:  ", absl::StrJoin(drops, "\n            "), "\n");
  }
  if (t.sequence_lost != 0) {
    absl::StrAppend(&s, "  upstream: ", Grouped(t.sequence_lost),
                    " missing by sequence number (lost between exporter and collector)\n");
  }
  return s;
}

}  // namespace nf
