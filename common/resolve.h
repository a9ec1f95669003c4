// Resolving a HOST:PORT typed by a user into a UDP destination, the same way wherever the
// project sends datagrams (flowexport's collectors, flowcollect's --forward copies).
#ifndef NF_COMMON_RESOLVE_H_
#define NF_COMMON_RESOLVE_H_

#include <sys/socket.h>

#include <string>

#include "absl/status/statusor.h"
#include "common/ip_address.h"

namespace nf {

struct UdpDestination {
  sockaddr_storage address{};
  socklen_t length = 0;
  std::string numeric;  // "192.0.2.1:2055" or "[2001:db8::1]:2055"
};

// The first address getaddrinfo gives for `hp`. AI_ADDRCONFIG first (no IPv6 answer on a host
// without IPv6), then without it, because AI_ADDRCONFIG also hides ::1 on hosts whose only
// IPv6 is loopback. The message says "cannot resolve HOST[ now]: reason" for the caller to
// prefix; a resolver that did not answer is Unavailable (worth a retry), anything else
// InvalidArgument.
absl::StatusOr<UdpDestination> ResolveUdpDestination(const HostPort& hp);

// "HOST:PORT" / "[HOST]:PORT" of a socket address, numeric; "?" when it cannot be shown.
std::string NumericSocketAddress(const sockaddr* sa, socklen_t len);

}  // namespace nf

#endif  // NF_COMMON_RESOLVE_H_
