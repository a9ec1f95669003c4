// The flowcollect binary end to end: -r over every corpus capture (CSV rows and sums equal the
// expected totals), several -r files in order, malformed files, --stats-json, aggregation, and
// a loopback run (-l 127.0.0.1:PORT, datagrams sent, SIGTERM, CSV checked).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

extern char** environ;

namespace nf {
namespace {

struct Sums {
  uint64_t records = 0;
  uint64_t packets = 0;
  uint64_t bytes = 0;
  friend bool operator==(const Sums&, const Sums&) = default;
};
std::ostream& operator<<(std::ostream& os, const Sums& s) {
  return os << s.records << "/" << s.packets << "/" << s.bytes;
}

uint64_t Num(const std::string& s) {
  uint64_t v = 0;
  if (!s.empty()) {
    EXPECT_TRUE(absl::SimpleAtoi(s, &v)) << s;
  }
  return v;
}

Sums CsvSums(const std::string& path) {
  Sums s;
  for (const auto& row : testing::ReadCsv(path)) {
    ++s.records;
    s.packets += Num(row.at("packets"));
    s.bytes += Num(row.at("bytes"));
  }
  return s;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Collector() { return testing::BinaryPath("flowcollect"); }

int RunCollector(const std::string& args) {
  return testing::RunCommand(absl::StrCat(Collector(), " ", args, " 2>/dev/null"));
}

// Data decoded on top of tshark by the early buffer / the port-less key, and sFlow (whose
// row counts no NetFlow); see corpus_decode_test.cc for how each number was checked.
const std::map<std::string, Sums> kExtra = {
    {"akvorado/data+templates.pcap", {11, 18, 3737}},
    {"graylog/nprobe-netflow9-4.pcap", {14, 72, 33787}},
    {"pmacct/112_traffic-00.pcap", {9, 19, 1197}},
    {"ndpi/sflow.pcap", {1, 1, 82}},
    // Counters in elements the xcheck columns leave out (octetTotalCount, NSEL initiator).
    {"logstash/ipfix_yaf.pcap", {0, 6, 304}},
    {"logstash/nf9_cisco_asa_1.pcap", {0, 0, 888}},
    {"logstash/nf9_cisco_asa_2.pcap", {0, 0, 1131}},
};

// Every capture of netflow2/ (sFlow, RFC 5103 biflow, enterprise elements, options-only IPFIX,
// zero-length fields) through the binary, against its README's totals: NetFlow/IPFIX records,
// packets and bytes as tshark decodes them, one row per sFlow flow sample whose bytes are the
// sampled frame's length. Per file the row that sees the most (the mixed sFlow + NetFlow v5
// file's decode-as row).
TEST(FlowcollectTest, EveryNetflow2CaptureThroughTheBinary) {
  NF_REQUIRE_CORPUS();
  testing::TempDir tmp;
  const std::string dir = testing::CorpusDir() + "/netflow2/";
  const auto rows = testing::ReadCsv(dir + "expected_totals.csv");
  if (rows.empty()) GTEST_SKIP() << "SKIP: " << dir << "expected_totals.csv not found";
  std::map<std::string, testing::CsvRow> by_file;
  for (const auto& row : rows) {
    auto [it, added] = by_file.emplace(row.at("file"), row);
    if (!added && Num(row.at("tshark_v5_records")) > Num(it->second.at("tshark_v5_records"))) {
      it->second = row;
    }
  }
  ASSERT_EQ(by_file.size(), 17u);
  for (const auto& [file, row] : by_file) {
    SCOPED_TRACE(file);
    const std::string csv = tmp.File("out.csv");
    const std::string json = tmp.File("stats.json");
    ASSERT_EQ(RunCollector(absl::StrCat("-q -r ", dir, file, " -o ", csv, " --stats-json ", json)),
              0);
    const uint64_t samples = Num(row.at("sflow_flow_samples"));
    Sums want{Num(row.at("tshark_data_records")) + Num(row.at("tshark_v5_records")) + samples,
              Num(row.at("sum_cflow_packets")) + samples,
              Num(row.at("sum_cflow_octets")) + Num(row.at("sflow_sum_frame_length"))};
    if (file == "telegraf/ipfix_yaf_biflow.pcap") {
      // Its README sums forward and reverse octet/packet totals (577437 / 2140), of which
      // reverse 465945 / 613, and YAF's statistics record's 1070 packets: the forward ones
      // are the rest; the reverse ones are in reverse_* (firewall_nat_biflow_test.cc).
      want.packets = 2140 - 613 - 1070;
      want.bytes = 577437 - 465945;
    }
    EXPECT_EQ(CsvSums(csv), want);
    const std::string stats = ReadFile(json);
    EXPECT_NE(stats.find(absl::StrCat("\"records\":", want.records)), std::string::npos);
    const uint64_t options = Num(row.at("tshark_option_records"));
    if (options != 0) {
      EXPECT_NE(stats.find(absl::StrCat("\"options_records\":", options)), std::string::npos)
          << stats;
    }
    if (file == "tcpdump/sflow_print-segv.pcap") {
      EXPECT_NE(stats.find("\"sflow_truncated\":1"), std::string::npos) << stats;
    }
  }
}

TEST(FlowcollectTest, HelpAndBadArguments) {
  std::string out;
  EXPECT_EQ(testing::RunCommand(Collector() + " --help", &out), 0);
  EXPECT_NE(out.find("--template-store"), std::string::npos);
  EXPECT_NE(out.find("-A,--aggregate"), std::string::npos);
  EXPECT_NE(RunCollector("--no-such-option"), 0);
  EXPECT_NE(RunCollector("-r /nonexistent.pcap"), 0);
  EXPECT_NE(RunCollector("-A bytes -r /dev/null"), 0);
  // -q silences statistics, -v asks for more of them: refused together, saying why.
  std::string both;
  EXPECT_NE(testing::RunCommand(Collector() + " -q -v -r /dev/null 2>&1", &both), 0);
  EXPECT_NE(both.find("excludes"), std::string::npos) << both;
}

TEST(FlowcollectTest, EveryCorpusCaptureThroughTheBinary) {
  NF_REQUIRE_CORPUS();
  testing::TempDir tmp;
  const std::string dir = testing::CorpusDir() + "/netflow/";
  for (const auto& row : testing::ReadCsv(dir + "expected_totals.csv")) {
    const std::string file = row.at("file");
    SCOPED_TRACE(file);
    const std::string csv = tmp.File("out.csv");
    const std::string json = tmp.File("stats.json");
    ASSERT_EQ(RunCollector(absl::StrCat("-q -r ", dir, file, " -o ", csv, " --stats-json ", json)), 0);
    Sums want{Num(row.at("xcheck_records")), Num(row.at("xcheck_sum_packets")),
              Num(row.at("xcheck_sum_octets"))};
    if (auto it = kExtra.find(file); it != kExtra.end()) {
      want.records += it->second.records;
      want.packets += it->second.packets;
      want.bytes += it->second.bytes;
    }
    EXPECT_EQ(CsvSums(csv), want);
    const std::string stats = ReadFile(json);
    EXPECT_NE(stats.find(absl::StrCat("\"records\":", want.records)), std::string::npos);
  }
}

TEST(FlowcollectTest, SeveralReadsInOrderAndMalformedInput) {
  NF_REQUIRE_CORPUS();
  testing::TempDir tmp;
  const std::string a = testing::CorpusDir() + "/netflow/akvorado/";
  ASSERT_EQ(RunCollector(absl::StrCat("-q -r ", a, "options-template.pcap -r ", a, "options-data.pcap -r ",
                             a, "template.pcap -r ", a, "data.pcap -o ", tmp.File("o.csv"))),
            0);
  EXPECT_EQ(CsvSums(tmp.File("o.csv")), (Sums{4, 4, 5848}));
  // Data first, then its template: the early buffer decodes it at the end.
  ASSERT_EQ(RunCollector(absl::StrCat("-q -r ", a, "data.pcap -r ", a, "template.pcap --early-max-age 1e9 -o ",
                             tmp.File("r.csv"))),
            0);
  EXPECT_EQ(CsvSums(tmp.File("r.csv")), (Sums{4, 4, 5848}));

  const std::string l = testing::CorpusDir() + "/netflow/libnetflow9/";
  ASSERT_EQ(RunCollector(absl::StrCat("-q -r ", l, "malformed_1.pcap -r ", l, "malformed_2.pcap -r ", l,
                             "malformed_4.pcap -r ", l, "malformed_5.pcap -r ", l,
                             "malformed-OT.pcap -o ", tmp.File("m.csv"), " --stats-json ",
                             tmp.File("m.json"))),
            0);
  const std::string stats = ReadFile(tmp.File("m.json"));
  EXPECT_EQ(stats.find("\"decode_errors\":0,"), std::string::npos) << stats;
  EXPECT_NE(stats.find("\"template_zero_fields\":"), std::string::npos);
  EXPECT_EQ(CsvSums(tmp.File("m.csv")).records, 0u);
}

TEST(FlowcollectTest, AggregationAndColumns) {
  NF_REQUIRE_CORPUS();
  testing::TempDir tmp;
  const std::string f = testing::CorpusDir() + "/netflow/graylog/netgraph-netflow5.pcap";
  ASSERT_EQ(RunCollector(absl::StrCat("-q -r ", f, " -A protocol -o ", tmp.File("a.csv"))), 0);
  const auto rows = testing::ReadCsv(tmp.File("a.csv"));
  ASSERT_FALSE(rows.empty());
  uint64_t flows = 0, packets = 0, bytes = 0;
  for (const auto& r : rows) {
    flows += Num(r.at("flows"));
    packets += Num(r.at("packets"));
    bytes += Num(r.at("bytes"));
  }
  EXPECT_EQ(flows, 120u);
  EXPECT_EQ(packets, 19355u);
  EXPECT_EQ(bytes, 6765997u);
  ASSERT_EQ(RunCollector(absl::StrCat("-q -r ", f, " --columns src_addr,bytes -o ", tmp.File("c.csv"))), 0);
  EXPECT_EQ(ReadFile(tmp.File("c.csv")).substr(0, 15), "src_addr,bytes\n");
}

// A v9 datagram with one template and `n` records of 40 bytes / 1 packet each.
std::vector<uint8_t> V9Datagram(uint32_t seq, int n) {
  std::vector<uint8_t> d;
  auto u16 = [&](uint16_t v) { d.push_back(static_cast<uint8_t>(v >> 8)); d.push_back(static_cast<uint8_t>(v)); };
  auto u32 = [&](uint32_t v) { u16(static_cast<uint16_t>(v >> 16)); u16(static_cast<uint16_t>(v)); };
  u16(9); u16(static_cast<uint16_t>(1 + n)); u32(1000); u32(1'700'000'000); u32(seq); u32(0);
  u16(0); u16(4 + 4 + 4 * 4);  // template FlowSet
  u16(256); u16(4);
  u16(8); u16(4); u16(12); u16(4); u16(2); u16(4); u16(1); u16(4);
  u16(256); u16(static_cast<uint16_t>(4 + 16 * n));
  for (int i = 0; i < n; ++i) {
    u32(0x0A000001); u32(0x0A000002 + static_cast<uint32_t>(i)); u32(1); u32(40);
  }
  return d;
}

// Starts flowcollect on a loopback address, sends 10 datagrams of 5 records, sends SIGUSR1
// (stats JSON appears) then SIGTERM, and checks the CSV and statistics.
void LoopbackRun(bool v6) {
  testing::TempDir tmp;
  // FreeUdpPort probes 127.0.0.1; the same number is very likely free on ::1 too.
  const uint16_t port = testing::FreeUdpPort();
  const std::string csv = tmp.File("live.csv");
  const std::string json = tmp.File("live.json");
  const std::string listen = v6 ? absl::StrCat("[::1]:", port) : absl::StrCat("127.0.0.1:", port);
  std::vector<std::string> args = {Collector(), "-q", "-l", listen, "-o", csv, "--stats-json", json};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ), 0);

  sockaddr_storage ss;
  const socklen_t len = testing::LoopbackAddress(port, v6, ss);
  auto* addr = reinterpret_cast<sockaddr*>(&ss);
  if (!testing::WaitUntilUdpBound(port, v6)) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    FAIL() << "flowcollect did not bind " << listen;
  }
  int sock = socket(ss.ss_family, SOCK_DGRAM, 0);
  ASSERT_GE(sock, 0);
  for (uint32_t seq = 0; seq < 10; ++seq) {
    const auto d = V9Datagram(seq, 5);
    ASSERT_EQ(sendto(sock, d.data(), d.size(), 0, addr, len), static_cast<ssize_t>(d.size()));
  }
  close(sock);
  ASSERT_EQ(kill(pid, SIGUSR1), 0);
  bool stats_written = false;
  for (int i = 0; i < 100 && !stats_written; ++i) {
    stats_written = access(json.c_str(), F_OK) == 0;
    if (!stats_written) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(stats_written) << "SIGUSR1 did not write --stats-json";
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(CsvSums(csv), (Sums{50, 50, 2000}));
  const auto rows = testing::ReadCsv(csv);
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows[0].at("exporter"), v6 ? "::1" : "127.0.0.1");
  EXPECT_EQ(rows[0].at("src_addr"), "10.0.0.1");
  const std::string stats = ReadFile(json);
  EXPECT_NE(stats.find("\"datagrams\":10,"), std::string::npos) << stats;
  EXPECT_NE(stats.find("\"sequence_lost\":0,"), std::string::npos) << stats;
  EXPECT_NE(stats.find("\"kernel_drops\":0,"), std::string::npos) << stats;
}

// Datagrams the kernel drops because the receive buffer is full are counted: with the collector
// stopped (SIGSTOP) and a tiny --rcvbuf, a burst overflows the socket; after SIGCONT, what was
// received plus what was dropped is exactly what was sent, even though no datagram arrives
// after the drops.
TEST(FlowcollectTest, KernelDropsAreCountedExactly) {
  testing::TempDir tmp;
  const uint16_t port = testing::FreeUdpPort();
  const std::string json = tmp.File("drops.json");
  std::vector<std::string> args = {Collector(), "-q", "-l", absl::StrCat("127.0.0.1:", port),
                                   "--rcvbuf", "8192", "-o", "/dev/null", "--stats-json", json};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ), 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (!testing::WaitUntilUdpBound(port)) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    FAIL() << "flowcollect did not bind";
  }
  ASSERT_EQ(kill(pid, SIGSTOP), 0);
  constexpr int kSent = 200;
  const int sock = socket(AF_INET, SOCK_DGRAM, 0);
  for (uint32_t seq = 0; seq < kSent; ++seq) {
    const auto d = V9Datagram(seq, 60);
    EXPECT_EQ(sendto(sock, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)),
              static_cast<ssize_t>(d.size()));
  }
  close(sock);
  ASSERT_EQ(kill(pid, SIGCONT), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  const std::string stats = ReadFile(json);
  auto number = [&](const std::string& key) -> uint64_t {
    const size_t at = stats.find("\"" + key + "\":");
    if (at == std::string::npos) return ~uint64_t{0};
    return Num(stats.substr(at + key.size() + 3, stats.find_first_of(",}", at) - at - key.size() - 3));
  };
  const uint64_t received = number("datagrams");  // the receive block comes first
  const uint64_t drops = number("kernel_drops");
  EXPECT_GT(drops, 0u) << stats;
  EXPECT_GT(received, 0u) << stats;
  EXPECT_EQ(received + drops, static_cast<uint64_t>(kSent)) << stats;
}

TEST(FlowcollectTest, LoopbackReceiveAndSigterm) { LoopbackRun(false); }

TEST(FlowcollectTest, LoopbackIpv6) {
  int probe = socket(AF_INET6, SOCK_DGRAM, 0);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  const bool have_v6 = probe >= 0 && bind(probe, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  if (probe >= 0) close(probe);
  if (!have_v6) GTEST_SKIP() << "no IPv6 loopback on this machine";
  LoopbackRun(true);
}

TEST(FlowcollectTest, TemplateStoreSurvivesRestart) {
  NF_REQUIRE_CORPUS();
  testing::TempDir tmp;
  const std::string a = testing::CorpusDir() + "/netflow/akvorado/";
  const std::string store = tmp.File("templates.store");
  ASSERT_EQ(RunCollector(absl::StrCat("-q -r ", a, "template.pcap --template-store ", store, " -o ",
                             tmp.File("t.csv"))),
            0);
  // A second run with only the data decodes it at once from the saved template.
  ASSERT_EQ(RunCollector(absl::StrCat("-q -r ", a, "data.pcap --template-store ", store, " -o ",
                             tmp.File("d.csv"))),
            0);
  EXPECT_EQ(CsvSums(tmp.File("d.csv")).records, 4u);
}

}  // namespace
}  // namespace nf
