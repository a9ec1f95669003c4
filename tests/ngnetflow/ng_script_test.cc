// Runs the generated bootstrap and rc.d scripts with /bin/sh against a simulated FreeBSD host
// (fake_freebsd + the netgraph model, see fake_host.h): the graph they build, the checks
// they make before touching anything, and the rollback after a failure at every single line
// of the batch, loud or silent.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "ngnetflow/ng_plan.h"
#include "ngnetflow/ng_setup.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/ngnetflow/fake_host.h"
#include "tests/ngnetflow/netgraph_model.h"
#include "tests/ngnetflow/ng_test_cases.h"
#include "tests/support/test_support.h"

namespace nf::ng {
namespace {

using ::nf::ng::model::LoadHost;
using ::nf::ng::model::Netgraph;
using ::nf::ng::model::NodeType;
using ::nf::ng::model::Traffic;
using ::nf::ng::testing::Case;
using ::nf::ng::testing::GoldenCases;
using ::nf::ng::testing::ParseArgs;
using ::testing::HasSubstr;

const Case& FindCase(absl::string_view name) {
  for (const Case& c : GoldenCases()) {
    if (c.name == name) return c;
  }
  static const Case none{"none", {}, {}};
  ADD_FAILURE() << "no case " << name;
  return none;
}

// rc.subr stand-in: just enough of run_rc_command for start/stop/status, plus "plan", which
// prints the batch the script computed from its knobs.
constexpr char kFakeRcSubr[] = R"SH(
warn() { echo "${name}: WARNING: $*" >&2; }
err() { _c=$1; shift; echo "${name}: ERROR: $*" >&2; exit "$_c"; }
load_rc_config() { :; }
run_rc_command() {
	case $1 in
	start)
		if [ -n "${start_precmd:-}" ]; then eval "$start_precmd" || return 1; fi
		for _m in $required_modules; do kldstat -q -m "$_m" || kldload "$_m" || return 1; done
		eval "$start_cmd"
		;;
	stop) eval "$stop_cmd" ;;
	status) eval "$status_cmd" ;;
	plan)
		eval "${name}_plan" || return 1
		printf '%s\n' "$_nf_batch"
		printf '%s\n' "${_nf_rules:-}" | sed '/^$/d; s/^/RULE /'
		;;
	*) return 1 ;;
	esac
}
)SH";

class FakeFreeBsd {
 public:
  // `non_ethernet` interfaces get no ng_ether node; `ipfw_loaded` says whether the host's
  // firewall has loaded ipfw.ko already.
  FakeFreeBsd(const std::vector<std::string>& ether, const std::vector<std::string>& non_ethernet,
              bool ipfw_loaded) {
    std::filesystem::create_directories(stub_dir());
    std::filesystem::create_directories(state_dir());
    for (const char* tool : {"ngctl", "kldstat", "kldload", "ifconfig", "ipfw", "uname", "id"}) {
      std::filesystem::create_symlink(NF_FAKE_FREEBSD, stub_dir() + "/" + tool);
    }
    std::ofstream j(state_dir() + "/journal");
    for (const std::string& i : ether) j << "iface " << i << " ether\n";
    for (const std::string& i : non_ethernet) j << "iface " << i << " other\n";
    j << "iface igb99 ether\n";  // never part of a setup: must be left alone
    if (ipfw_loaded) j << "preload ipfw\n";
    std::ofstream(dir_.File("rc.subr")) << kFakeRcSubr;
  }

  std::string stub_dir() const { return dir_.File("bin"); }
  std::string state_dir() const { return dir_.File("state"); }
  std::string File(const std::string& name) const { return dir_.File(name); }

  void Journal(const std::string& line) { model::AppendJournal(state_dir(), line); }
  // How the injected failure behaves: ngctl -f stops there (current FreeBSD), reports it and
  // goes on (older ngctl), or fails without a word and exit status 0.
  enum class Failure { kStops, kGoesOn, kSilent };
  void FailAt(const std::string& command, Failure mode) {
    std::ofstream(state_dir() + "/fail") << command << "\n";
    if (mode == Failure::kSilent) std::ofstream(state_dir() + "/fail_silent") << "1\n";
    if (mode == Failure::kGoesOn) std::ofstream(state_dir() + "/ngctl_goes_on") << "1\n";
  }
  bool FailureUsed() const { return std::filesystem::exists(state_dir() + "/fail.used"); }

  // Runs `sh FILE ARGS` with the fake tools first on PATH; `env` is prepended verbatim.
  int Sh(const std::string& file, const std::string& args, std::string* out,
         const std::string& env = "") const {
    const std::string cmd = absl::StrCat("cd '", dir_.path(), "' && env PATH='", stub_dir(),
                                         "':\"$PATH\" NF_FAKE_STATE='", state_dir(), "' ", env,
                                         " sh '", file, "' ", args, " 2>&1");
    return nf::testing::RunCommand(cmd, out);
  }
  int Ngctl(const std::string& args, std::string* out) const {
    return nf::testing::RunCommand(absl::StrCat("env NF_FAKE_STATE='", state_dir(), "' '",
                                                stub_dir(), "/ngctl' ", args, " 2>&1"),
                                   out);
  }
  int Ipfw(const std::string& args, std::string* out) const {
    return nf::testing::RunCommand(absl::StrCat("env NF_FAKE_STATE='", state_dir(), "' '",
                                                stub_dir(), "/ipfw' ", args, " 2>&1"),
                                   out);
  }

  Netgraph Load() const {
    auto g = LoadHost(state_dir());
    EXPECT_TRUE(g.ok()) << g.status();
    return g.ok() ? *std::move(g) : Netgraph();
  }

  std::string Write(const std::string& name, const std::string& text) const {
    const std::string path = dir_.File(name);
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

 private:
  nf::testing::TempDir dir_;
};

using Failure = FakeFreeBsd::Failure;

struct Prepared {
  SetupOptions opts;
  Plan plan;
};

Prepared Prepare(const Case& c) {
  auto opts = ParseArgs(c.args);
  EXPECT_TRUE(opts.ok()) << opts.status();
  auto plan = BuildPlan(*opts);
  EXPECT_TRUE(plan.ok()) << plan.status();
  return Prepared{*opts, *plan};
}

std::unique_ptr<FakeFreeBsd> HostFor(const Case& c, const Prepared& s) {
  std::vector<std::string> ether;
  for (const std::string& i : s.opts.interfaces) {
    if (std::find(c.non_ethernet.begin(), c.non_ethernet.end(), i) == c.non_ethernet.end()) {
      ether.push_back(i);
    }
  }
  return std::make_unique<FakeFreeBsd>(ether, c.non_ethernet, s.plan.method == Method::kIpfw);
}

std::string EmitText(const SetupOptions& opts, EmitKind kind) {
  auto t = Emit(opts, kind);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : "";
}

// The graph a finished setup must leave, with every setting of the plan in force.
// `bind_may_be_missing`: a bind that failed without any message cannot be noticed by the
// scripts (the kernel then picks the source address itself).
void ExpectExporting(const Netgraph& g, const Prepared& s, bool bind_may_be_missing = false) {
  EXPECT_TRUE(g.CheckExporting(s.plan.node).ok()) << g.CheckExporting(s.plan.node);
  if (const model::Node* nf = g.FindNode(s.plan.node); nf != nullptr) {
    EXPECT_EQ(nf->inactive, s.plan.inactive_s);
    EXPECT_EQ(nf->active, s.plan.active_s);
    EXPECT_EQ(nf->template_time, s.plan.template_s);
    EXPECT_EQ(nf->template_packets, s.plan.template_packets);
    EXPECT_EQ(nf->mtu, s.plan.mtu);
    if (s.plan.method == Method::kEther) {
      for (const InterfacePlan& ip : s.plan.interfaces) {
        ASSERT_EQ(nf->conf.count(ip.hook), 1u) << ip.name;
        EXPECT_EQ(nf->conf.at(ip.hook), ip.conf) << ip.name;
      }
    } else {
      ASSERT_EQ(nf->dlt.count(0), 1u);
      EXPECT_EQ(nf->dlt.at(0), 12);
    }
    if (nf->hooks.count("export9") != 0) {
      const model::Node* ks = g.NodeById(nf->hooks.at("export9").node);
      ASSERT_NE(ks, nullptr);
      EXPECT_EQ(ks->connected_to,
                absl::StrCat(s.plan.collector.ToString(), " port ", s.plan.collector_port));
      if (s.plan.has_source && !(bind_may_be_missing && !ks->bound)) {
        EXPECT_EQ(ks->bound_to, absl::StrCat(s.plan.source.ToString(), " port 0"));
      }
    }
  }
  EXPECT_EQ(g.CountNodes(NodeType::kNetflow), 1);
  EXPECT_EQ(g.CountNodes(NodeType::kKsocket), 1);
  if (s.plan.method == Method::kEther) {
    for (const InterfacePlan& ip : s.plan.interfaces) {
      std::string why;
      EXPECT_EQ(g.InterfaceTraffic(ip.name, &why), Traffic::kAccounted) << ip.name << ": " << why;
    }
  } else {
    std::vector<std::string> bodies;
    for (const model::IpfwRule& r : g.ipfw_rules()) {
      EXPECT_EQ(r.number, s.plan.ipfw_rule);
      bodies.push_back(r.body);
    }
    EXPECT_EQ(bodies, s.plan.ipfw_rules);
    const model::Node* ipfw = g.FindNode("ipfw");
    ASSERT_NE(ipfw, nullptr);
    EXPECT_EQ(ipfw->hooks.count(absl::StrCat(s.plan.ipfw_hook)), 1u);
  }
  EXPECT_EQ(g.InterfaceTraffic("igb99"), Traffic::kPasses);
  EXPECT_THAT(g.violations(), ::testing::IsEmpty());
}

// The graph after a teardown or a rollback: nothing of ours, every interface passing.
void ExpectPristine(const Netgraph& g, const Prepared& s) {
  EXPECT_EQ(g.CountNodes(NodeType::kNetflow), 0) << absl::StrJoin(g.NodeNames(), " ");
  EXPECT_EQ(g.CountNodes(NodeType::kKsocket), 0);
  for (const std::string& i : s.opts.interfaces) {
    std::string why;
    EXPECT_EQ(g.InterfaceTraffic(i, &why), Traffic::kPasses) << i << ": " << why;
  }
  EXPECT_EQ(g.InterfaceTraffic("igb99"), Traffic::kPasses);
  EXPECT_TRUE(g.ipfw_rules().empty());
  if (s.plan.method == Method::kIpfw) {
    const model::Node* ipfw = g.FindNode("ipfw");
    ASSERT_NE(ipfw, nullptr) << "the ipfw: node must never be shut down";
    EXPECT_TRUE(ipfw->hooks.empty());
  }
  EXPECT_THAT(g.violations(), ::testing::IsEmpty());
}

// ---------------------------------------------------------------------------------------
// bootstrap

TEST(NgBootstrapScript, BuildsTheGraphAndTheTeardownRemovesIt) {
  for (const Case& c : GoldenCases()) {
    SCOPED_TRACE(c.name);
    Prepared s = Prepare(c);
    auto host = HostFor(c, s);
    const std::string script = host->Write("bootstrap.sh", EmitText(s.opts, EmitKind::kBootstrap));
    std::string out;
    ASSERT_EQ(host->Sh(script, "", &out), 0) << out;
    EXPECT_THAT(out, HasSubstr("exports NetFlow v9 to"));
    EXPECT_THAT(out, HasSubstr("Rec'd response \"info\"")) << "the script prints the node info";
    Netgraph g = host->Load();
    ExpectExporting(g, s);
    for (const std::string& m : s.plan.modules) EXPECT_TRUE(g.ModuleLoaded(m)) << m;

    if (s.plan.method == Method::kIpfw) {
      ASSERT_EQ(host->Ipfw(absl::StrCat("-q delete ", s.plan.ipfw_rule), &out), 0) << out;
    }
    const std::string teardown = host->Write("teardown", EmitText(s.opts, EmitKind::kTeardown));
    ASSERT_EQ(host->Ngctl("-f " + teardown, &out), 0) << out;
    ExpectPristine(host->Load(), s);
  }
}

// One instance per case so that ctest can run them in parallel.
class NgBootstrapRollback : public ::testing::TestWithParam<const char*> {};
INSTANTIATE_TEST_SUITE_P(Cases, NgBootstrapRollback,
                         ::testing::Values("ether_multi", "ether_vlan_v6", "ipfw_tun"));

TEST_P(NgBootstrapRollback, AfterAFailureAtAnyLine) {
  {
    const char* name = GetParam();
    const Case& c = FindCase(name);
    Prepared s = Prepare(c);
    for (auto mode : {Failure::kStops, Failure::kGoesOn, Failure::kSilent}) {
      const bool silent = mode == Failure::kSilent;
      for (const std::string& cmd : SetupCommands(s.plan)) {
        SCOPED_TRACE(absl::StrCat(name, " failure mode ", static_cast<int>(mode), " at: ", cmd));
        auto host = HostFor(c, s);
        host->FailAt(cmd, mode);
        const std::string script =
            host->Write("bootstrap.sh", EmitText(s.opts, EmitKind::kBootstrap));
        std::string out;
        const int rc = host->Sh(script, "", &out);
        EXPECT_TRUE(host->FailureUsed()) << "the injected failure was never reached";
        if (rc == 0) {
          // Only a silently failed setting may end well: the confirmation re-sends it.
          EXPECT_TRUE(silent) << out;
          ExpectExporting(host->Load(), s, /*bind_may_be_missing=*/true);
        } else {
          EXPECT_THAT(out, HasSubstr("rolling back"));
          ExpectPristine(host->Load(), s);
        }
      }
    }
  }
}

TEST(NgBootstrapScript, VerificationCatchesASilentlyFailedConnect) {
  const Case& c = FindCase("ipfw_tun");
  Prepared s = Prepare(c);
  auto host = HostFor(c, s);
  // A connect that fails without a word is only caught by the verification (getpeername).
  host->FailAt(SetupCommands(s.plan).back(), FakeFreeBsd::Failure::kSilent);
  const std::string script = host->Write("bootstrap.sh", EmitText(s.opts, EmitKind::kBootstrap));
  std::string out;
  EXPECT_NE(host->Sh(script, "", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("not connected"));
  ExpectPristine(host->Load(), s);
}

TEST(NgBootstrapScript, RefusesAnExistingNodeAndLeavesItAlone) {
  const Case& c = FindCase("ether_one");
  Prepared s = Prepare(c);
  auto host = HostFor(c, s);
  const std::string script = host->Write("bootstrap.sh", EmitText(s.opts, EmitKind::kBootstrap));
  std::string out;
  ASSERT_EQ(host->Sh(script, "", &out), 0) << out;
  EXPECT_NE(host->Sh(script, "", &out), 0);
  EXPECT_THAT(out, HasSubstr("already exists"));
  EXPECT_THAT(out, ::testing::Not(HasSubstr("rolling back")));
  ExpectExporting(host->Load(), s);
}

TEST(NgBootstrapScript, ReplaceRebuildsAnExistingSetup) {
  const Case& c = FindCase("ipfw_v6");  // generated with --replace
  Prepared s = Prepare(c);
  auto host = HostFor(c, s);
  const std::string script = host->Write("bootstrap.sh", EmitText(s.opts, EmitKind::kBootstrap));
  std::string out;
  ASSERT_EQ(host->Sh(script, "", &out), 0) << out;
  ASSERT_EQ(host->Sh(script, "", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("(--replace)"));
  ExpectExporting(host->Load(), s);
}

TEST(NgBootstrapScript, RefusesBeforeTouchingAnything) {
  struct Refusal {
    const char* what;
    std::vector<std::string> ether, other;
    std::vector<std::string> journal;
    const char* case_name;
    const char* message;
  };
  const std::vector<Refusal> refusals = {
      {"interface missing", {"igb1", "igb2"}, {}, {}, "ether_multi", "igb0 does not exist"},
      {"not Ethernet after all (a renamed tun)",
       {"igb0", "igb1"},
       {"igb2"},
       {},
       "ether_multi",
       "--method ipfw"},
      {"interface already used by another netgraph setup",
       {"igb0"},
       {},
       {"module ng_ether", "ngctl mkpeer igb0: netflow lower iface0", "ngctl name igb0:lower other",
        "ngctl connect igb0: other: upper out0"},
       "ether_one",
       "already has netgraph hooks"},
  };
  for (const Refusal& r : refusals) {
    SCOPED_TRACE(r.what);
    Prepared s = Prepare(FindCase(r.case_name));
    FakeFreeBsd host(r.ether, r.other, false);
    for (const std::string& j : r.journal) host.Journal(j);
    const Netgraph before = host.Load();
    const std::string script = host.Write("bootstrap.sh", EmitText(s.opts, EmitKind::kBootstrap));
    std::string out;
    EXPECT_NE(host.Sh(script, "", &out), 0);
    EXPECT_THAT(out, HasSubstr(r.message));
    EXPECT_THAT(out, ::testing::Not(HasSubstr("rolling back")));
    const Netgraph after = host.Load();
    EXPECT_EQ(after.CountNodes(NodeType::kNetflow), before.CountNodes(NodeType::kNetflow));
    EXPECT_EQ(after.CountNodes(NodeType::kKsocket), before.CountNodes(NodeType::kKsocket));
    for (const std::string& i : r.ether) {
      EXPECT_EQ(after.InterfaceTraffic(i), before.InterfaceTraffic(i)) << i;
    }
  }
}

TEST(NgBootstrapScript, IpfwMethodNeverLoadsIpfwItself) {
  const Case& c = FindCase("ipfw_tun");
  Prepared s = Prepare(c);
  FakeFreeBsd host({"igb0"}, {"tun0", "wg0"}, /*ipfw_loaded=*/false);
  const std::string script = host.Write("bootstrap.sh", EmitText(s.opts, EmitKind::kBootstrap));
  std::string out;
  EXPECT_NE(host.Sh(script, "", &out), 0);
  EXPECT_THAT(out, HasSubstr("ipfw is not loaded"));
  Netgraph g = host.Load();
  EXPECT_FALSE(g.ModuleLoaded("ipfw"));
  EXPECT_THAT(g.violations(), ::testing::IsEmpty());
}

TEST(NgBootstrapScript, RefusesToRunOffFreeBsd) {
  // Without the fake tools on PATH, uname says Linux: the script must stop at once.
#if defined(__FreeBSD__)
  GTEST_SKIP() << "on FreeBSD this would configure the real host";
#endif
  nf::testing::TempDir dir;
  Prepared s = Prepare(FindCase("ether_one"));
  const std::string path = dir.File("bootstrap.sh");
  std::ofstream(path) << EmitText(s.opts, EmitKind::kBootstrap);
  std::string out;
  EXPECT_NE(nf::testing::RunCommand("sh '" + path + "' 2>&1", &out), 0);
  EXPECT_THAT(out, HasSubstr("run it on the FreeBSD host"));
}

// ---------------------------------------------------------------------------------------
// rc.d

std::string RcdScript(const FakeFreeBsd& host, const SetupOptions& opts) {
  std::string text = EmitText(opts, EmitKind::kRcd);
  EXPECT_THAT(text, HasSubstr(". /etc/rc.subr\n"));
  absl::StrReplaceAll({{". /etc/rc.subr\n", absl::StrCat(". '", host.File("rc.subr"), "'\n")}},
                      &text);
  return host.Write("rc.d.sh", text);
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

std::vector<std::string> ExpectedPlan(const Plan& plan) {
  std::vector<std::string> lines = SetupCommands(plan);
  for (const std::string& r : plan.ipfw_rules) lines.push_back("RULE " + r);
  return lines;
}

TEST(NgRcdScript, ComputesTheSameBatchAsTheGenerator) {
  for (const Case& c : GoldenCases()) {
    SCOPED_TRACE(c.name);
    Prepared s = Prepare(c);
    auto host = HostFor(c, s);
    const std::string script = RcdScript(*host, s.opts);
    std::string out;
    ASSERT_EQ(host->Sh(script, "plan", &out), 0) << out;
    EXPECT_EQ(Lines(out), ExpectedPlan(s.plan));
  }
}

TEST(NgRcdScript, KnobsOverrideTheDefaultsLikeTheGeneratorWould) {
  // Generated for igb0 -> v4 collector; rc.conf then changes everything the knobs cover.
  Prepared base = Prepare(FindCase("ether_one"));
  struct Override {
    std::string env;
    std::vector<std::string> equivalent_args;
  };
  const std::vector<Override> overrides = {
      {"ng_netflow_interfaces='igb0 igb1=both vlan0.410=egress' "
       "ng_netflow_collector='[2001:db8:aa::5:0]:4739' ng_netflow_source='2001:db8:aa::1' "
       "ng_netflow_timeouts='10 60' ng_netflow_template='30 7' ng_netflow_mtu=1400 "
       "ng_netflow_node=nf2",
       {"-i",
        "igb0",
        "-i",
        "igb1",
        "-i",
        "vlan0.410",
        "--direction",
        "igb1=both",
        "--direction",
        "vlan0.410=egress",
        "-c",
        "[2001:db8:aa::5:0]:4739",
        "--source",
        "2001:db8:aa::1",
        "--inactive-timeout",
        "10",
        "--active-timeout",
        "60",
        "--template-refresh-seconds",
        "30",
        "--template-refresh-packets",
        "7",
        "--mtu",
        "1400",
        "--node-name",
        "nf2"}},
      {"ng_netflow_interfaces='igb0 igb0.100 igb1.7'",
       {"-i", "igb0", "-i", "igb0.100", "-i", "igb1.7", "-c", "10.0.0.5:1234"}},
      {"ng_netflow_interfaces='igb1.7 igb0.100'",
       {"-i", "igb1.7", "-i", "igb0.100", "-c", "10.0.0.5:1234"}},
      {"ng_netflow_collector='[::1]:9' ", {"-i", "igb0", "-c", "[::1]:9"}},
      {"ng_netflow_collector='[fd00:1:2:3:4:5:6:7]:65535' ",
       {"-i", "igb0", "-c", "[fd00:1:2:3:4:5:6:7]:65535"}},
      {"ng_netflow_collector='[1::]:2055' ", {"-i", "igb0", "-c", "[1::]:2055"}},
      {"ng_netflow_collector='192.0.2.200:2055' ng_netflow_source=192.0.2.1",
       {"-i", "igb0", "-c", "192.0.2.200:2055", "--source", "192.0.2.1"}},
  };
  for (const Override& o : overrides) {
    SCOPED_TRACE(o.env);
    FakeFreeBsd host({"igb0"}, {}, false);
    const std::string script = RcdScript(host, base.opts);
    auto opts = ParseArgs(o.equivalent_args);
    ASSERT_TRUE(opts.ok()) << opts.status();
    std::string out;
    ASSERT_EQ(host.Sh(script, "plan", &out, o.env), 0) << out;
    EXPECT_EQ(Lines(out), ExpectedPlan(*BuildPlan(*opts)));
  }
}

TEST(NgRcdScript, RejectsBadKnobsWithAMessage) {
  Prepared base = Prepare(FindCase("ether_one"));
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"ng_netflow_timeouts=15", "ng_netflow_timeouts"},
      {"ng_netflow_timeouts='0 120'", "ng_netflow_timeouts"},
      {"ng_netflow_template='60'", "ng_netflow_template"},
      {"ng_netflow_mtu=64", "ng_netflow_mtu"},
      {"ng_netflow_collector=10.0.0.5", "ng_netflow_collector"},
      {"ng_netflow_collector=collector:2055", "not a usable"},
      {"ng_netflow_collector='[fe80::1]:2055'", "link-local"},
      {"ng_netflow_collector='[1:2:3:4:5:6:7:8:9]:2055'", "not a usable"},
      {"ng_netflow_collector='[1::2::3]:2055'", "not a usable"},
      {"ng_netflow_collector=10.0.0.300:2055", "not a usable"},
      {"ng_netflow_source=2001:db8::1", "same address family"},
      {"ng_netflow_interfaces='igb0=sideways'", "ingress, egress or both"},
      {"ng_netflow_interfaces='igb0;reboot'", "bad interface name"},
      {"ng_netflow_interfaces=' '", "empty"},
      {"ng_netflow_node=net.flow", "bad node name"},
  };
  for (const auto& [env, message] : bad) {
    SCOPED_TRACE(env);
    FakeFreeBsd host({"igb0"}, {}, false);
    const std::string script = RcdScript(host, base.opts);
    std::string out;
    EXPECT_NE(host.Sh(script, "plan", &out, env), 0) << out;
    EXPECT_THAT(out, HasSubstr(message));
  }
}

TEST(NgRcdScript, StartStatusStop) {
  for (const Case& c : GoldenCases()) {
    SCOPED_TRACE(c.name);
    Prepared s = Prepare(c);
    auto host = HostFor(c, s);
    const std::string script = RcdScript(*host, s.opts);
    std::string out;
    ASSERT_EQ(host->Sh(script, "start", &out), 0) << out;
    EXPECT_THAT(out, HasSubstr("Started"));
    ExpectExporting(host->Load(), s);
    ASSERT_EQ(host->Sh(script, "status", &out), 0) << out;
    EXPECT_THAT(out, HasSubstr("export9"));
    EXPECT_NE(host->Sh(script, "start", &out), 0) << "a second start must refuse";
    EXPECT_THAT(out, HasSubstr("already exists"));
    ExpectExporting(host->Load(), s);
    ASSERT_EQ(host->Sh(script, "stop", &out), 0) << out;
    ExpectPristine(host->Load(), s);
    EXPECT_NE(host->Sh(script, "status", &out), 0);
    EXPECT_EQ(host->Sh(script, "stop", &out), 0) << "stopping a stopped service is harmless";
  }
}

class NgRcdRollback : public ::testing::TestWithParam<const char*> {};
INSTANTIATE_TEST_SUITE_P(Cases, NgRcdRollback, ::testing::Values("ether_multi", "ipfw_tun"));

TEST_P(NgRcdRollback, StartAfterAFailureAtAnyLine) {
  {
    const char* name = GetParam();
    const Case& c = FindCase(name);
    Prepared s = Prepare(c);
    for (auto mode : {Failure::kStops, Failure::kSilent}) {
      const bool silent = mode == Failure::kSilent;
      for (const std::string& cmd : SetupCommands(s.plan)) {
        SCOPED_TRACE(absl::StrCat(name, " failure mode ", static_cast<int>(mode), " at: ", cmd));
        auto host = HostFor(c, s);
        host->FailAt(cmd, mode);
        const std::string script = RcdScript(*host, s.opts);
        std::string out;
        const int rc = host->Sh(script, "start", &out);
        EXPECT_TRUE(host->FailureUsed());
        if (rc == 0) {
          EXPECT_TRUE(silent) << out;
          ExpectExporting(host->Load(), s, /*bind_may_be_missing=*/true);
        } else {
          ExpectPristine(host->Load(), s);
        }
      }
    }
  }
}

}  // namespace
}  // namespace nf::ng

namespace nf::ng {
namespace {

// ---------------------------------------------------------------------------------------
// The acceptance command through the real flowexport binary (skipped when flowexport was
// built without the ng_netflow module).

std::string Flowexport() {
  const std::string path = nf::testing::BinaryPath("flowexport");
  std::string help;
  if (nf::testing::RunCommand("'" + path + "' --help 2>&1", &help) != 0 ||
      !absl::StrContains(help, "--ng-netflow")) {
    return "";
  }
  return path;
}

TEST(NgFlowexportCli, AcceptanceBootstrapRunsOnAFreeBsdHost) {
  const std::string bin = Flowexport();
  if (bin.empty()) GTEST_SKIP() << "flowexport is not built with --ng-netflow";
  FakeFreeBsd host({"igb0"}, {}, false);
  const std::string script = host.File("bootstrap.sh");
  std::string out;
  ASSERT_EQ(nf::testing::RunCommand(absl::StrCat("'", bin,
                                                 "' --ng-netflow -i igb0 -c "
                                                 "10.0.0.5:1234 --emit bootstrap > '",
                                                 script, "' 2>/dev/null"),
                                    &out),
            0);
  if (nf::testing::HaveTool("shellcheck")) {
    EXPECT_EQ(nf::testing::RunCommand("shellcheck -s sh '" + script + "' 2>&1", &out), 0) << out;
  }
  ASSERT_EQ(host.Sh(script, "", &out), 0) << out;
  Netgraph g = host.Load();
  EXPECT_EQ(g.InterfaceTraffic("igb0"), Traffic::kAccounted);
  EXPECT_TRUE(g.CheckExporting("netflow").ok()) << g.CheckExporting("netflow");
  const model::Node* ks = g.NodeById(g.FindNode("netflow")->hooks.at("export9").node);
  EXPECT_EQ(ks->connected_to, "10.0.0.5 port 1234");
  EXPECT_THAT(g.violations(), ::testing::IsEmpty());
}

TEST(NgFlowexportCli, ErrorsAndApply) {
  const std::string bin = Flowexport();
  if (bin.empty()) GTEST_SKIP() << "flowexport is not built with --ng-netflow";
  std::string out;
  EXPECT_EQ(nf::testing::RunCommand(
                absl::StrCat("'", bin, "' --ng-netflow -i tun0 -c 10.0.0.5:1234 2>&1"), &out),
            2);
  EXPECT_THAT(out, HasSubstr("--method ipfw"));
#if !defined(__FreeBSD__)
  EXPECT_EQ(
      nf::testing::RunCommand(
          absl::StrCat("'", bin, "' --ng-netflow -i igb0 -c 10.0.0.5:1234 --apply 2>&1"), &out),
      1);
  EXPECT_THAT(out, HasSubstr("only works on FreeBSD"));
#endif
}

}  // namespace
}  // namespace nf::ng

namespace nf::ng {
namespace {

// The --apply runner (used by RunSetup on FreeBSD) against the simulated host.
TEST(NgApplyRunner, RunsTheBootstrapAndReportsItsStatus) {
  Prepared s = Prepare(FindCase("ether_multi"));
  auto host = HostFor(FindCase("ether_multi"), s);
  const std::string old_path = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
  setenv("PATH", absl::StrCat(host->stub_dir(), ":", old_path).c_str(), 1);
  setenv("NF_FAKE_STATE", host->state_dir().c_str(), 1);
  std::ostringstream err;
  const int ok_rc = RunShellScript(EmitText(s.opts, EmitKind::kBootstrap), err);
  // A second run must refuse (the node exists) and leave the first setup alone.
  const int again_rc = RunShellScript(EmitText(s.opts, EmitKind::kBootstrap), err);
  setenv("PATH", old_path.c_str(), 1);
  unsetenv("NF_FAKE_STATE");
  EXPECT_EQ(ok_rc, 0) << err.str();
  EXPECT_EQ(again_rc, 1);
  ExpectExporting(host->Load(), s);
}

}  // namespace
}  // namespace nf::ng
