// Options, validation and the resolved plan of the ng_netflow setup mode.
#include "ngnetflow/ng_setup.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "ngnetflow/ng_plan.h"

namespace nf::ng {
namespace {

// NG_NODESIZ is 32 including the NUL; the ksocket gets "<node>_export".
constexpr size_t kMaxNodeName = 31;
constexpr absl::string_view kExportSuffix = "_export";
// IFNAMSIZ is 16 including the NUL.
constexpr size_t kMaxInterfaceName = 15;

// Drivers whose interfaces are not Ethernet and so have no ng_ether node (ng_ether(4)
// attaches only to interfaces that call ether_ifattach). ngeth is ng_eiface: it looks like
// Ethernet but mkpeer on it fails ("Protocol family not supported", notes pitfall 3).
const std::set<std::string>& NonEthernetDrivers() {
  static const auto* drivers = new std::set<std::string>{
      "lo",  "tun",   "gre",    "gif", "wg",   "ng",  "ngeth", "ovpn",  "ipsec",  "enc",
      "stf", "pflog", "pfsync", "me",  "disc", "ppp", "sl",    "faith", "ipfwlog"};
  return *drivers;
}

// The driver part of an interface name: the leading letters ("igb0.100" -> "igb").
std::string DriverOf(absl::string_view name) {
  size_t i = 0;
  while (i < name.size() && absl::ascii_isalpha(static_cast<unsigned char>(name[i]))) ++i;
  return absl::AsciiStrToLower(name.substr(0, i));
}

absl::Status CheckInterfaceName(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("empty interface name (-i)");
  if (name.size() > kMaxInterfaceName) {
    return absl::InvalidArgumentError(absl::StrCat(
        "interface name '", name, "' is longer than FreeBSD's ", kMaxInterfaceName, " characters"));
  }
  if (!absl::ascii_isalpha(static_cast<unsigned char>(name[0]))) {
    return absl::InvalidArgumentError(
        absl::StrCat("interface name '", name, "' must start with a letter"));
  }
  for (char c : name) {
    // Everything else could break the generated shell or ngctl syntax.
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-' &&
        c != ':') {
      return absl::InvalidArgumentError(
          absl::StrCat("interface name '", name, "' contains '", std::string(1, c),
                       "'; FreeBSD interface names use letters, digits, '.', '_' and '-'"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckNodeName(absl::string_view name, absl::string_view what, size_t max_len) {
  if (name.empty()) return absl::InvalidArgumentError(absl::StrCat("empty ", what));
  if (name.size() > max_len) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " '", name, "' is longer than ", max_len, " characters"));
  }
  if (!absl::ascii_isalpha(static_cast<unsigned char>(name[0]))) {
    return absl::InvalidArgumentError(absl::StrCat(what, " '", name, "' must start with a letter"));
  }
  for (char c : name) {
    // Netgraph forbids '.', ':', '[' and ']'; the shell scripts need identifier characters.
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " '", name, "' may only contain letters, digits and '_'"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckRange(int64_t value, int64_t lo, int64_t hi, absl::string_view what) {
  if (value < lo || value > hi) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", value, " is out of range (", lo, "..", hi, ")"));
  }
  return absl::OkStatus();
}

bool IsLinkLocalV6(const IpAddress& a) {
  return a.is_v6() && a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0x80;
}
bool IsV4Mapped(const IpAddress& a) {
  if (!a.is_v6()) return false;
  for (int i = 0; i < 10; ++i) {
    if (a.bytes[i] != 0) return false;
  }
  return a.bytes[10] == 0xff && a.bytes[11] == 0xff;
}
bool IsUnspecified(const IpAddress& a) {
  for (uint8_t b : a.bytes) {
    if (b != 0) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<EmitKind> ParseEmitKind(absl::string_view text) {
  if (text == "ngctl") return EmitKind::kNgctl;
  if (text == "bootstrap") return EmitKind::kBootstrap;
  if (text == "rc.d" || text == "rcd") return EmitKind::kRcd;
  if (text == "loader.conf") return EmitKind::kLoaderConf;
  if (text == "teardown") return EmitKind::kTeardown;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown --emit '", text, "' (expected ngctl, bootstrap, rc.d, loader.conf or teardown)"));
}

absl::StatusOr<Method> ParseMethod(absl::string_view text) {
  if (text == "ether") return Method::kEther;
  if (text == "ipfw") return Method::kIpfw;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown --method '", text, "' (expected ether or ipfw)"));
}

absl::StatusOr<Direction> ParseDirection(absl::string_view text) {
  if (text == "ingress" || text == "in") return Direction::kIngress;
  if (text == "egress" || text == "out") return Direction::kEgress;
  if (text == "both") return Direction::kBoth;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown direction '", text, "' (expected ingress, egress or both)"));
}

absl::string_view EmitKindName(EmitKind kind) {
  switch (kind) {
    case EmitKind::kNgctl:
      return "ngctl";
    case EmitKind::kBootstrap:
      return "bootstrap";
    case EmitKind::kRcd:
      return "rc.d";
    case EmitKind::kLoaderConf:
      return "loader.conf";
    case EmitKind::kTeardown:
      return "teardown";
  }
  return "?";
}

absl::string_view DirectionName(Direction direction) {
  switch (direction) {
    case Direction::kIngress:
      return "ingress";
    case Direction::kEgress:
      return "egress";
    case Direction::kBoth:
      return "both";
  }
  return "?";
}

std::string EtherNodeName(absl::string_view interface_name) {
  std::string out(interface_name);
  for (char& c : out) {
    if (c == '.' || c == ':') c = '_';
  }
  return out;
}

void AddCliOptions(CLI::App& app, SetupOptions& opts) {
  app.add_option("--emit", opts.emit_text,
                 "ng_netflow: what to print: ngctl | bootstrap | rc.d | loader.conf | teardown")
      ->capture_default_str();
  app.add_flag("--apply", opts.apply,
               "ng_netflow: run the bootstrap now (FreeBSD, as root) instead of printing it");
  app.add_option("--direction", opts.direction_specs,
                 "ng_netflow: IFACE=ingress|egress|both (repeatable); a bare direction sets the "
                 "default for all interfaces. 'both' counts forwarded packets once");
  app.add_option("--method", opts.method_text,
                 "ng_netflow: ether (ng_ether hooks, Ethernet/VLAN/lagg) or ipfw (ng_ipfw ngtee "
                 "rules, any interface incl. tun/gre/wg/ng)")
      ->capture_default_str();
  app.add_option("--source", opts.source_address,
                 "ng_netflow: local address the export socket binds to (default: kernel's choice)");
  app.add_option("--ipfw-rule", opts.ipfw_rule,
                 "ng_netflow: ipfw rule number for the ngtee rules (must come before rules that "
                 "accept or deny the traffic)")
      ->capture_default_str();
  app.add_option("--ipfw-hook", opts.ipfw_hook, "ng_netflow: ng_ipfw hook number (ngtee cookie)")
      ->capture_default_str();
  app.add_option("--node-name", opts.node_name, "ng_netflow: netgraph node name")
      ->capture_default_str();
  app.add_option("--service-name", opts.service_name,
                 "ng_netflow: rc.d service name (rc.conf prefix)")
      ->capture_default_str();
  app.add_flag("--replace", opts.replace_existing,
               "ng_netflow: bootstrap removes an existing node of the same name instead of "
               "refusing to start");
}

absl::Status Validate(SetupOptions& opts) {
  NF_ASSIGN_OR_RETURN(opts.method, ParseMethod(opts.method_text));
  NF_ASSIGN_OR_RETURN(opts.emit, ParseEmitKind(opts.emit_text));

  if (opts.interfaces.empty()) {
    return absl::InvalidArgumentError("ng_netflow needs at least one interface (-i IFACE)");
  }
  std::set<std::string> seen, seen_nodes;
  for (const std::string& name : opts.interfaces) {
    NF_RETURN_IF_ERROR(CheckInterfaceName(name));
    if (!seen.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat("interface ", name, " is given twice"));
    }
    if (opts.method == Method::kEther) {
      const std::string node = EtherNodeName(name);
      if (!seen_nodes.insert(node).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("interfaces map to the same ng_ether node name ", node,
                         ": (FreeBSD turns '.' and ':' into '_')"));
      }
      const std::string driver = DriverOf(name);
      if (NonEthernetDrivers().count(driver) != 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            name, " is not an Ethernet interface (", driver,
            " interfaces have no ng_ether node, so the ether method cannot attach to it); use "
            "--method ipfw, which copies its packets to ng_netflow with an ipfw ngtee rule"));
      }
    }
  }

  if (opts.collectors.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ng_netflow exports to exactly one collector (one export9 socket), got ",
        opts.collectors.size(),
        " (-c); to feed several collectors, send to a UDP replicator such as samplicate"));
  }
  NF_ASSIGN_OR_RETURN(HostPort hp, ParseHostPort(opts.collectors[0]));
  auto collector = ParseIpAddress(hp.host);
  if (!collector.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("collector '", opts.collectors[0],
                     "' must be a literal IP address (the kernel socket cannot resolve names): ",
                     collector.status().message()));
  }
  if (IsUnspecified(*collector)) {
    return absl::InvalidArgumentError(
        absl::StrCat("collector '", opts.collectors[0], "' is the unspecified address"));
  }
  if (IsV4Mapped(*collector)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "collector '", opts.collectors[0], "' is IPv4-mapped; give the IPv4 address instead"));
  }
  if (IsLinkLocalV6(*collector)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "collector '", opts.collectors[0],
        "' is link-local, which needs a scope the generated socket address cannot carry; use a "
        "global or ULA address"));
  }
  if (!opts.source_address.empty()) {
    auto source = ParseIpAddress(opts.source_address);
    if (!source.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--source '", opts.source_address,
                       "' must be a literal IP address: ", source.status().message()));
    }
    if (source->version != collector->version) {
      return absl::InvalidArgumentError(absl::StrCat("--source ", opts.source_address,
                                                     " and collector ", opts.collectors[0],
                                                     " are of different address families"));
    }
    if (IsLinkLocalV6(*source) || IsV4Mapped(*source)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--source ", opts.source_address, " must be a global IPv6 address"));
    }
  }

  // settimeouts fields are u32 seconds; 0 would expire every flow at once (omitted-field trap).
  NF_RETURN_IF_ERROR(CheckRange(opts.inactive_timeout_s, 1, 4294967295LL, "inactive timeout"));
  NF_RETURN_IF_ERROR(CheckRange(opts.active_timeout_s, 1, 4294967295LL, "active timeout"));
  // settemplate fields are u16; 0 means "every datagram".
  NF_RETURN_IF_ERROR(CheckRange(opts.template_refresh_s, 0, 65535, "template refresh seconds"));
  NF_RETURN_IF_ERROR(
      CheckRange(opts.template_refresh_packets, 0, 65535, "template refresh packets"));
  // setmtu accepts 24..16384, but below 65 the "datagram full" test underflows and nothing is
  // ever sent (notes 1.5).
  NF_RETURN_IF_ERROR(CheckRange(opts.mtu, 65, 16384, "ng_netflow MTU"));

  NF_RETURN_IF_ERROR(
      CheckNodeName(opts.node_name, "--node-name", kMaxNodeName - kExportSuffix.size()));
  if (opts.node_name == "ipfw") {
    return absl::InvalidArgumentError("--node-name ipfw is taken by ng_ipfw's own node");
  }
  NF_RETURN_IF_ERROR(CheckNodeName(opts.service_name, "--service-name", 40));
  if (opts.method == Method::kIpfw) {
    // 65535 is the default rule, which cannot be added.
    NF_RETURN_IF_ERROR(CheckRange(opts.ipfw_rule, 1, 65534, "--ipfw-rule"));
    NF_RETURN_IF_ERROR(CheckRange(opts.ipfw_hook, 1, 65535, "--ipfw-hook"));
  }

  opts.directions.clear();
  Direction default_direction = Direction::kIngress;
  std::map<std::string, Direction> explicit_directions;
  for (const std::string& spec : opts.direction_specs) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos) {
      NF_ASSIGN_OR_RETURN(default_direction, ParseDirection(spec));
      continue;
    }
    const std::string name = spec.substr(0, eq);
    if (seen.count(name) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--direction ", spec, ": ", name, " is not one of the interfaces given with -i"));
    }
    NF_ASSIGN_OR_RETURN(Direction d, ParseDirection(absl::string_view(spec).substr(eq + 1)));
    explicit_directions[name] = d;
  }
  for (const std::string& name : opts.interfaces) {
    auto it = explicit_directions.find(name);
    opts.directions[name] = it == explicit_directions.end() ? default_direction : it->second;
  }
  return absl::OkStatus();
}

std::vector<std::string> Warnings(const SetupOptions& opts) {
  std::vector<std::string> out;
  if (opts.active_timeout_s > 300) {
    out.push_back(absl::StrCat(
        "active timeout ", opts.active_timeout_s,
        " s: ng_netflow lets idle flows with more than 4 packets wait for the active timeout, "
        "so they reach the collector late; 60..300 s is recommended"));
  }
  if (opts.template_refresh_packets != 0 && opts.template_refresh_s > 60) {
    out.push_back(absl::StrCat(
        "templates only every ", opts.template_refresh_s,
        " s (ng_netflow ignores the packet count): a restarted collector drops data until then; "
        "use --template-refresh-packets 0 or a refresh of 60 s or less"));
  }
  if (opts.mtu > 1500) {
    out.push_back(absl::StrCat("ng_netflow MTU ", opts.mtu,
                               " exceeds Ethernet's 1500: export datagrams may be fragmented"));
  }
  if (opts.method == Method::kIpfw) {
    out.push_back(absl::StrCat(
        "ipfw method: rule ", opts.ipfw_rule,
        " must come before any rule that accepts or denies the traffic (check-state, allow...), "
        "or those packets are never counted"));
  }
  return out;
}

std::string KsocketSockaddr(const IpAddress& address, uint16_t port) {
  if (address.is_v4()) {
    return absl::StrCat("inet/", address.ToString(), ":", port);
  }
  // struct sockaddr_in6 after len and family: port (BE), flowinfo, address, scope id.
  std::vector<int> data;
  data.push_back(port >> 8);
  data.push_back(port & 0xff);
  for (int i = 0; i < 4; ++i) data.push_back(0);
  for (uint8_t b : address.bytes) data.push_back(b);
  for (int i = 0; i < 4; ++i) data.push_back(0);
  return absl::StrCat("{ len=", kSockaddrIn6Len, " family=", kAfInet6, " data=[ ",
                      absl::StrJoin(data, " "), " ] }");
}

absl::StatusOr<Plan> BuildPlan(const SetupOptions& opts) {
  Plan plan;
  plan.method = opts.method;
  plan.node = opts.node_name;
  plan.export_node = absl::StrCat(opts.node_name, kExportSuffix);
  plan.service_name = opts.service_name;
  plan.replace_existing = opts.replace_existing;
  plan.collector_text = opts.collectors.at(0);
  NF_ASSIGN_OR_RETURN(HostPort hp, ParseHostPort(plan.collector_text));
  NF_ASSIGN_OR_RETURN(plan.collector, ParseIpAddress(hp.host));
  plan.collector_port = hp.port;
  if (!opts.source_address.empty()) {
    plan.has_source = true;
    NF_ASSIGN_OR_RETURN(plan.source, ParseIpAddress(opts.source_address));
  }
  // ng_ksocket's protocol aliases ("udp") exist only for PF_INET; with inet6 the protocol
  // must be given as a number.
  plan.ksocket_hook = plan.collector.is_v4() ? "inet/dgram/udp" : "inet6/dgram/17";
  plan.connect_arg = KsocketSockaddr(plan.collector, plan.collector_port);
  if (plan.has_source) plan.bind_arg = KsocketSockaddr(plan.source, 0);
  plan.inactive_s = opts.inactive_timeout_s;
  plan.active_s = opts.active_timeout_s;
  plan.template_s = opts.template_refresh_s;
  plan.template_packets = opts.template_refresh_packets;
  plan.mtu = opts.mtu;
  plan.ipfw_rule = opts.ipfw_rule;
  plan.ipfw_hook = opts.ipfw_hook;

  bool any_egress = false;
  for (size_t k = 0; k < opts.interfaces.size(); ++k) {
    InterfacePlan ip;
    ip.name = opts.interfaces[k];
    ip.ether_node = EtherNodeName(ip.name);
    ip.hook = static_cast<int>(k);
    auto it = opts.directions.find(ip.name);
    ip.direction = it == opts.directions.end() ? Direction::kIngress : it->second;
    ip.conf = ip.direction == Direction::kIngress  ? kConfIngress
              : ip.direction == Direction::kEgress ? kConfEgress
                                                   : kConfIngress | kConfEgress;
    any_egress = any_egress || (ip.conf & kConfEgress) != 0;
    plan.interfaces.push_back(ip);
  }
  // A VLAN interface and its parent both attached: a tagged frame passes the parent's
  // ng_ether node (ng_netflow parses one 802.1Q tag) and then the VLAN's, so it would be
  // counted twice. (ipfw sees the packet once, on the VLAN interface.)
  bool vlan_and_parent = false;
  if (plan.method == Method::kEther) {
    for (const InterfacePlan& ip : plan.interfaces) {
      const size_t dot = ip.name.rfind('.');
      if (dot == std::string::npos) continue;
      const std::string parent = ip.name.substr(0, dot);
      for (const InterfacePlan& other : plan.interfaces) {
        vlan_and_parent = vlan_and_parent || other.name == parent;
      }
    }
  }
  // Once-only accounting: a packet forwarded from an ingress-accounted interface to an
  // egress-accounted one would be counted twice. THISONCE on every hook makes the node skip
  // packets it has already accounted (it only works when set on both sides).
  if (any_egress || vlan_and_parent) {
    for (InterfacePlan& ip : plan.interfaces) ip.conf |= kConfThisOnce;
  }

  if (plan.method == Method::kIpfw) {
    // Directional rules: a direction-less rule matches a forwarded packet on the way in and
    // on the way out. Egress rules skip packets received on an ingress-accounted interface,
    // which the ingress rule has already copied (the ipfw form of once-only accounting).
    std::vector<std::string> ingress_ifaces;
    for (const InterfacePlan& ip : plan.interfaces) {
      if (ip.direction != Direction::kEgress) ingress_ifaces.push_back(ip.name);
    }
    const std::string head = absl::StrCat("ngtee ", plan.ipfw_hook, " ip from any to any");
    for (const InterfacePlan& ip : plan.interfaces) {
      if (ip.direction != Direction::kEgress) {
        plan.ipfw_rules.push_back(absl::StrCat(head, " in via ", ip.name));
      }
      if (ip.direction != Direction::kIngress) {
        std::string rule = absl::StrCat(head, " out via ", ip.name);
        for (const std::string& in : ingress_ifaces) absl::StrAppend(&rule, " not recv ", in);
        plan.ipfw_rules.push_back(rule);
      }
    }
    plan.modules = {"netgraph", "ng_socket", "ng_ksocket", "ng_netflow", "ng_ipfw"};
  } else {
    // ng_ether is never autoloaded: its nodes only exist once the module is loaded.
    plan.modules = {"netgraph", "ng_socket", "ng_ether", "ng_ksocket", "ng_netflow"};
  }
  return plan;
}

std::vector<std::string> SetupCommands(const Plan& plan) {
  std::vector<std::string> cmds;
  const std::string& n = plan.node;
  auto node_messages = [&] {
    if (plan.method == Method::kIpfw) {
      // ng_ipfw hands over bare IP packets; the default DLT_EN10MB would parse them as frames.
      cmds.push_back(absl::StrCat("msg ", n, ": setdlt { iface=0 dlt=", kDltRaw, " }"));
    } else {
      // setconfig replaces the whole mask and works before the hook exists.
      for (const InterfacePlan& ip : plan.interfaces) {
        cmds.push_back(
            absl::StrCat("msg ", n, ": setconfig { iface=", ip.hook, " conf=", ip.conf, " }"));
      }
    }
    // Every field of every struct is given: an omitted field silently becomes 0.
    cmds.push_back(absl::StrCat("msg ", n, ": settimeouts { inactive=", plan.inactive_s,
                                " active=", plan.active_s, " }"));
    cmds.push_back(absl::StrCat("msg ", n, ": settemplate { time=", plan.template_s,
                                " packets=", plan.template_packets, " }"));
    cmds.push_back(absl::StrCat("msg ", n, ": setmtu { mtu=", plan.mtu, " }"));
    cmds.push_back(absl::StrCat("mkpeer ", n, ": ksocket export9 ", plan.ksocket_hook));
    cmds.push_back(absl::StrCat("name ", n, ":export9 ", plan.export_node));
    if (!plan.bind_arg.empty()) {
      cmds.push_back(absl::StrCat("msg ", n, ":export9 bind ", plan.bind_arg));
    }
    cmds.push_back(absl::StrCat("msg ", n, ":export9 connect ", plan.connect_arg));
  };

  if (plan.method == Method::kIpfw) {
    cmds.push_back(absl::StrCat("mkpeer ipfw: netflow ", plan.ipfw_hook, " iface0"));
    cmds.push_back(absl::StrCat("name ipfw:", plan.ipfw_hook, " ", n));
    node_messages();
    return cmds;
  }
  // The first interface creates the node; its upper hook is connected right away because
  // between these two lines the interface's inbound traffic has nowhere to go.
  const InterfacePlan& first = plan.interfaces.front();
  cmds.push_back(absl::StrCat("mkpeer ", first.ether_node, ": netflow lower iface0"));
  cmds.push_back(absl::StrCat("name ", first.ether_node, ":lower ", n));
  cmds.push_back(absl::StrCat("connect ", first.ether_node, ": ", n, ": upper out0"));
  node_messages();
  for (size_t k = 1; k < plan.interfaces.size(); ++k) {
    const InterfacePlan& ip = plan.interfaces[k];
    cmds.push_back(absl::StrCat("connect ", ip.ether_node, ": ", n, ": lower iface", ip.hook));
    cmds.push_back(absl::StrCat("connect ", ip.ether_node, ": ", n, ": upper out", ip.hook));
  }
  return cmds;
}

std::vector<std::string> TeardownCommands(const Plan& plan) {
  // Shutting the node down flushes its cache through the still-connected export socket, then
  // cuts every hook: ng_ether nodes without hooks pass traffic normally again, the ksocket
  // dies with its only hook, and the ipfw: node itself is never touched.
  return {absl::StrCat("shutdown ", plan.node, ":")};
}

int RunShellScript(absl::string_view script, std::ostream& err) {
  // A file rather than `sh -s`: commands in the script must not be able to read the rest of
  // the script from their standard input.
  char path[] = "/tmp/ng_netflow-bootstrap.XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd < 0) {
    err << "flowexport --ng-netflow: cannot create a temporary file for the bootstrap: "
        << std::strerror(errno) << "\n";
    return 1;
  }
  size_t done = 0;
  while (done < script.size()) {
    const ssize_t n = ::write(fd, script.data() + done, script.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  int rc = 1;
  if (done == script.size()) {
    const int status = std::system(absl::StrCat("/bin/sh ", path).c_str());
    rc = status == -1 ? 1 : (WIFEXITED(status) ? WEXITSTATUS(status) : 1);
  } else {
    err << "flowexport --ng-netflow: cannot write the bootstrap to " << path << "\n";
  }
  ::unlink(path);
  return rc;
}

int RunSetup(SetupOptions& opts, std::ostream& out, std::ostream& err) {
  absl::Status status = Validate(opts);
  if (!status.ok()) {
    err << "flowexport --ng-netflow: " << status.message() << "\n";
    return 2;
  }
  for (const std::string& w : Warnings(opts))
    err << "flowexport --ng-netflow: warning: " << w << "\n";
  if (!opts.apply) {
    auto text = Emit(opts, opts.emit);
    if (!text.ok()) {
      err << "flowexport --ng-netflow: " << text.status().message() << "\n";
      return 2;
    }
    out << *text;
    out.flush();
    return out.good() ? 0 : 1;
  }
#if defined(__FreeBSD__)
  auto script = Emit(opts, EmitKind::kBootstrap);
  if (!script.ok()) {
    err << "flowexport --ng-netflow: " << script.status().message() << "\n";
    return 2;
  }
  out.flush();
  const int rc = RunShellScript(*script, err);
  if (rc != 0) {
    err << "flowexport --ng-netflow: the bootstrap failed (see its messages above); any "
           "partial graph was rolled back\n";
    return 1;
  }
  return 0;
#else
  err << "flowexport --ng-netflow: --apply only works on FreeBSD (ng_netflow is a FreeBSD "
         "kernel module); this system is not FreeBSD. Print the script with --emit bootstrap "
         "and run it as root on the FreeBSD host\n";
  return 1;
#endif
}

}  // namespace nf::ng
