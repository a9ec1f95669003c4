#include "tests/e2e/netns_lab.h"

#include <unistd.h>

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "tests/support/test_support.h"

namespace nf::testing {

bool Sh(const std::string& command, std::string* out) {
  std::string text;
  const int rc = RunCommand(command + " 2>&1", &text);
  if (out != nullptr) absl::StrAppend(out, "$ ", command, "\n", text);
  return rc == 0;
}

bool WaitUntil(const std::string& command, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (RunCommand(command + " >/dev/null 2>&1") == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

Netns::Netns(const std::string& tag) : name_(absl::StrCat("nf-", tag, "-", getpid())) {
  ok_ = Sh("ip netns add " + name_);
}

Netns::~Netns() {
  if (ok_) Sh("ip netns del " + name_);
}

std::vector<std::string> Netns::Argv(std::vector<std::string> argv) const {
  argv.insert(argv.begin(), {"ip", "netns", "exec", name_});
  return argv;
}

bool CanUseNetns() {
  if (geteuid() != 0) return false;
  Netns probe("probe");
  return probe.ok();
}

std::string NetnsTestMissing(const std::vector<std::string>& tools,
                             const std::vector<std::string>& binaries) {
  if (!CanUseNetns()) {
    return absl::StrCat("needs root and permission for ip netns (euid ", geteuid(), ")");
  }
  for (const std::string& tool : tools) {
    if (!HaveTool(tool)) {
      return absl::StrCat(tool, " is not installed (scripts/setup-deps.sh installs it)");
    }
  }
  for (const std::string& binary : binaries) {
    if (access(BinaryPath(binary).c_str(), X_OK) != 0) {
      return absl::StrCat(BinaryPath(binary), " is not built yet");
    }
  }
  return "";
}

}  // namespace nf::testing
