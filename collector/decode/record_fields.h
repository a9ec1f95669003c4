// Reading one data record's fields: big-endian loads of any width, the per-field switch
// (ApplyField) and the per-record state it fills, and handing a finished record on. Shared by the fast (DecodePlan) and generic
// data record paths so the two cannot disagree; everything is inline because it runs per field.
//
// Invariants: nothing reads outside [p, p + len) of the field it is given; times are clamped
// so that no input overflows int64 milliseconds.
#ifndef NF_COLLECTOR_DECODE_RECORD_FIELDS_H_
#define NF_COLLECTOR_DECODE_RECORD_FIELDS_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

#include "collector/decode/decode_plan.h"
#include "collector/decode/decode_stats.h"
#include "collector/decode/decoded_record.h"
#include "collector/decode/sampling_state.h"
#include "common/byte_reader.h"

namespace nf {

// NTP era 0 starts 70 years (incl. 17 leap days) before the Unix epoch.
inline constexpr int64_t kNtpToUnixSeconds = 2208988800LL;

inline uint64_t LoadBe64(const uint8_t* p) {
  return (uint64_t{ByteReader::LoadBe32(p)} << 32) | ByteReader::LoadBe32(p + 4);
}

inline uint64_t LoadUnsigned(const uint8_t* p, size_t len) {
  // The common widths without a loop.
  switch (len) {
    case 1: return p[0];
    case 2: return ByteReader::LoadBe16(p);
    case 4: return ByteReader::LoadBe32(p);
    case 8: return LoadBe64(p);
    default: break;
  }
  uint64_t v = 0;
  for (size_t i = 0; i < len; ++i) v = (v << 8) | p[i];
  return v;
}

inline bool AllZero(std::span<const uint8_t> s) {
  return std::all_of(s.begin(), s.end(), [](uint8_t b) { return b == 0; });
}

// flowStartSeconds/flowEndSeconds may be 8 bytes: a hostile value times 1000 would overflow
// int64 (found by the decoder fuzz target). Times past 9999-12-31 are clamped there.
inline int64_t SecondsToMs(uint64_t secs) {
  constexpr uint64_t kMaxSecs = 253'402'300'799;
  return static_cast<int64_t>(secs > kMaxSecs ? kMaxSecs : secs) * 1000;
}
inline int64_t ClampMs(uint64_t ms) {
  constexpr uint64_t kMaxMs = 253'402'300'799'999;
  return static_cast<int64_t>(ms > kMaxMs ? kMaxMs : ms);
}

// Per-record values that are not DecodedRecord members (combined after the record's fields).
struct FieldState {
  OptionValues opt;
  bool has_icmp = false;
  bool has_icmp_type = false;
  uint16_t icmp = 0;
  uint8_t icmp_type = 0;
  uint8_t icmp_code = 0;
  bool has_first_uptime = false;
  bool has_last_uptime = false;
  uint64_t first_uptime = 0;
  uint64_t last_uptime = 0;
  // Interface-table options data: the strings as sent (cut and NUL-trimmed when learned).
  std::span<const uint8_t> if_name;
  std::span<const uint8_t> if_description;

  // Forgets the last record's values. Every number is read only under its flag, so clearing
  // the flags (and the names) is enough: the fixed-length fast path reuses one state for a
  // whole set instead of zeroing ~100 bytes per record (a `rep stos` that stood out in
  // profiles).
  void Clear() {
    has_icmp = has_icmp_type = has_first_uptime = has_last_uptime = false;
    opt.has_interval = opt.has_space = opt.has_sampler = opt.has_init = false;
    if_name = {};
    if_description = {};
  }
};

// One field with a fixed length: what the op says. Used by the generic per-field loop and, for
// the few ops the plan does not move directly (times, ICMP, sampling), by the fast path.
[[gnu::always_inline]] inline void ApplyField(FieldOp op, const uint8_t* p, size_t len,
                                              int64_t export_ms, DecodedRecord& r,
                                              FieldState& s) {
  using enum FieldOp;
  switch (op) {
    case kSkip: break;
    case kBytes: r.bytes += LoadUnsigned(p, len); break;
    case kPackets: r.packets += LoadUnsigned(p, len); break;
    case kOutBytes: r.out_bytes += LoadUnsigned(p, len); break;
    case kOutPackets: r.out_packets += LoadUnsigned(p, len); break;
    case kProtocol: r.protocol = static_cast<uint8_t>(LoadUnsigned(p, len)); break;
    case kTos: r.tos = static_cast<uint8_t>(LoadUnsigned(p, len)); break;
    case kTcpFlags: r.tcp_flags = static_cast<uint16_t>(LoadUnsigned(p, len)); break;
    case kSrcPort: r.src_port = static_cast<uint16_t>(LoadUnsigned(p, len)); break;
    case kDstPort: r.dst_port = static_cast<uint16_t>(LoadUnsigned(p, len)); break;
    case kSrcV4: r.src_addr = IpAddress::V4(p); break;
    case kDstV4: r.dst_addr = IpAddress::V4(p); break;
    case kSrcV6: r.src_addr = IpAddress::V6(p); break;
    case kDstV6: r.dst_addr = IpAddress::V6(p); break;
    case kNextHopV4: r.next_hop = IpAddress::V4(p); break;
    case kNextHopV6: r.next_hop = IpAddress::V6(p); break;
    case kInIf: r.input_if = static_cast<uint32_t>(LoadUnsigned(p, len)); break;
    case kOutIf: r.output_if = static_cast<uint32_t>(LoadUnsigned(p, len)); break;
    case kSrcMask: r.src_mask = static_cast<uint8_t>(LoadUnsigned(p, len)); break;
    case kDstMask: r.dst_mask = static_cast<uint8_t>(LoadUnsigned(p, len)); break;
    case kSrcAs: r.src_as = static_cast<uint32_t>(LoadUnsigned(p, len)); break;
    case kDstAs: r.dst_as = static_cast<uint32_t>(LoadUnsigned(p, len)); break;
    case kFirstUptime:
      s.first_uptime = LoadUnsigned(p, len);
      s.has_first_uptime = true;
      break;
    case kLastUptime:
      s.last_uptime = LoadUnsigned(p, len);
      s.has_last_uptime = true;
      break;
    case kStartSec: r.first_ms = SecondsToMs(LoadUnsigned(p, len)); break;
    case kEndSec: r.last_ms = SecondsToMs(LoadUnsigned(p, len)); break;
    case kStartMs: r.first_ms = ClampMs(LoadUnsigned(p, len)); break;
    case kEndMs: r.last_ms = ClampMs(LoadUnsigned(p, len)); break;
    case kStartNtp:
    case kEndNtp: {
      const int64_t secs = int64_t{ByteReader::LoadBe32(p)} - kNtpToUnixSeconds;
      const int64_t frac_ms = (int64_t{ByteReader::LoadBe32(p + 4)} * 1000) >> 32;
      (op == kStartNtp ? r.first_ms : r.last_ms) = secs * 1000 + frac_ms;
      break;
    }
    case kStartDeltaUs:
      r.first_ms = export_ms - static_cast<int64_t>(LoadUnsigned(p, len) / 1000);
      break;
    case kEndDeltaUs:
      r.last_ms = export_ms - static_cast<int64_t>(LoadUnsigned(p, len) / 1000);
      break;
    case kIcmpTypeCode:
      s.icmp = static_cast<uint16_t>(LoadUnsigned(p, len));
      s.has_icmp = true;
      break;
    case kIcmpType:
      s.icmp_type = static_cast<uint8_t>(LoadUnsigned(p, len));
      s.has_icmp_type = true;
      break;
    case kIcmpCode: s.icmp_code = static_cast<uint8_t>(LoadUnsigned(p, len)); break;
    case kIpVersion: r.ip_version = static_cast<uint8_t>(LoadUnsigned(p, len)); break;
    case kDirection: r.direction = static_cast<uint8_t>(LoadUnsigned(p, len)); break;
    case kVlan: r.vlan = static_cast<uint16_t>(LoadUnsigned(p, len)); break;
    case kFlowEndReason: r.flow_end_reason = static_cast<uint8_t>(LoadUnsigned(p, len)); break;
    case kEngineType: r.engine_type = static_cast<uint8_t>(LoadUnsigned(p, len)); break;
    case kEngineId: r.engine_id = static_cast<uint8_t>(LoadUnsigned(p, len)); break;
    case kFlows: r.flows = static_cast<uint32_t>(LoadUnsigned(p, len)); break;
    case kReverseBytes: r.reverse_bytes += LoadUnsigned(p, len); break;
    case kReversePackets: r.reverse_packets += LoadUnsigned(p, len); break;
    case kPostNatSrcV4: r.post_nat_src_addr = IpAddress::V4(p); break;
    case kPostNatDstV4: r.post_nat_dst_addr = IpAddress::V4(p); break;
    case kPostNatSrcV6: r.post_nat_src_addr = IpAddress::V6(p); break;
    case kPostNatDstV6: r.post_nat_dst_addr = IpAddress::V6(p); break;
    case kPostNatSrcPort: r.post_nat_src_port = static_cast<uint16_t>(LoadUnsigned(p, len)); break;
    case kPostNatDstPort: r.post_nat_dst_port = static_cast<uint16_t>(LoadUnsigned(p, len)); break;
    case kNatEvent: r.nat_event = static_cast<uint8_t>(LoadUnsigned(p, len)); break;
    case kFwEvent: r.fw_event = static_cast<uint8_t>(LoadUnsigned(p, len)); break;
    case kFwExtEvent: r.fw_ext_event = static_cast<uint16_t>(LoadUnsigned(p, len)); break;
    case kIngressVrf: r.ingress_vrf = static_cast<uint32_t>(LoadUnsigned(p, len)); break;
    case kEgressVrf: r.egress_vrf = static_cast<uint32_t>(LoadUnsigned(p, len)); break;
    case kEventSec: r.event_time_ms = SecondsToMs(LoadUnsigned(p, len)); break;
    case kEventMs: r.event_time_ms = ClampMs(LoadUnsigned(p, len)); break;
    case kEventNtp: {
      const int64_t secs = int64_t{ByteReader::LoadBe32(p)} - kNtpToUnixSeconds;
      r.event_time_ms = secs * 1000 + ((int64_t{ByteReader::LoadBe32(p + 4)} * 1000) >> 32);
      break;
    }
    case kIfName: s.if_name = {p, len}; break;
    case kIfDescription: s.if_description = {p, len}; break;
    // Fallbacks never survive CompileTemplate.
    case kInitiatorOctets:
    case kInitiatorPackets:
    case kOctetTotal:
    case kPacketTotal:
    case kResponderOctets:
    case kResponderPackets:
    case kReverseOctetTotal:
    case kReversePacketTotal:
    case kIngressPhysical:
    case kEgressPhysical:
      break;
    case kSamplingInterval:
      s.opt.interval = LoadUnsigned(p, len);
      s.opt.has_interval = true;
      break;
    case kSamplingSpace:
      s.opt.space = LoadUnsigned(p, len);
      s.opt.has_space = true;
      break;
    case kSamplerId:
      s.opt.sampler = LoadUnsigned(p, len);
      s.opt.has_sampler = true;
      break;
    case kSystemInit:
      s.opt.init_ms = LoadUnsigned(p, len);
      s.opt.has_init = true;
      break;
  }
}

// Hands a finished flow record (r.sampling set) to the sink, scaling its counters by the
// sampling interval first when asked, and counts it. The one exit of v5, v9 and IPFIX flows.
[[gnu::always_inline]] inline void DeliverRecord(bool apply_sampling, DecodedRecord& r,
                                                 ExporterStats& stats, RecordSink& sink) {
  if (apply_sampling && r.sampling > 1) {
    r.packets *= r.sampling;
    r.bytes *= r.sampling;
    r.reverse_packets *= r.sampling;
    r.reverse_bytes *= r.sampling;
  }
  ++stats.records;
  stats.packets += r.packets;
  stats.bytes += r.bytes;
  sink.OnRecord(r);
}

// --biflow split: a record with reverse counters becomes two rows, the forward one and the
// reverse one with its endpoints swapped (addresses, ports, masks, AS numbers, interfaces and
// post-NAT pairs), each with only its own direction's counters. Both rows are counted as
// records. `r` is left as the forward row.
inline void DeliverBiflowSplit(bool apply_sampling, DecodedRecord& r, ExporterStats& stats,
                               RecordSink& sink) {
  const uint64_t reverse_packets = r.reverse_packets;
  const uint64_t reverse_bytes = r.reverse_bytes;
  r.reverse_packets = r.reverse_bytes = 0;
  DecodedRecord reverse = r;
  DeliverRecord(apply_sampling, r, stats, sink);
  reverse.packets = reverse_packets;
  reverse.bytes = reverse_bytes;
  // Counters that belong to the forward direction only.
  reverse.out_packets = reverse.out_bytes = 0;
  reverse.tcp_flags = 0;
  std::swap(reverse.src_addr, reverse.dst_addr);
  std::swap(reverse.src_mask, reverse.dst_mask);
  std::swap(reverse.src_as, reverse.dst_as);
  std::swap(reverse.input_if, reverse.output_if);
  std::swap(reverse.input_if_name, reverse.output_if_name);
  std::swap(reverse.post_nat_src_addr, reverse.post_nat_dst_addr);
  std::swap(reverse.post_nat_src_port, reverse.post_nat_dst_port);
  // ICMP keeps its type/code in dst_port, which a swap would move into the source port.
  if (reverse.protocol != 1 && reverse.protocol != 58) {
    std::swap(reverse.src_port, reverse.dst_port);
  }
  DeliverRecord(apply_sampling, reverse, stats, sink);
}

}  // namespace nf

#endif  // NF_COLLECTOR_DECODE_RECORD_FIELDS_H_
