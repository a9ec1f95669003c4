// flowcollect --forward end to end: collector B is fed only by collector A's --forward copies of
// real captures (v9, IPFIX, v5, and malformed v9 neither can decode) replayed into A over
// loopback; B must write exactly A's records. Without --forward-keep-source every copy comes
// from A, so only the exporter column differs; with it (root or CAP_NET_RAW) the rows are
// identical, exporter included. Also: --forward with -r is a usage error.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_support.h"
#include "tests/support/test_support.h"

namespace nf {
namespace {

// One of each export version, and datagrams no decoder accepts (forwarded all the same).
const char* const kCaptures[] = {
    "graylog/netflow9.pcap",
    "akvorado/merged/nfv9-options+template+data.pcap",
    "logstash/ipfix_generic.pcap",
    "logstash/ipfix_ixia.pcap",
    "graylog/netgraph-netflow5.pcap",
    "libnetflow9/malformed_2.pcap",
};

struct Collector {
  testing::Child child;
  std::string csv;
  std::string json;
  std::string err;
};

bool StartCollector(Collector& c, const testing::TempDir& tmp, const std::string& name,
                    std::vector<std::string> extra) {
  c.csv = tmp.File(name + ".csv");
  c.json = tmp.File(name + ".json");
  c.err = tmp.File(name + ".err");
  std::vector<std::string> argv = {testing::BinaryPath("flowcollect"), "-o", c.csv,
                                   "--stats-json", c.json};
  argv.insert(argv.end(), extra.begin(), extra.end());
  if (!c.child.Start(argv, tmp.File(name + ".out"), c.err)) {
    ADD_FAILURE() << "cannot start " << testing::JoinArgv(argv);
    return false;
  }
  return true;
}

// Asks for statistics (SIGUSR1) until `key` reaches `want`, at most 10 s.
std::optional<uint64_t> WaitForCount(Collector& c, const std::string& key, uint64_t want) {
  std::optional<uint64_t> last;
  for (int i = 0; i < 200; ++i) {
    c.child.Signal(SIGUSR1);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    testing::FlatJson j;
    std::string error;
    if (testing::ParseFlatJson(testing::ReadFile(c.json), &j, &error)) {
      last = testing::JsonU64(j, key);
      if (last == want) break;
    }
  }
  return last;
}

std::optional<testing::FlatJson> Stop(Collector& c) {
  c.child.Signal(SIGTERM);
  const int status = c.child.Wait(20'000);
  if (status != 0) {
    ADD_FAILURE() << "flowcollect exited " << status << ": " << testing::ReadFile(c.err);
    return std::nullopt;
  }
  testing::FlatJson j;
  std::string error;
  if (!testing::ParseFlatJson(testing::ReadFile(c.json), &j, &error)) {
    ADD_FAILURE() << "stats JSON: " << error;
    return std::nullopt;
  }
  return j;
}

// The CSV rows as sorted strings of their columns (without the exporter column unless asked).
std::vector<std::string> Rows(const std::string& csv, bool with_exporter) {
  std::vector<std::string> out;
  for (const testing::CsvRow& row : testing::ReadCsv(csv)) {
    std::vector<std::string> cells;
    for (const auto& [key, value] : row) {
      if (key == "exporter" && !with_exporter) continue;
      cells.push_back(absl::StrCat(key, "=", value));
    }
    out.push_back(absl::StrJoin(cells, ","));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> Column(const std::string& csv, const std::string& column) {
  std::vector<std::string> out;
  for (const testing::CsvRow& row : testing::ReadCsv(csv)) out.push_back(row.at(column));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void ForwardRun(bool keep_source) {
  testing::TempDir tmp;
  // Without --forward-keep-source every copy reaches B from A's own address, so B sees one
  // exporter: its per-exporter state (templates, sampling) is shared by all captures. A then
  // gets every capture from one address too (127.0.0.2) and the two must agree on all but the
  // exporter column. With it, every capture comes from its own address (127.0.0.2, .3, ...) and
  // B must tell them apart just as A does.
  struct Replay {
    std::string address;
    std::vector<std::vector<uint8_t>> datagrams;
  };
  std::vector<Replay> replays;
  size_t total = 0;
  for (size_t i = 0; i < std::size(kCaptures); ++i) {
    std::string error;
    const auto datagrams =
        testing::ReadUdpDatagrams(testing::CorpusDir() + "/netflow/" + kCaptures[i], &error);
    ASSERT_FALSE(datagrams.empty()) << kCaptures[i] << ": " << error;
    Replay r;
    r.address = absl::StrCat("127.0.0.", keep_source ? 2 + i : 2);
    for (const auto& d : datagrams) r.datagrams.push_back(d.payload);
    total += r.datagrams.size();
    replays.push_back(std::move(r));
  }

  const uint16_t port_b = testing::FreeUdpPort();
  uint16_t port_a = testing::FreeUdpPort();
  for (int i = 0; i < 10 && port_a == port_b; ++i) port_a = testing::FreeUdpPort();
  ASSERT_NE(port_a, port_b);
  Collector b, a;
  ASSERT_TRUE(StartCollector(b, tmp, "b", {"-l", absl::StrCat("127.0.0.1:", port_b)}));
  ASSERT_TRUE(testing::WaitUntilUdpBound(port_b)) << testing::ReadFile(b.err);
  std::vector<std::string> a_args = {"-l", absl::StrCat("127.0.0.1:", port_a), "--forward",
                                     absl::StrCat("127.0.0.1:", port_b)};
  if (keep_source) a_args.push_back("--forward-keep-source");
  ASSERT_TRUE(StartCollector(a, tmp, "a", a_args));
  ASSERT_TRUE(testing::WaitUntilUdpBound(port_a)) << testing::ReadFile(a.err);

  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port_a);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (const Replay& r : replays) {
    const int fd = socket(AF_INET, SOCK_DGRAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in from{};
    from.sin_family = AF_INET;
    ASSERT_EQ(inet_pton(AF_INET, r.address.c_str(), &from.sin_addr), 1);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof(from)), 0) << r.address;
    for (size_t i = 0; i < r.datagrams.size(); ++i) {
      const auto& d = r.datagrams[i];
      EXPECT_EQ(sendto(fd, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)),
                static_cast<ssize_t>(d.size()));
      if (i % 32 == 31) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    close(fd);
  }
  EXPECT_EQ(WaitForCount(a, "receive.datagrams", total), total);
  EXPECT_EQ(WaitForCount(b, "receive.datagrams", total), total);
  const std::optional<testing::FlatJson> ja = Stop(a);
  const std::optional<testing::FlatJson> jb = Stop(b);
  ASSERT_TRUE(ja.has_value() && jb.has_value());

  // A forwarded everything it received, undecodable datagrams included.
  EXPECT_EQ(testing::JsonU64(*ja, "forward.destinations.0.datagrams"), total);
  EXPECT_EQ(testing::JsonU64(*ja, "forward.destinations.0.send_errors"), 0u);
  EXPECT_EQ(testing::JsonSumUnder(*ja, "forward.destinations.0.drops"), 0u);
  EXPECT_EQ(testing::JsonU64(*ja, "receive.kernel_drops"), 0u);
  EXPECT_EQ(testing::JsonU64(*jb, "receive.kernel_drops"), 0u);
  EXPECT_EQ(testing::JsonU64(*jb, "receive.datagrams"), total);
  EXPECT_EQ(testing::JsonU64(*ja, "receive.bytes"), testing::JsonU64(*jb, "receive.bytes"));
  EXPECT_GT(testing::JsonU64(*ja, "totals.decode_errors").value_or(0), 0u);
  for (const char* k : {"totals.records", "totals.options_records", "totals.packets",
                        "totals.bytes", "totals.v5_datagrams", "totals.v9_datagrams",
                        "totals.ipfix_datagrams", "totals.decode_errors"}) {
    EXPECT_EQ(testing::JsonU64(*ja, k), testing::JsonU64(*jb, k)) << k;
  }

  const std::vector<std::string> rows_a = Rows(a.csv, keep_source);
  const std::vector<std::string> rows_b = Rows(b.csv, keep_source);
  EXPECT_GT(rows_a.size(), 100u);
  EXPECT_EQ(rows_a.size(), rows_b.size());
  EXPECT_TRUE(rows_a == rows_b) << "B's rows differ from A's";
  const std::vector<std::string> exporters_a = Column(a.csv, "exporter");
  if (keep_source) {
    EXPECT_GE(exporters_a.size(), 3u);
    EXPECT_EQ(Column(b.csv, "exporter"), exporters_a);
  } else {
    EXPECT_EQ(exporters_a, std::vector<std::string>{"127.0.0.2"});
    EXPECT_EQ(Column(b.csv, "exporter"), std::vector<std::string>{"127.0.0.1"});
  }
}

TEST(FlowcollectForwardTest, SecondCollectorFedByForwardWritesTheSameRecords) {
  NF_REQUIRE_CORPUS();
  ForwardRun(/*keep_source=*/false);
}

TEST(FlowcollectForwardTest, KeepSourceGivesIdenticalRowsExporterIncluded) {
  NF_REQUIRE_CORPUS();
  const int raw = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
  if (raw < 0) GTEST_SKIP() << "SKIP: --forward-keep-source needs root or CAP_NET_RAW";
  close(raw);
  ForwardRun(/*keep_source=*/true);
}

TEST(FlowcollectForwardTest, ForwardNeedsLiveInput) {
  std::string out;
  const std::string fc = testing::BinaryPath("flowcollect");
  // Exit status 2: a usage error, said on stderr.
  EXPECT_EQ(testing::RunCommand(fc + " -r /dev/null --forward 127.0.0.1:2055 2>&1", &out), 2);
  EXPECT_NE(out.find("--forward needs -l"), std::string::npos) << out;
  EXPECT_EQ(testing::RunCommand(fc + " -l 127.0.0.1:0 --forward-keep-source -o /dev/null 2>&1",
                                &out),
            2);
  EXPECT_NE(out.find("--forward-keep-source needs --forward"), std::string::npos) << out;
  EXPECT_EQ(testing::RunCommand(fc + " -l 127.0.0.1:2 --forward 127.0.0.1:0 -o /dev/null 2>&1",
                                &out),
            2);
  EXPECT_NE(out.find("--forward 127.0.0.1:0"), std::string::npos) << out;
  EXPECT_EQ(testing::RunCommand(fc + " --help", &out), 0);
  EXPECT_NE(out.find("--forward-keep-source"), std::string::npos);
}

}  // namespace
}  // namespace nf
