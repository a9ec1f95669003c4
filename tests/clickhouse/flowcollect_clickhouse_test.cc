// The flowcollect binary with --workers, --clickhouse and --metrics: one exporter's datagrams
// spread over two SO_REUSEPORT workers (sent from many source ports; the template from only
// one of them) all decode and reach the CSV (and ClickHouse exactly once, when it is
// installed), and the metrics endpoint reports the counters summed over workers while the
// collector runs.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "collector/output/clickhouse/http_client.h"
#include "gtest/gtest.h"
#include "tests/clickhouse/local_clickhouse.h"
#include "tests/support/test_support.h"

extern char** environ;

namespace nf {
namespace {

using ::nf::testing::FreeTcpPort;
using ::nf::testing::LocalClickHouse;

void U16(std::vector<uint8_t>& d, uint16_t v) {
  d.push_back(static_cast<uint8_t>(v >> 8));
  d.push_back(static_cast<uint8_t>(v));
}
void U32(std::vector<uint8_t>& d, uint32_t v) {
  U16(d, static_cast<uint16_t>(v >> 16));
  U16(d, static_cast<uint16_t>(v));
}
void V9Header(std::vector<uint8_t>& d, uint16_t count, uint32_t seq) {
  U16(d, 9);
  U16(d, count);
  U32(d, 1000);
  U32(d, 1'700'000'000);
  U32(d, seq);
  U32(d, 0);  // source ID
}

// Template 256: IPV4_SRC_ADDR, IPV4_DST_ADDR, IN_PKTS, IN_BYTES (4 bytes each).
std::vector<uint8_t> TemplateDatagram(uint32_t seq) {
  std::vector<uint8_t> d;
  V9Header(d, 1, seq);
  U16(d, 0);
  U16(d, 4 + 4 + 4 * 4);
  U16(d, 256);
  U16(d, 4);
  for (uint16_t f : {8, 12, 2, 1}) {
    U16(d, f);
    U16(d, 4);
  }
  return d;
}

// Data only: `n` records; record k has dst 10.1.<a>.<b> with a/b from `first_id + k`.
std::vector<uint8_t> DataDatagram(uint32_t seq, uint32_t first_id, int n) {
  std::vector<uint8_t> d;
  V9Header(d, static_cast<uint16_t>(n), seq);
  U16(d, 256);
  U16(d, static_cast<uint16_t>(4 + 16 * n));
  for (int k = 0; k < n; ++k) {
    const uint32_t id = first_id + static_cast<uint32_t>(k);
    U32(d, 0x0A000001);
    U32(d, 0x0A010000 + id);
    U32(d, 2);
    U32(d, 100);
  }
  return d;
}

std::string HttpGet(uint16_t port, const std::string& path) {
  auto url = clickhouse::ParseHttpUrl(absl::StrCat("http://127.0.0.1:", port, path));
  if (!url.ok()) return "";
  // The metrics server answers GET only; build the request by hand.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
    std::string req = absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: x\r\n\r\n");
    if (send(fd, req.data(), req.size(), 0) == static_cast<ssize_t>(req.size())) {
      char buf[8192];
      for (int i = 0; i < 10000; ++i) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
      }
    }
  }
  close(fd);
  return out;
}

// Sum of every sample of `name` (any labels) in a Prometheus exposition.
double Metric(const std::string& text, const std::string& name) {
  double sum = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    absl::string_view key = line.substr(0, line.rfind(' '));
    if (key != name && !absl::StartsWith(key, name + "{")) continue;
    double v = 0;
    if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) sum += v;
  }
  return sum;
}

// Kills the collector if an assertion returns before it was stopped.
struct ProcessGuard {
  pid_t pid = 0;
  ~ProcessGuard() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

// Runs flowcollect --workers 2 (with ClickHouse when `server` is given), sends one exporter's
// template from one source port and its data from 16 others, and checks every output.
void RunWorkers(LocalClickHouse* server, const ::nf::testing::TempDir& tmp) {

  const uint16_t port = ::nf::testing::FreeUdpPort();
  const uint16_t metrics_port = FreeTcpPort();
  const std::string csv = tmp.File("out.csv");
  std::vector<std::string> args = {::nf::testing::BinaryPath("flowcollect"),
                                   "-q",
                                   "-l",
                                   absl::StrCat("127.0.0.1:", port),
                                   "--workers",
                                   "2",
                                   "--metrics",
                                   absl::StrCat("127.0.0.1:", metrics_port),
                                   "-o",
                                   csv,
                                   "--stats-json",
                                   tmp.File("stats.json")};
  if (server != nullptr) {
    for (const std::string& a : {std::string("--clickhouse"), server->Url(), std::string("--table"),
                                 std::string("flows"), std::string("--clickhouse-batch-rows"),
                                 std::string("100"), std::string("--spool-dir"),
                                 tmp.File("spool")}) {
      args.push_back(a);
    }
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ), 0);
  ProcessGuard guard{pid};

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_TRUE(testing::WaitUntilUdpBound(port)) << "flowcollect did not bind";
  bool metrics_up = false;
  for (int i = 0; i < 200 && !metrics_up; ++i) {
    metrics_up = absl::StartsWith(HttpGet(metrics_port, "/metrics"), "HTTP/1.1 200");
    if (!metrics_up) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(metrics_up);

  // The template from one source port, the data from 16 others: the kernel hashes the source
  // ports over both workers, so most data reaches a worker that never saw the template.
  constexpr int kSockets = 16;
  constexpr int kDatagrams = 10;
  constexpr int kRecords = 5;
  int tsock = socket(AF_INET, SOCK_DGRAM, 0);
  const auto t = TemplateDatagram(0);
  ASSERT_EQ(sendto(tsock, t.data(), t.size(), 0, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)),
            static_cast<ssize_t>(t.size()));
  close(tsock);
  uint32_t id = 0;
  for (int s = 0; s < kSockets; ++s) {
    int sock = socket(AF_INET, SOCK_DGRAM, 0);
    for (int i = 0; i < kDatagrams; ++i) {
      const auto d = DataDatagram(static_cast<uint32_t>(i), id, kRecords);
      id += kRecords;
      ASSERT_EQ(sendto(sock, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&addr),
                       sizeof(addr)),
                static_cast<ssize_t>(d.size()));
    }
    close(sock);
  }
  const uint64_t expected = uint64_t{kSockets} * kDatagrams * kRecords;

  // Metrics are published once a second per worker: poll (bounded) until they add up.
  std::string metrics;
  for (int i = 0; i < 100; ++i) {
    metrics = HttpGet(metrics_port, "/metrics");
    if (Metric(metrics, "flowcollect_records_total") == static_cast<double>(expected)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(Metric(metrics, "flowcollect_records_total"), static_cast<double>(expected))
      << metrics;
  EXPECT_EQ(Metric(metrics, "flowcollect_datagrams_total"), 1.0 + kSockets * kDatagrams);
  EXPECT_EQ(Metric(metrics, "flowcollect_socket_datagrams_total"), 1.0 + kSockets * kDatagrams);
  EXPECT_EQ(Metric(metrics, "flowcollect_socket_drops_total"), 0.0);
  EXPECT_EQ(server != nullptr,
            absl::StrContains(metrics, "# TYPE flowcollect_clickhouse_records_inserted_total counter"));

  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  guard.pid = 0;
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);

  if (server != nullptr) {
    auto count = server->QueryNumber("SELECT count() FROM flows");
    ASSERT_TRUE(count.ok()) << count.status();
    EXPECT_EQ(*count, expected);
    auto unique = server->QueryNumber("SELECT uniqExact(dst_addr) FROM flows");
    ASSERT_TRUE(unique.ok());
    EXPECT_EQ(*unique, expected);
    auto packets = server->QueryNumber("SELECT sum(packets) FROM flows");
    ASSERT_TRUE(packets.ok());
    EXPECT_EQ(*packets, 2 * expected);
  }

  std::ifstream in(csv);
  std::string line;
  uint64_t rows = 0;
  while (std::getline(in, line)) ++rows;
  EXPECT_EQ(rows, expected + 1);  // + header
  std::ifstream js(tmp.File("stats.json"));
  std::stringstream ss;
  ss << js.rdbuf();
  EXPECT_TRUE(absl::StrContains(ss.str(), absl::StrCat("\"records\":", expected, ","))) << ss.str();
  // The sink's counters at exit: everything queued was inserted, nothing is left spooled.
  if (server != nullptr) {
    EXPECT_TRUE(absl::StrContains(ss.str(), absl::StrCat("\"clickhouse\":{\"records_queued\":",
                                                         expected, ",\"records_inserted\":",
                                                         expected, ",")))
        << ss.str();
    EXPECT_TRUE(absl::StrContains(ss.str(), "\"spool_bytes\":0,\"spool_files\":0,\"spool_records\":0,"))
        << ss.str();
  } else {
    EXPECT_FALSE(absl::StrContains(ss.str(), "\"clickhouse\"")) << ss.str();
  }
}

TEST(FlowcollectWorkersTest, OneExporterSpreadOverWorkersLosesNothing) {
  ::nf::testing::TempDir tmp;
  RunWorkers(nullptr, tmp);
}

TEST(FlowcollectClickHouseTest, WorkersIntoClickHouseExactlyOnce) {
  NF_REQUIRE_CLICKHOUSE();
  ::nf::testing::TempDir tmp;
  LocalClickHouse server(tmp.File("ch"), FreeTcpPort(), FreeTcpPort());
  ASSERT_TRUE(server.Start().ok()) << server.LogTail();
  // The DDL comes from the binary itself.
  std::string ddl;
  ASSERT_EQ(::nf::testing::RunCommand(
                absl::StrCat(::nf::testing::BinaryPath("flowcollect"),
                             " --clickhouse-schema --table flows"),
                &ddl),
            0);
  ASSERT_TRUE(server.Query(ddl).ok());
  RunWorkers(&server, tmp);
}

}  // namespace
}  // namespace nf
