#include "collector/decode/decoder.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <utility>

#include "common/byte_reader.h"
#include "wire/ipfix.h"
#include "wire/netflow_v9.h"
#include "wire/v5.h"
#include "wire/v9_fields.h"

namespace nf {

namespace {

// A record must fit in one datagram after a message header and a set header.
constexpr size_t kMaxRecordLength = 65535 - 16 - 4;
// NTP era 0 starts 70 years (incl. 17 leap days) before the Unix epoch.
constexpr int64_t kNtpToUnixSeconds = 2208988800LL;
// Sequence jumps larger than this are a reset (restart, new stream), not loss.
constexpr int64_t kMaxSequenceGap = 1 << 20;
// sysUptime may step back this much from reordering before we call it a restart.
constexpr uint32_t kUptimeSlackMs = 10'000;
// Sequence trackers / sampler entries per exporter: beyond this we stop adding (no growth).
constexpr size_t kMaxTrackersPerExporter = 4096;

// What the decoder does with each template field; computed once per template.
enum Op : uint8_t {
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
};

bool IsUnsignedLength(uint16_t len) { return len >= 1 && len <= 8; }

uint8_t OpFor(uint16_t type, uint16_t len) {
  namespace f = field;
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
    default: return kSkip;
  }
}

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

DecodeError FromTemplateError(TemplateParseError e) {
  switch (e) {
    case TemplateParseError::kTruncated: return DecodeError::kTemplateTruncated;
    case TemplateParseError::kBadTemplateId: return DecodeError::kTemplateBadId;
    case TemplateParseError::kZeroFields: return DecodeError::kTemplateZeroFields;
    case TemplateParseError::kBadScopeLength: return DecodeError::kTemplateBadScope;
    case TemplateParseError::kRecordTooLong: return DecodeError::kTemplateTooLong;
    case TemplateParseError::kNone: break;
  }
  return DecodeError::kTemplateTruncated;
}

bool AllZero(std::span<const uint8_t> s) {
  return std::all_of(s.begin(), s.end(), [](uint8_t b) { return b == 0; });
}

// flowStartSeconds/flowEndSeconds may be 8 bytes: a hostile value times 1000 would overflow
// int64 (found by the decoder fuzz target). Times past 9999-12-31 are clamped there.
int64_t SecondsToMs(uint64_t secs) {
  constexpr uint64_t kMaxSecs = 253'402'300'799;
  return static_cast<int64_t>(secs > kMaxSecs ? kMaxSecs : secs) * 1000;
}
int64_t ClampMs(uint64_t ms) {
  constexpr uint64_t kMaxMs = 253'402'300'799'999;
  return static_cast<int64_t>(ms > kMaxMs ? kMaxMs : ms);
}

// What an options data record said about sampling / system init time.
struct OptionValues {
  bool has_interval = false;
  bool has_space = false;
  bool has_sampler = false;
  bool has_init = false;
  uint64_t interval = 0;
  uint64_t space = 0;
  uint64_t sampler = 0;
  uint64_t init_ms = 0;

  // 1-in-N interval, 0 when unknown or nonsensical (interval 0 is a divide-by-zero trap).
  uint32_t Rate() const {
    if (!has_interval || interval == 0) return 0;
    uint64_t n = interval;
    if (has_space) n = (interval + space) / interval;  // IPFIX 305/306: selected vs skipped
    if (n == 0 || n > 0xFFFFFFFFu) return 0;
    return static_cast<uint32_t>(n);
  }
};

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
};

// One field with a fixed length: what the op says. Used by the generic per-field loop and, for
// the few ops the plan does not move directly (times, ICMP, sampling), by the fast path.
[[gnu::always_inline]] inline void ApplyField(uint8_t op, const uint8_t* p, size_t len,
                                              int64_t export_ms, DecodedRecord& r,
                                              FieldState& s) {
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
    default: break;
  }
}

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
uint8_t Destination(uint8_t op) {
  switch (op) {
    case kSrcV6: return kSrcV4;
    case kDstV6: return kDstV4;
    case kNextHopV6: return kNextHopV4;
    default: return op;
  }
}

void CompilePlan(CachedTemplate& t) {
  DecodePlan& plan = t.plan;
  plan = DecodePlan{};
  if (t.variable_length || t.record.is_options) return;
  // first_ms / last_ms writers keep their wire order: typed only when all are absolute
  // seconds or milliseconds, otherwise all go through the generic code.
  bool simple_times = true;
  for (uint8_t op : t.ops) {
    if (op == kStartNtp || op == kEndNtp || op == kStartDeltaUs || op == kEndDeltaUs) {
      simple_times = false;
    }
  }
  std::array<uint16_t, 256> writers{};
  for (uint8_t op : t.ops) ++writers[Destination(op)];
  size_t offset = 0;
  for (size_t i = 0; i < t.ops.size(); ++i) {
    const uint16_t o = static_cast<uint16_t>(offset);
    const uint16_t w = t.lengths[i];
    offset += w;
    const bool shared = writers[Destination(t.ops[i])] > 1;
    switch (t.ops[i]) {
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
          plan.special.push_back({o, w, t.ops[i]});
        }
        break;
      case kFirstUptime: plan.uptimes.push_back({o, w, false}); break;
      case kLastUptime: plan.uptimes.push_back({o, w, true}); break;
      case kStartSec:
      case kEndSec:
      case kStartMs:
      case kEndMs:
        if (simple_times) {
          const uint8_t op = t.ops[i];
          plan.absolute_times.push_back(
              {o, w, op == kStartSec || op == kEndSec ? 1000 : 1,
               op == kStartSec || op == kStartMs ? &DecodedRecord::first_ms
                                                 : &DecodedRecord::last_ms});
          break;
        }
        plan.special.push_back({o, w, t.ops[i]});
        break;
      default: plan.special.push_back({o, w, t.ops[i]}); break;
    }
  }
  plan.fixed = true;
}

}  // namespace

const char* DecodeErrorName(DecodeError e) {
  switch (e) {
    case DecodeError::kShortDatagram: return "short_datagram";
    case DecodeError::kBadVersion: return "bad_version";
    case DecodeError::kIpfixLengthMismatch: return "ipfix_length_mismatch";
    case DecodeError::kV5CountMismatch: return "v5_count_mismatch";
    case DecodeError::kV9CountMismatch: return "v9_count_mismatch";
    case DecodeError::kSetTooShort: return "set_too_short";
    case DecodeError::kSetPastEnd: return "set_past_end";
    case DecodeError::kReservedSetId: return "reserved_set_id";
    case DecodeError::kTemplateTruncated: return "template_truncated";
    case DecodeError::kTemplateBadId: return "template_bad_id";
    case DecodeError::kTemplateZeroFields: return "template_zero_fields";
    case DecodeError::kTemplateZeroLengthRecord: return "template_zero_length_record";
    case DecodeError::kTemplateBadScope: return "template_bad_scope";
    case DecodeError::kTemplateTooLong: return "template_too_long";
    case DecodeError::kTemplateTooManyFields: return "template_too_many_fields";
    case DecodeError::kTemplateLimit: return "template_limit";
    case DecodeError::kWithdrawUnknown: return "withdraw_unknown_template";
    case DecodeError::kRecordTruncated: return "record_truncated";
    case DecodeError::kSetTrailingBytes: return "set_trailing_bytes";
    case DecodeError::kEarlyBufferFull: return "early_buffer_full";
    case DecodeError::kExporterLimit: return "exporter_limit";
    case DecodeError::kZeroPadding: return "zero_padding";
    case DecodeError::kCount: break;
  }
  return "unknown";
}

uint64_t ExporterStats::ErrorTotal() const {
  uint64_t n = 0;
  for (uint64_t e : errors) n += e;
  return n;
}

Decoder::Decoder(const DecoderOptions& options)
    : options_(options), cache_(options.templates) {}

bool Decoder::Compile(CachedTemplate& t, uint8_t version) const {
  const TemplateRecord& rec = t.record;
  const size_t n = rec.scope_fields.size() + rec.fields.size();
  if (n == 0 || n > options_.max_template_fields) return false;
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
      t.ops.push_back(kSkip);
      continue;
    }
    fixed += f.length;
    // v9 scope field types (System, Interface, ...) are not information elements.
    if (f.enterprise != 0 || (scope && version == kNetflowV9Version)) {
      t.ops.push_back(kSkip);
    } else {
      t.ops.push_back(OpFor(f.type, f.length));
    }
  }
  if (fixed > kMaxRecordLength) return false;
  t.variable_length = variable > 0;
  t.min_record_length = fixed + variable;
  CompilePlan(t);
  return t.min_record_length > 0;
}

Decoder::ExporterState* Decoder::StateFor(const ExporterId& exporter) {
  ExporterId id = exporter;
  if (!options_.templates.key_port) id.port = 0;
  auto it = index_.find(id);
  if (it != index_.end()) return states_[it->second].get();
  if (states_.size() >= options_.max_exporters) return nullptr;
  auto st = std::make_unique<ExporterState>();
  st->id = id;
  index_.emplace(id, states_.size());
  states_.push_back(std::move(st));
  return states_.back().get();
}

void Decoder::DecodeDatagram(std::span<const uint8_t> datagram, const ExporterId& exporter,
                             TimeUs receive_time, RecordSink& sink) {
  if (options_.shared_templates != nullptr &&
      options_.shared_templates->generation() != shared_seen_) {
    SyncSharedTemplates(receive_time, sink);
  }
  ExporterState* st = StateFor(exporter);
  if (st == nullptr) {
    ++exporters_refused_;
    ++overflow_state_.stats.datagrams;
    Count(overflow_state_, DecodeError::kExporterLimit);
    return;
  }
  ++st->stats.datagrams;
  st->stats.datagram_bytes += datagram.size();
  if (!st->early.empty()) AgeEarly(*st, receive_time);
  if (datagram.size() < 2) {
    Count(*st, DecodeError::kShortDatagram);
    return;
  }
  const uint16_t version = ByteReader::LoadBe16(datagram.data());
  switch (version) {
    case 5: DecodeV5(datagram, *st, exporter, receive_time, sink); break;
    case 9: DecodeV9(datagram, *st, exporter, receive_time, sink); break;
    case kIpfixVersion: DecodeIpfix(datagram, *st, exporter, receive_time, sink); break;
    default: Count(*st, DecodeError::kBadVersion); break;
  }
}

void Decoder::CheckSequence(ExporterState& st, const SeqKey& key, uint32_t seq, uint32_t units,
                            bool countable, int64_t alt_units) {
  auto it = st.seq.find(key);
  if (it == st.seq.end()) {
    if (st.seq.size() >= kMaxTrackersPerExporter) return;
    it = st.seq.emplace(key, SeqTracker{}).first;
  }
  SeqTracker& t = it->second;
  const bool have_alt = alt_units >= 0;
  const uint32_t alt = have_alt ? static_cast<uint32_t>(alt_units) : units;
  auto advance = [&] {
    t.expected = seq + units;
    t.expected_alt = seq + alt;
  };
  if (!t.init) {
    if (countable) {
      t.init = true;
      advance();
    }
    return;
  }
  uint32_t want = t.alt_mode ? t.expected_alt : t.expected;
  if (have_alt && !t.alt_mode && seq != t.expected && seq == t.expected_alt &&
      t.expected != t.expected_alt) {
    // The gap is exactly the previous datagram's flow count: this exporter numbers flows.
    t.alt_mode = true;
    want = seq;
  }
  const uint32_t step = t.alt_mode ? alt : units;
  const int64_t diff = static_cast<int32_t>(seq - want);
  if (diff == 0) {
    advance();
  } else if (diff > 0) {
    if (diff <= kMaxSequenceGap) {
      st.stats.sequence_lost += static_cast<uint64_t>(diff);
    } else {
      ++st.stats.sequence_resets;
    }
    advance();
  } else if (-diff <= static_cast<int64_t>(options_.reorder_window)) {
    // A late datagram we already counted as missing: it was reordered, not lost.
    ++st.stats.sequence_reordered;
    st.stats.sequence_lost -= std::min<uint64_t>(st.stats.sequence_lost, step);
  } else {
    ++st.stats.sequence_resets;
    advance();
  }
  // Without a flow count an exporter that numbers flows cannot be followed: resync next time.
  if (!countable || (t.alt_mode && !have_alt)) t.init = false;
}

uint32_t Decoder::SamplingFor(const ExporterState& st, uint32_t domain, bool has_sampler,
                              uint64_t sampler, uint32_t record_interval) const {
  if (has_sampler) {
    auto it = st.samplers.find(SamplerKey{domain, sampler});
    if (it != st.samplers.end()) return it->second;
  }
  if (record_interval != 0) return record_interval;
  auto it = st.domain_sampling.find(domain);
  if (it != st.domain_sampling.end()) return it->second;
  // Cisco sends options and data with different source IDs (akvorado#89): fall back to the
  // last interval this exporter announced anywhere.
  return st.any_sampling;
}

// ---------------------------------------------------------------------------------------------
// NetFlow v5

void Decoder::DecodeV5(std::span<const uint8_t> d, ExporterState& st, const ExporterId& exporter,
                       TimeUs now, RecordSink& sink) {
  ++st.stats.v5_datagrams;
  if (d.size() < kV5HeaderBytes) {
    Count(st, DecodeError::kShortDatagram);
    return;
  }
  const uint8_t* h = d.data();
  const uint16_t count = ByteReader::LoadBe16(h + 2);
  const uint32_t uptime = ByteReader::LoadBe32(h + 4);
  const uint32_t secs = ByteReader::LoadBe32(h + 8);
  const uint32_t nsecs = ByteReader::LoadBe32(h + 12);
  const uint32_t seq = ByteReader::LoadBe32(h + 16);
  const uint32_t domain = (uint32_t{h[20]} << 8) | h[21];
  const uint16_t sampling_field = ByteReader::LoadBe16(h + 22);
  const size_t present = (d.size() - kV5HeaderBytes) / kV5RecordBytes;
  size_t n = count;
  if (present != count) {
    // Decode what is there (like tshark) but say the header lied.
    Count(st, DecodeError::kV5CountMismatch);
    n = std::min<size_t>(count, present);
  }
  SeqKey key{exporter.port, 5, domain};
  {
    auto& t = st.seq[key];
    if (t.have_uptime && uptime + kUptimeSlackMs < t.last_uptime) {
      ++st.stats.restarts;
      t.init = false;
    }
    t.have_uptime = true;
    t.last_uptime = uptime;
  }
  CheckSequence(st, key, seq, static_cast<uint32_t>(n), true);
  const uint32_t interval = sampling_field & 0x3FFF;
  if (interval > 0) {
    st.domain_sampling[domain] = interval;
    st.any_sampling = interval;
    st.stats.sampling_interval = interval;
  }
  const int64_t export_ms = int64_t{secs} * 1000 + nsecs / 1'000'000;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* p = d.data() + kV5HeaderBytes + i * kV5RecordBytes;
    DecodedRecord r;
    r.exporter = exporter;
    r.version = 5;
    r.source_id = domain;
    r.receive_time_us = now;
    r.ip_version = 4;
    r.src_addr = IpAddress::V4(p);
    r.dst_addr = IpAddress::V4(p + 4);
    r.next_hop = IpAddress::V4(p + 8);
    r.input_if = ByteReader::LoadBe16(p + 12);
    r.output_if = ByteReader::LoadBe16(p + 14);
    r.packets = ByteReader::LoadBe32(p + 16);
    r.bytes = ByteReader::LoadBe32(p + 20);
    const uint32_t first = ByteReader::LoadBe32(p + 24);
    const uint32_t last = ByteReader::LoadBe32(p + 28);
    r.first_ms = export_ms - static_cast<int32_t>(uptime - first);
    r.last_ms = export_ms - static_cast<int32_t>(uptime - last);
    r.src_port = ByteReader::LoadBe16(p + 32);
    r.dst_port = ByteReader::LoadBe16(p + 34);
    r.tcp_flags = p[37];
    r.protocol = p[38];
    r.tos = p[39];
    r.src_as = ByteReader::LoadBe16(p + 40);
    r.dst_as = ByteReader::LoadBe16(p + 42);
    r.src_mask = p[44];
    r.dst_mask = p[45];
    r.sampling = SamplingFor(st, domain, false, 0, interval);
    if (options_.apply_sampling && r.sampling > 1) {
      r.packets *= r.sampling;
      r.bytes *= r.sampling;
    }
    ++st.stats.records;
    st.stats.packets += r.packets;
    st.stats.bytes += r.bytes;
    sink.OnRecord(r);
  }
}

// ---------------------------------------------------------------------------------------------
// Templates and early data

void Decoder::LearnTemplate(const Context& ctx, TemplateRecord&& rec, RecordSink& sink) {
  ExporterState& st = *ctx.state;
  ++st.stats.templates;
  CachedTemplate t;
  t.record = std::move(rec);
  t.learned_us = ctx.receive_time;
  if (t.record.scope_fields.size() + t.record.fields.size() > options_.max_template_fields) {
    Count(st, DecodeError::kTemplateTooManyFields);
    return;
  }
  const TemplateKey key =
      cache_.MakeKey(*ctx.exporter, ctx.version, ctx.domain, t.record.template_id);
  // A known template resent unchanged (the common case) keeps its compiled plan.
  if (cache_.Refresh(key, t.record, ctx.receive_time)) {
    if (!st.early.empty()) ReplayEarly(st, key, sink);
    return;
  }
  if (!Compile(t, ctx.version)) {
    // Zero-length fields are legal (they take no bytes of a record), but a record of no bytes
    // at all would make the data set walk spin, so such a template is refused.
    const bool has_fields = !t.record.scope_fields.empty() || !t.record.fields.empty();
    Count(st, has_fields ? DecodeError::kTemplateZeroLengthRecord : DecodeError::kTemplateZeroFields);
    return;
  }
  const TemplateCache::AddResult added = cache_.Add(key, std::move(t));
  switch (added) {
    case TemplateCache::AddResult::kAdded: ++st.stats.templates_new; break;
    case TemplateCache::AddResult::kReplaced: ++st.stats.templates_redefined; break;
    case TemplateCache::AddResult::kRefreshed: break;
    case TemplateCache::AddResult::kRefused: Count(st, DecodeError::kTemplateLimit); return;
  }
  if (options_.shared_templates != nullptr && added != TemplateCache::AddResult::kRefreshed) {
    // New or redefined: the other workers need it. (Refreshes are not published: no lock.)
    if (const CachedTemplate* learned = cache_.Find(key, ctx.receive_time)) {
      options_.shared_templates->Publish(key, learned->record, ctx.receive_time);
    }
  }
  if (!st.early.empty()) ReplayEarly(st, key, sink);
}

void Decoder::SyncSharedTemplates(TimeUs now, RecordSink& sink) {
  SharedTemplateStore* store = options_.shared_templates;
  if (store == nullptr) return;
  shared_changes_.clear();
  shared_seen_ = store->ChangesSince(shared_seen_, shared_changes_);
  for (SharedTemplateStore::Entry& e : shared_changes_) {
    const CachedTemplate* have = cache_.Find(e.key, now);
    if (have != nullptr && have->record == e.record) continue;  // ours, or already applied
    CachedTemplate t;
    t.record = std::move(e.record);
    t.learned_us = e.learned_us;
    if (!Compile(t, e.key.version)) continue;
    if (cache_.Add(e.key, std::move(t)) == TemplateCache::AddResult::kRefused) continue;
    auto it = index_.find(ExporterId{e.key.exporter, e.key.port});
    if (it != index_.end() && !states_[it->second]->early.empty()) {
      ReplayEarly(*states_[it->second], e.key, sink);
    }
  }
}

void Decoder::BufferEarly(const Context& ctx, const TemplateKey& key,
                          std::span<const uint8_t> body) {
  ExporterState& st = *ctx.state;
  if (st.early.size() >= options_.early_max_sets ||
      st.early_bytes + body.size() > options_.early_max_bytes) {
    ++st.stats.early_sets_dropped;
    Count(st, DecodeError::kEarlyBufferFull);
    return;
  }
  st.early.push_back(EarlySet{key, *ctx.exporter, ctx.sys_uptime_ms, ctx.export_secs,
                              ctx.receive_time, std::vector<uint8_t>(body.begin(), body.end())});
  st.early_bytes += body.size();
  ++st.stats.early_sets_buffered;
  st.stats.early_sets_pending = st.early.size();
}

void Decoder::ReplayEarly(ExporterState& st, const TemplateKey& key, RecordSink& sink) {
  // Take the matching sets out first: decoding may learn nothing new, but keep it simple and
  // never iterate a deque we modify.
  std::vector<EarlySet> ready;
  for (auto it = st.early.begin(); it != st.early.end();) {
    if (it->key == key) {
      st.early_bytes -= it->body.size();
      ready.push_back(std::move(*it));
      it = st.early.erase(it);
    } else {
      ++it;
    }
  }
  st.stats.early_sets_pending = st.early.size();
  for (EarlySet& e : ready) {
    const CachedTemplate* t = cache_.Find(key, e.receive_time);
    if (t == nullptr) continue;
    Context ctx{&st, &e.exporter, key.version, key.domain, e.sys_uptime_ms, e.export_secs,
                e.receive_time, true};
    st.stats.early_records_decoded += DecodeDataSet(ctx, *t, key.template_id, e.body, sink);
  }
}

void Decoder::AgeEarly(ExporterState& st, TimeUs now) {
  while (!st.early.empty() && now - st.early.front().receive_time > options_.early_max_age_us) {
    st.early_bytes -= st.early.front().body.size();
    st.early.pop_front();
    ++st.stats.early_sets_aged_out;
  }
  st.stats.early_sets_pending = st.early.size();
}

void Decoder::Expire(TimeUs now) {
  for (auto& st : states_) AgeEarly(*st, now);
  cache_.Expire(now);
}

void Decoder::DiscardEarly() {
  for (auto& st : states_) {
    st->stats.early_sets_aged_out += st->early.size();
    st->early.clear();
    st->early_bytes = 0;
    st->stats.early_sets_pending = 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Data records (v9 and IPFIX share this path)

size_t Decoder::DecodeDataSet(const Context& ctx, const CachedTemplate& t, uint16_t template_id,
                              std::span<const uint8_t> body, RecordSink& sink) {
  ExporterState& st = *ctx.state;
  const TemplateRecord& rec = t.record;
  const int64_t export_ms = int64_t{ctx.export_secs} * 1000;
  size_t pos = 0;
  size_t decoded = 0;
  // Records without their own sampler ID / interval share the set's default: look it up once.
  const uint32_t set_sampling = SamplingFor(st, ctx.domain, false, 0, 0);

  // Everything after a record's fields: options data updates the exporter's sampling state;
  // flow records get their times, ICMP port, sampling, and go to the sink.
  auto finish = [&](DecodedRecord& r, const FieldState& s) __attribute__((always_inline)) {
    ++decoded;
    if (rec.is_options) {
      ++st.stats.options_records;
      const OptionValues& opt = s.opt;
      const uint32_t rate = opt.Rate();
      if (rate != 0) {
        if (opt.has_sampler) {
          if (st.samplers.size() < kMaxTrackersPerExporter || st.samplers.contains({ctx.domain, opt.sampler})) {
            st.samplers[SamplerKey{ctx.domain, opt.sampler}] = rate;
          }
        } else if (st.domain_sampling.size() < kMaxTrackersPerExporter ||
                   st.domain_sampling.contains(ctx.domain)) {
          st.domain_sampling[ctx.domain] = rate;
        }
        st.any_sampling = rate;
        st.stats.sampling_interval = rate;
      }
      if (opt.has_init && (st.system_init_ms.size() < kMaxTrackersPerExporter ||
                           st.system_init_ms.contains(ctx.domain))) {
        st.system_init_ms[ctx.domain] = static_cast<int64_t>(opt.init_ms);
      }
      return;
    }
    if (s.has_first_uptime || s.has_last_uptime) {
      if (ctx.version == kNetflowV9Version) {
        // sysUptime-relative with modulo 2^32 arithmetic: a flow that started before an uptime
        // wrap still lands before the export time.
        if (s.has_first_uptime) {
          r.first_ms = export_ms - static_cast<int32_t>(ctx.sys_uptime_ms -
                                                        static_cast<uint32_t>(s.first_uptime));
        }
        if (s.has_last_uptime) {
          r.last_ms = export_ms - static_cast<int32_t>(ctx.sys_uptime_ms -
                                                       static_cast<uint32_t>(s.last_uptime));
        }
      } else {
        // IPFIX flowStart/EndSysUpTime are relative to systemInitTimeMilliseconds (IE 160),
        // from the record itself or learned from options data.
        int64_t init = kNoTime;
        if (s.opt.has_init) {
          init = static_cast<int64_t>(s.opt.init_ms);
        } else if (auto it = st.system_init_ms.find(ctx.domain); it != st.system_init_ms.end()) {
          init = it->second;
        }
        if (init != kNoTime) {
          if (s.has_first_uptime) r.first_ms = init + static_cast<int64_t>(s.first_uptime);
          if (s.has_last_uptime) r.last_ms = init + static_cast<int64_t>(s.last_uptime);
        }
      }
    }
    if (r.ip_version == 0 || (r.src_addr.version != 0 && r.ip_version != r.src_addr.version)) {
      r.ip_version = r.src_addr.version != 0 ? r.src_addr.version : r.dst_addr.version;
    }
    uint16_t icmp = s.icmp;
    bool has_icmp = s.has_icmp;
    if (s.has_icmp_type && !has_icmp) {
      icmp = static_cast<uint16_t>((s.icmp_type << 8) | s.icmp_code);
      has_icmp = true;
    }
    if (has_icmp && r.dst_port == 0 && (r.protocol == 1 || r.protocol == 58)) r.dst_port = icmp;
    r.sampling = (s.opt.has_sampler || s.opt.has_interval)
                     ? SamplingFor(st, ctx.domain, s.opt.has_sampler, s.opt.sampler, s.opt.Rate())
                     : set_sampling;
    if (options_.apply_sampling && r.sampling > 1) {
      r.packets *= r.sampling;
      r.bytes *= r.sampling;
    }
    ++st.stats.records;
    st.stats.packets += r.packets;
    st.stats.bytes += r.bytes;
    sink.OnRecord(r);
  };
  auto set_identity = [&](DecodedRecord& r) {
    r.exporter = *ctx.exporter;
    r.version = ctx.version;
    r.from_early_buffer = ctx.from_early;
    r.source_id = ctx.domain;
    r.template_id = template_id;
    r.receive_time_us = ctx.receive_time;
  };
  const uint8_t* base = body.data();

  if (t.plan.fixed) {
    // Fast path (see DecodePlan): one record object for the whole set. Members the plan sets
    // are overwritten by every record; members summed or adjusted after the fields are reset
    // here; members the template lacks keep their defaults.
    const DecodePlan& plan = t.plan;
    const size_t length = t.min_record_length;
    DecodedRecord r;
    set_identity(r);
    while (body.size() - pos >= length) {
      const uint8_t* p = base + pos;
      pos += length;
      r.packets = r.bytes = r.out_packets = r.out_bytes = 0;
      r.first_ms = r.last_ms = kNoTime;
      r.ip_version = 0;
      r.dst_port = 0;
      for (const DecodeMove<uint64_t>& m : plan.add64_w8) r.*m.field += LoadBe64(p + m.offset);
      for (const DecodeMove<uint64_t>& m : plan.add64_w4) {
        r.*m.field += ByteReader::LoadBe32(p + m.offset);
      }
      for (const DecodeMove<uint64_t>& m : plan.add64) r.*m.field += LoadUnsigned(p + m.offset, m.width);
      for (const DecodeMove<uint8_t>& m : plan.set8_w1) r.*m.field = p[m.offset];
      for (const DecodeMove<uint8_t>& m : plan.set8) {
        r.*m.field = static_cast<uint8_t>(LoadUnsigned(p + m.offset, m.width));
      }
      for (const DecodeMove<uint16_t>& m : plan.set16_w2) {
        r.*m.field = ByteReader::LoadBe16(p + m.offset);
      }
      for (const DecodeMove<uint16_t>& m : plan.set16) {
        r.*m.field = static_cast<uint16_t>(LoadUnsigned(p + m.offset, m.width));
      }
      for (const DecodeMove<uint32_t>& m : plan.set32_w4) {
        r.*m.field = ByteReader::LoadBe32(p + m.offset);
      }
      for (const DecodeMove<uint32_t>& m : plan.set32) {
        r.*m.field = static_cast<uint32_t>(LoadUnsigned(p + m.offset, m.width));
      }
      // Addresses in place: building a temporary and copying it costs a store-forwarding stall.
      for (const DecodeMove<IpAddress>& m : plan.v4_addresses) {
        IpAddress& a = r.*m.field;
        a.version = 4;
        std::memcpy(a.bytes.data(), p + m.offset, 4);
        std::memset(a.bytes.data() + 4, 0, 12);
      }
      for (const DecodeMove<IpAddress>& m : plan.v6_addresses) {
        IpAddress& a = r.*m.field;
        a.version = 6;
        std::memcpy(a.bytes.data(), p + m.offset, 16);
      }
      for (const DecodeMove<IpAddress>& m : plan.addresses) {
        IpAddress& a = r.*m.field;
        a.version = m.width == 4 ? 4 : 6;
        std::memcpy(a.bytes.data(), p + m.offset, m.width);
        if (m.width == 4) std::memset(a.bytes.data() + 4, 0, 12);
      }
      FieldState s;
      for (const DecodePlan::Uptime& m : plan.uptimes) {
        const uint64_t v = LoadUnsigned(p + m.offset, m.width);
        if (m.last) {
          s.last_uptime = v;
          s.has_last_uptime = true;
        } else {
          s.first_uptime = v;
          s.has_first_uptime = true;
        }
      }
      for (uint16_t o : plan.icmp_type_code) {
        s.icmp = ByteReader::LoadBe16(p + o);
        s.has_icmp = true;
      }
      for (const DecodePlan::AbsoluteTime& m : plan.absolute_times) {
        // Clamped like the generic path (an 8-byte value times 1000 would overflow).
        const uint64_t v = LoadUnsigned(p + m.offset, m.width);
        r.*m.field = m.multiplier == 1000 ? SecondsToMs(v) : ClampMs(v);
      }
      for (const DecodePlan::Special& m : plan.special) {
        ApplyField(m.op, p + m.offset, m.width, export_ms, r, s);
      }
      finish(r, s);
    }
    // Padding to a 4-byte boundary (some exporters pad more, with zeros).
    const size_t rem = body.size() - pos;
    if (rem >= 4 && !AllZero(body.subspan(pos))) Count(st, DecodeError::kSetTrailingBytes);
    return decoded;
  }

  // Generic path: variable-length fields (IPFIX) and options records, field by field.
  const size_t nfields = t.ops.size();
  const uint8_t* ops = t.ops.data();
  const uint16_t* lens = t.lengths.data();
  while (pos < body.size()) {
    const size_t rem = body.size() - pos;
    if (rem < t.min_record_length || (t.variable_length && rem < 4 && AllZero(body.subspan(pos)))) {
      // Padding to a 4-byte boundary (some exporters pad more, with zeros).
      if (rem >= 4 && !AllZero(body.subspan(pos))) Count(st, DecodeError::kSetTrailingBytes);
      break;
    }
    DecodedRecord r;
    FieldState s;
    bool ok = true;
    for (size_t i = 0; i < nfields; ++i) {
      size_t len = lens[i];
      if (len == kVariableLength) {
        if (pos >= body.size()) { ok = false; break; }
        len = base[pos++];
        if (len == 255) {
          if (body.size() - pos < 2) { ok = false; break; }
          len = ByteReader::LoadBe16(base + pos);
          pos += 2;
        }
        if (body.size() - pos < len) { ok = false; break; }
        pos += len;
        continue;
      }
      if (body.size() - pos < len) { ok = false; break; }
      const uint8_t* p = base + pos;
      pos += len;
      ApplyField(ops[i], p, len, export_ms, r, s);
    }
    if (!ok) {
      Count(st, DecodeError::kRecordTruncated);
      break;
    }
    set_identity(r);
    finish(r, s);
  }
  return decoded;
}

// ---------------------------------------------------------------------------------------------
// NetFlow v9

void Decoder::DecodeV9(std::span<const uint8_t> d, ExporterState& st, const ExporterId& exporter,
                       TimeUs now, RecordSink& sink) {
  ++st.stats.v9_datagrams;
  ByteReader r(d);
  V9Header h;
  if (!V9Header::Decode(r, h)) {
    Count(st, DecodeError::kShortDatagram);
    return;
  }
  const SeqKey seq_key{exporter.port, 9, h.source_id};
  {
    auto it = st.seq.find(seq_key);
    if (it != st.seq.end()) {
      SeqTracker& t = it->second;
      const bool wrapped = t.last_uptime > 0xF0000000u && h.sys_uptime_ms < 0x10000000u;
      if (t.have_uptime && !wrapped && h.sys_uptime_ms + kUptimeSlackMs < t.last_uptime) {
        ++st.stats.restarts;
        t.init = false;  // a restarted exporter starts a new sequence: not loss
      }
      t.have_uptime = true;
      t.last_uptime = h.sys_uptime_ms;
    } else if (st.seq.size() < kMaxTrackersPerExporter) {
      SeqTracker t;
      t.have_uptime = true;
      t.last_uptime = h.sys_uptime_ms;
      st.seq.emplace(seq_key, t);
    }
  }
  Context ctx{&st, &exporter, 9, h.source_id, h.sys_uptime_ms, h.unix_secs, now, false};
  const uint64_t records_before = st.stats.records;
  size_t found = 0;
  bool uncertain = false;  // some set could not be counted (unknown template, error)
  while (r.remaining() > 0) {
    if (r.remaining() < kFlowSetHeaderSize || ByteReader::LoadBe16(r.current() + 2) == 0) {
      if (AllZero(r.rest())) {
        Count(st, DecodeError::kZeroPadding);
      } else {
        Count(st, DecodeError::kSetTooShort);
        uncertain = true;
      }
      break;
    }
    uint16_t id = 0, len = 0;
    r.ReadU16(id);
    r.ReadU16(len);
    if (len < kFlowSetHeaderSize) {
      Count(st, DecodeError::kSetTooShort);
      uncertain = true;
      break;
    }
    std::span<const uint8_t> body;
    if (!r.ReadSpan(len - kFlowSetHeaderSize, body)) {
      Count(st, DecodeError::kSetPastEnd);
      uncertain = true;
      break;
    }
    if (id == kTemplateFlowSetId || id == kOptionsTemplateFlowSetId) {
      auto on_template = [&](TemplateRecord&& t) {
        ++found;
        LearnTemplate(ctx, std::move(t), sink);
      };
      const TemplateParseError e = id == kTemplateFlowSetId
                                       ? ParseV9TemplateFlowSet(body, on_template)
                                       : ParseV9OptionsTemplateFlowSet(body, on_template);
      if (e != TemplateParseError::kNone) {
        Count(st, FromTemplateError(e));
        uncertain = true;
      }
    } else if (id < kMinDataFlowSetId) {
      Count(st, DecodeError::kReservedSetId);
      uncertain = true;
    } else {
      const TemplateKey key = cache_.MakeKey(exporter, 9, h.source_id, id);
      const CachedTemplate* t = cache_.Find(key, now);
      if (t == nullptr) {
        BufferEarly(ctx, key, body);
        uncertain = true;
      } else {
        found += DecodeDataSet(ctx, *t, id, body, sink);
      }
    }
  }
  if (!uncertain && found != h.count) Count(st, DecodeError::kV9CountMismatch);
  // v9 sequence numbers count datagrams (RFC 3954); the flow count is passed for exporters
  // that number flows instead. Replayed early records are not this datagram's.
  const uint64_t flows = st.stats.records - records_before;
  CheckSequence(st, seq_key, h.sequence, 1, true, uncertain ? -1 : static_cast<int64_t>(flows));
}

// ---------------------------------------------------------------------------------------------
// IPFIX

void Decoder::DecodeIpfix(std::span<const uint8_t> d, ExporterState& st,
                          const ExporterId& exporter, TimeUs now, RecordSink& sink) {
  ++st.stats.ipfix_datagrams;
  if (d.size() < kIpfixMessageHeaderSize) {
    Count(st, DecodeError::kShortDatagram);
    return;
  }
  const uint16_t msg_len = ByteReader::LoadBe16(d.data() + 2);
  const uint32_t export_secs = ByteReader::LoadBe32(d.data() + 4);
  const uint32_t seq = ByteReader::LoadBe32(d.data() + 8);
  const uint32_t domain = ByteReader::LoadBe32(d.data() + 12);
  if (msg_len != d.size()) {
    Count(st, DecodeError::kIpfixLengthMismatch);
    if (msg_len < kIpfixMessageHeaderSize) return;
    if (msg_len < d.size()) d = d.first(msg_len);
  }
  ByteReader r(d.subspan(kIpfixMessageHeaderSize));
  Context ctx{&st, &exporter, 10, domain, 0, export_secs, now, false};
  size_t data_records = 0;
  bool uncertain = false;
  while (r.remaining() > 0) {
    if (r.remaining() < 4) {
      if (AllZero(r.rest())) {
        Count(st, DecodeError::kZeroPadding);
      } else {
        Count(st, DecodeError::kSetTooShort);
        uncertain = true;
      }
      break;
    }
    uint16_t id = 0, len = 0;
    r.ReadU16(id);
    r.ReadU16(len);
    if (len < 4) {
      Count(st, DecodeError::kSetTooShort);
      uncertain = true;
      break;
    }
    std::span<const uint8_t> body;
    if (!r.ReadSpan(len - 4u, body)) {
      Count(st, DecodeError::kSetPastEnd);
      uncertain = true;
      break;
    }
    if (id == kIpfixTemplateSetId || id == kIpfixOptionsTemplateSetId) {
      const bool options = id == kIpfixOptionsTemplateSetId;
      ByteReader tr(body);
      while (tr.remaining() >= 4) {
        uint16_t tid = 0, count = 0;
        tr.ReadU16(tid);
        tr.ReadU16(count);
        if (count == 0) {
          // Withdrawal (RFC 7011 8.1): the set's own ID as template ID withdraws them all.
          ++st.stats.templates_withdrawn;
          if (tid == id) {
            cache_.WithdrawAll(cache_.MakeKey(exporter, 10, domain, 0), options);
          } else if (!cache_.Withdraw(cache_.MakeKey(exporter, 10, domain, tid))) {
            Count(st, DecodeError::kWithdrawUnknown);
          }
          continue;
        }
        uint16_t scope_count = 0;
        if (options && !tr.ReadU16(scope_count)) {
          Count(st, DecodeError::kTemplateTruncated);
          break;
        }
        if (tid < kMinDataFlowSetId) {
          Count(st, DecodeError::kTemplateBadId);
          uncertain = true;
          break;
        }
        if (options && (scope_count == 0 || scope_count > count)) {
          Count(st, DecodeError::kTemplateBadScope);
          uncertain = true;
          break;
        }
        if (count > options_.max_template_fields) {
          Count(st, DecodeError::kTemplateTooManyFields);
          uncertain = true;
          break;
        }
        TemplateRecord t;
        t.template_id = tid;
        t.is_options = options;
        bool ok = true;
        size_t fixed = 0;
        for (uint16_t i = 0; i < count; ++i) {
          TemplateField f;
          if (!tr.ReadU16(f.type) || !tr.ReadU16(f.length)) { ok = false; break; }
          if (f.type & 0x8000) {
            f.type &= 0x7FFF;
            if (!tr.ReadU32(f.enterprise)) { ok = false; break; }
          }
          if (f.length != kVariableLength) fixed += f.length;
          (i < scope_count ? t.scope_fields : t.fields).push_back(f);
        }
        if (!ok) {
          Count(st, DecodeError::kTemplateTruncated);
          uncertain = true;
          break;
        }
        if (fixed > kMaxRecordLength) {
          Count(st, DecodeError::kTemplateTooLong);
          uncertain = true;
          continue;
        }
        LearnTemplate(ctx, std::move(t), sink);
      }
    } else if (id < kMinDataFlowSetId) {
      Count(st, DecodeError::kReservedSetId);
      uncertain = true;
    } else {
      const TemplateKey key = cache_.MakeKey(exporter, 10, domain, id);
      const CachedTemplate* t = cache_.Find(key, now);
      if (t == nullptr) {
        BufferEarly(ctx, key, body);
        uncertain = true;
      } else {
        data_records += DecodeDataSet(ctx, *t, id, body, sink);
      }
    }
  }
  // IPFIX sequence numbers count data records, so only a fully decoded message can advance it.
  CheckSequence(st, SeqKey{exporter.port, 10, domain}, seq, static_cast<uint32_t>(data_records),
                !uncertain);
}

// ---------------------------------------------------------------------------------------------

void Decoder::ForEachExporter(
    absl::FunctionRef<void(const ExporterId&, const ExporterStats&)> fn) const {
  for (const auto& st : states_) fn(st->id, st->stats);
}

ExporterStats Decoder::Totals() const {
  ExporterStats t;
  for (const auto& st : states_) t.AddCounters(st->stats);
  t.AddCounters(overflow_state_.stats);
  return t;
}

void ExporterStats::AddCounters(const ExporterStats& s) {
  ExporterStats& t = *this;
  t.datagrams += s.datagrams;
  t.datagram_bytes += s.datagram_bytes;
  t.v5_datagrams += s.v5_datagrams;
  t.v9_datagrams += s.v9_datagrams;
  t.ipfix_datagrams += s.ipfix_datagrams;
  t.records += s.records;
  t.options_records += s.options_records;
  t.packets += s.packets;
  t.bytes += s.bytes;
  t.templates += s.templates;
  t.templates_new += s.templates_new;
  t.templates_redefined += s.templates_redefined;
  t.templates_withdrawn += s.templates_withdrawn;
  t.sequence_lost += s.sequence_lost;
  t.sequence_reordered += s.sequence_reordered;
  t.sequence_resets += s.sequence_resets;
  t.restarts += s.restarts;
  t.early_sets_buffered += s.early_sets_buffered;
  t.early_records_decoded += s.early_records_decoded;
  t.early_sets_aged_out += s.early_sets_aged_out;
  t.early_sets_dropped += s.early_sets_dropped;
  t.early_sets_pending += s.early_sets_pending;
  for (size_t i = 0; i < kDecodeErrorCount; ++i) t.errors[i] += s.errors[i];
}

}  // namespace nf
