// Test helper: a UDP socket on 127.0.0.1 that collects what an exporter sends, synchronously
// (testing::UdpSink in test_support.h receives on a thread instead, for long runs). Bound (with a big
// receive buffer) before the exporter starts, so no datagram is lost while a synchronous run
// exports; Drain returns everything queued.
#ifndef NF_TESTS_SUPPORT_UDP_RECEIVER_H_
#define NF_TESTS_SUPPORT_UDP_RECEIVER_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace nf::testing {

class UdpReceiver {
 public:
  UdpReceiver() {
    fd_ = socket(AF_INET, SOCK_DGRAM, 0);
    int buf = 8 << 20;
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    socklen_t len = sizeof(a);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~UdpReceiver() { close(fd_); }
  UdpReceiver(const UdpReceiver&) = delete;
  UdpReceiver& operator=(const UdpReceiver&) = delete;

  uint16_t port() const { return port_; }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  std::vector<std::vector<uint8_t>> Drain() {
    std::vector<std::vector<uint8_t>> out;
    for (int i = 0; i < 1000000; ++i) {
      std::vector<uint8_t> b(65536);
      const ssize_t n = recv(fd_, b.data(), b.size(), MSG_DONTWAIT);
      if (n < 0) break;
      b.resize(static_cast<size_t>(n));
      out.push_back(std::move(b));
    }
    return out;
  }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

}  // namespace nf::testing

#endif  // NF_TESTS_SUPPORT_UDP_RECEIVER_H_
