// A minimal blocking HTTP/1.1 client for ClickHouse's HTTP interface (POST a query with a body,
// read the status and body). Plain POSIX sockets with connect/send/receive timeouts; it runs on
// the ClickHouse sender thread only, never on the decode path.
//
// Why not a library: Debian 12 has no HTTP client we may depend on, and ClickHouse needs only
// one request shape (`POST /?database=..&query=INSERT.. ` with a binary body, `Connection:
// close`). What matters for exactly-once delivery is *where* a request failed, so the result
// says whether any byte of the request may have reached the server (`may_have_arrived`).
#ifndef NF_COLLECTOR_OUTPUT_CLICKHOUSE_HTTP_CLIENT_H_
#define NF_COLLECTOR_OUTPUT_CLICKHOUSE_HTTP_CLIENT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace nf::clickhouse {

// "http://HOST[:PORT]/[PATH][?QUERY]". HOST may be a name, an IPv4 address or [IPv6].
struct HttpUrl {
  std::string host;
  uint16_t port = 8123;
  std::string path = "/";
  // Query parameters as given (already URL-encoded), e.g. "database=netflow&user=x".
  std::string query;
  // The value of one query parameter (URL-decoded), or "" when absent.
  std::string Param(absl::string_view name) const;
  // The URL without credentials (for logs and metrics labels).
  std::string Redacted() const;
};
absl::StatusOr<HttpUrl> ParseHttpUrl(absl::string_view url);

// Percent-encodes everything except unreserved characters (RFC 3986).
std::string UrlEncode(absl::string_view s);

struct HttpResult {
  // OK when a complete response arrived (whatever its status code).
  absl::Status status;
  // False when the request certainly did not reach the server (name resolution or connect
  // failed); true once sending started. A batch whose request may have arrived can already be
  // in the table even without a response.
  bool may_have_arrived = false;
  int code = 0;      // HTTP status code
  std::string body;  // de-chunked response body (bounded)
};

struct HttpOptions {
  int connect_timeout_ms = 3000;
  int io_timeout_ms = 30000;  // per send()/recv() call
  size_t max_response_bytes = 4 << 20;
};

// POSTs `body` to `url` with the extra query parameters `params` (name, raw value) appended to
// the URL's own ones.
HttpResult HttpPost(const HttpUrl& url,
                    const std::vector<std::pair<std::string, std::string>>& params,
                    absl::string_view body, const HttpOptions& options = {});

}  // namespace nf::clickhouse

#endif  // NF_COLLECTOR_OUTPUT_CLICKHOUSE_HTTP_CLIENT_H_
