// Journal replay for the simulated FreeBSD host (see fake_host.h).
#include "tests/ngnetflow/fake_host.h"

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace nf::ng::model {

absl::StatusOr<Netgraph> LoadHost(const std::string& state_dir) {
  Netgraph g;
  std::ifstream in(state_dir + "/journal");
  if (!in) return absl::NotFoundError(absl::StrCat("no journal in ", state_dir));
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    absl::string_view rest = line;
    if (absl::ConsumePrefix(&rest, "iface ")) {
      std::vector<std::string> w = absl::StrSplit(rest, ' ');
      if (w.size() != 2) return absl::DataLossError(absl::StrCat("journal line ", line_no));
      g.AddInterface(w[0], w[1] == "ether");
    } else if (rest == "preload ipfw") {
      g.ipfw_preloaded = true;
      g.LoadModule("ipfw");
    } else if (absl::ConsumePrefix(&rest, "module ")) {
      g.LoadModule(std::string(rest));
    } else if (absl::ConsumePrefix(&rest, "ngctl ")) {
      absl::Status s = g.Execute(rest);
      if (!s.ok())
        return absl::DataLossError(absl::StrCat("journal line ", line_no, ": ", s.message()));
    } else if (absl::ConsumePrefix(&rest, "ipfw ")) {
      std::vector<std::string> args = absl::StrSplit(rest, ' ', absl::SkipEmpty());
      absl::Status s = g.Ipfw(args);
      if (!s.ok())
        return absl::DataLossError(absl::StrCat("journal line ", line_no, ": ", s.message()));
    } else if (!line.empty()) {
      return absl::DataLossError(absl::StrCat("unknown journal line ", line_no, ": ", line));
    }
  }
  return g;
}

void AppendJournal(const std::string& state_dir, const std::string& line) {
  std::ofstream(state_dir + "/journal", std::ios::app) << line << "\n";
}

}  // namespace nf::ng::model
