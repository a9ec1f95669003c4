// The flow store end to end, on the binaries over loopback:
//   - acceptance: flowexport replays a trafgen capture at 20,000 datagrams/s for about 10 s into
//     flowcollect --store (templates sent once, at the start); reading the store back (-r DIR),
//     and every store file alone, gives exactly the live CSV's rows; -A agrees on one and two
//     read threads; the same with --store-compress on a shorter stream;
//   - SIGTERM at random moments and near second boundaries while the store rotates every second,
//     restarting into the same folder: every file is a whole pcap, no temporary file is left, and
//     the store holds every datagram each run received;
//   - a full disk (a 512 KiB tmpfs, as root): the collector goes on and its CSV keeps every
//     record, what reached the store reads back whole and the rest is counted lost; exit 1;
//   - --from/--to choose datagrams by receive time (truth: the files' own pcap records) and the
//     templates in force apply when the window starts in the middle of a file;
//   - -f over the store gives the rows of -f live.
// Truth for the crafted streams comes from their construction (every record names its datagram)
// and from a pcap reader here, independent of the collector's.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_support.h"
#include "tests/support/test_support.h"

namespace nf {
namespace {

using Argv = std::vector<std::string>;
using SystemClock = std::chrono::system_clock;

constexpr int kToolTimeoutMs = 60'000;

std::string Flowcollect() { return testing::BinaryPath("flowcollect"); }

// Runs a binary to completion (bounded); stdout and stderr go to files in `dir`.
struct ToolRun {
  int status = -1;
  std::string command;
  std::string err;
};
ToolRun RunTool(const testing::TempDir& dir, const Argv& argv, int timeout_ms = kToolTimeoutMs) {
  static int runs = 0;
  ++runs;
  const std::string out = dir.File(absl::StrCat("run", runs, ".out"));
  const std::string err = dir.File(absl::StrCat("run", runs, ".err"));
  ToolRun r;
  r.status = testing::RunArgv(argv, out, err, timeout_ms);
  r.command = testing::JoinArgv(argv);
  r.err = testing::ReadFile(err);
  return r;
}
std::ostream& operator<<(std::ostream& os, const ToolRun& r) {
  return os << r.command << " -> " << r.status << "\n" << r.err;
}

testing::FlatJson Stats(const std::string& path) {
  testing::FlatJson json;
  std::string error;
  EXPECT_TRUE(testing::ParseFlatJson(testing::ReadFile(path), &json, &error))
      << path << ": " << error;
  return json;
}

// A counter of a --stats-json file; a missing key fails the test.
uint64_t U(const testing::FlatJson& json, const std::string& key) {
  const std::optional<uint64_t> v = testing::JsonU64(json, key);
  EXPECT_TRUE(v.has_value()) << "no " << key << " in the statistics:\n" << testing::JsonKeys(json);
  return v.value_or(0);
}

// --- CSV rows ------------------------------------------------------------------------------

struct Rows {
  std::string header;
  std::vector<std::string> lines;
};

Rows ReadRows(const std::string& path) {
  const std::string text = testing::ReadFile(path);
  Rows rows;
  bool first = true;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (first) {
      rows.header = std::string(line);
      first = false;
    } else {
      rows.lines.emplace_back(line);
    }
  }
  return rows;
}

// Empty when `a` and `b` hold the same lines as many times each; otherwise the first few
// differences (never the whole lists: they are large). Sorts both.
std::string MultisetDiff(std::vector<std::string>& a, std::vector<std::string>& b,
                         absl::string_view a_name, absl::string_view b_name) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  if (a == b) return "";
  std::string msg =
      absl::StrCat(a_name, ": ", a.size(), " rows, ", b_name, ": ", b.size(), " rows\n");
  int shown = 0;
  size_t i = 0, j = 0;
  while ((i < a.size() || j < b.size()) && shown < 8) {
    if (j == b.size() || (i < a.size() && a[i] < b[j])) {
      absl::StrAppend(&msg, "  only in ", a_name, ": ", a[i++], "\n");
      ++shown;
    } else if (i == a.size() || b[j] < a[i]) {
      absl::StrAppend(&msg, "  only in ", b_name, ": ", b[j++], "\n");
      ++shown;
    } else {
      ++i;
      ++j;
    }
  }
  return msg;
}

// A CSV row as column -> value, by the header.
std::map<std::string, std::string> Fields(const std::string& header, const std::string& line) {
  const std::vector<std::string> names = absl::StrSplit(header, ',');
  const std::vector<std::string> values = absl::StrSplit(line, ',');
  std::map<std::string, std::string> row;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) row[names[i]] = values[i];
  return row;
}

uint64_t Num(const std::string& text) {
  uint64_t v = 0;
  EXPECT_TRUE(absl::SimpleAtoi(text, &v)) << "'" << text << "'";
  return v;
}

// --- the store's files ---------------------------------------------------------------------

struct StoreListing {
  std::vector<std::string> files;   // flows-*.pcap[.zst], in time order
  std::vector<std::string> others;  // anything else (a temporary file left behind)
};

StoreListing ListStore(const std::string& dir) {
  StoreListing l;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    const std::string name = it->path().filename().string();
    const bool store = name.rfind("flows-", 0) == 0 &&
                       (absl::EndsWith(name, ".pcap") || absl::EndsWith(name, ".pcap.zst"));
    (store ? l.files : l.others).push_back(it->path().string());
  }
  EXPECT_FALSE(ec) << dir << ": " << ec.message();
  std::sort(l.files.begin(), l.files.end(), [](const std::string& a, const std::string& b) {
    return std::filesystem::path(a).filename() < std::filesystem::path(b).filename();
  });
  return l;
}

// The interval start (Unix seconds) in a store file's name: flows-YYYYMMDDhhmmss.pcap.
int64_t FileStartSeconds(const std::string& path) {
  const std::string name = std::filesystem::path(path).filename().string();
  std::tm tm{};
  if (name.size() < 20 || strptime(name.substr(6, 14).c_str(), "%Y%m%d%H%M%S", &tm) == nullptr) {
    ADD_FAILURE() << "not a store file name: " << name;
    return -1;
  }
  return static_cast<int64_t>(timegm(&tm));
}

struct StoredDatagram {
  int64_t time_us = 0;
  bool replay = false;  // a template datagram the file begins with (TTL 255)
  std::vector<uint8_t> payload;
};

uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t Be32(const uint8_t* p) { return uint32_t{Be16(p)} << 16 | Be16(p + 2); }
uint32_t Le32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

// Reads a plain store file as the format says (docs/store.md): a little-endian microsecond
// pcap header of link type RAW, then whole records to the last byte, each an IPv4/IPv6 + UDP
// packet with consistent lengths. False with the reason otherwise.
bool ReadStoreFile(const std::string& path, std::vector<StoredDatagram>* out, std::string* error) {
  const std::string data = testing::ReadFile(path);
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  const size_t size = data.size();
  if (size < 24 || Le32(p) != 0xa1b2c3d4 || Le32(p + 20) != 101) {
    *error = absl::StrCat(path, ": no pcap header of link type RAW");
    return false;
  }
  size_t at = 24;
  while (at < size) {
    if (size - at < 16) {
      *error = absl::StrCat(path, ": a record header cut at byte ", at);
      return false;
    }
    const uint32_t caplen = Le32(p + at + 8);
    if (caplen != Le32(p + at + 12) || caplen > 65535 || caplen > size - at - 16) {
      *error = absl::StrCat(path, ": a record cut or malformed at byte ", at);
      return false;
    }
    StoredDatagram d;
    d.time_us = int64_t{Le32(p + at)} * 1'000'000 + Le32(p + at + 4);
    const uint8_t* ip = p + at + 16;
    size_t header = 0;
    uint8_t ttl = 0;
    bool ok = caplen >= 1;
    if (ok && ip[0] >> 4 == 4) {
      header = size_t{ip[0] & 0x0fu} * 4;
      ok = caplen >= header + 8 && ip[9] == 17 && Be16(ip + 2) == caplen;
      ttl = ip[8];
    } else if (ok && ip[0] >> 4 == 6) {
      header = 40;
      ok = caplen >= 48 && ip[6] == 17 && Be16(ip + 4) == caplen - 40;
      ttl = ip[7];
    } else {
      ok = false;
    }
    if (!ok || Be16(ip + header + 4) != caplen - header) {
      *error = absl::StrCat(path, ": a record at byte ", at, " is not an IP/UDP packet");
      return false;
    }
    d.replay = ttl == 255;
    if (!d.replay && ttl != 64) {
      *error = absl::StrCat(path, ": TTL ", ttl, " at byte ", at);
      return false;
    }
    d.payload.assign(ip + header + 8, ip + caplen);
    out->push_back(std::move(d));
    at += 16 + caplen;
  }
  return true;
}

// Received (not replayed) datagrams in the plain files of `listing`, checking each file is whole.
std::vector<StoredDatagram> ReadReceived(const StoreListing& listing) {
  std::vector<StoredDatagram> all, received;
  for (const std::string& f : listing.files) {
    std::string error;
    EXPECT_TRUE(ReadStoreFile(f, &all, &error)) << error;
  }
  for (StoredDatagram& d : all) {
    if (!d.replay) received.push_back(std::move(d));
  }
  return received;
}

// --- a crafted NetFlow v9 stream ------------------------------------------------------------

// Template 256: IPV4_SRC_ADDR, IPV4_DST_ADDR, L4_SRC_PORT, L4_DST_PORT, PROTOCOL, IN_PKTS,
// IN_BYTES (21 bytes a record). Record r of datagram `seq` names both: src_addr is 10.x.y.z
// from seq, src_port 1000 + r, so every row is distinct and tells where it came from.
constexpr uint32_t kSourceId = 7;

std::string SrcAddr(uint32_t seq) {
  return absl::StrCat("10.", (seq >> 16) & 255, ".", (seq >> 8) & 255, ".", seq & 255);
}

std::vector<uint8_t> StreamDatagram(uint32_t seq, int records, bool with_template) {
  std::vector<uint8_t> d;
  auto u8 = [&](uint8_t v) { d.push_back(v); };
  auto u16 = [&](uint16_t v) {
    u8(static_cast<uint8_t>(v >> 8));
    u8(static_cast<uint8_t>(v));
  };
  auto u32 = [&](uint32_t v) {
    u16(static_cast<uint16_t>(v >> 16));
    u16(static_cast<uint16_t>(v));
  };
  u16(9);
  u16(static_cast<uint16_t>(records + (with_template ? 1 : 0)));
  u32(1'000'000 + seq);             // sysUptime (ms)
  u32(1'700'000'000 + seq / 1000);  // unix_secs
  u32(seq);                         // sequence: one per datagram
  u32(kSourceId);
  if (with_template) {
    const uint16_t fields[][2] = {{8, 4}, {12, 4}, {7, 2}, {11, 2}, {4, 1}, {2, 4}, {1, 4}};
    u16(0);
    u16(4 + 4 + 4 * 7);
    u16(256);
    u16(7);
    for (const auto& f : fields) {
      u16(f[0]);
      u16(f[1]);
    }
  }
  if (records > 0) {
    const size_t body = 4 + size_t{21} * static_cast<size_t>(records);
    const size_t padded = (body + 3) / 4 * 4;
    u16(256);
    u16(static_cast<uint16_t>(padded));
    for (int r = 0; r < records; ++r) {
      u32(0x0A000000u | (seq & 0xFFFFFFu));
      u32(0xC0000200u | static_cast<uint32_t>(r & 255));  // 192.0.2.r
      u16(static_cast<uint16_t>(1000 + r));
      u16((seq + static_cast<uint32_t>(r)) % 2 == 0 ? 443 : 80);
      u8((seq / 2 + static_cast<uint32_t>(r)) % 2 == 0 ? 6 : 17);
      u32(1 + static_cast<uint32_t>(r));
      u32(100 * (1 + static_cast<uint32_t>(r)));
    }
    d.resize(d.size() + (padded - body), 0);
  }
  return d;
}

// Sends datagrams to 127.0.0.1:port on its own thread, `per_second` of them, `make(i)` giving
// the i-th, until `count` are sent or Stop.
class PacedSender {
 public:
  using Make = std::function<std::vector<uint8_t>(uint64_t)>;
  PacedSender(uint16_t port, double per_second, uint64_t count, Make make)
      : fd_(socket(AF_INET, SOCK_DGRAM, 0)) {
    to_.sin_family = AF_INET;
    to_.sin_port = htons(port);
    to_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    thread_ = std::thread([this, per_second, count, make = std::move(make)] {
      const auto start = std::chrono::steady_clock::now();
      for (uint64_t i = 0; i < count && !stop_.load(); ++i) {
        const auto due = start + std::chrono::microseconds(static_cast<int64_t>(
                                     static_cast<double>(i) * 1e6 / per_second));
        if (std::chrono::steady_clock::now() < due) std::this_thread::sleep_until(due);
        const std::vector<uint8_t> d = make(i);
        const ssize_t n =
            sendto(fd_, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&to_), sizeof(to_));
        if (n == static_cast<ssize_t>(d.size())) {
          ++sent_;
        } else {
          ++errors_;
        }
      }
    });
  }
  ~PacedSender() {
    Stop();
    if (fd_ >= 0) close(fd_);
  }
  PacedSender(const PacedSender&) = delete;
  PacedSender& operator=(const PacedSender&) = delete;

  // Waits for the last datagram (the count bounds it).
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  void Stop() {
    stop_ = true;
    Join();
  }
  uint64_t sent() const { return sent_.load(); }
  uint64_t errors() const { return errors_.load(); }

 private:
  int fd_;
  sockaddr_in to_{};
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> errors_{0};
  std::thread thread_;
};

// A live flowcollect on 127.0.0.1:port with `extra` arguments; false when it did not bind.
bool StartCollector(testing::Child& child, const testing::TempDir& dir, uint16_t port,
                    const Argv& extra, const std::string& name) {
  Argv argv = {Flowcollect(), "-q", "-l", absl::StrCat("127.0.0.1:", port)};
  argv.insert(argv.end(), extra.begin(), extra.end());
  if (!child.Start(argv, dir.File(name + ".out"), dir.File(name + ".err"))) return false;
  return testing::WaitUntilUdpBound(port);
}

// SIGTERM, then the exit status (bounded).
int Stop(testing::Child& child) {
  child.Signal(SIGTERM);
  return child.Wait(30'000);
}

// A trafgen capture of `flows` one-packet flows.
void MakeCapture(const testing::TempDir& dir, const std::string& path, int flows, int seed) {
  const Argv argv = {testing::BinaryPath("nf-trafgen"), "-q", "-o", path, "-n",
                     absl::StrCat(flows), "-f", absl::StrCat(flows), "-s", absl::StrCat(seed),
                     "--max-gap-ms", "0", "--max-flow-duration-s", "0"};
  const ToolRun r = RunTool(dir, argv);
  ASSERT_EQ(r.status, 0) << r;
}

// flowexport over `capture` to the collectors, at most `rate` datagrams a second, small
// datagrams (three records each) and the templates once, at the start, so every later store
// file needs its own template datagrams. Returns the datagrams sent.
uint64_t Export(const testing::TempDir& dir, const std::string& capture,
                const std::vector<uint16_t>& ports, int rate) {
  Argv argv = {testing::BinaryPath("flowexport"), "-r", capture, "--mtu", "280",
               "--template-refresh-packets", "0", "--max-export-rate", absl::StrCat(rate),
               "--stats-json", dir.File("export.json")};
  for (uint16_t port : ports) {
    argv.push_back("-c");
    argv.push_back(absl::StrCat("127.0.0.1:", port));
  }
  const ToolRun r = RunTool(dir, argv, 120'000);
  EXPECT_EQ(r.status, 0) << r;
  const testing::FlatJson json = Stats(dir.File("export.json"));
  EXPECT_EQ(U(json, "send_errors"), 0u);
  return U(json, "datagrams_sent");
}

// What the live run's --stats-json says about receiving and storing; kernel drops would make
// every later comparison meaningless, so they fail the test at once.
void ExpectEverythingStored(const testing::FlatJson& live, uint64_t sent) {
  ASSERT_EQ(U(live, "receive.kernel_drops"), 0u)
      << "the kernel dropped datagrams before flowcollect read them: the machine was too busy "
         "for this rate, and nothing else can be compared";
  EXPECT_EQ(U(live, "receive.datagrams"), sent);
  EXPECT_EQ(U(live, "store.datagrams"), U(live, "receive.datagrams"));
  EXPECT_EQ(U(live, "store.datagrams_lost"), 0u);
  EXPECT_EQ(U(live, "store.write_errors"), 0u);
  EXPECT_EQ(U(live, "totals.early_sets_pending"), 0u);
  EXPECT_EQ(U(live, "totals.early_sets_aged_out"), 0u);
}

void ExpectNothingWaitedForTemplates(const testing::FlatJson& json, const std::string& what) {
  EXPECT_EQ(U(json, "totals.early_sets_pending"), 0u) << what;
  EXPECT_EQ(U(json, "totals.early_sets_aged_out"), 0u) << what;
  EXPECT_EQ(U(json, "totals.early_sets_dropped"), 0u) << what;
  EXPECT_EQ(U(json, "totals.decode_errors"), 0u) << what;
}

std::string FirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// The rows of CSV files (headers apart) as 64-bit hashes, so hundreds of thousands of rows
// compare as a sorted vector of numbers; the rows themselves are read again only to show a
// difference. Returns the first file's header.
std::string HashRows(const std::vector<std::string>& paths, std::vector<uint64_t>* hashes) {
  std::string header;
  for (const std::string& path : paths) {
    const std::string text = testing::ReadFile(path);
    bool first = true;
    for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
      if (first) {
        if (header.empty()) header = std::string(line);
        EXPECT_EQ(line, header) << path;
        first = false;
        continue;
      }
      hashes->push_back(std::hash<std::string_view>()(std::string_view(line.data(), line.size())));
    }
  }
  return header;
}

// Empty when the rows of `a_files` and of `b_files` are the same multiset; otherwise the
// first few rows that differ.
std::string CompareRows(std::vector<uint64_t>& a, const std::vector<std::string>& a_files,
                        absl::string_view a_name, const std::vector<std::string>& b_files,
                        absl::string_view b_name) {
  std::vector<uint64_t> b;
  HashRows(b_files, &b);
  if (!std::is_sorted(a.begin(), a.end())) std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  if (a == b) return "";
  std::vector<std::string> a_rows, b_rows;
  for (const std::string& f : a_files) {
    for (std::string& line : ReadRows(f).lines) a_rows.push_back(std::move(line));
  }
  for (const std::string& f : b_files) {
    for (std::string& line : ReadRows(f).lines) b_rows.push_back(std::move(line));
  }
  return MultisetDiff(a_rows, b_rows, a_name, b_name);
}

// The live CSV against the store: read back whole (-r DIR), and each file alone; -A on one and
// two threads.
void ExpectStoreEqualsLive(const testing::TempDir& dir, const std::string& store,
                           const std::string& live_csv, uint64_t records, uint64_t datagrams) {
  const StoreListing listing = ListStore(store);
  EXPECT_TRUE(listing.others.empty()) << "left in the store: " << listing.others[0];
  ASSERT_GE(listing.files.size(), 3u) << "the stream should span several store files";
  std::vector<uint64_t> live;
  const std::string header = HashRows({live_csv}, &live);
  ASSERT_EQ(live.size(), records);

  ToolRun r = RunTool(dir, {Flowcollect(), "-q", "-r", store, "-o", dir.File("back.csv"),
                            "--stats-json", dir.File("back.json")});
  ASSERT_EQ(r.status, 0) << r;
  const testing::FlatJson back = Stats(dir.File("back.json"));
  EXPECT_EQ(U(back, "receive.datagrams"), datagrams);
  EXPECT_EQ(U(back, "receive.file_truncated"), 0u);
  EXPECT_GE(U(back, "receive.store_templates"), listing.files.size() - 1)
      << "every file after the first begins with the templates";
  ExpectNothingWaitedForTemplates(back, "-r DIR");
  EXPECT_EQ(FirstLine(dir.File("back.csv")), header);
  std::string diff = CompareRows(live, {live_csv}, "live", {dir.File("back.csv")}, "-r DIR");
  EXPECT_TRUE(diff.empty()) << diff;

  // Each file alone: the rows add up to the same multiset.
  std::vector<std::string> per_file_csv;
  uint64_t per_file_datagrams = 0;
  for (size_t i = 0; i < listing.files.size(); ++i) {
    const std::string& f = listing.files[i];
    per_file_csv.push_back(dir.File(absl::StrCat("file", i, ".csv")));
    r = RunTool(dir, {Flowcollect(), "-q", "-r", f, "-o", per_file_csv.back(), "--stats-json",
                      dir.File("file.json")});
    ASSERT_EQ(r.status, 0) << r;
    const testing::FlatJson json = Stats(dir.File("file.json"));
    ExpectNothingWaitedForTemplates(json, f);
    EXPECT_EQ(U(json, "receive.file_truncated"), 0u) << f;
    if (i > 0) {
      EXPECT_GT(U(json, "receive.store_templates"), 0u) << f;
    }
    per_file_datagrams += U(json, "receive.datagrams");
    EXPECT_EQ(FirstLine(per_file_csv.back()), header) << f;
  }
  EXPECT_EQ(per_file_datagrams, datagrams);
  diff = CompareRows(live, {live_csv}, "live", per_file_csv, "files alone");
  EXPECT_TRUE(diff.empty()) << diff;

  // -A on one and on two threads: the same groups, and the flows are the live rows.
  std::vector<std::string> aggregates[2];
  for (int threads = 1; threads <= 2; ++threads) {
    const std::string csv = dir.File(absl::StrCat("agg", threads, ".csv"));
    r = RunTool(dir, {Flowcollect(), "-q", "-r", store, "-A", "protocol,dst_port", "--read-threads",
                      absl::StrCat(threads), "-o", csv});
    ASSERT_EQ(r.status, 0) << r;
    Rows rows = ReadRows(csv);
    ASSERT_EQ(rows.header, "protocol,dst_port,flows,packets,bytes");
    uint64_t flows = 0;
    for (const std::string& line : rows.lines) flows += Num(Fields(rows.header, line)["flows"]);
    EXPECT_EQ(flows, records) << "--read-threads " << threads;
    aggregates[threads - 1] = std::move(rows.lines);
  }
  diff = MultisetDiff(aggregates[0], aggregates[1], "--read-threads 1", "--read-threads 2");
  EXPECT_TRUE(diff.empty()) << diff;
}

// --- 1. acceptance --------------------------------------------------------------------------

// About 200,000 datagrams at 20,000 a second into flowcollect --store --store-rotate 2.
TEST(FlowcollectStoreTest, TwentyThousandDatagramsASecondReadBackRowForRow) {
  testing::TempDir dir;
  const std::string capture = dir.File("traffic.pcap");
  // One packet a flow, three flows a datagram: 640,000 flows make about 200,000 datagrams.
  ASSERT_NO_FATAL_FAILURE(MakeCapture(dir, capture, 640'000, 11));
  const std::string store = dir.File("store");
  const uint16_t port = testing::FreeUdpPort();
  testing::Child collector;
  ASSERT_TRUE(StartCollector(collector, dir, port,
                             {"--store", store, "--store-rotate", "2", "-o", dir.File("live.csv"),
                              "--stats-json", dir.File("live.json")},
                             "live"))
      << testing::ReadFile(dir.File("live.err"));
  const auto started = std::chrono::steady_clock::now();
  const uint64_t sent = Export(dir, capture, {port}, 20'000);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::filesystem::remove(capture);
  EXPECT_GE(sent, 190'000u);
  EXPECT_GE(seconds, 8.0) << "flowexport did not hold the rate";
  testing::WaitForUdpDrained(port, 10'000);
  ASSERT_EQ(Stop(collector), 0) << testing::ReadFile(dir.File("live.err"));
  const testing::FlatJson live = Stats(dir.File("live.json"));
  ASSERT_NO_FATAL_FAILURE(ExpectEverythingStored(live, sent));
  EXPECT_EQ(U(live, "totals.records"), 640'000u);
  EXPECT_EQ(U(live, "store.files"), ListStore(store).files.size());

  ExpectStoreEqualsLive(dir, store, dir.File("live.csv"), 640'000, sent);
}

TEST(FlowcollectStoreTest, CompressedStoreReadsBackRowForRow) {
  testing::TempDir dir;
  const std::string capture = dir.File("traffic.pcap");
  ASSERT_NO_FATAL_FAILURE(MakeCapture(dir, capture, 150'000, 12));
  const std::string store = dir.File("store");
  const uint16_t port = testing::FreeUdpPort();
  testing::Child collector;
  ASSERT_TRUE(StartCollector(collector, dir, port,
                             {"--store", store, "--store-rotate", "1", "--store-compress", "-o",
                              dir.File("live.csv"), "--stats-json", dir.File("live.json")},
                             "live"))
      << testing::ReadFile(dir.File("live.err"));
  const uint64_t sent = Export(dir, capture, {port}, 20'000);
  testing::WaitForUdpDrained(port, 10'000);
  ASSERT_EQ(Stop(collector), 0) << testing::ReadFile(dir.File("live.err"));
  const testing::FlatJson live = Stats(dir.File("live.json"));
  ASSERT_NO_FATAL_FAILURE(ExpectEverythingStored(live, sent));
  const StoreListing listing = ListStore(store);
  for (const std::string& f : listing.files) EXPECT_TRUE(absl::EndsWith(f, ".pcap.zst")) << f;
  // Compressed: fewer bytes on disk than the datagrams themselves.
  EXPECT_LT(U(live, "store.bytes"), U(live, "receive.bytes"));
  ExpectStoreEqualsLive(dir, store, dir.File("live.csv"), 150'000, sent);
}

// --- 2. SIGTERM during rotation -------------------------------------------------------------

// Six runs into one store, rotating every second under a steady stream, each stopped with
// SIGTERM at a chosen moment: just before, at and just after a second boundary (the rotation),
// at random within 3 ms of one, and twice anywhere in the second. A run that starts within the second its predecessor's last file covers
// continues that file.
TEST(FlowcollectStoreTest, SigtermDuringRotationLeavesWholeFilesAndLosesNothing) {
  testing::TempDir dir;
  const std::string store = dir.File("store");
  std::random_device device;
  const uint32_t seed = device();
  SCOPED_TRACE(absl::StrCat("random moments from seed ", seed));
  std::mt19937 rng(seed);
  auto within = [&rng](int64_t span_us) {
    return static_cast<int64_t>(rng() % static_cast<uint32_t>(2 * span_us + 1)) - span_us;
  };
  const std::vector<int64_t> offsets_us = {-1500, 0, 400, within(3000), within(500'000),
                                           within(500'000)};
  uint64_t live_total = 0;
  for (size_t run = 0; run < offsets_us.size(); ++run) {
    SCOPED_TRACE(absl::StrCat("run ", run, ", SIGTERM ", offsets_us[run],
                              " us from a second boundary"));
    const uint16_t port = testing::FreeUdpPort();
    const std::string name = absl::StrCat("run", run);
    testing::Child collector;
    ASSERT_TRUE(StartCollector(collector, dir, port,
                               {"--store", store, "--store-rotate", "1", "-o",
                                dir.File(name + ".csv"), "--stats-json", dir.File(name + ".json")},
                               name))
        << testing::ReadFile(dir.File(name + ".err"));
    // 4,000 datagrams a second of 3 records, the template in every 20th.
    PacedSender sender(port, 4000, 1'000'000, [run](uint64_t i) {
      const auto seq = static_cast<uint32_t>(run * 100'000 + i);
      return StreamDatagram(seq, 3, i % 20 == 0);
    });
    const auto now = SystemClock::now().time_since_epoch();
    const auto boundary =
        std::chrono::ceil<std::chrono::seconds>(now + std::chrono::milliseconds(700));
    std::this_thread::sleep_until(SystemClock::time_point(
        std::chrono::duration_cast<SystemClock::duration>(
            boundary + std::chrono::microseconds(offsets_us[run]))));
    const int status = Stop(collector);
    sender.Stop();
    ASSERT_EQ(status, 0) << testing::ReadFile(dir.File(name + ".err"));
    const testing::FlatJson live = Stats(dir.File(name + ".json"));
    const uint64_t received = U(live, "receive.datagrams");
    EXPECT_GT(received, 1000u);
    EXPECT_EQ(U(live, "store.datagrams"), received);
    EXPECT_EQ(U(live, "store.datagrams_lost"), 0u);
    EXPECT_EQ(U(live, "store.write_errors"), 0u);
    EXPECT_EQ(U(live, "store.files_recovered"), 0u) << "no run crashed";
    EXPECT_EQ(U(live, "receive.kernel_drops"), 0u);
    live_total += received;

    // After each run: whole files only, holding every datagram received so far.
    const StoreListing listing = ListStore(store);
    EXPECT_TRUE(listing.others.empty()) << "left in the store: " << listing.others[0];
    EXPECT_EQ(ReadReceived(listing).size(), live_total);
  }

  const StoreListing listing = ListStore(store);
  uint64_t per_file = 0;
  for (const std::string& f : listing.files) {
    const ToolRun r = RunTool(dir, {Flowcollect(), "-q", "-r", f, "-o", "/dev/null", "--stats-json",
                                    dir.File("file.json")});
    ASSERT_EQ(r.status, 0) << r;
    EXPECT_TRUE(r.err.empty()) << r;
    const testing::FlatJson json = Stats(dir.File("file.json"));
    EXPECT_EQ(U(json, "receive.file_truncated"), 0u) << f;
    EXPECT_EQ(U(json, "receive.file_not_udp"), 0u) << f;
    per_file += U(json, "receive.datagrams");
  }
  EXPECT_EQ(per_file, live_total);
  const ToolRun r = RunTool(dir, {Flowcollect(), "-q", "-r", store, "-o", dir.File("all.csv"),
                                  "--stats-json", dir.File("all.json")});
  ASSERT_EQ(r.status, 0) << r;
  const testing::FlatJson all = Stats(dir.File("all.json"));
  EXPECT_EQ(U(all, "receive.datagrams"), live_total);
  EXPECT_EQ(U(all, "totals.records"), 3 * live_total);
  ExpectNothingWaitedForTemplates(all, "-r DIR");
}

// --- 3. a full disk -------------------------------------------------------------------------

// Unmounts at scope exit, before the temporary directory goes.
class TmpfsMount {
 public:
  explicit TmpfsMount(std::string path) : path_(std::move(path)) {}
  ~TmpfsMount() {
    if (mounted_ && umount2(path_.c_str(), 0) != 0) umount2(path_.c_str(), MNT_DETACH);
  }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;
  bool Mount(const char* options, std::string* error) {
    if (mkdir(path_.c_str(), 0700) != 0 ||
        mount("tmpfs", path_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options) != 0) {
      *error = std::strerror(errno);
      return false;
    }
    mounted_ = true;
    return true;
  }

 private:
  std::string path_;
  bool mounted_ = false;
};

TEST(FlowcollectStoreTest, FullDiskKeepsDecodingAndWhatWasStoredReadsBack) {
  if (geteuid() != 0) GTEST_SKIP() << "mounting a small tmpfs needs root";
  testing::TempDir dir;
  const std::string store = dir.File("tmpfs");
  TmpfsMount tmpfs(store);
  if (std::string error; !tmpfs.Mount("size=512k,mode=0700", &error)) {
    GTEST_SKIP() << "cannot mount a tmpfs here: " << error;
  }
  const uint16_t port = testing::FreeUdpPort();
  testing::Child collector;
  ASSERT_TRUE(StartCollector(collector, dir, port,
                             {"--store", store, "--store-rotate", "1", "-o", dir.File("live.csv"),
                              "--stats-json", dir.File("live.json")},
                             "live"))
      << testing::ReadFile(dir.File("live.err"));
  // 9,000 datagrams of 10 records (about 2.8 MB as stored) over 2 s: the 512 KiB fill early.
  constexpr uint64_t kDatagrams = 9000;
  constexpr int kRecords = 10;
  PacedSender sender(port, 4500, kDatagrams, [](uint64_t i) {
    return StreamDatagram(static_cast<uint32_t>(i), kRecords, i % 20 == 0);
  });
  sender.Join();
  ASSERT_EQ(sender.sent(), kDatagrams);
  testing::WaitForUdpDrained(port, 10'000);
  EXPECT_TRUE(collector.Running()) << "flowcollect stopped on a full disk:\n"
                                   << testing::ReadFile(dir.File("live.err"));
  EXPECT_EQ(Stop(collector), 1) << "a store error makes the exit status 1";
  const std::string err = testing::ReadFile(dir.File("live.err"));
  EXPECT_NE(err.find("flowcollect: store error: "), std::string::npos) << err;

  const testing::FlatJson live = Stats(dir.File("live.json"));
  ASSERT_EQ(U(live, "receive.kernel_drops"), 0u) << "the machine was too busy for this rate";
  EXPECT_EQ(U(live, "receive.datagrams"), kDatagrams);
  EXPECT_EQ(U(live, "totals.records"), kDatagrams * kRecords);
  // Decoding went on: the CSV has every record, each once.
  {
    Rows rows = ReadRows(dir.File("live.csv"));
    EXPECT_EQ(rows.lines.size(), kDatagrams * kRecords);
    std::sort(rows.lines.begin(), rows.lines.end());
    EXPECT_EQ(std::adjacent_find(rows.lines.begin(), rows.lines.end()), rows.lines.end());
  }
  const uint64_t stored = U(live, "store.datagrams");
  EXPECT_GE(U(live, "store.write_errors"), 1u);
  EXPECT_GT(U(live, "store.datagrams_lost"), 0u);
  EXPECT_GT(stored, 0u);
  EXPECT_EQ(stored + U(live, "store.datagrams_lost"), kDatagrams)
      << "every received datagram is stored or counted lost";
  EXPECT_NE(testing::JsonKeys(live).find("store.last_error"), std::string::npos);

  // What is on the tmpfs: completed files only, whole, holding exactly what was counted stored.
  const StoreListing listing = ListStore(store);
  EXPECT_TRUE(listing.others.empty()) << "left in the store: " << listing.others[0];
  ASSERT_FALSE(listing.files.empty());
  EXPECT_EQ(ReadReceived(listing).size(), stored);
  uint64_t per_file = 0;
  for (const std::string& f : listing.files) {
    const ToolRun r = RunTool(dir, {Flowcollect(), "-q", "-r", f, "-o", "/dev/null", "--stats-json",
                                    dir.File("file.json")});
    ASSERT_EQ(r.status, 0) << r;
    const testing::FlatJson json = Stats(dir.File("file.json"));
    EXPECT_EQ(U(json, "receive.file_truncated"), 0u) << f;
    per_file += U(json, "receive.datagrams");
  }
  EXPECT_EQ(per_file, stored);
  const ToolRun r = RunTool(dir, {Flowcollect(), "-q", "-r", store, "-o", "/dev/null",
                                  "--stats-json", dir.File("back.json")});
  ASSERT_EQ(r.status, 0) << r;
  const testing::FlatJson back = Stats(dir.File("back.json"));
  EXPECT_EQ(U(back, "receive.datagrams"), stored);
  EXPECT_EQ(U(back, "totals.records"), stored * kRecords) << "nothing stored is corrupt";
  ExpectNothingWaitedForTemplates(back, "-r DIR");
}

// --- 4. --from / --to -----------------------------------------------------------------------

// A store of 2-second files from a stream whose template comes once, in its first datagram:
// later files decode only through their own template datagrams.
struct WindowStore {
  int64_t start_s = 0;  // the first file's interval start: an even second, the stream's start
  std::vector<StoredDatagram> received;  // from the files' own records
};

void BuildWindowStore(const testing::TempDir& dir, const std::string& store, double seconds,
                      WindowStore* out) {
  const uint16_t port = testing::FreeUdpPort();
  testing::Child collector;
  ASSERT_TRUE(StartCollector(collector, dir, port,
                             {"--store", store, "--store-rotate", "2", "-o", dir.File("live.csv"),
                              "--stats-json", dir.File("live.json")},
                             "live"))
      << testing::ReadFile(dir.File("live.err"));
  // Start 100 ms into an even second, so the first file (2 s, aligned) starts then too.
  const auto now = SystemClock::now().time_since_epoch();
  auto even = std::chrono::ceil<std::chrono::seconds>(now);
  if (even.count() % 2 != 0) even += std::chrono::seconds(1);
  out->start_s = even.count();
  std::this_thread::sleep_until(SystemClock::time_point(
      std::chrono::duration_cast<SystemClock::duration>(even + std::chrono::milliseconds(100))));
  const auto count = static_cast<uint64_t>(2000 * seconds);
  PacedSender sender(port, 2000, count, [](uint64_t i) {
    return StreamDatagram(static_cast<uint32_t>(i), 2, i == 0);
  });
  sender.Join();
  ASSERT_EQ(sender.sent(), count);
  testing::WaitForUdpDrained(port, 10'000);
  ASSERT_EQ(Stop(collector), 0) << testing::ReadFile(dir.File("live.err"));
  const testing::FlatJson live = Stats(dir.File("live.json"));
  ASSERT_NO_FATAL_FAILURE(ExpectEverythingStored(live, count));
  const StoreListing listing = ListStore(store);
  ASSERT_FALSE(listing.files.empty());
  ASSERT_EQ(FileStartSeconds(listing.files[0]), out->start_s)
      << "the stream did not start in the first file's interval (a busy machine?)";
  out->received = ReadReceived(listing);
  ASSERT_EQ(out->received.size(), count);
}

// flowcollect -r over the store with `window` arguments against the truth: the datagrams whose
// receive time is in [from_s, to_s) and exactly their records, none waiting for a template.
void ExpectWindow(const testing::TempDir& dir, const std::string& store, const WindowStore& ws,
                  std::optional<int64_t> from_s, std::optional<int64_t> to_s) {
  SCOPED_TRACE(absl::StrCat("--from ", from_s ? absl::StrCat(*from_s - ws.start_s) : "-",
                            " --to ", to_s ? absl::StrCat(*to_s - ws.start_s) : "-",
                            " (seconds after the store's start)"));
  Argv window;
  if (from_s) window.insert(window.end(), {"--from", absl::StrCat("@", *from_s)});
  if (to_s) window.insert(window.end(), {"--to", absl::StrCat("@", *to_s)});
  std::vector<std::string> want;
  uint64_t want_datagrams = 0;
  for (const StoredDatagram& d : ws.received) {
    if (from_s && d.time_us < *from_s * 1'000'000) continue;
    if (to_s && d.time_us >= *to_s * 1'000'000) continue;
    ++want_datagrams;
    const uint32_t seq = Be32(d.payload.data() + 12);
    for (int r = 0; r < 2; ++r) want.push_back(absl::StrCat(SrcAddr(seq), ",", 1000 + r));
  }
  ASSERT_GT(want_datagrams, 0u);
  ASSERT_LT(want_datagrams, ws.received.size());

  Argv argv = {Flowcollect(), "-q", "-r", store, "--columns", "src_addr,src_port", "-o",
               dir.File("window.csv"), "--stats-json", dir.File("window.json")};
  argv.insert(argv.end(), window.begin(), window.end());
  ToolRun r = RunTool(dir, argv);
  ASSERT_EQ(r.status, 0) << r;
  const testing::FlatJson json = Stats(dir.File("window.json"));
  EXPECT_EQ(U(json, "receive.datagrams"), want_datagrams);
  EXPECT_EQ(U(json, "totals.records"), 2 * want_datagrams);
  ExpectNothingWaitedForTemplates(json, "the window");
  Rows rows = ReadRows(dir.File("window.csv"));
  const std::string diff = MultisetDiff(want, rows.lines, "receive time in the window", "-r");
  EXPECT_TRUE(diff.empty()) << diff;

  // The same window on two threads, aggregated.
  argv = {Flowcollect(), "-q", "-r", store, "-A", "protocol", "--read-threads", "2", "-o",
          dir.File("window-agg.csv")};
  argv.insert(argv.end(), window.begin(), window.end());
  r = RunTool(dir, argv);
  ASSERT_EQ(r.status, 0) << r;
  const Rows agg = ReadRows(dir.File("window-agg.csv"));
  uint64_t flows = 0;
  for (const std::string& line : agg.lines) flows += Num(Fields(agg.header, line)["flows"]);
  EXPECT_EQ(flows, 2 * want_datagrams) << "-A --read-threads 2";
}

// Windows over files that begin with their template datagrams: from the middle of the second
// file to the middle of the third, --to alone, and a window within one file.
TEST(FlowcollectStoreTest, FromAndToSelectByReceiveTimeWithTemplatesInForce) {
  testing::TempDir dir;
  const std::string store = dir.File("store");
  WindowStore ws;
  ASSERT_NO_FATAL_FAILURE(BuildWindowStore(dir, store, 5.4, &ws));
  ASSERT_GE(ListStore(store).files.size(), 3u);
  const int64_t s = ws.start_s;
  ExpectWindow(dir, store, ws, s + 3, s + 5);
  ExpectWindow(dir, store, ws, std::nullopt, s + 3);
  ExpectWindow(dir, store, ws, s + 2, s + 3);
  ExpectWindow(dir, store, ws, s + 4, std::nullopt);
}

// The first file of a store has no template datagrams of its own: the exporter's templates
// arrived in it as received datagrams. A window starting after them, in the middle of that
// file, must still decode the records it selects.
TEST(FlowcollectStoreTest, FromInTheMiddleOfTheFirstFileKeepsItsTemplates) {
  testing::TempDir dir;
  const std::string store = dir.File("store");
  WindowStore ws;
  ASSERT_NO_FATAL_FAILURE(BuildWindowStore(dir, store, 2.6, &ws));
  ExpectWindow(dir, store, ws, ws.start_s + 1, std::nullopt);
  ExpectWindow(dir, store, ws, ws.start_s + 1, ws.start_s + 2);
}

// --- 5. -f over the store --------------------------------------------------------------------

// One flowexport stream to two collectors: one keeps the store and every record, the other
// filters live. The filter over the store gives the live filter's rows, which are the rows of
// the unfiltered CSV the expression selects.
TEST(FlowcollectStoreTest, FilterOverTheStoreEqualsTheFilterLive) {
  testing::TempDir dir;
  const std::string capture = dir.File("traffic.pcap");
  ASSERT_NO_FATAL_FAILURE(MakeCapture(dir, capture, 30'000, 13));
  const std::string expr = "proto tcp and dst port 443";
  const std::string store = dir.File("store");
  const uint16_t port_all = testing::FreeUdpPort();
  testing::Child all;
  ASSERT_TRUE(StartCollector(all, dir, port_all,
                             {"--store", store, "--store-rotate", "1", "-o", dir.File("all.csv")},
                             "all"))
      << testing::ReadFile(dir.File("all.err"));
  uint16_t port_filtered = testing::FreeUdpPort();
  for (int i = 0; i < 10 && port_filtered == port_all; ++i) port_filtered = testing::FreeUdpPort();
  ASSERT_NE(port_filtered, port_all);
  testing::Child filtered;
  ASSERT_TRUE(StartCollector(filtered, dir, port_filtered,
                             {"-f", expr, "-o", dir.File("live-f.csv"), "--stats-json",
                              dir.File("live-f.json")},
                             "filtered"))
      << testing::ReadFile(dir.File("filtered.err"));
  const uint64_t sent = Export(dir, capture, {port_all, port_filtered}, 10'000);
  testing::WaitForUdpDrained(port_all, 10'000);
  testing::WaitForUdpDrained(port_filtered, 10'000);
  ASSERT_EQ(Stop(all), 0) << testing::ReadFile(dir.File("all.err"));
  ASSERT_EQ(Stop(filtered), 0) << testing::ReadFile(dir.File("filtered.err"));
  const testing::FlatJson live = Stats(dir.File("live-f.json"));
  ASSERT_EQ(U(live, "receive.kernel_drops"), 0u) << "the machine was too busy for this rate";
  ASSERT_EQ(U(live, "receive.datagrams"), sent);

  const ToolRun r =
      RunTool(dir, {Flowcollect(), "-q", "-r", store, "-f", expr, "-o", dir.File("store-f.csv"),
                    "--stats-json", dir.File("store-f.json")});
  ASSERT_EQ(r.status, 0) << r;
  const testing::FlatJson back = Stats(dir.File("store-f.json"));
  EXPECT_EQ(U(back, "receive.datagrams"), sent);
  EXPECT_EQ(U(back, "output.records_filtered"), U(live, "output.records_filtered"));
  EXPECT_EQ(U(back, "output.rows"), U(live, "output.rows"));

  Rows live_f = ReadRows(dir.File("live-f.csv"));
  Rows store_f = ReadRows(dir.File("store-f.csv"));
  EXPECT_EQ(store_f.header, live_f.header);
  // The expression evaluated here on the unfiltered live CSV.
  const Rows every = ReadRows(dir.File("all.csv"));
  ASSERT_EQ(every.lines.size(), 30'000u);
  std::vector<std::string> selected;
  for (const std::string& line : every.lines) {
    std::map<std::string, std::string> f = Fields(every.header, line);
    if (f["protocol"] == "6" && f["dst_port"] == "443") selected.push_back(line);
  }
  ASSERT_FALSE(selected.empty());
  ASSERT_LT(selected.size(), every.lines.size());
  EXPECT_EQ(U(live, "output.records_filtered"), every.lines.size() - selected.size());
  std::string diff = MultisetDiff(live_f.lines, store_f.lines, "-f live", "-f over the store");
  EXPECT_TRUE(diff.empty()) << diff;
  diff = MultisetDiff(selected, store_f.lines, "selected from the live CSV", "-f over the store");
  EXPECT_TRUE(diff.empty()) << diff;
}

}  // namespace
}  // namespace nf
