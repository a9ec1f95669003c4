// The page `flowcollect --report FILE.html` writes: one self-contained HTML file (inline CSS
// and inline SVG generated here; no JavaScript, no external URLs, no fonts to fetch) showing
// what an operator wants at a glance over what was collected:
//   - a header with totals (time span, exporters, records, packets, bytes, distinct flows),
//   - traffic over time by protocol (stacked bars of bytes per bin, bit/s on the right axis),
//   - top 10 source and destination addresses and top 10 destination ports by bytes,
//   - top 10 source and destination AS numbers and countries by bytes, each only when some
//     record carried one (enrichment or the exporter),
//   - a per-exporter table (joined with the decoder's counters when given).
// Every text that came from the network or the command line is HTML-escaped. Totals carry
// machine-readable `data-value` attributes (ids `total-records`, `total-packets`,
// `total-bytes`, ...) so tests and scripts can read the page.
#ifndef NF_COLLECTOR_OUTPUT_REPORT_HTML_REPORT_H_
#define NF_COLLECTOR_OUTPUT_REPORT_HTML_REPORT_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "collector/output/report/report_accumulator.h"
#include "collector/stats/stats_report.h"

namespace nf::report {

struct ReportPageInfo {
  std::string title = "flowcollect report";
  std::string source;        // what was read, e.g. "-r a.pcap" or "-l 0.0.0.0:2055"
  int64_t generated_ms = 0;  // wall-clock time of writing; 0 = not shown (deterministic -r)
  // Decoder counters (datagrams, sequence loss, decode errors) for the exporter table; may be
  // null.
  const DecoderSummary* decoders = nullptr;
  size_t top_n = 10;
};

// The complete page.
std::string RenderHtmlReport(const ReportAccumulator& acc, const ReportPageInfo& info);
// Renders and writes it atomically (temporary file + rename).
absl::Status WriteHtmlReport(const std::string& path, const ReportAccumulator& acc,
                             const ReportPageInfo& info);

// Helpers (exposed for tests).
// Escapes & < > " ' so the text is safe in element content and quoted attributes.
void AppendHtmlEscaped(absl::string_view text, std::string& out);
std::string HtmlEscape(absl::string_view text);
// "0 B", "999 B", "1.5 KB", "12.3 MB", "4.07 GB" (decimal units: 1 KB = 1000 bytes).
std::string FormatBytes(double bytes);
// "12.3 Mbit/s" (decimal).
std::string FormatBitRate(double bits_per_second);
// "1,234,567"
std::string FormatCount(uint64_t v);
// "1 h 2 min", "45 s", "250 ms"
std::string FormatDuration(int64_t ms);
// Country ranking label: the two-letter code of a CountryKeyOf key.
std::string CountryLabel(uint16_t key);
// Port ranking label: "443/tcp", "53/udp", "icmp 8/0", "gre" or "proto 99".
std::string PortLabel(const PortKey& key);

}  // namespace nf::report

#endif  // NF_COLLECTOR_OUTPUT_REPORT_HTML_REPORT_H_
