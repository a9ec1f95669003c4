// The --forward datagram forwarder on loopback: a UDP sink receives exactly the datagrams pushed,
// byte for byte and in order; counters; a full ring drops and counts; Stop drains (or counts what
// it could not send); the UDP checksum of the headers built for --forward-keep-source; and, with
// CAP_NET_RAW, copies that arrive with the original exporter's source address and port (IPv4 and
// IPv6) and a valid UDP checksum as seen on the wire.
#include "collector/receive/datagram_forwarder.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace nf {
namespace {

constexpr size_t kQueueFull = static_cast<size_t>(ForwardDrop::kQueueFull);
constexpr size_t kFamilyMismatch = static_cast<size_t>(ForwardDrop::kFamilyMismatch);
constexpr size_t kTooLarge = static_cast<size_t>(ForwardDrop::kTooLarge);
constexpr size_t kStopTimeout = static_cast<size_t>(ForwardDrop::kStopTimeout);

// Datagram `i`: its own length and bytes, so a reorder, a loss or a corruption shows.
std::vector<uint8_t> Payload(size_t i, size_t size) {
  std::vector<uint8_t> d(size);
  for (size_t k = 0; k < size; ++k) d[k] = static_cast<uint8_t>(i * 31 + k * 7);
  if (size >= 4) {
    d[0] = static_cast<uint8_t>(i >> 24);
    d[1] = static_cast<uint8_t>(i >> 16);
    d[2] = static_cast<uint8_t>(i >> 8);
    d[3] = static_cast<uint8_t>(i);
  }
  return d;
}

ExporterId Source(const char* address, uint16_t port) {
  ExporterId e;
  e.address = *ParseIpAddress(address);
  e.port = port;
  return e;
}

std::unique_ptr<DatagramForwarder> MakeForwarder(const std::vector<std::string>& to,
                                                 bool keep_source = false,
                                                 size_t ring_bytes = size_t{8} << 20) {
  ForwardOptions o;
  o.destinations = to;
  o.keep_source = keep_source;
  o.ring_bytes = ring_bytes;
  absl::StatusOr<std::unique_ptr<DatagramForwarder>> f = DatagramForwarder::Create(o);
  EXPECT_TRUE(f.ok()) << f.status();
  return f.ok() ? *std::move(f) : nullptr;
}

// An independent RFC 768 checksum check: the one's-complement sum of pseudo-header, UDP header
// (checksum included) and payload is 0xFFFF when the checksum is right.
uint16_t Sum16(const std::vector<uint8_t>& bytes) {
  uint32_t sum = 0;
  for (size_t i = 0; i < bytes.size(); i += 2) {
    sum += static_cast<uint32_t>(bytes[i]) << 8;
    if (i + 1 < bytes.size()) sum += bytes[i + 1];
  }
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}
bool UdpChecksumValid(const uint8_t* src, const uint8_t* dst, size_t address_len,
                      const uint8_t* udp, size_t udp_len) {
  std::vector<uint8_t> v(src, src + address_len);
  v.insert(v.end(), dst, dst + address_len);
  v.push_back(0);
  v.push_back(IPPROTO_UDP);
  v.push_back(static_cast<uint8_t>(udp_len >> 8));
  v.push_back(static_cast<uint8_t>(udp_len));
  v.insert(v.end(), udp, udp + udp_len);
  return Sum16(v) == 0xFFFF;
}

TEST(DatagramForwarderTest, SinkReceivesEveryDatagramInOrderByteForByte) {
  testing::UdpSink sink;
  std::string error;
  ASSERT_TRUE(sink.Open(&error)) << error;
  auto f = MakeForwarder({absl::StrCat("127.0.0.1:", sink.port())});
  ASSERT_NE(f, nullptr);
  f->Start();
  std::vector<std::vector<uint8_t>> sent;
  uint64_t bytes = 0;
  const ExporterId from = Source("192.0.2.7", 2055);
  for (size_t i = 0; i < 3000; ++i) {
    // Sizes from 1 to 1,500 and a few large ones, so entries wrap around the ring.
    sent.push_back(Payload(i, i % 97 == 0 ? 30000 : 1 + (i * 37) % 1500));
    bytes += sent.back().size();
    f->Push(0, sent.back(), from);
    if (i % 256 == 255) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  f->Stop();
  const std::vector<std::vector<uint8_t>> got = sink.Finish();
  ASSERT_EQ(got.size(), sent.size());
  for (size_t i = 0; i < sent.size(); ++i) ASSERT_EQ(got[i], sent[i]) << "datagram " << i;
  const ForwardStats s = f->Stats();
  ASSERT_EQ(s.destinations.size(), 1u);
  EXPECT_EQ(s.destinations[0].datagrams, sent.size());
  EXPECT_EQ(s.destinations[0].bytes, bytes);
  EXPECT_EQ(s.destinations[0].send_errors, 0u);
  for (uint64_t d : s.destinations[0].drops) EXPECT_EQ(d, 0u);
  EXPECT_FALSE(s.keep_source);
}

TEST(DatagramForwarderTest, EveryDestinationGetsEveryDatagramFromEveryProducer) {
  testing::UdpSink a, b;
  std::string error;
  ASSERT_TRUE(a.Open(&error)) << error;
  ASSERT_TRUE(b.Open(&error)) << error;
  ForwardOptions o;
  o.destinations = {absl::StrCat("127.0.0.1:", a.port()), absl::StrCat("localhost:", b.port())};
  o.producers = 2;
  auto f = DatagramForwarder::Create(o);
  ASSERT_TRUE(f.ok()) << f.status();
  (*f)->Start();
  constexpr size_t kEach = 500;
  std::thread second([&] {
    for (size_t i = 0; i < kEach; ++i) (*f)->Push(1, Payload(100000 + i, 200), Source("::1", 9));
  });
  for (size_t i = 0; i < kEach; ++i) (*f)->Push(0, Payload(i, 300), Source("127.0.0.1", 9));
  second.join();
  (*f)->Stop();
  for (testing::UdpSink* sink : {&a, &b}) {
    const auto got = sink->Finish();
    ASSERT_EQ(got.size(), 2 * kEach);
    // Each producer's datagrams keep their order.
    size_t next0 = 0, next1 = 100000;
    for (const auto& d : got) {
      const size_t i = (size_t{d[0]} << 24) | (size_t{d[1]} << 16) | (size_t{d[2]} << 8) | d[3];
      if (i < 100000) {
        EXPECT_EQ(i, next0++);
      } else {
        EXPECT_EQ(i, next1++);
      }
    }
  }
  const ForwardStats s = (*f)->Stats();
  ASSERT_EQ(s.destinations.size(), 2u);
  for (const auto& d : s.destinations) {
    EXPECT_EQ(d.datagrams, 2 * kEach) << d.name;
    EXPECT_EQ(d.bytes, kEach * 500) << d.name;
  }
  EXPECT_EQ(s.destinations[1].name, absl::StrCat("localhost:", b.port()));
}

// A ring of 256 KiB holds 32 entries of 8,000 bytes (8,024 with the entry header): the other
// 68 are dropped and counted for the destination; the 32 are sent when the thread starts.
TEST(DatagramForwarderTest, FullQueueDropsAndCounts) {
  testing::UdpSink sink;
  std::string error;
  ASSERT_TRUE(sink.Open(&error)) << error;
  auto f = MakeForwarder({absl::StrCat("127.0.0.1:", sink.port())}, false, size_t{256} << 10);
  ASSERT_NE(f, nullptr);
  for (size_t i = 0; i < 100; ++i) f->Push(0, Payload(i, 8000), Source("192.0.2.1", 1));
  ForwardStats s = f->Stats();
  EXPECT_EQ(s.destinations[0].drops[kQueueFull], 68u);
  EXPECT_EQ(s.destinations[0].datagrams, 0u);
  f->Start();
  f->Stop();
  const auto got = sink.Finish();
  ASSERT_EQ(got.size(), 32u);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], Payload(i, 8000));
  s = f->Stats();
  EXPECT_EQ(s.destinations[0].datagrams, 32u);
  EXPECT_EQ(s.destinations[0].drops[kQueueFull], 68u);
  const std::string json = ForwardStatsJson(s);
  EXPECT_NE(json.find("\"queue_full\":68"), std::string::npos) << json;
  EXPECT_NE(json.find("\"datagrams\":32,"), std::string::npos) << json;
  const std::string text = ForwardStatsText(s);
  EXPECT_NE(text.find("datagrams 32, bytes 256000"), std::string::npos) << text;
  EXPECT_NE(text.find("queue_full 68"), std::string::npos) << text;
}

// Stop sends everything queued before it returns, even when the producer filled the ring
// faster than the thread could start sending; with no time left, what is queued is counted.
TEST(DatagramForwarderTest, StopDrainsTheQueueOrCountsWhatIsLeft) {
  testing::UdpSink sink;
  std::string error;
  ASSERT_TRUE(sink.Open(&error)) << error;
  auto f = MakeForwarder({absl::StrCat("127.0.0.1:", sink.port())});
  ASSERT_NE(f, nullptr);
  f->Start();
  for (size_t i = 0; i < 2000; ++i) f->Push(0, Payload(i, 1000), Source("192.0.2.1", 1));
  f->Stop();
  EXPECT_EQ(f->Stats().destinations[0].datagrams, 2000u);
  EXPECT_EQ(f->Stats().destinations[0].drops[kStopTimeout], 0u);
  EXPECT_EQ(sink.Finish().size(), 2000u);

  auto g = MakeForwarder({"127.0.0.1:9", "[::1]:9"});
  ASSERT_NE(g, nullptr);
  for (size_t i = 0; i < 10; ++i) g->Push(0, Payload(i, 100), Source("192.0.2.1", 1));
  g->Stop(/*drain_ms=*/0);
  for (const auto& d : g->Stats().destinations) {
    EXPECT_EQ(d.datagrams, 0u) << d.name;
    EXPECT_EQ(d.drops[kStopTimeout], 10u) << d.name;
  }
}

TEST(DatagramForwarderTest, OversizeCopiesAndBadDestinations) {
  testing::UdpSink sink;
  std::string error;
  ASSERT_TRUE(sink.Open(&error)) << error;
  auto f = MakeForwarder({absl::StrCat("127.0.0.1:", sink.port())});
  ASSERT_NE(f, nullptr);
  f->Start();
  // An IPFIX-over-TCP message may be 65,535 bytes; one IPv4 UDP datagram holds 65,507.
  f->Push(0, Payload(1, 65535), Source("192.0.2.1", 1));
  f->Push(0, Payload(2, 65507), Source("192.0.2.1", 1));
  f->Stop();
  const ForwardStats s = f->Stats();
  EXPECT_EQ(s.destinations[0].drops[kTooLarge], 1u);
  EXPECT_EQ(s.destinations[0].datagrams, 1u);
  const auto got = sink.Finish();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], Payload(2, 65507));

  for (const char* bad : {"127.0.0.1", "127.0.0.1:0", "127.0.0.1:99999", "[::1:2055"}) {
    ForwardOptions o;
    o.destinations = {bad};
    const auto r = DatagramForwarder::Create(o);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find(bad), std::string::npos) << r.status();
  }
}

// The headers built for --forward-keep-source, checked by an independent checksum: every
// payload length parity, both families, and a payload whose checksum would come out as 0.
TEST(DatagramForwarderTest, BuiltHeadersCarryAValidUdpChecksum) {
  uint8_t h[48];
  for (size_t size : {0, 1, 2, 3, 17, 1400, 1401}) {
    const std::vector<uint8_t> p = Payload(size, size);
    const uint32_t sum = OnesComplementSum(p);
    for (bool v6 : {false, true}) {
      SCOPED_TRACE(absl::StrCat(size, v6 ? " v6" : " v4"));
      const ExporterId src = v6 ? Source("2001:db8::9", 4739) : Source("198.51.100.9", 4739);
      const ExporterId dst = v6 ? Source("2001:db8::1", 2055) : Source("203.0.113.1", 2055);
      const size_t n = BuildUdpHeaders(src, dst, p, sum, h);
      ASSERT_EQ(n, v6 ? 48u : 28u);
      const size_t alen = v6 ? 16 : 4;
      const uint8_t* udp = h + (v6 ? 40 : 20);
      EXPECT_EQ(udp[0] * 256 + udp[1], 4739);
      EXPECT_EQ(udp[2] * 256 + udp[3], 2055);
      EXPECT_EQ(static_cast<size_t>(udp[4] * 256 + udp[5]), 8 + size);
      EXPECT_NE(udp[6] * 256 + udp[7], 0);
      std::vector<uint8_t> segment(udp, udp + 8);
      segment.insert(segment.end(), p.begin(), p.end());
      EXPECT_TRUE(UdpChecksumValid(h + (v6 ? 8 : 12), h + (v6 ? 24 : 16), alen, segment.data(),
                                   segment.size()));
      if (!v6) {
        EXPECT_EQ(h[0], 0x45);
        EXPECT_EQ(static_cast<size_t>(h[2] * 256 + h[3]), 28 + size);
        EXPECT_EQ(Sum16(std::vector<uint8_t>(h, h + 20)), 0xFFFF);  // IPv4 header checksum
      } else {
        EXPECT_EQ(h[0] >> 4, 6);
        EXPECT_EQ(static_cast<size_t>(h[4] * 256 + h[5]), 8 + size);
        EXPECT_EQ(h[6], IPPROTO_UDP);
      }
    }
  }
  // An IPv4-mapped exporter keeps its IPv4 source; another family cannot.
  EXPECT_EQ(BuildUdpHeaders(Source("::ffff:192.0.2.1", 1), Source("192.0.2.2", 2), {}, 0, h), 28u);
  EXPECT_EQ(BuildUdpHeaders(Source("2001:db8::1", 1), Source("192.0.2.2", 2), {}, 0, h), 0u);
}

// --- --forward-keep-source (root or CAP_NET_RAW) --------------------------------------------

bool HaveRawSockets() {
  const int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
  if (fd < 0) return false;
  close(fd);
  return true;
}

bool HaveIpv6Loopback() {
  const int fd = socket(AF_INET6, SOCK_DGRAM, 0);
  if (fd < 0) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  close(fd);
  return ok;
}

struct Received {
  std::vector<uint8_t> bytes;
  sockaddr_storage from{};
};

// Reads datagrams from `fd` until `want` arrived or 3 s passed; `keep` selects which count.
template <typename Keep>
std::vector<Received> ReadUntil(int fd, size_t want, Keep keep) {
  std::vector<Received> out;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  std::vector<uint8_t> buf(70000);
  while (out.size() < want && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    Received r;
    socklen_t len = sizeof(r.from);
    const ssize_t n = recvfrom(fd, buf.data(), buf.size(), MSG_DONTWAIT,
                               reinterpret_cast<sockaddr*>(&r.from), &len);
    if (n < 0) continue;
    r.bytes.assign(buf.begin(), buf.begin() + n);
    if (keep(r)) out.push_back(std::move(r));
  }
  return out;
}

int BoundUdp(bool v6, uint16_t* port) {
  const int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
  sockaddr_storage ss;
  const socklen_t len = testing::LoopbackAddress(0, v6, ss);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) return -1;
  socklen_t got = sizeof(ss);
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &got);
  *port = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                   : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return fd;
}

void KeepSourceRun(bool v6) {
  uint16_t port = 0;
  const int rx = BoundUdp(v6, &port);
  ASSERT_GE(rx, 0);
  // Sees the same packets on the wire, to check their checksum: IPv4 raw sockets deliver the
  // IP header too, IPv6 ones the UDP header on (the addresses come with recvfrom).
  const int sniff = socket(v6 ? AF_INET6 : AF_INET, SOCK_RAW, IPPROTO_UDP);
  ASSERT_GE(sniff, 0);
  const char* src_text = v6 ? "::1" : "127.0.0.9";
  const ExporterId src = Source(src_text, 4739);
  auto f = MakeForwarder({v6 ? absl::StrCat("[::1]:", port) : absl::StrCat("127.0.0.1:", port)},
                         /*keep_source=*/true);
  ASSERT_NE(f, nullptr);
  f->Start();
  std::vector<std::vector<uint8_t>> sent;
  for (size_t i = 0; i < 20; ++i) {
    sent.push_back(Payload(i, 1 + i * 61));  // odd and even lengths
    f->Push(0, sent.back(), src);
  }
  // A family the destination cannot carry with its source kept: counted, not sent.
  f->Push(0, Payload(99, 50), Source(v6 ? "192.0.2.1" : "2001:db8::1", 1));
  f->Stop();
  const ForwardStats s = f->Stats();
  EXPECT_TRUE(s.keep_source);
  EXPECT_EQ(s.destinations[0].datagrams, sent.size());
  EXPECT_EQ(s.destinations[0].send_errors, 0u);
  EXPECT_EQ(s.destinations[0].drops[kFamilyMismatch], 1u);

  const auto got = ReadUntil(rx, sent.size(), [](const Received&) { return true; });
  ASSERT_EQ(got.size(), sent.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].bytes, sent[i]) << i;
    if (v6) {
      const auto& a = reinterpret_cast<const sockaddr_in6&>(got[i].from);
      ASSERT_EQ(a.sin6_family, AF_INET6);
      EXPECT_EQ(std::memcmp(&a.sin6_addr, &in6addr_loopback, 16), 0);
      EXPECT_EQ(ntohs(a.sin6_port), 4739);
    } else {
      const auto& a = reinterpret_cast<const sockaddr_in&>(got[i].from);
      ASSERT_EQ(a.sin_family, AF_INET);
      char text[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &a.sin_addr, text, sizeof(text));
      EXPECT_STREQ(text, "127.0.0.9");
      EXPECT_EQ(ntohs(a.sin_port), 4739);
    }
  }

  const size_t ip = v6 ? 0 : 20;
  const auto wire = ReadUntil(sniff, sent.size(), [&](const Received& r) {
    return r.bytes.size() >= ip + 8 && r.bytes[ip + 2] * 256 + r.bytes[ip + 3] == port &&
           r.bytes[ip] * 256 + r.bytes[ip + 1] == 4739;
  });
  close(sniff);
  close(rx);
  ASSERT_EQ(wire.size(), sent.size());
  for (size_t i = 0; i < wire.size(); ++i) {
    const std::vector<uint8_t>& b = wire[i].bytes;
    const uint8_t* udp = b.data() + ip;
    const size_t udp_len = b.size() - ip;
    EXPECT_EQ(std::vector<uint8_t>(udp + 8, udp + udp_len), sent[i]);
    EXPECT_NE(udp[6] * 256 + udp[7], 0) << "no checksum";
    if (v6) {
      EXPECT_TRUE(UdpChecksumValid(in6addr_loopback.s6_addr, in6addr_loopback.s6_addr, 16, udp,
                                   udp_len))
          << i;
    } else {
      EXPECT_TRUE(UdpChecksumValid(b.data() + 12, b.data() + 16, 4, udp, udp_len)) << i;
      EXPECT_EQ(Sum16(std::vector<uint8_t>(b.begin(), b.begin() + 20)), 0xFFFF);
    }
  }
}

TEST(DatagramForwarderKeepSourceTest, Ipv4CopiesArriveFromTheExporter) {
  if (!HaveRawSockets()) {
    GTEST_SKIP() << "SKIP: --forward-keep-source needs root or CAP_NET_RAW (raw sockets)";
  }
  KeepSourceRun(false);
}

TEST(DatagramForwarderKeepSourceTest, Ipv6CopiesArriveFromTheExporter) {
  if (!HaveRawSockets()) {
    GTEST_SKIP() << "SKIP: --forward-keep-source needs root or CAP_NET_RAW (raw sockets)";
  }
  if (!HaveIpv6Loopback()) GTEST_SKIP() << "SKIP: no IPv6 loopback on this machine";
  KeepSourceRun(true);
}

TEST(DatagramForwarderKeepSourceTest, WithoutCapNetRawCreateSaysWhatIsMissing) {
  if (HaveRawSockets()) {
    GTEST_SKIP() << "SKIP: raw sockets are allowed here (root or CAP_NET_RAW): the refusal "
                    "cannot be seen";
  }
  ForwardOptions o;
  o.destinations = {"127.0.0.1:2055"};
  o.keep_source = true;
  const auto r = DatagramForwarder::Create(o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(r.status().message().find("CAP_NET_RAW"), std::string::npos) << r.status();
}

}  // namespace
}  // namespace nf
