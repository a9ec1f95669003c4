// Output faults of flowcollect: a size-limited process (RLIMIT_FSIZE, writes get
// EFBIG), a full file system (64 KiB tmpfs, ENOSPC), an output directory the (dropped) user
// cannot write, and SIGTERM at random moments while files rotate every second. In every case
// each file left in the directory is a complete CSV with its header, no temporary file is
// left behind, the error is said clearly and counted, and the exit status is 1 when output was
// lost (0 after a clean SIGTERM).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/robustness/robustness_support.h"
#include "tests/support/test_support.h"

namespace nf {
namespace {

using testing::TempDir;

constexpr uint32_t kT0 = 1'700'000'040;  // a multiple of 60: the start of a rotation interval
const char kHeader[] = "exporter,source_id,template_id,";

// An export capture with three 60 s intervals holding `a`, `b` and `c` datagrams of 10
// records each.
std::string MakeCapture(const TempDir& tmp, int a, int b, int c) {
  std::vector<testing::TimedDatagram> dg;
  uint32_t seq = 0;
  auto add = [&](int count, uint32_t start) {
    for (int i = 0; i < count; ++i) {
      testing::V9Spec s;
      s.sequence = seq++;
      s.unix_secs = start + static_cast<uint32_t>(i % 50);
      s.records = 10;
      s.first_host = seq * 16;
      dg.push_back({int64_t{s.unix_secs} * 1'000'000 + i, testing::V9Datagram(s)});
    }
  };
  add(a, kT0);
  add(b, kT0 + 60);
  add(c, kT0 + 120);
  const std::string path = tmp.File("export.pcap");
  EXPECT_TRUE(testing::WriteExportPcap(path, dg));
  return path;
}

struct CollectorRun {
  int exit_code = -1;
  std::string err;
  std::string json;
};

CollectorRun RunCollector(const TempDir& tmp, std::vector<std::string> args, int64_t fsize_limit = -1) {
  args.insert(args.begin(), testing::BinaryPath("flowcollect"));
  const std::string json = tmp.File("stats.json");
  args.push_back("--stats-json");
  args.push_back(json);
  testing::ChildOptions o;
  o.file_size_limit = fsize_limit;
  o.stderr_path = tmp.File("stderr.txt");
  CollectorRun r;
  r.exit_code = testing::ExitCode(testing::WaitBounded(testing::Spawn(args, o), 60'000));
  r.err = testing::ReadWholeFile(o.stderr_path);
  r.json = testing::ReadWholeFile(json);
  return r;
}

// Every entry of `dir` is a complete CSV file (no temporary or partial files); returns the
// row count of each, in name order.
std::vector<long> CompleteFiles(const std::string& dir) {
  std::vector<long> rows;
  for (const std::string& name : testing::ListDir(dir)) {
    EXPECT_NE(name[0], '.') << "temporary file left behind: " << name;
    std::string why;
    const long n = testing::CompleteCsvRows(dir + "/" + name, kHeader, &why);
    EXPECT_GE(n, 0) << why;
    rows.push_back(n);
  }
  return rows;
}

TEST(OutputFaultsTest, FileSizeLimitLosesOnlyTheFileThatDidNotFit) {
  TempDir tmp;
  const std::string pcap = MakeCapture(tmp, 2, 30, 2);  // 20, 300 and 20 rows
  const std::string out = tmp.File("out");
  ASSERT_EQ(mkdir(out.c_str(), 0755), 0);
  // 8 KiB: 20 rows fit, 300 rows (about 40 KB) do not.
  CollectorRun r = RunCollector(tmp, {"-q", "-r", pcap, "-w", out, "--rotate", "60"}, 8192);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("File too large"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("output error"), std::string::npos) << r.err;
  EXPECT_EQ(CompleteFiles(out), (std::vector<long>{20, 20}));
  EXPECT_EQ(testing::JsonNumber(r.json, "files"), 2) << r.json;
  EXPECT_EQ(testing::JsonNumber(r.json, "files_failed"), 1) << r.json;
  EXPECT_EQ(testing::JsonNumber(r.json, "rows_lost"), 300) << r.json;
}

TEST(OutputFaultsTest, FileSizeLimitSingleOutputLeavesNoPartialFile) {
  TempDir tmp;
  const std::string pcap = MakeCapture(tmp, 10, 10, 10);
  const std::string out = tmp.File("out");
  ASSERT_EQ(mkdir(out.c_str(), 0755), 0);
  CollectorRun r = RunCollector(tmp, {"-q", "-r", pcap, "-o", out + "/flows.csv"}, 8192);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("File too large"), std::string::npos) << r.err;
  EXPECT_EQ(testing::ListDir(out), std::vector<std::string>{}) << "a partial output was left";
  EXPECT_EQ(testing::JsonNumber(r.json, "files_failed"), 1) << r.json;
  EXPECT_EQ(testing::JsonNumber(r.json, "rows_lost"), 300) << r.json;
}

// A 64 KiB tmpfs, unmounted (lazily) when the test ends.
class TinyTmpfs {
 public:
  explicit TinyTmpfs(const std::string& dir) : dir_(dir) {
    mkdir(dir.c_str(), 0755);
    mounted_ = mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=64k,mode=0755") == 0;
  }
  ~TinyTmpfs() {
    if (mounted_) umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }

 private:
  std::string dir_;
  bool mounted_ = false;
};

TEST(OutputFaultsTest, DiskFullLosesOnlyTheFileThatDidNotFit) {
  if (geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root";
  TempDir tmp;
  const std::string out = tmp.File("tmpfs");
  TinyTmpfs fs(out);
  if (!fs.mounted()) GTEST_SKIP() << "mount -t tmpfs is not permitted here";
  const std::string pcap = MakeCapture(tmp, 2, 100, 2);  // 20, 1000 (~130 KB) and 20 rows
  CollectorRun r = RunCollector(tmp, {"-q", "-r", pcap, "-w", out, "--rotate", "60"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r.err;
  EXPECT_EQ(CompleteFiles(out), (std::vector<long>{20, 20}));
  EXPECT_EQ(testing::JsonNumber(r.json, "files_failed"), 1) << r.json;
  EXPECT_EQ(testing::JsonNumber(r.json, "rows_lost"), 1000) << r.json;
}

TEST(OutputFaultsTest, UnwritableDirectoryIsAClearError) {
  TempDir tmp;
  const std::string pcap = MakeCapture(tmp, 2, 2, 2);
  const std::string out = tmp.File("out");
  ASSERT_EQ(mkdir(out.c_str(), 0755), 0);
  if (geteuid() == 0) {
    // Root writes anywhere: drop to nobody, who cannot write the root-owned directory.
    CollectorRun r = RunCollector(tmp, {"-q", "-u", "nobody", "-r", pcap, "-w", out, "--rotate", "60"});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("Permission denied"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(out), std::string::npos) << "the error names the path: " << r.err;
  } else {
    ASSERT_EQ(chmod(out.c_str(), 0555), 0);
    CollectorRun r = RunCollector(tmp, {"-q", "-r", pcap, "-w", out, "--rotate", "60"});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("output directory"), std::string::npos) << r.err;
  }
  EXPECT_EQ(testing::ListDir(out), std::vector<std::string>{});
}

// `runs` times: flowcollect rotating files every second under a steady stream gets SIGTERM
// after a random 0.1-`max_ms` ms, then a second SIGTERM (an impatient service manager) and a
// SIGUSR1 0-5 ms later, while the final flush runs. Every run must exit 0, and every file be
// complete and hold exactly the records decoded.
void SigtermRuns(int runs, int max_ms) {
  TempDir tmp;
  const std::string out = tmp.File("out");
  ASSERT_EQ(mkdir(out.c_str(), 0755), 0);
  const unsigned seed = std::random_device{}();
  std::mt19937 rng(seed);
  SCOPED_TRACE("seed " + std::to_string(seed));
  uint32_t seq = 0;
  long files_before = 0;
  long rows_before = 0;
  for (int run = 0; run < runs; ++run) {
    const uint16_t port = testing::FreeUdpPort();
    const std::string json = tmp.File("run" + std::to_string(run) + ".json");
    const pid_t pid = testing::Spawn(
        {testing::BinaryPath("flowcollect"), "-q", "-l", "127.0.0.1:" + std::to_string(port),
         "-w", out, "--rotate", "1", "--stats-json", json});
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_TRUE(testing::WaitUntilUdpBound(port)) << "flowcollect did not bind port " << port;
    std::atomic<bool> stop{false};
    std::thread sender([&] {
      const int sock = socket(AF_INET, SOCK_DGRAM, 0);
      for (int i = 0; i < 20'000 && !stop.load(); ++i) {
        testing::V9Spec s;
        s.sequence = seq++;
        s.unix_secs = static_cast<uint32_t>(time(nullptr));
        s.records = 10;
        s.first_host = seq * 16;
        const auto d = testing::V9Datagram(s);
        sendto(sock, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
        std::this_thread::sleep_for(std::chrono::microseconds(500));
      }
      close(sock);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % (max_ms - 100)));
    kill(pid, SIGTERM);
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 5000));
    kill(pid, SIGTERM);
    kill(pid, SIGUSR1);
    stop = true;
    sender.join();
    const int status = testing::WaitBounded(pid, 30'000);
    EXPECT_EQ(testing::ExitCode(status), 0) << "run " << run;
    // Files of this run: every file is complete; the rows equal the records decoded.
    const std::vector<long> rows = CompleteFiles(out);
    long total = 0;
    for (size_t i = 0; i < rows.size(); ++i) total += rows[i];
    const std::string j = testing::ReadWholeFile(json);
    const int64_t records = testing::JsonNumber(j, "records", j.find("\"totals\""));
    EXPECT_GT(records, 0) << j;
    EXPECT_EQ(total - rows_before, records) << "run " << run << ": " << j;
    EXPECT_GT(static_cast<long>(rows.size()), files_before) << "run " << run << " wrote no file";
    EXPECT_EQ(testing::JsonNumber(j, "rows_lost"), 0) << j;
    rows_before = total;
    files_before = static_cast<long>(rows.size());
  }
}

TEST(OutputFaultsTest, SigtermDuringRotationLeavesOnlyCompleteFiles) { SigtermRuns(6, 2000); }

// Many short runs: the second signal used to kill flowcollect mid-flush about 1 run in 12, while
// Asio's handler was gone and SIGTERM back at its default action.
TEST(OutputFaultsTest, SecondSigtermDuringTheFlushIsHarmless) { SigtermRuns(30, 300); }

}  // namespace
}  // namespace nf
