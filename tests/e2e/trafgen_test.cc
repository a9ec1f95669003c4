// The traffic generator's truth must equal what its capture holds, read back with libpcap and
// parsed independently (capture_tally), since every exactness test of the exporter rests on it.
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <numeric>
#include <string>
#include <vector>

#include "tools/trafgen/trafgen.h"
#include "gtest/gtest.h"
#include "tests/e2e/capture_tally.h"
#include "tests/support/test_support.h"

namespace nf {
namespace {

using testing::CaptureTally;
using testing::KeyOf;
using testing::TallyCapture;
using testing::TempDir;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

struct Generated {
  trafgen::Summary summary;
  std::vector<trafgen::FlowTruth> truth;
  CaptureTally tally;
};

// Generates into `dir`, reads back both files; fails the test on any error.
void GenerateAndRead(const trafgen::Options& o, const TempDir& dir, Generated* g) {
  const std::string pcap = dir.File("t.pcap");
  auto summary = trafgen::Generate(o, pcap, trafgen::DefaultTruthPath(pcap));
  ASSERT_TRUE(summary.ok()) << summary.status();
  g->summary = *summary;
  auto truth = trafgen::ReadTruth(trafgen::DefaultTruthPath(pcap));
  ASSERT_TRUE(truth.ok()) << truth.status();
  g->truth = *truth;
  std::string error;
  ASSERT_TRUE(TallyCapture(pcap, &g->tally, &error)) << error;
}

// Every truth row equals the capture's tally for its key, and nothing else is in the capture.
void ExpectTruthEqualsCapture(const Generated& g) {
  ASSERT_EQ(g.truth.size(), g.tally.flows.size());
  uint64_t packets = 0, bytes = 0;
  for (const trafgen::FlowTruth& t : g.truth) {
    auto it = g.tally.flows.find(KeyOf(t));
    ASSERT_NE(it, g.tally.flows.end())
        << "truth flow missing from capture: " << t.src.ToString() << " -> " << t.dst.ToString();
    EXPECT_EQ(it->second.packets, t.packets);
    EXPECT_EQ(it->second.bytes, t.bytes);
    EXPECT_EQ(it->second.first_us / 1000, t.first_us / 1000);  // truth has milliseconds
    EXPECT_EQ(it->second.last_us / 1000, t.last_us / 1000);
    packets += t.packets;
    bytes += t.bytes;
  }
  EXPECT_EQ(packets, g.tally.packets);
  EXPECT_EQ(bytes, g.tally.l3_bytes);
  EXPECT_EQ(g.summary.l3_bytes, g.tally.l3_bytes);
  EXPECT_EQ(g.tally.unparsed, 0u);
  EXPECT_EQ(g.tally.bad_ipv4_checksum, 0u);
  EXPECT_EQ(g.tally.bad_lengths, 0u);
  EXPECT_EQ(g.tally.out_of_order, 0u);
}

TEST(TrafgenTest, TruthEqualsCaptureForAMixedCapture) {
  TempDir dir;
  trafgen::Options o;
  o.packets = 20000;
  o.flows = 700;
  o.seed = 7;
  o.ipv6_ratio = 0.4;
  o.vlan_ratio = 0.25;
  o.rate_pps = 5000;
  Generated g;
  ASSERT_NO_FATAL_FAILURE(GenerateAndRead(o, dir, &g));
  ExpectTruthEqualsCapture(g);
  EXPECT_EQ(g.tally.packets, o.packets);
  EXPECT_EQ(g.truth.size(), o.flows);
  EXPECT_EQ(g.tally.link_type, 1);  // Ethernet
  EXPECT_GT(g.tally.ipv4_packets, 0u);
  EXPECT_GT(g.tally.ipv6_packets, 0u);
  EXPECT_GT(g.tally.vlan_packets, 0u);
  EXPECT_EQ(g.tally.truncated, 0u);
  // Every protocol of the mix is present, and ICMP keys follow the exporters' convention.
  std::map<int, int> protocols;
  for (const auto& t : g.truth) {
    ++protocols[t.protocol];
    if (t.protocol == 1 || t.protocol == 58) {
      EXPECT_EQ(t.src_port, 0);
      EXPECT_TRUE(t.dst_port == 8 * 256 || t.dst_port == 0 || t.dst_port == 128 * 256 ||
                  t.dst_port == 129 * 256)
          << t.dst_port;
    }
  }
  EXPECT_GT(protocols[6], 0);
  EXPECT_GT(protocols[17], 0);
  EXPECT_GT(protocols[1], 0);
  EXPECT_GT(protocols[58], 0);
  // Timestamps follow the rate from the start time.
  EXPECT_EQ(g.summary.first_us, o.start_us);
  EXPECT_EQ(g.summary.last_us, o.start_us + (o.packets - 1) * 200);
}

TEST(TrafgenTest, TcpFlowsEndWithFinOnTheirLastPacketOnly) {
  TempDir dir;
  trafgen::Options o;
  o.packets = 5000;
  o.flows = 300;
  o.seed = 3;
  o.tcp_weight = 1;
  o.udp_weight = 0;
  o.icmp_weight = 0;
  Generated g;
  ASSERT_NO_FATAL_FAILURE(GenerateAndRead(o, dir, &g));
  ExpectTruthEqualsCapture(g);
  for (const auto& [key, f] : g.tally.flows) {
    ASSERT_EQ(key.protocol, 6);
    EXPECT_EQ(f.fin_packets, 1u);
    EXPECT_TRUE(f.fin_on_last);
    if (f.packets > 1) {
      EXPECT_NE(f.tcp_flags & 0x02, 0) << "no SYN in a multi-packet flow";
    }
  }
}

TEST(TrafgenTest, SameSeedSameBytesOtherSeedOtherBytes) {
  TempDir dir;
  trafgen::Options o;
  o.packets = 3000;
  o.flows = 120;
  o.vlan_ratio = 0.2;
  for (const char* name : {"a.pcap", "b.pcap"}) {
    auto s = trafgen::Generate(o, dir.File(name), dir.File(std::string(name) + ".truth.csv"));
    ASSERT_TRUE(s.ok()) << s.status();
  }
  o.seed = 2;
  ASSERT_TRUE(trafgen::Generate(o, dir.File("c.pcap"), dir.File("c.pcap.truth.csv")).ok());
  const std::string a = Slurp(dir.File("a.pcap"));
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, Slurp(dir.File("b.pcap")));
  EXPECT_EQ(Slurp(dir.File("a.pcap.truth.csv")), Slurp(dir.File("b.pcap.truth.csv")));
  EXPECT_NE(a, Slurp(dir.File("c.pcap")));
}

TEST(TrafgenTest, SnaplenCutsFramesButKeepsIpLengths) {
  TempDir dir;
  trafgen::Options o;
  o.packets = 4000;
  o.flows = 150;
  o.ipv6_ratio = 0.5;
  o.vlan_ratio = 0.5;
  o.snaplen = 96;  // every header still fits (18 + 40 + 20 = 78 at most)
  Generated g;
  ASSERT_NO_FATAL_FAILURE(GenerateAndRead(o, dir, &g));
  ExpectTruthEqualsCapture(g);
  EXPECT_EQ(g.tally.file_snaplen, 96u);
  EXPECT_LE(g.tally.max_caplen, 96u);
  EXPECT_GT(g.tally.truncated, 0u);
  // Same seed without the cut: the same flows and byte counts.
  TempDir whole_dir;
  o.snaplen = 0;
  Generated whole;
  ASSERT_NO_FATAL_FAILURE(GenerateAndRead(o, whole_dir, &whole));
  EXPECT_EQ(whole.tally.l3_bytes, g.tally.l3_bytes);
  EXPECT_EQ(whole.tally.truncated, 0u);
}

TEST(TrafgenTest, FlowSizesAreHeavyTailedAndRespectTheCap) {
  TempDir dir;
  trafgen::Options o;
  o.packets = 50000;
  o.flows = 1000;
  o.snaplen = 64;  // keeps the file small; sizes are what matters here
  Generated g;
  ASSERT_NO_FATAL_FAILURE(GenerateAndRead(o, dir, &g));
  std::vector<uint64_t> sizes;
  for (const auto& t : g.truth) sizes.push_back(t.packets);
  std::sort(sizes.rbegin(), sizes.rend());
  EXPECT_EQ(std::accumulate(sizes.begin(), sizes.end(), uint64_t{0}), o.packets);
  const uint64_t top_decile = std::accumulate(sizes.begin(), sizes.begin() + 100, uint64_t{0});
  EXPECT_GT(top_decile * 2, o.packets) << "the largest 10% of flows should carry most packets";
  EXPECT_GT(sizes.front(), 20 * sizes[sizes.size() / 2]);
  EXPECT_GE(sizes.back(), 1u);

  TempDir capped_dir;
  o.max_flow_packets = 100;
  Generated capped;
  ASSERT_NO_FATAL_FAILURE(GenerateAndRead(o, capped_dir, &capped));
  uint64_t total = 0;
  for (const auto& t : capped.truth) {
    EXPECT_LE(t.packets, 100u);
    total += t.packets;
  }
  EXPECT_EQ(total, o.packets);
  EXPECT_EQ(capped.summary.largest_flow, 100u);
}

TEST(TrafgenTest, SingleFamilyMixes) {
  for (double ratio : {0.0, 1.0}) {
    TempDir dir;
    trafgen::Options o;
    o.packets = 2000;
    o.flows = 80;
    o.ipv6_ratio = ratio;
    Generated g;
    ASSERT_NO_FATAL_FAILURE(GenerateAndRead(o, dir, &g));
    ExpectTruthEqualsCapture(g);
    EXPECT_EQ(ratio == 0.0 ? g.tally.ipv6_packets : g.tally.ipv4_packets, 0u);
  }
}

TEST(TrafgenTest, RefusesBadOptionsWithClearErrors) {
  TempDir dir;
  auto run = [&](trafgen::Options o) { return trafgen::Generate(o, dir.File("x.pcap"), ""); };
  trafgen::Options o;
  o.packets = 10;
  o.flows = 11;
  EXPECT_EQ(run(o).status().code(), absl::StatusCode::kInvalidArgument);
  o = {};
  o.max_flow_packets = 5;  // 1000 flows x 5 < 10000 packets
  EXPECT_EQ(run(o).status().code(), absl::StatusCode::kInvalidArgument);
  o = {};
  o.ipv6_ratio = 1.5;
  EXPECT_EQ(run(o).status().code(), absl::StatusCode::kInvalidArgument);
  o = {};
  o.tcp_weight = o.udp_weight = o.icmp_weight = 0;
  EXPECT_EQ(run(o).status().code(), absl::StatusCode::kInvalidArgument);
  o = {};
  o.rate_pps = 0;
  EXPECT_EQ(run(o).status().code(), absl::StatusCode::kInvalidArgument);
  // 1 packet/s over 500 interleaved flows: some flow would idle past the limit.
  o = {};
  o.packets = 5000;
  o.flows = 500;
  o.rate_pps = 1;
  auto idle = run(o);
  EXPECT_EQ(idle.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(idle.status().message().find("idle"), absl::string_view::npos);
  // Nothing half-written is left behind.
  EXPECT_FALSE(std::ifstream(dir.File("x.pcap")).good());
  o.max_gap_us = 0;
  o.max_flow_duration_us = 0;
  EXPECT_TRUE(run(o).ok());
}

TEST(TrafgenTest, ReadTruthRejectsOtherFiles) {
  TempDir dir;
  std::ofstream(dir.File("x.csv")) << "a,b,c\n1,2,3\n";
  EXPECT_FALSE(trafgen::ReadTruth(dir.File("x.csv")).ok());
  EXPECT_FALSE(trafgen::ReadTruth(dir.File("absent.csv")).ok());
}

}  // namespace
}  // namespace nf

namespace nf {
namespace {

// The committed demo capture is exactly what scripts/make-demo-pcap.sh produces today, and its
// truth file is right about it.
TEST(TrafgenCliTest, CommittedDemoCaptureIsReproducibleAndTrue) {
  const std::string gen = testing::BinaryPath("nf-trafgen");
  if (access(gen.c_str(), X_OK) != 0) GTEST_SKIP() << gen << " is not built";
  const std::string demo = std::string(NF_SOURCE_DIR) + "/pcaps/demo.pcap";
  TempDir dir;
  std::string out;
  ASSERT_EQ(testing::RunCommand(std::string(NF_SOURCE_DIR) + "/scripts/make-demo-pcap.sh " +
                                    NF_BINARY_DIR + " " + dir.File("demo.pcap") + " 2>&1",
                                &out),
            0)
      << out;
  EXPECT_TRUE(Slurp(dir.File("demo.pcap")) == Slurp(demo))
      << "pcaps/demo.pcap differs from what scripts/make-demo-pcap.sh generates: regenerate it";
  EXPECT_EQ(Slurp(dir.File("demo.pcap.truth.csv")), Slurp(demo + ".truth.csv"));

  Generated g;
  auto truth = trafgen::ReadTruth(demo + ".truth.csv");
  ASSERT_TRUE(truth.ok()) << truth.status();
  g.truth = *truth;
  std::string error;
  ASSERT_TRUE(TallyCapture(demo, &g.tally, &error)) << error;
  g.summary.l3_bytes = g.tally.l3_bytes;
  ExpectTruthEqualsCapture(g);
  EXPECT_GT(g.tally.ipv4_packets, 0u);
  EXPECT_GT(g.tally.ipv6_packets, 0u);
  EXPECT_GT(g.tally.vlan_packets, 0u);
}

TEST(TrafgenCliTest, BadArgumentsGiveAClearErrorAndNoFile) {
  const std::string gen = testing::BinaryPath("nf-trafgen");
  if (access(gen.c_str(), X_OK) != 0) GTEST_SKIP() << gen << " is not built";
  TempDir dir;
  std::string out;
  EXPECT_EQ(testing::RunCommand(gen + " -o " + dir.File("x.pcap") + " -n 5 -f 10 2>&1", &out), 1);
  EXPECT_NE(out.find("--packets"), std::string::npos) << out;
  EXPECT_FALSE(std::ifstream(dir.File("x.pcap")).good());
  out.clear();
  EXPECT_NE(testing::RunCommand(gen + " -n 5 2>&1", &out), 0);  // no --output
  EXPECT_NE(out.find("output"), std::string::npos) << out;
  out.clear();
  EXPECT_NE(
      testing::RunCommand(gen + " -o " + dir.File("x.pcap") + " --start yesterday 2>&1", &out), 0);
  EXPECT_NE(out.find("--start"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(testing::RunCommand(gen + " --help", &out), 0);
  EXPECT_NE(out.find("--max-flow-packets"), std::string::npos);
}

}  // namespace
}  // namespace nf
