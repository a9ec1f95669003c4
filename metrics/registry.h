// nf::metrics registry — Prometheus metrics for flowcollect and flowexport: a registry of named
// counters and gauges with labels, rendered in the Prometheus text exposition format (0.0.4).
// Generic: it knows nothing of either tool (collector/app/collector_metrics and
// exporter/app/export_metrics register their metrics on it); metrics/metrics_server.h serves it.
//
// Hot paths never lock: a registered Counter/Gauge is a relaxed atomic the owner updates, and
// state that lives in single-threaded structures (the decoder's per-exporter stats) is exposed
// through a callback that runs at scrape time on the server thread — the owner makes that
// callback read a snapshot it publishes (e.g. once per second under its own mutex), never the
// live structure. The registry's mutex is only taken to register and to render.
//
// Naming follows Prometheus conventions (checked at registration): snake_case with a
// `flowcollect_` / `flowexport_` prefix, `_total` for counters, base units (`_bytes`,
// `_seconds`). docs/metrics.md lists every metric the binaries export.
#ifndef NF_METRICS_REGISTRY_H_
#define NF_METRICS_REGISTRY_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace nf::metrics {

enum class MetricType : uint8_t { kCounter, kGauge };
using Labels = std::vector<std::pair<std::string, std::string>>;

// [a-zA-Z_:][a-zA-Z0-9_:]* ; counters must end in _total.
absl::Status ValidateMetricName(absl::string_view name, MetricType type);

class Counter {
 public:
  void Add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  // For counters mirrored from elsewhere (monotonic by construction of the source).
  void Set(uint64_t v) { value_.store(v, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Receives samples from callbacks at scrape time. Samples of one name are grouped under one
// HELP/TYPE however the callbacks interleave them.
class SampleWriter {
 public:
  void Add(absl::string_view name, absl::string_view help, MetricType type, const Labels& labels,
           double value);

 private:
  friend class Registry;
  struct Family {
    std::string help;
    MetricType type;
    std::vector<std::string> lines;  // "name{labels} value"
  };
  std::vector<std::string> order_;
  std::vector<Family> families_;
};

class Registry {
 public:
  // The returned reference stays valid for the registry's lifetime. Registration errors (bad
  // name, a name registered with another type) are programming errors: they abort in debug
  // builds and return a detached metric otherwise, so a typo never takes a collector down.
  Counter& AddCounter(absl::string_view name, absl::string_view help, Labels labels = {});
  Gauge& AddGauge(absl::string_view name, absl::string_view help, Labels labels = {});
  // `fn` runs on the scraping thread at every scrape; it must be thread-safe.
  void AddCallback(std::function<void(SampleWriter&)> fn);
  // The whole exposition text.
  std::string Render() const;

 private:
  struct Entry {
    std::string name;
    std::string help;
    MetricType type;
    Labels labels;
    Counter counter;
    Gauge gauge;
  };
  Entry* AddEntry(absl::string_view name, absl::string_view help, MetricType type, Labels labels);

  mutable std::mutex mu_;
  std::deque<Entry> entries_;  // deque: stable addresses
  std::vector<std::function<void(SampleWriter&)>> callbacks_;
  Entry detached_;
};

// Appends `{a="x",b="y"}` with label values escaped (\\, \", \n); nothing for no labels.
void AppendLabels(const Labels& labels, std::string& out);
// Prometheus float text: integers without exponent, NaN, +Inf, -Inf.
void AppendValue(double v, std::string& out);

}  // namespace nf::metrics

#endif  // NF_METRICS_REGISTRY_H_
