// fake_freebsd: ngctl, kldstat, kldload, ifconfig, ipfw, uname and id of a simulated FreeBSD
// host, selected by argv[0] (see fake_host.h). Test-only; never installed.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tests/ngnetflow/fake_host.h"
#include "tests/ngnetflow/netgraph_model.h"

namespace {

using nf::ng::model::AppendJournal;
using nf::ng::model::LoadHost;
using nf::ng::model::Netgraph;

std::string state_dir;

bool Exists(const std::string& path) { return std::filesystem::exists(path); }

std::string ReadAll(std::istream& in) {
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Returns true when `line` is the injected failure (consumed once).
bool InjectedFailure(const std::string& line) {
  const std::string fail = state_dir + "/fail";
  if (!Exists(fail)) return false;
  std::ifstream in(fail);
  std::string want;
  std::getline(in, want);
  if (std::string(absl::StripAsciiWhitespace(line)) != want) return false;
  std::filesystem::rename(fail, state_dir + "/fail.used");
  return true;
}

// One ngctl command; returns 0 or 1 and prints like ngctl.
int NgctlOne(Netgraph& g, const std::string& line, int line_no) {
  const bool silent = Exists(state_dir + "/fail_silent");
  std::string reply;
  absl::Status s;
  if (InjectedFailure(line)) {
    if (silent) return 0;
    s = absl::InvalidArgumentError("injected failure");
  } else {
    s = g.Execute(line, &reply);
  }
  if (!s.ok()) {
    if (line_no > 0) {
      std::cerr << "ngctl: line " << line_no << ": " << s.message() << "\n";
    } else {
      std::cerr << "ngctl: " << s.message() << "\n";
    }
    return 1;
  }
  std::cout << reply;
  const std::string verb = line.substr(0, line.find(' '));
  if (verb == "mkpeer" || verb == "connect" || verb == "name" || verb == "shutdown" ||
      verb == "rmhook" || verb == "msg") {
    AppendJournal(state_dir, absl::StrCat("ngctl ", absl::StripAsciiWhitespace(line)));
  }
  return 0;
}

int Ngctl(Netgraph& g, const std::vector<std::string>& args) {
  if (args.empty()) return 1;
  if (args[0] == "-f") {
    if (args.size() != 2) return 1;
    std::string text;
    if (args[1] == "-") {
      text = ReadAll(std::cin);
    } else {
      std::ifstream in(args[1]);
      text = ReadAll(in);
    }
    const bool goes_on = Exists(state_dir + "/ngctl_goes_on");
    int rc = 0;
    int line_no = 0;
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      ++line_no;
      if (line.empty() || line[0] == '#') continue;
      if (absl::StripAsciiWhitespace(line).empty()) continue;
      if (NgctlOne(g, std::string(line), line_no) != 0) {
        if (!goes_on) {
          std::cerr << "ngctl: line " << line_no << ": error in file\n";
          return 71;  // EX_OSERR
        }
        rc = 1;
      }
    }
    return rc;
  }
  return NgctlOne(g, absl::StrJoin(args, " "), 0);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string tool = std::filesystem::path(argv[0]).filename().string();
  std::vector<std::string> args(argv + 1, argv + argc);
  const char* dir = std::getenv("NF_FAKE_STATE");
  if (dir == nullptr) {
    std::cerr << tool << " (fake): NF_FAKE_STATE is not set\n";
    return 99;
  }
  state_dir = dir;
  std::ofstream(state_dir + "/log", std::ios::app)
      << tool << " " << absl::StrJoin(args, " ") << "\n";
  if (tool == "uname") {
    std::cout << "FreeBSD\n";
    return 0;
  }
  if (tool == "id") {
    std::cout << "0\n";
    return 0;
  }
  auto host = LoadHost(state_dir);
  if (!host.ok()) {
    std::cerr << tool << " (fake): " << host.status().message() << "\n";
    return 98;
  }
  Netgraph& g = *host;
  if (tool == "kldstat") {
    // kldstat -q -m MODULE
    if (args.size() == 3 && args[0] == "-q" && args[1] == "-m")
      return g.ModuleLoaded(args[2]) ? 0 : 1;
    return 1;
  }
  if (tool == "kldload") {
    if (args.size() != 1) return 1;
    AppendJournal(state_dir, absl::StrCat("module ", args[0]));
    return 0;
  }
  if (tool == "ifconfig") {
    if (args.size() == 1 && g.HasInterface(args[0])) {
      std::cout << args[0] << ": flags=8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> mtu 1500\n";
      return 0;
    }
    std::cerr << "ifconfig: interface " << (args.empty() ? "" : args[0]) << " does not exist\n";
    return 1;
  }
  if (tool == "ngctl") return Ngctl(g, args);
  if (tool == "ipfw") {
    std::string reply;
    absl::Status s = g.Ipfw(args, &reply);
    if (!s.ok()) {
      std::cerr << "ipfw: " << s.message() << "\n";
      return 1;
    }
    std::cout << reply;
    std::vector<std::string> real;
    for (const std::string& a : args) {
      if (a != "-q") real.push_back(a);
    }
    if (!real.empty() && (real[0] == "add" || real[0] == "delete")) {
      AppendJournal(state_dir, absl::StrCat("ipfw ", absl::StrJoin(real, " ")));
    }
    return 0;
  }
  std::cerr << "fake_freebsd: unknown tool " << tool << "\n";
  return 97;
}
