// End-to-end tests of the flowexport binary: a capture the test writes itself (libpcap
// pcap_dump) goes through `flowexport -r` to a UDP socket on 127.0.0.1; the datagrams are
// decoded and their per-flow packets/bytes compared with what the test put in. Also: tshark
// interop (every datagram decodes with no malformed/expert error and tshark's IN_PKTS/IN_BYTES
// sums equal flowexport's), the shared traffic corpus, user errors, and SIGTERM flushing.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "wire/v9_fields.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/exporter/frame_builder.h"
#include "tests/support/udp_receiver.h"
#include "tests/exporter/v9_test_decoder.h"
#include "tests/support/test_support.h"

namespace nf {
namespace {

using namespace ::nf::testing;  // NOLINT: frame builders and support helpers

constexpr int64_t kBaseSec = 1'700'000'000;

// Frames the tests write as captures (testing::WritePcap).
using Frame = PcapFrame;

using Receiver = UdpReceiver;

// Reads "key": number from the flat stats JSON (no std::regex: GCC 12 + ASan warn in it).
uint64_t JsonNumber(const std::string& json, const std::string& key) {
  const std::string needle = "\"" + key + "\": ";
  const size_t pos = json.find(needle);
  if (pos == std::string::npos) {
    ADD_FAILURE() << "no key " << key << " in " << json;
    return 0;
  }
  return std::stoull(json.substr(pos + needle.size()));
}
// Sums the numbers of a flat JSON object ("key": {"a": 1, "b": 2}).
uint64_t JsonObjectSum(const std::string& json, const std::string& key) {
  const size_t start = json.find("\"" + key + "\": {");
  if (start == std::string::npos) {
    ADD_FAILURE() << "no object " << key;
    return 0;
  }
  const size_t open = json.find('{', start);
  const std::string obj = json.substr(open + 1, json.find('}', open) - open - 1);
  uint64_t sum = 0;
  for (size_t pos = obj.find(": "); pos != std::string::npos; pos = obj.find(": ", pos + 1)) {
    sum += std::stoull(obj.substr(pos + 2));
  }
  return sum;
}
std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

using FlowId = std::tuple<std::string, std::string, uint16_t, uint16_t, uint8_t>;
struct Totals {
  uint64_t packets = 0;
  uint64_t bytes = 0;
};

std::string AddrText(const std::vector<uint8_t>& raw) {
  char buf[INET6_ADDRSTRLEN] = {0};
  inet_ntop(raw.size() == 4 ? AF_INET : AF_INET6, raw.data(), buf, sizeof(buf));
  return buf;
}

// Decodes every datagram strictly and sums per flow.
std::map<FlowId, Totals> DecodeFlows(const std::vector<Bytes>& datagrams, Totals* all,
                                     std::vector<DecodedV9Datagram>* decoded = nullptr) {
  V9TestDecoder dec;
  std::map<FlowId, Totals> flows;
  uint32_t expected_seq = 0;
  for (const Bytes& d : datagrams) {
    DecodedV9Datagram dd = dec.Decode(d);
    EXPECT_EQ(dd.error, "");
    EXPECT_EQ(dd.header.sequence, expected_seq++);
    for (const DecodedV9Record& r : dd.records) {
      if (!r.values.count(field::kInPkts)) continue;  // options data
      const bool v6 = r.raw.count(field::kIpv6SrcAddr) != 0;
      FlowId id{AddrText(r.raw.at(v6 ? field::kIpv6SrcAddr : field::kIpv4SrcAddr)),
                AddrText(r.raw.at(v6 ? field::kIpv6DstAddr : field::kIpv4DstAddr)),
                static_cast<uint16_t>(r.values.at(field::kL4SrcPort)),
                static_cast<uint16_t>(r.values.at(field::kL4DstPort)),
                static_cast<uint8_t>(r.values.at(field::kProtocol))};
      flows[id].packets += r.values.at(field::kInPkts);
      flows[id].bytes += r.values.at(field::kInBytes);
      all->packets += r.values.at(field::kInPkts);
      all->bytes += r.values.at(field::kInBytes);
    }
    if (decoded != nullptr) decoded->push_back(std::move(dd));
  }
  return flows;
}

// A mixed capture with known per-flow truth.
struct Scenario {
  std::vector<Frame> frames;
  std::map<FlowId, Totals> truth;  // per 5-tuple, summed over every record of the flow
  uint64_t not_ip = 0;
};

std::string V4Text(uint32_t a) {
  return AddrText({uint8_t(a >> 24), uint8_t(a >> 16), uint8_t(a >> 8), uint8_t(a)});
}
std::string V6Text(uint16_t last) { return AddrText(V6Addr(last)); }

Scenario MakeScenario(bool with_v4, bool with_v6, int scale = 1) {
  Scenario s;
  int64_t t = kBaseSec * 1000000;
  uint32_t x = 99;
  auto rnd = [&x]() {
    x = x * 1664525 + 1013904223;
    return x >> 8;
  };
  for (int i = 0; i < 400 * scale; ++i) {
    t += 1000 + rnd() % 20000;
    const int flow = static_cast<int>(rnd() % 40);
    const size_t payload = rnd() % 1200;
    Frame f{t, {}};
    if (flow < 20 && with_v4) {
      const uint32_t src = 0x0a000000u + static_cast<uint32_t>(flow);
      const uint32_t dst = 0xc0a80001u;
      const uint16_t sport = static_cast<uint16_t>(10000 + flow);
      if (flow % 4 == 0) {
        Bytes ip = Ipv4(src, dst, 17, Udp(sport, 53, payload));
        s.truth[{V4Text(src), V4Text(dst), sport, 53, 17}].packets++;
        s.truth[{V4Text(src), V4Text(dst), sport, 53, 17}].bytes += ip.size();
        f.bytes = Eth(0x0800, ip, {{0x8100, static_cast<uint16_t>(100 + flow)}});
      } else if (flow % 4 == 1) {
        Bytes ip = Ipv4(src, dst, 1, Icmp(8, 0, payload));
        s.truth[{V4Text(src), V4Text(dst), 0, 8 * 256, 1}].packets++;
        s.truth[{V4Text(src), V4Text(dst), 0, 8 * 256, 1}].bytes += ip.size();
        f.bytes = Eth(0x0800, ip);
      } else {
        Bytes ip = Ipv4(src, dst, 6, Tcp(sport, 443, 0x18, payload));
        s.truth[{V4Text(src), V4Text(dst), sport, 443, 6}].packets++;
        s.truth[{V4Text(src), V4Text(dst), sport, 443, 6}].bytes += ip.size();
        f.bytes = Eth(0x0800, ip);
      }
    } else if (flow >= 20 && with_v6) {
      const uint16_t sport = static_cast<uint16_t>(20000 + flow);
      if (flow % 3 == 0) {
        Bytes chain = Ext6(17);
        Append(chain, Udp(sport, 5353, payload));
        Bytes ip = Ipv6(static_cast<uint16_t>(flow), 1, 0, chain);
        s.truth[{V6Text(static_cast<uint16_t>(flow)), V6Text(1), sport, 5353, 17}].packets++;
        s.truth[{V6Text(static_cast<uint16_t>(flow)), V6Text(1), sport, 5353, 17}].bytes +=
            ip.size();
        f.bytes = Eth(0x86dd, ip);
      } else if (flow % 3 == 1) {
        Bytes ip = Ipv6(static_cast<uint16_t>(flow), 1, 58, Icmp(128, 0, payload));
        s.truth[{V6Text(static_cast<uint16_t>(flow)), V6Text(1), 0, 128 * 256, 58}].packets++;
        s.truth[{V6Text(static_cast<uint16_t>(flow)), V6Text(1), 0, 128 * 256, 58}].bytes +=
            ip.size();
        f.bytes = Eth(0x86dd, ip);
      } else {
        Bytes ip = Ipv6(static_cast<uint16_t>(flow), 1, 6, Tcp(sport, 80, 0x10, payload));
        s.truth[{V6Text(static_cast<uint16_t>(flow)), V6Text(1), sport, 80, 6}].packets++;
        s.truth[{V6Text(static_cast<uint16_t>(flow)), V6Text(1), sport, 80, 6}].bytes += ip.size();
        f.bytes = Eth(0x86dd, ip, {{0x88a8, 10}, {0x8100, 20}});
      }
    } else {
      f.bytes = Eth(0x0806, Bytes(28, 0));  // ARP: counted as not_ip
      ++s.not_ip;
    }
    s.frames.push_back(std::move(f));
  }
  return s;
}

struct RunResult {
  int exit_code = -1;
  std::string stats_json;
  std::string output;
  std::vector<Bytes> datagrams;
};

RunResult RunFlowexport(const std::string& args, Receiver& rx, const TempDir& dir) {
  RunResult r;
  const std::string stats = dir.File("stats.json");
  std::remove(stats.c_str());
  r.exit_code = RunCommand(absl::StrCat(BinaryPath("flowexport"), " ", args, " -c ", rx.address(),
                                        " --stats-json ", stats, " 2>&1"),
                           &r.output);
  r.stats_json = ReadFile(stats);
  r.datagrams = rx.Drain();
  return r;
}

TEST(FlowexportE2eTest, MixedCaptureMatchesTruthPerFlow) {
  TempDir dir;
  Scenario s = MakeScenario(true, true);
  ASSERT_TRUE(WritePcap(dir.File("mixed.pcap"), s.frames));
  Receiver rx;
  RunResult r = RunFlowexport("-r " + dir.File("mixed.pcap"), rx, dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  Totals all;
  std::map<FlowId, Totals> got = DecodeFlows(r.datagrams, &all);
  ASSERT_EQ(got.size(), s.truth.size());
  for (const auto& [id, want] : s.truth) {
    SCOPED_TRACE(std::get<0>(id) + " -> " + std::get<1>(id));
    ASSERT_TRUE(got.count(id));
    EXPECT_EQ(got[id].packets, want.packets);
    EXPECT_EQ(got[id].bytes, want.bytes);
  }
  EXPECT_EQ(JsonNumber(r.stats_json, "packets_seen"), s.frames.size());
  EXPECT_EQ(JsonNumber(r.stats_json, "not_ip"), s.not_ip);
  EXPECT_EQ(JsonNumber(r.stats_json, "packets_exported"), all.packets);
  EXPECT_EQ(JsonNumber(r.stats_json, "bytes_exported"), all.bytes);
  EXPECT_EQ(JsonNumber(r.stats_json, "datagrams_sent"), r.datagrams.size());
  EXPECT_EQ(JsonNumber(r.stats_json, "flows_active"), 0u);
  EXPECT_EQ(JsonNumber(r.stats_json, "send_errors"), 0u);
  EXPECT_EQ(JsonNumber(r.stats_json, "flows_created"),
            JsonObjectSum(r.stats_json, "flows_expired"));
}

TEST(FlowexportE2eTest, InactiveTimeoutSplitsFlowsAndTotalsStayExact) {
  TempDir dir;
  Scenario s = MakeScenario(true, true);
  ASSERT_TRUE(WritePcap(dir.File("mixed.pcap"), s.frames));
  Receiver rx;
  // A 50 ms inactive timeout cuts most flows into several records.
  RunResult r =
      RunFlowexport("-r " + dir.File("mixed.pcap") + " --inactive-timeout 0.05 --mtu 576", rx, dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  Totals all;
  std::map<FlowId, Totals> got = DecodeFlows(r.datagrams, &all);
  for (const auto& [id, want] : s.truth) {
    EXPECT_EQ(got[id].packets, want.packets);
    EXPECT_EQ(got[id].bytes, want.bytes);
  }
  EXPECT_GT(JsonNumber(r.stats_json, "idle_timeout"), s.truth.size());
  for (const Bytes& d : r.datagrams) EXPECT_LE(d.size() + 28, 576u);
}

TEST(FlowexportE2eTest, SamplingIsAnnouncedAndCountsSampledPackets) {
  TempDir dir;
  Scenario s = MakeScenario(true, true);
  ASSERT_TRUE(WritePcap(dir.File("mixed.pcap"), s.frames));
  Receiver rx;
  RunResult r = RunFlowexport("-r " + dir.File("mixed.pcap") + " --sampling 4", rx, dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  Totals all;
  std::vector<DecodedV9Datagram> decoded;
  DecodeFlows(r.datagrams, &all, &decoded);
  const uint64_t parsed = s.frames.size() - s.not_ip;
  EXPECT_EQ(all.packets, (parsed + 3) / 4);  // deterministic: the first of every 4
  EXPECT_EQ(JsonNumber(r.stats_json, "packets_sampled_out"), parsed - all.packets);
  ASSERT_FALSE(decoded.empty());
  bool announced = false;
  for (const DecodedV9Record& rec : decoded[0].records) {
    if (rec.values.count(field::kSamplingInterval)) {
      announced = rec.values.at(field::kSamplingInterval) == 4 &&
                  rec.values.at(field::kSamplingAlgorithm) == 1;
    }
  }
  EXPECT_TRUE(announced);
}

// Writes datagrams into an Ethernet/IPv4/UDP pcap to port 2055 so tshark decodes them as cflow.
void WriteExportPcap(const std::string& path, const std::vector<Bytes>& datagrams) {
  std::vector<Frame> frames;
  int64_t t = kBaseSec * 1000000;
  for (const Bytes& d : datagrams) {
    Bytes udp;
    Put16(udp, 40000);
    Put16(udp, 2055);
    Put16(udp, static_cast<uint16_t>(8 + d.size()));
    Put16(udp, 0);
    Append(udp, d);
    Bytes ip = Ipv4(0x7f000001, 0x7f000001, 17, udp);
    uint32_t sum = 0;
    for (size_t i = 0; i < 20; i += 2) sum += (ip[i] << 8) | ip[i + 1];
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    ip[10] = static_cast<uint8_t>(~sum >> 8);
    ip[11] = static_cast<uint8_t>(~sum);
    frames.push_back({t += 1000, Eth(0x0800, ip)});
  }
  ASSERT_TRUE(WritePcap(path, frames));
}

// tshark's reading of every flow record in export.pcap: source address -> the fields asked for.
std::map<std::string, std::vector<std::string>> TsharkRecords(
    const std::string& pcap, const std::vector<std::string>& fields) {
  std::string cmd = "tshark -n -r " + pcap + " -T fields -E occurrence=a -E aggregator=,";
  for (const std::string& f : fields) cmd += " -e " + f;
  std::string out;
  EXPECT_EQ(RunCommand(cmd + " 2>/dev/null", &out), 0);
  std::map<std::string, std::vector<std::string>> records;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    std::vector<std::string> cols = absl::StrSplit(line, '\t');
    if (cols.size() != fields.size() || cols[0].empty()) continue;  // template-only datagram
    std::vector<std::vector<std::string>> values;
    for (const std::string& c : cols) values.push_back(absl::StrSplit(c, ','));
    for (size_t i = 0; i < values[0].size(); ++i) {
      std::vector<std::string>& rec = records[values[0][i]];
      rec.clear();
      for (size_t f = 1; f < values.size(); ++f) {
        rec.push_back(i < values[f].size() ? values[f][i] : "");
      }
    }
  }
  return records;
}

// tshark decodes every datagram as NetFlow/IPFIX, with no malformed packet, no expert error or
// warning, and no data record whose template it did not see.
void ExpectCleanTshark(const std::string& pcap) {
  std::string verbose;
  ASSERT_EQ(RunCommand("tshark -n -r " + pcap + " -V 2>&1", &verbose), 0);
  EXPECT_THAT(verbose, ::testing::HasSubstr("Cisco NetFlow/IPFIX"));
  EXPECT_THAT(TsharkProblems(verbose), ::testing::IsEmpty());
}

class TsharkInteropTest
    : public ::testing::TestWithParam<std::tuple<const char*, bool, bool, const char*>> {};

TEST_P(TsharkInteropTest, DecodesCleanlyAndSumsMatch) {
  if (!HaveTool("tshark")) GTEST_SKIP() << "tshark is not installed";
  const auto& [name, v4, v6, extra] = GetParam();
  TempDir dir;
  Scenario s = MakeScenario(v4, v6, 3);
  ASSERT_TRUE(WritePcap(dir.File("in.pcap"), s.frames));
  Receiver rx;
  RunResult r = RunFlowexport(absl::StrCat("-r ", dir.File("in.pcap"), " ", extra), rx, dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_FALSE(r.datagrams.empty());
  WriteExportPcap(dir.File("export.pcap"), r.datagrams);

  ExpectCleanTshark(dir.File("export.pcap"));
  std::string fields;
  ASSERT_EQ(RunCommand("tshark -n -r " + dir.File("export.pcap") +
                           " -T fields -E occurrence=a -E aggregator=, -e cflow.packets"
                           " -e cflow.octets 2>/dev/null",
                       &fields),
            0);
  uint64_t packets = 0;
  uint64_t bytes = 0;
  for (absl::string_view line : absl::StrSplit(fields, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> cols = absl::StrSplit(line, '\t');
    ASSERT_EQ(cols.size(), 2u) << line;
    for (int c = 0; c < 2; ++c) {
      for (absl::string_view v : absl::StrSplit(cols[c], ',', absl::SkipEmpty())) {
        uint64_t n = 0;
        ASSERT_TRUE(absl::SimpleAtoi(v, &n)) << v;
        (c == 0 ? packets : bytes) += n;
      }
    }
  }
  EXPECT_EQ(packets, JsonNumber(r.stats_json, "packets_exported"));
  EXPECT_EQ(bytes, JsonNumber(r.stats_json, "bytes_exported"));
  EXPECT_GT(packets, 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Mixes, TsharkInteropTest,
    ::testing::Values(std::make_tuple("ipv4", true, false, ""),
                      std::make_tuple("ipv6", false, true, ""),
                      std::make_tuple("mixed", true, true, "--inactive-timeout 0.1"),
                      std::make_tuple("sampling", true, true, "--sampling 3"),
                      std::make_tuple("random_sampling", true, true,
                                      "--sampling 5 --sampling-mode random --mtu 700"),
                      // Every shipped template in v9 (the default one is above).
                      std::make_tuple("v9_minimal", true, true, "-T minimal"),
                      std::make_tuple("v9_ng_netflow", true, true, "-T ng_netflow"),
                      std::make_tuple("v9_softflowd", true, true, "-T softflowd --sampling 2"),
                      // -v 10 / -v 5: same checks; v5 leaves IPv6 flows out of the sums.
                      std::make_tuple("ipfix_mixed", true, true, "-v 10 --inactive-timeout 0.1"),
                      std::make_tuple("ipfix_softflowd_sampling", true, true,
                                      "-v 10 -T softflowd --sampling 3 --mtu 700"),
                      std::make_tuple("v5_mixed", true, true, "-v 5 --sampling 3")),
    [](const auto& param_info) { return std::string(std::get<0>(param_info.param)); });

// --routes with the real 2002 RIB and ng_netflow's layout: SRC_AS/DST_AS and the masks decode in
// tshark as bgpdump reads the RIB (../shared/corpus/enrich/README.md): 193.0.0.0/21 has origin
// 3333 (path 1853 20965 1103 3333), 3.0.0.0/8 origin 80, 24.223.0.0/18 origin 13659 (path ends
// in an AS_SET, which does not count), the more specific 24.223.1.0/24 origin 13659 too; 10/8
// was not routed.
TEST(FlowexportEnrichTest, RibFillsNgNetflowAsAndMasksAsBgpdumpReadsThem) {
  if (!HaveTool("tshark")) GTEST_SKIP() << "tshark is not installed";
  NF_REQUIRE_CORPUS();
  const std::string rib = CorpusDir() + "/enrich/bgpdump/bview.20020722.2337.gz";
  if (!std::filesystem::exists(rib)) GTEST_SKIP() << "SKIP: " << rib << " not found";
  TempDir dir;
  std::vector<Frame> frames;
  int64_t t = kBaseSec * 1000000;
  auto v4 = [&](uint32_t src, uint32_t dst, uint8_t proto, const Bytes& l4) {
    frames.push_back({t += 1000, Eth(0x0800, Ipv4(src, dst, proto, l4))});
  };
  v4(0xc1000001u, 0x03000001u, 6, Tcp(1000, 80, 0x02, 10));  // 193.0.0.1 -> 3.0.0.1
  v4(0x18df0109u, 0x18df1405u, 17, Udp(53, 53, 20));      // 24.223.1.9 -> 24.223.20.5
  v4(0x0a090909u, 0xc1000001u, 6, Tcp(2000, 443, 0x02));  // 10.9.9.9 -> 193.0.0.1
  ASSERT_TRUE(WritePcap(dir.File("in.pcap"), frames));
  Receiver rx;
  RunResult r = RunFlowexport(
      absl::StrCat("-r ", dir.File("in.pcap"), " -T ng_netflow --routes ", rib), rx, dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  WriteExportPcap(dir.File("export.pcap"), r.datagrams);
  ExpectCleanTshark(dir.File("export.pcap"));
  auto records = TsharkRecords(dir.File("export.pcap"),
                               {"cflow.srcaddr", "cflow.srcas", "cflow.dstas", "cflow.srcmask",
                                "cflow.dstmask"});
  using V = std::vector<std::string>;
  EXPECT_EQ(records["193.0.0.1"], (V{"3333", "80", "21", "8"}));
  EXPECT_EQ(records["24.223.1.9"], (V{"13659", "13659", "24", "18"}));
  EXPECT_EQ(records["10.9.9.9"], (V{"0", "3333", "0", "21"}));
  EXPECT_EQ(records.size(), 3u);
  EXPECT_EQ(JsonNumber(r.stats_json, "addresses_looked_up"), 6u);
  EXPECT_EQ(JsonNumber(r.stats_json, "addresses_matched"), 5u);
  EXPECT_EQ(JsonNumber(r.stats_json, "generation"), 1u);
}

// A networks file (both syntaxes) in IPFIX, with 4-byte AS numbers and IPv6, and in v5, whose
// 2-byte AS fields carry AS_TRANS (23456, RFC 6793) for a 4-byte AS.
TEST(FlowexportEnrichTest, NetworksFileFillsIpfixAndV5) {
  if (!HaveTool("tshark")) GTEST_SKIP() << "tshark is not installed";
  TempDir dir;
  {
    std::ofstream nets(dir.File("networks.txt"));
    nets << "# pmacct networks_file lines and plain prefix/AS lines\n"
            "64500,10.0.0.0/8\n"
            "10.1.0.0/16 AS4200000001\n"
            "2001:db8::/32 4200000000\n"
            "2001:db8::1/128 64999\n";
  }
  // One family per capture: tshark lists a datagram's values field by field, so records of
  // two templates in one datagram could not be told apart.
  const int64_t t = kBaseSec * 1000000;
  ASSERT_TRUE(WritePcap(
      dir.File("in.pcap"),
      {{t, Eth(0x0800, Ipv4(0x0a010203u, 0x0a020304u, 17, Udp(5000, 53, 20)))}}));
  ASSERT_TRUE(
      WritePcap(dir.File("in6.pcap"), {{t, Eth(0x86dd, Ipv6(1, 7, 17, Udp(5001, 53, 20)))}}));
  {
    std::ofstream tmpl(dir.File("as.tmpl"));
    tmpl << "[ipv4 256]\nIPV4_SRC_ADDR IPV4_DST_ADDR IN_PKTS IN_BYTES SRC_AS:4 DST_AS:4 SRC_MASK "
            "DST_MASK\n[ipv6 257]\nIPV6_SRC_ADDR IPV6_DST_ADDR IN_PKTS IN_BYTES SRC_AS:4 DST_AS:4 "
            "IPV6_SRC_MASK IPV6_DST_MASK\n";
  }
  using V = std::vector<std::string>;
  for (const char* family : {"in", "in6"}) {
    Receiver rx;
    RunResult r = RunFlowexport(absl::StrCat("-r ", dir.File(absl::StrCat(family, ".pcap")),
                                             " -v 10 -T ", dir.File("as.tmpl"), " --routes ",
                                             dir.File("networks.txt")),
                                rx, dir);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    WriteExportPcap(dir.File("ipfix.pcap"), r.datagrams);
    ExpectCleanTshark(dir.File("ipfix.pcap"));
    if (std::string(family) == "in") {
      auto v4 = TsharkRecords(dir.File("ipfix.pcap"), {"cflow.srcaddr", "cflow.srcas",
                                                       "cflow.dstas", "cflow.srcmask",
                                                       "cflow.dstmask"});
      EXPECT_EQ(v4["10.1.2.3"], (V{"4200000001", "64500", "16", "8"}));
    } else {
      auto v6 = TsharkRecords(dir.File("ipfix.pcap"), {"cflow.srcaddrv6", "cflow.srcas",
                                                       "cflow.dstas", "cflow.srcmaskv6",
                                                       "cflow.dstmaskv6"});
      EXPECT_EQ(v6["2001:db8::1"], (V{"64999", "4200000000", "128", "32"}));
    }
  }
  {
    Receiver rx;
    RunResult r = RunFlowexport(
        absl::StrCat("-r ", dir.File("in.pcap"), " -v 5 --routes ", dir.File("networks.txt")), rx,
        dir);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    WriteExportPcap(dir.File("v5.pcap"), r.datagrams);
    ExpectCleanTshark(dir.File("v5.pcap"));
    auto v4 = TsharkRecords(dir.File("v5.pcap"), {"cflow.srcaddr", "cflow.srcas", "cflow.dstas",
                                                  "cflow.srcmask", "cflow.dstmask"});
    EXPECT_EQ(v4["10.1.2.3"], (std::vector<std::string>{"23456", "64500", "16", "8"}));
  }
}

// A routes file that does not parse stops the run before anything is exported, naming the file
// and line; the default template (no AS fields) gets a note instead of silent zeros.
TEST(FlowexportEnrichTest, BadRoutesFileIsAClearErrorAndUselessLayoutIsNoted) {
  TempDir dir;
  std::vector<Frame> frames = {
      {kBaseSec * 1000000, Eth(0x0800, Ipv4(0x0a010203u, 0x0a020304u, 17, Udp(5000, 53, 20)))}};
  ASSERT_TRUE(WritePcap(dir.File("in.pcap"), frames));
  {
    std::ofstream bad(dir.File("bad.txt"));
    bad << "10.0.0.0/8 64500\n10.0.0.0/33 1\n";
  }
  Receiver rx;
  RunResult r = RunFlowexport(
      absl::StrCat("-r ", dir.File("in.pcap"), " --routes ", dir.File("bad.txt")), rx, dir);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, ::testing::HasSubstr(dir.File("bad.txt") + ":2"));
  EXPECT_TRUE(r.datagrams.empty());
  {
    std::ofstream good(dir.File("good.txt"));
    good << "10.0.0.0/8 64500\n";
  }
  r = RunFlowexport(absl::StrCat("-r ", dir.File("in.pcap"), " --routes ", dir.File("good.txt")),
                    rx, dir);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, ::testing::HasSubstr("has no SRC_AS, DST_AS or mask field"));
}

// -v 5 cannot carry IPv6: those flows are counted as not exportable, never in the sums.
// NFLOG (what `nft ... log group N` and `iptables -j NFLOG` hand to libpcap as nflog:N): the
// packet is in a TLV after the netfilter header. Both TLV byte orders appear in captures.
TEST(FlowexportE2eTest, NflogCaptureIsMeteredPacketForPacket) {
  TempDir dir;
  const std::string path = dir.File("nflog.pcap");
  const uint32_t a = 0x0a000001u, b = 0xc0000207u;
  const Bytes p1 = Ipv4(a, b, 6, Tcp(40000, 443, 0x02, 0));
  const Bytes p2 = Ipv4(a, b, 6, Tcp(40000, 443, 0x10, 517));
  const Bytes p3 = Ipv4(b, a, 6, Tcp(443, 40000, 0x12, 1200));
  const Bytes p4 = Ipv4(a, b, 17, Udp(5353, 53, 31));
  const int64_t t = kBaseSec * 1000000;
  ASSERT_TRUE(WritePcap(path,
            {{t, Nflog(2, true, p1)}, {t + 1000, Nflog(2, true, p2)},
             {t + 2000, Nflog(2, true, p3)}, {t + 3000, Nflog(2, false, p4)}},
            239));
  Receiver rx;
  RunResult r = RunFlowexport("-r " + path, rx, dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(JsonNumber(r.stats_json, "packets_seen"), 4u);
  EXPECT_EQ(JsonNumber(r.stats_json, "packets_exported"), 4u);
  Totals all;
  std::map<FlowId, Totals> flows = DecodeFlows(r.datagrams, &all);
  EXPECT_EQ(all.packets, 4u);
  EXPECT_EQ(all.bytes, p1.size() + p2.size() + p3.size() + p4.size());
  ASSERT_EQ(flows.size(), 3u);
  const Totals& out = flows[{V4Text(a), V4Text(b), 40000, 443, 6}];
  EXPECT_EQ(out.packets, 2u);
  EXPECT_EQ(out.bytes, p1.size() + p2.size());
  EXPECT_EQ((flows[{V4Text(b), V4Text(a), 443, 40000, 6}].bytes), p3.size());
  EXPECT_EQ((flows[{V4Text(a), V4Text(b), 5353, 53, 17}].bytes), p4.size());
}

// A real NFLOG capture (from zeek's test traces): 13 IPv4 packets of one HTTP connection,
// 2,266 IP bytes, as tshark decodes them.
TEST(FlowexportCorpusTest, NflogCaptureMatchesTshark) {
  NF_REQUIRE_CORPUS();
  const std::string path = CorpusDir() + "/traffic/zeek/nflog-http.pcap";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is absent";
  TempDir dir;
  Receiver rx;
  RunResult r = RunFlowexport("-r " + path, rx, dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  Totals all;
  std::map<FlowId, Totals> flows = DecodeFlows(r.datagrams, &all);
  EXPECT_EQ(all.packets, 13u);
  EXPECT_EQ(all.bytes, 2266u);
  EXPECT_EQ((flows[{"10.0.2.15", "93.184.216.34", 49762, 80, 6}].packets), 8u);
  EXPECT_EQ((flows[{"93.184.216.34", "10.0.2.15", 80, 49762, 6}].packets), 5u);
}

TEST(FlowexportE2eTest, V5CountsIpv6FlowsAsNotExportable) {
  TempDir dir;
  Scenario v6 = MakeScenario(false, true);
  ASSERT_TRUE(WritePcap(dir.File("v6.pcap"), v6.frames));
  Receiver rx;
  RunResult r = RunFlowexport("-v 5 -r " + dir.File("v6.pcap"), rx, dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(r.datagrams.empty());
  EXPECT_EQ(JsonNumber(r.stats_json, "records_not_exportable"), v6.truth.size());
  EXPECT_EQ(JsonNumber(r.stats_json, "packets_exported"), 0u);
  EXPECT_THAT(r.output, ::testing::HasSubstr("not exportable"));
  Scenario v4 = MakeScenario(true, false);
  ASSERT_TRUE(WritePcap(dir.File("v4.pcap"), v4.frames));
  r = RunFlowexport("-v 5 -r " + dir.File("v4.pcap"), rx, dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_FALSE(r.datagrams.empty());
  EXPECT_EQ(r.datagrams[0][1], 5);
  EXPECT_EQ(JsonNumber(r.stats_json, "records_not_exportable"), 0u);
}

TEST(FlowexportE2eTest, UserErrorsGetOneClearLineAndTheDocumentedExitStatus) {
  TempDir dir;
  Scenario s = MakeScenario(true, false);
  ASSERT_TRUE(WritePcap(dir.File("ok.pcap"), s.frames));
  const std::string bin = BinaryPath("flowexport");
  struct Case {
    std::string args;
    std::string message;
    int status;  // 2: the command line is wrong; 1: the run failed (man page, EXIT STATUS)
  };
  const std::vector<Case> cases = {
      {"-r " + dir.File("missing.pcap") + " -c 127.0.0.1:2055", "cannot read capture file", 2},
      {"-r " + dir.File("ok.pcap") + " -c 127.0.0.1", "bad collector address", 2},
      {"-r " + dir.File("ok.pcap") + " -c no.such.host.invalid:2055", "cannot resolve", 2},
      {"-r " + dir.File("ok.pcap") + " -c 127.0.0.1:2055 tcp port nope", "bad filter", 2},
      {"-i nf-no-such-if0 -c 127.0.0.1:2055", "no such interface", 2},
      {"-r " + dir.File("ok.pcap"), "no collector given", 2},
      {"-c 127.0.0.1:2055", "give exactly one input", 2},
      {"-r " + dir.File("ok.pcap") + " -c 127.0.0.1:2055 --mtu 100", "--mtu", 2},
      {"-r " + dir.File("ok.pcap") + " -c 127.0.0.1:2055 -T NO_SUCH_FIELD", "NO_SUCH_FIELD", 2},
      {"--no-such-option", "no-such-option", 2},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.args);
    std::string out;
    EXPECT_EQ(RunCommand(bin + " " + c.args + " 2>&1", &out), c.status);
    EXPECT_THAT(out, ::testing::HasSubstr(c.message));
    EXPECT_LE(std::count(out.begin(), out.end(), '\n'), 3) << out;
  }
  // An unsupported link type is refused by name: the file is bad input, the command line fine.
  ASSERT_TRUE(WritePcap(dir.File("radio.pcap"), {{kBaseSec * 1000000, Bytes(40, 0)}}, 127));
  std::string out;
  EXPECT_EQ(RunCommand(bin + " -r " + dir.File("radio.pcap") + " -c 127.0.0.1:2055 2>&1", &out), 1);
  EXPECT_THAT(out, ::testing::HasSubstr("unsupported link type 127 (IEEE802_11_RADIO)"));
}

TEST(FlowexportE2eTest, SendErrorsAreCountedNotFatal) {
  TempDir dir;
  Scenario s = MakeScenario(true, true, 5);
  ASSERT_TRUE(WritePcap(dir.File("in.pcap"), s.frames));
  // A closed port: connected UDP sockets see ECONNREFUSED on later sends.
  const uint16_t closed = FreeUdpPort();
  Receiver rx;
  std::string out;
  const std::string stats = dir.File("stats.json");
  const int rc = RunCommand(absl::StrCat(BinaryPath("flowexport"), " -r ", dir.File("in.pcap"),
                                         " --inactive-timeout 0.01 --mtu 300 -c 127.0.0.1:", closed,
                                         " -c ", rx.address(), " --stats-json ", stats, " 2>&1"),
                            &out);
  EXPECT_EQ(rc, 0) << out;
  const std::string json = ReadFile(stats);
  EXPECT_GT(JsonNumber(json, "send_errors"), 0u);
  // The healthy collector still got every datagram.
  EXPECT_EQ(rx.Drain().size(), JsonNumber(json, "datagrams_sent"));
}

TEST(FlowexportE2eTest, MultipleFilesAndFilterWords) {
  TempDir dir;
  Scenario a = MakeScenario(true, false);
  Scenario b = MakeScenario(false, true);
  for (Frame& f : b.frames) f.time_us += 60'000'000;  // later file
  ASSERT_TRUE(WritePcap(dir.File("a.pcap"), a.frames));
  ASSERT_TRUE(WritePcap(dir.File("b.pcap"), b.frames));
  Receiver rx;
  RunResult r = RunFlowexport(absl::StrCat("-r ", dir.File("a.pcap"), " -r ", dir.File("b.pcap"),
                                           " 'ip6 or (vlan and vlan and ip6)'"),
                              rx, dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  Totals all;
  std::map<FlowId, Totals> got = DecodeFlows(r.datagrams, &all);
  EXPECT_EQ(got.size(), b.truth.size());  // the filter kept only IPv6
  uint64_t want = 0;
  for (const auto& [id, t] : b.truth) want += t.packets;
  EXPECT_EQ(all.packets, want);
}

TEST(FlowexportE2eTest, SigtermFlushesEveryFlow) {
  TempDir dir;
  Scenario s = MakeScenario(true, true, 50);
  ASSERT_TRUE(WritePcap(dir.File("big.pcap"), s.frames));
  Receiver rx;
  const std::string stats = dir.File("stats.json");
  // Pace exports slowly so the signal lands mid-run.
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string bin = BinaryPath("flowexport");
    const std::string file = dir.File("big.pcap");
    const std::string collector = rx.address();
    execl(bin.c_str(), bin.c_str(), "-r", file.c_str(), "-c", collector.c_str(),
          "--inactive-timeout", "0.01", "--mtu", "300", "--max-export-rate", "200", "--stats-json",
          stats.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  usleep(300 * 1000);
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  const std::string json = ReadFile(stats);
  ASSERT_FALSE(json.empty());
  Totals all;
  DecodeFlows(rx.Drain(), &all);
  // Stopped early, but everything metered was exported and received.
  EXPECT_EQ(JsonNumber(json, "flows_active"), 0u);
  EXPECT_EQ(all.packets, JsonNumber(json, "packets_exported"));
  EXPECT_EQ(JsonNumber(json, "packets_exported"), JsonNumber(json, "packets_parsed"));
  EXPECT_LT(JsonNumber(json, "packets_seen"), s.frames.size());
}

// Parameters: name, extra flowexport arguments, whether the traffic has IPv6 (-v 5 cannot).
class NfdumpInteropTest
    : public ::testing::TestWithParam<std::tuple<const char*, const char*, bool>> {};

TEST_P(NfdumpInteropTest, NfcapdRecordsMatchTruthPerFlow) {
  if (!HaveTool("nfcapd") || !HaveTool("nfdump")) GTEST_SKIP() << "nfdump is not installed";
  const auto& [name, extra, with_v6] = GetParam();
  TempDir dir;
  Scenario s = MakeScenario(true, with_v6, 5);
  ASSERT_TRUE(WritePcap(dir.File("in.pcap"), s.frames));
  const uint16_t port = FreeUdpPort();
  const std::string flows = dir.File("flows");
  std::filesystem::create_directory(flows);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string p = std::to_string(port);
    if (std::freopen("/dev/null", "w", stdout) == nullptr) _exit(126);
    if (std::freopen("/dev/null", "w", stderr) == nullptr) _exit(126);
    execlp("nfcapd", "nfcapd", "-b", "127.0.0.1", "-p", p.c_str(), "-w", flows.c_str(),
           static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait (bounded) until nfcapd has bound its socket.
  ASSERT_TRUE(WaitUntilUdpBound(port)) << "nfcapd did not start";
  std::string out;
  const std::string stats = dir.File("stats.json");
  ASSERT_EQ(RunCommand(absl::StrCat(BinaryPath("flowexport"), " -r ", dir.File("in.pcap"),
                                    " --inactive-timeout 0.05 -c 127.0.0.1:", port, " ", extra,
                                    " --stats-json ", stats, " 2>&1"),
                       &out),
            0)
      << out;
  usleep(200 * 1000);  // let nfcapd drain its socket before it is told to stop
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  std::string listing;
  ASSERT_EQ(
      RunCommand("nfdump -R " + flows + " -q -N -6 -o 'fmt:%sa|%da|%sp|%dp|%pr|%pkt|%byt' 2>&1",
                 &listing),
      0)
      << listing;
  std::map<FlowId, Totals> got;
  size_t records = 0;
  for (absl::string_view line : absl::StrSplit(listing, '\n', absl::SkipEmpty())) {
    std::vector<std::string> c = absl::StrSplit(line, '|');
    ASSERT_EQ(c.size(), 7u) << line;
    for (std::string& v : c) v = std::string(absl::StripAsciiWhitespace(v));
    // nfdump prints ICMP type/code as "type.code" in the destination port column.
    uint32_t dport = 0;
    std::vector<std::string> tc = absl::StrSplit(c[3], '.');
    if (tc.size() == 2) {
      dport = std::stoul(tc[0]) * 256 + std::stoul(tc[1]);
    } else {
      dport = std::stoul(c[3]);
    }
    FlowId id{c[0], c[1], static_cast<uint16_t>(std::stoul(c[2])), static_cast<uint16_t>(dport),
              static_cast<uint8_t>(std::stoul(c[4]))};
    got[id].packets += std::stoull(c[5]);
    got[id].bytes += std::stoull(c[6]);
    ++records;
  }
  EXPECT_EQ(records, JsonNumber(ReadFile(stats), "records_sent"));
  ASSERT_EQ(got.size(), s.truth.size());
  for (const auto& [id, want] : s.truth) {
    SCOPED_TRACE(std::get<0>(id) + " -> " + std::get<1>(id));
    EXPECT_EQ(got[id].packets, want.packets);
    EXPECT_EQ(got[id].bytes, want.bytes);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Versions, NfdumpInteropTest,
    ::testing::Values(std::make_tuple("v9", "", true), std::make_tuple("ipfix", "-v 10", true),
                      std::make_tuple("ipfix_ng_netflow", "-v 10 -T ng_netflow", true),
                      std::make_tuple("v5", "-v 5", false)),
    [](const auto& param_info) { return std::string(std::get<0>(param_info.param)); });

TEST(FlowexportE2eTest, NgNetflowModeGetsTheSharedOptions) {
  std::string out;
  const int rc = RunCommand(BinaryPath("flowexport") +
                                " --ng-netflow -i em0 -c 192.0.2.1:2055 --emit ngctl"
                                " --active-timeout 300 --inactive-timeout 20 --mtu 1400 2>&1",
                            &out);
  if (out.find("unrecognized") != std::string::npos || out.find("not") == 0) {
    GTEST_SKIP() << "ng_netflow module not built: " << out;
  }
  EXPECT_EQ(rc, 0) << out;
  EXPECT_THAT(out, ::testing::HasSubstr("settimeouts { inactive=20 active=300 }"));
  EXPECT_THAT(out, ::testing::HasSubstr("setmtu { mtu=1400 }"));
  EXPECT_THAT(out, ::testing::HasSubstr("192.0.2.1:2055"));
}

// Live capture on the loopback interface: needs CAP_NET_RAW, skipped without it.
TEST(FlowexportLiveTest, LoopbackCaptureExportsOnSigterm) {
  TempDir dir;
  Receiver rx;
  const uint16_t target = FreeUdpPort();
  const std::string stats = dir.File("stats.json");
  const std::string log = dir.File("log.txt");
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (std::freopen(log.c_str(), "w", stderr) == nullptr) _exit(126);
    const std::string bin = BinaryPath("flowexport");
    const std::string collector = rx.address();
    const std::string filter = absl::StrCat("udp dst port ", target);
    execl(bin.c_str(), bin.c_str(), "--verbose", "-i", "lo", "-c", collector.c_str(),
          "--stats-json", stats.c_str(), filter.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait (bounded) until capture runs (--verbose announces it) or flowexport gave up.
  int status = 0;
  bool started = false;
  for (int i = 0; i < 500 && !started; ++i) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      const std::string msg = ReadFile(log);
      if (msg.find("permission") != std::string::npos) GTEST_SKIP() << msg;
      FAIL() << "flowexport exited early: " << msg;
    }
    started = ReadFile(log).find("capturing on lo") != std::string::npos;
    if (!started) usleep(20 * 1000);
  }
  ASSERT_TRUE(started);
  // 5 datagrams of 100 bytes from one socket: one flow of 5 packets, 5 * 128 layer-3 bytes.
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(target);
  Bytes payload(100, 0x42);
  for (int i = 0; i < 5; ++i) {
    sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
  }
  close(fd);
  // Ask for statistics (SIGUSR1) until the capture has seen all 5 packets, then stop.
  bool seen = false;
  for (int i = 0; i < 100 && !seen; ++i) {
    kill(pid, SIGUSR1);
    usleep(50 * 1000);
    seen = ReadFile(log).find("packets seen 5,") != std::string::npos;
  }
  EXPECT_TRUE(seen) << ReadFile(log);
  kill(pid, SIGTERM);
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << ReadFile(log);
  Totals all;
  std::map<FlowId, Totals> got = DecodeFlows(rx.Drain(), &all);
  EXPECT_EQ(all.packets, 5u);
  EXPECT_EQ(all.bytes, 5u * 128u);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(std::get<3>(got.begin()->first), target);
  const std::string json = ReadFile(stats);
  EXPECT_EQ(JsonNumber(json, "packets_exported"), 5u);
  EXPECT_EQ(JsonNumber(json, "pcap_dropped"), 0u);
}

// Packet counts per traffic file from the corpus MANIFEST (capinfos).
std::map<std::string, uint64_t> ManifestPacketCounts(const std::string& corpus) {
  std::map<std::string, uint64_t> counts;
  std::ifstream in(corpus + "/MANIFEST.md");
  std::string line;
  bool in_traffic = false;
  while (std::getline(in, line)) {
    if (line.rfind("## traffic/", 0) == 0) in_traffic = true;
    if (!in_traffic || line.rfind("| `", 0) != 0) continue;
    std::vector<std::string> cells = absl::StrSplit(line, '|');
    if (cells.size() < 8) continue;
    std::string file(absl::StripAsciiWhitespace(cells[1]));
    file = file.substr(1, file.size() - 2);
    counts["traffic/" + file] = std::stoull(std::string(absl::StripAsciiWhitespace(cells[7])));
  }
  return counts;
}

TEST(FlowexportCorpusTest, EveryTrafficCaptureAddsUp) {
  NF_REQUIRE_CORPUS();
  const std::string corpus = CorpusDir();
  const std::map<std::string, uint64_t> expected = ManifestPacketCounts(corpus);
  TempDir dir;
  size_t ran = 0;
  size_t refused = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(corpus + "/traffic")) {
    if (!entry.is_regular_file()) continue;
    const std::string rel = entry.path().lexically_relative(corpus).string();
    SCOPED_TRACE(rel);
    Receiver rx;
    RunResult r = RunFlowexport("-r " + entry.path().string() + " --max-export-rate 0", rx, dir);
    if (r.exit_code != 0) {
      // Only link types flowexport does not parse may be refused, in one clear line.
      EXPECT_THAT(r.output, ::testing::HasSubstr("unsupported link type")) << r.output;
      ++refused;
      continue;
    }
    ++ran;
    const uint64_t seen = JsonNumber(r.stats_json, "packets_seen");
    auto it = expected.find(rel);
    if (it != expected.end()) {
      EXPECT_EQ(seen, it->second);
    }
    EXPECT_EQ(seen, JsonNumber(r.stats_json, "packets_exported") +
                        JsonObjectSum(r.stats_json, "packets_dropped"));
    Totals all;
    DecodeFlows(r.datagrams, &all);
    EXPECT_EQ(all.packets, JsonNumber(r.stats_json, "packets_exported"));
    EXPECT_EQ(all.bytes, JsonNumber(r.stats_json, "bytes_exported"));
  }
  EXPECT_GT(ran, 100u);
  EXPECT_LE(refused, 5u);
}

}  // namespace
}  // namespace nf
