#include "collector/output/report/html_report.h"

#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/atomic_file.h"

namespace nf::report {
namespace {

// Chart colours, one per ProtocolClass (colour-blind-safe Okabe-Ito-like palette).
constexpr const char* kProtocolColours[kProtocolClasses] = {"#0072b2", "#e69f00", "#009e73",
                                                            "#cc79a7", "#7f7f7f"};
constexpr const char* kBarColour = "#0072b2";
constexpr int kChartWidth = 1200;

std::string Fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

// Three significant digits.
std::string Sig3(double v) {
  if (v < 10) return Fmt("%.2f", v);
  if (v < 100) return Fmt("%.1f", v);
  return Fmt("%.0f", v);
}

std::string ScaleUnits(double v, const char* const* units, size_t n_units, const char* sep) {
  size_t u = 0;
  while (std::fabs(v) >= 999.5 && u + 1 < n_units) {
    v /= 1000;
    ++u;
  }
  if (u == 0) return absl::StrCat(Fmt("%.0f", v), sep, units[0]);
  return absl::StrCat(Sig3(v), sep, units[u]);
}

struct Utc {
  int year, month, day, hour, minute, second, millis;
};
Utc ToUtc(int64_t ms) {
  int64_t secs = ms / 1000;
  int64_t millis = ms % 1000;
  if (millis < 0) {
    millis += 1000;
    --secs;
  }
  const time_t t = static_cast<time_t>(secs);
  struct tm tm {};
  gmtime_r(&t, &tm);
  return Utc{tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min,         tm.tm_sec,     static_cast<int>(millis)};
}

std::string FormatUtc(int64_t ms, bool with_millis) {
  const Utc u = ToUtc(ms);
  char buf[64];
  if (with_millis) {
    std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d:%02d.%03d", u.year, u.month, u.day,
                  u.hour, u.minute, u.second, u.millis);
  } else {
    std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d:%02d", u.year, u.month, u.day,
                  u.hour, u.minute, u.second);
  }
  return buf;
}

// Axis label for a bin start: as short as the bin width and span allow.
std::string AxisTimeLabel(int64_t ms, int64_t width_ms, bool multi_day) {
  const Utc u = ToUtc(ms);
  char buf[64];
  if (width_ms >= 86'400'000) {
    std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d", u.year, u.month, u.day);
  } else if (width_ms >= 60'000) {
    if (multi_day) {
      std::snprintf(buf, sizeof(buf), "%02d-%02d %02d:%02d", u.month, u.day, u.hour, u.minute);
    } else {
      std::snprintf(buf, sizeof(buf), "%02d:%02d", u.hour, u.minute);
    }
  } else if (width_ms >= 1000) {
    std::snprintf(buf, sizeof(buf), "%02d:%02d:%02d", u.hour, u.minute, u.second);
  } else {
    std::snprintf(buf, sizeof(buf), "%02d:%02d:%02d.%d", u.hour, u.minute, u.second,
                  u.millis / 100);
  }
  return buf;
}

// Axis labels: "5 MB" rather than "5.00 MB" (ticks are round numbers).
std::string TrimZeros(std::string s) {
  const size_t dot = s.find('.');
  if (dot == std::string::npos) return s;
  size_t end = s.find(' ', dot);
  if (end == std::string::npos) end = s.size();
  size_t cut = end;
  while (cut > dot + 1 && s[cut - 1] == '0') --cut;
  if (cut == dot + 1) cut = dot;
  return s.substr(0, cut) + s.substr(end);
}

double NiceStep(double raw) {
  if (!(raw > 0)) return 1;
  const double exp10 = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / exp10;
  const double nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
  return std::max(1.0, nice * exp10);
}

std::string Num(double v) { return Fmt("%.1f", v); }

void AppendText(std::string& out, double x, double y, absl::string_view anchor,
                absl::string_view cls, absl::string_view text, absl::string_view extra = {}) {
  absl::StrAppend(&out, "<text x=\"", Num(x), "\" y=\"", Num(y), "\" text-anchor=\"", anchor,
                  "\" class=\"", cls, "\"", extra, ">");
  AppendHtmlEscaped(text, out);
  out += "</text>\n";
}

std::string AddressLabel(const IpAddress& a) {
  return a.version == 0 ? std::string("(no address)") : a.ToString();
}

// ---- traffic over time ----
void AppendTrafficChart(const TimeSeries& s, std::string& out) {
  const int width = kChartWidth, height = 380;
  const double ml = 84, mr = 96, mt = 16, mb = 62;
  const double pw = width - ml - mr, ph = height - mt - mb;
  const size_t n = s.bins.size();
  double max_total = 0;
  for (const ProtocolBytes& b : s.bins) {
    double t = 0;
    for (uint64_t v : b) t += static_cast<double>(v);
    max_total = std::max(max_total, t);
  }
  const double step = NiceStep(max_total / 5);
  const double top = std::max(step, std::ceil(max_total / step) * step);
  const double seconds = static_cast<double>(s.width_ms) / 1000.0;

  absl::StrAppend(&out, "<svg id=\"traffic-chart\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"",
                  width, "\" height=\"", height, "\" viewBox=\"0 0 ", width, " ", height,
                  "\" role=\"img\" aria-labelledby=\"traffic-title\">\n");
  out += "<title id=\"traffic-title\">Traffic over time by protocol (bytes per bin)</title>\n";
  // Grid and y axes: bytes per bin on the left, average bit/s on the right.
  for (double v = 0; v <= top + step / 2; v += step) {
    const double y = mt + ph - v / top * ph;
    absl::StrAppend(&out, "<line x1=\"", Num(ml), "\" y1=\"", Num(y), "\" x2=\"", Num(ml + pw),
                    "\" y2=\"", Num(y), "\" class=\"grid\"/>\n");
    AppendText(out, ml - 8, y + 4, "end", "tick", TrimZeros(FormatBytes(v)));
    AppendText(out, ml + pw + 8, y + 4, "start", "tick", TrimZeros(FormatBitRate(v * 8 / seconds)));
  }
  const std::string width_text = FormatDuration(s.width_ms);
  AppendText(out, 16, mt + ph / 2, "middle", "axis", absl::StrCat("bytes per ", width_text, " bin"),
             absl::StrCat(" transform=\"rotate(-90 16 ", Num(mt + ph / 2), ")\""));
  AppendText(out, width - 12, mt + ph / 2, "middle", "axis", "average bit/s",
             absl::StrCat(" transform=\"rotate(90 ", width - 12, " ", Num(mt + ph / 2), ")\""));
  // Bars, stacked bottom-up in ProtocolClass order; one group per bin with a hover title.
  const double bw = pw / static_cast<double>(std::max<size_t>(n, 1));
  const double gap = bw >= 4 ? 1 : 0;
  for (size_t i = 0; i < n; ++i) {
    const int64_t t = s.start_ms + static_cast<int64_t>(i) * s.width_ms;
    const double x = ml + static_cast<double>(i) * bw;
    uint64_t total = 0;
    for (uint64_t v : s.bins[i]) total += v;
    if (total == 0) continue;
    out += "<g class=\"bin\"><title>";
    std::string tip = absl::StrCat(FormatUtc(t, s.width_ms < 1000), " UTC (", width_text,
                                   "): ", FormatBytes(static_cast<double>(total)), ", ",
                                   FormatBitRate(static_cast<double>(total) * 8 / seconds));
    for (size_t p = 0; p < kProtocolClasses; ++p) {
      if (s.bins[i][p] == 0) continue;
      absl::StrAppend(&tip, "; ", ProtocolClassName(static_cast<ProtocolClass>(p)), " ",
                      FormatBytes(static_cast<double>(s.bins[i][p])));
    }
    AppendHtmlEscaped(tip, out);
    out += "</title>";
    double y = mt + ph;
    for (size_t p = 0; p < kProtocolClasses; ++p) {
      if (s.bins[i][p] == 0) continue;
      const double h = static_cast<double>(s.bins[i][p]) / top * ph;
      y -= h;
      absl::StrAppend(&out, "<rect x=\"", Num(x + gap / 2), "\" y=\"", Num(y), "\" width=\"",
                      Num(std::max(bw - gap, 0.5)), "\" height=\"", Num(std::max(h, 0.5)),
                      "\" fill=\"", kProtocolColours[p], "\" class=\"proto-",
                      ProtocolClassName(static_cast<ProtocolClass>(p)), "\"/>");
    }
    out += "</g>\n";
  }
  // X axis: at most ~10 labels.
  absl::StrAppend(&out, "<line x1=\"", Num(ml), "\" y1=\"", Num(mt + ph), "\" x2=\"", Num(ml + pw),
                  "\" y2=\"", Num(mt + ph), "\" class=\"axisline\"/>\n");
  const bool multi_day = n > 0 && ToUtc(s.start_ms).day !=
                                      ToUtc(s.start_ms + static_cast<int64_t>(n) * s.width_ms - 1).day;
  const size_t stride = std::max<size_t>(1, (n + 9) / 10);
  for (size_t i = 0; i <= n; i += stride) {
    const double x = ml + static_cast<double>(i) * bw;
    absl::StrAppend(&out, "<line x1=\"", Num(x), "\" y1=\"", Num(mt + ph), "\" x2=\"", Num(x),
                    "\" y2=\"", Num(mt + ph + 5), "\" class=\"axisline\"/>\n");
    AppendText(out, x, mt + ph + 19, "middle", "tick",
               AxisTimeLabel(s.start_ms + static_cast<int64_t>(i) * s.width_ms, s.width_ms,
                             multi_day));
  }
  AppendText(out, ml + pw / 2, height - 10, "middle", "axis",
             absl::StrCat("time (UTC) from ", FormatUtc(s.start_ms, s.width_ms < 1000),
                          ", bins of ", width_text));
  out += "</svg>\n";
}

// ---- horizontal bar chart for a ranking ----
struct Bar {
  std::string label;
  uint64_t value;
  uint64_t error;
};

void AppendBarChart(absl::string_view id, absl::string_view title, const std::vector<Bar>& bars,
                    uint64_t total, std::string& out) {
  const double row = 28, mt = 8, label_w = 330, value_w = 250;
  const double height = mt * 2 + row * static_cast<double>(std::max<size_t>(bars.size(), 1));
  const double bar_area = kChartWidth - label_w - value_w - 10;
  absl::StrAppend(&out, "<svg id=\"", id, "-chart\" class=\"chart bars\" xmlns=\"http://www.w3.org/2000/svg\" width=\"",
                  kChartWidth, "\" height=\"", Num(height), "\" viewBox=\"0 0 ", kChartWidth,
                  " ", Num(height), "\" role=\"img\" aria-labelledby=\"", id, "-title\">\n");
  absl::StrAppend(&out, "<title id=\"", id, "-title\">");
  AppendHtmlEscaped(title, out);
  out += "</title>\n";
  if (bars.empty()) {
    AppendText(out, label_w, mt + row * 0.65, "start", "tick", "no flow records");
    out += "</svg>\n";
    return;
  }
  const double max = static_cast<double>(std::max<uint64_t>(bars.front().value, 1));
  for (size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    const double y = mt + row * static_cast<double>(i);
    const double w = std::max(1.0, static_cast<double>(b.value) / max * bar_area);
    const double share = total == 0 ? 0 : 100.0 * static_cast<double>(b.value) /
                                              static_cast<double>(total);
    std::string tip = absl::StrCat(b.label, ": ", FormatCount(b.value), " bytes");
    if (b.error > 0) {
      absl::StrAppend(&tip, " (approximate: true value between ", FormatCount(b.value - b.error),
                      " and ", FormatCount(b.value), ")");
    }
    out += "<g class=\"row\"><title>";
    AppendHtmlEscaped(tip, out);
    out += "</title>";
    AppendText(out, label_w - 10, y + row * 0.64, "end", "label mono", b.label);
    absl::StrAppend(&out, "<rect x=\"", Num(label_w), "\" y=\"", Num(y + 4), "\" width=\"", Num(w),
                    "\" height=\"", Num(row - 8), "\" fill=\"", kBarColour, "\"/>");
    AppendText(out, label_w + w + 8, y + row * 0.64, "start", "value",
               absl::StrCat(b.error > 0 ? "\u2248 " : "", FormatBytes(static_cast<double>(b.value)),
                            "  (", Fmt("%.1f", share), " %)"));
    out += "</g>\n";
  }
  out += "</svg>\n";
}

template <typename Entries, typename LabelFn>
std::vector<Bar> ToBars(const Entries& entries, LabelFn label) {
  std::vector<Bar> bars;
  for (const auto& e : entries) bars.push_back(Bar{label(e.key), e.count, e.error});
  return bars;
}

void AppendRankingNote(const Ranking& r, std::string& out) {
  out += "<p class=\"note\">";
  if (r.exact) {
    absl::StrAppend(&out, "Exact: every key fit in the ", FormatCount(r.capacity),
                    "-entry table.");
  } else {
    absl::StrAppend(&out, "<strong>Approximate</strong> (Space-Saving sketch of ",
                    FormatCount(r.capacity), " entries, ", FormatCount(r.evictions),
                    " evictions): values marked \u2248 may be over-stated by at most ",
                    FormatBytes(static_cast<double>(r.max_error)),
                    "; any key above that is listed.");
  }
  out += "</p>\n";
}

void AppendCard(std::string& out, absl::string_view id, absl::string_view label,
                absl::string_view value, absl::string_view data_value,
                absl::string_view tooltip = {}) {
  absl::StrAppend(&out, "<div class=\"card\"><dt>", label, "</dt><dd id=\"", id, "\"");
  if (!data_value.empty()) absl::StrAppend(&out, " data-value=\"", data_value, "\"");
  if (!tooltip.empty()) {
    out += " title=\"";
    AppendHtmlEscaped(tooltip, out);
    out += "\"";
  }
  out += ">";
  AppendHtmlEscaped(value, out);
  out += "</dd></div>\n";
}

constexpr absl::string_view kCss = R"css(
:root { color-scheme: light; }
body { margin: 0; padding: 24px 32px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI",
       Roboto, "DejaVu Sans", sans-serif; color: #1d2330; background: #f6f7f9; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 0 0 8px; }
.sub { color: #5a6372; margin: 0 0 16px; }
section { background: #fff; border: 1px solid #dde1e7; border-radius: 8px; padding: 16px 20px;
          margin: 0 0 18px; max-width: 1240px; }
dl.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 0; }
.card { border: 1px solid #e3e6eb; border-radius: 6px; padding: 8px 14px; min-width: 130px;
        background: #fafbfc; }
.card dt { font-size: 12px; color: #5a6372; text-transform: uppercase; letter-spacing: .04em; }
.card dd { margin: 2px 0 0; font-size: 18px; font-weight: 600; }
table { border-collapse: collapse; margin-top: 8px; }
th, td { padding: 4px 12px; border-bottom: 1px solid #e3e6eb; text-align: right; }
th { font-size: 12px; color: #5a6372; text-transform: uppercase; letter-spacing: .03em; }
td.k, th.k { text-align: left; }
td.mono, .mono { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; }
.note { color: #5a6372; font-size: 13px; margin: 6px 0 0; }
.legend { display: flex; gap: 18px; margin: 6px 0 0 84px; }
.legend span.sw { display: inline-block; width: 12px; height: 12px; border-radius: 2px;
                  vertical-align: -1px; margin-right: 6px; }
svg.chart { display: block; max-width: 100%; height: auto; }
svg text { font-family: system-ui, "DejaVu Sans", sans-serif; fill: #1d2330; }
svg text.tick { font-size: 11px; fill: #5a6372; }
svg text.axis { font-size: 12px; fill: #5a6372; }
svg text.label { font-size: 13px; }
svg text.mono { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; }
svg text.value { font-size: 12px; }
svg line.grid { stroke: #e6e9ee; stroke-width: 1; }
svg line.axisline { stroke: #7a8391; stroke-width: 1; }
svg g.bin:hover rect, svg g.row:hover rect { opacity: .8; }
footer { color: #5a6372; font-size: 12px; max-width: 1240px; }
)css";

}  // namespace

void AppendHtmlEscaped(absl::string_view text, std::string& out) {
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        // Control characters (other than tab/newline) have no business in a page.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') {
          out += "\xEF\xBF\xBD";  // U+FFFD
        } else {
          out += c;
        }
    }
  }
}

std::string HtmlEscape(absl::string_view text) {
  std::string out;
  AppendHtmlEscaped(text, out);
  return out;
}

std::string FormatBytes(double bytes) {
  static constexpr const char* kUnits[] = {"B", "KB", "MB", "GB", "TB", "PB", "EB"};
  return ScaleUnits(bytes, kUnits, 7, " ");
}

std::string FormatBitRate(double bits_per_second) {
  static constexpr const char* kUnits[] = {"bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s",
                                           "Pbit/s"};
  return ScaleUnits(bits_per_second, kUnits, 6, " ");
}

std::string FormatCount(uint64_t v) {
  std::string digits = absl::StrCat(v);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string FormatDuration(int64_t ms) {
  if (ms < 1000) return absl::StrCat(ms, " ms");
  const int64_t s = ms / 1000;
  const int64_t rem_ms = ms % 1000;
  if (s < 60) {
    return rem_ms == 0 ? absl::StrCat(s, " s") : absl::StrCat(Fmt("%.1f", ms / 1000.0), " s");
  }
  const int64_t d = s / 86400, h = s % 86400 / 3600, m = s % 3600 / 60, sec = s % 60;
  std::string out;
  if (d > 0) absl::StrAppend(&out, d, " d");
  if (h > 0) absl::StrAppend(&out, out.empty() ? "" : " ", h, " h");
  if (m > 0 && d == 0) absl::StrAppend(&out, out.empty() ? "" : " ", m, " min");
  if (sec > 0 && d == 0 && h == 0) absl::StrAppend(&out, out.empty() ? "" : " ", sec, " s");
  if (out.empty()) out = "0 s";
  return out;
}

std::string CountryLabel(uint16_t key) {
  return std::string{static_cast<char>(key >> 8), static_cast<char>(key & 0xff)};
}

std::string PortLabel(const PortKey& key) {
  switch (key.protocol) {
    case 6: return absl::StrCat(key.port, "/tcp");
    case 17: return absl::StrCat(key.port, "/udp");
    case 132: return absl::StrCat(key.port, "/sctp");
    case 33: return absl::StrCat(key.port, "/dccp");
    case 136: return absl::StrCat(key.port, "/udplite");
    case 1: return absl::StrCat("icmp ", key.port >> 8, "/", key.port & 0xff);
    case 58: return absl::StrCat("icmpv6 ", key.port >> 8, "/", key.port & 0xff);
    case 47: return "gre";
    case 50: return "esp";
    case 51: return "ah";
    case 4: return "ipip";
    case 41: return "ipv6-in-ipv4";
    case 89: return "ospf";
    case 112: return "vrrp";
    case 0: return "proto 0 (none)";
    default: return absl::StrCat("proto ", key.protocol);
  }
}

std::string RenderHtmlReport(const ReportAccumulator& acc, const ReportPageInfo& info) {
  const ReportTotals& t = acc.totals();
  std::string out;
  out.reserve(256 << 10);
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out += "<meta name=\"generator\" content=\"flowcollect\">\n<title>";
  AppendHtmlEscaped(info.title, out);
  absl::StrAppend(&out, "</title>\n<style>", kCss, "</style>\n</head>\n<body>\n<header>\n<h1>");
  AppendHtmlEscaped(info.title, out);
  out += "</h1>\n<p class=\"sub\">";
  std::string sub;
  if (!info.source.empty()) {
    // Dozens of -r files would push the page down: keep the first few hundred characters.
    constexpr size_t kMaxSource = 240;
    absl::string_view source = info.source;
    if (source.size() > kMaxSource) {
      size_t cut = kMaxSource;
      while (cut > 0 && (static_cast<unsigned char>(source[cut]) & 0xC0) == 0x80) --cut;
      source = source.substr(0, cut);
    }
    absl::StrAppend(&sub, "Input: ", source, source.size() < info.source.size() ? " \u2026" : "");
  }
  if (t.records > 0) {
    absl::StrAppend(&sub, sub.empty() ? "" : " \u00b7 ", FormatUtc(t.first_ms, false), " to ",
                    FormatUtc(t.last_ms, false), " UTC");
  }
  if (info.generated_ms != 0) {
    absl::StrAppend(&sub, sub.empty() ? "" : " \u00b7 ", "written ",
                    FormatUtc(info.generated_ms, false), " UTC");
  }
  AppendHtmlEscaped(sub, out);
  out += "</p>\n</header>\n";

  // ---- exporter rows (accumulator, joined with decoder counters by address) ----
  struct Row {
    std::string name;
    bool v5 = false, v9 = false, ipfix = false;
    uint64_t records = 0, packets = 0, bytes = 0;
    bool have_decoder = false;
    uint64_t datagrams = 0, lost = 0, errors = 0, templates = 0;
  };
  std::vector<Row> rows;
  // String keys: GCC 12 at -O3 reports a false -Wstringop-overread inside the comparison of
  // std::vector<uint8_t> keys, which breaks Release builds.
  std::map<std::string, size_t> row_of;
  auto key_of = [](const IpAddress& a) {
    std::string k(reinterpret_cast<const char*>(a.bytes.data()), a.bytes.size());
    k.push_back(static_cast<char>(a.version));
    return k;
  };
  for (const ExporterTotals& e : acc.Exporters()) {
    row_of[key_of(e.address)] = rows.size();
    Row r;
    r.name = AddressLabel(e.address);
    r.v5 = e.v5;
    r.v9 = e.v9;
    r.ipfix = e.ipfix;
    r.records = e.records;
    r.packets = e.packets;
    r.bytes = e.bytes;
    rows.push_back(r);
  }
  uint64_t datagrams = 0, lost = 0, errors = 0;
  if (info.decoders != nullptr) {
    for (const auto& [id, s] : info.decoders->exporters) {
      auto it = row_of.find(key_of(id.address));
      if (it == row_of.end()) {
        // Sent only templates/options, or its records fell into "other exporters".
        it = row_of.emplace(key_of(id.address), rows.size()).first;
        Row r;
        r.name = AddressLabel(id.address);
        rows.push_back(r);
      }
      Row& r = rows[it->second];
      r.have_decoder = true;
      r.datagrams += s.datagrams;
      r.lost += s.sequence_lost;
      r.errors += s.ErrorTotal();
      r.templates += s.templates;
      r.v5 |= s.v5_datagrams > 0;
      r.v9 |= s.v9_datagrams > 0;
      r.ipfix |= s.ipfix_datagrams > 0;
    }
    datagrams = info.decoders->totals.datagrams;
    lost = info.decoders->totals.sequence_lost;
    errors = info.decoders->totals.ErrorTotal();
  }
  const ExporterTotals& other = acc.other_exporters();

  // ---- totals ----
  out += "<section id=\"totals\">\n<h2>Totals</h2>\n<dl class=\"cards\">\n";
  if (t.records > 0) {
    AppendCard(out, "total-span", "Time span", FormatDuration(t.last_ms - t.first_ms),
               absl::StrCat(t.last_ms - t.first_ms),
               absl::StrCat(FormatUtc(t.first_ms, true), " to ", FormatUtc(t.last_ms, true),
                            " UTC"));
  } else {
    AppendCard(out, "total-span", "Time span", "no records", "0");
  }
  const size_t exporter_count = rows.size() + (other.records > 0 ? 1 : 0);
  AppendCard(out, "total-exporters", "Exporters",
             absl::StrCat(exporter_count, other.records > 0 ? "+" : ""),
             absl::StrCat(exporter_count));
  AppendCard(out, "total-records", "Flow records", FormatCount(t.records), absl::StrCat(t.records));
  AppendCard(out, "total-packets", "Packets", FormatCount(t.packets), absl::StrCat(t.packets));
  AppendCard(out, "total-bytes", "Bytes", FormatBytes(static_cast<double>(t.bytes)),
             absl::StrCat(t.bytes), absl::StrCat(FormatCount(t.bytes), " bytes"));
  AppendCard(out, "total-flows", "Distinct flows",
             absl::StrCat("\u2248 ", FormatCount(acc.DistinctFlows())),
             absl::StrCat(acc.DistinctFlows()),
             "distinct (src, dst, sport, dport, protocol), HyperLogLog estimate");
  AppendCard(out, "total-sources", "Distinct sources",
             absl::StrCat("\u2248 ", FormatCount(acc.DistinctSources())),
             absl::StrCat(acc.DistinctSources()));
  AppendCard(out, "total-destinations", "Distinct destinations",
             absl::StrCat("\u2248 ", FormatCount(acc.DistinctDestinations())),
             absl::StrCat(acc.DistinctDestinations()));
  if (info.decoders != nullptr) {
    AppendCard(out, "total-datagrams", "Datagrams", FormatCount(datagrams),
               absl::StrCat(datagrams));
    AppendCard(out, "total-sequence-lost", "Sequence lost", FormatCount(lost), absl::StrCat(lost),
               "datagrams (v9) or records (v5, IPFIX) missing by sequence number");
    AppendCard(out, "total-decode-errors", "Decode errors", FormatCount(errors),
               absl::StrCat(errors));
  }
  out += "</dl>\n";
  // Protocol split.
  out += "<table id=\"protocol-table\">\n<tr><th class=\"k\">Protocol</th><th>Records</th>"
         "<th>Packets</th><th>Bytes</th><th>Share of bytes</th></tr>\n";
  for (size_t p = 0; p < kProtocolClasses; ++p) {
    const double share = t.bytes == 0 ? 0
                                      : 100.0 * static_cast<double>(t.protocol_bytes[p]) /
                                            static_cast<double>(t.bytes);
    absl::StrAppend(&out, "<tr><td class=\"k\"><span style=\"color:", kProtocolColours[p],
                    "\">\u25a0</span> ", ProtocolClassName(static_cast<ProtocolClass>(p)),
                    "</td><td>", FormatCount(t.protocol_records[p]), "</td><td>",
                    FormatCount(t.protocol_packets[p]), "</td><td data-value=\"",
                    t.protocol_bytes[p], "\">", FormatBytes(static_cast<double>(t.protocol_bytes[p])),
                    "</td><td>", Fmt("%.1f", share), " %</td></tr>\n");
  }
  out += "</table>\n</section>\n";

  // ---- traffic over time ----
  const TimeSeries series = acc.Series();
  out += "<section id=\"traffic\">\n<h2>Traffic over time by protocol</h2>\n";
  if (series.bins.empty()) {
    out += "<p class=\"note\">No flow records.</p>\n";
  } else {
    AppendTrafficChart(series, out);
    out += "<div class=\"legend\">";
    for (size_t p = 0; p < kProtocolClasses; ++p) {
      absl::StrAppend(&out, "<span><span class=\"sw\" style=\"background:", kProtocolColours[p],
                      "\"></span>", ProtocolClassName(static_cast<ProtocolClass>(p)), "</span>");
    }
    out += "</div>\n";
    absl::StrAppend(&out, "<p class=\"note\">", series.bins.size(), " bins of ",
                    FormatDuration(series.width_ms),
                    ". Each record's bytes are spread evenly over its flow's first-to-last "
                    "interval.");
    if (t.timed_by_arrival > 0) {
      absl::StrAppend(&out, " ", FormatCount(t.timed_by_arrival),
                      " records without a plausible flow time were placed at their arrival "
                      "time.");
    }
    if (t.time_clamped > 0) {
      absl::StrAppend(&out, " ", FormatCount(t.time_clamped),
                      " records with absurd times were placed at the edge of the chart.");
    }
    out += "</p>\n";
  }
  out += "</section>\n";

  // ---- rankings ----
  const size_t n = info.top_n;
  auto address_label = [](const IpAddress& a) { return AddressLabel(a); };
  out += "<section id=\"top-sources\">\n";
  absl::StrAppend(&out, "<h2>Top ", n, " source addresses by bytes</h2>\n");
  AppendBarChart("top-sources", absl::StrCat("Top ", n, " source addresses by bytes"),
                 ToBars(acc.TopSources(n), address_label), t.bytes, out);
  AppendRankingNote(acc.SourceRanking(), out);
  out += "</section>\n<section id=\"top-destinations\">\n";
  absl::StrAppend(&out, "<h2>Top ", n, " destination addresses by bytes</h2>\n");
  AppendBarChart("top-destinations", absl::StrCat("Top ", n, " destination addresses by bytes"),
                 ToBars(acc.TopDestinations(n), address_label), t.bytes, out);
  AppendRankingNote(acc.DestinationRanking(), out);
  out += "</section>\n<section id=\"top-ports\">\n";
  absl::StrAppend(&out, "<h2>Top ", n, " destination ports by bytes</h2>\n");
  AppendBarChart("top-ports", absl::StrCat("Top ", n, " destination ports by bytes"),
                 ToBars(acc.TopPorts(n), [](const PortKey& k) { return PortLabel(k); }), t.bytes,
                 out);
  AppendRankingNote(acc.PortRanking(), out);
  out += "<p class=\"note\">Port per protocol; ICMP shows type/code; protocols without ports "
         "are one entry each.</p>\n</section>\n";

  // ---- enrichment rankings: only when some record carried an AS / a country ----
  auto ranking_section = [&](absl::string_view id, absl::string_view what,
                             const std::vector<Bar>& bars, const Ranking& ranking,
                             absl::string_view note) {
    if (bars.empty()) return;
    const std::string title = absl::StrCat("Top ", n, " ", what, " by bytes");
    absl::StrAppend(&out, "<section id=\"", id, "\">\n<h2>", title, "</h2>\n");
    AppendBarChart(id, title, bars, t.bytes, out);
    AppendRankingNote(ranking, out);
    absl::StrAppend(&out, "<p class=\"note\">", note, "</p>\n</section>\n");
  };
  auto as_label = [](uint32_t as) { return absl::StrCat("AS", as); };
  auto country_label = [](uint16_t key) { return CountryLabel(key); };
  constexpr absl::string_view kAsNote =
      "Records without an AS (0) are not ranked; shares are of all bytes.";
  constexpr absl::string_view kCountryNote =
      "ISO 3166 codes; records without a country are not ranked; shares are of all bytes.";
  ranking_section("top-source-as", "source AS", ToBars(acc.TopSourceAs(n), as_label),
                  acc.SourceAsRanking(), kAsNote);
  ranking_section("top-destination-as", "destination AS",
                  ToBars(acc.TopDestinationAs(n), as_label), acc.DestinationAsRanking(), kAsNote);
  ranking_section("top-source-countries", "source countries",
                  ToBars(acc.TopSourceCountries(n), country_label), acc.SourceCountryRanking(),
                  kCountryNote);
  ranking_section("top-destination-countries", "destination countries",
                  ToBars(acc.TopDestinationCountries(n), country_label),
                  acc.DestinationCountryRanking(), kCountryNote);

  // ---- exporters ----
  out += "<section id=\"exporters\">\n<h2>Exporters</h2>\n<table id=\"exporter-table\">\n"
         "<tr><th class=\"k\">Exporter</th><th class=\"k\">Versions</th><th>Records</th>"
         "<th>Packets</th><th>Bytes</th><th>Share</th>";
  if (info.decoders != nullptr) {
    out += "<th>Datagrams</th><th>Templates</th><th>Sequence lost</th><th>Decode errors</th>";
  }
  out += "</tr>\n";
  auto append_row = [&](const Row& r) {
    std::string versions;
    if (r.v5) versions += "v5 ";
    if (r.v9) versions += "v9 ";
    if (r.ipfix) versions += "IPFIX ";
    if (!versions.empty()) versions.pop_back();
    const double share = t.bytes == 0 ? 0
                                      : 100.0 * static_cast<double>(r.bytes) /
                                            static_cast<double>(t.bytes);
    out += "<tr><td class=\"k mono\">";
    AppendHtmlEscaped(r.name, out);
    absl::StrAppend(&out, "</td><td class=\"k\">", versions, "</td><td data-value=\"", r.records,
                    "\">", FormatCount(r.records), "</td><td data-value=\"", r.packets, "\">",
                    FormatCount(r.packets), "</td><td data-value=\"", r.bytes, "\">",
                    FormatBytes(static_cast<double>(r.bytes)), "</td><td>", Fmt("%.1f", share),
                    " %</td>");
    if (info.decoders != nullptr) {
      if (r.have_decoder) {
        absl::StrAppend(&out, "<td>", FormatCount(r.datagrams), "</td><td>",
                        FormatCount(r.templates), "</td><td>", FormatCount(r.lost), "</td><td>",
                        FormatCount(r.errors), "</td>");
      } else {
        out += "<td></td><td></td><td></td><td></td>";
      }
    }
    out += "</tr>\n";
  };
  for (const Row& r : rows) append_row(r);
  if (other.records > 0) {
    Row r;
    r.name = "(other exporters beyond the table limit)";
    r.v5 = other.v5;
    r.v9 = other.v9;
    r.ipfix = other.ipfix;
    r.records = other.records;
    r.packets = other.packets;
    r.bytes = other.bytes;
    append_row(r);
  }
  out += "</table>\n</section>\n";

  out += "<footer>\n<p>Bytes and packets are as exported (IN_BYTES/IN_PKTS; multiplied by the "
         "sampling interval only with --apply-sampling). Units are decimal: 1 KB = 1000 bytes, "
         "1 Mbit/s = 10<sup>6</sup> bit/s. Distinct counts are HyperLogLog estimates "
         "(about 1.6 % error). Written by flowcollect --report.</p>\n</footer>\n"
         "</body>\n</html>\n";
  return out;
}

absl::Status WriteHtmlReport(const std::string& path, const ReportAccumulator& acc,
                             const ReportPageInfo& info) {
  return WriteFileAtomically(path, RenderHtmlReport(acc, info));
}

}  // namespace nf::report
