// flowexport faults: the collector is unreachable (closed loopback port: ICMP port
// unreachable -> ECONNREFUSED; no route inside a fresh network namespace -> ENETUNREACH): the
// exporter counts send errors and keeps going, with the totals in --stats-json. The capture
// interface goes down (a veth pair in two namespaces, traffic replayed with tcpreplay):
// --on-iface-down exit exports every flow and exits with a clear message; wait keeps the
// flows, captures again once the link is back, and exports everything at SIGTERM.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/robustness/robustness_support.h"
#include "tests/support/test_support.h"

namespace nf {
namespace {

using testing::TempDir;

// A trafgen capture (IPv4 only) with `packets` packets; its truth is not needed: packets
// and bytes seen by the capture are compared with what reaches the collector.
std::string Traffic(const TempDir& tmp, const std::string& name, int packets, int seed) {
  const std::string path = tmp.File(name);
  const std::string cmd = absl::StrCat(testing::BinaryPath("nf-trafgen"), " -q -o ", path, " -n ",
                                       packets, " -f ", packets / 10, " --ipv6-ratio 0 -s ",
                                       seed, " >/dev/null 2>&1");
  EXPECT_EQ(testing::RunCommand(cmd), 0) << cmd;
  return path;
}

TEST(ExporterFaultsTest, ClosedPortCountsSendErrorsAndKeepsGoing) {
  TempDir tmp;
  const std::string pcap = Traffic(tmp, "t.pcap", 2000, 3);
  const uint16_t port = testing::FreeUdpPort();  // nothing listens there
  const std::string json = tmp.File("stats.json");
  // Small datagrams and a paced rate: many sends, each after the previous one's ICMP error.
  const pid_t pid = testing::Spawn({testing::BinaryPath("flowexport"), "-r", pcap, "-c",
                                    absl::StrCat("127.0.0.1:", port), "--mtu", "300",
                                    "--max-export-rate", "2000", "--stats-json", json},
                                   {-1, tmp.File("err.txt")});
  EXPECT_EQ(testing::ExitCode(testing::WaitBounded(pid, 60'000)), 0)
      << testing::ReadWholeFile(tmp.File("err.txt"));
  const std::string j = testing::ReadWholeFile(json);
  const int64_t sent = testing::JsonNumber(j, "datagrams_sent");
  const int64_t errors = testing::JsonNumber(j, "send_errors");
  EXPECT_GT(sent, 10) << j;
  // Linux reports the ICMP error of one send on the next one: about every other send fails.
  EXPECT_GT(errors, 0) << j;
  EXPECT_LE(errors, sent) << j;
  EXPECT_NE(j.find("\"last_error\": \"Connection refused\""), std::string::npos) << j;
  // Every flow was still metered and exported (records built and handed to the socket).
  EXPECT_EQ(testing::JsonNumber(j, "flows_active"), 0) << j;
  EXPECT_EQ(testing::JsonNumber(j, "packets_exported"), 2000) << j;
}

// A network namespace (and its veth links) removed when the test ends.
class Netns {
 public:
  explicit Netns(const std::string& tag)
      : name_(absl::StrCat("nf-", tag, "-", getpid())) {
    ok_ = std::system(("ip netns add " + name_ + " 2>/dev/null").c_str()) == 0;
  }
  ~Netns() {
    if (ok_) std::system(("ip netns del " + name_ + " 2>/dev/null").c_str());
  }
  bool ok() const { return ok_; }
  const std::string& name() const { return name_; }
  int Run(const std::string& cmd) const {
    return std::system(("ip netns exec " + name_ + " " + cmd).c_str());
  }
  std::vector<std::string> Exec(std::vector<std::string> argv) const {
    argv.insert(argv.begin(), {"/usr/sbin/ip", "netns", "exec", name_});
    return argv;
  }

 private:
  std::string name_;
  bool ok_ = false;
};

TEST(ExporterFaultsTest, NoRouteCountsSendErrorsAndKeepsGoing) {
  if (!testing::CanUseNetns()) GTEST_SKIP() << "needs root and permission for ip netns";
  TempDir tmp;
  Netns ns("noroute");
  ASSERT_TRUE(ns.ok());
  const std::string pcap = Traffic(tmp, "t.pcap", 1000, 4);
  const std::string json = tmp.File("stats.json");
  // A fresh namespace has only a down loopback: no route to 10.99.0.1 at all.
  const pid_t pid = testing::Spawn(
      ns.Exec({testing::BinaryPath("flowexport"), "-r", pcap, "-c", "10.99.0.1:2055", "--mtu",
               "300", "--stats-json", json}),
      {-1, tmp.File("err.txt")});
  const std::string err = [&] {
    const int status = testing::WaitBounded(pid, 60'000);
    EXPECT_EQ(testing::ExitCode(status), 0);
    return testing::ReadWholeFile(tmp.File("err.txt"));
  }();
  EXPECT_NE(err.find("is not reachable now (Network is unreachable)"), std::string::npos) << err;
  const std::string j = testing::ReadWholeFile(json);
  const int64_t sent = testing::JsonNumber(j, "datagrams_sent");
  EXPECT_GT(sent, 5) << j;
  EXPECT_EQ(testing::JsonNumber(j, "send_errors"), sent) << j;
  EXPECT_NE(j.find("\"last_error\": \"Network is unreachable\""), std::string::npos) << j;
  EXPECT_EQ(testing::JsonNumber(j, "packets_exported"), 1000) << j;
}

// Two namespaces joined by a veth pair; flowexport captures on one end (namespace `a`, with
// flowcollect on its loopback), tcpreplay sends on the other.
struct VethLab {
  Netns a{"ifa"};
  Netns b{"ifb"};
  std::string ifa, ifb;
  bool ok = false;
  VethLab() {
    ifa = absl::StrCat("nfa", getpid() % 100000);
    ifb = absl::StrCat("nfb", getpid() % 100000);
    ok = a.ok() && b.ok() &&
         std::system(absl::StrCat("ip link add ", ifa, " netns ", a.name(), " type veth peer name ",
                                  ifb, " netns ", b.name())
                         .c_str()) == 0 &&
         a.Run("ip link set lo up") == 0 && a.Run("ip link set " + ifa + " up") == 0 &&
         b.Run("ip link set " + ifb + " up") == 0;
  }
  void Replay(const std::string& pcap) const {
    EXPECT_EQ(b.Run("tcpreplay -q -i " + ifb + " --topspeed " + pcap + " >/dev/null 2>&1"), 0);
  }
};

// Polls (SIGUSR1 makes flowexport print its statistics) until `text` is in its stderr.
bool WaitForText(pid_t pid, const std::string& err_path, const std::string& text, bool poke) {
  for (int i = 0; i < 100; ++i) {
    if (poke) kill(pid, SIGUSR1);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (testing::ReadWholeFile(err_path).find(text) != std::string::npos) return true;
  }
  return false;
}

void IfaceDownRun(bool wait_mode) {
  if (!testing::CanUseNetns()) GTEST_SKIP() << "needs root and permission for ip netns";
  if (!testing::HaveTool("tcpreplay")) GTEST_SKIP() << "tcpreplay is not installed";
  TempDir tmp;
  VethLab lab;
  ASSERT_TRUE(lab.ok) << "could not set up the veth pair";
  const std::string t1 = Traffic(tmp, "t1.pcap", 200, 11);
  const std::string t2 = Traffic(tmp, "t2.pcap", 300, 12);
  const std::string csv = tmp.File("flows.csv");
  const pid_t collector = testing::Spawn(
      lab.a.Exec({testing::BinaryPath("flowcollect"), "-q", "-l", "127.0.0.1:2055", "-o", csv}),
      {-1, tmp.File("collector.txt")});
  const std::string err = tmp.File("exporter.txt");
  const std::string json = tmp.File("stats.json");
  const pid_t exporter = testing::Spawn(
      lab.a.Exec({testing::BinaryPath("flowexport"), "-i", lab.ifa, "-c", "127.0.0.1:2055",
                  "--on-iface-down", wait_mode ? "wait" : "exit", "--stats-json", json,
                  "--verbose", "ip"}),
      {-1, err});
  ASSERT_TRUE(WaitForText(exporter, err, "capturing on", false)) << testing::ReadWholeFile(err);
  lab.Replay(t1);
  ASSERT_TRUE(WaitForText(exporter, err, "seen 200", true)) << testing::ReadWholeFile(err);
  ASSERT_EQ(lab.a.Run("ip link set " + lab.ifa + " down"), 0);
  int64_t want_packets = 200;
  if (!wait_mode) {
    // Exits by itself, every flow exported, status 1 for a service manager to act on.
    const int status = testing::WaitBounded(exporter, 20'000);
    EXPECT_EQ(testing::ExitCode(status), 1) << testing::ReadWholeFile(err);
    EXPECT_NE(testing::ReadWholeFile(err).find("is down: exporting every flow and exiting "
                                               "(--on-iface-down exit)"),
              std::string::npos)
        << testing::ReadWholeFile(err);
  } else {
    ASSERT_TRUE(WaitForText(exporter, err, "waiting for it to come back", false))
        << testing::ReadWholeFile(err);
    EXPECT_EQ(waitpid(exporter, nullptr, WNOHANG), 0) << "flowexport exited while waiting";
    ASSERT_EQ(lab.a.Run("ip link set " + lab.ifa + " up"), 0);
    ASSERT_TRUE(WaitForText(exporter, err, "is back: capturing", false))
        << testing::ReadWholeFile(err);
    lab.Replay(t2);
    want_packets += 300;
    ASSERT_TRUE(WaitForText(exporter, err, "seen 500", true)) << testing::ReadWholeFile(err);
    kill(exporter, SIGTERM);
    EXPECT_EQ(testing::ExitCode(testing::WaitBounded(exporter, 20'000)), 0)
        << testing::ReadWholeFile(err);
  }
  const std::string j = testing::ReadWholeFile(json);
  EXPECT_EQ(testing::JsonNumber(j, "packets_seen"), want_packets) << j;
  EXPECT_EQ(testing::JsonNumber(j, "packets_exported"), want_packets) << j;
  EXPECT_EQ(testing::JsonNumber(j, "flows_active"), 0) << j;
  EXPECT_EQ(testing::JsonNumber(j, "send_errors"), 0) << j;
  kill(collector, SIGTERM);
  EXPECT_EQ(testing::ExitCode(testing::WaitBounded(collector, 20'000)), 0);
  int64_t packets = 0;
  for (const auto& row : testing::ReadCsv(csv)) packets += std::stoll(row.at("packets"));
  EXPECT_EQ(packets, want_packets) << "the collector did not get every flow";
}

TEST(ExporterFaultsTest, InterfaceDownExit) { IfaceDownRun(false); }
TEST(ExporterFaultsTest, InterfaceDownWait) { IfaceDownRun(true); }

}  // namespace
}  // namespace nf
