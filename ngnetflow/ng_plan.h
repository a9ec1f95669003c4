// The resolved ng_netflow graph for a validated SetupOptions: node names, hook numbers,
// per-hook accounting flags, socket addresses in ng_ksocket's ASCII forms, ipfw rules, and
// the exact ngctl commands. Every emitter (batch, bootstrap, rc.d...) renders this one plan,
// so the scripts can never disagree with the batch the tests run against the model.
#ifndef NF_NGNETFLOW_NG_PLAN_H_
#define NF_NGNETFLOW_NG_PLAN_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/ip_address.h"
#include "ngnetflow/ng_setup.h"

namespace nf::ng {

// ng_netflow setconfig bits (ng_netflow.h).
inline constexpr uint32_t kConfIngress = 1;
inline constexpr uint32_t kConfEgress = 2;
inline constexpr uint32_t kConfThisOnce = 8;
// setdlt value for bare IPv4/IPv6 packets (DLT_RAW), as ng_ipfw delivers them.
inline constexpr int kDltRaw = 12;
// FreeBSD's AF_INET6 and sizeof(struct sockaddr_in6).
inline constexpr int kAfInet6 = 28;
inline constexpr int kSockaddrIn6Len = 28;

struct InterfacePlan {
  std::string name;        // as ifconfig shows it (igb0.100)
  std::string ether_node;  // its ng_ether node name (igb0_100)
  int hook = 0;            // ifaceN / outN (ether method)
  Direction direction = Direction::kIngress;
  uint32_t conf = kConfIngress;  // setconfig mask (ether method)
};

struct Plan {
  Method method = Method::kEther;
  std::string node;         // netflow node name
  std::string export_node;  // name given to the ksocket node
  std::vector<InterfacePlan> interfaces;
  std::string collector_text;  // as the user wrote it, for messages
  IpAddress collector;
  uint16_t collector_port = 0;
  bool has_source = false;
  IpAddress source;
  std::string ksocket_hook;  // inet/dgram/udp or inet6/dgram/17
  std::string connect_arg;   // argument of `msg NODE:export9 connect`
  std::string bind_arg;      // argument of `bind` (empty without a source address)
  int64_t inactive_s = 0, active_s = 0, template_s = 0, template_packets = 0, mtu = 0;
  int64_t ipfw_rule = 0, ipfw_hook = 0;
  // Arguments after `ipfw -q add RULE` (ipfw method), e.g.
  // "ngtee 9995 ip from any to any in via igb0".
  std::vector<std::string> ipfw_rules;
  std::vector<std::string> modules;  // kernel modules in load order
  std::string service_name;
  bool replace_existing = false;
};

absl::StatusOr<Plan> BuildPlan(const SetupOptions& opts);

// The ngctl commands (one per line, no comments) that build / remove the graph.
std::vector<std::string> SetupCommands(const Plan& plan);
std::vector<std::string> TeardownCommands(const Plan& plan);

// ng_ksocket's ASCII sockaddr: "inet/A.B.C.D:PORT", or for IPv6 (which has no ASCII
// shortcut in ng_ksocket) the generic "{ len=28 family=28 data=[ ... ] }" form.
std::string KsocketSockaddr(const IpAddress& address, uint16_t port);

// Runs `script` with /bin/sh from a private temporary file; returns its exit status (1 if it
// could not be started). RunSetup uses it for --apply on FreeBSD; tests run it against a
// simulated host.
int RunShellScript(absl::string_view script, std::ostream& err);

}  // namespace nf::ng

#endif  // NF_NGNETFLOW_NG_PLAN_H_
