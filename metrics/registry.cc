#include "metrics/registry.h"

#include <cassert>
#include <cmath>
#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace nf::metrics {
namespace {

const char* TypeName(MetricType t) { return t == MetricType::kCounter ? "counter" : "gauge"; }

void AppendEscaped(absl::string_view s, bool quotes, std::string& out) {
  for (char c : s) {
    if (c == '\\') {
      out.append("\\\\");
    } else if (c == '\n') {
      out.append("\\n");
    } else if (quotes && c == '"') {
      out.append("\\\"");
    } else {
      out.push_back(c);
    }
  }
}

void AppendFamilyHeader(absl::string_view name, absl::string_view help, MetricType type,
                        std::string& out) {
  absl::StrAppend(&out, "# HELP ", name, " ");
  AppendEscaped(help, false, out);
  absl::StrAppend(&out, "\n# TYPE ", name, " ", TypeName(type), "\n");
}

}  // namespace

absl::Status ValidateMetricName(absl::string_view name, MetricType type) {
  bool ok = !name.empty() && !absl::ascii_isdigit(name[0]);
  for (char c : name) ok = ok && (absl::ascii_isalnum(c) || c == '_' || c == ':');
  if (!ok) return absl::InvalidArgumentError(absl::StrCat("bad metric name '", name, "'"));
  if (type == MetricType::kCounter && !absl::EndsWith(name, "_total")) {
    return absl::InvalidArgumentError(absl::StrCat("counter '", name, "' must end in _total"));
  }
  if (type == MetricType::kGauge && absl::EndsWith(name, "_total")) {
    return absl::InvalidArgumentError(absl::StrCat("gauge '", name, "' must not end in _total"));
  }
  return absl::OkStatus();
}

void AppendLabels(const Labels& labels, std::string& out) {
  if (labels.empty()) return;
  out.push_back('{');
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i != 0) out.push_back(',');
    absl::StrAppend(&out, labels[i].first, "=\"");
    AppendEscaped(labels[i].second, true, out);
    out.push_back('"');
  }
  out.push_back('}');
}

void AppendValue(double v, std::string& out) {
  if (std::isnan(v)) {
    out.append("NaN");
  } else if (std::isinf(v)) {
    out.append(v > 0 ? "+Inf" : "-Inf");
  } else if (v == std::floor(v) && std::fabs(v) < 9.007199254740992e15) {
    absl::StrAppend(&out, static_cast<int64_t>(v));
  } else {
    char buf[40];
    std::snprintf(buf, sizeof(buf), "%.17g", v);
    out.append(buf);
  }
}

void SampleWriter::Add(absl::string_view name, absl::string_view help, MetricType type,
                       const Labels& labels, double value) {
  size_t i = 0;
  while (i < order_.size() && order_[i] != name) ++i;
  if (i == order_.size()) {
    order_.emplace_back(name);
    families_.push_back(Family{std::string(help), type, {}});
  }
  std::string line(name);
  AppendLabels(labels, line);
  line.push_back(' ');
  AppendValue(value, line);
  families_[i].lines.push_back(std::move(line));
}

Registry::Entry* Registry::AddEntry(absl::string_view name, absl::string_view help,
                                    MetricType type, Labels labels) {
  absl::Status s = ValidateMetricName(name, type);
  std::lock_guard<std::mutex> lock(mu_);
  for (const Entry& e : entries_) {
    if (e.name == name && e.type != type) s = absl::InvalidArgumentError("type conflict");
  }
  assert(s.ok() && "bad metric registration");
  if (!s.ok()) return &detached_;
  Entry& e = entries_.emplace_back();
  e.name = std::string(name);
  e.help = std::string(help);
  e.type = type;
  e.labels = std::move(labels);
  return &e;
}

Counter& Registry::AddCounter(absl::string_view name, absl::string_view help, Labels labels) {
  return AddEntry(name, help, MetricType::kCounter, std::move(labels))->counter;
}

Gauge& Registry::AddGauge(absl::string_view name, absl::string_view help, Labels labels) {
  return AddEntry(name, help, MetricType::kGauge, std::move(labels))->gauge;
}

void Registry::AddCallback(std::function<void(SampleWriter&)> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  callbacks_.push_back(std::move(fn));
}

std::string Registry::Render() const {
  SampleWriter w;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Entry& e : entries_) {
      double v = e.type == MetricType::kCounter ? static_cast<double>(e.counter.value())
                                                : e.gauge.value();
      w.Add(e.name, e.help, e.type, e.labels, v);
    }
    for (const auto& fn : callbacks_) fn(w);
  }
  std::string out;
  for (size_t i = 0; i < w.order_.size(); ++i) {
    const SampleWriter::Family& f = w.families_[i];
    AppendFamilyHeader(w.order_[i], f.help, f.type, out);
    for (const std::string& line : f.lines) absl::StrAppend(&out, line, "\n");
  }
  return out;
}

}  // namespace nf::metrics
