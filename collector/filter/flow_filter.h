// Record selection in nfdump's filter language (`flowcollect -f 'proto tcp and dst port 443'`).
//
// The expression is compiled once into a flat tree of typed tests over DecodedRecord fields;
// Matches() walks it with short-circuit and/or, so a record costs a few comparisons and no
// allocation or string work. The language, what each term means (nfdump's semantics, surprises
// included, such as `port` matching either side and `duration` counting milliseconds) and what
// is left out of nfdump's syntax are in docs/filters.md.
#ifndef NF_COLLECTOR_FILTER_FLOW_FILTER_H_
#define NF_COLLECTOR_FILTER_FLOW_FILTER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "collector/decode/decoded_record.h"

namespace nf {

class FlowFilter {
 public:
  // Compiles `expression`. Keywords are case-insensitive, `#` starts a comment to the end of the
  // line. An empty expression (or only whitespace and comments) matches every record. Errors are
  // InvalidArgument with the 1-based character position and what was expected, e.g.
  // "at 17: expected a port number after 'dst port'".
  static absl::StatusOr<FlowFilter> Compile(absl::string_view expression);

  // Matches every record.
  FlowFilter();

  bool Matches(const DecodedRecord& r) const;

  // True for a filter that selects everything (callers skip it on the record path).
  bool matches_all() const { return nodes_.empty(); }
  // The expression uses `src|dst country`/`geo` terms (they need --geo-db), or interface names
  // (they need --interfaces): the caller refuses the filter without the source.
  bool uses_country() const { return uses_country_; }
  bool uses_interface_names() const { return uses_interface_names_; }

  // The compiled tree in a canonical, fully parenthesized form (tests and -v).
  std::string DebugString() const;

  // Implementation types, public so the .cc's helpers can name them.
  //
  // One test or connective of the compiled tree. And/or nodes own `count` children stored
  // contiguously from nodes_[first]; not has one child at nodes_[first]. Leaves test one
  // record field: against `value`, or against a sorted run of addresses_/numbers_ from `first`,
  // or names_[first].
  struct Node {
    enum Kind : uint8_t {
      kAnd,
      kOr,
      kNot,
      kTrue,           // `any`
      kCompare,        // field <cmp> value
      kFlagsAll,       // TCP and every flag in value set
      kFlagsAny,       // TCP and any flag in value set (a flags term under an odd number of nots)
      kAddress,        // address field == addresses_[first]
      kNet,            // (address field & addresses_[first + 1]) == addresses_[first]
      kAddressList,    // address field within one of `count` prefixes from addresses_[first]
      kNumberList,     // field value among `count` sorted numbers_ from first
      kCountry,        // country field == the two letters in value
      kInterfaceName,  // interface name field == names_[first]
    };
    enum Field : uint8_t {
      kNone,
      // Numbers.
      kIpVersion,
      kProtocol,
      kTos,
      kSrcPort,
      kDstPort,
      kIcmpType,  // ICMP and ICMPv6 only
      kIcmpCode,
      kTcpFlags,  // TCP only, low 8 bits
      kSrcAs,
      kDstAs,
      kSrcMask,
      kDstMask,
      kVlan,
      kInputIf,
      kOutputIf,
      kPackets,
      kBytes,
      kOutPackets,
      kOutBytes,
      kFlows,
      kDuration,  // milliseconds
      kPps,
      kBps,
      kBpp,
      kDirection,
      kEngineType,
      kEngineId,
      kSourceId,
      kSampling,
      kVersion,
      // Firewall and NAT events.
      kFwEvent,
      kFwExtEvent,
      kNatEvent,
      kPostNatSrcPort,
      kPostNatDstPort,
      kIngressVrf,
      kEgressVrf,
      // Addresses.
      kSrcAddr,
      kDstAddr,
      kNextHop,
      kExporter,
      kPostNatSrcAddr,
      kPostNatDstAddr,
      // Enrichment.
      kSrcCountry,
      kDstCountry,
      kInputIfName,
      kOutputIfName,
    };
    enum Cmp : uint8_t { kEq, kLt, kGt, kLe, kGe };

    Kind kind = kTrue;
    Field field = kNone;
    Cmp cmp = kEq;
    uint32_t first = 0;
    uint32_t count = 0;
    uint64_t value = 0;
  };

 private:
  friend class FilterCompiler;  // flow_filter_compile.cc fills the members

  bool Eval(uint32_t index, const DecodedRecord& r) const;
  bool AddressListContains(const Node& n, const IpAddress& a) const;
  void AppendDebug(uint32_t index, std::string& out) const;

  std::vector<Node> nodes_;  // nodes_[0] is the root; children by index
  // Constants too large for a node (address lists, port and AS sets, interface names), sorted
  // where the node searches them.
  std::vector<IpAddress> addresses_;
  std::vector<uint8_t> prefix_lengths_;  // parallel to addresses_ (list entries' lengths)
  std::vector<uint32_t> numbers_;
  std::vector<std::string> names_;
  bool uses_country_ = false;
  bool uses_interface_names_ = false;
};

}  // namespace nf

#endif  // NF_COLLECTOR_FILTER_FLOW_FILTER_H_
