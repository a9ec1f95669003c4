// End-to-end tests: the built flowexport and flowcollect binaries, and the real peers operators
// use (tshark, nfcapd/nfdump), on captures from the project's traffic generator whose per-flow
// truth is known exactly. Network traffic stays on 127.0.0.1. Each test skips with a clear
// message when a binary or peer tool is missing.
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tools/trafgen/trafgen.h"
#include "gtest/gtest.h"
#include "tests/e2e/capture_tally.h"
#include "tests/e2e/e2e_support.h"
#include "tests/support/test_support.h"

namespace nf {
namespace {

using testing::BinaryPath;
using testing::Child;
using testing::FlatJson;
using testing::JsonKeys;
using testing::JsonSumUnder;
using testing::JsonU64;
using testing::ReadFile;
using testing::RunArgv;
using testing::TempDir;

#define NF_REQUIRE_BINARY(path)                                               \
  do {                                                                        \
    if (access((path).c_str(), X_OK) != 0)                                    \
      GTEST_SKIP() << (path) << " is not built yet: end-to-end test skipped"; \
  } while (0)

#define NF_REQUIRE_TOOL(tool)                                                         \
  do {                                                                                \
    if (!::nf::testing::HaveTool(tool))                                               \
      GTEST_SKIP() << (tool) << " is not installed (scripts/setup-deps.sh lists it)"; \
  } while (0)

// --- the exporter's --stats-json --------------------------------------------------------------
// The counters the tests need, read from flowexport's JSON.
struct ExporterStats {
  uint64_t packets_seen = 0;     // every packet read from the input
  uint64_t packets_dropped = 0;  // sum over drop reasons
  uint64_t flow_packets = 0;     // packets accounted in flows (exported records)
  uint64_t flow_bytes = 0;
  uint64_t records = 0;  // data records exported
  uint64_t packets_sampled_out = 0;
  uint64_t flows_active = 0;  // left in the table: must be 0 after a normal exit
  FlatJson json;
};

bool ReadExporterStats(const std::string& path, ExporterStats* s, std::string* error) {
  if (!testing::ParseFlatJson(ReadFile(path), &s->json, error)) return false;
  const FlatJson& j = s->json;
  // Keys documented at the top of exporter/flowexport_main.cc.
  auto seen = JsonU64(j, "packets_seen");
  auto flow_packets = JsonU64(j, "packets_exported");
  auto flow_bytes = JsonU64(j, "bytes_exported");
  auto records = JsonU64(j, "records_sent");
  if (!seen || !flow_packets || !flow_bytes || !records) {
    *error = "unexpected --stats-json layout:\n" + JsonKeys(j);
    return false;
  }
  s->packets_seen = *seen;
  s->flow_packets = *flow_packets;
  s->flow_bytes = *flow_bytes;
  s->records = *records;
  s->packets_dropped = JsonSumUnder(j, "packets_dropped");
  s->packets_sampled_out = JsonU64(j, "packets_sampled_out").value_or(0);
  s->flows_active = JsonU64(j, "flows_active").value_or(0);
  return true;
}

// --- generated inputs -------------------------------------------------------------------------
struct Input {
  std::string pcap;
  std::vector<trafgen::FlowTruth> truth;
  uint64_t packets = 0;
  uint64_t bytes = 0;
};

void Generate(const trafgen::Options& o, const TempDir& dir, const std::string& name, Input* in) {
  in->pcap = dir.File(name);
  auto summary = trafgen::Generate(o, in->pcap, trafgen::DefaultTruthPath(in->pcap));
  ASSERT_TRUE(summary.ok()) << summary.status();
  auto truth = trafgen::ReadTruth(trafgen::DefaultTruthPath(in->pcap));
  ASSERT_TRUE(truth.ok()) << truth.status();
  in->truth = std::move(*truth);
  in->packets = summary->packets;
  in->bytes = summary->l3_bytes;
}

// Flow identity as every consumer here can report it (no VLAN: not every output carries it;
// the generator keeps keys unique without it).
using Key = std::tuple<int, int, std::string, std::string, int, int>;
struct Counts {
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t records = 0;
  int tos = -1;
};

Key TruthKey(const trafgen::FlowTruth& t) {
  return {t.ip_version, t.protocol, t.src.ToString(), t.dst.ToString(), t.src_port, t.dst_port};
}

// Compares per-flow counters with the truth, listing the first differences.
void ExpectMatchesTruth(const std::map<Key, Counts>& got,
                        const std::vector<trafgen::FlowTruth>& truth, const std::string& what,
                        bool check_tos, bool one_record_each = true) {
  size_t mismatches = 0;
  std::string report;
  std::set<Key> truth_keys;
  for (const trafgen::FlowTruth& t : truth) {
    const Key k = TruthKey(t);
    truth_keys.insert(k);
    auto it = got.find(k);
    std::string problem;
    if (it == got.end()) {
      problem = "missing";
    } else if (it->second.packets != t.packets || it->second.bytes != t.bytes) {
      problem = absl::StrCat("packets ", it->second.packets, " vs ", t.packets, ", bytes ",
                             it->second.bytes, " vs ", t.bytes);
    } else if (one_record_each && it->second.records != 1) {
      problem = absl::StrCat(it->second.records, " records for one flow");
    } else if (check_tos && it->second.tos != t.tos) {
      problem = absl::StrCat("tos ", it->second.tos, " vs ", int{t.tos});
    }
    if (!problem.empty() && ++mismatches <= 10) {
      absl::StrAppend(&report, "  ", int{t.protocol}, " ", t.src.ToString(), ":", t.src_port,
                      " -> ", t.dst.ToString(), ":", t.dst_port, ": ", problem, "\n");
    }
  }
  size_t extra = 0;
  for (const auto& [k, c] : got) {
    if (truth_keys.count(k) == 0 && ++extra <= 5) {
      absl::StrAppend(&report, "  unexpected flow ", std::get<1>(k), " ", std::get<2>(k), ":",
                      std::get<4>(k), " -> ", std::get<3>(k), ":", std::get<5>(k), " (", c.packets,
                      " packets)\n");
    }
  }
  EXPECT_EQ(mismatches, 0u) << what << ": " << mismatches << " of " << truth.size()
                            << " flows differ from the truth\n"
                            << report;
  EXPECT_EQ(extra, 0u) << what << ": flows not in the truth\n" << report;
  std::cout << "[ compared ] " << what << ": " << truth.size() - mismatches << " of "
            << truth.size() << " flows exact\n";
}

int ProtocolNumber(absl::string_view text) {
  int n;
  if (absl::SimpleAtoi(text, &n)) return n;
  if (text == "TCP") return 6;
  if (text == "UDP") return 17;
  if (text == "ICMP") return 1;
  if (text == "ICMP6") return 58;
  return -1;
}

// --- (a) flowexport -> flowcollect over loopback ----------------------------------------------
// Runs flowexport (with `extra_args`) into flowcollect over loopback; reads back the CSV rows
// summed per flow, and both tools' statistics.
struct CollectedRun {
  std::map<Key, Counts> flows;
  size_t rows = 0;
  ExporterStats exporter;
  FlatJson collector;
};

void ExportToCollector(const Input& in, const TempDir& dir,
                       const std::vector<std::string>& extra_args, CollectedRun* run) {
  const std::string exporter = BinaryPath("flowexport");
  const std::string collector = BinaryPath("flowcollect");
  const uint16_t port = testing::FreeUdpPort();
  Child coll;
  const std::vector<std::string> coll_argv = {
      collector,           "-l",           absl::StrCat("127.0.0.1:", port), "-o",
      dir.File("out.csv"), "--stats-json", dir.File("collector.json")};
  ASSERT_TRUE(coll.Start(coll_argv, dir.File("collector.out"), dir.File("collector.err")));
  ASSERT_TRUE(testing::WaitUntilUdpBound(port, false, 5000))
      << "flowcollect did not bind: " << ReadFile(dir.File("collector.err"));

  std::vector<std::string> exp_argv = {exporter,
                                       "-r",
                                       in.pcap,
                                       "-c",
                                       absl::StrCat("127.0.0.1:", port),
                                       "--stats-json",
                                       dir.File("exporter.json")};
  exp_argv.insert(exp_argv.end(), extra_args.begin(), extra_args.end());
  const int rc = RunArgv(exp_argv, dir.File("exporter.out"), dir.File("exporter.err"), 60000);
  ASSERT_EQ(rc, 0) << testing::JoinArgv(exp_argv) << "\n" << ReadFile(dir.File("exporter.err"));
  EXPECT_TRUE(testing::WaitForUdpDrained(port, 10000)) << "collector did not drain its socket";
  coll.Signal(SIGTERM);
  ASSERT_EQ(coll.Wait(15000), 0) << "flowcollect on SIGTERM: "
                                 << ReadFile(dir.File("collector.err"));

  std::string error;
  ASSERT_TRUE(ReadExporterStats(dir.File("exporter.json"), &run->exporter, &error)) << error;
  ASSERT_TRUE(testing::ParseFlatJson(ReadFile(dir.File("collector.json")), &run->collector, &error))
      << error;
  const auto rows = testing::ReadCsv(dir.File("out.csv"));
  run->rows = rows.size();
  for (const auto& r : rows) {
    int version = 0, proto = 0, sport = 0, dport = 0, tos = 0;
    uint64_t packets = 0, bytes = 0;
    ASSERT_TRUE(
        absl::SimpleAtoi(r.at("ip_version"), &version) &&
        absl::SimpleAtoi(r.at("protocol"), &proto) && absl::SimpleAtoi(r.at("src_port"), &sport) &&
        absl::SimpleAtoi(r.at("dst_port"), &dport) && absl::SimpleAtoi(r.at("tos"), &tos) &&
        absl::SimpleAtoi(r.at("packets"), &packets) && absl::SimpleAtoi(r.at("bytes"), &bytes))
        << "bad CSV row";
    Counts& c = run->flows[{version, proto, r.at("src_addr"), r.at("dst_addr"), sport, dport}];
    c.packets += packets;
    c.bytes += bytes;
    c.tos = tos;
    ++c.records;
  }
}

TEST(ExportToCollectorTest, MixedCaptureMatchesTruthPerFlow) {
  NF_REQUIRE_BINARY(BinaryPath("flowexport"));
  NF_REQUIRE_BINARY(BinaryPath("flowcollect"));
  TempDir dir;
  trafgen::Options o;
  o.packets = 100000;
  o.flows = 6000;
  o.seed = 11;
  o.ipv6_ratio = 0.4;
  o.vlan_ratio = 0.2;
  o.rate_pps = 50000;
  Input in;
  ASSERT_NO_FATAL_FAILURE(Generate(o, dir, "mixed.pcap", &in));
  CollectedRun run;
  ASSERT_NO_FATAL_FAILURE(ExportToCollector(in, dir, {}, &run));

  const ExporterStats& es = run.exporter;
  EXPECT_EQ(es.packets_seen, in.packets);
  EXPECT_EQ(es.flow_packets, in.packets);
  EXPECT_EQ(es.flow_bytes, in.bytes);
  EXPECT_EQ(es.records, in.truth.size());

  // The collector's own counters agree, with nothing lost or undecodable on the way.
  const FlatJson& cj = run.collector;
  EXPECT_EQ(JsonU64(cj, "totals.records"), in.truth.size()) << JsonKeys(cj);
  EXPECT_EQ(JsonU64(cj, "totals.packets"), in.packets);
  EXPECT_EQ(JsonU64(cj, "totals.bytes"), in.bytes);
  EXPECT_EQ(JsonU64(cj, "totals.decode_errors"), 0u);
  EXPECT_EQ(JsonU64(cj, "totals.sequence_lost"), 0u);
  EXPECT_EQ(JsonU64(cj, "receive.kernel_drops"), 0u);

  EXPECT_EQ(run.rows, in.truth.size());
  ExpectMatchesTruth(run.flows, in.truth, "flowcollect CSV", /*check_tos=*/true);
}

// Timeouts split flows into several records; nothing is lost or counted twice on the way, and
// the splits are counted under the right expiry reason.
TEST(ExportToCollectorTest, IdleAndActiveTimeoutsSplitFlowsWithoutLosingPackets) {
  NF_REQUIRE_BINARY(BinaryPath("flowexport"));
  NF_REQUIRE_BINARY(BinaryPath("flowcollect"));
  TempDir dir;
  trafgen::Options o;
  o.packets = 6000;
  o.flows = 300;
  o.seed = 61;
  o.ipv6_ratio = 0.5;
  o.rate_pps = 50;   // 120 s of capture time, 300 flows interleaved: gaps of seconds
  o.max_gap_us = 0;  // deliberately let flows idle past the exporter's timeout
  o.max_flow_duration_us = 0;
  Input in;
  ASSERT_NO_FATAL_FAILURE(Generate(o, dir, "slow.pcap", &in));
  CollectedRun run;
  ASSERT_NO_FATAL_FAILURE(
      ExportToCollector(in, dir, {"--inactive-timeout", "4", "--active-timeout", "30"}, &run));

  const ExporterStats& es = run.exporter;
  EXPECT_EQ(es.flow_packets, in.packets);
  EXPECT_EQ(es.flow_bytes, in.bytes);
  EXPECT_GT(es.records, in.truth.size()) << "no flow was split: the test would prove nothing";
  EXPECT_GT(JsonU64(es.json, "flows_expired.idle_timeout").value_or(0), 0u) << JsonKeys(es.json);
  EXPECT_GT(JsonU64(es.json, "flows_expired.active_timeout").value_or(0), 0u);
  EXPECT_EQ(JsonU64(run.collector, "totals.records"), es.records);
  EXPECT_EQ(run.rows, es.records);
  ExpectMatchesTruth(run.flows, in.truth, "flowcollect CSV (split flows summed)",
                     /*check_tos=*/true, /*one_record_each=*/false);
}

// A table far smaller than the active flows: the least recently used are exported early and
// re-created, and still nothing is lost or double counted.
TEST(ExportToCollectorTest, FullTableEvictsWithoutLosingPackets) {
  NF_REQUIRE_BINARY(BinaryPath("flowexport"));
  NF_REQUIRE_BINARY(BinaryPath("flowcollect"));
  TempDir dir;
  trafgen::Options o;
  o.packets = 30000;
  o.flows = 2000;
  o.seed = 71;
  o.ipv6_ratio = 0.3;
  o.concurrency = 1000;  // ten times the table below
  Input in;
  ASSERT_NO_FATAL_FAILURE(Generate(o, dir, "many.pcap", &in));
  CollectedRun run;
  ASSERT_NO_FATAL_FAILURE(ExportToCollector(in, dir, {"--max-flows", "100"}, &run));
  const ExporterStats& es = run.exporter;
  EXPECT_EQ(es.flow_packets, in.packets);
  EXPECT_EQ(es.flow_bytes, in.bytes);
  EXPECT_GT(JsonU64(es.json, "flows_expired.lack_of_resources").value_or(0), 0u)
      << JsonKeys(es.json);
  EXPECT_EQ(run.rows, es.records);
  ExpectMatchesTruth(run.flows, in.truth, "flowcollect CSV (evicted flows summed)",
                     /*check_tos=*/true, /*one_record_each=*/false);
}

// --- truncated capture: a snaplen that cuts payloads keeps the IP-length accounting ----------
TEST(TruncatedCaptureTest, SnaplenCutFramesStillCountIpTotalLengths) {
  const std::string exporter = BinaryPath("flowexport");
  NF_REQUIRE_BINARY(exporter);
  TempDir dir;
  trafgen::Options o;
  o.packets = 20000;
  o.flows = 1500;
  o.seed = 41;
  o.ipv6_ratio = 0.5;
  o.vlan_ratio = 0.3;
  o.snaplen = 96;  // every header fits (18 + 40 + 20), payloads are cut
  Input in;
  ASSERT_NO_FATAL_FAILURE(Generate(o, dir, "cut.pcap", &in));
  testing::UdpSink sink;
  std::string error;
  ASSERT_TRUE(sink.Open(&error)) << error;
  const std::vector<std::string> argv = {exporter,
                                         "-r",
                                         in.pcap,
                                         "-c",
                                         absl::StrCat("127.0.0.1:", sink.port()),
                                         "--stats-json",
                                         dir.File("exporter.json")};
  const int rc = RunArgv(argv, dir.File("exporter.out"), dir.File("exporter.err"), 60000);
  ASSERT_EQ(rc, 0) << testing::JoinArgv(argv) << "\n" << ReadFile(dir.File("exporter.err"));
  sink.Finish();
  ExporterStats es;
  ASSERT_TRUE(ReadExporterStats(dir.File("exporter.json"), &es, &error)) << error;
  EXPECT_EQ(es.packets_seen, in.packets);
  EXPECT_EQ(es.packets_dropped, 0u) << JsonKeys(es.json);
  EXPECT_EQ(es.flow_packets, in.packets);
  EXPECT_EQ(es.flow_bytes, in.bytes) << "bytes must be IP total lengths, not captured lengths";
  EXPECT_EQ(es.records, in.truth.size());
}

// --- several collectors, IPv4 and IPv6: each gets every datagram ------------------------------
TEST(MultiCollectorTest, EveryCollectorGetsEveryDatagram) {
  const std::string exporter = BinaryPath("flowexport");
  NF_REQUIRE_BINARY(exporter);
  TempDir dir;
  trafgen::Options o;
  o.packets = 20000;
  o.flows = 1500;
  o.seed = 51;
  Input in;
  ASSERT_NO_FATAL_FAILURE(Generate(o, dir, "in.pcap", &in));
  testing::UdpSink v4_a, v4_b, v6;
  std::string error;
  ASSERT_TRUE(v4_a.Open(&error)) << error;
  ASSERT_TRUE(v4_b.Open(&error)) << error;
  const bool have_v6 = v6.Open(&error, /*ipv6=*/true);
  std::vector<std::string> argv = {exporter,
                                   "-r",
                                   in.pcap,
                                   "-c",
                                   absl::StrCat("127.0.0.1:", v4_a.port()),
                                   "-c",
                                   absl::StrCat("127.0.0.1:", v4_b.port()),
                                   "--stats-json",
                                   dir.File("exporter.json")};
  if (have_v6) {
    argv.push_back("-c");
    argv.push_back(absl::StrCat("[::1]:", v6.port()));
  }
  const int rc = RunArgv(argv, dir.File("exporter.out"), dir.File("exporter.err"), 60000);
  ASSERT_EQ(rc, 0) << testing::JoinArgv(argv) << "\n" << ReadFile(dir.File("exporter.err"));
  const auto a = v4_a.Finish();
  const auto b = v4_b.Finish();
  ExporterStats es;
  ASSERT_TRUE(ReadExporterStats(dir.File("exporter.json"), &es, &error)) << error;
  const std::optional<uint64_t> sent = JsonU64(es.json, "datagrams_sent");
  ASSERT_TRUE(sent.has_value()) << JsonKeys(es.json);
  EXPECT_EQ(a.size(), *sent);
  EXPECT_TRUE(a == b) << "collectors received different datagrams";
  if (have_v6) {
    EXPECT_TRUE(v6.Finish() == a) << "the IPv6 collector received different datagrams";
  } else {
    std::cout << "[ note     ] no ::1 here: IPv6 collector not exercised (" << error << ")\n";
  }
  EXPECT_EQ(JsonU64(es.json, "send_errors"), 0u);
  EXPECT_EQ(es.flow_packets, in.packets);
}

// --- (b) tshark decodes everything flowexport sends --------------------------------------------
struct TsharkCase {
  const char* name;
  double ipv6_ratio;
  uint32_t sampling;  // 0: none
};

// Names the case in ctest's listing instead of a byte dump.
void PrintTo(const TsharkCase& c, std::ostream* os) { *os << c.name; }

class TsharkInteropTest : public ::testing::TestWithParam<TsharkCase> {};

TEST_P(TsharkInteropTest, DecodesEveryDatagramWithoutErrorsAndSumsAgree) {
  const TsharkCase& tc = GetParam();
  const std::string exporter = BinaryPath("flowexport");
  NF_REQUIRE_BINARY(exporter);
  NF_REQUIRE_TOOL("tshark");
  TempDir dir;
  if (tc.sampling != 0) {
    std::string help;
    testing::RunCommand(exporter + " --help 2>&1", &help);
    if (help.find("--sampling") == std::string::npos)
      GTEST_SKIP() << "flowexport has no --sampling option yet";
  }
  trafgen::Options o;
  o.packets = 30000;
  o.flows = 2000;
  o.seed = 21;
  o.ipv6_ratio = tc.ipv6_ratio;
  o.vlan_ratio = 0.1;
  o.rate_pps = 20000;
  Input in;
  ASSERT_NO_FATAL_FAILURE(Generate(o, dir, "in.pcap", &in));

  testing::UdpSink sink;
  std::string error;
  ASSERT_TRUE(sink.Open(&error)) << error;
  std::vector<std::string> argv = {exporter,
                                   "-r",
                                   in.pcap,
                                   "-c",
                                   absl::StrCat("127.0.0.1:", sink.port()),
                                   "--stats-json",
                                   dir.File("exporter.json")};
  if (tc.sampling != 0) {
    argv.push_back("--sampling");
    argv.push_back(std::to_string(tc.sampling));
  }
  const int rc = RunArgv(argv, dir.File("exporter.out"), dir.File("exporter.err"), 60000);
  ASSERT_EQ(rc, 0) << testing::JoinArgv(argv) << "\n" << ReadFile(dir.File("exporter.err"));
  const auto datagrams = sink.Finish();
  ASSERT_FALSE(datagrams.empty());
  const std::string export_pcap = dir.File("export.pcap");
  ASSERT_TRUE(testing::WriteDatagramPcap(export_pcap, datagrams, 40000, sink.port(), &error))
      << error;

  const std::string decode = absl::StrCat("-d udp.port==", sink.port(), ",cflow");
  std::string verbose;
  ASSERT_EQ(testing::RunCommand(absl::StrCat("tshark -n -r ", export_pcap, " ", decode, " -V 2>&1"),
                                &verbose),
            0);
  size_t bad_lines = 0;
  std::string bad;
  for (absl::string_view line : absl::StrSplit(verbose, '\n')) {
    if (line.find("Malformed") != absl::string_view::npos ||
        line.find("Expert Info (Error") != absl::string_view::npos ||
        line.find("Expert Info (Warning") != absl::string_view::npos) {
      if (++bad_lines <= 10) absl::StrAppend(&bad, "  ", line, "\n");
    }
  }
  EXPECT_EQ(bad_lines, 0u) << "tshark reports problems in flowexport's datagrams:\n" << bad;
  // Every datagram must be decoded as NetFlow v9.
  std::string versions;
  testing::RunCommand(absl::StrCat("tshark -n -r ", export_pcap, " ", decode,
                                   " -T fields -e cflow.version 2>/dev/null | sort | uniq -c"),
                      &versions);
  EXPECT_EQ(absl::StripAsciiWhitespace(versions), absl::StrCat(datagrams.size(), " 9"));

  std::string fields;
  ASSERT_EQ(testing::RunCommand(
                absl::StrCat("tshark -n -r ", export_pcap, " ", decode,
                             " -T fields -E occurrence=a -E aggregator=, -e cflow.packets "
                             "-e cflow.octets 2>/dev/null"),
                &fields),
            0);
  uint64_t records = 0, packets = 0, bytes = 0;
  for (absl::string_view line : absl::StrSplit(fields, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> cols = absl::StrSplit(line, '\t');
    ASSERT_EQ(cols.size(), 2u) << line;
    for (absl::string_view v : absl::StrSplit(cols[0], ',', absl::SkipEmpty())) {
      uint64_t n;
      ASSERT_TRUE(absl::SimpleAtoi(v, &n)) << v;
      packets += n;
      ++records;
    }
    for (absl::string_view v : absl::StrSplit(cols[1], ',', absl::SkipEmpty())) {
      uint64_t n;
      ASSERT_TRUE(absl::SimpleAtoi(v, &n)) << v;
      bytes += n;
    }
  }
  ExporterStats es;
  ASSERT_TRUE(ReadExporterStats(dir.File("exporter.json"), &es, &error)) << error;
  EXPECT_EQ(records, es.records);
  EXPECT_EQ(packets, es.flow_packets);
  EXPECT_EQ(bytes, es.flow_bytes);
  if (tc.sampling == 0) {
    EXPECT_EQ(records, in.truth.size());
    EXPECT_EQ(packets, in.packets);
    EXPECT_EQ(bytes, in.bytes);
  }
}

INSTANTIATE_TEST_SUITE_P(Inputs, TsharkInteropTest,
                         ::testing::Values(TsharkCase{"Ipv4Only", 0.0, 0},
                                           TsharkCase{"Ipv6Only", 1.0, 0},
                                           TsharkCase{"Mixed", 0.5, 0},
                                           TsharkCase{"MixedSampled", 0.5, 10}),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

// --- (c) nfcapd receives, nfdump reads back: exact per flow ------------------------------------
TEST(NfcapdInteropTest, NfdumpReadsExactlyTheTruthPerFlow) {
  const std::string exporter = BinaryPath("flowexport");
  NF_REQUIRE_BINARY(exporter);
  NF_REQUIRE_TOOL("nfcapd");
  NF_REQUIRE_TOOL("nfdump");
  TempDir dir;
  trafgen::Options o;
  o.packets = 300000;
  o.flows = 20000;
  o.seed = 31;
  o.ipv6_ratio = 0.4;
  o.vlan_ratio = 0.2;
  o.rate_pps = 100000;
  o.max_flow_packets = 20000;
  Input in;
  ASSERT_NO_FATAL_FAILURE(Generate(o, dir, "big.pcap", &in));

  const std::string flow_dir = dir.File("flows");
  std::filesystem::create_directory(flow_dir);
  const uint16_t port = testing::FreeUdpPort();
  Child nfcapd;
  const std::vector<std::string> nfcapd_argv = {
      "nfcapd", "-b", "127.0.0.1", "-p", std::to_string(port), "-w", flow_dir, "-B", "33554432"};
  ASSERT_TRUE(nfcapd.Start(nfcapd_argv, dir.File("nfcapd.out"), dir.File("nfcapd.err")));
  ASSERT_TRUE(testing::WaitUntilUdpBound(port, false, 5000))
      << "nfcapd did not bind: " << ReadFile(dir.File("nfcapd.err"));

  const std::vector<std::string> exp_argv = {exporter,
                                             "-r",
                                             in.pcap,
                                             "-c",
                                             absl::StrCat("127.0.0.1:", port),
                                             "--stats-json",
                                             dir.File("exporter.json")};
  const int rc = RunArgv(exp_argv, dir.File("exporter.out"), dir.File("exporter.err"), 60000);
  ASSERT_EQ(rc, 0) << testing::JoinArgv(exp_argv) << "\n" << ReadFile(dir.File("exporter.err"));
  EXPECT_TRUE(testing::WaitForUdpDrained(port, 10000)) << "nfcapd did not drain its socket";
  nfcapd.Signal(SIGTERM);
  ASSERT_EQ(nfcapd.Wait(15000), 0) << ReadFile(dir.File("nfcapd.err"));

  std::string csv;
  ASSERT_EQ(testing::RunCommand(absl::StrCat("nfdump -R ", flow_dir, " -o csv -q 2>&1"), &csv), 0)
      << csv;
  // Columns of nfdump 1.7 -o csv (with -q: no header line).
  constexpr int kSa = 3, kDa = 4, kSp = 5, kDp = 6, kPr = 7, kTos = 10, kPkt = 11, kByt = 12;
  std::map<Key, Counts> got;
  size_t rows = 0;
  for (absl::string_view line : absl::StrSplit(csv, '\n', absl::SkipEmpty())) {
    std::vector<std::string> c = absl::StrSplit(line, ',');
    ASSERT_GT(c.size(), static_cast<size_t>(kByt)) << "unexpected nfdump line: " << line;
    const int proto = ProtocolNumber(c[kPr]);
    const int version = c[kSa].find(':') != std::string::npos ? 6 : 4;
    int sport = 0, dport = 0, tos = 0;
    uint64_t packets = 0, bytes = 0;
    // nfdump prints ICMP type/code as "type.code" in the destination port column.
    if (c[kDp].find('.') != std::string::npos) {
      std::vector<std::string> tc = absl::StrSplit(c[kDp], '.');
      int type = 0, code = 0;
      ASSERT_TRUE(absl::SimpleAtoi(tc[0], &type) && absl::SimpleAtoi(tc[1], &code)) << line;
      dport = type * 256 + code;
    } else {
      ASSERT_TRUE(absl::SimpleAtoi(c[kDp], &dport)) << line;
    }
    ASSERT_TRUE(absl::SimpleAtoi(c[kSp], &sport) && absl::SimpleAtoi(c[kTos], &tos) &&
                absl::SimpleAtoi(c[kPkt], &packets) && absl::SimpleAtoi(c[kByt], &bytes))
        << line;
    Counts& cnt = got[{version, proto, c[kSa], c[kDa], sport, dport}];
    cnt.packets += packets;
    cnt.bytes += bytes;
    cnt.tos = tos;
    ++cnt.records;
    ++rows;
  }
  EXPECT_EQ(rows, in.truth.size());
  ExpectMatchesTruth(got, in.truth, "nfdump", /*check_tos=*/true);
}

// --- (d) every corpus capture runs through flowexport and its totals add up --------------------
// Packets in a capture according to capinfos (Wireshark's reader), when it is installed.
std::optional<uint64_t> CapinfosPacketCount(const std::string& file) {
  if (!testing::HaveTool("capinfos")) return std::nullopt;
  std::string out;
  if (testing::RunCommand("capinfos -M -c -T -r '" + file + "' 2>/dev/null", &out) != 0)
    return std::nullopt;
  // "-T -r": one tab-separated row "file<TAB>count".
  std::vector<std::string> cols = absl::StrSplit(absl::StripAsciiWhitespace(out), '\t');
  uint64_t n;
  if (cols.size() < 2 || !absl::SimpleAtoi(cols.back(), &n)) return std::nullopt;
  return n;
}

TEST(CorpusTrafficTest, EveryCaptureRunsAndTotalsAddUp) {
  NF_REQUIRE_CORPUS();
  const std::string exporter = BinaryPath("flowexport");
  NF_REQUIRE_BINARY(exporter);
  TempDir dir;
  testing::UdpSink sink;  // receives (and discards) the export datagrams
  std::string error;
  ASSERT_TRUE(sink.Open(&error)) << error;
  std::vector<std::string> files;
  for (const auto& e :
       std::filesystem::recursive_directory_iterator(testing::CorpusDir() + "/traffic")) {
    if (e.is_regular_file()) files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty());
  size_t exported_files = 0, refused_files = 0, beyond_libpcap_files = 0;
  std::string refused;
  for (const std::string& file : files) {
    SCOPED_TRACE(file);
    testing::CaptureTally tally;
    std::string pcap_error;
    const bool readable = testing::TallyCapture(file, &tally, &pcap_error);
    const std::string json = dir.File("stats.json");
    std::filesystem::remove(json);
    const std::vector<std::string> argv = {
        exporter, "-r", file, "-c", absl::StrCat("127.0.0.1:", sink.port()), "--stats-json", json};
    const int rc = RunArgv(argv, dir.File("out"), dir.File("err"), 30000);
    const std::string err = ReadFile(dir.File("err"));
    ASSERT_NE(rc, -1) << "flowexport hung on " << file;
    ASSERT_LT(rc, 128) << "flowexport crashed (signal " << rc - 128 << ")\n" << err;
    if (rc != 0) {
      // Refusing a file is fine only with a clear message, and only for a link type it does
      // not handle or a file libpcap itself cannot read to the end.
      EXPECT_FALSE(absl::StripAsciiWhitespace(err).empty()) << "non-zero exit without a message";
      const bool link_type = err.find("unsupported link type") != std::string::npos;
      const bool libpcap_fails = !readable || !tally.read_error.empty();
      EXPECT_TRUE(link_type || libpcap_fails)
          << "flowexport refused a capture libpcap reads fine:\n"
          << err;
      ++refused_files;
      absl::StrAppend(&refused, "  ", file, ": ", absl::StripAsciiWhitespace(err), "\n");
      continue;
    }
    ExporterStats es;
    ASSERT_TRUE(ReadExporterStats(json, &es, &error)) << error;
    if (readable && tally.read_error.empty()) {
      EXPECT_EQ(es.packets_seen, tally.packets) << "packets in file (libpcap's count)";
    } else {
      // libpcap cannot read this file to the end (e.g. a pcapng whose interfaces differ in link
      // type or snaplen) but flowexport did: count with Wireshark's reader instead.
      const std::optional<uint64_t> count = CapinfosPacketCount(file);
      if (count.has_value()) {
        EXPECT_EQ(es.packets_seen, *count) << "packets in file (capinfos' count)";
      } else {
        EXPECT_GE(es.packets_seen, tally.packets) << "fewer packets than libpcap's readable part";
      }
      ++beyond_libpcap_files;
    }
    EXPECT_EQ(es.flow_packets + es.packets_dropped + es.packets_sampled_out, es.packets_seen)
        << "exported + dropped by reason must equal seen\n"
        << JsonKeys(es.json);
    EXPECT_EQ(es.flows_active, 0u);
    ++exported_files;
  }
  ::testing::Test::RecordProperty("exported_files", static_cast<int>(exported_files));
  std::cout << "[ corpus   ] " << exported_files << " captures exported (" << beyond_libpcap_files
            << " that libpcap cannot read to the end), " << refused_files
            << " refused with a message\n"
            << refused;
  EXPECT_GT(exported_files, files.size() / 2);
}

}  // namespace
}  // namespace nf
