// nf-blast: replays the UDP payloads of a capture (export datagrams, e.g. what dumpcap recorded
// from flowexport) to a collector on loopback as fast as one core can send them, PASSES times
// over, with sendmmsg. collect_bench.sh -S uses it to saturate receivers: a Python sender was
// slower than flowcollect decodes, so the receiver idled between wake-ups and records per
// CPU-second measured wake-ups, not capacity.
//
// Loopback only (127.0.0.0/8 or ::1): anything else is refused. Bounded by the capture's
// datagrams times PASSES. Prints the number of datagrams sent.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "common/ip_address.h"
#include "capture/packet_parser.h"
#include "capture/pcap_source.h"

namespace nf {
namespace {

struct Payload {
  size_t offset;
  size_t length;
};

int Run(int argc, char** argv) {
  CLI::App app{"nf-blast: replay a capture's UDP payloads to a loopback collector, flat out"};
  std::string file;
  std::string target;
  int passes = 1;
  int batch = 64;
  uint16_t port_filter = 0;
  app.add_option("-r,--read", file, "capture of export traffic (pcap or pcapng)")->required();
  app.add_option("-c,--collector", target, "ADDR:PORT on loopback (127.0.0.0/8 or [::1])")
      ->required();
  app.add_option("-p,--passes", passes, "send the capture's datagrams this many times")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("-b,--batch", batch, "datagrams per sendmmsg call")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--port", port_filter, "only UDP datagrams to this destination port (0 = any)");
  CLI11_PARSE(app, argc, argv);

  auto endpoint = ParseHostPort(target);
  absl::StatusOr<IpAddress> address =
      endpoint.ok() ? ParseIpAddress(endpoint->host) : absl::StatusOr<IpAddress>(endpoint.status());
  if (!address.ok()) {
    std::fprintf(stderr, "nf-blast: %s: %s\n", target.c_str(),
                 std::string(address.status().message()).c_str());
    return 2;
  }
  sockaddr_storage to{};
  socklen_t to_len = 0;
  const IpAddress& a = *address;
  if (a.is_v4()) {
    if ((a.v4_host_order() >> 24) != 127) {
      std::fprintf(stderr, "nf-blast: %s is not a loopback address\n", target.c_str());
      return 2;
    }
    auto* s4 = reinterpret_cast<sockaddr_in*>(&to);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(endpoint->port);
    s4->sin_addr.s_addr = htonl(a.v4_host_order());
    to_len = sizeof(sockaddr_in);
  } else {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&to);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(endpoint->port);
    std::memcpy(&s6->sin6_addr, a.bytes.data(), 16);
    if (!IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr)) {
      std::fprintf(stderr, "nf-blast: %s is not a loopback address\n", target.c_str());
      return 2;
    }
    to_len = sizeof(sockaddr_in6);
  }

  // Every payload into one buffer first, so sending is not slowed by reading.
  auto source = PcapSource::OpenOffline({file});
  if (!source.ok()) {
    std::fprintf(stderr, "nf-blast: %s\n", std::string(source.status().message()).c_str());
    return 1;
  }
  std::vector<uint8_t> bytes;
  std::vector<Payload> payloads;
  uint64_t skipped = 0;
  for (;;) {
    auto n = (*source)->Dispatch(4096, [&](const RawPacket& p) {
      PacketMeta meta;
      if (ParsePacket(p.data, p.caplen, p.wire_len, p.link, meta) != ParseResult::kOk ||
          meta.protocol != 17 || meta.payload_offset == 0 || meta.is_non_first_fragment() ||
          meta.payload_offset > p.caplen || meta.payload_length > p.caplen - meta.payload_offset ||
          (port_filter != 0 && meta.dst_port != port_filter)) {
        ++skipped;
        return;
      }
      payloads.push_back(Payload{bytes.size(), meta.payload_length});
      bytes.insert(bytes.end(), p.data + meta.payload_offset,
                   p.data + meta.payload_offset + meta.payload_length);
    });
    if (!n.ok()) {
      if (absl::IsOutOfRange(n.status())) break;
      std::fprintf(stderr, "nf-blast: %s\n", std::string(n.status().message()).c_str());
      return 1;
    }
  }
  if (payloads.empty()) {
    std::fprintf(stderr, "nf-blast: no UDP datagrams in %s (%llu other packets)\n", file.c_str(),
                 static_cast<unsigned long long>(skipped));
    return 1;
  }

  const int fd = socket(to.ss_family, SOCK_DGRAM, 0);
  if (fd < 0) {
    std::perror("nf-blast: socket");
    return 1;
  }
  // Large send buffer: the sender should block on the receiver's queue, not its own.
  const int sndbuf = 16 << 20;
  (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
  std::vector<mmsghdr> msgs(static_cast<size_t>(batch));
  std::vector<iovec> iovs(static_cast<size_t>(batch));
  uint64_t sent = 0;
  uint64_t errors = 0;
  const size_t total = payloads.size() * static_cast<size_t>(passes);
  size_t next = 0;
  while (next < total) {
    const size_t n = std::min<size_t>(static_cast<size_t>(batch), total - next);
    for (size_t i = 0; i < n; ++i) {
      const Payload& pl = payloads[(next + i) % payloads.size()];
      iovs[i] = iovec{bytes.data() + pl.offset, pl.length};
      msgs[i] = mmsghdr{};
      msgs[i].msg_hdr.msg_name = &to;
      msgs[i].msg_hdr.msg_namelen = to_len;
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int r = sendmmsg(fd, msgs.data(), static_cast<unsigned>(n), 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      // ECONNREFUSED (an ICMP from an earlier datagram: nobody listening) and ENOBUFS: the
      // first datagram of the batch is lost; skip it so the loop always ends.
      ++errors;
      ++next;
      continue;
    }
    sent += static_cast<uint64_t>(r);
    next += static_cast<size_t>(r);
  }
  close(fd);
  if (errors > 0) {
    std::fprintf(stderr, "nf-blast: %llu datagrams not sent (send errors)\n",
                 static_cast<unsigned long long>(errors));
  }
  std::printf("%llu\n", static_cast<unsigned long long>(sent));
  return 0;
}

}  // namespace
}  // namespace nf

int main(int argc, char** argv) { return nf::Run(argc, argv); }
