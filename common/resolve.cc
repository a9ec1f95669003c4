#include "common/resolve.h"

#include <netdb.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace nf {

std::string NumericSocketAddress(const sockaddr* sa, socklen_t len) {
  char host[NI_MAXHOST] = {0};
  char port[NI_MAXSERV] = {0};
  if (getnameinfo(sa, len, host, sizeof(host), port, sizeof(port),
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return "?";
  }
  return sa->sa_family == AF_INET6 ? absl::StrCat("[", host, "]:", port)
                                   : absl::StrCat(host, ":", port);
}

absl::StatusOr<UdpDestination> ResolveUdpDestination(const HostPort& hp) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(hp.port);
  int rc = getaddrinfo(hp.host.c_str(), port.c_str(), &hints, &res);
  if (rc == EAI_NONAME || rc == EAI_FAMILY
#ifdef EAI_ADDRFAMILY
      || rc == EAI_ADDRFAMILY
#endif
  ) {
    hints.ai_flags = 0;
    rc = getaddrinfo(hp.host.c_str(), port.c_str(), &hints, &res);
  }
  if (rc == EAI_AGAIN) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve ", hp.host, " now: ", gai_strerror(rc)));
  }
  if (rc != 0 || res == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot resolve ", hp.host, ": ", gai_strerror(rc)));
  }
  UdpDestination d;
  std::memcpy(&d.address, res->ai_addr, res->ai_addrlen);
  d.length = static_cast<socklen_t>(res->ai_addrlen);
  d.numeric = NumericSocketAddress(res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  return d;
}

}  // namespace nf
