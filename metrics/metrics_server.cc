#include "metrics/metrics_server.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace nf::metrics {

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const Registry& registry, const MetricsServerOptions& options) {
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  auto handler = [&registry, scrapes = &server->scrapes_](const http::ServerRequest& request) {
    http::ServerResponse response;
    if (request.path == "/metrics") {
      response.content_type = "text/plain; version=0.0.4; charset=utf-8";
      response.body = registry.Render();
      scrapes->fetch_add(1, std::memory_order_relaxed);
    } else if (request.path == "/") {
      response.content_type = "text/html; charset=utf-8";
      response.body = "<html><body><a href=\"/metrics\">metrics</a></body></html>\n";
    } else {
      response.code = 404;
      response.body = "not found: try /metrics\n";
    }
    return response;
  };
  auto http_server = http::Server::Start(options, std::move(handler));
  if (!http_server.ok()) {
    return absl::Status(http_server.status().code(),
                        absl::StrCat("metrics endpoint: ", http_server.status().message()));
  }
  server->server_ = *std::move(http_server);
  return server;
}

MetricsServer::~MetricsServer() { Stop(); }

void MetricsServer::Stop() {
  if (server_ != nullptr) server_->Stop();
}

}  // namespace nf::metrics
