// Decode plans: what the decoder does with each field of a template, worked out once when the
// template is learned so that data records decode without lookups.
//
// Compiling a template (CompileTemplate) fills CachedTemplate::ops (one FieldOp per wire field,
// scope fields first), ::lengths, ::min_record_length, ::variable_length and ::plan. Invariants:
// - a compiled template's min_record_length is > 0, so every data set walk advances;
// - a plan is `fixed` only for data (not options) templates without variable-length fields, and
//   applying its move lists group by group gives exactly what ApplyField gives field by field in
//   wire order (members written by more than one field stay in one list, in wire order).
#ifndef NF_COLLECTOR_DECODE_DECODE_PLAN_H_
#define NF_COLLECTOR_DECODE_DECODE_PLAN_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "collector/decode/decoded_record.h"

namespace nf {

struct CachedTemplate;

// What the decoder does with one template field. Stored as uint8_t in CachedTemplate::ops.
enum class FieldOp : uint8_t {
  kSkip = 0,
  kBytes,
  kPackets,
  kOutBytes,
  kOutPackets,
  kProtocol,
  kTos,
  kTcpFlags,
  kSrcPort,
  kDstPort,
  kSrcV4,
  kDstV4,
  kSrcV6,
  kDstV6,
  kNextHopV4,
  kNextHopV6,
  kInIf,
  kOutIf,
  kSrcMask,
  kDstMask,
  kSrcAs,
  kDstAs,
  kFirstUptime,
  kLastUptime,
  kStartSec,
  kEndSec,
  kStartMs,
  kEndMs,
  kStartNtp,
  kEndNtp,
  kStartDeltaUs,
  kEndDeltaUs,
  kIcmpTypeCode,
  kIcmpType,
  kIcmpCode,
  kIpVersion,
  kDirection,
  kVlan,
  kFlowEndReason,
  kSamplingInterval,   // 34, 50 (sampler random interval), 305 (packet interval)
  kSamplingSpace,      // 306 (packets not selected between selections)
  kSamplerId,          // 48, 302
  kSystemInit,         // 160
  kEngineType,         // 38
  kEngineId,           // 39
  kFlows,              // 3 (v9 FLOWS, IPFIX deltaFlowCount)
  kReverseBytes,       // RFC 5103 reverse 1 (or, by fallback, NSEL 232 / reverse 85)
  kReversePackets,     // RFC 5103 reverse 2 (or, by fallback, NSEL 299 / reverse 86)
  kPostNatSrcV4,       // 225, ASA 40001
  kPostNatDstV4,       // 226, ASA 40002
  kPostNatSrcV6,       // 281
  kPostNatDstV6,       // 282
  kPostNatSrcPort,     // 227, ASA 40003
  kPostNatDstPort,     // 228, ASA 40004
  kNatEvent,           // 230
  kFwEvent,            // 233, ASA 40005
  kFwExtEvent,         // ASA 33002
  kIngressVrf,         // 234
  kEgressVrf,          // 235
  kEventSec,           // 322
  kEventMs,            // 323
  kEventNtp,           // 324, 325
  kIfName,             // 82 interfaceName (options data: the exporter's interface table)
  kIfDescription,      // 83 interfaceDescription
  // Fallbacks: elements used only when the template lacks the preferred one. FieldOpFor
  // returns them; CompileTemplate turns each into the op it stands in for, or kSkip, so no
  // compiled template holds them.
  kInitiatorOctets,         // 231: bytes without IE 1
  kInitiatorPackets,        // 298: packets without IE 2
  kOctetTotal,              // 85: bytes without IE 1 or 231
  kPacketTotal,             // 86: packets without IE 2 or 298
  kResponderOctets,         // 232: reverse bytes without reverse 1
  kResponderPackets,        // 299: reverse packets without reverse 2
  kReverseOctetTotal,       // reverse 85: reverse bytes without reverse 1 or 232
  kReversePacketTotal,      // reverse 86: reverse packets without reverse 2 or 299
  kIngressPhysical,         // 252: input_if without IE 10
  kEgressPhysical,          // 253: output_if without IE 14
};

// The op for an information element of the given wire length (kSkip for lengths the
// collector cannot read as that element). May be a fallback op (see FieldOp).
FieldOp FieldOpFor(uint16_t type, uint16_t length);
// The op for an RFC 5103 reverse element (enterprise 29305) of IANA number `type`.
FieldOp ReverseFieldOpFor(uint16_t type, uint16_t length);

// A template compiled for the decoder's fast path (fixed-length data templates, i.e. almost
// every exporter's): each field the collector uses becomes a move from a fixed offset in the
// record straight into its DecodedRecord member, grouped by destination type so a record is
// decoded by a few tight loops instead of one switch per wire field (whose indirect jumps the
// CPU mispredicts). Skipped fields cost nothing.
template <typename T>
struct DecodeMove {
  uint16_t offset;  // in the record
  uint16_t width;   // wire length (1..8 for integers; 4 or 16 for addresses)
  T DecodedRecord::*field;
};
struct DecodePlan {
  bool fixed = false;  // usable: a data template without variable-length fields
  // The usual wire widths have their own lists, whose loops load without a width switch
  // (about a fifth of the decoding time); the lists without a suffix hold any other width.
  std::vector<DecodeMove<uint64_t>> add64_w8;  // packets, bytes, out_*: summed like the switch
  std::vector<DecodeMove<uint64_t>> add64_w4;
  std::vector<DecodeMove<uint64_t>> add64;
  std::vector<DecodeMove<uint8_t>> set8_w1;
  std::vector<DecodeMove<uint8_t>> set8;
  std::vector<DecodeMove<uint16_t>> set16_w2;
  std::vector<DecodeMove<uint16_t>> set16;
  std::vector<DecodeMove<uint32_t>> set32_w4;
  std::vector<DecodeMove<uint32_t>> set32;
  std::vector<DecodeMove<IpAddress>> v4_addresses;  // width 4
  std::vector<DecodeMove<IpAddress>> v6_addresses;  // width 16
  std::vector<DecodeMove<IpAddress>> addresses;     // members written by more than one field
  // ICMP type/code as one 2-byte field (v9 ICMP_TYPE, IPFIX icmpTypeCodeIPv4/IPv6).
  std::vector<uint16_t> icmp_type_code;
  // v9 FIRST/LAST_SWITCHED and IPFIX flowStart/EndSysUpTime (resolved after the fields).
  struct Uptime {
    uint16_t offset;
    uint16_t width;
    bool last;
  };
  std::vector<Uptime> uptimes;
  // Absolute seconds / milliseconds into first_ms / last_ms, when these are the template's
  // only time fields (value * multiplier, clamped at 9999-12-31 as in the generic path).
  struct AbsoluteTime {
    uint16_t offset;
    uint16_t width;
    int64_t multiplier;  // 1000 for seconds, 1 for milliseconds
    int64_t DecodedRecord::*field;
  };
  std::vector<AbsoluteTime> absolute_times;
  struct Special {
    uint16_t offset;
    uint16_t width;
    FieldOp op;  // times, ICMP, sampling: applied by the generic per-field code
  };
  std::vector<Special> special;
};

// Compiles `t.record` (see the file comment). `version` is 9 or 10: v9 scope field types are
// not information elements. False when the template is refused: no fields, more than
// `max_fields`, a record longer than a datagram can carry, or a record of 0 bytes.
bool CompileTemplate(CachedTemplate& t, uint8_t version, size_t max_fields);

}  // namespace nf

#endif  // NF_COLLECTOR_DECODE_DECODE_PLAN_H_
