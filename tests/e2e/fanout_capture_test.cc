// flowexport -i IFACE --threads 2 on Linux captures with two fanout workers (own handle, own
// flow table, no packet hand-off). In a private network namespace a generated capture is
// replayed with tcpreplay into one end of a veth pair while flowexport captures on the other
// and exports to flowcollect on the namespace's loopback. Both --threads 1 and --threads 2 must
// give the generator's truth exactly: one record per flow with its packets and bytes, nothing
// extra, no capture loss at a moderate rate, and with 2 both workers must have had traffic.
// Skips (with the reason) without root, ip netns or tcpreplay.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
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
using testing::WaitUntil;

using Key = std::tuple<int, int, std::string, std::string, int, int>;
struct Counts {
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t records = 0;
};

Key TruthKey(const trafgen::FlowTruth& t) {
  return {t.ip_version, t.protocol, t.src.ToString(), t.dst.ToString(), t.src_port, t.dst_port};
}

// The last "packets seen N" of flowexport's summary (SIGUSR1 prints one), or -1.
int64_t LastSeen(const std::string& log) {
  const std::string marker = "packets seen ";
  const size_t at = log.rfind(marker);
  if (at == std::string::npos) return -1;
  const size_t end = log.find(' ', at + marker.size());
  std::string digits = log.substr(at + marker.size(), end - at - marker.size());
  digits = absl::StrReplaceAll(digits, {{",", ""}});
  int64_t n = -1;
  return absl::SimpleAtoi(digits, &n) ? n : -1;
}

struct RunResult {
  std::map<Key, Counts> flows;  // from flowcollect's CSV
  testing::FlatJson stats;      // flowexport --stats-json
  std::string log;              // flowexport's stderr
  std::set<std::string> input_ifs;  // every record's input_if (INPUT_SNMP)
};

// One namespace: veth va <-> vb, no IPv6 (so that the kernel sends nothing of its own on the
// link and packets_seen is exact), flowcollect on 127.0.0.1:2055, flowexport -i vb.
void CaptureOnce(const std::string& pcap, uint64_t packets, const std::string& threads,
                 const TempDir& tmp, RunResult* out) {
  Netns ns("fanout");
  ASSERT_TRUE(ns.ok()) << "cannot create a network namespace";
  std::string log;
  ASSERT_TRUE(Sh(ns.Exec("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 "
                         "net.ipv6.conf.default.disable_ipv6=1"),
                 &log) &&
              Sh(ns.Ip("link set lo up"), &log) &&
              Sh(ns.Ip("link add va type veth peer name vb"), &log) &&
              Sh(ns.Exec("sysctl -qw net.ipv6.conf.va.disable_ipv6=1 "
                         "net.ipv6.conf.vb.disable_ipv6=1"),
                 &log) &&
              Sh(ns.Ip("link set va up"), &log) && Sh(ns.Ip("link set vb up"), &log))
      << log;

  const std::string tag = "t" + threads;
  const std::string csv = tmp.File(tag + ".csv");
  Child collector;
  ASSERT_TRUE(collector.Start(
      ns.Argv({BinaryPath("flowcollect"), "-q", "-l", "127.0.0.1:2055", "-o", csv}),
      tmp.File(tag + "-collector.out"), tmp.File(tag + "-collector.err")));
  // 2055 = 0x0807 in /proc/net/udp.
  ASSERT_TRUE(WaitUntil(ns.Exec("grep -q ':0807 ' /proc/net/udp"), 10'000))
      << "flowcollect did not bind: " << ReadFile(tmp.File(tag + "-collector.err"));

  // Timeouts far longer than the test: every flow is one record, exported at SIGTERM.
  const std::string err = tmp.File(tag + "-exporter.err");
  const std::string json = tmp.File(tag + ".json");
  Child exporter;
  ASSERT_TRUE(exporter.Start(
      ns.Argv({BinaryPath("flowexport"), "-i", "vb", "--threads", threads, "-c",
               "127.0.0.1:2055", "--inactive-timeout", "600", "--active-timeout", "3600",
               "--stats-json", json, "--verbose"}),
      tmp.File(tag + "-exporter.out"), err));
  ASSERT_TRUE(WaitUntil("grep -q 'capturing on vb' " + err, 10'000)) << ReadFile(err);

  // A moderate rate: no capture loss is expected (and asserted).
  const std::vector<std::string> replay =
      ns.Argv({"tcpreplay", "-q", "-i", "va", "--pps=5000", pcap});
  const int rc = testing::RunArgv(replay, tmp.File(tag + "-tcpreplay.out"),
                                  tmp.File(tag + "-tcpreplay.err"), 120'000);
  ASSERT_EQ(rc, 0) << testing::JoinArgv(replay) << "\n"
                   << ReadFile(tmp.File(tag + "-tcpreplay.err"));

  // Bounded: until the exporter has seen every packet (SIGUSR1 prints the summary), 10 s.
  int64_t seen = -1;
  for (int i = 0; i < 100 && seen < static_cast<int64_t>(packets); ++i) {
    exporter.Signal(SIGUSR1);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    seen = LastSeen(ReadFile(err));
  }
  EXPECT_EQ(seen, static_cast<int64_t>(packets)) << ReadFile(err);

  exporter.Signal(SIGTERM);  // exports every flow
  ASSERT_EQ(exporter.Wait(20'000), 0) << ReadFile(err);
  // flowcollect has read every datagram when its socket's receive queue is empty.
  EXPECT_TRUE(WaitUntil(ns.Exec("awk '$2 ~ /:0807$/ && $5 ~ /:00000000$/ {f=1} END {exit !f}' "
                                "/proc/net/udp"),
                        10'000))
      << "flowcollect did not read every datagram";
  collector.Signal(SIGTERM);
  ASSERT_EQ(collector.Wait(20'000), 0) << ReadFile(tmp.File(tag + "-collector.err"));

  out->log = ReadFile(err);
  std::string error;
  ASSERT_TRUE(testing::ParseFlatJson(ReadFile(json), &out->stats, &error)) << error;
  for (const auto& r : testing::ReadCsv(csv)) {
    int version = 0, proto = 0, sport = 0, dport = 0;
    uint64_t p = 0, b = 0;
    ASSERT_TRUE(absl::SimpleAtoi(r.at("ip_version"), &version) &&
                absl::SimpleAtoi(r.at("protocol"), &proto) &&
                absl::SimpleAtoi(r.at("src_port"), &sport) &&
                absl::SimpleAtoi(r.at("dst_port"), &dport) &&
                absl::SimpleAtoi(r.at("packets"), &p) && absl::SimpleAtoi(r.at("bytes"), &b))
        << "bad CSV row";
    out->input_ifs.insert(r.at("input_if"));
    Counts& c = out->flows[{version, proto, r.at("src_addr"), r.at("dst_addr"), sport, dport}];
    c.packets += p;
    c.bytes += b;
    ++c.records;
  }
}

// Every truth flow is exactly one record with its packets and bytes; nothing else arrived.
void ExpectTruth(const std::vector<trafgen::FlowTruth>& truth, const RunResult& r) {
  size_t exact = 0;
  std::string report;
  std::set<Key> keys;
  for (const trafgen::FlowTruth& t : truth) {
    keys.insert(TruthKey(t));
    auto it = r.flows.find(TruthKey(t));
    if (it != r.flows.end() && it->second.packets == t.packets && it->second.bytes == t.bytes &&
        it->second.records == 1) {
      ++exact;
    } else if (report.size() < 2000) {
      absl::StrAppend(&report, "  ", int{t.protocol}, " ", t.src.ToString(), ":", t.src_port,
                      " -> ", t.dst.ToString(), ":", t.dst_port, ": want ", t.packets, "/",
                      t.bytes, ", got ",
                      it == r.flows.end()
                          ? std::string("nothing")
                          : absl::StrCat(it->second.packets, "/", it->second.bytes, " in ",
                                         it->second.records, " records"),
                      "\n");
    }
  }
  size_t extra = 0;
  for (const auto& [key, c] : r.flows) extra += keys.count(key) == 0;
  EXPECT_EQ(exact, truth.size()) << "flows not exact (packets/bytes, records):\n" << report;
  EXPECT_EQ(extra, 0u) << "records for flows not in the truth";
}

TEST(FanoutCaptureTest, TwoWorkersGiveTheTruthAsOneThreadDoes) {
  if (const std::string why =
          testing::NetnsTestMissing({"tcpreplay"}, {"flowexport", "flowcollect"});
      !why.empty()) {
    GTEST_SKIP() << why;
  }
  TempDir tmp;
  trafgen::Options o;
  o.packets = 12000;
  o.flows = 1500;
  o.seed = 17;
  o.ipv6_ratio = 0.3;
  const std::string pcap = tmp.File("traffic.pcap");
  auto summary = trafgen::Generate(o, pcap, trafgen::DefaultTruthPath(pcap));
  ASSERT_TRUE(summary.ok()) << summary.status();
  auto truth = trafgen::ReadTruth(trafgen::DefaultTruthPath(pcap));
  ASSERT_TRUE(truth.ok()) << truth.status();

  std::map<std::string, RunResult> runs;
  for (const std::string threads : {"1", "2"}) {
    SCOPED_TRACE("--threads " + threads);
    RunResult& r = runs[threads];
    ASSERT_NO_FATAL_FAILURE(CaptureOnce(pcap, summary->packets, threads, tmp, &r));
    EXPECT_EQ(testing::JsonU64(r.stats, "packets_seen"), summary->packets);
    EXPECT_EQ(testing::JsonU64(r.stats, "pcap_dropped"), 0u);
    EXPECT_EQ(testing::JsonU64(r.stats, "packets_exported"), summary->packets);
    EXPECT_EQ(testing::JsonU64(r.stats, "bytes_exported"), summary->l3_bytes);
    EXPECT_EQ(testing::JsonU64(r.stats, "records_sent"), truth->size());
    EXPECT_EQ(testing::JsonU64(r.stats, "flows_active"), 0u);
    EXPECT_EQ(testing::JsonU64(r.stats, "capture_workers"), threads == "2" ? 2u : 1u);
    ExpectTruth(*truth, r);
  }
  // The fanout path really ran, and the kernel's hash gave both workers a share.
  const std::string& log = runs["2"].log;
  EXPECT_TRUE(absl::StrContains(log, "capture: 2 fanout workers")) << log;
  const std::string marker = "packets seen per fanout worker: ";
  const size_t at = log.find(marker);
  ASSERT_NE(at, std::string::npos) << log;
  const std::string line = log.substr(at + marker.size(), log.find('\n', at) - at - marker.size());
  std::vector<uint64_t> per_worker;
  for (absl::string_view word : absl::StrSplit(line, ' ', absl::SkipEmpty())) {
    uint64_t n = 0;
    ASSERT_TRUE(absl::SimpleAtoi(word, &n)) << line;
    per_worker.push_back(n);
  }
  ASSERT_EQ(per_worker.size(), 2u) << line;
  EXPECT_EQ(per_worker[0] + per_worker[1], summary->packets) << line;
  EXPECT_GT(per_worker[0], summary->packets / 10) << line;
  EXPECT_GT(per_worker[1], summary->packets / 10) << line;
  // Same records, flow by flow, as one capture thread.
  const auto& one = runs["1"].flows;
  const auto& two = runs["2"].flows;
  EXPECT_EQ(one.size(), two.size());
  size_t same = 0;
  for (const auto& [key, c] : one) {
    auto it = two.find(key);
    same += it != two.end() && it->second.packets == c.packets && it->second.bytes == c.bytes &&
            it->second.records == c.records;
  }
  EXPECT_EQ(same, one.size());
  // Both stamp the capture interface's index into every record (INPUT_SNMP).
  EXPECT_EQ(runs["1"].input_ifs.size(), 1u);
  EXPECT_EQ(runs["2"].input_ifs, runs["1"].input_ifs);
  EXPECT_EQ(runs["1"].input_ifs.count("0"), 0u);
}

}  // namespace
}  // namespace nf
