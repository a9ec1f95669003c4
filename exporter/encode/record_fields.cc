#include "exporter/encode/record_fields.h"

#include "wire/netflow_v9.h"
#include "wire/v9_fields.h"

namespace nf {
namespace {

constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoIcmpv6 = 58;

// Saturates a counter into `len` bytes: a 4-byte IN_BYTES must not wrap to a small number.
uint64_t Saturate(uint64_t v, uint16_t len) {
  if (len >= 8) return v;
  const uint64_t max = (uint64_t{1} << (8 * len)) - 1;
  return v > max ? max : v;
}

// RFC 6793: a 4-byte AS number that does not fit a 2-byte field is sent as AS_TRANS, so a
// collector sees "some 4-byte AS", never a truncated, wrong AS.
constexpr uint64_t kAsTrans = 23456;
uint64_t AsForField(uint32_t as, uint16_t len) {
  return len < 4 && as > 0xffff ? kAsTrans : as;
}

bool IsIcmp(const FlowRecord& r) {
  return (r.key.protocol == kProtoIcmp && r.key.src.version == 4) ||
         (r.key.protocol == kProtoIcmpv6 && r.key.src.version == 6);
}

}  // namespace

uint32_t UptimeMs(TimeUs time_us, TimeUs boot_us) {
  return static_cast<uint32_t>(static_cast<uint64_t>(FloorMs(time_us) - FloorMs(boot_us)));
}

bool IsExportableField(uint16_t id, uint16_t len) {
  if (len == 0 || len == kVariableLength) return false;
  switch (id) {
    case field::kIpv4SrcAddr:
    case field::kIpv4DstAddr:
    case field::kIpv4NextHop:
      return len == 4;
    case field::kIpv6SrcAddr:
    case field::kIpv6DstAddr:
    case field::kIpv6NextHop:
      return len == 16;
    case field::kInBytes:
    case field::kInPkts:
    case field::kFlows:
    case field::kOutBytes:
    case field::kOutPkts:
    case field::kInputSnmp:
    case field::kOutputSnmp:
    case field::kSrcAs:
    case field::kDstAs:
    case field::kIpv6FlowLabel:
    case field::kFlowStartMilliseconds:
    case field::kFlowEndMilliseconds:
    case field::kFlowStartSeconds:
    case field::kFlowEndSeconds:
      return len <= 8;
    case field::kLastSwitched:
    case field::kFirstSwitched:
      return len == 4;
    case field::kProtocol:
    case field::kSrcTos:
    case field::kDstTos:
    case field::kTcpFlags:
    case field::kSrcMask:
    case field::kDstMask:
    case field::kIpv6SrcMask:
    case field::kIpv6DstMask:
    case field::kMinTtl:
    case field::kMaxTtl:
    case field::kIpProtocolVersion:
    case field::kDirection:
    case field::kFlowEndReason:
    case field::kIcmpTypeIpv4:
    case field::kIcmpCodeIpv4:
    case field::kIcmpTypeIpv6:
    case field::kIcmpCodeIpv6:
      return len <= 2;
    case field::kL4SrcPort:
    case field::kL4DstPort:
    case field::kIcmpType:
    case field::kIcmpTypeCodeIpv6:
    case field::kSrcVlan:
    case field::kDstVlan:
    case field::kDot1qVlanId:
    case field::kEngineType:
    case field::kEngineId:
      return len <= 4;
    default:
      return false;
  }
}

bool WriteField(uint16_t id, uint16_t len, const FlowRecord& r, const FieldContext& ctx,
                ByteWriter& w) {
  if (!IsExportableField(id, len)) return false;
  const FlowKey& k = r.key;
  const bool icmp = IsIcmp(r);
  uint64_t v = 0;
  switch (id) {
    case field::kIpv4SrcAddr:
      return k.src.is_v4() ? w.PutBytes(k.src.bytes.data(), 4) : w.PutZeros(4);
    case field::kIpv4DstAddr:
      return k.dst.is_v4() ? w.PutBytes(k.dst.bytes.data(), 4) : w.PutZeros(4);
    case field::kIpv6SrcAddr:
      return k.src.is_v6() ? w.PutBytes(k.src.bytes.data(), 16) : w.PutZeros(16);
    case field::kIpv6DstAddr:
      return k.dst.is_v6() ? w.PutBytes(k.dst.bytes.data(), 16) : w.PutZeros(16);
    case field::kIpv4NextHop:
    case field::kIpv6NextHop:
      return w.PutZeros(len);  // not known to a passive probe
    case field::kInBytes:
      v = Saturate(r.bytes, len);
      break;
    case field::kInPkts:
      v = Saturate(r.packets, len);
      break;
    case field::kFlows:
      v = 1;
      break;
    case field::kInputSnmp:
      v = Saturate(k.input_if, len);
      break;
    case field::kOutputSnmp:
      v = Saturate(r.output_if, len);
      break;
    case field::kLastSwitched:
      v = UptimeMs(r.last_us, ctx.boot_ms * 1000);
      break;
    case field::kFirstSwitched:
      v = UptimeMs(r.first_us, ctx.boot_ms * 1000);
      break;
    case field::kFlowStartMilliseconds:
      v = static_cast<uint64_t>(FloorMs(r.first_us));
      break;
    case field::kFlowEndMilliseconds:
      v = static_cast<uint64_t>(FloorMs(r.last_us));
      break;
    case field::kFlowStartSeconds:
      v = static_cast<uint64_t>(FloorMs(r.first_us) / 1000);
      break;
    case field::kFlowEndSeconds:
      v = static_cast<uint64_t>(FloorMs(r.last_us) / 1000);
      break;
    case field::kProtocol:
      v = k.protocol;
      break;
    case field::kSrcTos:
      v = k.tos;
      break;
    case field::kTcpFlags:
      v = r.tcp_flags;
      break;
    case field::kMinTtl:
      v = r.min_ttl;
      break;
    case field::kMaxTtl:
      v = r.max_ttl;
      break;
    case field::kIpProtocolVersion:
      v = k.src.version;
      break;
    case field::kFlowEndReason:
      v = static_cast<uint8_t>(r.end_reason);
      break;
    case field::kL4SrcPort:
      v = k.src_port;
      break;
    case field::kL4DstPort:
      v = k.dst_port;
      break;  // ICMP: type*256+code (Cisco)
    case field::kIcmpType:
    case field::kIcmpTypeCodeIpv6:
      v = icmp && (id == field::kIcmpType || k.src.is_v6()) ? k.dst_port : 0;
      break;
    case field::kIcmpTypeIpv4:
      v = icmp && k.src.is_v4() ? k.dst_port >> 8 : 0;
      break;
    case field::kIcmpCodeIpv4:
      v = icmp && k.src.is_v4() ? k.dst_port & 0xff : 0;
      break;
    case field::kIcmpTypeIpv6:
      v = icmp && k.src.is_v6() ? k.dst_port >> 8 : 0;
      break;
    case field::kIcmpCodeIpv6:
      v = icmp && k.src.is_v6() ? k.dst_port & 0xff : 0;
      break;
    case field::kSrcVlan:
    case field::kDot1qVlanId:
      v = k.vlan;
      break;
    case field::kSrcAs:
      v = AsForField(r.src_as, len);
      break;
    case field::kDstAs:
      v = AsForField(r.dst_as, len);
      break;
    // SRC_MASK/DST_MASK carry either family's mask: ng_netflow's IPv6 template has only
    // those. IPV6_SRC/DST_MASK (Cisco's IPv6 fields) stay 0 for an IPv4 flow.
    case field::kSrcMask:
      v = r.src_mask;
      break;
    case field::kDstMask:
      v = r.dst_mask;
      break;
    case field::kIpv6SrcMask:
      v = k.src.is_v6() ? r.src_mask : 0;
      break;
    case field::kIpv6DstMask:
      v = k.src.is_v6() ? r.dst_mask : 0;
      break;
    default:
      v = 0;  // exportable but unknown to a passive probe (OUT_*, direction...)
      break;
  }
  return w.PutUnsigned(v, len);
}

}  // namespace nf
