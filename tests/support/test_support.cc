#include "tests/support/test_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>


#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "capture/packet_parser.h"

namespace nf::testing {

std::string CorpusDir() {
  const char* env = getenv("NF_SHARED_DIR");
  std::string base = env != nullptr ? std::string(env) : std::string(NF_SOURCE_DIR) + "/../shared";
  std::string dir = base + "/corpus";
  struct stat st;
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return "";
  return dir;
}

std::vector<UdpDatagram> ReadUdpDatagrams(const std::string& path, std::string* error) {
  std::vector<UdpDatagram> out;
  char errbuf[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(path.c_str(), errbuf);
  if (p == nullptr) {
    if (error) *error = errbuf;
    return out;
  }
  auto link = LinkTypeFromDlt(pcap_datalink(p));
  if (!link.ok()) {
    if (error) *error = std::string(link.status().message());
    pcap_close(p);
    return out;
  }
  pcap_pkthdr* h;
  const u_char* data;
  while (pcap_next_ex(p, &h, &data) == 1) {
    PacketMeta meta;
    if (ParsePacket(data, h->caplen, h->len, *link, meta) != ParseResult::kOk) continue;
    // Unfragmented UDP with its payload inside the capture.
    if (meta.protocol != 17 || meta.is_fragment() || meta.payload_offset == 0) continue;
    const size_t end = std::min<size_t>(h->caplen, size_t{meta.payload_offset} + meta.payload_length);
    UdpDatagram d;
    d.time_us = int64_t{h->ts.tv_sec} * 1000000 + h->ts.tv_usec;
    d.src = meta.src.ToString();
    d.src_port = meta.src_port;
    d.dst_port = meta.dst_port;
    if (end > meta.payload_offset) d.payload.assign(data + meta.payload_offset, data + end);
    out.push_back(std::move(d));
  }
  pcap_close(p);
  return out;
}

namespace {
// RFC 4180 line split: quoted cells may hold commas and doubled quotes.
std::vector<std::string> SplitCsvLine(const std::string& line) {
  std::vector<std::string> cells(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cells.back().push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cells.back().push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      cells.emplace_back();
    } else {
      cells.back().push_back(c);
    }
  }
  return cells;
}
}  // namespace

std::vector<CsvRow> ReadCsv(const std::string& path) {
  std::vector<CsvRow> rows;
  std::ifstream in(path);
  std::string line;
  std::vector<std::string> header;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::vector<std::string> cells = SplitCsvLine(line);
    if (header.empty()) {
      header = cells;
      continue;
    }
    CsvRow row;
    for (size_t i = 0; i < header.size() && i < cells.size(); ++i) row[header[i]] = cells[i];
    rows.push_back(std::move(row));
  }
  return rows;
}

bool MakeSelfSignedCertificate(const std::string& dir, const std::string& name,
                               std::string* error) {
  std::string log;
  const int rc = RunCommand(
      absl::StrCat("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost "
                   "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout ",
                   dir, "/", name, ".key -out ", dir, "/", name, ".pem 2>&1"),
      &log);
  if (rc != 0) *error = absl::StrCat("openssl req exited ", rc, ": ", log);
  return rc == 0;
}

int RunCommand(const std::string& command, std::string* out) {
  FILE* f = popen(command.c_str(), "r");
  if (f == nullptr) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
    if (out) out->append(buf, n);
  }
  int status = pclose(f);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool HaveTool(const std::string& tool) {
  return RunCommand("command -v " + tool + " >/dev/null 2>&1") == 0;
}

std::vector<std::string> TsharkProblems(absl::string_view tshark_verbose) {
  static constexpr absl::string_view kProblems[] = {"Malformed", "Expert Info (Error",
                                                    "Expert Info (Warning", "no template found"};
  std::vector<std::string> problems;
  for (absl::string_view line : absl::StrSplit(tshark_verbose, '\n')) {
    for (absl::string_view problem : kProblems) {
      if (absl::StrContains(line, problem)) {
        problems.emplace_back(line);
        break;
      }
    }
  }
  return problems;
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "nf-test-XXXXXX").string();
  char* p = mkdtemp(tmpl.data());
  path_ = p != nullptr ? std::string(p) : std::string();
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

// Ports come from below the kernel's ephemeral range (ip_local_port_range, usually from
// 32768): a port from bind(0) is released before the program under test binds it, and any
// socket another test opens meanwhile (an exporter's source port, say) can take it in that
// window. Tests running in parallel are separate processes: each takes its ports from its own
// block of 500, chosen by its pid (ctest starts them one after another, so running ones
// have different pids modulo 40), from a random start, stepping on. Another process's probe
// binding a port for a moment is enough to make the program under test fail to bind it, so
// processes must not walk the same ports (random starts over the whole range did, now and
// then). A process whose whole block is taken walks the whole range. A port is returned only
// when both UDP on 127.0.0.1 and TCP can bind it.
uint16_t FreeUdpPort() {
  constexpr uint32_t kBase = 10000, kRange = 20000, kBlock = 500;
  static const uint32_t block_start =
      kBase + (static_cast<uint32_t>(getpid()) % (kRange / kBlock)) * kBlock;
  static std::atomic<uint32_t> next{std::random_device{}() % kBlock};
  for (uint32_t tries = 0; tries < kBlock + kRange; ++tries) {
    const uint32_t n = next++;
    const uint16_t port =
        static_cast<uint16_t>(tries < kBlock ? block_start + n % kBlock : kBase + n % kRange);
    bool free = true;
    for (const int type : {SOCK_DGRAM, SOCK_STREAM}) {
      const int fd = socket(AF_INET, type, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(port);
      free = free && fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
      if (fd >= 0) close(fd);
    }
    if (free) return port;
  }
  return 0;
}

socklen_t LoopbackAddress(uint16_t port, bool v6, sockaddr_storage& out) {
  out = sockaddr_storage{};
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&out);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    a->sin6_addr = in6addr_loopback;
    return sizeof(sockaddr_in6);
  }
  auto* a = reinterpret_cast<sockaddr_in*>(&out);
  a->sin_family = AF_INET;
  a->sin_port = htons(port);
  a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sizeof(sockaddr_in);
}

bool WaitUntilUdpBound(uint16_t port, bool v6, int timeout_ms) {
  sockaddr_storage ss;
  const socklen_t len = LoopbackAddress(port, v6, ss);
  for (int waited = 0; waited <= timeout_ms; waited += 20) {
    const int probe = socket(ss.ss_family, SOCK_DGRAM, 0);
    const bool taken = bind(probe, reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno == EADDRINUSE;
    close(probe);
    if (taken) return true;
    usleep(20'000);
  }
  return false;
}

bool WaitUntil(const std::function<bool()>& done, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

std::string BinaryPath(const std::string& name) {
  for (const char* sub : {"/exporter/", "/collector/", "/tools/trafgen/", "/bench/", "/"}) {
    std::string p = std::string(NF_BINARY_DIR) + sub + name;
    if (access(p.c_str(), X_OK) == 0) return p;
  }
  return std::string(NF_BINARY_DIR) + "/" + name;
}

namespace {
void SleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }
}  // namespace

// ---------------------------------------------------------------------------------------------
bool UdpPortInUse(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const int r = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  const int e = errno;
  ::close(fd);
  return r != 0 && e == EADDRINUSE;
}

namespace {
// Sum of rx_queue over the sockets bound to `port` in /proc/net/udp and /proc/net/udp6; -1 when
// no such socket is listed.
int64_t UdpRxQueue(uint16_t port) {
  int64_t total = -1;
  for (const char* file : {"/proc/net/udp", "/proc/net/udp6"}) {
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream row(line);
      std::string slot, local, remote, state, queues;
      if (!(row >> slot >> local >> remote >> state >> queues)) continue;
      const size_t colon = local.rfind(':');
      if (colon == std::string::npos) continue;
      if (std::strtoul(local.c_str() + colon + 1, nullptr, 16) != port) continue;
      const size_t q = queues.find(':');
      if (q == std::string::npos) continue;
      total = std::max<int64_t>(total, 0) +
              static_cast<int64_t>(std::strtoull(queues.c_str() + q + 1, nullptr, 16));
    }
  }
  return total;
}
}  // namespace

bool WaitForUdpDrained(uint16_t port, int timeout_ms) {
  int empty_in_a_row = 0;
  for (int waited = 0; waited <= timeout_ms; waited += 20) {
    const int64_t q = UdpRxQueue(port);
    // Two empty readings 20 ms apart: the receiver has dequeued everything and had time to
    // process the last datagram it took.
    empty_in_a_row = q <= 0 ? empty_in_a_row + 1 : 0;
    if (empty_in_a_row >= 3) return true;
    SleepMs(20);
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
UdpSink::~UdpSink() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) ::close(fd_);
}

bool UdpSink::Open(std::string* error, bool ipv6) {
  fd_ = ::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
  if (fd_ < 0) {
    if (error) *error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  // A large buffer, so a file-speed exporter does not overrun us; FORCE works as root.
  int size = 32 << 20;
  if (::setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0)
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  sockaddr_storage storage;
  socklen_t len = LoopbackAddress(0, ipv6, storage);  // port 0: any free one
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&storage), len) != 0) {
    if (error) *error = std::string("bind: ") + std::strerror(errno);
    return false;
  }
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&storage), &len);
  port_ = ntohs(ipv6 ? reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port
                     : reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
  thread_ = std::thread([this] { Loop(); });
  return true;
}

void UdpSink::Loop() {
  std::vector<uint8_t> buf(65536);
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    // Drain everything queued before polling again.
    while (true) {
      const ssize_t n = ::recv(fd_, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n < 0) break;
      datagrams_.emplace_back(buf.begin(), buf.begin() + n);
    }
  }
}

std::vector<std::vector<uint8_t>> UdpSink::Finish() {
  WaitForUdpDrained(port_, 10000);
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  return std::move(datagrams_);
}

// ---------------------------------------------------------------------------------------------
bool WriteDatagramPcap(const std::string& path, const std::vector<std::vector<uint8_t>>& datagrams,
                       uint16_t src_port, uint16_t dst_port, std::string* error) {
  std::ofstream out(path, std::ios::binary);
  if (!out) {
    if (error) *error = "cannot write " + path;
    return false;
  }
  auto le32 = [&](uint32_t v) {
    const char b[4] = {static_cast<char>(v), static_cast<char>(v >> 8), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 24)};
    out.write(b, 4);
  };
  auto le16 = [&](uint16_t v) {
    const char b[2] = {static_cast<char>(v), static_cast<char>(v >> 8)};
    out.write(b, 2);
  };
  le32(0xa1b2c3d4);
  le16(2);
  le16(4);
  le32(0);
  le32(0);
  le32(262144);
  le32(1);  // Ethernet
  uint32_t seconds = 1704110400;
  uint32_t micros = 0;
  uint16_t ip_id = 0;
  for (const auto& d : datagrams) {
    const uint32_t udp_len = static_cast<uint32_t>(d.size() + 8);
    const uint32_t ip_len = udp_len + 20;
    uint8_t h[42] = {0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0x08, 0x00};
    uint8_t* ip = h + 14;
    ip[0] = 0x45;
    ip[2] = static_cast<uint8_t>(ip_len >> 8);
    ip[3] = static_cast<uint8_t>(ip_len);
    ip[4] = static_cast<uint8_t>(ip_id >> 8);
    ip[5] = static_cast<uint8_t>(ip_id);
    ++ip_id;
    ip[8] = 64;
    ip[9] = 17;
    const uint8_t lo[4] = {127, 0, 0, 1};
    std::memcpy(ip + 12, lo, 4);
    std::memcpy(ip + 16, lo, 4);
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2) sum += (uint32_t{ip[i]} << 8) | ip[i + 1];
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    ip[10] = static_cast<uint8_t>(~sum >> 8);
    ip[11] = static_cast<uint8_t>(~sum);
    uint8_t* udp = ip + 20;
    udp[0] = static_cast<uint8_t>(src_port >> 8);
    udp[1] = static_cast<uint8_t>(src_port);
    udp[2] = static_cast<uint8_t>(dst_port >> 8);
    udp[3] = static_cast<uint8_t>(dst_port);
    udp[4] = static_cast<uint8_t>(udp_len >> 8);
    udp[5] = static_cast<uint8_t>(udp_len);  // checksum 0: none (allowed for IPv4)
    le32(seconds);
    le32(micros);
    le32(14 + ip_len);
    le32(14 + ip_len);
    out.write(reinterpret_cast<const char*>(h), sizeof(h));
    out.write(reinterpret_cast<const char*>(d.data()), static_cast<std::streamsize>(d.size()));
    if (++micros == 1000000) {
      micros = 0;
      ++seconds;
    }
  }
  out.close();
  if (!out) {
    if (error) *error = "write failed: " + path;
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
bool WritePcap(const std::string& path, const std::vector<PcapFrame>& frames, int dlt,
               std::string* error) {
  pcap_t* dead = pcap_open_dead(dlt, 262144);
  pcap_dumper_t* d = pcap_dump_open(dead, path.c_str());
  if (d == nullptr) {
    if (error) *error = pcap_geterr(dead);
    pcap_close(dead);
    return false;
  }
  for (const PcapFrame& f : frames) {
    pcap_pkthdr h{};
    h.ts.tv_sec = f.time_us / 1000000;
    h.ts.tv_usec = f.time_us % 1000000;
    h.caplen = static_cast<bpf_u_int32>(f.bytes.size());
    h.len = h.caplen;
    pcap_dump(reinterpret_cast<u_char*>(d), &h, f.bytes.data());
  }
  pcap_dump_close(d);
  pcap_close(dead);
  return true;
}

}  // namespace nf::testing
