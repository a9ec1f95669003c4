// Flood: a running `flowcollect -l` gets 300,000 random and mutated datagrams (bit
// flips, truncation, length lies, template redefinitions with odd field counts and lengths,
// garbage, splices) built from the real v5/v9/IPFIX datagrams of ../shared/corpus and our own,
// then valid traffic: flowexport -r on an nf-trafgen capture. The valid traffic must decode
// exactly (records, packets, bytes of its exporter equal flowexport's and the capture's) and
// the collector's memory must stay bounded.
//
// Why the valid exporter cannot collide with the flood: templates are keyed by exporter
// address and source ID. The flood comes from 127.0.0.2-127.0.0.9 and the valid traffic from
// 127.0.0.1 with a source ID the mutator never emits. (A flood that spoofs the real exporter's
// address could fill its --max-templates slots; that is counted as templates.refused and is
// what --allow and network filtering are for: see docs/ROBUSTNESS.md.)
#include <arpa/inet.h>
#include <glob.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sys/wait.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/robustness/robustness_support.h"
#include "tests/support/test_support.h"

namespace nf {
namespace {

constexpr uint32_t kValidSourceId = 0x5EED0D1Du;
constexpr int kFloodDatagrams = 300'000;

using Bytes = std::vector<uint8_t>;

void Put16(Bytes& d, size_t at, uint16_t v) {
  if (at + 2 <= d.size()) {
    d[at] = static_cast<uint8_t>(v >> 8);
    d[at + 1] = static_cast<uint8_t>(v);
  }
}

// A v9 template with `fields` random (type, length) pairs and a data set that uses it.
Bytes RandomTemplate(std::mt19937& rng) {
  Bytes d;
  auto u16 = [&](uint32_t v) {
    d.push_back(static_cast<uint8_t>(v >> 8));
    d.push_back(static_cast<uint8_t>(v));
  };
  const int fields = static_cast<int>(rng() % 40);
  const uint16_t id = static_cast<uint16_t>(256 + rng() % 16);
  u16(9);
  u16(2);
  u16(0);
  u16(1);
  u16(0x6553);
  u16(rng());
  u16(0);
  u16(rng());
  u16(0);
  u16(rng() % 4);  // source ID 0..3
  u16(0);
  u16(static_cast<uint32_t>(8 + 4 * fields));
  u16(id);
  u16(static_cast<uint32_t>(fields));
  for (int i = 0; i < fields; ++i) {
    u16(rng() % 100);
    const uint32_t r = rng() % 10;
    u16(r == 0 ? 0 : r == 1 ? 65535 : r == 2 ? 50 : rng() % 17);
  }
  const uint32_t data_len = rng() % 200;
  u16(id);
  u16(data_len + 4);
  for (uint32_t i = 0; i < data_len; ++i) d.push_back(static_cast<uint8_t>(rng()));
  return d;
}

Bytes Mutate(const std::vector<Bytes>& seeds, std::mt19937& rng) {
  Bytes d = seeds[rng() % seeds.size()];
  switch (rng() % 7) {
    case 0:  // bit flips
      for (uint32_t i = 0, n = 1 + rng() % 16; i < n && !d.empty(); ++i) {
        d[rng() % d.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
      }
      break;
    case 1:  // truncation
      d.resize(d.empty() ? 0 : rng() % d.size());
      break;
    case 2:  // length and count lies, mostly in the headers
      for (uint32_t i = 0, n = 1 + rng() % 3; i < n && d.size() > 4; ++i) {
        const size_t at = (rng() % 2 ? rng() % 32 : rng() % d.size()) & ~size_t{1};
        const uint32_t r = rng() % 4;
        Put16(d, at, static_cast<uint16_t>(r == 0 ? 0 : r == 1 ? 0xffff : r == 2 ? 4 : rng()));
      }
      break;
    case 3:
      d = RandomTemplate(rng);
      break;
    case 4: {  // garbage behind a plausible version
      d.resize(rng() % 1500);
      for (auto& b : d) b = static_cast<uint8_t>(rng());
      static const uint16_t kVersions[] = {5, 9, 10};
      Put16(d, 0, kVersions[rng() % 3]);
      break;
    }
    case 5: {  // splice: the head of one datagram, the tail of another
      const Bytes& other = seeds[rng() % seeds.size()];
      const size_t keep = d.empty() ? 0 : rng() % d.size();
      const size_t from = other.empty() ? 0 : rng() % other.size();
      d.resize(keep);
      d.insert(d.end(), other.begin() + static_cast<long>(from), other.end());
      break;
    }
    default:  // unchanged: a replay (duplicate sequence numbers, refreshed templates)
      break;
  }
  // Never the valid exporter's source ID (v9 at 16, IPFIX at 12).
  for (size_t at : {size_t{12}, size_t{16}}) {
    if (d.size() >= at + 4 && d[at] == 0x5E && d[at + 1] == 0xED && d[at + 2] == 0x0D &&
        d[at + 3] == 0x1D) {
      d[at] ^= 0xff;
    }
  }
  return d;
}

std::vector<Bytes> Seeds() {
  std::vector<Bytes> seeds;
  const std::string corpus = testing::CorpusDir();
  if (!corpus.empty()) {
    glob_t g{};
    if (glob((corpus + "/netflow/*/*.pcap*").c_str(), 0, nullptr, &g) == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) {
        for (auto& dg : testing::ReadUdpDatagrams(g.gl_pathv[i])) {
          if (dg.payload.size() >= 4 && seeds.size() < 5000) seeds.push_back(std::move(dg.payload));
        }
      }
      globfree(&g);
    }
  }
  for (int i = 0; i < 8; ++i) {
    testing::V9Spec s;
    s.source_id = static_cast<uint32_t>(i);
    s.template_id = static_cast<uint16_t>(256 + i);
    s.records = i * 3;
    s.with_template = i % 2 == 0;
    seeds.push_back(testing::V9Datagram(s));
  }
  return seeds;
}

int64_t RssKb(pid_t pid, const char* key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return std::stoll(line.substr(std::strlen(key)));
  }
  return -1;
}

// Statistics now (SIGUSR1 rewrites --stats-json). Empty when the collector has died (which
// fails the test at once) or does not answer within 5 s.
std::string Stats(pid_t pid, const std::string& json) {
  unlink(json.c_str());
  kill(pid, SIGUSR1);
  for (int i = 0; i < 200; ++i) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      ADD_FAILURE() << "flowcollect died: status " << status;
      return "";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    const std::string j = testing::ReadWholeFile(json);
    if (!j.empty() && j.back() == '\n') return j;
  }
  return "";
}

TEST(FloodTest, MutatedFloodThenValidTrafficDecodesExactly) {
  testing::TempDir tmp;
  const std::vector<Bytes> seeds = Seeds();
  std::printf("flood: %zu seed datagrams%s\n", seeds.size(),
              testing::CorpusDir().empty() ? " (../shared/corpus absent: own seeds only)" : "");
  const uint16_t port = testing::FreeUdpPort();
  const std::string json = tmp.File("stats.json");
  const pid_t collector = testing::Spawn(
      {testing::BinaryPath("flowcollect"), "-q", "-l", absl::StrCat("127.0.0.1:", port), "-o",
       tmp.File("flows.csv"), "--stats-json", json},
      {-1, tmp.File("collector.txt")});
  // A failed assertion must not leave the collector running.
  struct Reaper {
    pid_t pid;
    ~Reaper() {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
      }
    }
  } reaper{collector};
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_TRUE(testing::WaitUntilUdpBound(port)) << "flowcollect did not bind";
  // The port being taken proves nothing if flowcollect exited (another process holds it).
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  int early_status = 0;
  ASSERT_EQ(waitpid(collector, &early_status, WNOHANG), 0)
      << "flowcollect exited at start:\n" << testing::ReadWholeFile(tmp.File("collector.txt"));

  // Eight flood exporters, 127.0.0.2-127.0.0.9.
  std::vector<int> socks;
  for (uint32_t a = 2; a <= 9; ++a) {
    const int s = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in from{};
    from.sin_family = AF_INET;
    from.sin_addr.s_addr = htonl(0x7f000000u | a);
    ASSERT_EQ(bind(s, reinterpret_cast<sockaddr*>(&from), sizeof(from)), 0);
    socks.push_back(s);
  }
  // NF_FLOOD_SEED replays a failed run (its seed is in the failure's trace).
  const char* seed_env = std::getenv("NF_FLOOD_SEED");
  const unsigned seed = seed_env != nullptr ? static_cast<unsigned>(std::strtoul(seed_env, nullptr, 10))
                                            : std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  // Waits until the collector has accounted for `target` datagrams: each one sent is either
  // received or counted as a kernel drop (the socket's drop counter is read after every drain,
  // so the two add up exactly). Returns the statistics, or "" when flowcollect died or did not
  // answer; `seen` is then the last count.
  std::string j;
  int64_t seen = -1;
  auto settle = [&](int64_t target) -> std::string {
    for (int i = 0; i < 200; ++i) {
      const std::string now_json = Stats(collector, json);
      if (now_json.empty()) return "";
      seen = testing::JsonNumber(now_json, "datagrams") +
             testing::JsonNumber(now_json, "kernel_drops");
      if (seen >= target) return now_json;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return "";
  };
  // Full-speed bursts, each let drain: how fast the collector decodes depends on the machine
  // and the build (ASan is several times slower, TSan more: its bursts are smaller), and a
  // collector that reads little of the flood proves little. Drops within a burst are counted
  // anyway.
#if defined(__SANITIZE_THREAD__)
  constexpr int kBurst = 2'000;
#else
  constexpr int kBurst = 20'000;
#endif
  int64_t sent = 0;
  for (int i = 0; i < kFloodDatagrams; ++i) {
    const Bytes d = Mutate(seeds, rng);
    if (sendto(socks[i % socks.size()], d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&to),
               sizeof(to)) == static_cast<ssize_t>(d.size())) {
      ++sent;
    }
    if (i % kBurst == kBurst - 1) {
      ASSERT_FALSE(settle(sent).empty())
          << "flowcollect did not account for " << sent << " datagrams (last count " << seen
          << "):\n" << testing::ReadWholeFile(tmp.File("collector.txt"));
    }
  }
  for (int s : socks) close(s);
  j = settle(sent);
  ASSERT_FALSE(j.empty()) << "flowcollect did not account for " << sent << " datagrams (last count "
                          << seen << "):\n" << testing::ReadWholeFile(tmp.File("collector.txt"));
  ASSERT_EQ(seen, sent) << j;
  ASSERT_GT(testing::JsonNumber(j, "datagrams"), sent / 2) << "the collector read too little: " << j;
  const int64_t rss_after_flood = RssKb(collector, "VmRSS:");
  std::printf("flood: %lld datagrams sent, %lld kernel drops, decode errors %lld, RSS %lld kB\n",
              static_cast<long long>(sent),
              static_cast<long long>(testing::JsonNumber(j, "kernel_drops")),
              static_cast<long long>(testing::JsonNumber(j, "decode_errors", j.find("\"totals\""))),
              static_cast<long long>(rss_after_flood));
  EXPECT_GT(testing::JsonNumber(j, "decode_errors", j.find("\"totals\"")), 0) << j;

  // Valid traffic with known truth, from 127.0.0.1 with a fresh source ID.
  const std::string pcap = tmp.File("traffic.pcap");
  ASSERT_EQ(testing::RunCommand(absl::StrCat(testing::BinaryPath("nf-trafgen"), " -q -o ", pcap,
                                             " -n 20000 -f 2000 -s 7 >/dev/null 2>&1")),
            0);
  const std::string ejson = tmp.File("export.json");
  const pid_t exporter = testing::Spawn(
      {testing::BinaryPath("flowexport"), "-r", pcap, "-c", absl::StrCat("127.0.0.1:", port),
       "--source-id", std::to_string(kValidSourceId), "--max-export-rate", "5000",
       "--stats-json", ejson},
      {-1, tmp.File("exporter.txt")});
  ASSERT_EQ(testing::ExitCode(testing::WaitBounded(exporter, 60'000)), 0)
      << testing::ReadWholeFile(tmp.File("exporter.txt"));
  const std::string e = testing::ReadWholeFile(ejson);
  const int64_t datagrams = testing::JsonNumber(e, "datagrams_sent");
  for (int i = 0; i < 120; ++i) {
    j = Stats(collector, json);
    ASSERT_FALSE(j.empty()) << "flowcollect did not answer SIGUSR1:\n"
                            << testing::ReadWholeFile(tmp.File("collector.txt"));
    const size_t at = j.find("\"exporter\":\"127.0.0.1\"");
    if (at != std::string::npos && testing::JsonNumber(j, "datagrams", at) >= datagrams) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  kill(collector, SIGTERM);
  EXPECT_EQ(testing::ExitCode(testing::WaitBounded(collector, 60'000)), 0)
      << testing::ReadWholeFile(tmp.File("collector.txt"));
  j = testing::ReadWholeFile(json);
  const size_t at = j.find("\"exporter\":\"127.0.0.1\"");
  ASSERT_NE(at, std::string::npos) << j;
  EXPECT_EQ(testing::JsonNumber(j, "datagrams", at), datagrams) << j;
  EXPECT_EQ(testing::JsonNumber(j, "records", at), testing::JsonNumber(e, "records_sent")) << j;
  EXPECT_EQ(testing::JsonNumber(j, "packets", at), 20000) << j;
  EXPECT_EQ(testing::JsonNumber(j, "packets", at), testing::JsonNumber(e, "packets_exported"));
  EXPECT_EQ(testing::JsonNumber(j, "bytes", at), testing::JsonNumber(e, "bytes_exported")) << j;
  EXPECT_EQ(testing::JsonNumber(j, "decode_errors", at), 0) << j;
  EXPECT_EQ(testing::JsonNumber(j, "sequence_lost", at), 0) << j;
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  // Bounded memory: the flood's templates, early data and exporters are capped (defaults),
  // the 32 MiB socket buffer is kernel memory. 256 MiB leaves ample room.
  EXPECT_GT(rss_after_flood, 0);
  EXPECT_LT(rss_after_flood, 256 * 1024) << "flowcollect grew under the flood";
#endif
}

}  // namespace
}  // namespace nf
