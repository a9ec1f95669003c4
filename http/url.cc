#include "http/url.h"

#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace nf::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::pair<absl::string_view, absl::string_view> SplitParam(absl::string_view kv) {
  return absl::StrSplit(kv, absl::MaxSplits('=', 1));
}

}  // namespace

std::string UrlDecode(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 &&
               HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string UrlEncode(absl::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string Url::Param(absl::string_view name) const {
  for (absl::string_view kv : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    auto [key, value] = SplitParam(kv);
    if (key == name) return UrlDecode(value);
  }
  return "";
}

bool Url::HasParam(absl::string_view name) const {
  for (absl::string_view kv : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    if (SplitParam(kv).first == name) return true;
  }
  return false;
}

Url Url::WithoutParam(absl::string_view name) const {
  std::vector<absl::string_view> kept;
  for (absl::string_view kv : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    if (SplitParam(kv).first != name) kept.push_back(kv);
  }
  Url out = *this;
  out.query = absl::StrJoin(kept, "&");
  return out;
}

std::string Url::Authority() const {
  bool v6 = host.find(':') != std::string::npos;
  return absl::StrCat(v6 ? "[" : "", host, v6 ? "]" : "", ":", port);
}

std::string Url::Redacted() const {
  std::vector<std::string> parts;
  for (absl::string_view kv : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    absl::string_view key = SplitParam(kv).first;
    parts.push_back(key == "password" ? absl::StrCat(key, "=***") : std::string(kv));
  }
  return absl::StrCat(tls ? "https://" : "http://", Authority(), path, parts.empty() ? "" : "?",
                      absl::StrJoin(parts, "&"));
}

absl::StatusOr<Url> ParseUrl(absl::string_view url, DefaultPorts defaults) {
  Url out;
  absl::string_view rest = url;
  if (absl::ConsumePrefix(&rest, "https://")) {
    out.tls = true;
  } else if (!absl::ConsumePrefix(&rest, "http://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("URL must start with http:// or https:// (got '", url, "')"));
  }
  size_t slash = rest.find_first_of("/?");
  absl::string_view authority = rest.substr(0, slash);
  absl::string_view tail = slash == absl::string_view::npos ? "" : rest.substr(slash);
  if (authority.find('@') != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        "credentials in the URL's host part are not supported; give them as options");
  }
  absl::string_view host = authority;
  absl::string_view port_text;
  if (absl::ConsumePrefix(&host, "[")) {
    size_t close_bracket = host.find(']');
    if (close_bracket == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("bad IPv6 host in '", url, "'"));
    }
    absl::string_view after = host.substr(close_bracket + 1);
    host = host.substr(0, close_bracket);
    if (!after.empty()) {
      if (after[0] != ':') return absl::InvalidArgumentError(absl::StrCat("bad host in '", url, "'"));
      port_text = after.substr(1);
    }
  } else {
    size_t colon = host.find(':');
    if (colon != absl::string_view::npos) {
      port_text = host.substr(colon + 1);
      host = host.substr(0, colon);
    }
  }
  if (host.empty()) return absl::InvalidArgumentError(absl::StrCat("no host in '", url, "'"));
  out.host = std::string(host);
  out.port = out.tls ? defaults.https : defaults.http;
  if (!port_text.empty()) {
    uint32_t port = 0;
    if (!absl::SimpleAtoi(port_text, &port) || port == 0 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("bad port in '", url, "'"));
    }
    out.port = static_cast<uint16_t>(port);
  }
  size_t q = tail.find('?');
  absl::string_view path = tail.substr(0, q);
  out.path = path.empty() ? "/" : std::string(path);
  if (q != absl::string_view::npos) out.query = std::string(tail.substr(q + 1));
  return out;
}

}  // namespace nf::http
