// A small executable model of FreeBSD netgraph, for tests only: there is no FreeBSD here, so
// the generated ngctl batches (and, through fake_freebsd, whole bootstrap/rc.d scripts) are
// run against this model and the resulting graph is checked.
//
// Facts it encodes, from the research notes (../shared/docs/ng_netflow.md) and the
// FreeBSD sources they cite:
//  - Node types and the hook names each accepts: ether lower/upper/orphans (lower and
//    orphans exclusive); netflow ifaceN/outN with N decimal 0..65534 and no leading zeros
//    (`iface01` is rejected), export, export9; ksocket exactly one hook named
//    family/type/proto, where "udp" etc. are aliases only for inet (inet6 needs the number);
//    ipfw numeric hooks 1..65535 (= the ngtee cookie).
//  - ng_ether nodes exist only for Ethernet interfaces and only once ng_ether is loaded (it is
//    never autoloaded); their name is the interface name with '.' and ':' turned into '_'.
//    They cannot be created with mkpeer and survive `shutdown` (which only cuts their hooks).
//  - The ipfw node exists once ng_ipfw is loaded; shutting it down is recorded as a violation
//    (only reloading ng_ipfw recreates it).
//  - Node names are unique, at most 31 characters, without '.', ':', '[' or ']'.
//  - mkpeer/connect/name/msg/shutdown/rmhook semantics: a hook name can be used once per
//    node; a netflow node with no hooks left shuts down; a ksocket dies with its hook.
//  - Messages: setdlt{iface dlt} (dlt 1 or 12, ifaceN connected), setifindex{iface index}
//    (ifaceN connected), settimeouts{inactive active}, setconfig{iface conf},
//    settemplate{time packets}, setmtu{mtu} (24..16384), info, ifinfo, v9info; ksocket
//    bind/connect with `inet/A.B.C.D:P` (inet sockets only) or the generic
//    `{ len family data }` sockaddr, getpeername. The kernel zeroes omitted struct fields;
//    the model is stricter and rejects a struct that does not give every field, in order,
//    because an omitted field is always a generator bug (settimeouts without active = 0).
//  - Traffic: ifaceN data goes to outN and back; a missing partner hook drops it. An
//    interface passes traffic when its ether node has no hooks, or lower and upper go to the
//    iface/out pair of the same number on one netflow node.
//  - ngctl -f skips lines starting with '#' and (like the versions the notes cite) goes on
//    after a failing line.
//  - ipfw rules: `add N ACTION ...`, `delete N` (all rules with that number), `list N`.
//    A `netgraph` action diverts packets into a node with no return path (recorded as a
//    violation: traffic would be dropped); `ngtee` copies.
#ifndef NF_TESTS_NGNETFLOW_NETGRAPH_MODEL_H_
#define NF_TESTS_NGNETFLOW_NETGRAPH_MODEL_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace nf::ng::model {

enum class NodeType { kEther, kNetflow, kKsocket, kIpfw };
absl::string_view NodeTypeName(NodeType type);

struct HookEnd {
  uint32_t node = 0;
  std::string hook;
};

struct Node {
  uint32_t id = 0;
  NodeType type = NodeType::kEther;
  std::string name;  // empty: unnamed
  std::map<std::string, HookEnd> hooks;
  // ng_ether: the interface it belongs to.
  std::string interface;
  // ng_netflow state (defaults as in the kernel).
  std::map<int, uint32_t> conf;  // absent: 1 (ingress)
  std::map<int, int> dlt;        // absent: 1 (DLT_EN10MB)
  std::map<int, int64_t> ifindex;
  bool timeouts_set = false, template_set = false, mtu_set = false;
  int64_t inactive = 15, active = 1800, template_time = 600, template_packets = 500, mtu = 1500;
  // ng_ksocket state.
  int family = 0;  // 2 inet, 28 inet6
  bool bound = false, connected = false;
  std::string bound_to, connected_to;  // normalised "ADDR port P"
};

struct IpfwRule {
  int number = 0;
  std::string body;  // everything after the number
};

enum class Traffic { kPasses, kAccounted, kCutOff, kNoSuchInterface };

class Netgraph {
 public:
  Netgraph();

  // The machine: interfaces (Ethernet or not) and kernel modules.
  void AddInterface(const std::string& name, bool ethernet);
  bool HasInterface(absl::string_view name) const;
  // Loads a module (and its dependencies: ng_* need netgraph, ng_ipfw needs ipfw). Loading
  // ipfw without `ipfw_preloaded` is recorded as a violation (default deny).
  void LoadModule(const std::string& module);
  bool ModuleLoaded(absl::string_view module) const;

  // One ngctl command line (mkpeer, connect, name, msg, shutdown, rmhook, show, info, list).
  // `reply` (optional) receives what ngctl would print.
  absl::Status Execute(absl::string_view line, std::string* reply = nullptr);
  // `ngctl -f`: '#' lines skipped; goes on after an error; returns the first error with its
  // line number.
  absl::Status ExecuteBatch(absl::string_view text);

  // ipfw(8) subset: add, delete, list. Arguments as on the command line, without "-q".
  absl::Status Ipfw(const std::vector<std::string>& args, std::string* reply = nullptr);
  const std::vector<IpfwRule>& ipfw_rules() const { return ipfw_rules_; }

  // State queries.
  const Node* FindNode(absl::string_view name) const;
  const Node* NodeById(uint32_t id) const;
  int CountNodes(NodeType type) const;
  Traffic InterfaceTraffic(absl::string_view interface, std::string* why = nullptr) const;
  // OK when the netflow node `node` exists, its export9 hook leads to a connected ksocket,
  // and timeouts, template and mtu were set explicitly.
  absl::Status CheckExporting(absl::string_view node) const;
  // Things the notes say must never happen (shutdown ipfw:, divert without return path...).
  const std::vector<std::string>& violations() const { return violations_; }
  std::vector<std::string> NodeNames() const;

  bool ipfw_preloaded = false;  // the host's firewall loaded ipfw.ko itself

 private:
  absl::StatusOr<uint32_t> Resolve(absl::string_view path) const;
  absl::Status CheckHookName(const Node& node, absl::string_view hook) const;
  void Disconnect(uint32_t node, const std::string& hook);
  void RemoveNode(uint32_t id);
  void MaybeReap(uint32_t id);
  uint32_t NewNode(NodeType type);
  absl::Status Message(Node& node, const std::vector<std::string>& words, std::string* reply);
  absl::Status NetflowMessage(Node& node, const std::string& cmd, absl::string_view args,
                              std::string* reply);
  absl::Status KsocketMessage(Node& node, const std::string& cmd, absl::string_view args,
                              std::string* reply);
  std::string InfoLine(const Node& node) const;

  uint32_t next_id_ = 1;
  std::map<uint32_t, Node> nodes_;
  std::map<std::string, bool> interfaces_;  // name -> ethernet
  std::set<std::string> modules_;
  std::vector<IpfwRule> ipfw_rules_;
  std::vector<std::string> violations_;
};

}  // namespace nf::ng::model

#endif  // NF_TESTS_NGNETFLOW_NETGRAPH_MODEL_H_
