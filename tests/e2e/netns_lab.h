// Network namespaces for the tests that need more than loopback (aggregate failover, the HA
// collector pair): each namespace is created by the test and removed with everything in it when
// the test ends, so nothing outside the test's own namespaces is touched.
#ifndef NF_TESTS_E2E_NETNS_LAB_H_
#define NF_TESTS_E2E_NETNS_LAB_H_

#include <string>
#include <vector>

namespace nf::testing {

// Runs a shell command; its output is appended to *out (for failure messages).
bool Sh(const std::string& command, std::string* out = nullptr);

// Polls `command` every 20 ms until it succeeds; false after `timeout_ms`.
bool WaitUntil(const std::string& command, int timeout_ms);

// A network namespace named nf-TAG-PID, removed (with every link in it) when the test ends.
class Netns {
 public:
  explicit Netns(const std::string& tag);
  ~Netns();
  Netns(const Netns&) = delete;
  Netns& operator=(const Netns&) = delete;
  bool ok() const { return ok_; }
  const std::string& name() const { return name_; }
  // `ip -n NS ARGS` and `ip netns exec NS COMMAND`, as shell text.
  std::string Ip(const std::string& args) const { return "ip -n " + name_ + " " + args; }
  std::string Exec(const std::string& command) const {
    return "ip netns exec " + name_ + " " + command;
  }
  // argv run inside the namespace.
  std::vector<std::string> Argv(std::vector<std::string> argv) const;

 private:
  std::string name_;
  bool ok_ = false;
};

// Root, and `ip netns add` works here.
bool CanUseNetns();

// Why a namespace test cannot run here, for GTEST_SKIP ("" when it can): not root or no
// ip netns, a tool missing from PATH (scripts/setup-deps.sh installs them), or one of the
// project's binaries not built yet.
std::string NetnsTestMissing(const std::vector<std::string>& tools,
                             const std::vector<std::string>& binaries);

}  // namespace nf::testing

#endif  // NF_TESTS_E2E_NETNS_LAB_H_
