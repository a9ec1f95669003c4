// ng_netflow setup mode: validation, golden output of every --emit kind, shellcheck of every
// generated script, and every generated batch executed against the netgraph model.
#include "ngnetflow/ng_setup.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "ngnetflow/ng_plan.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/ngnetflow/netgraph_model.h"
#include "tests/ngnetflow/ng_test_cases.h"
#include "tests/support/test_support.h"

namespace nf::ng {
namespace {

using ::nf::ng::model::Netgraph;
using ::nf::ng::model::NodeType;
using ::nf::ng::model::Traffic;
using ::nf::ng::testing::AllKinds;
using ::nf::ng::testing::Case;
using ::nf::ng::testing::GoldenCases;
using ::nf::ng::testing::GoldenName;
using ::nf::ng::testing::ParseArgs;
using ::testing::HasSubstr;

std::string GoldenDir() { return std::string(NF_SOURCE_DIR) + "/tests/ngnetflow/golden"; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string EmitOrDie(const SetupOptions& opts, EmitKind kind) {
  auto text = Emit(opts, kind);
  EXPECT_TRUE(text.ok()) << text.status();
  return text.ok() ? *text : std::string();
}

// Lines of `text` that are commands (no comments), as ngctl -f would execute them.
std::vector<std::string> CommandLines(const std::string& text) {
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (line[0] != '#') out.emplace_back(line);
  }
  return out;
}

// The batch a script feeds to ngctl: the lines between "cat <<'NGCTL'" and "NGCTL".
std::vector<std::string> EmbeddedBatch(const std::string& script) {
  std::vector<std::string> out;
  bool in = false;
  for (absl::string_view line : absl::StrSplit(script, '\n')) {
    if (line == "NGCTL") in = false;
    if (in) out.emplace_back(line);
    if (absl::EndsWith(line, "cat <<'NGCTL'")) in = true;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Validation

TEST(NgSetupValidate, AcceptsTheIssueCommand) {
  auto opts = ParseArgs({"-i", "igb0", "-c", "10.0.0.5:1234", "--emit", "bootstrap"});
  ASSERT_TRUE(opts.ok()) << opts.status();
  EXPECT_EQ(opts->emit, EmitKind::kBootstrap);
  EXPECT_EQ(opts->method, Method::kEther);
  EXPECT_EQ(opts->directions.at("igb0"), Direction::kIngress);
}

TEST(NgSetupValidate, RefusesNonEthernetForEtherMethodWithAdvice) {
  for (const char* iface : {"tun0", "gre1", "wg0", "ng0", "lo0", "ngeth0", "gif0", "ovpn0"}) {
    auto opts = ParseArgs({"-i", "igb0", "-i", iface, "-c", "10.0.0.5:1234"});
    ASSERT_FALSE(opts.ok()) << iface;
    EXPECT_THAT(opts.status().message(), HasSubstr("--method ipfw")) << iface;
    EXPECT_THAT(opts.status().message(), HasSubstr(iface));
    // The same interface is fine with the ipfw method.
    EXPECT_TRUE(ParseArgs({"--method", "ipfw", "-i", iface, "-c", "10.0.0.5:1234"}).ok()) << iface;
  }
  // Drivers that merely start like a refused one stay accepted (nge is Ethernet, ng is not).
  EXPECT_TRUE(ParseArgs({"-i", "nge0", "-i", "lagg0", "-i", "vlan10", "-c", "10.0.0.5:1234"}).ok());
}

TEST(NgSetupValidate, RefusesEverythingNgNetflowCannotDo) {
  struct Bad {
    std::vector<std::string> args;
    const char* message;
  };
  const std::vector<Bad> bad = {
      {{"-c", "10.0.0.5:1234"}, "at least one interface"},
      {{"-i", "igb0"}, "exactly one collector"},
      {{"-i", "igb0", "-c", "10.0.0.5:1", "-c", "10.0.0.6:1"}, "samplicate"},
      {{"-i", "igb0", "-c", "collector.example:2055"}, "literal IP"},
      {{"-i", "igb0", "-c", "10.0.0.5"}, "HOST:PORT"},
      {{"-i", "igb0", "-c", "10.0.0.5:0"}, "bad port"},
      {{"-i", "igb0", "-c", "[fe80::1]:2055"}, "link-local"},
      {{"-i", "igb0", "-c", "[::ffff:10.0.0.5]:2055"}, "IPv4-mapped"},
      {{"-i", "igb0", "-c", "10.0.0.5:2055", "--source", "2001:db8::1"}, "address families"},
      {{"-i", "igb0", "-i", "igb0", "-c", "10.0.0.5:2055"}, "twice"},
      {{"-i", "igb0.100", "-i", "igb0_100", "-c", "10.0.0.5:2055"}, "same ng_ether node"},
      {{"-i", "igb0;reboot", "-c", "10.0.0.5:2055"}, "contains ';'"},
      {{"-i", "igb0", "-c", "10.0.0.5:2055", "--active-timeout", "0"}, "active timeout 0"},
      {{"-i", "igb0", "-c", "10.0.0.5:2055", "--inactive-timeout", "-1"}, "inactive timeout"},
      {{"-i", "igb0", "-c", "10.0.0.5:2055", "--mtu", "64"}, "MTU 64"},
      {{"-i", "igb0", "-c", "10.0.0.5:2055", "--mtu", "20000"}, "MTU 20000"},
      {{"-i", "igb0", "-c", "10.0.0.5:2055", "--template-refresh-seconds", "70000"},
       "template refresh seconds"},
      {{"-i", "igb0", "-c", "10.0.0.5:2055", "--direction", "igb9=both"}, "not one of the"},
      {{"-i", "igb0", "-c", "10.0.0.5:2055", "--direction", "igb0=sideways"}, "sideways"},
      {{"-i", "igb0", "-c", "10.0.0.5:2055", "--method", "tee"}, "unknown --method"},
      {{"-i", "igb0", "-c", "10.0.0.5:2055", "--emit", "systemd"}, "unknown --emit"},
      {{"-i", "igb0", "-c", "10.0.0.5:2055", "--node-name", "net.flow"}, "--node-name"},
      {{"-i", "igb0", "-c", "10.0.0.5:2055", "--node-name", "ipfw"}, "ng_ipfw"},
      {{"-i", "igb0", "-c", "10.0.0.5:2055", "--node-name", "a_very_long_node_name_xyz"},
       "longer than"},
      {{"--method", "ipfw", "-i", "tun0", "-c", "10.0.0.5:2055", "--ipfw-rule", "65535"},
       "--ipfw-rule"},
      {{"--method", "ipfw", "-i", "tun0", "-c", "10.0.0.5:2055", "--ipfw-hook", "0"},
       "--ipfw-hook"},
  };
  for (const Bad& b : bad) {
    auto opts = ParseArgs(b.args);
    ASSERT_FALSE(opts.ok()) << absl::StrJoin(b.args, " ");
    EXPECT_THAT(opts.status().message(), HasSubstr(b.message)) << absl::StrJoin(b.args, " ");
  }
}

TEST(NgSetupValidate, DirectionsDefaultAndOverride) {
  auto opts = ParseArgs({"-i", "igb0", "-i", "igb1", "-i", "igb2", "-c", "10.0.0.5:2055",
                         "--direction", "both", "--direction", "igb2=ingress"});
  ASSERT_TRUE(opts.ok()) << opts.status();
  EXPECT_EQ(opts->directions.at("igb0"), Direction::kBoth);
  EXPECT_EQ(opts->directions.at("igb1"), Direction::kBoth);
  EXPECT_EQ(opts->directions.at("igb2"), Direction::kIngress);
}

TEST(NgSetupValidate, WarnsAboutSlowSettings) {
  auto opts = ParseArgs({"-i", "igb0", "-c", "10.0.0.5:2055", "--active-timeout", "1800",
                         "--template-refresh-seconds", "600", "--template-refresh-packets", "20"});
  ASSERT_TRUE(opts.ok());
  const std::vector<std::string> w = Warnings(*opts);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_THAT(w[0], HasSubstr("active timeout 1800"));
  EXPECT_THAT(w[1], HasSubstr("600 s"));
}

TEST(NgSetupValidate, EtherNodeNames) {
  EXPECT_EQ(EtherNodeName("igb0"), "igb0");
  EXPECT_EQ(EtherNodeName("igb0.100"), "igb0_100");
  EXPECT_EQ(EtherNodeName("vlan0.410"), "vlan0_410");
  EXPECT_EQ(EtherNodeName("em0:1"), "em0_1");
}

// ---------------------------------------------------------------------------------------
// Plan details that are pitfalls in the notes

TEST(NgSetupPlan, SeveralInterfacesShareOneNodeAndOneSocket) {
  auto opts = ParseArgs({"-i", "igb0", "-i", "igb1", "-i", "igb2",  "-i", "igb3",
                         "-i", "igb4", "-i", "igb5", "-i", "igb6",  "-i", "igb7",
                         "-i", "igb8", "-i", "igb9", "-i", "igb10", "-c", "10.0.0.5:2055"});
  ASSERT_TRUE(opts.ok()) << opts.status();
  auto plan = BuildPlan(*opts);
  ASSERT_TRUE(plan.ok());
  const std::vector<std::string> cmds = SetupCommands(*plan);
  int mkpeer_netflow = 0, mkpeer_ksocket = 0;
  for (const std::string& c : cmds) {
    mkpeer_netflow += absl::StartsWith(c, "mkpeer ") && absl::StrContains(c, " netflow ");
    mkpeer_ksocket += absl::StrContains(c, " ksocket ");
  }
  EXPECT_EQ(mkpeer_netflow, 1);
  EXPECT_EQ(mkpeer_ksocket, 1);
  // Hook numbers are plain decimal: iface10, never iface010 / iface01.
  EXPECT_THAT(cmds, ::testing::Contains("connect igb10: netflow: lower iface10"));
  EXPECT_THAT(cmds, ::testing::Contains("connect igb10: netflow: upper out10"));
  const std::regex leading_zero("(iface|out)0[0-9]");
  for (const std::string& c : cmds) EXPECT_FALSE(std::regex_search(c, leading_zero)) << c;
}

TEST(NgSetupPlan, BothDirectionsAreCountedOnce) {
  auto opts =
      ParseArgs({"-i", "igb0", "-i", "igb1", "-c", "10.0.0.5:2055", "--direction", "igb1=both"});
  ASSERT_TRUE(opts.ok());
  auto plan = BuildPlan(*opts);
  ASSERT_TRUE(plan.ok());
  // THISONCE on both sides (it only works when set on the ingress and the egress hook).
  EXPECT_EQ(plan->interfaces[0].conf, kConfIngress | kConfThisOnce);
  EXPECT_EQ(plan->interfaces[1].conf, kConfIngress | kConfEgress | kConfThisOnce);
  // Ingress only everywhere needs no tag.
  auto plain = ParseArgs({"-i", "igb0", "-i", "igb1", "-c", "10.0.0.5:2055"});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(BuildPlan(*plain)->interfaces[1].conf, kConfIngress);
}

TEST(NgSetupPlan, VlanWithItsParentIsCountedOnce) {
  // A tagged frame passes igb0's ether node and then igb0.100's.
  auto both = ParseArgs({"-i", "igb0", "-i", "igb0.100", "-c", "10.0.0.5:2055"});
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(BuildPlan(*both)->interfaces[0].conf, kConfIngress | kConfThisOnce);
  EXPECT_EQ(BuildPlan(*both)->interfaces[1].conf, kConfIngress | kConfThisOnce);
  auto vlan_only = ParseArgs({"-i", "igb1", "-i", "igb0.100", "-c", "10.0.0.5:2055"});
  ASSERT_TRUE(vlan_only.ok());
  EXPECT_EQ(BuildPlan(*vlan_only)->interfaces[1].conf, kConfIngress);
}

TEST(NgSetupPlan, IpfwRulesAreDirectionalAndCountOnce) {
  auto opts = ParseArgs({"--method", "ipfw", "-i", "tun0", "-i", "wg0", "-i", "igb0", "-c",
                         "10.0.0.5:2055", "--direction", "wg0=both", "--direction", "igb0=egress"});
  ASSERT_TRUE(opts.ok());
  auto plan = BuildPlan(*opts);
  ASSERT_TRUE(plan.ok());
  EXPECT_THAT(
      plan->ipfw_rules,
      ::testing::ElementsAre(
          "ngtee 9995 ip from any to any in via tun0", "ngtee 9995 ip from any to any in via wg0",
          "ngtee 9995 ip from any to any out via wg0 not recv tun0 not recv wg0",
          "ngtee 9995 ip from any to any out via igb0 not recv tun0 not recv wg0"));
  const std::vector<std::string> cmds = SetupCommands(*plan);
  EXPECT_THAT(cmds, ::testing::Contains("msg netflow: setdlt { iface=0 dlt=12 }"));
  for (const std::string& c : cmds) {
    EXPECT_FALSE(absl::StrContains(c, "setifindex")) << "ipfw feeds every interface into iface0";
  }
  EXPECT_THAT(TeardownCommands(*plan), ::testing::ElementsAre("shutdown netflow:"));
}

TEST(NgSetupPlan, Ipv6CollectorUsesInet6SocketAndGenericSockaddr) {
  auto opts = ParseArgs({"-i", "igb0", "-c", "[2001:db8::5]:2055", "--source", "2001:db8::1"});
  ASSERT_TRUE(opts.ok()) << opts.status();
  auto plan = BuildPlan(*opts);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->ksocket_hook, "inet6/dgram/17");
  EXPECT_EQ(plan->connect_arg,
            "{ len=28 family=28 data=[ 8 7 0 0 0 0 32 1 13 184 0 0 0 0 0 0 0 0 0 0 0 5 0 0 0 0 "
            "] }");
  EXPECT_EQ(plan->bind_arg,
            "{ len=28 family=28 data=[ 0 0 0 0 0 0 32 1 13 184 0 0 0 0 0 0 0 0 0 0 0 1 0 0 0 0 "
            "] }");
}

TEST(NgSetupPlan, EveryStructGivesEveryField) {
  for (const Case& c : GoldenCases()) {
    auto opts = ParseArgs(c.args);
    ASSERT_TRUE(opts.ok()) << c.name << ": " << opts.status();
    for (const std::string& cmd : SetupCommands(*BuildPlan(*opts))) {
      if (absl::StrContains(cmd, "settimeouts")) {
        EXPECT_THAT(cmd, ::testing::MatchesRegex(".*\\{ inactive=[0-9]+ active=[0-9]+ \\}"));
      }
      if (absl::StrContains(cmd, "settemplate")) {
        EXPECT_THAT(cmd, ::testing::MatchesRegex(".*\\{ time=[0-9]+ packets=[0-9]+ \\}"));
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// Golden files, byte for byte. NF_REGEN_GOLDEN=1 rewrites them.

TEST(NgSetupGolden, EveryKindOfEveryCase) {
  const bool regen = std::getenv("NF_REGEN_GOLDEN") != nullptr &&
                     std::string(std::getenv("NF_REGEN_GOLDEN")) == "1";
  for (const Case& c : GoldenCases()) {
    auto opts = ParseArgs(c.args);
    ASSERT_TRUE(opts.ok()) << c.name << ": " << opts.status();
    for (EmitKind kind : AllKinds()) {
      const std::string text = EmitOrDie(*opts, kind);
      const std::string path = absl::StrCat(GoldenDir(), "/", GoldenName(c, kind));
      if (regen) {
        std::filesystem::create_directories(GoldenDir());
        std::ofstream(path, std::ios::binary) << text;
        continue;
      }
      ASSERT_TRUE(std::filesystem::exists(path))
          << path << " is missing; run the test with NF_REGEN_GOLDEN=1 to create it";
      EXPECT_EQ(text, ReadFile(path))
          << "output differs from " << path << " (NF_REGEN_GOLDEN=1 rewrites it after review)";
    }
  }
  if (regen) GTEST_SKIP() << "golden files rewritten under " << GoldenDir();
}

TEST(NgSetupGolden, AcceptanceBootstrapIsTheSafeFormOfTheIssueRecipe) {
  auto opts = ParseArgs({"-i", "igb0", "-c", "10.0.0.5:1234", "--emit", "bootstrap"});
  ASSERT_TRUE(opts.ok());
  std::ostringstream out, err;
  ASSERT_EQ(RunSetup(*opts, out, err), 0) << err.str();
  const std::string script = out.str();
  EXPECT_TRUE(absl::StartsWith(script, "#!/bin/sh\n"));
  EXPECT_THAT(script, HasSubstr("set -eu\n"));
  EXPECT_THAT(script, HasSubstr("for m in netgraph ng_socket ng_ether ng_ksocket ng_netflow; do"));
  // The issue's recipe, line by line, plus the settings it forgot.
  EXPECT_THAT(
      EmbeddedBatch(script),
      ::testing::ElementsAre(
          "mkpeer igb0: netflow lower iface0", "name igb0:lower netflow",
          "connect igb0: netflow: upper out0", "msg netflow: setconfig { iface=0 conf=1 }",
          "msg netflow: settimeouts { inactive=15 active=120 }",
          "msg netflow: settemplate { time=60 packets=0 }", "msg netflow: setmtu { mtu=1500 }",
          "mkpeer netflow: ksocket export9 inet/dgram/udp", "name netflow:export9 netflow_export",
          "msg netflow:export9 connect inet/10.0.0.5:1234"));
  EXPECT_THAT(script, HasSubstr("trap on_exit EXIT"));
  EXPECT_THAT(script, HasSubstr("ngctl msg \"$NODE:\" info"));
  EXPECT_THAT(script, HasSubstr("ngctl show \"$NODE:\""));
}

TEST(NgSetupRun, ApplyFailsClearlyOffFreeBsd) {
#if defined(__FreeBSD__)
  GTEST_SKIP() << "this test checks the non-FreeBSD refusal";
#else
  auto opts = ParseArgs({"-i", "igb0", "-c", "10.0.0.5:1234", "--apply"});
  ASSERT_TRUE(opts.ok());
  std::ostringstream out, err;
  EXPECT_EQ(RunSetup(*opts, out, err), 1);
  EXPECT_THAT(err.str(), HasSubstr("only works on FreeBSD"));
  EXPECT_EQ(out.str(), "");
#endif
}

TEST(NgSetupRun, UsageErrorsExitTwo) {
  SetupOptions opts;
  opts.interfaces = {"tun0"};
  opts.collectors = {"10.0.0.5:1234"};
  std::ostringstream out, err;
  EXPECT_EQ(RunSetup(opts, out, err), 2);
  EXPECT_THAT(err.str(), HasSubstr("--method ipfw"));
  EXPECT_EQ(out.str(), "");
}

TEST(NgSetupRun, PrintsTheChosenKind) {
  auto opts = ParseArgs({"-i", "igb0", "-c", "10.0.0.5:1234", "--emit", "teardown"});
  ASSERT_TRUE(opts.ok());
  std::ostringstream out, err;
  ASSERT_EQ(RunSetup(*opts, out, err), 0);
  EXPECT_EQ(CommandLines(out.str()), std::vector<std::string>{"shutdown netflow:"});
}

// ---------------------------------------------------------------------------------------
// shellcheck -s sh on every generated script

TEST(NgSetupShellcheck, EveryScriptIsClean) {
  if (!nf::testing::HaveTool("shellcheck")) {
    GTEST_SKIP() << "shellcheck is not installed (Debian package shellcheck, listed in "
                    "scripts/setup-deps.sh)";
  }
  nf::testing::TempDir dir;
  for (const Case& c : GoldenCases()) {
    auto opts = ParseArgs(c.args);
    ASSERT_TRUE(opts.ok());
    for (EmitKind kind : {EmitKind::kBootstrap, EmitKind::kRcd}) {
      const std::string path = dir.File(GoldenName(c, kind));
      std::ofstream(path, std::ios::binary) << EmitOrDie(*opts, kind);
      std::string out;
      const int rc = nf::testing::RunCommand("shellcheck -s sh '" + path + "' 2>&1", &out);
      EXPECT_EQ(rc, 0) << GoldenName(c, kind) << ":\n" << out;
    }
  }
}

// ---------------------------------------------------------------------------------------
// Every batch against the netgraph model

Netgraph HostFor(const Case& c, const SetupOptions& opts, const Plan& plan) {
  Netgraph g;
  g.ipfw_preloaded = true;  // ipfw hosts run their firewall already
  for (const std::string& i : opts.interfaces) {
    const bool ether =
        std::find(c.non_ethernet.begin(), c.non_ethernet.end(), i) == c.non_ethernet.end();
    g.AddInterface(i, ether);
  }
  g.AddInterface("igb99", true);  // an interface the setup must not touch
  if (plan.method == Method::kIpfw) g.LoadModule("ipfw");
  for (const std::string& m : plan.modules) g.LoadModule(m);
  return g;
}

TEST(NgSetupModel, SetupAccountsEveryInterfaceAndTeardownRestoresThem) {
  for (const Case& c : GoldenCases()) {
    SCOPED_TRACE(c.name);
    auto opts = ParseArgs(c.args);
    ASSERT_TRUE(opts.ok());
    auto plan = BuildPlan(*opts);
    ASSERT_TRUE(plan.ok());
    Netgraph g = HostFor(c, *opts, *plan);

    const std::string batch = EmitOrDie(*opts, EmitKind::kNgctl);
    ASSERT_TRUE(g.ExecuteBatch(batch).ok()) << g.ExecuteBatch(batch);
    // The bootstrap runs exactly the same commands.
    EXPECT_EQ(EmbeddedBatch(EmitOrDie(*opts, EmitKind::kBootstrap)), CommandLines(batch));

    EXPECT_TRUE(g.CheckExporting(opts->node_name).ok()) << g.CheckExporting(opts->node_name);
    EXPECT_EQ(g.CountNodes(NodeType::kNetflow), 1);
    EXPECT_EQ(g.CountNodes(NodeType::kKsocket), 1);
    const model::Node* nf = g.FindNode(opts->node_name);
    ASSERT_NE(nf, nullptr);
    EXPECT_EQ(nf->inactive, opts->inactive_timeout_s);
    EXPECT_EQ(nf->active, opts->active_timeout_s);
    EXPECT_EQ(nf->template_time, opts->template_refresh_s);
    EXPECT_EQ(nf->template_packets, opts->template_refresh_packets);
    EXPECT_EQ(nf->mtu, opts->mtu);
    const model::Node* ks = g.NodeById(nf->hooks.at("export9").node);
    ASSERT_NE(ks, nullptr);
    const std::string expected_peer =
        absl::StrCat(plan->collector.ToString(), " port ", plan->collector_port);
    EXPECT_EQ(ks->connected_to, expected_peer);
    if (plan->has_source) {
      EXPECT_EQ(ks->bound_to, absl::StrCat(plan->source.ToString(), " port 0"));
    }

    if (plan->method == Method::kEther) {
      for (const InterfacePlan& ip : plan->interfaces) {
        std::string why;
        EXPECT_EQ(g.InterfaceTraffic(ip.name, &why), Traffic::kAccounted) << ip.name << ": " << why;
        EXPECT_EQ(nf->conf.at(ip.hook), ip.conf) << ip.name;
      }
    } else {
      const model::Node* ipfw = g.FindNode("ipfw");
      ASSERT_NE(ipfw, nullptr);
      const auto& hook = ipfw->hooks.at(absl::StrCat(plan->ipfw_hook));
      EXPECT_EQ(hook.node, nf->id);
      EXPECT_EQ(hook.hook, "iface0");
      EXPECT_EQ(nf->dlt.at(0), 12);
      EXPECT_TRUE(nf->ifindex.empty());
      for (const std::string& r : plan->ipfw_rules) {
        std::vector<std::string> args = {"-q", "add", absl::StrCat(plan->ipfw_rule)};
        for (absl::string_view w : absl::StrSplit(r, ' ')) args.emplace_back(w);
        ASSERT_TRUE(g.Ipfw(args).ok());
      }
      for (const model::IpfwRule& r : g.ipfw_rules()) {
        EXPECT_TRUE(absl::StrContains(r.body, " in via ") || absl::StrContains(r.body, " out via "))
            << r.body;
      }
      ASSERT_TRUE(g.Ipfw({"-q", "delete", absl::StrCat(plan->ipfw_rule)}).ok());
    }
    EXPECT_EQ(g.InterfaceTraffic("igb99"), Traffic::kPasses);

    ASSERT_TRUE(g.ExecuteBatch(EmitOrDie(*opts, EmitKind::kTeardown)).ok());
    EXPECT_EQ(g.CountNodes(NodeType::kNetflow), 0);
    EXPECT_EQ(g.CountNodes(NodeType::kKsocket), 0);
    for (const std::string& i : opts->interfaces) {
      EXPECT_EQ(g.InterfaceTraffic(i), Traffic::kPasses) << i;
    }
    if (plan->method == Method::kIpfw) {
      EXPECT_NE(g.FindNode("ipfw"), nullptr) << "the ipfw: node must survive the teardown";
      EXPECT_TRUE(g.ipfw_rules().empty());
    }
    EXPECT_THAT(g.violations(), ::testing::IsEmpty());
  }
}

TEST(NgSetupModel, NodeNameOfASecondSetupIsRefusedByNetgraph) {
  // Pitfall 4: one fixed name per interface collides; the generator uses one node instead,
  // and a second run of the same batch fails on the name (the bootstrap refuses earlier).
  auto opts = ParseArgs({"-i", "igb0", "-c", "10.0.0.5:1234"});
  ASSERT_TRUE(opts.ok());
  Netgraph g;
  g.AddInterface("igb0", true);
  g.AddInterface("igb1", true);
  g.LoadModule("ng_ether");
  ASSERT_TRUE(g.ExecuteBatch(EmitOrDie(*opts, EmitKind::kNgctl)).ok());
  EXPECT_FALSE(g.Execute("mkpeer igb1: netflow lower iface0").ok() &&
               g.Execute("name igb1:lower netflow").ok());
}

}  // namespace
}  // namespace nf::ng
