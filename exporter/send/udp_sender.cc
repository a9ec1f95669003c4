#include "exporter/send/udp_sender.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/ip_address.h"
#include "common/platform.h"

namespace nf {
namespace {

std::string NumericAddress(const sockaddr* sa, socklen_t len) {
  char host[NI_MAXHOST] = {0};
  char port[NI_MAXSERV] = {0};
  if (getnameinfo(sa, len, host, sizeof(host), port, sizeof(port),
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return "?";
  }
  return sa->sa_family == AF_INET6 ? absl::StrCat("[", host, "]:", port)
                                   : absl::StrCat(host, ":", port);
}

}  // namespace

absl::StatusOr<std::unique_ptr<UdpSender>> UdpSender::Create(
    const std::vector<std::string>& collectors) {
  if (collectors.empty()) return absl::InvalidArgumentError("no collector given (-c HOST:PORT)");
  std::unique_ptr<UdpSender> s(new UdpSender());
  for (const std::string& text : collectors) {
    absl::StatusOr<HostPort> hp = ParseHostPort(text);
    if (!hp.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad collector address '", text, "': ", hp.status().message()));
    }
    if (hp->port == 0) {
      return absl::InvalidArgumentError(absl::StrCat("bad collector address '", text, "': port 0"));
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_ADDRCONFIG;
    addrinfo* res = nullptr;
    const std::string port = std::to_string(hp->port);
    int rc = getaddrinfo(hp->host.c_str(), port.c_str(), &hints, &res);
    if (rc == EAI_ADDRFAMILY || rc == EAI_NONAME) {
      // AI_ADDRCONFIG hides ::1 on hosts without global IPv6; retry without it.
      hints.ai_flags = 0;
      rc = getaddrinfo(hp->host.c_str(), port.c_str(), &hints, &res);
    }
    if (rc == EAI_AGAIN) {
      // The resolver did not answer: a failed run (worth a restart), not a bad argument.
      return absl::UnavailableError(absl::StrCat("collector address '", text, "': cannot resolve ",
                                                 hp->host, " now: ", gai_strerror(rc)));
    }
    if (rc != 0 || res == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad collector address '", text, "': cannot resolve ", hp->host, ": ", gai_strerror(rc)));
    }
    const addrinfo* ai = res;
    const int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      const int err = errno;
      freeaddrinfo(res);
      return absl::InternalError(
          absl::StrCat("socket for collector ", text, ": ", std::strerror(err)));
    }
    // Never let the kernel fragment an export datagram: an oversize one fails with EMSGSIZE
    // and is counted, which is what --mtu promises. Best effort, as every socket option here.
    SetDontFragment(fd, ai->ai_family).IgnoreError();
    if (ai->ai_family != AF_INET) s->any_ipv6_ = true;
    int sndbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    CollectorStats st;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      st.connected = true;
    } else {
      const int err = errno;
      // No route yet (interface still down at boot, VPN not up): send later, count failures.
      if (err != ENETUNREACH && err != EHOSTUNREACH && err != ENETDOWN) {
        close(fd);
        freeaddrinfo(res);
        return absl::InvalidArgumentError(
            absl::StrCat("cannot reach collector ", text, ": ", std::strerror(err)));
      }
      st.last_errno = err;
    }
    Peer peer;
    std::memcpy(&peer.addr, ai->ai_addr, ai->ai_addrlen);
    peer.len = static_cast<socklen_t>(ai->ai_addrlen);
    s->peers_.push_back(peer);
    st.name = text;
    st.address = NumericAddress(ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(res);
    s->fds_.push_back(fd);
    s->stats_.push_back(std::move(st));
  }
  return s;
}

UdpSender::~UdpSender() {
  for (int fd : fds_) close(fd);
}

int UdpSender::Send(std::span<const uint8_t> datagram) {
  int failed = 0;
  for (size_t i = 0; i < fds_.size(); ++i) {
    CollectorStats& st = stats_[i];
    if (!st.connected) {
      // One route lookup per datagram while unreachable: cheap, and the first datagram after
      // the route appears goes out.
      if (connect(fds_[i], reinterpret_cast<const sockaddr*>(&peers_[i].addr), peers_[i].len) !=
          0) {
        ++st.send_errors;
        st.last_errno = errno;
        ++failed;
        continue;
      }
      st.connected = true;
    }
    ssize_t n;
    do {
      n = send(fds_[i], datagram.data(), datagram.size(), 0);
    } while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(datagram.size())) {
      ++st.datagrams;
      st.bytes += datagram.size();
    } else {
      // ECONNREFUSED (collector not listening, reported by ICMP on a later send), EMSGSIZE,
      // ENOBUFS...: counted, never fatal.
      ++st.send_errors;
      st.last_errno = n < 0 ? errno : EMSGSIZE;
      ++failed;
    }
  }
  return failed;
}

uint64_t UdpSender::send_errors() const {
  uint64_t n = 0;
  for (const CollectorStats& st : stats_) n += st.send_errors;
  return n;
}

}  // namespace nf
