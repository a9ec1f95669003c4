// The UDP server's coalescing: a steady stream is served by far fewer drains than datagrams,
// with every datagram delivered once and in order, with and without the pause, which adapts
// to the stream within its bounds. And its receive
// buffer: above net.core.rmem_max only with CAP_NET_ADMIN, and a capped one is reported.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "absl/strings/str_cat.h"
#include "collector/receive/udp_server.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace nf {
namespace {

struct Received {
  std::vector<uint32_t> order;
  int drains = 0;
  int ticks_during_stream = 0;  // firings of a 10 ms timer on the server's io_context
};

// Sends `count` datagrams (a 4-byte index each) to 127.0.0.1:port, `gap` apart, and returns
// what the server delivered once all arrived (or 5 s passed).
Received Stream(int coalesce_us, int count, std::chrono::microseconds gap) {
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  Received got;
  std::atomic<int> delivered{0};
  const uint16_t port = testing::FreeUdpPort();
  UdpServerOptions o;
  o.listen = {absl::StrCat("127.0.0.1:", port)};
  o.rcvbuf_bytes = 4 << 20;
  o.coalesce_us = coalesce_us;
  auto server = UdpServer::Create(io, o, [&](std::span<const uint8_t> d, const ExporterId&, TimeUs) {
    uint32_t i = 0;
    if (d.size() == sizeof(i)) std::memcpy(&i, d.data(), sizeof(i));
    got.order.push_back(i);
    delivered.fetch_add(1, std::memory_order_relaxed);
  });
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) return got;
  (*server)->set_batch_end([&] { ++got.drains; });
  // A periodic timer on the same thread: it fires only when the server gives the thread back.
  boost::asio::steady_timer tick(io);
  bool stopping = false;  // cancel() misses a firing that is already queued
  std::function<void()> schedule = [&] {
    tick.expires_after(std::chrono::milliseconds(10));
    tick.async_wait([&](const boost::system::error_code& ec) {
      if (ec || stopping) return;
      if (delivered.load() < count) ++got.ticks_during_stream;
      schedule();
    });
  };
  schedule();
  (*server)->Start();
  std::thread runner([&] { io.run(); });

  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (uint32_t i = 0; i < static_cast<uint32_t>(count); ++i) {
    sendto(fd, &i, sizeof(i), 0, reinterpret_cast<const sockaddr*>(&to), sizeof(to));
    std::this_thread::sleep_for(gap);
  }
  close(fd);
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (delivered.load() < count && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  boost::asio::post(io, [&] {
    (*server)->Stop();
    stopping = true;
    tick.cancel();
    work.reset();
  });
  runner.join();
  return got;
}

void ExpectInOrder(const Received& r, int count) {
  ASSERT_EQ(r.order.size(), static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) ASSERT_EQ(r.order[i], static_cast<uint32_t>(i)) << i;
}

TEST(UdpServerCoalesceTest, ASteadyStreamIsServedByFewDrains) {
  // About 10,000 datagrams/s: a 1 ms pause gathers several per drain. Load on the machine only
  // delays wake-ups, which makes the batches larger, so the bound holds on a busy host too.
  const Received r = Stream(1000, 300, std::chrono::microseconds(100));
  ExpectInOrder(r, 300);
  EXPECT_LE(r.drains, 150) << "drains for 300 datagrams";
}

TEST(UdpServerCoalesceTest, TimersKeepRunningWhileAStreamKeepsTheServerBusy) {
  // About half a second of datagrams 100 us apart, served with pauses of up to 16 ms: between
  // rounds the server yields the thread without waiting for the socket, so the 10 ms timer
  // keeps firing during the stream (about 50 times; a server that held the thread until the
  // stream ended would let it fire once at most), and Stop ends the rounds.
  const Received r = Stream(16000, 5000, std::chrono::microseconds(100));
  ExpectInOrder(r, 5000);
  EXPECT_GE(r.ticks_during_stream, 5);
  EXPECT_LE(r.drains, 2500) << "drains for 5000 datagrams";
}

TEST(UdpServerCoalesceTest, WithoutThePauseEveryDatagramStillArrivesInOrder) {
  const Received r = Stream(0, 300, std::chrono::microseconds(100));
  ExpectInOrder(r, 300);
  EXPECT_GE(r.drains, 1);
}

// The adaptive pause, as arithmetic: grows while drains are small, shrinks as they fill,
// stays within its bounds, and never lets the queue it causes outgrow a quarter of the buffer.
TEST(CoalescePauseTest, SmallDrainsGrowThePauseToItsCeilingAndNoFurther) {
  CoalescePause p(4000, 32 << 20);
  EXPECT_EQ(p.pause_us(), 1000);
  p.AfterDrain(20, 20 * 1400);
  EXPECT_EQ(p.pause_us(), 2000);
  p.AfterDrain(40, 40 * 1400);
  EXPECT_EQ(p.pause_us(), 4000);
  for (int i = 0; i < 5; ++i) p.AfterDrain(60, 60 * 1400);
  EXPECT_EQ(p.pause_us(), 4000);
}

TEST(CoalescePauseTest, FullDrainsShrinkThePauseToItsFloor) {
  CoalescePause p(4000, 32 << 20);
  for (int i = 0; i < 20; ++i) {
    p.AfterDrain(CoalescePause::kTargetDatagrams, CoalescePause::kTargetDatagrams * 1400);
  }
  EXPECT_EQ(p.pause_us(), CoalescePause::kMinUs);
}

TEST(CoalescePauseTest, DrainsBetweenHalfAndTheTargetKeepThePause) {
  CoalescePause p(4000, 32 << 20);
  constexpr int kHalf = CoalescePause::kTargetDatagrams / 2;
  p.AfterDrain(kHalf, kHalf * 1400);
  EXPECT_EQ(p.pause_us(), 1000);
  p.AfterDrain(CoalescePause::kTargetDatagrams - 1, (CoalescePause::kTargetDatagrams - 1) * 1400);
  EXPECT_EQ(p.pause_us(), 1000);
}

TEST(CoalescePauseTest, ASmallBufferBoundsThePause) {
  // A stock Linux buffer (212,992 bytes usable): 20 datagrams of 1,400 bytes per millisecond
  // queue 48,480 bytes with their overhead, under a quarter (53,248) but not twice under it.
  const size_t buffer = 212992;
  CoalescePause p(4000, buffer);
  for (int i = 0; i < 5; ++i) p.AfterDrain(20, 20 * 1400);
  EXPECT_EQ(p.pause_us(), 1000);
  // A faster stream queues more than a quarter in the same pause: halved.
  p.AfterDrain(30, 30 * 1400);
  EXPECT_EQ(p.pause_us(), 500);
  // Large datagrams fill the buffer long before the datagram count is large.
  CoalescePause jumbo(4000, buffer);
  jumbo.AfterDrain(8, 8 * 9000);
  EXPECT_EQ(jumbo.pause_us(), 500);
}

TEST(CoalescePauseTest, ACeilingBelowOneMillisecondAndAnEmptyDrain) {
  CoalescePause p(300, 32 << 20);
  EXPECT_EQ(p.pause_us(), 300);
  p.AfterDrain(1, 100);
  EXPECT_EQ(p.pause_us(), 300);
  // No datagram: the stream ended, which says nothing about its rate.
  CoalescePause q(4000, 32 << 20);
  q.AfterDrain(0, 0);
  EXPECT_EQ(q.pause_us(), 1000);
}

// CAP_NET_ADMIN in this process's effective set (/proc/self/status, CapEff bit 12).
bool HasNetAdmin() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("CapEff:", 0) == 0) return (std::stoull(line.substr(7), nullptr, 16) >> 12) & 1;
  }
  return false;
}

TEST(UdpServerRcvbufTest, AboveRmemMaxOnlyWithNetAdminAndACappedBufferIsReported) {
  int64_t rmem_max = 0;
  std::ifstream("/proc/sys/net/core/rmem_max") >> rmem_max;
  if (rmem_max <= 0) GTEST_SKIP() << "no /proc/sys/net/core/rmem_max (not Linux)";
  if (rmem_max > (256 << 20)) GTEST_SKIP() << "net.core.rmem_max is above what this test asks";
  // Twice the cap, at least 1 MiB: what a stock system refuses to a plain SO_RCVBUF.
  const int request = static_cast<int>(std::max<int64_t>(2 * rmem_max, 1 << 20));
  boost::asio::io_context io;
  UdpServerOptions o;
  o.listen = {absl::StrCat("127.0.0.1:", testing::FreeUdpPort())};
  o.rcvbuf_bytes = request;
  auto server = UdpServer::Create(io, o, [](std::span<const uint8_t>, const ExporterId&, TimeUs) {});
  ASSERT_TRUE(server.ok()) << server.status();
  if (HasNetAdmin()) {
    EXPECT_FALSE((*server)->RcvbufCapped());
    EXPECT_GE((*server)->EffectiveRcvbuf(), request)
        << "CAP_NET_ADMIN: SO_RCVBUFFORCE must not be capped at rmem_max " << rmem_max;
  } else {
    EXPECT_TRUE((*server)->RcvbufCapped()) << "asked " << request << ", rmem_max " << rmem_max;
    EXPECT_LE((*server)->EffectiveRcvbuf(), rmem_max);
  }
  // What the kernel gives within the cap is not reported as capped.
  o.listen = {absl::StrCat("127.0.0.1:", testing::FreeUdpPort())};
  o.rcvbuf_bytes = static_cast<int>(std::min<int64_t>(rmem_max, 1 << 20)) / 2;
  auto small = UdpServer::Create(io, o, [](std::span<const uint8_t>, const ExporterId&, TimeUs) {});
  ASSERT_TRUE(small.ok()) << small.status();
  EXPECT_FALSE((*small)->RcvbufCapped()) << (*small)->EffectiveRcvbuf();
}

}  // namespace
}  // namespace nf
