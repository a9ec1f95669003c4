// The IPFIX-over-TCP server on loopback: framing across arbitrary splits, lying lengths and
// wrong versions, the connection limit, --allow, idle and slow-message timeouts, half-open
// connections, the shutdown drain, all while UDP datagrams to a UdpServer on the same
// io_context keep arriving; and the decoder's session scoping over real connections
// (templates die with their connection, two connections from one address with different
// templates under one ID, IPFIX withdrawals).
#include "collector/receive/tcp_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "absl/strings/str_cat.h"
#include "collector/decode/decoder.h"
#include "collector/decode/shared_templates.h"
#include "collector/receive/udp_server.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace nf {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using Bytes = std::vector<uint8_t>;

// ------------------------------------------------------------------------------------------
// IPFIX messages

void Put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void Put32(Bytes& b, uint32_t v) {
  Put16(b, static_cast<uint16_t>(v >> 16));
  Put16(b, static_cast<uint16_t>(v));
}
void Put64(Bytes& b, uint64_t v) {
  Put32(b, static_cast<uint32_t>(v >> 32));
  Put32(b, static_cast<uint32_t>(v));
}

Bytes Set(uint16_t id, const Bytes& body) {
  Bytes s;
  Put16(s, id);
  Put16(s, static_cast<uint16_t>(4 + body.size()));
  s.insert(s.end(), body.begin(), body.end());
  return s;
}

Bytes Message(uint32_t seq, std::initializer_list<Bytes> sets, uint32_t domain = 1) {
  Bytes m;
  Put16(m, 10);
  Put16(m, 0);
  Put32(m, 1'700'000'000);
  Put32(m, seq);
  Put32(m, domain);
  for (const Bytes& s : sets) m.insert(m.end(), s.begin(), s.end());
  m[2] = static_cast<uint8_t>(m.size() >> 8);
  m[3] = static_cast<uint8_t>(m.size());
  return m;
}

// Layout A: sourceIPv4Address, destinationIPv4Address, packetDeltaCount/4, octetDeltaCount/4.
Bytes TemplateA(uint16_t id) {
  Bytes t;
  Put16(t, id);
  Put16(t, 4);
  for (uint16_t f : {8, 12, 2, 1}) {
    Put16(t, f);
    Put16(t, 4);
  }
  return Set(2, t);
}
Bytes RecordA(uint32_t packets, uint32_t bytes) {
  Bytes r;
  Put32(r, 0x0A000001);
  Put32(r, 0x0A000002);
  Put32(r, packets);
  Put32(r, bytes);
  return r;
}
// Layout B, same ID elsewhere: octetDeltaCount/8, packetDeltaCount/8, then the addresses.
Bytes TemplateB(uint16_t id) {
  Bytes t;
  Put16(t, id);
  Put16(t, 4);
  for (auto [f, len] : {std::pair<uint16_t, uint16_t>{1, 8}, {2, 8}, {12, 4}, {8, 4}}) {
    Put16(t, f);
    Put16(t, len);
  }
  return Set(2, t);
}
Bytes RecordB(uint64_t packets, uint64_t bytes) {
  Bytes r;
  Put64(r, bytes);
  Put64(r, packets);
  Put32(r, 0xC0000202);
  Put32(r, 0xC0000201);
  return r;
}
Bytes Data(uint16_t id, std::initializer_list<Bytes> records) {
  Bytes body;
  for (const Bytes& r : records) body.insert(body.end(), r.begin(), r.end());
  return Set(id, body);
}
// A template withdrawal (field count 0); template ID 2 withdraws every data template.
Bytes Withdrawal(uint16_t template_id) {
  Bytes t;
  Put16(t, template_id);
  Put16(t, 0);
  return Set(2, t);
}

// ------------------------------------------------------------------------------------------
// Loopback clients

int Connect(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  const int one = 1;
  // Every send leaves as its own segment, so 1-byte writes reach the server as 1-byte reads.
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, const uint8_t* data, size_t n) {
  while (n > 0) {
    const ssize_t sent = send(fd, data, n, MSG_NOSIGNAL);
    if (sent <= 0) return false;
    data += sent;
    n -= static_cast<size_t>(sent);
  }
  return true;
}
bool SendAll(int fd, const Bytes& b) { return SendAll(fd, b.data(), b.size()); }

uint16_t LocalPort(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

// True when the server closed the connection within `timeout_ms` (EOF or reset on read).
bool ClosedByServer(int fd, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 20) > 0) {
      uint8_t b[256];
      const ssize_t got = recv(fd, b, sizeof(b), MSG_DONTWAIT);
      if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return true;
    }
  }
  return false;
}

uint16_t PortOf(const std::string& endpoint) {
  return static_cast<uint16_t>(std::stoi(endpoint.substr(endpoint.rfind(':') + 1)));
}

// Polls `done` every 5 ms for at most `timeout_ms`.
template <typename F>
bool WaitFor(F done, int timeout_ms = 5000) {
  const auto deadline = std::chrono::steady_clock::now() + milliseconds(timeout_ms);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

class Collect : public RecordSink {
 public:
  void OnRecord(const DecodedRecord& r) override { records.push_back(r); }
  std::vector<DecodedRecord> records;
};

// ------------------------------------------------------------------------------------------
// A UDP and a TCP server on one io_context, run by one thread, as a flowcollect worker has them.
// Everything the servers and the decoder own is touched only on that thread (OnIo).

class TcpServerTest : public ::testing::Test {
 protected:
  ~TcpServerTest() override {
    if (sender_.joinable()) sender_.join();
    OnIo([this] {
      tcp_.reset();
      udp_.reset();
    });
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

  // Starts both servers on 127.0.0.1 (free ports). With `decode`, TCP messages go to a
  // Decoder with default options (templates keyed on the address alone) as flowcollect does.
  void Start(TcpServerOptions options, bool decode = false) {
    thread_ = std::thread([this] { io_.run(); });
    const uint16_t udp_port = testing::FreeUdpPort();  // free for UDP and TCP
    uint16_t tcp_port = testing::FreeUdpPort();
    for (int i = 0; i < 10 && tcp_port == udp_port; ++i) tcp_port = testing::FreeUdpPort();
    options.listen = {absl::StrCat("127.0.0.1:", tcp_port)};
    OnIo([&] {
      UdpServerOptions uo;
      uo.listen = {absl::StrCat("127.0.0.1:", udp_port)};
      uo.rcvbuf_bytes = 8 << 20;
      auto udp = UdpServer::Create(io_, uo, [this](std::span<const uint8_t>, const ExporterId&,
                                                   TimeUs) { ++udp_datagrams_; });
      ASSERT_TRUE(udp.ok()) << udp.status();
      udp_ = *std::move(udp);
      udp_->Start();
      auto tcp = TcpServer::Create(
          io_, options,
          [this, decode](std::span<const uint8_t> m, const ExporterId& peer, TimeUs t) {
            messages_.emplace_back(m.begin(), m.end());
            peers_.push_back(peer);
            if (decode) decoder_.DecodeSessionMessage(m, peer, t, sink_);
          },
          [this, decode](const ExporterId& peer) {
            ended_.push_back(peer);
            if (decode) decoder_.EndSession(peer);
          });
      ASSERT_TRUE(tcp.ok()) << tcp.status();
      tcp_ = *std::move(tcp);
      tcp_->Start();
      tcp_port_ = PortOf(tcp_->LocalEndpoints().at(0));
      udp_port_ = PortOf(udp_->LocalEndpoints().at(0));
    });
  }

  // Runs `fn` on the io thread and waits for it (bounded).
  template <typename F>
  auto OnIo(F fn) -> decltype(fn()) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto result = task.get_future();
    asio::post(io_, [&task] { task(); });
    if (result.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      ADD_FAILURE() << "io thread did not answer";
      std::abort();  // the task refers to this frame
    }
    return result.get();
  }

  TcpReceiveStats Stats() {
    return OnIo([this] { return tcp_->stats(); });
  }
  size_t Messages() {
    return OnIo([this] { return messages_.size(); });
  }
  size_t Ended() {
    return OnIo([this] { return ended_.size(); });
  }

  // Sends `n` datagrams to the UDP server, one every `gap`, from another thread (joined by the
  // fixture's destructor at the latest, also when an assertion ends the test early).
  std::thread& UdpSender(int n, milliseconds gap) {
    return sender_ = std::thread([this, n, gap] {
      const int fd = socket(AF_INET, SOCK_DGRAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(udp_port_);
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      const Bytes d = Message(0, {Data(256, {RecordA(1, 40)})});
      for (int i = 0; i < n; ++i) {
        if (sendto(fd, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof(a)) ==
            static_cast<ssize_t>(d.size())) {
          ++udp_sent_;
        }
        std::this_thread::sleep_for(gap);
      }
      close(fd);
    });
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::thread thread_;
  std::thread sender_;
  std::unique_ptr<UdpServer> udp_;
  std::unique_ptr<TcpServer> tcp_;
  uint16_t tcp_port_ = 0;
  uint16_t udp_port_ = 0;
  std::atomic<int> udp_datagrams_{0};
  std::atomic<int> udp_sent_{0};
  std::vector<Bytes> messages_;
  std::vector<ExporterId> peers_;
  std::vector<ExporterId> ended_;
  Decoder decoder_{DecoderOptions{}};
  Collect sink_;
};

TcpServerOptions Quick() {
  TcpServerOptions o;
  o.idle_timeout = milliseconds(400);
  o.message_timeout = milliseconds(200);
  return o;
}

// ------------------------------------------------------------------------------------------
// Framing

TEST_F(TcpServerTest, MessagesAreFramedAcrossArbitrarySplits) {
  Start(TcpServerOptions{});
  std::vector<Bytes> sent;
  sent.push_back(Message(0, {TemplateA(256), Data(256, {RecordA(1, 40), RecordA(2, 80)})}));
  sent.push_back(Message(2, {Data(256, {RecordA(3, 120)})}));
  sent.push_back(Message(3, {}));  // a bare header is a message too
  // The largest message there is: one data set filling the 16-bit length.
  Bytes big_body(65535 - 16 - 4, 0x5A);
  sent.push_back(Message(4, {Set(300, big_body)}));
  ASSERT_EQ(sent.back().size(), 65535u);
  for (int i = 0; i < 6; ++i) sent.push_back(Message(5 + i, {Data(256, {RecordA(1, 1)})}));

  const int fd = Connect(tcp_port_);
  ASSERT_GE(fd, 0);
  // The first message one byte at a time.
  for (uint8_t b : sent[0]) ASSERT_TRUE(SendAll(fd, &b, 1));
  ASSERT_TRUE(WaitFor([&] { return Messages() == 1; }));
  // The next three in one write.
  Bytes joined;
  for (size_t i = 1; i <= 3; ++i) joined.insert(joined.end(), sent[i].begin(), sent[i].end());
  ASSERT_TRUE(SendAll(fd, joined));
  // The rest cut at random points (fixed seed), small and large pieces, across boundaries.
  Bytes rest;
  for (size_t i = 4; i < sent.size(); ++i) rest.insert(rest.end(), sent[i].begin(), sent[i].end());
  std::mt19937 rng(7);
  for (size_t at = 0; at < rest.size();) {
    const size_t n = std::min<size_t>(rest.size() - at, 1 + rng() % 97);
    ASSERT_TRUE(SendAll(fd, rest.data() + at, n));
    at += n;
  }
  ASSERT_TRUE(WaitFor([&] { return Messages() == sent.size(); })) << Messages();
  const uint16_t client_port = LocalPort(fd);
  OnIo([&] {
    EXPECT_EQ(messages_, sent);
    for (const ExporterId& p : peers_) {
      EXPECT_EQ(p.address.ToString(), "127.0.0.1");
      EXPECT_EQ(p.port, client_port);
    }
  });
  close(fd);
  ASSERT_TRUE(WaitFor([&] { return Ended() == 1; }));
  const TcpReceiveStats s = Stats();
  EXPECT_EQ(s.accepted, 1u);
  EXPECT_EQ(s.active, 0u);
  EXPECT_EQ(s.closed_peer, 1u);
  EXPECT_EQ(s.messages, sent.size());
  uint64_t bytes = 0;
  for (const Bytes& m : sent) bytes += m.size();
  EXPECT_EQ(s.bytes, bytes);
  EXPECT_EQ(s.framing_errors, 0u);
  EXPECT_EQ(s.messages_dropped, 0u);
}

TEST_F(TcpServerTest, LyingLengthsAndWrongVersionsCloseTheConnection) {
  Start(TcpServerOptions{});
  // Length 8: shorter than the header itself.
  Bytes short_length = Message(0, {});
  short_length[3] = 8;
  int fd = Connect(tcp_port_);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, short_length));
  EXPECT_TRUE(ClosedByServer(fd, 2000));
  close(fd);

  // NetFlow v9 is not IPFIX: refused as soon as the version is there.
  fd = Connect(tcp_port_);
  ASSERT_GE(fd, 0);
  const uint8_t v9[2] = {0, 9};
  ASSERT_TRUE(SendAll(fd, v9, 2));
  EXPECT_TRUE(ClosedByServer(fd, 2000));
  close(fd);

  // A good message, then one claiming more bytes than are ever sent, then the exporter closes.
  fd = Connect(tcp_port_);
  ASSERT_GE(fd, 0);
  Bytes good = Message(0, {TemplateA(256)});
  Bytes lying = Message(1, {Data(256, {RecordA(1, 40)})});
  lying[2] = 0x10;  // 4096 + the real length
  lying.resize(lying.size() - 4);
  good.insert(good.end(), lying.begin(), lying.end());
  ASSERT_TRUE(SendAll(fd, good));
  ASSERT_TRUE(WaitFor([&] { return Messages() == 1; }));
  close(fd);

  ASSERT_TRUE(WaitFor([&] { return Ended() == 3; }));
  const TcpReceiveStats s = Stats();
  EXPECT_EQ(s.framing_errors, 2u);
  EXPECT_EQ(s.closed_peer, 1u);
  EXPECT_EQ(s.messages, 1u);
  EXPECT_EQ(s.messages_dropped, 1u);  // the lying message (framing errors drop no message)
  EXPECT_EQ(s.active, 0u);
  EXPECT_EQ(Messages(), 1u);
}

// ------------------------------------------------------------------------------------------
// Bounds

TEST_F(TcpServerTest, ConnectionLimitClosesExtraConnectionsAtOnce) {
  TcpServerOptions o;
  o.max_connections = 2;
  Start(o);
  const int a = Connect(tcp_port_);
  const int b = Connect(tcp_port_);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  ASSERT_TRUE(WaitFor([&] { return Stats().active == 2; }));
  const int c = Connect(tcp_port_);  // the kernel completes it; the server closes it
  ASSERT_GE(c, 0);
  EXPECT_TRUE(ClosedByServer(c, 2000));
  close(c);
  EXPECT_FALSE(ClosedByServer(a, 50));
  // The admitted ones still work.
  ASSERT_TRUE(SendAll(a, Message(0, {})));
  ASSERT_TRUE(SendAll(b, Message(0, {})));
  ASSERT_TRUE(WaitFor([&] { return Messages() == 2; }));
  // A slot freed is a slot taken again.
  close(a);
  ASSERT_TRUE(WaitFor([&] { return Stats().active == 1; }));
  const int d = Connect(tcp_port_);
  ASSERT_GE(d, 0);
  ASSERT_TRUE(SendAll(d, Message(1, {})));
  ASSERT_TRUE(WaitFor([&] { return Messages() == 3; }));
  const TcpReceiveStats s = Stats();
  EXPECT_EQ(s.refused_limit, 1u);
  EXPECT_EQ(s.accepted, 3u);
  EXPECT_EQ(s.active, 2u);
  close(b);
  close(d);
}

TEST_F(TcpServerTest, AllowListRejectsOtherPeers) {
  TcpServerOptions o;
  o.allow = {*ParseCidr("192.0.2.0/24")};
  Start(o);
  const int fd = Connect(tcp_port_);
  ASSERT_GE(fd, 0);
  SendAll(fd, Message(0, {}));  // may fail: the server may have closed already
  EXPECT_TRUE(ClosedByServer(fd, 2000));
  close(fd);
  ASSERT_TRUE(WaitFor([&] { return Stats().denied == 1; }));
  const TcpReceiveStats s = Stats();
  EXPECT_EQ(s.accepted, 0u);
  EXPECT_EQ(s.messages, 0u);
  EXPECT_EQ(Messages(), 0u);
  EXPECT_EQ(Ended(), 0u);  // no session was ever opened
}

// Idle, half-open and trickling peers are closed by their timeouts, while a healthy exporter
// on another connection and UDP datagrams on the same io_context are all served on time.
TEST_F(TcpServerTest, TimeoutsCloseSilentAndSlowPeersWithoutStallingOthers) {
  Start(Quick());
  std::thread& udp = UdpSender(300, milliseconds(2));

  const int silent = Connect(tcp_port_);         // connects, sends nothing
  const int half_header = Connect(tcp_port_);    // half a header, then holds the socket
  const int slowloris = Connect(tcp_port_);      // one byte every 30 ms of a 200-byte message
  const int healthy = Connect(tcp_port_);        // a message every 20 ms
  ASSERT_GE(silent, 0);
  ASSERT_GE(half_header, 0);
  ASSERT_GE(slowloris, 0);
  ASSERT_GE(healthy, 0);
  const Bytes header = Message(0, {});
  ASSERT_TRUE(SendAll(half_header, header.data(), 8));
  const Bytes slow_message = Message(0, {Set(256, Bytes(180, 1))});

  const auto start = std::chrono::steady_clock::now();
  size_t slow_sent = 0;
  int healthy_sent = 0;
  bool slowloris_closed = false;
  for (int tick = 0; tick < 40; ++tick) {  // 40 x 20 ms
    if (!slowloris_closed && tick % 2 == 0 && slow_sent < slow_message.size()) {
      slowloris_closed = !SendAll(slowloris, &slow_message[slow_sent++], 1);
    }
    ASSERT_TRUE(SendAll(healthy, Message(static_cast<uint32_t>(healthy_sent), {})));
    ++healthy_sent;
    std::this_thread::sleep_for(milliseconds(20));
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(ClosedByServer(silent, 2000));
  EXPECT_TRUE(ClosedByServer(half_header, 2000));
  EXPECT_TRUE(ClosedByServer(slowloris, 2000));
  EXPECT_FALSE(ClosedByServer(healthy, 10));
  udp.join();
  ASSERT_TRUE(WaitFor([&] { return Messages() == static_cast<size_t>(healthy_sent); }))
      << Messages() << " of " << healthy_sent;
  ASSERT_TRUE(WaitFor([&] { return udp_datagrams_.load() == udp_sent_.load(); }))
      << udp_datagrams_.load() << " of " << udp_sent_.load();
  EXPECT_EQ(udp_sent_.load(), 300);
  const TcpReceiveStats s = Stats();
  EXPECT_EQ(s.closed_idle, 1u);  // the silent one
  EXPECT_EQ(s.closed_slow, 2u);  // half a header, and the trickle
  EXPECT_EQ(s.messages_dropped, 2u);
  EXPECT_EQ(s.active, 1u);  // the healthy one
  EXPECT_GE(elapsed, milliseconds(700));  // the timeouts had time to fire
  const ReceiveStats u = OnIo([this] { return udp_->stats(); });
  EXPECT_EQ(u.datagrams, 300u);
  if (u.kernel_drops_available) {
    EXPECT_EQ(u.kernel_drops, 0u);
  }
  for (int fd : {silent, half_header, slowloris, healthy}) close(fd);
}

// Shutdown: what the kernel holds when the stop comes is read; complete messages are handed on,
// the incomplete one is counted as dropped, and every session ends.
TEST_F(TcpServerTest, DrainAndStopDecodesCompleteMessagesAndCountsPartialOnes) {
  Start(TcpServerOptions{});
  const int fd = Connect(tcp_port_);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(WaitFor([&] { return Stats().active == 1; }));
  // Hold the io thread, so what follows waits in the kernel, as at a stop.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> stopped;
  asio::post(io_, [this, released, &stopped] {
    released.wait_for(std::chrono::seconds(10));
    tcp_->DrainAndStop();
    stopped.set_value();
  });
  Bytes stream;
  for (uint32_t i = 0; i < 3; ++i) {
    const Bytes m = Message(i, {Data(256, {RecordA(1, 40)})});
    stream.insert(stream.end(), m.begin(), m.end());
  }
  const Bytes cut = Message(3, {Data(256, {RecordA(1, 40)})});
  stream.insert(stream.end(), cut.begin(), cut.begin() + 10);  // a fourth message begun
  ASSERT_TRUE(SendAll(fd, stream));
  std::this_thread::sleep_for(milliseconds(50));  // into the server's kernel queue
  release.set_value();
  ASSERT_EQ(stopped.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  const TcpReceiveStats s = Stats();
  EXPECT_EQ(s.messages, 3u);
  EXPECT_EQ(s.messages_dropped, 1u);
  EXPECT_EQ(s.active, 0u);
  EXPECT_EQ(Ended(), 1u);
  EXPECT_TRUE(ClosedByServer(fd, 2000));
  close(fd);
}

// ------------------------------------------------------------------------------------------
// Session scoping in the decoder (RFC 7011 section 10.4), over real connections

TEST_F(TcpServerTest, TemplatesDieWithTheirConnection) {
  Start(TcpServerOptions{}, /*decode=*/true);
  int fd = Connect(tcp_port_);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, Message(0, {TemplateA(256), Data(256, {RecordA(1, 40)})})));
  ASSERT_TRUE(SendAll(fd, Message(1, {Data(256, {RecordA(2, 80), RecordA(3, 120)})})));
  ASSERT_TRUE(WaitFor([&] { return Messages() == 2; }));
  OnIo([&] {
    EXPECT_EQ(sink_.records.size(), 3u);
    EXPECT_EQ(decoder_.templates().size(), 1u);
  });
  close(fd);
  ASSERT_TRUE(WaitFor([&] { return Ended() == 1; }));
  OnIo([&] {
    EXPECT_EQ(decoder_.templates().size(), 0u);
    EXPECT_EQ(decoder_.templates().counters().withdrawn, 1u);
  });

  // A new connection (another port) sends data for the same template ID: it waits as early data
  // for a template of its own session, and is never decoded with the dead one's.
  fd = Connect(tcp_port_);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, Message(3, {Data(256, {RecordA(4, 160)})})));
  ASSERT_TRUE(WaitFor([&] { return Messages() == 3; }));
  OnIo([&] {
    EXPECT_EQ(sink_.records.size(), 3u);
    const ExporterStats t = decoder_.Totals();
    EXPECT_EQ(t.early_sets_buffered, 1u);
    EXPECT_EQ(t.early_sets_pending, 1u);
  });
  close(fd);
  ASSERT_TRUE(WaitFor([&] { return Ended() == 2; }));
  OnIo([&] {
    const ExporterStats t = decoder_.Totals();
    EXPECT_EQ(t.early_sets_pending, 0u);
    EXPECT_EQ(t.early_sets_aged_out, 1u);  // its session ended before any template came
    EXPECT_EQ(sink_.records.size(), 3u);
    // One exporter (the address) for both sessions: reconnections do not grow the table.
    size_t exporters = 0;
    decoder_.ForEachExporter([&](const ExporterId& id, const ExporterStats&) {
      ++exporters;
      EXPECT_EQ(id.port, 0);
    });
    EXPECT_EQ(exporters, 1u);
    EXPECT_EQ(decoder_.Totals().sequence_lost, 0u);
  });
}

TEST_F(TcpServerTest, ConcurrentSessionsFromOneAddressKeepTheirOwnTemplates) {
  Start(TcpServerOptions{}, /*decode=*/true);
  const int a = Connect(tcp_port_);
  const int b = Connect(tcp_port_);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  ASSERT_TRUE(SendAll(a, Message(0, {TemplateA(256)})));
  ASSERT_TRUE(WaitFor([&] { return Messages() == 1; }));
  ASSERT_TRUE(SendAll(b, Message(0, {TemplateB(256)})));
  ASSERT_TRUE(WaitFor([&] { return Messages() == 2; }));
  // Interleaved data under the same template ID.
  for (uint32_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(SendAll(a, Message(i, {Data(256, {RecordA(1, 40)})})));
    ASSERT_TRUE(SendAll(b, Message(i, {Data(256, {RecordB(7, 700)})})));
  }
  ASSERT_TRUE(WaitFor([&] { return Messages() == 10; }));
  const uint16_t a_port = LocalPort(a);
  const uint16_t b_port = LocalPort(b);
  OnIo([&] {
    ASSERT_EQ(sink_.records.size(), 8u);
    int from_a = 0, from_b = 0;
    for (const DecodedRecord& r : sink_.records) {
      if (r.exporter.port == a_port) {
        ++from_a;
        EXPECT_EQ(r.packets, 1u);
        EXPECT_EQ(r.bytes, 40u);
        EXPECT_EQ(r.src_addr.ToString(), "10.0.0.1");
      } else {
        EXPECT_EQ(r.exporter.port, b_port);
        ++from_b;
        EXPECT_EQ(r.packets, 7u);
        EXPECT_EQ(r.bytes, 700u);
        EXPECT_EQ(r.src_addr.ToString(), "192.0.2.1");
      }
    }
    EXPECT_EQ(from_a, 4);
    EXPECT_EQ(from_b, 4);
    EXPECT_EQ(decoder_.templates().size(), 2u);
    EXPECT_EQ(decoder_.Totals().templates_redefined, 0u);  // neither replaced the other
  });
  // One session ending leaves the other's template alone.
  close(a);
  ASSERT_TRUE(WaitFor([&] { return Ended() == 1; }));
  ASSERT_TRUE(SendAll(b, Message(4, {Data(256, {RecordB(7, 700)})})));
  ASSERT_TRUE(WaitFor([&] { return Messages() == 11; }));
  OnIo([&] {
    EXPECT_EQ(sink_.records.size(), 9u);
    EXPECT_EQ(sink_.records.back().bytes, 700u);
    EXPECT_EQ(decoder_.templates().size(), 1u);
  });
  close(b);
}

TEST_F(TcpServerTest, TemplateWithdrawalsOverTcp) {
  Start(TcpServerOptions{}, /*decode=*/true);
  const int fd = Connect(tcp_port_);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(SendAll(fd, Message(0, {TemplateA(256), TemplateA(257)})));
  ASSERT_TRUE(SendAll(fd, Message(0, {Data(256, {RecordA(1, 40)}), Data(257, {RecordA(2, 80)})})));
  ASSERT_TRUE(WaitFor([&] { return Messages() == 2; }));
  OnIo([&] { EXPECT_EQ(sink_.records.size(), 2u); });
  // Withdraw 256 (a template record with field count 0): its data now waits; 257 still decodes.
  ASSERT_TRUE(SendAll(fd, Message(2, {Withdrawal(256)})));
  ASSERT_TRUE(SendAll(fd, Message(2, {Data(256, {RecordA(3, 120)}), Data(257, {RecordA(4, 160)})})));
  ASSERT_TRUE(WaitFor([&] { return Messages() == 4; }));
  OnIo([&] {
    EXPECT_EQ(sink_.records.size(), 3u);
    EXPECT_EQ(sink_.records.back().packets, 4u);
    EXPECT_EQ(decoder_.templates().size(), 1u);
    EXPECT_EQ(decoder_.Totals().early_sets_pending, 1u);
  });
  // Withdraw all data templates (template ID 2 in a template set): 257 goes too.
  ASSERT_TRUE(SendAll(fd, Message(3, {Withdrawal(2)})));
  ASSERT_TRUE(SendAll(fd, Message(3, {Data(257, {RecordA(5, 200)})})));
  ASSERT_TRUE(WaitFor([&] { return Messages() == 6; }));
  OnIo([&] {
    EXPECT_EQ(sink_.records.size(), 3u);
    EXPECT_EQ(decoder_.templates().size(), 0u);
    const ExporterStats t = decoder_.Totals();
    EXPECT_EQ(t.templates_withdrawn, 2u);
    EXPECT_EQ(t.early_sets_pending, 2u);
    EXPECT_EQ(t.errors[static_cast<size_t>(DecodeError::kWithdrawUnknown)], 0u);
  });
  // Relearned, the waiting data of this session decodes.
  ASSERT_TRUE(SendAll(fd, Message(3, {TemplateA(256), TemplateA(257)})));
  ASSERT_TRUE(WaitFor([&] { return Messages() == 7; }));
  OnIo([&] {
    EXPECT_EQ(sink_.records.size(), 5u);
    EXPECT_EQ(decoder_.Totals().early_records_decoded, 2u);
  });
  close(fd);
}

// Without a network: a session's templates reach neither the other workers (shared store) nor
// the template store file, and a datagram from the same address does not see them.
TEST(DecoderSessionTest, SessionTemplatesStayInTheirSession) {
  SharedTemplateStore shared;
  DecoderOptions options;
  options.shared_templates = &shared;
  Decoder decoder(options);
  Collect sink;
  const ExporterId peer{*ParseIpAddress("192.0.2.9"), 40000};
  decoder.DecodeSessionMessage(Message(0, {TemplateA(256), Data(256, {RecordA(1, 40)})}), peer,
                               1'000'000, sink);
  EXPECT_EQ(sink.records.size(), 1u);
  EXPECT_EQ(shared.generation(), 0u);
  // The same exporter over UDP (templates keyed on the address): not the session's template.
  decoder.DecodeDatagram(Message(0, {Data(256, {RecordA(1, 40)})}), ExporterId{peer.address, 2055},
                         1'000'000, sink);
  EXPECT_EQ(sink.records.size(), 1u);
  testing::TempDir tmp;
  ASSERT_TRUE(decoder.templates().Save(tmp.File("t")).ok());
  Decoder restarted(DecoderOptions{});
  size_t loaded = 99;
  ASSERT_TRUE(restarted.templates()
                  .Load(tmp.File("t"),
                        [&](CachedTemplate& t, uint8_t v) { return restarted.Compile(t, v); },
                        &loaded)
                  .ok());
  EXPECT_EQ(loaded, 0u);
  decoder.EndSession(peer);
  EXPECT_EQ(decoder.templates().size(), 0u);
  // Ending it again, or ending a session never seen, changes nothing.
  decoder.EndSession(peer);
  decoder.EndSession(ExporterId{*ParseIpAddress("198.51.100.1"), 1});
  EXPECT_EQ(decoder.templates().counters().withdrawn, 1u);
}

}  // namespace
}  // namespace nf
