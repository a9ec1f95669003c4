// Helpers for end-to-end tests that run the built binaries and real peer tools: child processes
// with bounded waits, a UDP sink that records export datagrams (and writes them as a pcap for
// tshark), a flat reader for the tools' --stats-json files, and loopback socket probes.
#ifndef NF_TESTS_E2E_E2E_SUPPORT_H_
#define NF_TESTS_E2E_E2E_SUPPORT_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace nf::testing {

// A child process whose stdout/stderr go to files. The destructor kills and reaps it, so a failed
// assertion never leaves a stray process behind.
class Child {
 public:
  Child() = default;
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // Starts argv[0] (a path or a name looked up on PATH). False when fork/exec fails.
  bool Start(const std::vector<std::string>& argv, const std::string& stdout_path,
             const std::string& stderr_path);
  bool Running();
  void Signal(int sig);
  // Exit status (128 + signal number when killed by a signal), or -1 if still running after
  // `timeout_ms` (bounded polling; the child is left running).
  int Wait(int timeout_ms);
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int status_ = -1;
};

// Runs argv to completion (killed after timeout_ms); returns the exit status as Child::Wait does,
// -1 on timeout or when it could not start.
int RunArgv(const std::vector<std::string>& argv, const std::string& stdout_path,
            const std::string& stderr_path, int timeout_ms);

// Shell-quotes a list of arguments for messages.
std::string JoinArgv(const std::vector<std::string>& argv);

std::string ReadFile(const std::string& path);

// A JSON document flattened to dotted paths ("a.b.0.c") of scalar values (numbers, strings,
// booleans as "true"/"false", null as "null"). Enough to read --stats-json output.
using FlatJson = std::map<std::string, std::string>;
bool ParseFlatJson(const std::string& text, FlatJson* out, std::string* error);
// A value under `key` as an unsigned integer.
std::optional<uint64_t> JsonU64(const FlatJson& json, const std::string& key);
// Sum of the unsigned integers whose path starts with `prefix` + "." (e.g. every drop reason).
uint64_t JsonSumUnder(const FlatJson& json, const std::string& prefix);
// All keys, one per line, for failure messages.
std::string JsonKeys(const FlatJson& json);

}  // namespace nf::testing

#endif  // NF_TESTS_E2E_E2E_SUPPORT_H_
