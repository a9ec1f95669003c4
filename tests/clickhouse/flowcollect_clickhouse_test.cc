// The flowcollect binary with --workers, --clickhouse and --metrics: one exporter's datagrams
// spread over two SO_REUSEPORT workers (sent from many source ports; the template from only
// one of them) all decode and reach the CSV (and ClickHouse exactly once, when it is
// installed), and the metrics endpoint reports the counters summed over workers while the
// collector runs. Then ClickHouse over HTTPS with a password: the records of the CSV path
// arrive exactly once, a certificate that does not verify keeps them in the spool, and the
// password never appears on the command line.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "http/client.h"
#include "http/url.h"
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

// The body of GET `path` on 127.0.0.1:`port`, or "" unless it answered 200.
std::string HttpGet(uint16_t port, const std::string& path) {
  auto url = http::ParseUrl(absl::StrCat("http://127.0.0.1:", port, path));
  if (!url.ok()) return "";
  auto client = http::Client::Create(*url);
  if (!client.ok()) return "";
  http::Result r = (*client)->Get(path);
  return r.status.ok() && r.code == 200 ? r.body : "";
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

// Starts args[0] with `args`; the pid, or -1.
pid_t Spawn(std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  return posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) == 0 ? pid : -1;
}

// Creates the table from the DDL the binary itself prints.
bool CreateTable(LocalClickHouse& server) {
  std::string ddl;
  return ::nf::testing::RunCommand(absl::StrCat(::nf::testing::BinaryPath("flowcollect"),
                                                " --clickhouse-schema --table flows"),
                                   &ddl) == 0 &&
         server.Query(ddl).ok();
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
  const pid_t pid = Spawn(args);
  ASSERT_GT(pid, 0);
  ProcessGuard guard{pid};

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_TRUE(testing::WaitUntilUdpBound(port)) << "flowcollect did not bind";
  bool metrics_up = false;
  for (int i = 0; i < 200 && !metrics_up; ++i) {
    metrics_up = !HttpGet(metrics_port, "/metrics").empty();
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
  ASSERT_TRUE(CreateTable(server));
  RunWorkers(&server, tmp);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One flowcollect run against ClickHouse over HTTPS: sends `datagrams` data datagrams of five
// records (ids from `first_id`) after a template, then SIGTERM. Returns the exit status.
struct TlsRun {
  std::string url;
  std::string ca;
  std::string password_file;
  std::string spool;
  std::string csv;
  std::string stats;
  uint32_t first_id = 0;
  int datagrams = 0;
  // Before SIGTERM: wait (bounded) until ClickHouse holds this many rows (0: do not wait).
  uint64_t wait_for_rows = 0;
  LocalClickHouse* server = nullptr;
  std::string cmdline;  // /proc/PID/cmdline while it ran
};

int RunTls(TlsRun& run) {
  const uint16_t port = ::nf::testing::FreeUdpPort();
  std::vector<std::string> args = {::nf::testing::BinaryPath("flowcollect"),
                                   "-q",
                                   "-l",
                                   absl::StrCat("127.0.0.1:", port),
                                   "--clickhouse",
                                   run.url,
                                   "--clickhouse-ca",
                                   run.ca,
                                   "--clickhouse-user",
                                   "default",
                                   "--clickhouse-password-file",
                                   run.password_file,
                                   "--clickhouse-batch-rows",
                                   "50",
                                   "--spool-dir",
                                   run.spool,
                                   "-o",
                                   run.csv,
                                   "--stats-json",
                                   run.stats};
  const pid_t pid = Spawn(args);
  if (pid <= 0) return -1;
  ProcessGuard guard{pid};
  if (!testing::WaitUntilUdpBound(port)) return -2;
  run.cmdline = ReadAll(absl::StrCat("/proc/", pid, "/cmdline"));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int sock = socket(AF_INET, SOCK_DGRAM, 0);
  if (run.datagrams > 0) {
    const auto t = TemplateDatagram(0);
    sendto(sock, t.data(), t.size(), 0, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  }
  for (int i = 0; i < run.datagrams; ++i) {
    const auto d = DataDatagram(static_cast<uint32_t>(i + 1), run.first_id + 5 * i, 5);
    sendto(sock, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  }
  close(sock);
  for (int i = 0; i < 300 && run.wait_for_rows > 0; ++i) {
    auto n = run.server->QueryNumber("SELECT count() FROM flows");
    if (n.ok() && *n >= run.wait_for_rows) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // Let the decoder take every datagram before the stop (the socket is drained at SIGTERM, but
  // a datagram still in flight on loopback is not).
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  guard.pid = 0;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

uint64_t CsvRows(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  uint64_t rows = 0;
  while (std::getline(in, line)) ++rows;
  return rows > 0 ? rows - 1 : 0;  // the header
}

TEST(FlowcollectClickHouseTest, HttpsWithPasswordFileExactlyOnceAndVerified) {
  NF_REQUIRE_CLICKHOUSE();
  if (::nf::testing::RunCommand("openssl version >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "openssl is not installed (scripts/setup-deps.sh installs it)";
  }
  ::nf::testing::TempDir tmp;
  std::string error;
  ASSERT_TRUE(::nf::testing::MakeSelfSignedCertificate(tmp.path(), "server", &error)) << error;
  ASSERT_TRUE(::nf::testing::MakeSelfSignedCertificate(tmp.path(), "other", &error)) << error;
  const std::string kPassword = "pw-7f3a-never-on-the-command-line";
  LocalClickHouse server(tmp.File("ch"), FreeTcpPort(), FreeTcpPort());
  const uint16_t https_port = FreeTcpPort();
  server.EnableHttps(https_port, tmp.File("server.pem"), tmp.File("server.key"));
  server.SetPassword(kPassword);
  ASSERT_TRUE(server.Start().ok()) << server.LogTail();
  ASSERT_TRUE(CreateTable(server));
  {
    std::ofstream pw(tmp.File("pw"));
    pw << kPassword << "\n";
  }
  ASSERT_EQ(chmod(tmp.File("pw").c_str(), 0600), 0);

  TlsRun run;
  run.url = absl::StrCat("https://localhost:", https_port, "/?database=default");
  run.ca = tmp.File("server.pem");
  run.password_file = tmp.File("pw");
  run.spool = tmp.File("spool");
  run.server = &server;

  // 1. The right CA: every record of the CSV path, once.
  run.csv = tmp.File("1.csv");
  run.stats = tmp.File("1.json");
  run.datagrams = 20;
  run.wait_for_rows = 100;
  ASSERT_EQ(RunTls(run), 0) << ReadAll(run.stats);
  EXPECT_FALSE(absl::StrContains(run.cmdline, kPassword));
  EXPECT_TRUE(absl::StrContains(run.cmdline, "--clickhouse-password-file"));
  ASSERT_EQ(CsvRows(run.csv), 100u);
  EXPECT_EQ(*server.QueryNumber("SELECT count() FROM flows"), 100u);
  EXPECT_EQ(*server.QueryNumber("SELECT uniqExact(dst_addr) FROM flows"), 100u);
  EXPECT_EQ(*server.QueryNumber("SELECT sum(bytes) FROM flows"), 100u * 100);
  EXPECT_FALSE(absl::StrContains(ReadAll(run.stats), kPassword));

  // 2. A CA that did not sign the server's certificate: nothing arrives, the error says why,
  // and the records wait in the spool.
  run.ca = tmp.File("other.pem");
  run.csv = tmp.File("2.csv");
  run.stats = tmp.File("2.json");
  run.first_id = 1000;
  run.wait_for_rows = 0;
  ASSERT_EQ(RunTls(run), 0);
  ASSERT_EQ(CsvRows(run.csv), 100u);
  const std::string stats = ReadAll(run.stats);
  EXPECT_TRUE(absl::StrContains(stats, "certificate verification failed")) << stats;
  EXPECT_TRUE(absl::StrContains(stats, "\"records_inserted\":0,")) << stats;
  EXPECT_TRUE(absl::StrContains(stats, "\"spool_records\":100,")) << stats;
  EXPECT_EQ(*server.QueryNumber("SELECT count() FROM flows"), 100u);

  // 3. The CA fixed: a restart replays the spool, and nothing is inserted twice.
  run.ca = tmp.File("server.pem");
  run.csv = tmp.File("3.csv");
  run.stats = tmp.File("3.json");
  run.datagrams = 0;
  run.wait_for_rows = 200;
  ASSERT_EQ(RunTls(run), 0);
  EXPECT_EQ(*server.QueryNumber("SELECT count() FROM flows"), 200u);
  EXPECT_EQ(*server.QueryNumber("SELECT uniqExact(dst_addr) FROM flows"), 200u);
  EXPECT_TRUE(absl::StrContains(ReadAll(run.stats), "\"spool_records\":0,"));
}

}  // namespace
}  // namespace nf
