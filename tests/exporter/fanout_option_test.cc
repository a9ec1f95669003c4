// The fanout plumbing of live capture (capture/pcap_source.h, exporter/app/fanout_capture.h):
// the group id a process derives from its pid, which interfaces can fan out, and that
// LiveCaptureOptions::fanout_group really joins the handle to a PACKET_FANOUT group (a group
// of another mode refuses it). The last part needs CAP_NET_RAW and skips without it. Also the
// doorbell the workers ring to wake the export thread before its longest pause.
#include <unistd.h>
#ifdef __linux__
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/socket.h>
#endif

#include <chrono>
#include <set>
#include <thread>

#include "capture/pcap_source.h"
#include "exporter/app/fanout_capture.h"
#include "gtest/gtest.h"

namespace nf {
namespace {

TEST(FanoutGroupIdTest, SmallPidsAreTheirOwnIdAndLargeOnesFold) {
  EXPECT_EQ(FanoutGroupIdFor(1234), 1234);
  EXPECT_EQ(FanoutGroupIdFor(65535), 65535);
  // pid_max can reach 2^22: the high bits change the id instead of being cut off.
  EXPECT_NE(FanoutGroupIdFor(65536 + 7), FanoutGroupIdFor(7));
  std::set<uint16_t> ids;
  for (int64_t pid = 100000; pid < 100000 + 1000; ++pid) ids.insert(FanoutGroupIdFor(pid));
  EXPECT_EQ(ids.size(), 1000u) << "neighbouring pids must not share a group";
}

TEST(FanoutSupportedTest, OnlyKernelInterfacesOnLinux) {
  EXPECT_FALSE(FanoutSupported("nflog:5"));
  EXPECT_FALSE(FanoutSupported("no-such-interface0"));
#ifdef __linux__
  EXPECT_TRUE(FanoutSupported("lo"));
  EXPECT_FALSE(FanoutSupported("any"));  // libpcap's pseudo-device: no ifindex
#else
  EXPECT_FALSE(FanoutSupported("lo0"));
#endif
}

TEST(FanoutCaptureTest, RefusesFewerThanTwoWorkers) {
  FanoutOptions o;
  o.workers = 1;
  o.capture.interface = "lo";
  auto f = FanoutCapture::Open(o);
  ASSERT_FALSE(f.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(f.status())) << f.status();
}

TEST(FanoutBufferTest, TheProcessBufferIsSplitOverTheSockets) {
  EXPECT_EQ(FanoutBufferBytes(32 << 20, 2), 16 << 20);
  EXPECT_EQ(FanoutBufferBytes(32 << 20, 3), (32 << 20) / 3);
  EXPECT_EQ(FanoutBufferBytes(4 << 20, 8), 1 << 20);     // never below 1 MiB a socket
  EXPECT_EQ(FanoutBufferBytes(512 << 10, 2), 512 << 10);  // nor above what was asked
  EXPECT_EQ(FanoutBufferBytes(0, 2), 0);                  // 0: the platform's default
}

TEST(DoorbellTest, ARingBeforeTheWaitIsKeptAndClearedByIt) {
  Doorbell bell;
  bell.Ring();
  bell.Ring();  // rings do not add up: one wait takes them all
  EXPECT_TRUE(bell.Wait(std::chrono::seconds(60)));
  EXPECT_FALSE(bell.Wait(std::chrono::microseconds(1000)));
}

TEST(DoorbellTest, AWaitWithoutARingEndsAtItsTimeout) {
  Doorbell bell;
  EXPECT_FALSE(bell.Wait(std::chrono::microseconds(2000)));
}

TEST(DoorbellTest, ARingFromAnotherThreadEndsTheWait) {
  // The waiter's timeout is far longer than the test's own: only the ring can end it in time.
  Doorbell bell;
  std::thread worker([&bell] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    bell.Ring();
  });
  EXPECT_TRUE(bell.Wait(std::chrono::seconds(60)));
  worker.join();
}

#ifdef __linux__
// A packet socket on lo in group `id` with PACKET_FANOUT_LB, or -1.
int JoinLoadBalanceGroup(uint16_t id) {
  const int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  if (fd < 0) return -1;
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = static_cast<int>(if_nametoindex("lo"));
  const int arg = id | (PACKET_FANOUT_LB << 16);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof(sll)) != 0 ||
      setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

TEST(FanoutJoinTest, HandlesJoinOneHashGroupAndAForeignModeIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "needs CAP_NET_RAW (root) to open packet sockets";
  LiveCaptureOptions lo;
  lo.interface = "lo";
  lo.promiscuous = false;
  lo.buffer_size_bytes = 1 << 20;
  lo.fanout_group = FanoutGroupIdFor(getpid());
  // Two handles in the same hash group: the second one joins the first one's group.
  auto a = PcapSource::OpenLive(lo);
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = PcapSource::OpenLive(lo);
  ASSERT_TRUE(b.ok()) << b.status();

  // A group someone else made in another mode: joining must fail, naming the group, which
  // shows the option reaches the kernel (a handle without fanout would open fine).
  const uint16_t foreign = static_cast<uint16_t>(lo.fanout_group ^ 0x8000);
  const int fd = JoinLoadBalanceGroup(foreign);
  ASSERT_GE(fd, 0) << "cannot make a PACKET_FANOUT_LB group on lo";
  lo.fanout_group = foreign;
  auto c = PcapSource::OpenLive(lo);
  EXPECT_FALSE(c.ok());
  if (!c.ok()) {
    EXPECT_NE(c.status().message().find("PACKET_FANOUT group"), std::string::npos);
  }
  lo.fanout_group = -1;
  EXPECT_TRUE(PcapSource::OpenLive(lo).ok());
  close(fd);
}
#endif

}  // namespace
}  // namespace nf
