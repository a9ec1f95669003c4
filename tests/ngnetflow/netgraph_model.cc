// Implementation of the test-only netgraph model; see netgraph_model.h for the facts encoded.
#include "tests/ngnetflow/netgraph_model.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstdio>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace nf::ng::model {
namespace {

constexpr size_t kMaxNameLen = 31;  // NG_NODESIZ - 1
constexpr int kAfInet = 2;
constexpr int kAfInet6 = 28;

absl::Status Err(absl::string_view errno_name, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(errno_name, ": ", what));
}

std::vector<std::string> Words(absl::string_view line) {
  return absl::StrSplit(line, absl::ByAnyChar(" \t\r\n"), absl::SkipEmpty());
}

// Strict decimal (or 0x hex, as ng_parse's strtoul base 0) without sign.
std::optional<int64_t> Number(absl::string_view s) {
  int base = 10;
  if (absl::StartsWith(s, "0x") || absl::StartsWith(s, "0X")) {
    base = 16;
    s.remove_prefix(2);
  }
  if (s.empty()) return std::nullopt;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

// Parses "{ f1=v1 f2=[ a b ] ... }" and insists on exactly `fields`, in that order.
absl::StatusOr<std::map<std::string, std::vector<std::string>>> ParseStruct(
    absl::string_view args, const std::vector<std::string>& fields) {
  std::vector<std::string> w = Words(args);
  if (w.size() < 2 || w.front() != "{" || w.back() != "}") {
    return Err("EINVAL", absl::StrCat("expected a struct { ... }, got '", args, "'"));
  }
  std::map<std::string, std::vector<std::string>> out;
  std::vector<std::string> order;
  for (size_t i = 1; i + 1 < w.size(); ++i) {
    const size_t eq = w[i].find('=');
    if (eq == std::string::npos)
      return Err("EINVAL", absl::StrCat("bad struct field '", w[i], "'"));
    const std::string name = w[i].substr(0, eq);
    std::string value = w[i].substr(eq + 1);
    std::vector<std::string> values;
    if (value == "[") {
      ++i;
      while (i + 1 < w.size() && w[i] != "]") values.push_back(w[i++]);
      if (i + 1 >= w.size()) return Err("EINVAL", "unterminated array");
    } else {
      values.push_back(value);
    }
    if (out.count(name) != 0) return Err("EINVAL", absl::StrCat("field ", name, " given twice"));
    out[name] = values;
    order.push_back(name);
  }
  if (order != fields) {
    return Err("EINVAL (model)",
               absl::StrCat("struct must give every field in order {", absl::StrJoin(fields, " "),
                            "} (the kernel would silently zero omitted ones), got {",
                            absl::StrJoin(order, " "), "}"));
  }
  return out;
}

absl::StatusOr<int64_t> Field(const std::map<std::string, std::vector<std::string>>& s,
                              const std::string& name, int64_t max) {
  auto it = s.find(name);
  if (it == s.end() || it->second.size() != 1) return Err("EINVAL", absl::StrCat("bad ", name));
  auto v = Number(it->second[0]);
  if (!v || *v > max) {
    return Err("EINVAL", absl::StrCat(name, "=", it->second[0], " does not fit its type"));
  }
  return *v;
}

// "ifaceN"/"outN" -> N if N is decimal without leading zeros and < 65535.
std::optional<int> HookNumber(absl::string_view hook, absl::string_view prefix) {
  if (!absl::ConsumePrefix(&hook, prefix)) return std::nullopt;
  if (hook.empty() || (hook.size() > 1 && hook[0] == '0')) return std::nullopt;
  for (char c : hook) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  auto n = Number(hook);
  if (!n || *n > 65534) return std::nullopt;
  return static_cast<int>(*n);
}

bool ValidNodeName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxNameLen) return false;
  for (char c : name) {
    if (c == '.' || c == ':' || c == '[' || c == ']' ||
        absl::ascii_isspace(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

std::string EtherName(absl::string_view ifname) {
  std::string n(ifname);
  for (char& c : n) {
    if (c == '.' || c == ':') c = '_';
  }
  return n;
}

// ng_ksocket's sockaddr text: "inet/A.B.C.D[:P]" or "{ len family data=[...] }".
// Returns family and a normalised "ADDR port P" text.
absl::StatusOr<std::pair<int, std::string>> ParseSockaddr(absl::string_view args) {
  args = absl::StripAsciiWhitespace(args);
  if (absl::ConsumePrefix(&args, "inet/")) {
    std::vector<std::string> hp = absl::StrSplit(args, ':');
    if (hp.size() > 2) return Err("EINVAL", "inet/ address with more than one ':'");
    std::vector<std::string> q = absl::StrSplit(hp[0], '.');
    if (q.size() != 4) return Err("EINVAL", absl::StrCat("bad inet address '", hp[0], "'"));
    for (const std::string& o : q) {
      int v = 0;
      if (!absl::SimpleAtoi(o, &v) || v < 0 || v > 255) return Err("EINVAL", "bad octet");
    }
    int port = 0;
    if (hp.size() == 2 && (!absl::SimpleAtoi(hp[1], &port) || port < 0 || port > 65535)) {
      return Err("EINVAL", "bad port");
    }
    return std::make_pair(kAfInet, absl::StrCat(hp[0], " port ", port));
  }
  if (absl::StartsWith(args, "inet6/")) {
    // ng_ksocket has no ASCII form for inet6 (it is #if 0 in ng_ksocket_sockaddr_parse).
    return Err("EINVAL", "ng_ksocket cannot parse inet6/ addresses; use the generic form");
  }
  auto s = ParseStruct(args, {"len", "family", "data"});
  if (!s.ok()) return s.status();
  auto len = Field(*s, "len", 255);
  auto family = Field(*s, "family", 255);
  if (!len.ok()) return len.status();
  if (!family.ok()) return family.status();
  const std::vector<std::string>& data = s->at("data");
  if (static_cast<int64_t>(data.size()) != *len - 2) {
    return Err("EINVAL", absl::StrCat("data has ", data.size(), " bytes but len=", *len));
  }
  std::vector<int> bytes;
  for (const std::string& d : data) {
    auto v = Number(d);
    if (!v || *v > 255) return Err("EINVAL", absl::StrCat("bad byte '", d, "'"));
    bytes.push_back(static_cast<int>(*v));
  }
  if (*family == kAfInet6) {
    if (*len != 28) return Err("EINVAL", "sockaddr_in6 must have len=28");
    unsigned char raw[16];
    for (int i = 0; i < 16; ++i) raw[i] = static_cast<unsigned char>(bytes[6 + i]);
    char text[INET6_ADDRSTRLEN];
    if (inet_ntop(AF_INET6, raw, text, sizeof text) == nullptr) return Err("EINVAL", "bad address");
    return std::make_pair(kAfInet6, absl::StrCat(text, " port ", bytes[0] * 256 + bytes[1]));
  }
  return std::make_pair(static_cast<int>(*family), std::string("generic"));
}

}  // namespace

absl::string_view NodeTypeName(NodeType type) {
  switch (type) {
    case NodeType::kEther:
      return "ether";
    case NodeType::kNetflow:
      return "netflow";
    case NodeType::kKsocket:
      return "ksocket";
    case NodeType::kIpfw:
      return "ipfw";
  }
  return "?";
}

Netgraph::Netgraph() = default;

void Netgraph::AddInterface(const std::string& name, bool ethernet) {
  interfaces_[name] = ethernet;
  if (ethernet && ModuleLoaded("ng_ether")) {
    Node& n = nodes_[NewNode(NodeType::kEther)];
    n.name = EtherName(name);
    n.interface = name;
  }
}

bool Netgraph::HasInterface(absl::string_view name) const {
  return interfaces_.count(std::string(name)) != 0;
}

void Netgraph::LoadModule(const std::string& module) {
  if (ModuleLoaded(module)) return;
  if (absl::StartsWith(module, "ng_")) LoadModule("netgraph");
  if (module == "ng_ipfw") LoadModule("ipfw");
  if (module == "ipfw" && !ipfw_preloaded) {
    violations_.push_back("ipfw.ko loaded by the setup: default deny until a ruleset is in place");
  }
  modules_.insert(module);
  if (module == "ng_ether") {
    // ng_ether attaches a node to every existing Ethernet interface.
    for (const auto& [name, ethernet] : interfaces_) {
      if (!ethernet) continue;
      Node& n = nodes_[NewNode(NodeType::kEther)];
      n.name = EtherName(name);
      n.interface = name;
    }
  }
  if (module == "ng_ipfw") {
    Node& n = nodes_[NewNode(NodeType::kIpfw)];
    n.name = "ipfw";
  }
}

bool Netgraph::ModuleLoaded(absl::string_view module) const {
  return modules_.count(std::string(module)) != 0;
}

uint32_t Netgraph::NewNode(NodeType type) {
  const uint32_t id = next_id_++;
  Node& n = nodes_[id];
  n.id = id;
  n.type = type;
  return id;
}

const Node* Netgraph::FindNode(absl::string_view name) const {
  for (const auto& [id, n] : nodes_) {
    if (!n.name.empty() && n.name == name) return &n;
  }
  return nullptr;
}

const Node* Netgraph::NodeById(uint32_t id) const {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : &it->second;
}

int Netgraph::CountNodes(NodeType type) const {
  int count = 0;
  for (const auto& [id, n] : nodes_) count += n.type == type ? 1 : 0;
  return count;
}

std::vector<std::string> Netgraph::NodeNames() const {
  std::vector<std::string> out;
  for (const auto& [id, n] : nodes_) {
    out.push_back(n.name.empty() ? absl::StrCat("[", id, "]") : n.name);
  }
  return out;
}

absl::StatusOr<uint32_t> Netgraph::Resolve(absl::string_view path) const {
  const size_t colon = path.find(':');
  if (colon == absl::string_view::npos) {
    return Err("EINVAL (model)",
               absl::StrCat("only absolute paths NODE:[HOOK] are modelled: '", path, "'"));
  }
  absl::string_view node = path.substr(0, colon);
  absl::string_view hook = path.substr(colon + 1);
  uint32_t id = 0;
  if (absl::StartsWith(node, "[") && absl::EndsWith(node, "]")) {
    auto v = Number(absl::StrCat("0x", node.substr(1, node.size() - 2)));
    if (!v || nodes_.count(static_cast<uint32_t>(*v)) == 0) {
      return Err("ENOENT", absl::StrCat("no node ", node));
    }
    id = static_cast<uint32_t>(*v);
  } else {
    const Node* n = FindNode(node);
    if (n == nullptr) return Err("ENOENT", absl::StrCat("No such file or directory: ", node, ":"));
    id = n->id;
  }
  if (!hook.empty()) {
    const Node& n = nodes_.at(id);
    auto it = n.hooks.find(std::string(hook));
    if (it == n.hooks.end()) {
      return Err("ENOENT", absl::StrCat("No such file or directory: ", path));
    }
    id = it->second.node;
  }
  return id;
}

absl::Status Netgraph::CheckHookName(const Node& node, absl::string_view hook) const {
  if (hook.empty() || hook.size() > 31) return Err("EINVAL", "bad hook name length");
  if (node.hooks.count(std::string(hook)) != 0) {
    return Err("EEXIST", absl::StrCat("hook ", hook, " already exists on ", NodeTypeName(node.type),
                                      " node"));
  }
  switch (node.type) {
    case NodeType::kEther:
      if (hook != "lower" && hook != "upper" && hook != "orphans") {
        return Err("EINVAL", absl::StrCat("ng_ether has no hook '", hook, "'"));
      }
      if ((hook == "lower" && node.hooks.count("orphans")) ||
          (hook == "orphans" && node.hooks.count("lower"))) {
        return Err("EISCONN", "lower and orphans are exclusive");
      }
      return absl::OkStatus();
    case NodeType::kNetflow:
      if (hook == "export" || hook == "export9") return absl::OkStatus();
      if (HookNumber(hook, "iface") || HookNumber(hook, "out")) return absl::OkStatus();
      return Err("EINVAL", absl::StrCat("ng_netflow rejects hook '", hook,
                                        "' (ifaceN/outN without leading zeros, export, export9)"));
    case NodeType::kKsocket: {
      if (!node.hooks.empty()) return Err("EISCONN", "a ksocket node has only one hook");
      std::vector<std::string> parts = absl::StrSplit(hook, '/');
      if (parts.size() != 3) return Err("EINVAL", "ksocket hook must be family/type/proto");
      int family = 0;
      if (parts[0] == "inet") {
        family = kAfInet;
      } else if (parts[0] == "inet6") {
        family = kAfInet6;
      } else if (parts[0] != "local") {
        return Err("EINVAL", absl::StrCat("unknown family ", parts[0]));
      }
      if (parts[1] != "dgram" && parts[1] != "stream" && parts[1] != "raw") {
        return Err("EINVAL", absl::StrCat("unknown socket type ", parts[1]));
      }
      // Protocol aliases (udp, tcp, ...) are only defined for PF_INET; otherwise a number.
      const bool alias = parts[2] == "udp" || parts[2] == "tcp" || parts[2] == "ip";
      if (alias && family != kAfInet) {
        return Err("EINVAL", absl::StrCat("protocol alias '", parts[2], "' does not exist for ",
                                          parts[0], " (use the protocol number)"));
      }
      if (!alias && !Number(parts[2])) return Err("EINVAL", "bad protocol");
      return absl::OkStatus();
    }
    case NodeType::kIpfw: {
      auto n = Number(hook);
      if (!n || *n < 1 || *n > 65535 || hook[0] == '0') {
        return Err("EINVAL", absl::StrCat("ng_ipfw hooks are numbers 1..65535, not '", hook, "'"));
      }
      return absl::OkStatus();
    }
  }
  return Err("EINVAL", "unknown node type");
}

void Netgraph::Disconnect(uint32_t id, const std::string& hook) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return;
  auto h = it->second.hooks.find(hook);
  if (h == it->second.hooks.end()) return;
  const HookEnd peer = h->second;
  it->second.hooks.erase(h);
  auto p = nodes_.find(peer.node);
  if (p != nodes_.end()) p->second.hooks.erase(peer.hook);
  MaybeReap(id);
  MaybeReap(peer.node);
}

void Netgraph::MaybeReap(uint32_t id) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return;
  const Node& n = it->second;
  // ng_netflow shuts down with its last hook; ng_ksocket with its only hook.
  if ((n.type == NodeType::kNetflow || n.type == NodeType::kKsocket) && n.hooks.empty()) {
    nodes_.erase(it);
  }
}

void Netgraph::RemoveNode(uint32_t id) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return;
  std::vector<std::string> hooks;
  for (const auto& [h, end] : it->second.hooks) hooks.push_back(h);
  const NodeType type = it->second.type;
  for (const std::string& h : hooks) Disconnect(id, h);
  // ng_ether nodes are persistent: shutdown only resets them.
  if (type != NodeType::kEther) nodes_.erase(id);
}

std::string Netgraph::InfoLine(const Node& n) const {
  char buf[200];
  std::snprintf(buf, sizeof buf, "  Name: %-15s Type: %-15s ID: %08x   Num hooks: %d\n",
                n.name.empty() ? "<unnamed>" : n.name.c_str(),
                std::string(NodeTypeName(n.type)).c_str(), n.id, static_cast<int>(n.hooks.size()));
  return buf;
}

absl::Status Netgraph::ExecuteBatch(absl::string_view text) {
  absl::Status first = absl::OkStatus();
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    if (!line.empty() && line[0] == '#') continue;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    absl::Status s = Execute(line);
    if (!s.ok() && first.ok()) {
      first =
          absl::InvalidArgumentError(absl::StrCat("line ", line_no, ": ", line, ": ", s.message()));
    }
  }
  return first;
}

absl::Status Netgraph::Execute(absl::string_view line, std::string* reply) {
  std::vector<std::string> w = Words(line);
  if (w.empty()) return absl::OkStatus();
  const std::string& cmd = w[0];
  if (cmd == "mkpeer") {
    if (w.size() != 5) return Err("EINVAL (model)", "mkpeer PATH TYPE HOOK PEERHOOK expected");
    auto from = Resolve(w[1]);
    if (!from.ok()) return from.status();
    NodeType type;
    if (w[2] == "netflow") {
      type = NodeType::kNetflow;
    } else if (w[2] == "ksocket") {
      type = NodeType::kKsocket;
    } else {
      return Err("EINVAL", absl::StrCat("mkpeer cannot create a node of type ", w[2]));
    }
    if (!ModuleLoaded(absl::StrCat("ng_", w[2])))
      LoadModule(absl::StrCat("ng_", w[2]));  // autoload
    if (auto s = CheckHookName(nodes_.at(*from), w[3]); !s.ok()) return s;
    Node probe;
    probe.type = type;
    if (auto s = CheckHookName(probe, w[4]); !s.ok()) return s;
    const uint32_t id = NewNode(type);
    Node& n = nodes_.at(id);
    if (type == NodeType::kKsocket)
      n.family = absl::StartsWith(w[4], "inet6/") ? kAfInet6 : kAfInet;
    nodes_.at(*from).hooks[w[3]] = HookEnd{id, w[4]};
    n.hooks[w[4]] = HookEnd{*from, w[3]};
    return absl::OkStatus();
  }
  if (cmd == "connect") {
    if (w.size() != 5) return Err("EINVAL (model)", "connect PATH PATH HOOK PEERHOOK expected");
    auto a = Resolve(w[1]);
    if (!a.ok()) return a.status();
    auto b = Resolve(w[2]);
    if (!b.ok()) return b.status();
    if (*a == *b) return Err("EINVAL", "cannot connect a node to itself");
    if (auto s = CheckHookName(nodes_.at(*a), w[3]); !s.ok()) return s;
    if (auto s = CheckHookName(nodes_.at(*b), w[4]); !s.ok()) return s;
    nodes_.at(*a).hooks[w[3]] = HookEnd{*b, w[4]};
    nodes_.at(*b).hooks[w[4]] = HookEnd{*a, w[3]};
    return absl::OkStatus();
  }
  if (cmd == "name") {
    if (w.size() != 3) return Err("EINVAL (model)", "name PATH NAME expected");
    auto id = Resolve(w[1]);
    if (!id.ok()) return id.status();
    if (!ValidNodeName(w[2])) return Err("EINVAL", absl::StrCat("invalid node name '", w[2], "'"));
    const Node* other = FindNode(w[2]);
    if (other != nullptr && other->id != *id) {
      return Err("EADDRINUSE", absl::StrCat("node name ", w[2], " is taken"));
    }
    nodes_.at(*id).name = w[2];
    return absl::OkStatus();
  }
  if (cmd == "shutdown") {
    if (w.size() != 2) return Err("EINVAL (model)", "shutdown PATH expected");
    auto id = Resolve(w[1]);
    if (!id.ok()) return id.status();
    if (nodes_.at(*id).type == NodeType::kIpfw) {
      violations_.push_back("shutdown of the ipfw: node (only reloading ng_ipfw recreates it)");
    }
    RemoveNode(*id);
    return absl::OkStatus();
  }
  if (cmd == "rmhook") {
    if (w.size() != 3) return Err("EINVAL (model)", "rmhook PATH HOOK expected");
    auto id = Resolve(w[1]);
    if (!id.ok()) return id.status();
    if (nodes_.at(*id).hooks.count(w[2]) == 0) {
      return Err("ENOENT", absl::StrCat("no hook ", w[2]));
    }
    Disconnect(*id, w[2]);
    return absl::OkStatus();
  }
  if (cmd == "msg") {
    if (w.size() < 3) return Err("EINVAL (model)", "msg PATH CMD [ARGS] expected");
    auto id = Resolve(w[1]);
    if (!id.ok()) return id.status();
    return Message(nodes_.at(*id), w, reply);
  }
  if (cmd == "info" || cmd == "show") {
    if (w.size() != 2) return Err("EINVAL (model)", "info/show PATH expected");
    auto id = Resolve(w[1]);
    if (!id.ok()) return id.status();
    const Node& n = nodes_.at(*id);
    // ngctl's `info` is an alias of `show`: both list the hooks.
    std::string out = InfoLine(n);
    if (!n.hooks.empty()) {
      out += "  Local hook      Peer name       Peer type    Peer ID         Peer hook      \n";
      out += "  ----------      ---------       ---------    -------         ---------      \n";
      for (const auto& [hook, end] : n.hooks) {
        const Node& p = nodes_.at(end.node);
        char buf[200];
        std::snprintf(buf, sizeof buf, "  %-15s %-15s %-12s %08x        %-15s\n", hook.c_str(),
                      p.name.empty() ? "<unnamed>" : p.name.c_str(),
                      std::string(NodeTypeName(p.type)).c_str(), p.id, end.hook.c_str());
        out += buf;
      }
    }
    if (reply != nullptr) *reply = out;
    return absl::OkStatus();
  }
  if (cmd == "list") {
    std::string out = absl::StrCat("There are ", nodes_.size(), " total nodes:\n");
    for (const auto& [id, n] : nodes_) out += InfoLine(n);
    if (reply != nullptr) *reply = out;
    return absl::OkStatus();
  }
  return Err("EINVAL (model)", absl::StrCat("unknown ngctl command '", cmd, "'"));
}

absl::Status Netgraph::Message(Node& node, const std::vector<std::string>& words,
                               std::string* reply) {
  const std::string& cmd = words[2];
  std::string args;
  for (size_t i = 3; i < words.size(); ++i) absl::StrAppend(&args, i == 3 ? "" : " ", words[i]);
  switch (node.type) {
    case NodeType::kNetflow:
      return NetflowMessage(node, cmd, args, reply);
    case NodeType::kKsocket:
      return KsocketMessage(node, cmd, args, reply);
    default:
      return Err("EINVAL", absl::StrCat(NodeTypeName(node.type), " node: no message ", cmd));
  }
}

absl::Status Netgraph::NetflowMessage(Node& node, const std::string& cmd, absl::string_view args,
                                      std::string* reply) {
  auto iface_connected = [&](int64_t i) { return node.hooks.count(absl::StrCat("iface", i)) != 0; };
  if (cmd == "info" || cmd == "v9info") {
    if (!args.empty()) return Err("EINVAL", absl::StrCat(cmd, " takes no arguments"));
    if (reply != nullptr) {
      *reply = cmd == "info"
                   ? absl::StrCat("Rec'd response \"info\" (0) from \"[", node.id,
                                  "]:\":\nArgs:\t{ nfinfo_inact_t=", node.inactive,
                                  " nfinfo_act_t=", node.active, " }\n")
                   : absl::StrCat("Rec'd response \"v9info\" (0) from \"[", node.id,
                                  "]:\":\nArgs:\t{ templ_packets=", node.template_packets,
                                  " templ_time=", node.template_time, " mtu=", node.mtu, " }\n");
    }
    return absl::OkStatus();
  }
  if (cmd == "ifinfo") {
    auto n = Number(args);
    if (!n || !iface_connected(*n)) return Err("EINVAL", "ifinfo: no such iface");
    if (reply != nullptr) *reply = "Rec'd response \"ifinfo\"\n";
    return absl::OkStatus();
  }
  if (cmd == "setdlt") {
    auto s = ParseStruct(args, {"iface", "dlt"});
    if (!s.ok()) return s.status();
    auto iface = Field(*s, "iface", 65535);
    auto dlt = Field(*s, "dlt", 255);
    if (!iface.ok()) return iface.status();
    if (!dlt.ok()) return dlt.status();
    if (!iface_connected(*iface)) return Err("EINVAL", "setdlt: ifaceN is not connected");
    if (*dlt != 1 && *dlt != 12) return Err("EINVAL", "setdlt: dlt must be 1 or 12");
    node.dlt[static_cast<int>(*iface)] = static_cast<int>(*dlt);
    return absl::OkStatus();
  }
  if (cmd == "setifindex") {
    auto s = ParseStruct(args, {"iface", "index"});
    if (!s.ok()) return s.status();
    auto iface = Field(*s, "iface", 65535);
    auto index = Field(*s, "index", 65535);
    if (!iface.ok()) return iface.status();
    if (!index.ok()) return index.status();
    if (!iface_connected(*iface)) return Err("EINVAL", "setifindex: ifaceN is not connected");
    node.ifindex[static_cast<int>(*iface)] = *index;
    return absl::OkStatus();
  }
  if (cmd == "settimeouts") {
    auto s = ParseStruct(args, {"inactive", "active"});
    if (!s.ok()) return s.status();
    auto inactive = Field(*s, "inactive", 4294967295LL);
    auto active = Field(*s, "active", 4294967295LL);
    if (!inactive.ok()) return inactive.status();
    if (!active.ok()) return active.status();
    node.inactive = *inactive;
    node.active = *active;
    node.timeouts_set = true;
    return absl::OkStatus();
  }
  if (cmd == "setconfig") {
    auto s = ParseStruct(args, {"iface", "conf"});
    if (!s.ok()) return s.status();
    auto iface = Field(*s, "iface", 65535);
    auto conf = Field(*s, "conf", 4294967295LL);
    if (!iface.ok()) return iface.status();
    if (!conf.ok()) return conf.status();
    node.conf[static_cast<int>(*iface)] = static_cast<uint32_t>(*conf);  // replaces the mask
    return absl::OkStatus();
  }
  if (cmd == "settemplate") {
    auto s = ParseStruct(args, {"time", "packets"});
    if (!s.ok()) return s.status();
    auto time = Field(*s, "time", 65535);
    auto packets = Field(*s, "packets", 65535);
    if (!time.ok()) return time.status();
    if (!packets.ok()) return packets.status();
    node.template_time = *time;
    node.template_packets = *packets;
    node.template_set = true;
    return absl::OkStatus();
  }
  if (cmd == "setmtu") {
    auto s = ParseStruct(args, {"mtu"});
    if (!s.ok()) return s.status();
    auto mtu = Field(*s, "mtu", 65535);
    if (!mtu.ok()) return mtu.status();
    if (*mtu < 24 || *mtu > 16384) return Err("EINVAL", "setmtu: 24..16384");
    if (*mtu < 65) violations_.push_back("setmtu below 65: no datagram is ever considered full");
    node.mtu = *mtu;
    node.mtu_set = true;
    return absl::OkStatus();
  }
  return Err("EINVAL", absl::StrCat("ng_netflow has no message '", cmd, "'"));
}

absl::Status Netgraph::KsocketMessage(Node& node, const std::string& cmd, absl::string_view args,
                                      std::string* reply) {
  if (cmd == "bind" || cmd == "connect") {
    auto sa = ParseSockaddr(args);
    if (!sa.ok()) return sa.status();
    if (sa->first != node.family) {
      return Err("EAFNOSUPPORT", absl::StrCat(cmd, ": address family ", sa->first,
                                              " on a socket of family ", node.family));
    }
    if (cmd == "bind") {
      if (node.bound || node.connected) return Err("EINVAL", "socket already bound");
      node.bound = true;
      node.bound_to = sa->second;
    } else {
      if (node.connected) return Err("EISCONN", "already connected");
      node.connected = true;
      node.connected_to = sa->second;
    }
    return absl::OkStatus();
  }
  if (cmd == "getpeername") {
    if (!node.connected) return Err("ENOTCONN", "Socket is not connected");
    if (reply != nullptr)
      *reply = absl::StrCat("Rec'd response \"getpeername\": ", node.connected_to, "\n");
    return absl::OkStatus();
  }
  return Err("EINVAL", absl::StrCat("ng_ksocket has no message '", cmd, "'"));
}

absl::Status Netgraph::Ipfw(const std::vector<std::string>& args_in, std::string* reply) {
  std::vector<std::string> args;
  for (const std::string& a : args_in) {
    if (a != "-q") args.push_back(a);
  }
  if (args.empty()) return Err("EX_USAGE", "ipfw: no command");
  if (!ModuleLoaded("ipfw")) return Err("ENOENT", "ipfw is not loaded");
  auto number = [&](size_t i) -> std::optional<int> {
    if (i >= args.size()) return std::nullopt;
    auto v = Number(args[i]);
    if (!v || *v < 1 || *v > 65535) return std::nullopt;
    return static_cast<int>(*v);
  };
  if (args[0] == "add") {
    auto n = number(1);
    if (!n || args.size() < 4) return Err("EX_USAGE", "ipfw add N ACTION ...");
    std::vector<std::string> body(args.begin() + 2, args.end());
    const std::string joined = absl::StrJoin(body, " ");
    if (body[0] == "netgraph") {
      violations_.push_back(absl::StrCat(
          "ipfw 'netgraph' action diverts packets into a node without a return path: ", joined));
    } else if (body[0] != "ngtee") {
      return Err("EX_USAGE (model)", absl::StrCat("unexpected ipfw action ", body[0]));
    }
    ipfw_rules_.push_back(IpfwRule{*n, joined});
    return absl::OkStatus();
  }
  if (args[0] == "delete") {
    auto n = number(1);
    if (!n) return Err("EX_USAGE", "ipfw delete N");
    const size_t before = ipfw_rules_.size();
    std::erase_if(ipfw_rules_, [&](const IpfwRule& r) { return r.number == *n; });
    if (before == ipfw_rules_.size()) return Err("EX_UNAVAILABLE", "rule not found");
    return absl::OkStatus();
  }
  if (args[0] == "list" || args[0] == "show") {
    auto n = number(1);
    std::string out;
    for (const IpfwRule& r : ipfw_rules_) {
      if (n && r.number != *n) continue;
      char buf[16];
      std::snprintf(buf, sizeof buf, "%05d ", r.number);
      absl::StrAppend(&out, buf, r.body, "\n");
    }
    if (n && out.empty()) return Err("EX_UNAVAILABLE", "rule not found");
    if (reply != nullptr) *reply = out;
    return absl::OkStatus();
  }
  return Err("EX_USAGE (model)", absl::StrCat("ipfw command not modelled: ", args[0]));
}

Traffic Netgraph::InterfaceTraffic(absl::string_view interface, std::string* why) const {
  auto set_why = [&](std::string s) {
    if (why != nullptr) *why = std::move(s);
  };
  auto it = interfaces_.find(std::string(interface));
  if (it == interfaces_.end()) return Traffic::kNoSuchInterface;
  const Node* ether = nullptr;
  for (const auto& [id, n] : nodes_) {
    if (n.type == NodeType::kEther && n.interface == interface) ether = &n;
  }
  if (ether == nullptr || ether->hooks.empty()) {
    set_why("no netgraph hooks: normal pass-through");
    return Traffic::kPasses;
  }
  auto lower = ether->hooks.find("lower");
  auto upper = ether->hooks.find("upper");
  if (lower == ether->hooks.end() || upper == ether->hooks.end()) {
    set_why(absl::StrCat(lower == ether->hooks.end() ? "upper" : "lower",
                         " connected without its partner: one direction is cut off"));
    return Traffic::kCutOff;
  }
  if (lower->second.node != upper->second.node) {
    set_why("lower and upper lead to different nodes");
    return Traffic::kCutOff;
  }
  const Node& nf = nodes_.at(lower->second.node);
  if (nf.type != NodeType::kNetflow) {
    set_why(absl::StrCat("lower leads to a ", NodeTypeName(nf.type), " node"));
    return Traffic::kCutOff;
  }
  auto in = HookNumber(lower->second.hook, "iface");
  auto out = HookNumber(upper->second.hook, "out");
  if (!in || !out || *in != *out) {
    set_why(absl::StrCat("lower->", lower->second.hook, " and upper->", upper->second.hook,
                         " are not an ifaceN/outN pair"));
    return Traffic::kCutOff;
  }
  set_why(absl::StrCat("lower->iface", *in, "->out", *out, "->upper through ",
                       nf.name.empty() ? "an unnamed node" : nf.name));
  return Traffic::kAccounted;
}

absl::Status Netgraph::CheckExporting(absl::string_view name) const {
  const Node* nf = FindNode(name);
  if (nf == nullptr || nf->type != NodeType::kNetflow) {
    return absl::NotFoundError(absl::StrCat("no netflow node ", name));
  }
  auto ex = nf->hooks.find("export9");
  if (ex == nf->hooks.end()) return absl::FailedPreconditionError("export9 is not connected");
  const Node& ks = nodes_.at(ex->second.node);
  if (ks.type != NodeType::kKsocket)
    return absl::FailedPreconditionError("export9 is not a ksocket");
  if (!ks.connected) return absl::FailedPreconditionError("the export socket is not connected");
  if (!nf->timeouts_set) return absl::FailedPreconditionError("settimeouts was never sent");
  if (!nf->template_set) return absl::FailedPreconditionError("settemplate was never sent");
  if (!nf->mtu_set) return absl::FailedPreconditionError("setmtu was never sent");
  return absl::OkStatus();
}

}  // namespace nf::ng::model
