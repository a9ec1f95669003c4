// Template compilation: FieldOpFor maps information elements to ops, CompilePlan groups a
// fixed-length template's ops into DecodePlan move lists (see decode_plan.h).
#include "collector/decode/decode_plan.h"

#include <array>

#include "collector/decode/template_cache.h"
#include "wire/ipfix.h"
#include "wire/netflow_v9.h"
#include "wire/v9_fields.h"

namespace nf {

namespace {

bool IsUnsignedLength(uint16_t len) { return len >= 1 && len <= 8; }

}  // namespace

FieldOp FieldOpFor(uint16_t type, uint16_t len) {
  namespace f = field;
  using enum FieldOp;
  const bool u = IsUnsignedLength(len);
  switch (type) {
    case f::kInBytes: return u ? kBytes : kSkip;
    case f::kInPkts: return u ? kPackets : kSkip;
    case f::kOutBytes: return u ? kOutBytes : kSkip;
    case f::kOutPkts: return u ? kOutPackets : kSkip;
    case f::kProtocol: return u ? kProtocol : kSkip;
    case f::kSrcTos: return u ? kTos : kSkip;
    case f::kTcpFlags: return u ? kTcpFlags : kSkip;
    case f::kL4SrcPort: return u ? kSrcPort : kSkip;
    case f::kL4DstPort: return u ? kDstPort : kSkip;
    // Addresses with a non-standard length (H3C sends a 2-byte IPv4 field) are skipped by
    // length rather than misread.
    case f::kIpv4SrcAddr: return len == 4 ? kSrcV4 : kSkip;
    case f::kIpv4DstAddr: return len == 4 ? kDstV4 : kSkip;
    case f::kIpv6SrcAddr: return len == 16 ? kSrcV6 : kSkip;
    case f::kIpv6DstAddr: return len == 16 ? kDstV6 : kSkip;
    case f::kIpv4NextHop: return len == 4 ? kNextHopV4 : kSkip;
    case f::kIpv6NextHop: return len == 16 ? kNextHopV6 : kSkip;
    case f::kInputSnmp: return u ? kInIf : kSkip;
    case f::kOutputSnmp: return u ? kOutIf : kSkip;
    case f::kSrcMask: case f::kIpv6SrcMask: return u ? kSrcMask : kSkip;
    case f::kDstMask: case f::kIpv6DstMask: return u ? kDstMask : kSkip;
    case f::kSrcAs: return u ? kSrcAs : kSkip;
    case f::kDstAs: return u ? kDstAs : kSkip;
    case f::kFirstSwitched: return u ? kFirstUptime : kSkip;
    case f::kLastSwitched: return u ? kLastUptime : kSkip;
    case f::kFlowStartSeconds: return u ? kStartSec : kSkip;
    case f::kFlowEndSeconds: return u ? kEndSec : kSkip;
    case f::kFlowStartMilliseconds: return u ? kStartMs : kSkip;
    case f::kFlowEndMilliseconds: return u ? kEndMs : kSkip;
    case f::kFlowStartMicroseconds: case f::kFlowStartNanoseconds:
      return len == 8 ? kStartNtp : kSkip;
    case f::kFlowEndMicroseconds: case f::kFlowEndNanoseconds:
      return len == 8 ? kEndNtp : kSkip;
    case f::kFlowStartDeltaMicroseconds: return u ? kStartDeltaUs : kSkip;
    case f::kFlowEndDeltaMicroseconds: return u ? kEndDeltaUs : kSkip;
    case f::kIcmpType: case f::kIcmpTypeCodeIpv6: return u ? kIcmpTypeCode : kSkip;
    case f::kIcmpTypeIpv4: case f::kIcmpTypeIpv6: return u ? kIcmpType : kSkip;
    case f::kIcmpCodeIpv4: case f::kIcmpCodeIpv6: return u ? kIcmpCode : kSkip;
    case f::kIpProtocolVersion: return u ? kIpVersion : kSkip;
    case f::kDirection: return u ? kDirection : kSkip;
    case f::kSrcVlan: case f::kDot1qVlanId: return u ? kVlan : kSkip;
    case f::kFlowEndReason: return u ? kFlowEndReason : kSkip;
    case f::kSamplingInterval: case f::kFlowSamplerRandomInterval:
    case f::kSamplingPacketInterval:
      return u ? kSamplingInterval : kSkip;
    case f::kSamplingPacketSpace: return u ? kSamplingSpace : kSkip;
    case f::kFlowSamplerId: case f::kSamplerId: return u ? kSamplerId : kSkip;
    case f::kSystemInitTimeMilliseconds: return u ? kSystemInit : kSkip;
    case f::kEngineType: return u ? kEngineType : kSkip;
    case f::kEngineId: return u ? kEngineId : kSkip;
    case f::kFlows: return u ? kFlows : kSkip;
    case f::kInitiatorOctets: return u ? kInitiatorOctets : kSkip;
    case f::kInitiatorPackets: return u ? kInitiatorPackets : kSkip;
    case f::kInPermanentBytes: return u ? kOctetTotal : kSkip;
    case f::kInPermanentPkts: return u ? kPacketTotal : kSkip;
    case f::kResponderOctets: return u ? kResponderOctets : kSkip;
    case f::kResponderPackets: return u ? kResponderPackets : kSkip;
    case f::kIngressPhysicalInterface: return u ? kIngressPhysical : kSkip;
    case f::kEgressPhysicalInterface: return u ? kEgressPhysical : kSkip;
    case f::kPostNatSrcIpv4: case f::kAsaXlateSrcIpv4: return len == 4 ? kPostNatSrcV4 : kSkip;
    case f::kPostNatDstIpv4: case f::kAsaXlateDstIpv4: return len == 4 ? kPostNatDstV4 : kSkip;
    case f::kPostNatSrcIpv6: return len == 16 ? kPostNatSrcV6 : kSkip;
    case f::kPostNatDstIpv6: return len == 16 ? kPostNatDstV6 : kSkip;
    case f::kPostNaptSrcPort: case f::kAsaXlateSrcPort: return u ? kPostNatSrcPort : kSkip;
    case f::kPostNaptDstPort: case f::kAsaXlateDstPort: return u ? kPostNatDstPort : kSkip;
    case f::kNatEvent: return u ? kNatEvent : kSkip;
    case f::kFirewallEvent: case f::kAsaFwEvent: return u ? kFwEvent : kSkip;
    case f::kAsaFwExtEvent: return u ? kFwExtEvent : kSkip;
    case f::kIngressVrfId: return u ? kIngressVrf : kSkip;
    case f::kEgressVrfId: return u ? kEgressVrf : kSkip;
    case f::kObservationTimeSeconds: return u ? kEventSec : kSkip;
    case f::kObservationTimeMilliseconds: return u ? kEventMs : kSkip;
    case f::kObservationTimeMicroseconds: case f::kObservationTimeNanoseconds:
      return len == 8 ? kEventNtp : kSkip;
    case f::kInterfaceName: return len != 0 ? kIfName : kSkip;
    case f::kInterfaceDescription: return len != 0 ? kIfDescription : kSkip;
    default: return kSkip;
  }
}

FieldOp ReverseFieldOpFor(uint16_t type, uint16_t len) {
  namespace f = field;
  using enum FieldOp;
  const bool u = IsUnsignedLength(len);
  switch (type) {
    case f::kInBytes: return u ? kReverseBytes : kSkip;
    case f::kInPkts: return u ? kReversePackets : kSkip;
    case f::kInPermanentBytes: return u ? kReverseOctetTotal : kSkip;
    case f::kInPermanentPkts: return u ? kReversePacketTotal : kSkip;
    default: return kSkip;
  }
}

namespace {

// Fills t.plan from t.ops / t.lengths (see DecodePlan). Every op lands either in a typed move
// group or in `special`, and the groups never write the same member, so applying them group
// by group gives exactly what the per-field switch gives in wire order.
// CompilePlan's list choice: the usual wire widths go to lists whose loops need no width
// switch. A member written by more than one field (`shared`) keeps every writer in one list, in
// wire order, so the last one wins as in the generic path.
void Add64(DecodePlan& plan, uint16_t o, uint16_t w, uint64_t DecodedRecord::*f) {
  (w == 8 ? plan.add64_w8 : w == 4 ? plan.add64_w4 : plan.add64).push_back({o, w, f});
}
void Set8(DecodePlan& plan, uint16_t o, uint16_t w, uint8_t DecodedRecord::*f, bool shared) {
  (w == 1 && !shared ? plan.set8_w1 : plan.set8).push_back({o, w, f});
}
void Set16(DecodePlan& plan, uint16_t o, uint16_t w, uint16_t DecodedRecord::*f, bool shared) {
  (w == 2 && !shared ? plan.set16_w2 : plan.set16).push_back({o, w, f});
}
void Set32(DecodePlan& plan, uint16_t o, uint16_t w, uint32_t DecodedRecord::*f, bool shared) {
  (w == 4 && !shared ? plan.set32_w4 : plan.set32).push_back({o, w, f});
}
void SetAddress(DecodePlan& plan, uint16_t o, uint16_t w, IpAddress DecodedRecord::*f,
                bool shared) {
  (shared ? plan.addresses : w == 4 ? plan.v4_addresses : plan.v6_addresses).push_back({o, w, f});
}
// The member an op writes, IPv4 and IPv6 forms alike (for CompilePlan's `shared`).
FieldOp Destination(FieldOp op) {
  using enum FieldOp;
  switch (op) {
    case kSrcV6: return kSrcV4;
    case kDstV6: return kDstV4;
    case kNextHopV6: return kNextHopV4;
    case kPostNatSrcV6: return kPostNatSrcV4;
    case kPostNatDstV6: return kPostNatDstV4;
    case kEventMs: case kEventNtp: return kEventSec;
    default: return op;
  }
}

// Turns the fallback ops into what they stand in for, in order of preference: an exporter that
// sends both deltaOctets and NSEL's initiatorOctets (or a total count) means the delta.
void ResolveFallbacks(std::vector<uint8_t>& ops) {
  using enum FieldOp;
  struct Chain {
    FieldOp target;
    std::array<FieldOp, 2> fallbacks;  // most preferred first; kSkip = none
  };
  static constexpr Chain kChains[] = {
      {kBytes, {kInitiatorOctets, kOctetTotal}},
      {kPackets, {kInitiatorPackets, kPacketTotal}},
      {kReverseBytes, {kResponderOctets, kReverseOctetTotal}},
      {kReversePackets, {kResponderPackets, kReversePacketTotal}},
      {kInIf, {kIngressPhysical, kSkip}},
      {kOutIf, {kEgressPhysical, kSkip}},
  };
  auto present = [&](FieldOp op) {
    for (uint8_t o : ops) {
      if (static_cast<FieldOp>(o) == op) return true;
    }
    return false;
  };
  for (const Chain& c : kChains) {
    // The chosen element: the target itself if sent, else the first fallback sent.
    FieldOp chosen = c.target;
    if (!present(c.target)) {
      for (FieldOp f : c.fallbacks) {
        if (f != kSkip && present(f)) {
          chosen = f;
          break;
        }
      }
    }
    for (uint8_t& o : ops) {
      const FieldOp op = static_cast<FieldOp>(o);
      if (op == c.fallbacks[0] || (c.fallbacks[1] != kSkip && op == c.fallbacks[1])) {
        o = static_cast<uint8_t>(op == chosen ? c.target : kSkip);
      }
    }
  }
}

void CompilePlan(CachedTemplate& t) {
  using enum FieldOp;
  DecodePlan& plan = t.plan;
  plan = DecodePlan{};
  if (t.variable_length || t.record.is_options) return;
  // first_ms / last_ms writers keep their wire order: typed only when all are absolute
  // seconds or milliseconds, otherwise all go through the generic code.
  bool simple_times = true;
  for (uint8_t op_byte : t.ops) {
    const FieldOp op = static_cast<FieldOp>(op_byte);
    if (op == kStartNtp || op == kEndNtp || op == kStartDeltaUs || op == kEndDeltaUs) {
      simple_times = false;
    }
  }
  std::array<uint16_t, 256> writers{};
  for (uint8_t op : t.ops) ++writers[static_cast<size_t>(Destination(static_cast<FieldOp>(op)))];
  size_t offset = 0;
  for (size_t i = 0; i < t.ops.size(); ++i) {
    const uint16_t o = static_cast<uint16_t>(offset);
    const uint16_t w = t.lengths[i];
    offset += w;
    const FieldOp op = static_cast<FieldOp>(t.ops[i]);
    const bool shared = writers[static_cast<size_t>(Destination(op))] > 1;
    switch (op) {
      case kSkip: break;
      case kBytes: Add64(plan, o, w, &DecodedRecord::bytes); break;
      case kPackets: Add64(plan, o, w, &DecodedRecord::packets); break;
      case kOutBytes: Add64(plan, o, w, &DecodedRecord::out_bytes); break;
      case kOutPackets: Add64(plan, o, w, &DecodedRecord::out_packets); break;
      case kProtocol: Set8(plan, o, w, &DecodedRecord::protocol, shared); break;
      case kTos: Set8(plan, o, w, &DecodedRecord::tos, shared); break;
      case kSrcMask: Set8(plan, o, w, &DecodedRecord::src_mask, shared); break;
      case kDstMask: Set8(plan, o, w, &DecodedRecord::dst_mask, shared); break;
      case kIpVersion: Set8(plan, o, w, &DecodedRecord::ip_version, shared); break;
      case kDirection: Set8(plan, o, w, &DecodedRecord::direction, shared); break;
      case kFlowEndReason: Set8(plan, o, w, &DecodedRecord::flow_end_reason, shared); break;
      case kEngineType: Set8(plan, o, w, &DecodedRecord::engine_type, shared); break;
      case kEngineId: Set8(plan, o, w, &DecodedRecord::engine_id, shared); break;
      case kFlows: Set32(plan, o, w, &DecodedRecord::flows, shared); break;
      case kReverseBytes: Add64(plan, o, w, &DecodedRecord::reverse_bytes); break;
      case kReversePackets: Add64(plan, o, w, &DecodedRecord::reverse_packets); break;
      case kPostNatSrcV4:
      case kPostNatSrcV6:
        SetAddress(plan, o, w, &DecodedRecord::post_nat_src_addr, shared);
        break;
      case kPostNatDstV4:
      case kPostNatDstV6:
        SetAddress(plan, o, w, &DecodedRecord::post_nat_dst_addr, shared);
        break;
      case kPostNatSrcPort: Set16(plan, o, w, &DecodedRecord::post_nat_src_port, shared); break;
      case kPostNatDstPort: Set16(plan, o, w, &DecodedRecord::post_nat_dst_port, shared); break;
      case kNatEvent: Set8(plan, o, w, &DecodedRecord::nat_event, shared); break;
      case kFwEvent: Set8(plan, o, w, &DecodedRecord::fw_event, shared); break;
      case kFwExtEvent: Set16(plan, o, w, &DecodedRecord::fw_ext_event, shared); break;
      case kIngressVrf: Set32(plan, o, w, &DecodedRecord::ingress_vrf, shared); break;
      case kEgressVrf: Set32(plan, o, w, &DecodedRecord::egress_vrf, shared); break;
      case kEventSec:
      case kEventMs:
        if (!shared) {
          plan.absolute_times.push_back(
              {o, w, op == kEventSec ? 1000 : 1, &DecodedRecord::event_time_ms});
          break;
        }
        plan.special.push_back({o, w, op});
        break;
      case kTcpFlags: Set16(plan, o, w, &DecodedRecord::tcp_flags, shared); break;
      case kSrcPort: Set16(plan, o, w, &DecodedRecord::src_port, shared); break;
      case kDstPort: Set16(plan, o, w, &DecodedRecord::dst_port, shared); break;
      case kVlan: Set16(plan, o, w, &DecodedRecord::vlan, shared); break;
      case kInIf: Set32(plan, o, w, &DecodedRecord::input_if, shared); break;
      case kOutIf: Set32(plan, o, w, &DecodedRecord::output_if, shared); break;
      case kSrcAs: Set32(plan, o, w, &DecodedRecord::src_as, shared); break;
      case kDstAs: Set32(plan, o, w, &DecodedRecord::dst_as, shared); break;
      case kSrcV4: SetAddress(plan, o, w, &DecodedRecord::src_addr, shared); break;
      case kDstV4: SetAddress(plan, o, w, &DecodedRecord::dst_addr, shared); break;
      case kNextHopV4: SetAddress(plan, o, w, &DecodedRecord::next_hop, shared); break;
      case kSrcV6: SetAddress(plan, o, w, &DecodedRecord::src_addr, shared); break;
      case kDstV6: SetAddress(plan, o, w, &DecodedRecord::dst_addr, shared); break;
      case kNextHopV6: SetAddress(plan, o, w, &DecodedRecord::next_hop, shared); break;
      case kIcmpTypeCode:
        if (w == 2 && !shared) {
          plan.icmp_type_code.push_back(o);
        } else {
          plan.special.push_back({o, w, op});
        }
        break;
      case kFirstUptime: plan.uptimes.push_back({o, w, false}); break;
      case kLastUptime: plan.uptimes.push_back({o, w, true}); break;
      case kStartSec:
      case kEndSec:
      case kStartMs:
      case kEndMs:
        if (simple_times) {
          plan.absolute_times.push_back(
              {o, w, op == kStartSec || op == kEndSec ? 1000 : 1,
               op == kStartSec || op == kStartMs ? &DecodedRecord::first_ms
                                                 : &DecodedRecord::last_ms});
          break;
        }
        plan.special.push_back({o, w, op});
        break;
      default: plan.special.push_back({o, w, op}); break;
    }
  }
  plan.fixed = true;
}

}  // namespace

bool CompileTemplate(CachedTemplate& t, uint8_t version, size_t max_fields) {
  const TemplateRecord& rec = t.record;
  const size_t n = rec.scope_fields.size() + rec.fields.size();
  if (n == 0 || n > max_fields) return false;
  t.ops.clear();
  t.ops.reserve(n);
  t.lengths.clear();
  t.lengths.reserve(n);
  size_t fixed = 0, variable = 0;
  for (size_t i = 0; i < n; ++i) {
    const bool scope = i < rec.scope_fields.size();
    const TemplateField& f = scope ? rec.scope_fields[i] : rec.fields[i - rec.scope_fields.size()];
    t.lengths.push_back(f.length);
    if (f.length == kVariableLength) {
      ++variable;
      // Only the interface table's strings are read from variable-length fields.
      const bool text = f.enterprise == 0 && !(scope && version == kNetflowV9Version) &&
                        (f.type == field::kInterfaceName || f.type == field::kInterfaceDescription);
      t.ops.push_back(static_cast<uint8_t>(text ? FieldOpFor(f.type, f.length) : FieldOp::kSkip));
      continue;
    }
    fixed += f.length;
    // v9 scope field types (System, Interface, ...) are not information elements.
    // The Interface scope's value is an ifIndex, as INPUT_SNMP's is.
    if (scope && version == kNetflowV9Version) {
      const bool ifindex = f.type == static_cast<uint16_t>(V9Scope::kInterface) &&
                           IsUnsignedLength(f.length);
      t.ops.push_back(static_cast<uint8_t>(ifindex ? FieldOp::kInIf : FieldOp::kSkip));
    } else if (f.enterprise != 0) {
      t.ops.push_back(static_cast<uint8_t>(f.enterprise == kReverseEnterpriseNumber
                                               ? ReverseFieldOpFor(f.type, f.length)
                                               : FieldOp::kSkip));
    } else {
      t.ops.push_back(static_cast<uint8_t>(FieldOpFor(f.type, f.length)));
    }
  }
  // The IPFIX bound is the looser of the two (its header is shorter than v9's).
  if (fixed > kIpfixMaxRecordLength) return false;
  ResolveFallbacks(t.ops);
  t.variable_length = variable > 0;
  t.min_record_length = fixed + variable;
  CompilePlan(t);
  return t.min_record_length > 0;
}

}  // namespace nf
