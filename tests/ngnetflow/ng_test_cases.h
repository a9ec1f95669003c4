// Shared fixtures of the ng_netflow setup tests: the command lines the golden files are made
// from, and a parser that sets SetupOptions the way flowexport's main will (its own -i, -c,
// timeout/mtu/template flags plus AddCliOptions).
#ifndef NF_TESTS_NGNETFLOW_NG_TEST_CASES_H_
#define NF_TESTS_NGNETFLOW_NG_TEST_CASES_H_

#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "ngnetflow/ng_setup.h"

namespace nf::ng::testing {

struct Case {
  const char* name;
  std::vector<std::string> args;
  // Interfaces of the simulated host that are not Ethernet (no ng_ether node).
  std::vector<std::string> non_ethernet;
};

inline const std::vector<Case>& GoldenCases() {
  static const auto* cases = new std::vector<Case>{
      // The command the README and --help show.
      {"ether_one", {"-i", "igb0", "-c", "10.0.0.5:1234"}, {}},
      {"ether_multi",
       {"-i", "igb0", "-i", "igb1", "-i", "igb2", "-c", "10.0.0.5:2055", "--direction", "igb1=both",
        "--source", "10.0.0.1", "--active-timeout", "300", "--template-refresh-seconds", "30",
        "--template-refresh-packets", "20"},
       {}},
      {"ether_vlan_v6",
       {"-i",
        "vlan0.410",
        "-i",
        "igb0.100",
        "-i",
        "em0",
        "-c",
        "[2001:db8::5]:2055",
        "--source",
        "2001:db8::1",
        "--direction",
        "egress",
        "--direction",
        "em0=ingress",
        "--mtu",
        "1400",
        "--node-name",
        "nf_main",
        "--service-name",
        "nf_main"},
       {}},
      {"ipfw_tun",
       {"--method", "ipfw", "-i", "tun0", "-i", "wg0", "-i", "igb0", "-c", "192.0.2.10:9995",
        "--direction", "wg0=both", "--direction", "igb0=egress", "--ipfw-rule", "500"},
       {"tun0", "wg0"}},
      {"ipfw_v6",
       {"--method", "ipfw", "-i", "gre0", "-c", "[2001:db8:0:1::99]:4739", "--ipfw-hook", "100",
        "--replace"},
       {"gre0"}},
  };
  return *cases;
}

inline const std::vector<EmitKind>& AllKinds() {
  static const auto* kinds =
      new std::vector<EmitKind>{EmitKind::kNgctl, EmitKind::kBootstrap, EmitKind::kRcd,
                                EmitKind::kLoaderConf, EmitKind::kTeardown};
  return *kinds;
}

inline std::string GoldenName(const Case& c, EmitKind kind) {
  switch (kind) {
    case EmitKind::kNgctl:
      return absl::StrCat(c.name, ".ngctl");
    case EmitKind::kBootstrap:
      return absl::StrCat(c.name, ".bootstrap.sh");
    case EmitKind::kRcd:
      return absl::StrCat(c.name, ".rc.d");
    case EmitKind::kLoaderConf:
      return absl::StrCat(c.name, ".loader.conf");
    case EmitKind::kTeardown:
      return absl::StrCat(c.name, ".teardown");
  }
  return c.name;
}

// Parses `args` like flowexport --ng-netflow would and runs Validate().
inline absl::StatusOr<SetupOptions> ParseArgs(const std::vector<std::string>& args) {
  SetupOptions opts;
  CLI::App app("flowexport (test)");
  app.add_option("-i", opts.interfaces);
  app.add_option("-c", opts.collectors);
  app.add_option("--active-timeout", opts.active_timeout_s);
  app.add_option("--inactive-timeout", opts.inactive_timeout_s);
  app.add_option("--mtu", opts.mtu);
  app.add_option("--template-refresh-seconds", opts.template_refresh_s);
  app.add_option("--template-refresh-packets", opts.template_refresh_packets);
  AddCliOptions(app, opts);
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them reversed
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return absl::InvalidArgumentError(absl::StrCat("command line: ", e.what()));
  }
  absl::Status s = Validate(opts);
  if (!s.ok()) return s;
  return opts;
}

}  // namespace nf::ng::testing

#endif  // NF_TESTS_NGNETFLOW_NG_TEST_CASES_H_
