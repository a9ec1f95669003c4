// nf::http URLs: "http[s]://HOST[:PORT]/[PATH][?QUERY]" parsed into parts, query parameters read
// and percent-encoded, and the URL shown without secrets (for logs, stats and metric labels).
#ifndef NF_HTTP_URL_H_
#define NF_HTTP_URL_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace nf::http {

struct Url {
  bool tls = false;  // https
  std::string host;  // a name, an IPv4 address or an IPv6 address (without brackets)
  uint16_t port = 0;
  std::string path = "/";
  // Query parameters as given (already URL-encoded), e.g. "database=netflow&user=x".
  std::string query;

  // The value of one query parameter (URL-decoded), or "" when absent.
  std::string Param(absl::string_view name) const;
  bool HasParam(absl::string_view name) const;
  // A copy without the parameter `name`.
  Url WithoutParam(absl::string_view name) const;
  // "HOST:PORT" with IPv6 in brackets, as the Host header wants it.
  std::string Authority() const;
  // The URL with the value of every `password` parameter replaced by "***".
  std::string Redacted() const;
};

// Ports taken when the URL names none.
struct DefaultPorts {
  uint16_t http = 80;
  uint16_t https = 443;
};
// Credentials in the authority ("user:pass@host") are refused: they would be sent nowhere.
absl::StatusOr<Url> ParseUrl(absl::string_view url, DefaultPorts defaults = {});

// Percent-encodes everything except unreserved characters (RFC 3986).
std::string UrlEncode(absl::string_view s);
// Decodes %XX and '+' (form encoding, as query strings use it).
std::string UrlDecode(absl::string_view s);

}  // namespace nf::http

#endif  // NF_HTTP_URL_H_
