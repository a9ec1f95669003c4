// Evaluation and printing of a compiled filter (the compiler is flow_filter_compile.cc).
#include "collector/filter/flow_filter.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "absl/numeric/int128.h"
#include "absl/strings/str_cat.h"

namespace nf {

namespace {

using Node = FlowFilter::Node;

// last - first in milliseconds as nfdump computes it, except that a record without both times,
// or with last before first, lasts 0 ms (nfdump's unsigned subtraction would make the latter
// about 584 million years).
uint64_t DurationMs(const DecodedRecord& r) {
  if (r.first_ms == kNoTime || r.last_ms == kNoTime || r.last_ms <= r.first_ms) return 0;
  return static_cast<uint64_t>(r.last_ms) - static_cast<uint64_t>(r.first_ms);
}

// floor(count * scale / duration_ms), 0 for a zero duration (nfdump's pps and bps). Computed in
// 128 bits so a large counter cannot wrap; saturates at the 64-bit maximum.
uint64_t Rate(uint64_t count, uint64_t scale, uint64_t duration_ms) {
  if (duration_ms == 0) return 0;
  const absl::uint128 q = absl::uint128(count) * scale / duration_ms;
  return q > std::numeric_limits<uint64_t>::max() ? std::numeric_limits<uint64_t>::max()
                                                  : absl::Uint128Low64(q);
}

uint64_t NumberOf(Node::Field f, const DecodedRecord& r) {
  switch (f) {
    case Node::kIpVersion: return r.ip_version;
    case Node::kProtocol: return r.protocol;
    case Node::kTos: return r.tos;
    case Node::kSrcPort: return r.src_port;
    case Node::kDstPort: return r.dst_port;
    case Node::kIcmpType: return r.dst_port >> 8;
    case Node::kIcmpCode: return r.dst_port & 0xff;
    case Node::kTcpFlags: return r.tcp_flags & 0xff;
    case Node::kSrcAs: return r.src_as;
    case Node::kDstAs: return r.dst_as;
    case Node::kSrcMask: return r.src_mask;
    case Node::kDstMask: return r.dst_mask;
    case Node::kVlan: return r.vlan;
    case Node::kInputIf: return r.input_if;
    case Node::kOutputIf: return r.output_if;
    case Node::kPackets: return r.packets;
    case Node::kBytes: return r.bytes;
    // nfdump keeps OUT_* and the reverse direction of a bidirectional record (NSEL responder,
    // RFC 5103) in one field; a record carries one or the other.
    case Node::kOutPackets: return r.out_packets + r.reverse_packets;
    case Node::kOutBytes: return r.out_bytes + r.reverse_bytes;
    case Node::kFlows: return r.flows;
    case Node::kDuration: return DurationMs(r);
    case Node::kPps: return Rate(r.packets, 1000, DurationMs(r));
    case Node::kBps: return Rate(r.bytes, 8000, DurationMs(r));
    case Node::kBpp: return r.packets == 0 ? 0 : r.bytes / r.packets;
    case Node::kDirection: return r.direction;
    case Node::kEngineType: return r.engine_type;
    case Node::kEngineId: return r.engine_id;
    case Node::kSourceId: return r.source_id;
    case Node::kSampling: return r.sampling;
    case Node::kVersion: return r.version;
    // nfdump 1.7.1 keeps the NSEL and the NEL event in one field, so `asa event` and
    // `nat event` both see the firewall event, or the NAT event when there is none.
    case Node::kFwEvent:
    case Node::kNatEvent: return r.fw_event != 0 ? r.fw_event : r.nat_event;
    case Node::kFwExtEvent: return r.fw_ext_event;
    case Node::kPostNatSrcPort: return r.post_nat_src_port;
    case Node::kPostNatDstPort: return r.post_nat_dst_port;
    case Node::kIngressVrf: return r.ingress_vrf;
    case Node::kEgressVrf: return r.egress_vrf;
    default: return 0;
  }
}

// The address a field names; the exporter's is unmapped, since a dual-stack socket reports an
// IPv4 exporter as ::ffff:a.b.c.d (the compiler unmaps the filter's address the same way).
IpAddress AddressOf(Node::Field f, const DecodedRecord& r) {
  switch (f) {
    case Node::kSrcAddr: return r.src_addr;
    case Node::kDstAddr: return r.dst_addr;
    case Node::kNextHop: return r.next_hop;
    case Node::kExporter: return r.exporter.address.Unmapped();
    case Node::kPostNatSrcAddr: return r.post_nat_src_addr;
    case Node::kPostNatDstAddr: return r.post_nat_dst_addr;
    default: return IpAddress{};
  }
}

bool CompareNumber(uint64_t field, Node::Cmp cmp, uint64_t value) {
  switch (cmp) {
    case Node::kEq: return field == value;
    case Node::kLt: return field < value;
    case Node::kGt: return field > value;
    case Node::kLe: return field <= value;
    case Node::kGe: return field >= value;
  }
  return false;
}

bool SameAddress(const IpAddress& a, const IpAddress& b) {
  return a.version == b.version && std::memcmp(a.bytes.data(), b.bytes.data(), 16) == 0;
}

// The address with every bit past `bits` cleared.
IpAddress Masked(const IpAddress& a, int bits) {
  IpAddress out = a;
  for (int i = 0; i < 16; ++i) {
    const int keep = std::clamp(bits - i * 8, 0, 8);
    out.bytes[i] &= static_cast<uint8_t>(0xff00 >> keep);
  }
  return out;
}

bool BytesLess(const IpAddress& a, const IpAddress& b) {
  return std::memcmp(a.bytes.data(), b.bytes.data(), 16) < 0;
}

char AsciiUpper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

const char* FieldName(Node::Field f) {
  switch (f) {
    case Node::kNone: return "?";
    case Node::kIpVersion: return "ip-version";
    case Node::kProtocol: return "proto";
    case Node::kTos: return "tos";
    case Node::kSrcPort: return "src port";
    case Node::kDstPort: return "dst port";
    case Node::kIcmpType: return "icmp-type";
    case Node::kIcmpCode: return "icmp-code";
    case Node::kTcpFlags: return "flags";
    case Node::kSrcAs: return "src as";
    case Node::kDstAs: return "dst as";
    case Node::kSrcMask: return "src mask";
    case Node::kDstMask: return "dst mask";
    case Node::kVlan: return "vlan";
    case Node::kInputIf: return "in if";
    case Node::kOutputIf: return "out if";
    case Node::kPackets: return "packets";
    case Node::kBytes: return "bytes";
    case Node::kOutPackets: return "out packets";
    case Node::kOutBytes: return "out bytes";
    case Node::kFlows: return "flows";
    case Node::kDuration: return "duration";
    case Node::kPps: return "pps";
    case Node::kBps: return "bps";
    case Node::kBpp: return "bpp";
    case Node::kDirection: return "flowdir";
    case Node::kEngineType: return "engine-type";
    case Node::kEngineId: return "engine-id";
    case Node::kSourceId: return "observation domain id";
    case Node::kSampling: return "sampler";
    case Node::kVersion: return "nfversion";
    case Node::kFwEvent: return "asa event";
    case Node::kFwExtEvent: return "asa xevent";
    case Node::kNatEvent: return "nat event";
    case Node::kPostNatSrcPort: return "src xport";
    case Node::kPostNatDstPort: return "dst xport";
    case Node::kIngressVrf: return "ingress vrf";
    case Node::kEgressVrf: return "egress vrf";
    case Node::kPostNatSrcAddr: return "src xip";
    case Node::kPostNatDstAddr: return "dst xip";
    case Node::kSrcAddr: return "src ip";
    case Node::kDstAddr: return "dst ip";
    case Node::kNextHop: return "next ip";
    case Node::kExporter: return "exporter";
    case Node::kSrcCountry: return "src country";
    case Node::kDstCountry: return "dst country";
    case Node::kInputIfName: return "in if";
    case Node::kOutputIfName: return "out if";
  }
  return "?";
}

const char* CmpName(Node::Cmp c) {
  switch (c) {
    case Node::kEq: return "==";
    case Node::kLt: return "<";
    case Node::kGt: return ">";
    case Node::kLe: return "<=";
    case Node::kGe: return ">=";
  }
  return "?";
}

std::string FlagLetters(uint64_t mask) {
  std::string s;
  static constexpr struct {
    uint64_t bit;
    char letter;
  } kFlags[] = {{16, 'A'}, {2, 'S'}, {1, 'F'}, {4, 'R'}, {8, 'P'}, {32, 'U'}};
  for (const auto& f : kFlags) {
    if (mask & f.bit) s.push_back(f.letter);
  }
  return s;
}

// The prefix length of a contiguous IPv4/IPv6 mask, or -1.
int PrefixLengthOf(const IpAddress& mask) {
  const int total = mask.version == 4 ? 32 : 128;
  int bits = 0;
  while (bits < total && (mask.bytes[bits / 8] & (0x80 >> (bits % 8)))) ++bits;
  for (int b = bits; b < total; ++b) {
    if (mask.bytes[b / 8] & (0x80 >> (b % 8))) return -1;
  }
  return bits;
}

}  // namespace

FlowFilter::FlowFilter() = default;

bool FlowFilter::Matches(const DecodedRecord& r) const {
  return nodes_.empty() || Eval(0, r);
}

bool FlowFilter::AddressListContains(const Node& n, const IpAddress& a) const {
  if (a.version == 0) return false;
  // Entries are sorted by (version, prefix length, address): each run of one prefix length is
  // searched with the record's address masked to that length.
  const IpAddress* const base = addresses_.data() + n.first;
  const uint8_t* const lens = prefix_lengths_.data() + n.first;
  const IpAddress* it = std::partition_point(
      base, base + n.count, [&](const IpAddress& e) { return e.version < a.version; });
  const IpAddress* const end = base + n.count;
  while (it != end && it->version == a.version) {
    const uint8_t len = lens[it - base];
    const IpAddress* const run_end = std::partition_point(it, end, [&](const IpAddress& e) {
      return e.version == a.version && lens[&e - base] == len;
    });
    if (std::binary_search(it, run_end, Masked(a, len), BytesLess)) return true;
    it = run_end;
  }
  return false;
}

bool FlowFilter::Eval(uint32_t index, const DecodedRecord& r) const {
  const Node& n = nodes_[index];
  switch (n.kind) {
    case Node::kAnd:
      for (uint32_t i = 0; i < n.count; ++i) {
        if (!Eval(n.first + i, r)) return false;
      }
      return true;
    case Node::kOr:
      for (uint32_t i = 0; i < n.count; ++i) {
        if (Eval(n.first + i, r)) return true;
      }
      return false;
    case Node::kNot: return !Eval(n.first, r);
    case Node::kTrue: return true;
    case Node::kCompare:
      // nfdump's icmp-type/icmp-code imply ICMP or ICMPv6, and a numeric flags test TCP.
      if ((n.field == Node::kIcmpType || n.field == Node::kIcmpCode) && r.protocol != 1 &&
          r.protocol != 58) {
        return false;
      }
      if (n.field == Node::kTcpFlags && r.protocol != 6) return false;
      return CompareNumber(NumberOf(n.field, r), n.cmp, n.value);
    case Node::kFlagsAll: return r.protocol == 6 && (r.tcp_flags & n.value) == n.value;
    case Node::kFlagsAny: return r.protocol == 6 && (r.tcp_flags & n.value) != 0;
    case Node::kAddress: return SameAddress(AddressOf(n.field, r), addresses_[n.first]);
    case Node::kNet: {
      const IpAddress a = AddressOf(n.field, r);
      const IpAddress& net = addresses_[n.first];
      const IpAddress& mask = addresses_[n.first + 1];
      if (a.version != net.version) return false;
      for (int i = 0; i < 16; ++i) {
        if ((a.bytes[i] & mask.bytes[i]) != net.bytes[i]) return false;
      }
      return true;
    }
    case Node::kAddressList: return AddressListContains(n, AddressOf(n.field, r));
    case Node::kNumberList:
      return std::binary_search(numbers_.begin() + n.first, numbers_.begin() + n.first + n.count,
                                NumberOf(n.field, r));
    case Node::kCountry: {
      const std::array<char, 2>& c = n.field == Node::kSrcCountry ? r.src_country : r.dst_country;
      return AsciiUpper(c[0]) == static_cast<char>(n.value >> 8) &&
             AsciiUpper(c[1]) == static_cast<char>(n.value & 0xff);
    }
    case Node::kInterfaceName: {
      const absl::string_view name =
          n.field == Node::kInputIfName ? r.input_if_name : r.output_if_name;
      return !name.empty() && name == names_[n.first];
    }
  }
  return false;
}

std::string FlowFilter::DebugString() const {
  if (nodes_.empty()) return "any";
  std::string out;
  AppendDebug(0, out);
  return out;
}

void FlowFilter::AppendDebug(uint32_t index, std::string& out) const {
  const Node& n = nodes_[index];
  switch (n.kind) {
    case Node::kAnd:
    case Node::kOr:
      out.push_back('(');
      for (uint32_t i = 0; i < n.count; ++i) {
        if (i > 0) out.append(n.kind == Node::kAnd ? " and " : " or ");
        AppendDebug(n.first + i, out);
      }
      out.push_back(')');
      return;
    case Node::kNot:
      out.append("not ");
      AppendDebug(n.first, out);
      return;
    case Node::kTrue: out.append("any"); return;
    case Node::kCompare:
      if (n.field == Node::kIpVersion && n.cmp == Node::kEq && (n.value == 4 || n.value == 6)) {
        out.append(n.value == 4 ? "inet" : "inet6");
        return;
      }
      absl::StrAppend(&out, FieldName(n.field), " ", CmpName(n.cmp), " ", n.value);
      return;
    case Node::kFlagsAll:
    case Node::kFlagsAny:
      // Both print as written: any-of nodes only occur under an odd number of nots, so the text
      // compiles back to the same tree.
      absl::StrAppend(&out, "flags ", FlagLetters(n.value));
      return;
    case Node::kAddress:
      absl::StrAppend(&out, FieldName(n.field), " ", addresses_[n.first].ToString());
      return;
    case Node::kNet: {
      const IpAddress& mask = addresses_[n.first + 1];
      const int len = PrefixLengthOf(mask);
      const char* name = n.field == Node::kSrcAddr         ? "src net"
                         : n.field == Node::kDstAddr       ? "dst net"
                         : n.field == Node::kPostNatSrcAddr ? "src xnet"
                                                            : "dst xnet";
      if (len >= 0) {
        absl::StrAppend(&out, name, " ", addresses_[n.first].ToString(), "/", len);
      } else {
        absl::StrAppend(&out, name, " ", addresses_[n.first].ToString(), " ", mask.ToString());
      }
      return;
    }
    case Node::kAddressList:
      absl::StrAppend(&out, FieldName(n.field), " in [");
      for (uint32_t i = 0; i < n.count; ++i) {
        const IpAddress& a = addresses_[n.first + i];
        const int len = prefix_lengths_[n.first + i];
        if (i > 0) out.push_back(' ');
        out.append(a.ToString());
        if (len != (a.version == 4 ? 32 : 128)) absl::StrAppend(&out, "/", len);
      }
      out.push_back(']');
      return;
    case Node::kNumberList:
      absl::StrAppend(&out, FieldName(n.field), " in [");
      for (uint32_t i = 0; i < n.count; ++i) {
        if (i > 0) out.push_back(' ');
        absl::StrAppend(&out, numbers_[n.first + i]);
      }
      out.push_back(']');
      return;
    case Node::kCountry:
      absl::StrAppend(&out, FieldName(n.field), " ");
      out.push_back(static_cast<char>(n.value >> 8));
      out.push_back(static_cast<char>(n.value & 0xff));
      return;
    case Node::kInterfaceName: {
      // A name read from '...' may hold a double quote (and one from "..." a single quote).
      const char quote = names_[n.first].find('"') == std::string::npos ? '"' : '\'';
      absl::StrAppend(&out, FieldName(n.field), " ");
      out.push_back(quote);
      out.append(names_[n.first]);
      out.push_back(quote);
      return;
    }
  }
}

}  // namespace nf
