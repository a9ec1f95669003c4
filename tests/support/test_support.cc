#include "tests/support/test_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>


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
// window. Tests running in parallel are separate processes, so the start is random per process
// and each probe steps on; a port is returned only when both UDP on 127.0.0.1 and TCP can bind it.
uint16_t FreeUdpPort() {
  static std::atomic<uint32_t> next{std::random_device{}() % 20000};
  for (int tries = 0; tries < 20000; ++tries) {
    const uint16_t port = static_cast<uint16_t>(10000 + next++ % 20000);
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
    const bool taken = bind(probe, reinterpret_cast<sockaddr*>(&ss), len) != 0;
    close(probe);
    if (taken) return true;
    usleep(20'000);
  }
  return false;
}

std::string BinaryPath(const std::string& name) {
  for (const char* sub : {"/exporter/", "/collector/", "/tools/trafgen/", "/bench/", "/"}) {
    std::string p = std::string(NF_BINARY_DIR) + sub + name;
    if (access(p.c_str(), X_OK) == 0) return p;
  }
  return std::string(NF_BINARY_DIR) + "/" + name;
}

}  // namespace nf::testing
