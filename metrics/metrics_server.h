// nf::metrics server — the Prometheus endpoint of flowcollect and flowexport: serves a Registry
// at /metrics (text format 0.0.4) and a short index page at /, on nf::http::Server (its own
// thread, GET and HEAD only, optionally over TLS). The connection bound, the eviction of idle or
// half-sent connections and the timeouts are nf::http's (http/server.h); this wrapper only maps
// paths to answers and counts scrapes. docs/metrics.md describes the options.
#ifndef NF_METRICS_METRICS_SERVER_H_
#define NF_METRICS_METRICS_SERVER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "http/server.h"
#include "metrics/registry.h"

namespace nf::metrics {

// The endpoint's options are the HTTP server's: listen "[ADDR:]PORT" (a bare PORT listens on
// every IPv4 address, like node_exporter; port 0 picks a free one), TLS files, the connection
// bound and the timeouts.
using MetricsServerOptions = http::ServerOptions;

// Serves GET/HEAD /metrics (and / ) from a Registry on its own thread; 404 elsewhere.
class MetricsServer {
 public:
  // `registry` must outlive the server.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const Registry& registry,
                                                              const MetricsServerOptions& options);
  ~MetricsServer();  // Stop()
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  void Stop();
  uint16_t port() const { return server_->port(); }
  // Requests for /metrics answered (GET and HEAD).
  uint64_t scrapes() const { return scrapes_.load(std::memory_order_relaxed); }
  // Connections accepted, evicted, timed out, failed TLS handshakes.
  const http::ServerCounters& connection_counters() const { return server_->counters(); }

 private:
  MetricsServer() = default;
  std::atomic<uint64_t> scrapes_{0};
  std::unique_ptr<http::Server> server_;  // after scrapes_: its thread ends first
};

}  // namespace nf::metrics

#endif  // NF_METRICS_METRICS_SERVER_H_
