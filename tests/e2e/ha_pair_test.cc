// The active/standby collector pair of docs/ha.md, in network namespaces: an exporter namespace
// and two collector namespaces on one bridge, ucarp holding the virtual address and writing
// each node's --ha-state file from its up/down scripts. flowexport streams a generated capture
// at a steady rate to both collectors; the test kills the active node (collector and ucarp,
// SIGKILL, then its link) mid-stream and counts what the two wrote together against what was
// sent.
//
// The design's bound: nothing lost, and at most the records of the last receive burst the
// dead node wrote but had not yet confirmed duplicated (at this rate one or two datagrams).
// Skips with the reason without root, ip netns or ucarp.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_support.h"
#include "tests/e2e/netns_lab.h"
#include "tests/support/test_support.h"
#include "tools/trafgen/trafgen.h"

namespace nf {
namespace {

using testing::BinaryPath;
using testing::Child;
using testing::Netns;
using testing::ReadFile;
using testing::Sh;
using testing::TempDir;

constexpr char kVip[] = "192.0.2.100";

// The rows of a CSV file without its header, counted (a row twice is a duplicate).
std::map<std::string, int> Rows(const std::string& path) {
  std::map<std::string, int> rows;
  std::istringstream in(ReadFile(path));
  std::string line;
  bool header = true;
  while (std::getline(in, line)) {
    if (header) {
      header = false;
      continue;
    }
    if (!line.empty()) ++rows[line];
  }
  return rows;
}

// ucarp's up/down script for one node, as docs/ha.md shows: moves the address, then records
// the role with the shipped packaging/ha/flowcollect-ha-state.
std::string WriteHook(const TempDir& dir, const std::string& name, bool up,
                      const std::string& state) {
  const std::string path = dir.File(name);
  const std::string body = absl::StrCat(
      "#!/bin/sh\n",
      up ? "ip addr add \"$2\"/24 dev \"$1\"\n" : "ip addr del \"$2\"/24 dev \"$1\" 2>/dev/null\n",
      "exec ", NF_SOURCE_DIR, "/packaging/ha/flowcollect-ha-state ", state, " ",
      up ? "master" : "backup", "\n");
  FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return "";
  std::fputs(body.c_str(), f);
  std::fclose(f);
  chmod(path.c_str(), 0755);
  return path;
}

bool FileSays(const std::string& path, const std::string& word) {
  return ReadFile(path).rfind(word, 0) == 0;
}

template <typename Pred>
bool WaitFor(Pred done, int timeout_ms) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// What one run measured.
struct PairRun {
  uint64_t sent = 0, written = 0, written_a = 0, written_b = 0, lost = 0, duplicated = 0;
  uint64_t records_per_datagram = 0;
  double takeover_s = 0;
  testing::FlatJson b;  // the standby's --stats-json
};

constexpr uint64_t kDatagramsPerSecond = 400;

// `to_both`: the exporter sends every datagram to both nodes' own addresses (the design);
// otherwise only to the virtual address, as an exporter with one destination does.
void RunPair(bool to_both, PairRun* run) {
  TempDir dir;
  // 60,000 flows, exported at 400 datagrams/s: about six seconds of steady stream.
  trafgen::Options g;
  g.packets = 150'000;
  g.flows = 60'000;
  const std::string pcap = dir.File("t.pcap");
  ASSERT_TRUE(trafgen::Generate(g, pcap, "").ok());

  Netns sw("hasw"), ex("haex"), na("haa"), nb("hab");
  ASSERT_TRUE(sw.ok() && ex.ok() && na.ok() && nb.ok());
  const std::string tag = absl::StrCat(getpid() % 100000);
  std::string log;
  ASSERT_TRUE(Sh(sw.Ip("link add br0 type bridge"), &log) && Sh(sw.Ip("link set br0 up"), &log))
      << log;
  struct Host {
    const Netns* ns;
    std::string ifname, addr;
  };
  const Host hosts[] = {{&ex, "hx" + tag, "192.0.2.1"},
                        {&na, "ha" + tag, "192.0.2.11"},
                        {&nb, "hb" + tag, "192.0.2.12"}};
  for (const Host& h : hosts) {
    const std::string port = "p" + h.ifname;
    ASSERT_TRUE(Sh(absl::StrCat("ip link add ", h.ifname, " netns ", h.ns->name(),
                                " type veth peer name ", port, " netns ", sw.name()),
                   &log) &&
                Sh(sw.Ip("link set " + port + " master br0 up"), &log) &&
                Sh(h.ns->Ip("link set lo up"), &log) &&
                Sh(h.ns->Ip("addr add " + h.addr + "/24 dev " + h.ifname), &log) &&
                Sh(h.ns->Ip("link set " + h.ifname + " up"), &log))
        << log;
  }

  // The collectors: each confirms to the other; the role comes from its state file.
  const std::string state_a = dir.File("a.state"), state_b = dir.File("b.state");
  Child ca, cb;
  auto collector = [&](const Netns& ns, const std::string& self, const std::string& peer,
                       const std::string& state, const std::string& name, Child& c) {
    // On the wildcard address when exporters send to the virtual one, which moves.
    const std::string listen = to_both ? self + ":2055" : "0.0.0.0:2055";
    // A burst is what one receive pause gathers: up to 16 ms by default, about seven datagrams
    // at this rate. docs/ha.md's 2 ms keeps it to the one or two the test bounds duplicates by.
    return c.Start(ns.Argv({BinaryPath("flowcollect"), "-l", listen, "--ha-peer",
                            peer + ":2056", "--ha-listen", self + ":2056", "--ha-state", state,
                            "--receive-coalesce", "2000", "-o", "-", "--stats-json",
                            dir.File(name + ".json")}),
                   dir.File(name + ".csv"), dir.File(name + ".err"));
  };
  ASSERT_TRUE(collector(na, "192.0.2.11", "192.0.2.12", state_a, "a", ca));
  ASSERT_TRUE(collector(nb, "192.0.2.12", "192.0.2.11", state_b, "b", cb));

  // ucarp: a is preferred (advskew 0, preempt) and starts first; b stands by (advskew 50).
  Child ua, ub;
  auto carp = [&](const Netns& ns, const Host& h, const std::string& node, const std::string& state,
                  const std::string& skew, Child& c) {
    std::vector<std::string> argv = {"ucarp", "-i", h.ifname, "-s", h.addr, "-v", "42",
                                     "-p", "flowtools", "-a", kVip, "-b", "1", "-k", skew,
                                     "-u", WriteHook(dir, node + "-up.sh", true, state),
                                     "-d", WriteHook(dir, node + "-down.sh", false, state), "-z"};
    if (skew == "0") argv.push_back("-P");
    return c.Start(ns.Argv(argv), dir.File(node + "-ucarp.out"), dir.File(node + "-ucarp.err"));
  };
  ASSERT_TRUE(carp(na, hosts[1], "a", state_a, "0", ua));
  ASSERT_TRUE(WaitFor([&] { return FileSays(state_a, "active"); }, 15'000))
      << ReadFile(dir.File("a-ucarp.err"));
  ASSERT_TRUE(carp(nb, hosts[2], "b", state_b, "50", ub));
  // b's first word may be "master" for a moment before it hears a; wait until it settles.
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  ASSERT_TRUE(FileSays(state_a, "active"));
  ASSERT_FALSE(FileSays(state_b, "active")) << ReadFile(dir.File("b-ucarp.err"));

  Child exporter;
  std::vector<std::string> argv = {BinaryPath("flowexport"), "-r", pcap, "--max-export-rate",
                                   absl::StrCat(kDatagramsPerSecond), "--stats-json",
                                   dir.File("e.json")};
  for (const char* c : {"192.0.2.11:2055", "192.0.2.12:2055"}) {
    if (to_both) argv.insert(argv.end(), {"-c", c});
  }
  if (!to_both) argv.insert(argv.end(), {"-c", absl::StrCat(kVip, ":2055")});
  ASSERT_TRUE(exporter.Start(ex.Argv(argv), dir.File("e.out"), dir.File("e.err")));
  // Mid-stream: the active node dies the way a host does.
  ASSERT_TRUE(WaitFor([&] { return Rows(dir.File("a.csv")).size() > 10'000; }, 60'000))
      << ReadFile(dir.File("a.err"));
  const auto killed = std::chrono::steady_clock::now();
  ca.Signal(SIGKILL);
  ua.Signal(SIGKILL);
  ca.Wait(5'000);
  ua.Wait(5'000);
  ASSERT_TRUE(Sh(na.Ip("link set " + hosts[1].ifname + " down"), &log)) << log;
  ASSERT_TRUE(WaitFor([&] { return FileSays(state_b, "active"); }, 15'000))
      << ReadFile(dir.File("b-ucarp.err"));
  // b polls its state file every 50 ms; its log says when it took over.
  ASSERT_TRUE(WaitFor([&] { return ReadFile(dir.File("b.err")).find("ha: active") !=
                                    std::string::npos; },
                      5'000));
  const double takeover_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  ASSERT_EQ(exporter.Wait(120'000), 0) << ReadFile(dir.File("e.err"));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  cb.Signal(SIGTERM);
  ASSERT_EQ(cb.Wait(30'000), 0) << ReadFile(dir.File("b.err"));

  testing::FlatJson e;
  testing::FlatJson& b = run->b;
  std::string error;
  ASSERT_TRUE(testing::ParseFlatJson(ReadFile(dir.File("e.json")), &e, &error)) << error;
  ASSERT_TRUE(testing::ParseFlatJson(ReadFile(dir.File("b.json")), &b, &error)) << error;
  const uint64_t sent = testing::JsonU64(e, "records_sent").value_or(0);
  const uint64_t datagrams = testing::JsonU64(e, "datagrams_sent").value_or(0);
  ASSERT_GT(sent, 50'000u);
  const std::map<std::string, int> rows_a = Rows(dir.File("a.csv"));
  const std::map<std::string, int> rows_b = Rows(dir.File("b.csv"));
  uint64_t written_a = 0, written_b = 0;
  for (const auto& [row, n] : rows_a) written_a += n;
  for (const auto& [row, n] : rows_b) written_b += n;
  std::set<std::string> unique;
  for (const auto& [row, n] : rows_a) unique.insert(row);
  for (const auto& [row, n] : rows_b) unique.insert(row);
  run->sent = sent;
  run->written = unique.size();
  run->written_a = written_a;
  run->written_b = written_b;
  run->duplicated = written_a + written_b - unique.size();
  run->lost = sent > unique.size() ? sent - unique.size() : 0;
  // Sent to both nodes, each datagram is counted twice by the exporter.
  const uint64_t copies = to_both ? 2 : 1;
  run->records_per_datagram = datagrams > 0 ? (copies * sent + datagrams - 1) / datagrams : 0;
  run->takeover_s = takeover_s;
  std::printf(
      "ha pair (exporter to %s): records sent %llu, written %llu (active %llu before it died, "
      "standby %llu), lost %llu, duplicated %llu, takeover %.2f s after the kill, replayed %llu "
      "datagrams\n",
      to_both ? "both nodes" : "the virtual address", static_cast<unsigned long long>(sent),
      static_cast<unsigned long long>(unique.size()), static_cast<unsigned long long>(written_a),
      static_cast<unsigned long long>(written_b), static_cast<unsigned long long>(run->lost),
      static_cast<unsigned long long>(run->duplicated), takeover_s,
      static_cast<unsigned long long>(testing::JsonU64(b, "ha.last_replay").value_or(0)));
  ub.Signal(SIGTERM);
  ub.Wait(5'000);
}

bool CanRun(std::string* why) {
  *why = testing::NetnsTestMissing({"ucarp"}, {"flowexport", "flowcollect"});
  return why->empty();
}

TEST(HaPairTest, TheActiveDiesMidStreamAndNothingIsLostOrDuplicated) {
  std::string why;
  if (!CanRun(&why)) GTEST_SKIP() << why;
  PairRun run;
  ASSERT_NO_FATAL_FAILURE(RunPair(/*to_both=*/true, &run));
  EXPECT_GT(run.written_a, 0u);
  EXPECT_GT(run.written_b, 0u);
  EXPECT_EQ(run.lost, 0u);
  EXPECT_LE(run.duplicated, 2 * run.records_per_datagram);
  EXPECT_EQ(testing::JsonU64(run.b, "ha.became_active").value_or(0), 1u);
  EXPECT_EQ(testing::JsonU64(run.b, "ha.spool.evicted_unconfirmed").value_or(1), 0u);
  EXPECT_EQ(testing::JsonU64(run.b, "ha.spool.expired_unconfirmed").value_or(1), 0u);
}

// The same failure with an exporter that can send only to the virtual address: the standby
// sees nothing until it holds the address, so what was sent in between is lost. The bound is
// the takeover time at the export rate (plus a second of slack for ARP and the last queue).
TEST(HaPairTest, AnExporterSendingOnlyToTheVirtualAddressLosesTheTakeoverWindow) {
  std::string why;
  if (!CanRun(&why)) GTEST_SKIP() << why;
  PairRun run;
  ASSERT_NO_FATAL_FAILURE(RunPair(/*to_both=*/false, &run));
  EXPECT_GT(run.written_a, 0u);
  EXPECT_GT(run.written_b, 0u);
  EXPECT_EQ(run.duplicated, 0u);
  const double per_second = static_cast<double>(kDatagramsPerSecond * run.records_per_datagram);
  EXPECT_LE(static_cast<double>(run.lost), per_second * (run.takeover_s + 1.0));
}

}  // namespace
}  // namespace nf
