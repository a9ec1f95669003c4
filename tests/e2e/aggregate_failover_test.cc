// Failover of the active member of an aggregated capture interface: flowexport captures on the
// aggregate (a Linux bond in active-backup mode, or a bridge of two ports where bonding is not
// built in the kernel), the first half of a generated capture arrives through member A, A
// fails, the second half arrives through member B. The capture must go on with the flow table
// intact: after SIGTERM every flow of the generator's truth is exported once, with exact
// packets and bytes, although most flows have packets on both sides of the failover.
//
// Topology (network namespaces, nothing outside them; export on the exporter's loopback):
//
//   switch ns:  snd --veth-- ps ┐
//                               sw0 (bridge) ── pera ──veth── mema ┐
//                                            └─ perb ──veth── memb ┴ agg0 (bond or bridge)
//                                                                    exporter ns: flowexport
//                                                                    -i agg0 -> flowcollect
//
// tcpreplay sends on snd; sw0 floods the frames (their destination MACs are unknown) to both
// member links. A bond takes frames only from its active member. A bridge takes them from every
// forwarding port, and two bridges joined by two links form a loop, so in the bridge case sw0
// keeps perb disabled until A fails, as spanning tree would.
#include <pcap/pcap.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "tests/e2e/capture_tally.h"
#include "tests/e2e/e2e_support.h"
#include "tests/e2e/netns_lab.h"
#include "tests/support/test_support.h"
#include "tools/trafgen/trafgen.h"

namespace nf {
namespace {

using testing::BinaryPath;
using testing::Child;
using testing::ReadFile;
using testing::TempDir;

enum class Aggregate { kBond, kBridge };

using testing::Netns;
using testing::Sh;
using testing::WaitUntil;

// Whether this kernel can create a bond (the driver may be absent, as in some CI VMs): tried in
// a throwaway namespace, so nothing outside it is touched.
bool HaveBonding() {
  Netns probe("bondprobe");
  return probe.ok() && Sh(probe.Ip("link add nfprobe type bond mode active-backup"));
}

// Copies the first `first_count` frames of `in` to `first` and the others to `second`.
bool SplitCapture(const std::string& in, size_t first_count, const std::string& first,
                  const std::string& second, size_t* total, std::string* error) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  pcap_t* src = pcap_open_offline(in.c_str(), errbuf);
  if (src == nullptr) {
    *error = errbuf;
    return false;
  }
  pcap_dumper_t* out[2] = {pcap_dump_open(src, first.c_str()), pcap_dump_open(src, second.c_str())};
  bool ok = out[0] != nullptr && out[1] != nullptr;
  if (!ok) *error = pcap_geterr(src);
  *total = 0;
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  while (ok && pcap_next_ex(src, &header, &data) == 1) {
    pcap_dump(reinterpret_cast<u_char*>(out[*total < first_count ? 0 : 1]), header, data);
    ++*total;
  }
  for (pcap_dumper_t* d : out) {
    if (d != nullptr) pcap_dump_close(d);
  }
  pcap_close(src);
  return ok;
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

// Pokes flowexport with SIGUSR1 until its summary reports at least `want` packets seen (bounded:
// 10 s). Returns the last count read.
int64_t WaitSeen(Child& exporter, const std::string& err_path, int64_t want) {
  int64_t seen = -1;
  for (int i = 0; i < 100 && seen < want; ++i) {
    exporter.Signal(SIGUSR1);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    seen = LastSeen(ReadFile(err_path));
  }
  return seen;
}

// The two namespaces and their links. Interface names are per namespace, so fixed names are
// safe; namespace names carry the pid.
struct Lab {
  Netns ex{"fx-ex"};
  Netns sw{"fx-sw"};
  std::string log;  // every setup command and its output, for failure messages

  bool Build(Aggregate kind) {
    if (!ex.ok() || !sw.ok()) return false;
    // No IPv6 on any link (router solicitations, MLD, DAD): the exporter must see only the
    // replayed frames, so that packets_seen is exact.
    for (const Netns* n : {&ex, &sw}) {
      if (!Sh(n->Exec("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 "
                      "net.ipv6.conf.default.disable_ipv6=1"),
              &log) ||
          !Sh(n->Ip("link set lo up"), &log)) {
        return false;
      }
    }
    // No multicast snooping on either bridge: a snooping bridge joins the all-snoopers group
    // (224.0.0.106) and sends IGMP reports, up to a second late, which the capture would count.
    const std::string aggregate =
        kind == Aggregate::kBond ? "link add agg0 type bond mode active-backup miimon 10"
                                 : "link add agg0 type bridge stp_state 0 mcast_snooping 0";
    const std::vector<std::string> steps = {
        absl::StrCat("ip link add mema netns ", ex.name(), " type veth peer name pera netns ",
                     sw.name()),
        absl::StrCat("ip link add memb netns ", ex.name(), " type veth peer name perb netns ",
                     sw.name()),
        sw.Ip("link add snd type veth peer name ps"),
        sw.Ip("link add sw0 type bridge stp_state 0 mcast_snooping 0"),
        sw.Ip("link set pera master sw0"),
        sw.Ip("link set perb master sw0"),
        sw.Ip("link set ps master sw0"),
        ex.Ip(aggregate),
        // Members are enslaved while down (a bond refuses an up one).
        ex.Ip("link set mema master agg0"),
        ex.Ip("link set memb master agg0"),
        ex.Ip("link set mema up"),
        ex.Ip("link set memb up"),
        ex.Ip("link set agg0 up"),
        sw.Ip("link set pera up"),
        sw.Ip("link set perb up"),
        sw.Ip("link set ps up"),
        sw.Ip("link set snd up"),
        sw.Ip("link set sw0 up"),
    };
    for (const std::string& step : steps) {
      if (!Sh(step, &log)) return false;
    }
    if (kind == Aggregate::kBond) {
      // Make A the active member whichever came up first. The bond refuses until miimon has
      // seen A's link up, so the request is repeated until the bond reports A active.
      const bool a_active =
          WaitUntil(ex.Ip("link set agg0 type bond active_slave mema") + " && " +
                        ex.Ip("-d link show agg0") + " | grep -q 'active_slave mema '",
                    5000) &&
          WaitUntil(ex.Ip("-d link show memb") + " | grep -q 'mii_status UP'", 5000);
      Sh(ex.Ip("-d link show agg0"), &log);
      return a_active && WaitUntil(ex.Ip("link show agg0") + " | grep -q LOWER_UP", 5000);
    }
    // Bridge: B's switch port stays disabled (what spanning tree does to the redundant link)
    // until A fails, or the two bridges would loop every frame. Set once the port has its
    // carrier and forwards: the carrier coming up re-enables a port whatever state it had.
    const std::string bridge_sw = "bridge -n " + sw.name() + " link show dev ";
    return WaitUntil(bridge_sw + "perb | grep -q 'LOWER_UP.*state forwarding'", 5000) &&
           WaitUntil(bridge_sw + "pera | grep -q 'LOWER_UP.*state forwarding'", 5000) &&
           Sh("bridge -n " + sw.name() + " link set dev perb state 0", &log) &&
           Sh(bridge_sw + "perb | grep 'state disabled'", &log) &&
           WaitUntil("bridge -n " + ex.name() + " link show dev mema | grep -q 'state forwarding'",
                     5000) &&
           WaitUntil(ex.Ip("link show agg0") + " | grep -q LOWER_UP", 5000);
  }

  // Member A fails (its link goes down); returns once traffic can only arrive through B.
  bool FailMemberA(Aggregate kind) {
    if (!Sh(ex.Ip("link set mema down"), &log)) return false;
    if (kind == Aggregate::kBond) {
      // miimon notices within its interval; the bond then makes B active.
      return WaitUntil(ex.Ip("-d link show agg0") + " | grep -q 'active_slave memb '", 5000);
    }
    // The switch sees A's carrier go and unblocks the redundant port.
    return WaitUntil("bridge -n " + sw.name() + " link show dev pera | grep -q 'state disabled'",
                     5000) &&
           Sh("bridge -n " + sw.name() + " link set dev perb state 3", &log) &&
           WaitUntil("bridge -n " + sw.name() + " link show dev perb | grep -q 'state forwarding'",
                     5000);
  }

  // Frames received by an interface of the exporter namespace.
  int64_t RxPackets(const std::string& iface) const {
    std::string out;
    if (testing::RunCommand(ex.Exec("cat /sys/class/net/" + iface + "/statistics/rx_packets"),
                            &out) != 0) {
      return -1;
    }
    int64_t n = -1;
    return absl::SimpleAtoi(absl::StripAsciiWhitespace(out), &n) ? n : -1;
  }

  // Sends a capture at a bounded rate into the switch.
  bool Replay(const std::string& pcap, const TempDir& tmp) const {
    const std::vector<std::string> argv =
        sw.Argv({"tcpreplay", "-q", "-i", "snd", "--pps=4000", pcap});
    const int rc = testing::RunArgv(argv, tmp.File("tcpreplay.out"), tmp.File("tcpreplay.err"),
                                    60'000);
    EXPECT_EQ(rc, 0) << testing::JoinArgv(argv) << "\n" << ReadFile(tmp.File("tcpreplay.err"));
    return rc == 0;
  }

  // The receive queue of UDP `port` in the exporter namespace (its /proc/net/udp: local
  // address in field 2, tx_queue:rx_queue in field 5, hex), or -1 when nothing is bound there.
  int64_t UdpRxQueue(uint16_t port) const {
    std::string table;
    if (testing::RunCommand(ex.Exec("cat /proc/net/udp"), &table) != 0) return -1;
    char suffix[8];
    std::snprintf(suffix, sizeof(suffix), ":%04X", port);
    for (absl::string_view line : absl::StrSplit(table, '\n')) {
      std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (f.size() < 5 || !absl::EndsWith(f[1], suffix)) continue;
      const size_t colon = f[4].find(':');
      uint64_t queued = 0;
      if (colon == absl::string_view::npos ||
          !absl::SimpleHexAtoi(f[4].substr(colon + 1), &queued)) {
        return -1;
      }
      return static_cast<int64_t>(queued);
    }
    return -1;
  }
  // Polls (bounded) until `port` is bound with nothing queued: the collector is up, or has read
  // every datagram.
  bool WaitCollectorIdle(uint16_t port, int timeout_ms) const {
    for (int waited = 0; waited < timeout_ms; waited += 20) {
      if (UdpRxQueue(port) == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
};

using Key = std::tuple<int, int, std::string, std::string, int, int>;
struct Counts {
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t records = 0;
};

Key TruthKey(const trafgen::FlowTruth& t) {
  return {t.ip_version, t.protocol, t.src.ToString(), t.dst.ToString(), t.src_port, t.dst_port};
}

void FailoverRun(Aggregate kind) {
  if (const std::string why =
          testing::NetnsTestMissing({"tcpreplay"}, {"flowexport", "flowcollect"});
      !why.empty()) {
    GTEST_SKIP() << why;
  }
  if (kind == Aggregate::kBond && !HaveBonding()) {
    GTEST_SKIP() << "this kernel has no bonding driver (ip link add ... type bond fails); "
                    "BridgeMemberFailover covers the property without it";
  }
  TempDir tmp;

  // Every flow open at once (concurrency = flows), so most flows have packets on both sides of
  // the failover; sizes capped so that no flow ends early in the replay.
  trafgen::Options o;
  o.packets = 4000;
  o.flows = 200;
  o.concurrency = 200;
  o.max_flow_packets = 60;
  o.seed = 41;
  const std::string pcap = tmp.File("traffic.pcap");
  auto summary = trafgen::Generate(o, pcap, trafgen::DefaultTruthPath(pcap));
  ASSERT_TRUE(summary.ok()) << summary.status();
  auto truth = trafgen::ReadTruth(trafgen::DefaultTruthPath(pcap));
  ASSERT_TRUE(truth.ok()) << truth.status();
  const std::string first = tmp.File("first.pcap");
  const std::string second = tmp.File("second.pcap");
  size_t total = 0;
  std::string error;
  ASSERT_TRUE(SplitCapture(pcap, o.packets / 2, first, second, &total, &error)) << error;
  ASSERT_EQ(total, summary->packets);
  const int64_t first_packets = static_cast<int64_t>(o.packets / 2);
  const int64_t all_packets = static_cast<int64_t>(total);

  // The test proves something only if flows straddle the failover.
  testing::CaptureTally before, after;
  ASSERT_TRUE(testing::TallyCapture(first, &before, &error)) << error;
  ASSERT_TRUE(testing::TallyCapture(second, &after, &error)) << error;
  size_t straddling = 0;
  for (const auto& [key, tally] : before.flows) straddling += after.flows.count(key);
  ASSERT_GE(straddling, truth->size() / 2)
      << "too few flows have packets on both sides of the failover";

  Lab lab;
  ASSERT_TRUE(lab.Build(kind)) << "could not build the namespaces:\n" << lab.log;

  const uint16_t port = 2055;  // the exporter namespace's own loopback: always free
  const std::string csv = tmp.File("flows.csv");
  Child collector;
  ASSERT_TRUE(collector.Start(
      lab.ex.Argv({BinaryPath("flowcollect"), "-q", "-l", absl::StrCat("127.0.0.1:", port), "-o",
                   csv}),
      tmp.File("collector.out"), tmp.File("collector.err")));
  ASSERT_TRUE(lab.WaitCollectorIdle(port, 10'000))
      << "flowcollect did not bind: " << ReadFile(tmp.File("collector.err"));

  // Timeouts far longer than the test: any flow exported before SIGTERM is a defect.
  const std::string err = tmp.File("exporter.err");
  const std::string json = tmp.File("exporter.json");
  Child exporter;
  ASSERT_TRUE(exporter.Start(
      lab.ex.Argv({BinaryPath("flowexport"), "-i", "agg0", "-c",
                   absl::StrCat("127.0.0.1:", port), "--inactive-timeout", "600",
                   "--active-timeout", "3600", "--stats-json", json, "--verbose"}),
      tmp.File("exporter.out"), err));
  ASSERT_TRUE(WaitUntil("grep -q 'capturing on agg0' " + err, 10'000)) << ReadFile(err);

  // First half through A.
  ASSERT_TRUE(lab.Replay(first, tmp));
  ASSERT_EQ(WaitSeen(exporter, err, first_packets), first_packets) << ReadFile(err);

  // A fails; the aggregate stays up (carrier from B) and flowexport keeps running.
  ASSERT_TRUE(lab.FailMemberA(kind)) << "failover did not happen:\n" << lab.log;
  ASSERT_TRUE(WaitUntil(lab.ex.Ip("link show agg0") + " | grep -q LOWER_UP", 5000))
      << "the aggregate lost its carrier with B up";
  ASSERT_TRUE(exporter.Running()) << "flowexport exited when member A failed:\n" << ReadFile(err);
  const int64_t rx_b = lab.RxPackets("memb");

  // Second half through B.
  ASSERT_TRUE(lab.Replay(second, tmp));
  EXPECT_EQ(WaitSeen(exporter, err, all_packets), all_packets) << ReadFile(err);
  EXPECT_GE(lab.RxPackets("memb") - rx_b, all_packets - first_packets)
      << "the second half did not arrive through member B";
  EXPECT_EQ(ReadFile(err).find("is down"), std::string::npos) << ReadFile(err);

  exporter.Signal(SIGTERM);  // flushes every flow
  ASSERT_EQ(exporter.Wait(20'000), 0) << ReadFile(err);
  EXPECT_TRUE(lab.WaitCollectorIdle(port, 10'000)) << "flowcollect did not read every datagram";
  collector.Signal(SIGTERM);
  ASSERT_EQ(collector.Wait(20'000), 0) << ReadFile(tmp.File("collector.err"));

  const std::string j = ReadFile(json);
  std::string flat_error;
  testing::FlatJson stats;
  ASSERT_TRUE(testing::ParseFlatJson(j, &stats, &flat_error)) << flat_error;
  EXPECT_EQ(testing::JsonU64(stats, "packets_seen"), static_cast<uint64_t>(all_packets)) << j;
  EXPECT_EQ(testing::JsonU64(stats, "packets_exported"), static_cast<uint64_t>(all_packets)) << j;
  EXPECT_EQ(testing::JsonU64(stats, "bytes_exported"), summary->l3_bytes) << j;
  EXPECT_EQ(testing::JsonU64(stats, "records_sent"), truth->size()) << j;
  EXPECT_EQ(testing::JsonU64(stats, "flows_active"), 0u) << j;

  // Per flow, against the truth: one record each, exact packets and bytes, nothing else.
  std::map<Key, Counts> got;
  size_t rows = 0;
  for (const auto& r : testing::ReadCsv(csv)) {
    int version = 0, proto = 0, sport = 0, dport = 0;
    uint64_t packets = 0, bytes = 0;
    ASSERT_TRUE(absl::SimpleAtoi(r.at("ip_version"), &version) &&
                absl::SimpleAtoi(r.at("protocol"), &proto) &&
                absl::SimpleAtoi(r.at("src_port"), &sport) &&
                absl::SimpleAtoi(r.at("dst_port"), &dport) &&
                absl::SimpleAtoi(r.at("packets"), &packets) &&
                absl::SimpleAtoi(r.at("bytes"), &bytes))
        << "bad CSV row";
    Counts& c = got[{version, proto, r.at("src_addr"), r.at("dst_addr"), sport, dport}];
    c.packets += packets;
    c.bytes += bytes;
    ++c.records;
    ++rows;
  }
  size_t exact = 0;
  std::string report;
  std::set<Key> truth_keys;
  uint64_t got_packets = 0, got_bytes = 0;
  for (const trafgen::FlowTruth& t : *truth) {
    truth_keys.insert(TruthKey(t));
    auto it = got.find(TruthKey(t));
    if (it != got.end() && it->second.packets == t.packets && it->second.bytes == t.bytes &&
        it->second.records == 1) {
      ++exact;
    } else if (report.size() < 2000) {
      absl::StrAppend(&report, "  ", int{t.protocol}, " ", t.src.ToString(), ":", t.src_port,
                      " -> ", t.dst.ToString(), ":", t.dst_port, ": want ", t.packets, "/",
                      t.bytes, ", got ",
                      it == got.end() ? std::string("nothing")
                                      : absl::StrCat(it->second.packets, "/", it->second.bytes,
                                                     " in ", it->second.records, " records"),
                      "\n");
    }
  }
  size_t extra = 0;
  for (const auto& [key, c] : got) {
    got_packets += c.packets;
    got_bytes += c.bytes;
    extra += truth_keys.count(key) == 0;
  }
  EXPECT_EQ(rows, truth->size()) << "records: a flow split in two, or lost";
  EXPECT_EQ(exact, truth->size()) << "flows differing from the truth:\n" << report;
  EXPECT_EQ(extra, 0u) << "flows not in the truth";
  std::cout << "[ compared ] " << (kind == Aggregate::kBond ? "bond" : "bridge") << ": "
            << exact << " of " << truth->size() << " flows exact (" << straddling
            << " straddle the failover), " << rows << " records; packets " << got_packets << " of "
            << summary->packets << ", bytes " << got_bytes << " of " << summary->l3_bytes << "\n";
}

TEST(AggregateFailoverTest, BondActiveBackupFailover) { FailoverRun(Aggregate::kBond); }
TEST(AggregateFailoverTest, BridgeMemberFailover) { FailoverRun(Aggregate::kBridge); }

}  // namespace
}  // namespace nf
