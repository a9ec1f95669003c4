#include "common/ip_address.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <charconv>

#include "absl/strings/str_cat.h"

namespace nf {

std::string IpAddress::ToString() const {
  std::string out;
  AppendTo(out);
  return out;
}

void IpAddress::AppendTo(std::string& out) const {
  char buf[INET6_ADDRSTRLEN];
  if (version == 4) {
    if (inet_ntop(AF_INET, bytes.data(), buf, sizeof(buf)) != nullptr) out.append(buf);
  } else if (version == 6) {
    if (inet_ntop(AF_INET6, bytes.data(), buf, sizeof(buf)) != nullptr) out.append(buf);
  }
}

absl::StatusOr<IpAddress> ParseIpAddress(absl::string_view text) {
  std::string s(text);
  IpAddress a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.version = 4;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.version = 6;
    return a;
  }
  return absl::InvalidArgumentError(absl::StrCat("not an IPv4 or IPv6 address: '", text, "'"));
}

namespace {
absl::StatusOr<uint16_t> ParsePort(absl::string_view text, absl::string_view whole) {
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || value == 0 ||
      value > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad port '", text, "' in '", whole, "' (expected 1..65535)"));
  }
  return static_cast<uint16_t>(value);
}
}  // namespace

absl::StatusOr<HostPort> ParseHostPort(absl::string_view text, absl::string_view default_host) {
  HostPort hp;
  if (text.empty()) return absl::InvalidArgumentError("empty address");
  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == absl::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return absl::InvalidArgumentError(
          absl::StrCat("bad address '", text, "' (expected [IPv6]:PORT)"));
    }
    hp.host = std::string(text.substr(1, close - 1));
    if (hp.host.empty()) return absl::InvalidArgumentError(absl::StrCat("empty host in '", text, "'"));
    auto port = ParsePort(text.substr(close + 2), text);
    if (!port.ok()) return port.status();
    hp.port = *port;
    return hp;
  }
  size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) {
    if (default_host.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("bad address '", text, "' (expected HOST:PORT)"));
    }
    auto port = ParsePort(text, text);
    if (!port.ok()) return port.status();
    hp.host = std::string(default_host);
    hp.port = *port;
    return hp;
  }
  if (text.find(':') != colon) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad address '", text, "' (write IPv6 as [ADDR]:PORT)"));
  }
  hp.host = std::string(text.substr(0, colon));
  if (hp.host.empty()) {
    if (default_host.empty()) return absl::InvalidArgumentError(absl::StrCat("empty host in '", text, "'"));
    hp.host = std::string(default_host);
  }
  auto port = ParsePort(text.substr(colon + 1), text);
  if (!port.ok()) return port.status();
  hp.port = *port;
  return hp;
}

IpAddress MaskAddress(const IpAddress& address, int prefix_len) {
  IpAddress out = address;
  const int total_bits = address.version == 4 ? 32 : 128;
  if (prefix_len < 0) prefix_len = 0;
  if (prefix_len >= total_bits) return out;
  const int total_bytes = total_bits / 8;
  for (int i = 0; i < total_bytes; ++i) {
    const int bit_start = i * 8;
    if (bit_start >= prefix_len) {
      out.bytes[i] = 0;
    } else if (bit_start + 8 > prefix_len) {
      const int keep = prefix_len - bit_start;
      out.bytes[i] &= static_cast<uint8_t>(0xff << (8 - keep));
    }
  }
  return out;
}

}  // namespace nf
