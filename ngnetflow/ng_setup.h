// ng_netflow setup mode: generates (and on FreeBSD optionally runs) everything an operator
// needs to make FreeBSD's in-kernel NetFlow v9 exporter, the netgraph node ng_netflow(4),
// export the traffic of one or more interfaces to one collector.
//
// Wiring ng_netflow by hand with ngctl goes wrong in well-known ways (see
// docs/ng_netflow.md and the research notes): a half-built graph cuts an interface off,
// omitted struct fields silently become 0, VLAN names need mapping, non-Ethernet interfaces
// have no ng_ether node, IPv6 collectors need another socket form, and so on. This module
// turns validated options into text that gets all of that right:
//   ngctl       the `ngctl -f -` batch that builds the graph;
//   bootstrap   a self-contained /bin/sh script: load modules, pre-flight checks, the batch,
//               verification and a rollback on any failure;
//   rc.d        an rc.subr(8) service whose rc.conf knobs can change interfaces, collector,
//               timeouts, template refresh and MTU at boot;
//   loader.conf the module lines;
//   teardown    the `ngctl -f -` batch that removes everything again.
// Everything here is plain text generation; only RunSetup with --apply executes anything,
// and only on FreeBSD.
#ifndef NF_NGNETFLOW_NG_SETUP_H_
#define NF_NGNETFLOW_NG_SETUP_H_

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace CLI {
class App;
}  // namespace CLI

namespace nf::ng {

enum class EmitKind { kNgctl, kBootstrap, kRcd, kLoaderConf, kTeardown };
// Which packets of an interface are accounted. kBoth adds once-only accounting so a packet
// forwarded between two accounted interfaces is counted exactly once.
enum class Direction { kIngress, kEgress, kBoth };
// kEther: the interface's ng_ether node (lower/upper hooks); Ethernet-like interfaces only.
// kIpfw: ng_ipfw fed by directional `ngtee` rules; any interface type (tun, gre, wg, ng...).
enum class Method { kEther, kIpfw };

struct SetupOptions {
  // ---- Copied in by flowexport's main (it owns -i, -c and the timeout/mtu/template flags).
  std::vector<std::string> interfaces;  // in hook order: interfaces[k] -> ifaceK/outK
  std::vector<std::string> collectors;  // exactly one "IP:PORT" or "[IPv6]:PORT"
  int64_t active_timeout_s = 120;       // settimeouts active (ng default 1800 is too long)
  int64_t inactive_timeout_s = 15;      // settimeouts inactive
  int64_t mtu = 1500;                   // setmtu: the v9 datagram buffer size
  int64_t template_refresh_s = 60;      // settemplate time
  // settemplate packets. ng_netflow never advances its packet counter, so 0 (templates in
  // every datagram) is the only value with an effect; any other value means "time only".
  int64_t template_refresh_packets = 0;

  // ---- ng-specific options (AddCliOptions). Text as typed; Validate() parses it.
  std::string method_text = "ether";
  // "IFACE=ingress|egress|both" per interface, or a bare direction as the default for all.
  std::vector<std::string> direction_specs;
  std::string source_address;  // local address the export socket binds to; empty: kernel
  std::string emit_text = "bootstrap";
  bool apply = false;             // run the bootstrap now (FreeBSD only)
  bool replace_existing = false;  // bootstrap shuts down an existing node instead of refusing
  std::string node_name = "netflow";
  std::string service_name = "ng_netflow";  // rc.d script name, rcvar prefix
  int64_t ipfw_rule = 1000;                 // ipfw rule number of the ngtee rules (ipfw method)
  int64_t ipfw_hook = 9995;  // ng_ipfw hook (= ngtee cookie) the node hangs on (ipfw method)

  // ---- Filled by Validate().
  Method method = Method::kEther;
  EmitKind emit = EmitKind::kBootstrap;
  std::map<std::string, Direction> directions;  // one entry per interface
};

// Adds only the ng-specific options: --emit, --apply, --direction, --method, --source,
// --ipfw-rule, --ipfw-hook, --node-name, --service-name, --replace.
void AddCliOptions(CLI::App& app, SetupOptions& opts);

// Checks everything and fills the derived fields. Every error names the offending value and
// says what to do instead (e.g. "tun0 is not Ethernet ... use --method ipfw").
absl::Status Validate(SetupOptions& opts);

// Advice that does not block generation (long active timeout, slow template refresh...).
std::vector<std::string> Warnings(const SetupOptions& opts);

// The generated text for `kind`. `opts` must have passed Validate().
absl::StatusOr<std::string> Emit(const SetupOptions& opts, EmitKind kind);

// Parses the --emit / --method / --direction words.
absl::StatusOr<EmitKind> ParseEmitKind(absl::string_view text);
absl::StatusOr<Method> ParseMethod(absl::string_view text);
absl::StatusOr<Direction> ParseDirection(absl::string_view text);
absl::string_view EmitKindName(EmitKind kind);
absl::string_view DirectionName(Direction direction);

// The ng_ether node name of an interface: FreeBSD replaces '.' and ':' with '_'
// (vlan igb0.100 -> igb0_100).
std::string EtherNodeName(absl::string_view interface_name);

// The whole mode: validates, prints warnings to `err`, then prints opts.emit to `out`, or
// with opts.apply runs the bootstrap through /bin/sh (FreeBSD only; elsewhere a clear error).
// Returns the process exit code (0 ok, 1 runtime failure, 2 usage error).
int RunSetup(SetupOptions& opts, std::ostream& out, std::ostream& err);

}  // namespace nf::ng

#endif  // NF_NGNETFLOW_NG_SETUP_H_
