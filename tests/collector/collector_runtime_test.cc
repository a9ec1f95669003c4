// The flowcollect runtime in-process (collector/app/collector_runtime.h): what happens at
// start (nothing written before every input checked), the final flush of -r runs, and a live
// stop that drains every worker's sockets and merges their statistics.
#include "collector/app/collector_runtime.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "collector/app/collector_options.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_support.h"
#include "tests/support/test_support.h"

namespace nf {
namespace {

using ::testing::HasSubstr;

void Put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void Put32(std::vector<uint8_t>& b, uint32_t v) {
  Put16(b, static_cast<uint16_t>(v >> 16));
  Put16(b, static_cast<uint16_t>(v));
}

// A v9 datagram: template 256 (src/dst IPv4, packets, bytes) and `records` records, record i
// from 10.0.<seq>.<i> with i+1 packets of 100 bytes each.
std::vector<uint8_t> V9Datagram(uint32_t seq, int records) {
  std::vector<uint8_t> d;
  Put16(d, 9);
  Put16(d, static_cast<uint16_t>(records + 1));
  Put32(d, 1000);           // uptime
  Put32(d, 1'700'000'000);  // unix secs
  Put32(d, seq);
  Put32(d, 7);  // source ID
  Put16(d, 0);  // template set
  Put16(d, 4 + 4 + 16);
  Put16(d, 256);
  Put16(d, 4);
  for (uint16_t type : {8, 12, 2, 1}) {
    Put16(d, type);
    Put16(d, 4);
  }
  Put16(d, 256);
  Put16(d, static_cast<uint16_t>(4 + 16 * records));
  for (int i = 0; i < records; ++i) {
    d.insert(d.end(), {10, 0, static_cast<uint8_t>(seq), static_cast<uint8_t>(i)});
    d.insert(d.end(), {192, 0, 2, 1});
    Put32(d, static_cast<uint32_t>(i + 1));
    Put32(d, static_cast<uint32_t>(100 * (i + 1)));
  }
  return d;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
size_t Lines(const std::string& text) { return static_cast<size_t>(std::count(text.begin(), text.end(), '\n')); }

// One counter from the stats JSON by its dotted path ("totals.records"); 0 and a failure when
// absent.
uint64_t StatsNumber(const std::string& json, const std::string& path) {
  testing::FlatJson flat;
  std::string error;
  if (!testing::ParseFlatJson(json, &flat, &error)) {
    ADD_FAILURE() << error << " in " << json;
    return 0;
  }
  const std::optional<uint64_t> v = testing::JsonU64(flat, path);
  if (!v.has_value()) ADD_FAILURE() << "no " << path << " in " << testing::JsonKeys(flat);
  return v.value_or(0);
}

TEST(CollectorRuntimeTest, CreateChecksEverythingBeforeAnyOutputExists) {
  testing::TempDir dir;
  CollectorOptions o;
  o.output = dir.File("out.csv");
  o.output_given = true;
  o.listen = {"127.0.0.1:70000"};
  absl::StatusOr<std::unique_ptr<CollectorRuntime>> r = CollectorRuntime::Create(o);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
  EXPECT_FALSE(std::filesystem::exists(o.output));

  o.listen.clear();
  o.read_files = {dir.File("missing.pcap")};
  r = CollectorRuntime::Create(o);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsNotFound(r.status())) << r.status();
  EXPECT_FALSE(std::filesystem::exists(o.output));

  o.read_files.clear();
  o.aggregate.clear();
  o.top = 5;
  r = CollectorRuntime::Create(o);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("--top and -t need -A"));
}

TEST(CollectorRuntimeTest, FileRunFlushesCsvTemplatesReportAndStatsInOrder) {
  testing::TempDir dir;
  std::vector<std::vector<uint8_t>> datagrams;
  for (uint32_t seq = 0; seq < 20; ++seq) datagrams.push_back(V9Datagram(seq, 10));
  std::string error;
  ASSERT_TRUE(testing::WriteDatagramPcap(dir.File("in.pcap"), datagrams, 40000, 2055, &error))
      << error;
  CollectorOptions o;
  o.read_files = {dir.File("in.pcap")};
  o.output = dir.File("out.csv");
  o.output_given = true;
  o.stats_json = dir.File("stats.json");
  o.template_store = dir.File("templates");
  o.report = dir.File("report.html");
  o.quiet = true;
  absl::StatusOr<std::unique_ptr<CollectorRuntime>> r = CollectorRuntime::Create(o);
  ASSERT_TRUE(r.ok()) << r.status();
  // Outputs are opened at Create but committed only by the flush at the end of Run.
  EXPECT_FALSE(std::filesystem::exists(o.output));
  ASSERT_EQ((*r)->Run(), 0);
  EXPECT_EQ(Lines(ReadFile(o.output)), 1u + 200u);  // header + one row per record
  const std::string stats = ReadFile(o.stats_json);
  EXPECT_EQ(StatsNumber(stats, "totals.records"), 200u);
  EXPECT_EQ(StatsNumber(stats, "output.rows"), 200u);
  EXPECT_EQ(StatsNumber(stats, "totals.packets"), 20u * 55u);
  EXPECT_EQ(StatsNumber(stats, "totals.bytes"), 20u * 5500u);
  EXPECT_THAT(ReadFile(o.template_store), HasSubstr("256"));
  EXPECT_THAT(ReadFile(o.report), HasSubstr("<html"));
}

// Live with two workers on SO_REUSEPORT sockets: a stop drains what the sockets hold, every
// record reaches the one CSV file, and the statistics are the sum over both workers.
TEST(CollectorRuntimeTest, LiveStopDrainsEveryWorkerAndMergesTheirStatistics) {
  testing::TempDir dir;
  const uint16_t port = testing::FreeUdpPort();
  CollectorOptions o;
  o.listen = {"127.0.0.1:" + std::to_string(port)};
  o.workers = 2;
  o.output = dir.File("out.csv");
  o.output_given = true;
  o.stats_json = dir.File("stats.json");
  o.quiet = true;
  absl::StatusOr<std::unique_ptr<CollectorRuntime>> r = CollectorRuntime::Create(o);
  ASSERT_TRUE(r.ok()) << r.status();
  CollectorRuntime& runtime = **r;
  int rc = -1;
  std::thread run([&] { rc = runtime.Run(); });
  ASSERT_TRUE(testing::WaitUntilUdpBound(port));
  // Several source sockets, so the kernel spreads them over both workers' sockets.
  sockaddr_storage to{};
  const socklen_t to_len = testing::LoopbackAddress(port, false, to);
  constexpr int kSenders = 8;
  constexpr int kPerSender = 25;
  for (int s = 0; s < kSenders; ++s) {
    const int fd = socket(AF_INET, SOCK_DGRAM, 0);
    ASSERT_GE(fd, 0);
    for (int i = 0; i < kPerSender; ++i) {
      const std::vector<uint8_t> d = V9Datagram(static_cast<uint32_t>(i), 4);
      ASSERT_EQ(sendto(fd, d.data(), d.size(), 0, reinterpret_cast<const sockaddr*>(&to), to_len),
                static_cast<ssize_t>(d.size()));
    }
    close(fd);
  }
  runtime.RequestStop();
  run.join();
  ASSERT_EQ(rc, 0);
  constexpr uint64_t kDatagrams = kSenders * kPerSender;
  EXPECT_EQ(Lines(ReadFile(o.output)), 1u + kDatagrams * 4u);
  const std::string stats = ReadFile(o.stats_json);
  EXPECT_EQ(StatsNumber(stats, "receive.datagrams"), kDatagrams);  // summed over workers
  EXPECT_EQ(StatsNumber(stats, "totals.records"), kDatagrams * 4u);
  EXPECT_EQ(StatsNumber(stats, "output.rows"), kDatagrams * 4u);
}

TEST(CollectorRuntimeTest, StopBeforeRunEndsAtOnceWithAnEmptyButCompleteOutput) {
  testing::TempDir dir;
  CollectorOptions o;
  o.listen = {"127.0.0.1:" + std::to_string(testing::FreeUdpPort())};
  o.output = dir.File("out.csv");
  o.output_given = true;
  o.quiet = true;
  absl::StatusOr<std::unique_ptr<CollectorRuntime>> r = CollectorRuntime::Create(o);
  ASSERT_TRUE(r.ok()) << r.status();
  (*r)->RequestStop();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ((*r)->Run(), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(Lines(ReadFile(o.output)), 1u);  // the header: a finished file, not a missing one
}

TEST(CollectorRuntimeTest, AFailedBindIsAFailedRunAndWritesNothing) {
  testing::TempDir dir;
  const uint16_t port = testing::FreeUdpPort();
  const int held = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_storage a{};
  const socklen_t len = testing::LoopbackAddress(port, false, a);
  ASSERT_EQ(bind(held, reinterpret_cast<const sockaddr*>(&a), len), 0);
  CollectorOptions o;
  o.listen = {"127.0.0.1:" + std::to_string(port)};
  o.output = dir.File("out.csv");
  o.output_given = true;
  o.quiet = true;
  absl::StatusOr<std::unique_ptr<CollectorRuntime>> r = CollectorRuntime::Create(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->Run(), 1);
  EXPECT_FALSE(std::filesystem::exists(o.output));
  close(held);
}

}  // namespace
}  // namespace nf
