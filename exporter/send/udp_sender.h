// UDP delivery of export datagrams to one or more collectors.
//
// Every collector gets every datagram (no load balancing, so each sees a gap-free v9
// sequence). Collectors are given as "HOST:PORT", "[V6]:PORT" or "name:PORT" and resolved once
// at start. Sockets are connected UDP sockets with fragmentation disabled (the encoder keeps
// datagrams under the MTU). A failed send is counted per collector and never fatal: a
// collector that is down must not stop metering. A collector without a route at start
// (ENETUNREACH, EHOSTUNREACH: link not up yet) is not fatal either: its socket connects on a
// later send once a route exists; until then every datagram counts as a send error.
#ifndef NF_EXPORTER_SEND_UDP_SENDER_H_
#define NF_EXPORTER_SEND_UDP_SENDER_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <sys/socket.h>

#include "absl/status/statusor.h"

namespace nf {

struct CollectorStats {
  std::string name;     // as given on the command line
  std::string address;  // resolved numeric address and port
  uint64_t datagrams = 0;
  uint64_t bytes = 0;
  uint64_t send_errors = 0;
  int last_errno = 0;
  bool connected = false;  // false while there is no route to it
};

class UdpSender {
 public:
  // Resolves and connects every collector; the error names the bad one.
  static absl::StatusOr<std::unique_ptr<UdpSender>> Create(
      const std::vector<std::string>& collectors);
  ~UdpSender();
  UdpSender(const UdpSender&) = delete;
  UdpSender& operator=(const UdpSender&) = delete;

  // Sends `datagram` to every collector. Returns the number of collectors that failed.
  int Send(std::span<const uint8_t> datagram);

  // True when any collector is reached over IPv6 (its IP+UDP overhead is 48 bytes, not 28).
  bool any_ipv6() const { return any_ipv6_; }
  const std::vector<CollectorStats>& stats() const { return stats_; }
  uint64_t send_errors() const;

 private:
  UdpSender() = default;
  struct Peer {
    sockaddr_storage addr;
    socklen_t len = 0;
  };
  std::vector<int> fds_;
  std::vector<Peer> peers_;
  std::vector<CollectorStats> stats_;
  bool any_ipv6_ = false;
};

}  // namespace nf

#endif  // NF_EXPORTER_SEND_UDP_SENDER_H_
