// flowcollect --listen-tcp end to end: the IPFIX messages of real captures are sent to the
// running binary over one loopback TCP connection, and again as UDP datagrams to the same kind of
// run; records, packets and bytes (CSV rows) must be the same both ways and equal to the
// captures' cross-checked totals (corpus/netflow/expected_totals.csv, xcheck_* columns).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_support.h"
#include "tests/support/test_support.h"

namespace nf {
namespace {

struct Sums {
  uint64_t records = 0;
  uint64_t packets = 0;
  uint64_t bytes = 0;
  friend bool operator==(const Sums&, const Sums&) = default;
};
std::ostream& operator<<(std::ostream& os, const Sums& s) {
  return os << s.records << " records/" << s.packets << " packets/" << s.bytes << " bytes";
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

struct RunResult {
  Sums sums;
  testing::FlatJson stats;
};

int ConnectTcp(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) return fd;
  if (fd >= 0) close(fd);
  return -1;
}

// Runs flowcollect listening on UDP and TCP, sends `messages` over one TCP connection (`tcp`)
// or as UDP datagrams, waits until its statistics (SIGUSR1) show all of them received, stops it
// with SIGTERM and reads its CSV and final statistics.
std::optional<RunResult> CollectOnce(const std::vector<std::vector<uint8_t>>& messages, bool tcp) {
  testing::TempDir tmp;
  const uint16_t udp_port = testing::FreeUdpPort();
  uint16_t tcp_port = testing::FreeUdpPort();
  for (int i = 0; i < 10 && tcp_port == udp_port; ++i) tcp_port = testing::FreeUdpPort();
  const std::string csv = tmp.File("out.csv");
  const std::string json = tmp.File("stats.json");
  testing::Child child;
  const std::vector<std::string> argv = {testing::BinaryPath("flowcollect"),
                                         "-q",
                                         "-l",
                                         absl::StrCat("127.0.0.1:", udp_port),
                                         "--listen-tcp",
                                         absl::StrCat("127.0.0.1:", tcp_port),
                                         "-o",
                                         csv,
                                         "--stats-json",
                                         json};
  if (!child.Start(argv, tmp.File("stdout"), tmp.File("stderr"))) {
    ADD_FAILURE() << "cannot start " << testing::JoinArgv(argv);
    return std::nullopt;
  }
  // Bounded: the TCP listener accepts once flowcollect is up (UDP is bound before it).
  int fd = -1;
  for (int i = 0; i < 500 && fd < 0 && child.Running(); ++i) {
    fd = ConnectTcp(tcp_port);
    if (fd < 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (fd < 0) {
    ADD_FAILURE() << "flowcollect did not listen on TCP " << tcp_port << ": "
                  << testing::ReadFile(tmp.File("stderr"));
    return std::nullopt;
  }
  if (tcp) {
    for (const auto& m : messages) {
      size_t at = 0;
      while (at < m.size()) {
        const ssize_t n = send(fd, m.data() + at, m.size() - at, MSG_NOSIGNAL);
        if (n <= 0) {
          ADD_FAILURE() << "TCP send failed";
          close(fd);
          return std::nullopt;
        }
        at += static_cast<size_t>(n);
      }
    }
  }
  close(fd);  // the TCP run's exporter leaves; the UDP run only used it to see flowcollect up
  if (!tcp) {
    const int u = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(udp_port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (size_t i = 0; i < messages.size(); ++i) {
      const auto& m = messages[i];
      EXPECT_EQ(sendto(u, m.data(), m.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)),
                static_cast<ssize_t>(m.size()));
      if (i % 32 == 31) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    close(u);
  }
  // Until everything sent was received (SIGUSR1 rewrites --stats-json), at most 10 s.
  const std::string key = tcp ? "tcp.messages" : "receive.datagrams";
  bool all = false;
  for (int i = 0; i < 200 && !all; ++i) {
    child.Signal(SIGUSR1);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    testing::FlatJson j;
    std::string error;
    if (testing::ParseFlatJson(testing::ReadFile(json), &j, &error)) {
      all = testing::JsonU64(j, key).value_or(0) == messages.size();
    }
  }
  EXPECT_TRUE(all) << key << " never reached " << messages.size();
  child.Signal(SIGTERM);
  const int status = child.Wait(20'000);
  if (status != 0) {
    ADD_FAILURE() << "flowcollect exited " << status << ": "
                  << testing::ReadFile(tmp.File("stderr"));
    return std::nullopt;
  }
  RunResult r;
  r.sums = CsvSums(csv);
  std::string error;
  if (!testing::ParseFlatJson(testing::ReadFile(json), &r.stats, &error)) {
    ADD_FAILURE() << "stats JSON: " << error;
    return std::nullopt;
  }
  return r;
}

// One capture both ways; `want` (when given) is the cross-checked truth, `want_records` (when
// not 0) the number of data records alone.
void CheckCapture(const std::string& path, std::optional<Sums> want, uint64_t want_records = 0) {
  SCOPED_TRACE(path);
  std::string error;
  const std::vector<testing::UdpDatagram> datagrams = testing::ReadUdpDatagrams(path, &error);
  ASSERT_FALSE(datagrams.empty()) << error;
  std::vector<std::vector<uint8_t>> messages;
  for (const auto& d : datagrams) {
    // Over TCP the message length is the framing: each datagram must be one whole message.
    ASSERT_GE(d.payload.size(), 16u);
    ASSERT_EQ(d.payload[0] * 256 + d.payload[1], 10);
    ASSERT_EQ(static_cast<size_t>(d.payload[2] * 256 + d.payload[3]), d.payload.size());
    messages.push_back(d.payload);
  }
  const std::optional<RunResult> over_tcp = CollectOnce(messages, /*tcp=*/true);
  const std::optional<RunResult> over_udp = CollectOnce(messages, /*tcp=*/false);
  ASSERT_TRUE(over_tcp.has_value());
  ASSERT_TRUE(over_udp.has_value());
  EXPECT_GT(over_tcp->sums.records, 0u);
  EXPECT_EQ(over_tcp->sums, over_udp->sums);
  if (want.has_value()) {
    EXPECT_EQ(over_tcp->sums, *want);
  }
  if (want_records != 0) {
    EXPECT_EQ(over_tcp->sums.records, want_records);
  }
  const testing::FlatJson& t = over_tcp->stats;
  EXPECT_EQ(testing::JsonU64(t, "tcp.messages"), messages.size());
  EXPECT_EQ(testing::JsonU64(t, "tcp.accepted"), 1u);
  EXPECT_EQ(testing::JsonU64(t, "tcp.framing_errors"), 0u);
  EXPECT_EQ(testing::JsonU64(t, "tcp.messages_dropped"), 0u);
  EXPECT_EQ(testing::JsonU64(t, "receive.datagrams"), 0u);
  // Decoded alike: every counter of the decoder's totals.
  for (const char* k : {"totals.records", "totals.packets", "totals.bytes", "totals.ipfix_datagrams",
                        "totals.options_records", "totals.decode_errors",
                        "totals.early_records_decoded", "totals.sequence_lost"}) {
    EXPECT_EQ(testing::JsonU64(t, k), testing::JsonU64(over_udp->stats, k)) << k;
  }
  EXPECT_EQ(testing::JsonU64(over_udp->stats, "receive.datagrams"), messages.size());
  // The session ended with the connection: its templates are gone from the cache.
  EXPECT_EQ(testing::JsonU64(t, "templates.cached"), 0u);
}

// IPFIX-only captures of expected_totals.csv whose cross-checked totals the collector matches
// exactly (flowcollect_test.cc checks every capture over -r). Data before its template
// (netscaler) waits in the session's early buffer.
const char* const kCaptures[] = {
    "logstash/ipfix_generic.pcap",
    "logstash/ipfix_vmware_vds.pcap",
    "logstash/ipfix_netscaler_varlen.pcap",
    "logstash/ipfix_ixia.pcap",
};

TEST(FlowcollectTcpTest, CorpusCapturesOverTcpEqualUdpAndExpectedTotals) {
  NF_REQUIRE_CORPUS();
  const std::string dir = testing::CorpusDir() + "/netflow/";
  int checked = 0;
  for (const auto& row : testing::ReadCsv(dir + "expected_totals.csv")) {
    bool wanted = false;
    for (const char* f : kCaptures) wanted = wanted || row.at("file") == f;
    if (!wanted) continue;
    ASSERT_EQ(row.at("versions"), "10") << row.at("file");
    CheckCapture(dir + row.at("file"), Sums{Num(row.at("xcheck_records")),
                                            Num(row.at("xcheck_sum_packets")),
                                            Num(row.at("xcheck_sum_octets"))});
    ++checked;
  }
  EXPECT_EQ(checked, 4);
}

TEST(FlowcollectTcpTest, YafBiflowOverTcpEqualsUdp) {
  NF_REQUIRE_CORPUS();
  const std::string path = testing::CorpusDir() + "/netflow2/telegraf/ipfix_yaf_biflow.pcap";
  if (access(path.c_str(), R_OK) != 0) GTEST_SKIP() << path << " is absent";
  // Its counters depend on how biflow records are written (--biflow); the data record count
  // (tshark's, netflow2/expected_totals.csv) does not.
  uint64_t records = 0;
  for (const auto& row :
       testing::ReadCsv(testing::CorpusDir() + "/netflow2/expected_totals.csv")) {
    if (row.at("file") == "telegraf/ipfix_yaf_biflow.pcap") {
      records = Num(row.at("tshark_data_records"));
    }
  }
  ASSERT_GT(records, 0u) << "telegraf/ipfix_yaf_biflow.pcap is not in netflow2/expected_totals.csv";
  CheckCapture(path, std::nullopt, records);
}

}  // namespace
}  // namespace nf
