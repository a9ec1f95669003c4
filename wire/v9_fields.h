// The NetFlow v9 / IPFIX field registry: every RFC 3954 field type plus the IPFIX information
// elements that exporters commonly put in v9 templates, kept as one table.
//
// Exporter template parsing, the v9/IPFIX encoders and the collector's decoder all look fields
// up here, so every field the exporter can emit the collector can name and decode.
#ifndef NF_WIRE_V9_FIELDS_H_
#define NF_WIRE_V9_FIELDS_H_

#include <cstdint>
#include <span>
#include "absl/strings/string_view.h"

namespace nf {

// How a field's bytes are interpreted.
enum class ValueKind : uint8_t {
  kUnsigned,      // big-endian unsigned integer, reduced-size encoding allowed
  kIpv4,          // 4-byte address
  kIpv6,          // 16-byte address
  kMac,           // 6-byte MAC
  kString,        // text, possibly variable length
  kBytes,         // opaque octets
  kUptimeMs,      // v9 sysUptime-relative milliseconds (FIRST/LAST_SWITCHED)
  kUnixSeconds,   // absolute seconds (IPFIX dateTimeSeconds)
  kUnixMs,        // absolute milliseconds (IPFIX dateTimeMilliseconds)
  kUnixUs,        // NTP-format microseconds (IPFIX dateTimeMicroseconds)
  kUnixNs,        // NTP-format nanoseconds (IPFIX dateTimeNanoseconds)
  kDeltaUs,       // flowStart/EndDeltaMicroseconds relative to export time
};

struct FieldInfo {
  uint16_t id;
  // RFC 3954 name (as nProbe/tshark users know it), e.g. "IN_BYTES".
  absl::string_view name;
  // IANA IPFIX element name, e.g. "octetDeltaCount"; empty when v9-only.
  absl::string_view ipfix_name;
  // Default length on the wire; 0 means variable/"N" without a usual size.
  uint16_t default_length;
  // Smallest and largest length an encoder may choose (a decoder accepts any length).
  uint16_t min_length;
  uint16_t max_length;
  ValueKind kind;
};

// Field type IDs used by name in code.
namespace field {
inline constexpr uint16_t kInBytes = 1;
inline constexpr uint16_t kInPkts = 2;
inline constexpr uint16_t kFlows = 3;
inline constexpr uint16_t kProtocol = 4;
inline constexpr uint16_t kSrcTos = 5;
inline constexpr uint16_t kTcpFlags = 6;
inline constexpr uint16_t kL4SrcPort = 7;
inline constexpr uint16_t kIpv4SrcAddr = 8;
inline constexpr uint16_t kSrcMask = 9;
inline constexpr uint16_t kInputSnmp = 10;
inline constexpr uint16_t kL4DstPort = 11;
inline constexpr uint16_t kIpv4DstAddr = 12;
inline constexpr uint16_t kDstMask = 13;
inline constexpr uint16_t kOutputSnmp = 14;
inline constexpr uint16_t kIpv4NextHop = 15;
inline constexpr uint16_t kSrcAs = 16;
inline constexpr uint16_t kDstAs = 17;
inline constexpr uint16_t kLastSwitched = 21;
inline constexpr uint16_t kFirstSwitched = 22;
inline constexpr uint16_t kOutBytes = 23;
inline constexpr uint16_t kOutPkts = 24;
inline constexpr uint16_t kIpv6SrcAddr = 27;
inline constexpr uint16_t kIpv6DstAddr = 28;
inline constexpr uint16_t kIpv6SrcMask = 29;
inline constexpr uint16_t kIpv6DstMask = 30;
inline constexpr uint16_t kIpv6FlowLabel = 31;
inline constexpr uint16_t kIcmpType = 32;
inline constexpr uint16_t kSamplingInterval = 34;
inline constexpr uint16_t kSamplingAlgorithm = 35;
inline constexpr uint16_t kFlowActiveTimeout = 36;
inline constexpr uint16_t kFlowInactiveTimeout = 37;
inline constexpr uint16_t kEngineType = 38;
inline constexpr uint16_t kEngineId = 39;
inline constexpr uint16_t kTotalBytesExp = 40;
inline constexpr uint16_t kTotalPktsExp = 41;
inline constexpr uint16_t kTotalFlowsExp = 42;
inline constexpr uint16_t kFlowSamplerId = 48;
inline constexpr uint16_t kFlowSamplerMode = 49;
inline constexpr uint16_t kFlowSamplerRandomInterval = 50;
inline constexpr uint16_t kMinTtl = 52;
inline constexpr uint16_t kMaxTtl = 53;
inline constexpr uint16_t kDstTos = 55;
inline constexpr uint16_t kInSrcMac = 56;
inline constexpr uint16_t kOutDstMac = 57;
inline constexpr uint16_t kSrcVlan = 58;
inline constexpr uint16_t kDstVlan = 59;
inline constexpr uint16_t kIpProtocolVersion = 60;
inline constexpr uint16_t kDirection = 61;
inline constexpr uint16_t kIpv6NextHop = 62;
inline constexpr uint16_t kMplsLabel1 = 70;
inline constexpr uint16_t kInDstMac = 80;
inline constexpr uint16_t kOutSrcMac = 81;
inline constexpr uint16_t kInterfaceName = 82;
inline constexpr uint16_t kInterfaceDescription = 83;
inline constexpr uint16_t kInPermanentBytes = 85;
inline constexpr uint16_t kInPermanentPkts = 86;
inline constexpr uint16_t kFlowEndReason = 136;
inline constexpr uint16_t kIcmpTypeCodeIpv6 = 139;
inline constexpr uint16_t kFlowStartSeconds = 150;
inline constexpr uint16_t kFlowEndSeconds = 151;
inline constexpr uint16_t kFlowStartMilliseconds = 152;
inline constexpr uint16_t kFlowEndMilliseconds = 153;
inline constexpr uint16_t kFlowStartMicroseconds = 154;
inline constexpr uint16_t kFlowEndMicroseconds = 155;
inline constexpr uint16_t kFlowStartNanoseconds = 156;
inline constexpr uint16_t kFlowEndNanoseconds = 157;
inline constexpr uint16_t kFlowStartDeltaMicroseconds = 158;
inline constexpr uint16_t kFlowEndDeltaMicroseconds = 159;
inline constexpr uint16_t kSystemInitTimeMilliseconds = 160;
inline constexpr uint16_t kIcmpTypeIpv4 = 176;
inline constexpr uint16_t kIcmpCodeIpv4 = 177;
inline constexpr uint16_t kIcmpTypeIpv6 = 178;
inline constexpr uint16_t kIcmpCodeIpv6 = 179;
inline constexpr uint16_t kDot1qVlanId = 243;
inline constexpr uint16_t kPostDot1qVlanId = 254;
inline constexpr uint16_t kSelectorAlgorithm = 304;
inline constexpr uint16_t kSamplingPacketInterval = 305;
inline constexpr uint16_t kSamplingPacketSpace = 306;
inline constexpr uint16_t kSamplerId = 302;  // selectorId in IPFIX
// Firewall and NAT elements (NSEL, NEL, IPFIX NAT logging); the collector reads them.
inline constexpr uint16_t kPostNatSrcIpv4 = 225;
inline constexpr uint16_t kPostNatDstIpv4 = 226;
inline constexpr uint16_t kPostNaptSrcPort = 227;
inline constexpr uint16_t kPostNaptDstPort = 228;
inline constexpr uint16_t kNatEvent = 230;
inline constexpr uint16_t kInitiatorOctets = 231;
inline constexpr uint16_t kResponderOctets = 232;
inline constexpr uint16_t kFirewallEvent = 233;
inline constexpr uint16_t kIngressVrfId = 234;
inline constexpr uint16_t kEgressVrfId = 235;
inline constexpr uint16_t kIngressPhysicalInterface = 252;
inline constexpr uint16_t kEgressPhysicalInterface = 253;
inline constexpr uint16_t kPostNatSrcIpv6 = 281;
inline constexpr uint16_t kPostNatDstIpv6 = 282;
inline constexpr uint16_t kInitiatorPackets = 298;
inline constexpr uint16_t kResponderPackets = 299;
inline constexpr uint16_t kObservationTimeSeconds = 322;
inline constexpr uint16_t kObservationTimeMilliseconds = 323;
inline constexpr uint16_t kObservationTimeMicroseconds = 324;
inline constexpr uint16_t kObservationTimeNanoseconds = 325;
// Cisco ASA's own NSEL types. v9 has no enterprise bit, so they are plain v9 field types there
// (in IPFIX a type above 32767 is enterprise-specific and never reaches these).
inline constexpr uint16_t kAsaFwExtEvent = 33002;
inline constexpr uint16_t kAsaXlateSrcIpv4 = 40001;
inline constexpr uint16_t kAsaXlateDstIpv4 = 40002;
inline constexpr uint16_t kAsaXlateSrcPort = 40003;
inline constexpr uint16_t kAsaXlateDstPort = 40004;
inline constexpr uint16_t kAsaFwEvent = 40005;
}  // namespace field

// RFC 5103: an information element sent with this enterprise number is the reverse-direction
// counterpart of the IANA element of the same number.
inline constexpr uint32_t kReverseEnterpriseNumber = 29305;

// The whole registry, sorted by ID.
std::span<const FieldInfo> AllFields();
// Lookup by ID; nullptr when unknown.
const FieldInfo* FindField(uint16_t id);
// Lookup by v9 name or IPFIX name, case-insensitive; nullptr when unknown.
const FieldInfo* FindFieldByName(absl::string_view name);

}  // namespace nf

#endif  // NF_WIRE_V9_FIELDS_H_
