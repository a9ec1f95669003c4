// Test-only helpers: locating ../shared corpus files, reading the UDP payloads of a capture,
// writing captures (frames, or UDP datagrams as export traffic), a loopback UDP sink that
// records what an exporter sends, small process helpers used by end-to-end tests, and the check
// that tshark decodes a capture cleanly.
#ifndef NF_TESTS_SUPPORT_TEST_SUPPORT_H_
#define NF_TESTS_SUPPORT_TEST_SUPPORT_H_

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/string_view.h"

namespace nf::testing {

// Directory of the shared corpus (`<project>/../shared/corpus`), or empty when absent.
std::string CorpusDir();
// Skips the current test with a clear message when the shared corpus is absent.
#define NF_REQUIRE_CORPUS()                                                              \
  do {                                                                                   \
    if (::nf::testing::CorpusDir().empty())                                              \
      GTEST_SKIP() << "../shared/corpus is absent: corpus tests need the shared material"; \
  } while (0)

struct UdpDatagram {
  std::string src;  // source address text
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  std::vector<uint8_t> payload;
  int64_t time_us = 0;
};
// All unfragmented UDP datagrams in a pcap or pcapng file, parsed with nf::packet (every link
// type flowexport reads).
std::vector<UdpDatagram> ReadUdpDatagrams(const std::string& path, std::string* error = nullptr);

// One row of corpus/netflow/expected_totals.csv, keyed by column name.
using CsvRow = std::map<std::string, std::string>;
std::vector<CsvRow> ReadCsv(const std::string& path);

// Runs a shell command, returns its exit status and (optionally) its stdout.
int RunCommand(const std::string& command, std::string* out = nullptr);
// True when `tool` is on PATH.
bool HaveTool(const std::string& tool);

// The lines of `tshark -V` output that report a problem: a malformed packet, an expert error or
// warning, or a NetFlow/IPFIX data record whose template tshark has not seen. A clean decode
// has none; tests expect the result to be empty, so a failure prints the offending lines.
std::vector<std::string> TsharkProblems(absl::string_view tshark_verbose);

// A fresh temporary directory, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A free port on 127.0.0.1 (UDP and TCP), outside the ephemeral range; see the .cc for why.
uint16_t FreeUdpPort();
// Fills `out` with 127.0.0.1:port (or [::1]:port) and returns its length, for bind/sendto.
socklen_t LoopbackAddress(uint16_t port, bool v6, sockaddr_storage& out);
// Waits (at most `timeout_ms`) until some process holds UDP `port` on 127.0.0.1 (or ::1): a
// program under test has bound it. True when it has.
bool WaitUntilUdpBound(uint16_t port, bool v6 = false, int timeout_ms = 10'000);
// Polls `done` every 5 ms until it holds or `timeout_ms` has passed: true when it held. For
// state another thread reaches at some point (a counter, a closed connection).
bool WaitUntil(const std::function<bool()>& done, int timeout_ms = 5000);

// A self-signed certificate for CN=localhost with the names localhost and 127.0.0.1, made with
// the openssl tool: `dir`/`name`.pem and `dir`/`name`.key. False, with openssl's words in
// `error`, when it could not be made.
bool MakeSelfSignedCertificate(const std::string& dir, const std::string& name,
                               std::string* error);

// Path of a built binary in the build tree (e.g. "flowexport").
std::string BinaryPath(const std::string& name);

// True when something has bound UDP `port` on 127.0.0.1 (our own bind gets EADDRINUSE).
bool UdpPortInUse(uint16_t port);
// Waits (bounded) until no datagram is queued on any socket bound to UDP `port`
// (/proc/net/udp{,6} rx_queue), i.e. the receiver has read everything sent to it.
bool WaitForUdpDrained(uint16_t port, int timeout_ms);

// Receives every datagram sent to 127.0.0.1:port (or [::1]:port) on a background thread.
class UdpSink {
 public:
  UdpSink() = default;
  ~UdpSink();
  UdpSink(const UdpSink&) = delete;
  UdpSink& operator=(const UdpSink&) = delete;

  // Binds 127.0.0.1 (or ::1) on a free port with a large receive buffer and starts receiving.
  bool Open(std::string* error, bool ipv6 = false);
  uint16_t port() const { return port_; }
  // Waits until nothing more is queued, stops the thread, and returns the datagrams.
  std::vector<std::vector<uint8_t>> Finish();

 private:
  void Loop();
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<std::vector<uint8_t>> datagrams_;
};

// Writes datagrams as an Ethernet/IPv4/UDP pcap from 127.0.0.1:src_port to 127.0.0.1:dst_port
// (synthetic but valid headers), so tshark can decode what a sink received.
bool WriteDatagramPcap(const std::string& path, const std::vector<std::vector<uint8_t>>& datagrams,
                       uint16_t src_port, uint16_t dst_port, std::string* error);

// One captured frame: its time and bytes (caplen = wire length).
struct PcapFrame {
  int64_t time_us = 0;
  std::vector<uint8_t> bytes;
};
// Writes `frames` as a classic pcap of link type `dlt` (libpcap's own writer).
bool WritePcap(const std::string& path, const std::vector<PcapFrame>& frames, int dlt = 1,
               std::string* error = nullptr);

}  // namespace nf::testing

#endif  // NF_TESTS_SUPPORT_TEST_SUPPORT_H_
