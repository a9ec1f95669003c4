#include "wire/v9_fields.h"

#include <algorithm>
#include <array>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace nf {
namespace {

using K = ValueKind;

// RFC 3954 section 8 (IDs 1-104, vendor-reserved IDs omitted) followed by IPFIX (RFC 7012 /
// IANA) elements seen in real v9 and IPFIX exports. Lengths: default, min and max an encoder may
// pick. Counters may be 1..8 bytes; addresses and MACs are fixed; strings are variable.
constexpr FieldInfo kFields[] = {
    {1, "IN_BYTES", "octetDeltaCount", 4, 1, 8, K::kUnsigned},
    {2, "IN_PKTS", "packetDeltaCount", 4, 1, 8, K::kUnsigned},
    {3, "FLOWS", "deltaFlowCount", 4, 1, 8, K::kUnsigned},
    {4, "PROTOCOL", "protocolIdentifier", 1, 1, 1, K::kUnsigned},
    {5, "SRC_TOS", "ipClassOfService", 1, 1, 1, K::kUnsigned},
    {6, "TCP_FLAGS", "tcpControlBits", 1, 1, 2, K::kUnsigned},
    {7, "L4_SRC_PORT", "sourceTransportPort", 2, 2, 2, K::kUnsigned},
    {8, "IPV4_SRC_ADDR", "sourceIPv4Address", 4, 4, 4, K::kIpv4},
    {9, "SRC_MASK", "sourceIPv4PrefixLength", 1, 1, 1, K::kUnsigned},
    {10, "INPUT_SNMP", "ingressInterface", 2, 1, 4, K::kUnsigned},
    {11, "L4_DST_PORT", "destinationTransportPort", 2, 2, 2, K::kUnsigned},
    {12, "IPV4_DST_ADDR", "destinationIPv4Address", 4, 4, 4, K::kIpv4},
    {13, "DST_MASK", "destinationIPv4PrefixLength", 1, 1, 1, K::kUnsigned},
    {14, "OUTPUT_SNMP", "egressInterface", 2, 1, 4, K::kUnsigned},
    {15, "IPV4_NEXT_HOP", "ipNextHopIPv4Address", 4, 4, 4, K::kIpv4},
    {16, "SRC_AS", "bgpSourceAsNumber", 2, 2, 4, K::kUnsigned},
    {17, "DST_AS", "bgpDestinationAsNumber", 2, 2, 4, K::kUnsigned},
    {18, "BGP_IPV4_NEXT_HOP", "bgpNextHopIPv4Address", 4, 4, 4, K::kIpv4},
    {19, "MUL_DST_PKTS", "postMCastPacketDeltaCount", 4, 1, 8, K::kUnsigned},
    {20, "MUL_DST_BYTES", "postMCastOctetDeltaCount", 4, 1, 8, K::kUnsigned},
    {21, "LAST_SWITCHED", "flowEndSysUpTime", 4, 4, 4, K::kUptimeMs},
    {22, "FIRST_SWITCHED", "flowStartSysUpTime", 4, 4, 4, K::kUptimeMs},
    {23, "OUT_BYTES", "postOctetDeltaCount", 4, 1, 8, K::kUnsigned},
    {24, "OUT_PKTS", "postPacketDeltaCount", 4, 1, 8, K::kUnsigned},
    {25, "MIN_PKT_LNGTH", "minimumIpTotalLength", 2, 1, 8, K::kUnsigned},
    {26, "MAX_PKT_LNGTH", "maximumIpTotalLength", 2, 1, 8, K::kUnsigned},
    {27, "IPV6_SRC_ADDR", "sourceIPv6Address", 16, 16, 16, K::kIpv6},
    {28, "IPV6_DST_ADDR", "destinationIPv6Address", 16, 16, 16, K::kIpv6},
    {29, "IPV6_SRC_MASK", "sourceIPv6PrefixLength", 1, 1, 1, K::kUnsigned},
    {30, "IPV6_DST_MASK", "destinationIPv6PrefixLength", 1, 1, 1, K::kUnsigned},
    {31, "IPV6_FLOW_LABEL", "flowLabelIPv6", 3, 3, 4, K::kUnsigned},
    {32, "ICMP_TYPE", "icmpTypeCodeIPv4", 2, 2, 2, K::kUnsigned},
    {33, "MUL_IGMP_TYPE", "igmpType", 1, 1, 1, K::kUnsigned},
    {34, "SAMPLING_INTERVAL", "samplingInterval", 4, 1, 4, K::kUnsigned},
    {35, "SAMPLING_ALGORITHM", "samplingAlgorithm", 1, 1, 1, K::kUnsigned},
    {36, "FLOW_ACTIVE_TIMEOUT", "flowActiveTimeout", 2, 2, 2, K::kUnsigned},
    {37, "FLOW_INACTIVE_TIMEOUT", "flowIdleTimeout", 2, 2, 2, K::kUnsigned},
    {38, "ENGINE_TYPE", "engineType", 1, 1, 1, K::kUnsigned},
    {39, "ENGINE_ID", "engineId", 1, 1, 1, K::kUnsigned},
    {40, "TOTAL_BYTES_EXP", "exportedOctetTotalCount", 4, 1, 8, K::kUnsigned},
    {41, "TOTAL_PKTS_EXP", "exportedMessageTotalCount", 4, 1, 8, K::kUnsigned},
    {42, "TOTAL_FLOWS_EXP", "exportedFlowRecordTotalCount", 4, 1, 8, K::kUnsigned},
    {44, "IPV4_SRC_PREFIX", "sourceIPv4Prefix", 4, 4, 4, K::kIpv4},
    {45, "IPV4_DST_PREFIX", "destinationIPv4Prefix", 4, 4, 4, K::kIpv4},
    {46, "MPLS_TOP_LABEL_TYPE", "mplsTopLabelType", 1, 1, 1, K::kUnsigned},
    {47, "MPLS_TOP_LABEL_IP_ADDR", "mplsTopLabelIPv4Address", 4, 4, 4, K::kIpv4},
    {48, "FLOW_SAMPLER_ID", "samplerId", 1, 1, 4, K::kUnsigned},
    {49, "FLOW_SAMPLER_MODE", "samplerMode", 1, 1, 1, K::kUnsigned},
    {50, "FLOW_SAMPLER_RANDOM_INTERVAL", "samplerRandomInterval", 4, 1, 4, K::kUnsigned},
    {52, "MIN_TTL", "minimumTTL", 1, 1, 1, K::kUnsigned},
    {53, "MAX_TTL", "maximumTTL", 1, 1, 1, K::kUnsigned},
    {54, "IPV4_IDENT", "fragmentIdentification", 2, 2, 4, K::kUnsigned},
    {55, "DST_TOS", "postIpClassOfService", 1, 1, 1, K::kUnsigned},
    {56, "IN_SRC_MAC", "sourceMacAddress", 6, 6, 6, K::kMac},
    {57, "OUT_DST_MAC", "postDestinationMacAddress", 6, 6, 6, K::kMac},
    {58, "SRC_VLAN", "vlanId", 2, 2, 2, K::kUnsigned},
    {59, "DST_VLAN", "postVlanId", 2, 2, 2, K::kUnsigned},
    {60, "IP_PROTOCOL_VERSION", "ipVersion", 1, 1, 1, K::kUnsigned},
    {61, "DIRECTION", "flowDirection", 1, 1, 1, K::kUnsigned},
    {62, "IPV6_NEXT_HOP", "ipNextHopIPv6Address", 16, 16, 16, K::kIpv6},
    {63, "BGP_IPV6_NEXT_HOP", "bgpNextHopIPv6Address", 16, 16, 16, K::kIpv6},
    {64, "IPV6_OPTION_HEADERS", "ipv6ExtensionHeaders", 4, 4, 4, K::kUnsigned},
    {70, "MPLS_LABEL_1", "mplsTopLabelStackSection", 3, 3, 3, K::kUnsigned},
    {71, "MPLS_LABEL_2", "mplsLabelStackSection2", 3, 3, 3, K::kUnsigned},
    {72, "MPLS_LABEL_3", "mplsLabelStackSection3", 3, 3, 3, K::kUnsigned},
    {73, "MPLS_LABEL_4", "mplsLabelStackSection4", 3, 3, 3, K::kUnsigned},
    {74, "MPLS_LABEL_5", "mplsLabelStackSection5", 3, 3, 3, K::kUnsigned},
    {75, "MPLS_LABEL_6", "mplsLabelStackSection6", 3, 3, 3, K::kUnsigned},
    {76, "MPLS_LABEL_7", "mplsLabelStackSection7", 3, 3, 3, K::kUnsigned},
    {77, "MPLS_LABEL_8", "mplsLabelStackSection8", 3, 3, 3, K::kUnsigned},
    {78, "MPLS_LABEL_9", "mplsLabelStackSection9", 3, 3, 3, K::kUnsigned},
    {79, "MPLS_LABEL_10", "mplsLabelStackSection10", 3, 3, 3, K::kUnsigned},
    {80, "IN_DST_MAC", "destinationMacAddress", 6, 6, 6, K::kMac},
    {81, "OUT_SRC_MAC", "postSourceMacAddress", 6, 6, 6, K::kMac},
    {82, "IF_NAME", "interfaceName", 0, 1, 255, K::kString},
    {83, "IF_DESC", "interfaceDescription", 0, 1, 255, K::kString},
    {84, "SAMPLER_NAME", "samplerName", 0, 1, 255, K::kString},
    {85, "IN_PERMANENT_BYTES", "octetTotalCount", 4, 1, 8, K::kUnsigned},
    {86, "IN_PERMANENT_PKTS", "packetTotalCount", 4, 1, 8, K::kUnsigned},
    {88, "FRAGMENT_OFFSET", "fragmentOffset", 2, 2, 2, K::kUnsigned},
    {89, "FORWARDING_STATUS", "forwardingStatus", 1, 1, 4, K::kUnsigned},
    {90, "MPLS_PAL_RD", "mplsVpnRouteDistinguisher", 8, 8, 8, K::kBytes},
    {91, "MPLS_PREFIX_LEN", "mplsTopLabelPrefixLength", 1, 1, 1, K::kUnsigned},
    {92, "SRC_TRAFFIC_INDEX", "srcTrafficIndex", 4, 4, 4, K::kUnsigned},
    {93, "DST_TRAFFIC_INDEX", "dstTrafficIndex", 4, 4, 4, K::kUnsigned},
    {94, "APPLICATION_DESCRIPTION", "applicationDescription", 0, 1, 255, K::kString},
    {95, "APPLICATION_TAG", "applicationId", 0, 1, 255, K::kBytes},
    {96, "APPLICATION_NAME", "applicationName", 0, 1, 255, K::kString},
    {98, "POSTIPDIFFSERVCODEPOINT", "postIpDiffServCodePoint", 1, 1, 1, K::kUnsigned},
    {99, "REPLICATION_FACTOR", "multicastReplicationFactor", 4, 4, 4, K::kUnsigned},
    {102, "LAYER2_PACKET_SECTION_OFFSET", "layer2packetSectionOffset", 2, 2, 2, K::kUnsigned},
    {103, "LAYER2_PACKET_SECTION_SIZE", "layer2packetSectionSize", 2, 2, 2, K::kUnsigned},
    {104, "LAYER2_PACKET_SECTION_DATA", "layer2packetSectionData", 0, 1, 65535, K::kBytes},
    {128, "BGP_NEXT_ADJACENT_AS", "bgpNextAdjacentAsNumber", 4, 4, 4, K::kUnsigned},
    {129, "BGP_PREV_ADJACENT_AS", "bgpPrevAdjacentAsNumber", 4, 4, 4, K::kUnsigned},
    {130, "EXPORTER_IPV4_ADDRESS", "exporterIPv4Address", 4, 4, 4, K::kIpv4},
    {131, "EXPORTER_IPV6_ADDRESS", "exporterIPv6Address", 16, 16, 16, K::kIpv6},
    {136, "FLOW_END_REASON", "flowEndReason", 1, 1, 1, K::kUnsigned},
    {139, "ICMP_TYPE_IPV6", "icmpTypeCodeIPv6", 2, 2, 2, K::kUnsigned},
    {148, "FLOW_ID", "flowId", 8, 1, 8, K::kUnsigned},
    {150, "FLOW_START_SEC", "flowStartSeconds", 4, 4, 4, K::kUnixSeconds},
    {151, "FLOW_END_SEC", "flowEndSeconds", 4, 4, 4, K::kUnixSeconds},
    {152, "FLOW_START_MILLISECONDS", "flowStartMilliseconds", 8, 8, 8, K::kUnixMs},
    {153, "FLOW_END_MILLISECONDS", "flowEndMilliseconds", 8, 8, 8, K::kUnixMs},
    {154, "FLOW_START_MICROSECONDS", "flowStartMicroseconds", 8, 8, 8, K::kUnixUs},
    {155, "FLOW_END_MICROSECONDS", "flowEndMicroseconds", 8, 8, 8, K::kUnixUs},
    {156, "FLOW_START_NANOSECONDS", "flowStartNanoseconds", 8, 8, 8, K::kUnixNs},
    {157, "FLOW_END_NANOSECONDS", "flowEndNanoseconds", 8, 8, 8, K::kUnixNs},
    {158, "FLOW_START_DELTA_MICROSECONDS", "flowStartDeltaMicroseconds", 4, 4, 4, K::kDeltaUs},
    {159, "FLOW_END_DELTA_MICROSECONDS", "flowEndDeltaMicroseconds", 4, 4, 4, K::kDeltaUs},
    {160, "SYSTEM_INIT_TIME_MILLISECONDS", "systemInitTimeMilliseconds", 8, 8, 8, K::kUnixMs},
    {176, "ICMP_IPV4_TYPE", "icmpTypeIPv4", 1, 1, 1, K::kUnsigned},
    {177, "ICMP_IPV4_CODE", "icmpCodeIPv4", 1, 1, 1, K::kUnsigned},
    {178, "ICMP_IPV6_TYPE", "icmpTypeIPv6", 1, 1, 1, K::kUnsigned},
    {179, "ICMP_IPV6_CODE", "icmpCodeIPv6", 1, 1, 1, K::kUnsigned},
    {192, "IP_TTL", "ipTTL", 1, 1, 1, K::kUnsigned},
    {225, "XLATE_SRC_ADDR_IPV4", "postNATSourceIPv4Address", 4, 4, 4, K::kIpv4},
    {226, "XLATE_DST_ADDR_IPV4", "postNATDestinationIPv4Address", 4, 4, 4, K::kIpv4},
    {227, "XLATE_SRC_PORT", "postNAPTSourceTransportPort", 2, 2, 2, K::kUnsigned},
    {228, "XLATE_DST_PORT", "postNAPTDestinationTransportPort", 2, 2, 2, K::kUnsigned},
    {230, "NAT_EVENT", "natEvent", 1, 1, 1, K::kUnsigned},
    {234, "INGRESS_VRFID", "ingressVRFID", 4, 4, 4, K::kUnsigned},
    {235, "EGRESS_VRFID", "egressVRFID", 4, 4, 4, K::kUnsigned},
    {243, "DOT1Q_VLAN_ID", "dot1qVlanId", 2, 2, 2, K::kUnsigned},
    {245, "DOT1Q_CUSTOMER_VLAN_ID", "dot1qCustomerVlanId", 2, 2, 2, K::kUnsigned},
    {254, "POST_DOT1Q_VLAN_ID", "postDot1qVlanId", 2, 2, 2, K::kUnsigned},
    {302, "SELECTOR_ID", "selectorId", 8, 1, 8, K::kUnsigned},
    {304, "SELECTOR_ALGORITHM", "selectorAlgorithm", 2, 1, 2, K::kUnsigned},
    {305, "SAMPLING_PACKET_INTERVAL", "samplingPacketInterval", 4, 1, 4, K::kUnsigned},
    {306, "SAMPLING_PACKET_SPACE", "samplingPacketSpace", 4, 1, 4, K::kUnsigned},
    {352, "LAYER2_OCTET_DELTA_COUNT", "layer2OctetDeltaCount", 8, 1, 8, K::kUnsigned},
};

constexpr bool SortedById() {
  for (size_t i = 1; i < std::size(kFields); ++i) {
    if (kFields[i - 1].id >= kFields[i].id) return false;
  }
  return true;
}
static_assert(SortedById(), "kFields must be sorted by ID with no duplicates");

}  // namespace

std::span<const FieldInfo> AllFields() { return kFields; }

const FieldInfo* FindField(uint16_t id) {
  auto it = std::lower_bound(std::begin(kFields), std::end(kFields), id,
                             [](const FieldInfo& f, uint16_t v) { return f.id < v; });
  if (it == std::end(kFields) || it->id != id) return nullptr;
  return &*it;
}

const FieldInfo* FindFieldByName(absl::string_view name) {
  for (const FieldInfo& f : kFields) {
    if (absl::EqualsIgnoreCase(f.name, name) ||
        (!f.ipfix_name.empty() && absl::EqualsIgnoreCase(f.ipfix_name, name))) {
      return &f;
    }
  }
  return nullptr;
}

}  // namespace nf
