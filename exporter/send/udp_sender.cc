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
#include "common/resolve.h"

namespace nf {

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
    absl::StatusOr<UdpDestination> resolved = ResolveUdpDestination(*hp);
    if (!resolved.ok()) {
      // A resolver that did not answer is a failed run (worth a restart), not a bad argument.
      const bool later = absl::IsUnavailable(resolved.status());
      return absl::Status(resolved.status().code(),
                          absl::StrCat(later ? "collector address '" : "bad collector address '",
                                       text, "': ", resolved.status().message()));
    }
    const auto* addr = reinterpret_cast<const sockaddr*>(&resolved->address);
    const int family = resolved->address.ss_family;
    const int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      const int err = errno;
      return absl::InternalError(
          absl::StrCat("socket for collector ", text, ": ", std::strerror(err)));
    }
    // Never let the kernel fragment an export datagram: an oversize one fails with EMSGSIZE
    // and is counted, which is what --mtu promises. Best effort, as every socket option here.
    SetDontFragment(fd, family).IgnoreError();
    if (family != AF_INET) s->any_ipv6_ = true;
    int sndbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    CollectorStats st;
    if (connect(fd, addr, resolved->length) == 0) {
      st.connected = true;
    } else {
      const int err = errno;
      // No route yet (interface still down at boot, VPN not up): send later, count failures.
      if (err != ENETUNREACH && err != EHOSTUNREACH && err != ENETDOWN) {
        close(fd);
        return absl::InvalidArgumentError(
            absl::StrCat("cannot reach collector ", text, ": ", std::strerror(err)));
      }
      st.last_errno = err;
    }
    Peer peer;
    std::memcpy(&peer.addr, &resolved->address, resolved->length);
    peer.len = resolved->length;
    s->peers_.push_back(peer);
    st.name = text;
    st.address = resolved->numeric;
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
