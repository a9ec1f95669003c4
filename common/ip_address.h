// A compact IPv4/IPv6 address value and the address/port text forms users type.
//
// IpAddress is trivially copyable (17 bytes of payload) so it can live inside flow keys and
// records that cross threads by value. Parsing functions return absl::StatusOr with a message
// that names the offending text, for command-line and config boundaries.
#ifndef NF_COMMON_IP_ADDRESS_H_
#define NF_COMMON_IP_ADDRESS_H_

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace nf {

struct IpAddress {
  // 4 or 6; 0 means unset.
  uint8_t version = 0;
  // IPv4 uses the first 4 bytes; the rest stay zero so whole-struct comparison works.
  std::array<uint8_t, 16> bytes{};

  static IpAddress V4(const uint8_t* network_order) {
    IpAddress a;
    a.version = 4;
    std::memcpy(a.bytes.data(), network_order, 4);
    return a;
  }
  static IpAddress V4(uint32_t host_order) {
    IpAddress a;
    a.version = 4;
    a.bytes[0] = static_cast<uint8_t>(host_order >> 24);
    a.bytes[1] = static_cast<uint8_t>(host_order >> 16);
    a.bytes[2] = static_cast<uint8_t>(host_order >> 8);
    a.bytes[3] = static_cast<uint8_t>(host_order);
    return a;
  }
  static IpAddress V6(const uint8_t* network_order) {
    IpAddress a;
    a.version = 6;
    std::memcpy(a.bytes.data(), network_order, 16);
    return a;
  }
  bool is_v4() const { return version == 4; }
  bool is_v6() const { return version == 6; }
  // ::ffff:a.b.c.d, an IPv4 address in IPv6 form (dual-stack sockets, some exporters' files).
  bool is_v4_mapped() const {
    static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return is_v6() && std::memcmp(bytes.data(), kPrefix, sizeof(kPrefix)) == 0;
  }
  // The IPv4 address of an IPv4-mapped one; any other address unchanged.
  IpAddress Unmapped() const { return is_v4_mapped() ? V4(bytes.data() + 12) : *this; }
  uint32_t v4_host_order() const {
    return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
           bytes[3];
  }
  // Canonical text: dotted quad, or RFC 5952 IPv6. Empty for an unset address.
  std::string ToString() const;
  // Appends the text form to `out` without allocating beyond `out`'s growth (CSV hot path).
  void AppendTo(std::string& out) const;

  // Two 8-byte compares: the defaulted == compared the bytes through a memcmp call, which
  // showed in per-record profiles (exporter lookups, CSV identity text).
  friend bool operator==(const IpAddress& a, const IpAddress& b) {
    uint64_t a0, a1, b0, b1;
    std::memcpy(&a0, a.bytes.data(), 8);
    std::memcpy(&a1, a.bytes.data() + 8, 8);
    std::memcpy(&b0, b.bytes.data(), 8);
    std::memcpy(&b1, b.bytes.data() + 8, 8);
    return a.version == b.version && ((a0 ^ b0) | (a1 ^ b1)) == 0;
  }
  template <typename H>
  friend H AbslHashValue(H h, const IpAddress& a) {
    return H::combine(std::move(h), a.version, a.bytes);
  }
};

// Parses "192.0.2.1" or "2001:db8::1".
absl::StatusOr<IpAddress> ParseIpAddress(absl::string_view text);

// A host and port as typed on a command line: "HOST:PORT", "[V6]:PORT", or (when
// `default_host` is given) a bare "PORT".
struct HostPort {
  std::string host;
  uint16_t port = 0;
};
absl::StatusOr<HostPort> ParseHostPort(absl::string_view text, absl::string_view default_host = {});

// Applies a prefix mask (e.g. /24) to an address: bits past `prefix_len` become zero.
IpAddress MaskAddress(const IpAddress& address, int prefix_len);

}  // namespace nf

#endif  // NF_COMMON_IP_ADDRESS_H_
