// nf::http client: blocking HTTP/1.1 requests to one server (http or https), each step bounded by
// a timeout, over a connection kept alive between requests. Built for senders that must know
// what a failure means: the result says whether any byte of the request may have reached the
// server (`may_have_arrived`), which is what exactly-once delivery decides on.
//
// Keep-alive: an idle connection the server has closed (or written to) is noticed before it is
// reused, and a new one is opened, so a server restart between requests costs nothing. When the
// server goes away in the instant between that check and the request, the request fails with
// `may_have_arrived` set, as any request that dies in flight does. Not thread-safe: one client
// per thread.
#ifndef NF_HTTP_CLIENT_H_
#define NF_HTTP_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "http/url.h"

namespace nf::http {

struct ClientOptions {
  int connect_timeout_ms = 3000;  // TCP connect, and then the TLS handshake
  int io_timeout_ms = 30000;      // writing the request; then reading the whole response
  size_t max_response_bytes = 4 << 20;
  std::string ca_file;            // https: trust this CA bundle instead of the system's
  bool keep_alive = true;
};

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Result {
  // OK when a complete response arrived, whatever its status code.
  absl::Status status;
  // False when the request certainly did not reach the server (resolution, connect or the TLS
  // handshake failed); true once writing it began.
  bool may_have_arrived = false;
  int code = 0;      // HTTP status code
  std::string body;  // de-chunked response body (bounded)
};

class Client {
 public:
  // Loads the TLS context for https URLs (a bad CA bundle is an error here); connects lazily.
  static absl::StatusOr<std::unique_ptr<Client>> Create(Url url, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // `target` is the path with its query ("/?query=..").
  Result Post(absl::string_view target, const Headers& headers, absl::string_view body);
  Result Get(absl::string_view target, const Headers& headers = {});

  const Url& url() const;
  // Connections opened so far (keep-alive makes this smaller than the request count).
  uint64_t connections_opened() const;

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace nf::http

#endif  // NF_HTTP_CLIENT_H_
