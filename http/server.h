// nf::http server: a small HTTP/1.1 server on its own thread (Boost.Beast), optionally over TLS,
// for endpoints scraped by monitoring (GET and HEAD). Its resources are bounded whatever clients
// do: at most `max_connections` are held, and when a new one would pass the bound, the oldest
// connection still waiting for its request is closed to make room, so a flood of idle or
// half-sent connections cannot lock a real scraper out. A request head must arrive whole within
// `request_timeout_ms` (also the idle time allowed between kept-alive requests), and a response
// must be taken within `write_timeout_ms`.
#ifndef NF_HTTP_SERVER_H_
#define NF_HTTP_SERVER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace nf::http {

struct ServerRequest {
  std::string method;  // "GET" or "HEAD" (others are answered 405 before the handler)
  std::string target;  // as sent, with the query
  std::string path;    // the target without the query
};

struct ServerResponse {
  int code = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Runs on the server thread, one request at a time.
using Handler = std::function<ServerResponse(const ServerRequest&)>;

struct ServerOptions {
  // "[ADDR:]PORT"; a bare PORT listens on every IPv4 address; port 0 picks a free port.
  std::string listen;
  // Both or neither: PEM certificate chain and key; then every connection speaks TLS.
  std::string tls_cert_file;
  std::string tls_key_file;
  size_t max_connections = 256;
  int request_timeout_ms = 10000;
  int write_timeout_ms = 10000;
  size_t max_request_bytes = 8192;
};

struct ServerCounters {
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> evicted{0};     // closed to make room under max_connections
  std::atomic<uint64_t> timed_out{0};   // request or response took too long
  std::atomic<uint64_t> tls_failed{0};  // handshakes that failed
  std::atomic<uint64_t> open{0};        // gauge
};

class Server {
 public:
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerOptions& options,
                                                       Handler handler);
  ~Server();  // Stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  void Stop();
  uint16_t port() const { return port_; }
  const ServerCounters& counters() const { return counters_; }

  struct Impl;  // the server thread's state (server.cc only)

 private:
  Server() = default;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
  uint16_t port_ = 0;
  ServerCounters counters_;
};

// "[ADDR:]PORT" (ADDR may be [IPv6]); a bare PORT gives 0.0.0.0.
absl::Status ParseListenAddress(absl::string_view text, std::string& host, uint16_t& port);

}  // namespace nf::http

#endif  // NF_HTTP_SERVER_H_
