// Helpers for the robustness tests: NetFlow v9 datagrams with known content, a pcap writer
// for export captures with chosen timestamps, a strict check that a CSV file is complete, and
// child processes with resource limits, bounded waits and captured stderr.
#ifndef NF_TESTS_ROBUSTNESS_ROBUSTNESS_SUPPORT_H_
#define NF_TESTS_ROBUSTNESS_ROBUSTNESS_SUPPORT_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace nf::testing {

// A v9 datagram from `source_id`: optionally the template `template_id` (IPv4 src, dst,
// packets, bytes), then `records` data records 10.0.0.1 -> 10.(n>>16).(n>>8).n with
// n = first_host + i, `packets` packets and `bytes` bytes each.
struct V9Spec {
  uint32_t source_id = 1000;
  uint16_t template_id = 256;
  uint32_t sequence = 0;
  uint32_t unix_secs = 1'700'000'000;
  bool with_template = true;
  int records = 5;
  uint32_t first_host = 2;
  uint32_t packets = 1;
  uint32_t bytes = 40;
};
std::vector<uint8_t> V9Datagram(const V9Spec& spec);

// A pcap (Ethernet, IPv4, UDP 192.0.2.1:4000 -> 192.0.2.2:port) with one frame per datagram.
struct TimedDatagram {
  int64_t time_us = 0;
  std::vector<uint8_t> payload;
  uint32_t src_ip = 0xC0000201u;  // the exporter's address (192.0.2.1)
};
bool WriteExportPcap(const std::string& path, const std::vector<TimedDatagram>& datagrams,
                     uint16_t port = 2055);

// Checks that `path` is a complete CSV file: non-empty, ends with a newline, the first line is
// a header starting with `header_prefix`, every row has the header's number of fields.
// Returns the number of data rows, or -1 (with the reason in *why).
long CompleteCsvRows(const std::string& path, const std::string& header_prefix,
                     std::string* why);

// Names of the entries of `dir` (not . and ..), sorted.
std::vector<std::string> ListDir(const std::string& dir);

// A child process: argv[0] is a path. Limits and signals applied in the child before exec.
struct ChildOptions {
  int64_t file_size_limit = -1;  // RLIMIT_FSIZE in bytes (SIGXFSZ ignored: writes get EFBIG)
  std::string stderr_path;       // stderr (and stdout) go here when set
};
pid_t Spawn(const std::vector<std::string>& argv, const ChildOptions& options = {});
// Waits at most `timeout_ms` (then SIGKILLs). Returns the exit status as waitpid gives it, or
// -1 when the child had to be killed.
int WaitBounded(pid_t pid, int timeout_ms);
// Exit code of a status from WaitBounded (-1 when it did not exit normally).
int ExitCode(int status);

std::string ReadWholeFile(const std::string& path);
// The number after "\"key\":" in a JSON text (first occurrence at or after `from`), or -1.
int64_t JsonNumber(const std::string& json, const std::string& key, size_t from = 0);

// True when the process may create network namespaces and mount file systems (root in a
// privileged container or on a host).
bool CanUseNetns();

}  // namespace nf::testing

#endif  // NF_TESTS_ROBUSTNESS_ROBUSTNESS_SUPPORT_H_
