// The sFlow v5 walk (layouts: sflow_version_5.txt, "sFlow Version 5", sflow.org, 2004) and
// Decoder::DecodeSflow, which hands it a datagram.
//
// Each level is read through a ByteReader over exactly its own bytes (datagram, sample,
// record), so a length that lies can only make a read fail, never reach past the datagram.
// A flow sample's records are gathered first and the record built after, because the raw
// header and the extended records may come in any order.
#include "collector/decode/sflow_decoder.h"

#include <algorithm>

#include "capture/packet_parser.h"
#include "collector/decode/decoder.h"
#include "collector/decode/record_fields.h"
#include "common/byte_reader.h"

namespace nf {

namespace {

// Sample formats (enterprise 0).
constexpr uint32_t kFlowSample = 1;
constexpr uint32_t kCounterSample = 2;
constexpr uint32_t kFlowSampleExpanded = 3;
constexpr uint32_t kCounterSampleExpanded = 4;
constexpr uint32_t kDropNotification = 5;  // sflow_drops.txt
// Flow record formats.
constexpr uint32_t kRawHeader = 1;
constexpr uint32_t kSampledIpv4 = 3;
constexpr uint32_t kSampledIpv6 = 4;
constexpr uint32_t kExtendedSwitch = 1001;
constexpr uint32_t kExtendedRouter = 1002;
constexpr uint32_t kExtendedGateway = 1003;
// Counter record formats.
constexpr uint32_t kGenericInterface = 1;
constexpr uint32_t kEthernetInterface = 2;
// Raw header protocols the frame parser reads.
constexpr uint32_t kHeaderEthernet = 1;
constexpr uint32_t kHeaderIpv4 = 11;
constexpr uint32_t kHeaderIpv6 = 12;

// Fixed parts, in bytes.
constexpr size_t kFlowSampleFixed = 32;          // 7 words + record count
constexpr size_t kFlowSampleExpandedFixed = 44;  // 10 words + record count
constexpr size_t kCounterSampleFixed = 12;
constexpr size_t kCounterSampleExpandedFixed = 16;
constexpr size_t kSampledIpv4Bytes = 32;
constexpr size_t kSampledIpv6Bytes = 56;
constexpr size_t kExtendedSwitchBytes = 16;
constexpr size_t kGenericInterfaceBytes = 88;
constexpr size_t kEthernetInterfaceBytes = 4 * kSflowDot3Counters;
// Every sample and record has at least its format and length words.
constexpr size_t kTagBytes = 8;

// Interface values. The compact form has the format in its top 2 bits.
constexpr uint32_t kIfFormatIndex = 0;
constexpr uint32_t kIfFormatDiscarded = 1;
constexpr uint32_t kIfInternalCompact = 0x3fffffff;
// The expanded form's erratum says 0xffffffff; agents also send the compact 0x3fffffff there.
constexpr uint32_t kIfInternalExpanded = 0xffffffff;

enum class AddressRead { kOk, kShort, kBadType };

// An sFlow address: a type word, then 4 (IPv4) or 16 (IPv6) bytes. Type 0 ("unknown", no
// bytes) is accepted where `allow_unknown` (next hops) and leaves `out` unset.
AddressRead ReadAddress(ByteReader& r, bool allow_unknown, IpAddress& out) {
  uint32_t type = 0;
  if (!r.ReadU32(type)) return AddressRead::kShort;
  std::span<const uint8_t> bytes;
  switch (type) {
    case 0:
      return allow_unknown ? AddressRead::kOk : AddressRead::kBadType;
    case 1:
      if (!r.ReadSpan(4, bytes)) return AddressRead::kShort;
      out = IpAddress::V4(bytes.data());
      return AddressRead::kOk;
    case 2:
      if (!r.ReadSpan(16, bytes)) return AddressRead::kShort;
      out = IpAddress::V6(bytes.data());
      return AddressRead::kOk;
    default:
      return AddressRead::kBadType;
  }
}

uint32_t CompactInterface(uint32_t v, bool& discarded) {
  switch (v >> 30) {
    case kIfFormatIndex: {
      const uint32_t index = v & 0x3fffffffu;
      return index == kIfInternalCompact ? 0 : index;
    }
    case kIfFormatDiscarded: discarded = true; return 0;
    default: return 0;  // 2: several interfaces (the value is their number); 3: undefined
  }
}

uint32_t ExpandedInterface(uint32_t format, uint32_t value, bool& discarded) {
  if (format == kIfFormatIndex) {
    return value == kIfInternalExpanded || value == kIfInternalCompact ? 0 : value;
  }
  if (format == kIfFormatDiscarded) discarded = true;
  return 0;
}

// A flow sample's records, gathered before its DecodedRecord is built.
struct FlowParts {
  bool has_header = false;
  uint32_t header_protocol = 0;
  uint32_t frame_length = 0;
  std::span<const uint8_t> header;
  bool has_sampled_ip = false;
  uint8_t sampled_ip_version = 0;
  uint32_t sampled_length = 0;
  uint32_t sampled_protocol = 0;
  IpAddress sampled_src;
  IpAddress sampled_dst;
  uint32_t sampled_src_port = 0;
  uint32_t sampled_dst_port = 0;
  uint32_t sampled_tcp_flags = 0;
  uint32_t sampled_tos = 0;
  bool has_switch = false;
  uint32_t src_vlan = 0;
  bool has_router = false;
  IpAddress router_next_hop;
  uint32_t src_mask = 0;
  uint32_t dst_mask = 0;
  bool has_gateway = false;
  IpAddress gateway_next_hop;
  uint32_t src_as = 0;
  uint32_t dst_as = 0;
};

// Reads one extended gateway record: next hop, the router's AS, the source AS and the
// destination AS path, whose last AS is the destination's. Communities and local preference
// are not used. Returns the error, if any.
bool ReadGateway(std::span<const uint8_t> rec, FlowParts& p, DecodeError& error) {
  ByteReader r(rec);
  switch (ReadAddress(r, true, p.gateway_next_hop)) {
    case AddressRead::kOk: break;
    case AddressRead::kShort: error = DecodeError::kSflowBadLength; return false;
    case AddressRead::kBadType: error = DecodeError::kSflowBadAddressType; return false;
  }
  uint32_t router_as = 0, src_as = 0, src_peer_as = 0, segments = 0;
  if (!r.ReadU32(router_as) || !r.ReadU32(src_as) || !r.ReadU32(src_peer_as) ||
      !r.ReadU32(segments)) {
    error = DecodeError::kSflowBadLength;
    return false;
  }
  // Each segment takes at least its type and count words.
  if (segments > r.remaining() / 8) {
    error = DecodeError::kSflowBadCount;
    return false;
  }
  uint32_t last_as = 0;
  bool have_path = false;
  for (uint32_t i = 0; i < segments; ++i) {
    uint32_t type = 0, count = 0;
    if (!r.ReadU32(type) || !r.ReadU32(count)) {
      error = DecodeError::kSflowBadLength;
      return false;
    }
    if (count > r.remaining() / 4) {
      error = DecodeError::kSflowBadCount;
      return false;
    }
    if (count > 0) {
      r.Skip(size_t{count - 1} * 4);
      r.ReadU32(last_as);  // cannot fail: the count was checked against the bytes
      have_path = true;
    }
  }
  // As akvorado and goflow2: an empty path means the destination is the router's own AS, and
  // a source AS of 0 the router's too (the spec's "local" origin).
  p.src_as = src_as != 0 ? src_as : router_as;
  p.dst_as = have_path ? last_as : router_as;
  p.has_gateway = true;
  return true;
}

// Reads one flow record of a known format into `p`; false with `error` when malformed.
// Returns true without reading for records that are not used (`skipped` is then set).
bool ReadFlowRecord(uint32_t format, std::span<const uint8_t> rec, FlowParts& p, bool& skipped,
                    DecodeError& error) {
  ByteReader r(rec);
  switch (format) {
    case kRawHeader: {
      if (p.has_header) break;  // only the first raw header is the sample's packet
      uint32_t protocol = 0, frame_length = 0, stripped = 0, header_length = 0;
      if (!r.ReadU32(protocol) || !r.ReadU32(frame_length) || !r.ReadU32(stripped) ||
          !r.ReadU32(header_length)) {
        error = DecodeError::kSflowBadLength;
        return false;
      }
      if (!r.ReadSpan(header_length, p.header)) {
        error = DecodeError::kSflowTruncated;  // header bytes past the record
        return false;
      }
      p.has_header = true;
      p.header_protocol = protocol;
      p.frame_length = frame_length;
      return true;
    }
    case kSampledIpv4:
    case kSampledIpv6: {
      if (p.has_sampled_ip) break;
      const bool v6 = format == kSampledIpv6;
      if (rec.size() < (v6 ? kSampledIpv6Bytes : kSampledIpv4Bytes)) {
        error = DecodeError::kSflowBadLength;
        return false;
      }
      const size_t addr = v6 ? 16 : 4;
      const uint8_t* b = rec.data();
      p.sampled_length = ByteReader::LoadBe32(b);
      p.sampled_protocol = ByteReader::LoadBe32(b + 4);
      p.sampled_src = v6 ? IpAddress::V6(b + 8) : IpAddress::V4(b + 8);
      p.sampled_dst = v6 ? IpAddress::V6(b + 8 + addr) : IpAddress::V4(b + 8 + addr);
      const uint8_t* q = b + 8 + 2 * addr;
      p.sampled_src_port = ByteReader::LoadBe32(q);
      p.sampled_dst_port = ByteReader::LoadBe32(q + 4);
      p.sampled_tcp_flags = ByteReader::LoadBe32(q + 8);
      p.sampled_tos = ByteReader::LoadBe32(q + 12);  // IPv6: priority
      p.sampled_ip_version = v6 ? 6 : 4;
      p.has_sampled_ip = true;
      return true;
    }
    case kExtendedSwitch:
      if (p.has_switch) break;
      if (rec.size() < kExtendedSwitchBytes) {
        error = DecodeError::kSflowBadLength;
        return false;
      }
      p.src_vlan = ByteReader::LoadBe32(rec.data());
      p.has_switch = true;
      return true;
    case kExtendedRouter:
      if (p.has_router) break;
      switch (ReadAddress(r, true, p.router_next_hop)) {
        case AddressRead::kOk: break;
        case AddressRead::kShort: error = DecodeError::kSflowBadLength; return false;
        case AddressRead::kBadType: error = DecodeError::kSflowBadAddressType; return false;
      }
      if (!r.ReadU32(p.src_mask) || !r.ReadU32(p.dst_mask)) {
        error = DecodeError::kSflowBadLength;
        return false;
      }
      p.has_router = true;
      return true;
    case kExtendedGateway:
      if (p.has_gateway) break;
      return ReadGateway(rec, p, error);
    default:
      break;
  }
  skipped = true;
  return true;
}

uint8_t Mask(uint32_t v) { return v <= 128 ? static_cast<uint8_t>(v) : 0; }

// Fills the record's packet fields from the raw header; false when they could not be had.
bool FillFromHeader(const FlowParts& p, DecodedRecord& r, SflowStats& stats) {
  LinkType link;
  switch (p.header_protocol) {
    case kHeaderEthernet: link = LinkType::kEthernet; break;
    case kHeaderIpv4: link = LinkType::kRawIpv4; break;
    case kHeaderIpv6: link = LinkType::kRawIpv6; break;
    default: ++stats.headers_unsupported; return false;
  }
  PacketMeta m;
  // wire_len only matters when an IP length field is 0; it may not be below the capture.
  const size_t wire_len = std::max<size_t>(p.frame_length, p.header.size());
  if (ParsePacket(p.header.data(), p.header.size(), wire_len, link, m) != ParseResult::kOk) {
    ++stats.headers_not_ip;
    return false;
  }
  r.ip_version = m.ip_version;
  r.protocol = m.protocol;
  r.tos = m.tos;
  r.tcp_flags = m.tcp_flags;
  r.src_port = m.src_port;
  r.dst_port = m.dst_port;  // ICMP: type * 256 + code, as the parser gives it
  r.vlan = m.vlan;
  r.src_addr = m.src;
  r.dst_addr = m.dst;
  return true;
}

void FillFromSampledIp(const FlowParts& p, DecodedRecord& r) {
  r.ip_version = p.sampled_ip_version;
  r.protocol = static_cast<uint8_t>(p.sampled_protocol);
  r.tos = static_cast<uint8_t>(p.sampled_tos);
  r.tcp_flags = static_cast<uint16_t>(p.sampled_tcp_flags & 0xffffu);
  r.src_port = static_cast<uint16_t>(p.sampled_src_port);
  r.dst_port = static_cast<uint16_t>(p.sampled_dst_port);
  r.src_addr = p.sampled_src;
  r.dst_addr = p.sampled_dst;
}

}  // namespace

bool SflowInterfaceKeyLess(const SflowInterfaceKey& a, const SflowInterfaceKey& b) {
  if (a.agent.version != b.agent.version) return a.agent.version < b.agent.version;
  if (a.agent.bytes != b.agent.bytes) return a.agent.bytes < b.agent.bytes;
  return a.if_index < b.if_index;
}

const char* SflowDot3Name(size_t i) {
  static constexpr const char* kNames[kSflowDot3Counters] = {
      "alignment_errors",       "fcs_errors",
      "single_collision_frames", "multiple_collision_frames",
      "sqe_test_errors",        "deferred_transmissions",
      "late_collisions",        "excessive_collisions",
      "internal_mac_transmit_errors", "carrier_sense_errors",
      "frame_too_longs",        "internal_mac_receive_errors",
      "symbol_errors"};
  return i < kSflowDot3Counters ? kNames[i] : "unknown";
}

// Per-datagram facts the sample decoders share.
struct SflowDecoder::Datagram {
  ExporterState* st;
  const ExporterId* exporter;
  TimeUs now;
  bool apply_sampling;
  uint32_t reorder_window;
  IpAddress agent;
  uint32_t sub_agent;
  uint32_t uptime_ms;
};

void SflowDecoder::Decode(std::span<const uint8_t> datagram, const Input& in, RecordSink& sink) {
  ExporterState& st = *in.state;
  ByteReader r(datagram);
  Datagram dg{in.state, in.exporter, in.receive_time, in.apply_sampling, in.reorder_window,
              IpAddress{}, 0, 0};
  uint32_t version = 0;
  r.ReadU32(version);  // the caller checked it is 5
  switch (ReadAddress(r, false, dg.agent)) {
    case AddressRead::kOk: break;
    case AddressRead::kShort: st.Count(DecodeError::kSflowTruncated); return;
    case AddressRead::kBadType: st.Count(DecodeError::kSflowBadAddressType); return;
  }
  uint32_t sequence = 0, samples = 0;
  if (!r.ReadU32(dg.sub_agent) || !r.ReadU32(sequence) || !r.ReadU32(dg.uptime_ms) ||
      !r.ReadU32(samples)) {
    st.Count(DecodeError::kSflowTruncated);
    return;
  }
  if (samples > r.remaining() / kTagBytes) {
    st.Count(DecodeError::kSflowBadCount);
    return;
  }
  CheckSequence(dg, StreamKey{dg.agent, dg.sub_agent, 0, 0, false}, sequence);
  // Bytes after the last counted sample are ignored, as tshark and goflow2 do.
  for (uint32_t i = 0; i < samples; ++i) {
    uint32_t format = 0, length = 0;
    std::span<const uint8_t> body;
    if (!r.ReadU32(format) || !r.ReadU32(length) || !r.ReadSpan(length, body)) {
      st.Count(DecodeError::kSflowTruncated);
      return;
    }
    if ((format >> 12) != 0) {
      ++st.stats.sflow.other_samples;
      continue;
    }
    switch (format & 0xfffu) {
      case kFlowSample: DecodeFlowSample(dg, body, false, sink); break;
      case kFlowSampleExpanded: DecodeFlowSample(dg, body, true, sink); break;
      case kCounterSample: DecodeCounterSample(dg, body, false); break;
      case kCounterSampleExpanded: DecodeCounterSample(dg, body, true); break;
      case kDropNotification: ++st.stats.sflow.drop_samples; break;
      default: ++st.stats.sflow.other_samples; break;
    }
  }
}

void SflowDecoder::DecodeFlowSample(const Datagram& dg, std::span<const uint8_t> body,
                                    bool expanded, RecordSink& sink) {
  ExporterState& st = *dg.st;
  if (body.size() < (expanded ? kFlowSampleExpandedFixed : kFlowSampleFixed)) {
    st.Count(DecodeError::kSflowBadLength);
    return;
  }
  ByteReader r(body);
  uint32_t sequence = 0, source_type = 0, source_index = 0, rate = 0, pool = 0, drops = 0;
  uint32_t input_if = 0, output_if = 0, records = 0;
  bool discarded = false;
  // Sizes were checked above: these reads cannot fail.
  r.ReadU32(sequence);
  if (expanded) {
    uint32_t in_format = 0, in_value = 0, out_format = 0, out_value = 0;
    r.ReadU32(source_type);
    r.ReadU32(source_index);
    r.ReadU32(rate);
    r.ReadU32(pool);
    r.ReadU32(drops);
    r.ReadU32(in_format);
    r.ReadU32(in_value);
    r.ReadU32(out_format);
    r.ReadU32(out_value);
    bool unused = false;
    input_if = ExpandedInterface(in_format, in_value, unused);
    output_if = ExpandedInterface(out_format, out_value, discarded);
  } else {
    uint32_t source_id = 0, in = 0, out = 0;
    r.ReadU32(source_id);
    r.ReadU32(rate);
    r.ReadU32(pool);
    r.ReadU32(drops);
    r.ReadU32(in);
    r.ReadU32(out);
    source_type = source_id >> 24;
    source_index = source_id & 0x00ffffffu;
    bool unused = false;
    input_if = CompactInterface(in, unused);
    output_if = CompactInterface(out, discarded);
  }
  r.ReadU32(records);
  if (records > r.remaining() / kTagBytes) {
    st.Count(DecodeError::kSflowBadCount);
    return;
  }
  FlowParts parts;
  uint64_t skipped_records = 0;
  for (uint32_t i = 0; i < records; ++i) {
    uint32_t format = 0, length = 0;
    std::span<const uint8_t> rec;
    if (!r.ReadU32(format) || !r.ReadU32(length) || !r.ReadSpan(length, rec)) {
      st.Count(DecodeError::kSflowTruncated);
      return;
    }
    if ((format >> 12) != 0) {
      ++skipped_records;
      continue;
    }
    bool skipped = false;
    DecodeError error = DecodeError::kSflowBadLength;
    if (!ReadFlowRecord(format & 0xfffu, rec, parts, skipped, error)) {
      st.Count(error);
      return;
    }
    if (skipped) ++skipped_records;
  }

  SflowStats& s = st.stats.sflow;
  s.records_skipped += skipped_records;
  DecodedRecord rec;
  rec.exporter = *dg.exporter;
  rec.version = kSflowRecordVersion;
  rec.source_id = source_index;
  rec.receive_time_us = dg.now;
  rec.first_ms = rec.last_ms = dg.now / 1000;
  rec.packets = 1;
  rec.sampling = rate;
  rec.input_if = input_if;
  rec.output_if = output_if;
  bool have_packet = false;
  if (parts.has_header) {
    rec.bytes = parts.frame_length;
    have_packet = FillFromHeader(parts, rec, s);
  } else if (parts.has_sampled_ip) {
    rec.bytes = parts.sampled_length;
  }
  if (!have_packet && parts.has_sampled_ip) FillFromSampledIp(parts, rec);
  // The header's 802.1Q tag is what was on the wire; the switch record fills in untagged
  // (access port) traffic. VLAN 0 and values past 4095 are not VLAN IDs.
  if (parts.has_switch && rec.vlan == 0 && parts.src_vlan < 4096) {
    rec.vlan = static_cast<uint16_t>(parts.src_vlan);
  }
  if (parts.has_router) {
    rec.next_hop = parts.router_next_hop;
    rec.src_mask = Mask(parts.src_mask);
    rec.dst_mask = Mask(parts.dst_mask);
  }
  if (parts.has_gateway) {
    rec.src_as = parts.src_as;
    rec.dst_as = parts.dst_as;
    // The router record's next hop is the IP next hop (NetFlow's); the gateway's is the BGP
    // next hop, used only when there is no router record.
    if (!parts.has_router) rec.next_hop = parts.gateway_next_hop;
  }
  CheckSequence(dg, StreamKey{dg.agent, dg.sub_agent, source_type, source_index, true}, sequence);
  if (rate != 0) st.stats.sampling_interval = rate;
  ++s.flow_samples;
  if (discarded) ++s.discarded_flow_samples;
  DeliverRecord(dg.apply_sampling, rec, st.stats, sink);
}

void SflowDecoder::DecodeCounterSample(const Datagram& dg, std::span<const uint8_t> body,
                                       bool expanded) {
  ExporterState& st = *dg.st;
  if (body.size() < (expanded ? kCounterSampleExpandedFixed : kCounterSampleFixed)) {
    st.Count(DecodeError::kSflowBadLength);
    return;
  }
  ByteReader r(body);
  uint32_t sequence = 0, source_type = 0, source_index = 0, records = 0;
  r.ReadU32(sequence);
  if (expanded) {
    r.ReadU32(source_type);
    r.ReadU32(source_index);
  } else {
    uint32_t source_id = 0;
    r.ReadU32(source_id);
    source_type = source_id >> 24;
    source_index = source_id & 0x00ffffffu;
  }
  r.ReadU32(records);
  if (records > r.remaining() / kTagBytes) {
    st.Count(DecodeError::kSflowBadCount);
    return;
  }
  // Gathered first, applied once the whole sample proved sound.
  std::span<const uint8_t> generic;
  std::span<const uint8_t> ethernet;
  uint64_t skipped_records = 0;
  for (uint32_t i = 0; i < records; ++i) {
    uint32_t format = 0, length = 0;
    std::span<const uint8_t> rec;
    if (!r.ReadU32(format) || !r.ReadU32(length) || !r.ReadSpan(length, rec)) {
      st.Count(DecodeError::kSflowTruncated);
      return;
    }
    const uint32_t f = format & 0xfffu;
    if ((format >> 12) == 0 && f == kGenericInterface && generic.empty()) {
      if (rec.size() < kGenericInterfaceBytes) {
        st.Count(DecodeError::kSflowBadLength);
        return;
      }
      generic = rec;
    } else if ((format >> 12) == 0 && f == kEthernetInterface && ethernet.empty() &&
               source_type == 0) {
      // Ethernet counters carry no ifIndex: the data source must be an interface (type 0).
      if (rec.size() < kEthernetInterfaceBytes) {
        st.Count(DecodeError::kSflowBadLength);
        return;
      }
      ethernet = rec;
    } else {
      ++skipped_records;
    }
  }
  st.stats.sflow.records_skipped += skipped_records;
  ++st.stats.sflow.counter_samples;
  if (!generic.empty()) {
    const uint8_t* p = generic.data();
    auto u32 = [p](size_t at) { return ByteReader::LoadBe32(p + at); };
    auto u64 = [p](size_t at) {
      return (uint64_t{ByteReader::LoadBe32(p + at)} << 32) | ByteReader::LoadBe32(p + at + 4);
    };
    if (SflowInterfaceCounters* c = InterfaceFor({dg.agent, u32(0)}, st)) {
      c->has_generic = true;
      c->if_type = u32(4);
      c->if_speed = u64(8);
      c->if_direction = u32(16);
      c->if_status = u32(20);
      c->in_octets = u64(24);
      c->in_ucast_packets = u32(32);
      c->in_multicast_packets = u32(36);
      c->in_broadcast_packets = u32(40);
      c->in_discards = u32(44);
      c->in_errors = u32(48);
      c->in_unknown_protos = u32(52);
      c->out_octets = u64(56);
      c->out_ucast_packets = u32(64);
      c->out_multicast_packets = u32(68);
      c->out_broadcast_packets = u32(72);
      c->out_discards = u32(76);
      c->out_errors = u32(80);
      c->if_promiscuous = u32(84);
      c->updated_us = dg.now;
      ++c->samples;
    }
  }
  if (!ethernet.empty()) {
    if (SflowInterfaceCounters* c = InterfaceFor({dg.agent, source_index}, st)) {
      c->has_ethernet = true;
      for (size_t i = 0; i < kSflowDot3Counters; ++i) {
        c->dot3[i] = ByteReader::LoadBe32(ethernet.data() + 4 * i);
      }
      c->updated_us = dg.now;
      // One sample updating both records of one interface counts once.
      if (generic.empty() || ByteReader::LoadBe32(generic.data()) != source_index) ++c->samples;
    }
  }
}

SflowInterfaceCounters* SflowDecoder::InterfaceFor(const SflowInterfaceKey& key,
                                                   ExporterState& st) {
  auto it = interfaces_.find(key);
  if (it != interfaces_.end()) return &it->second;
  if (interfaces_.size() >= limits_.max_interfaces) {
    ++st.stats.sflow.interfaces_refused;
    return nullptr;
  }
  return &interfaces_.try_emplace(key).first->second;
}

void SflowDecoder::CheckSequence(const Datagram& dg, const StreamKey& key, uint32_t seq) {
  ExporterState& st = *dg.st;
  uint32_t id = 0;
  if (auto it = stream_ids_.find(key); it != stream_ids_.end()) {
    id = it->second;
  } else if (stream_ids_.size() < limits_.max_streams) {
    id = static_cast<uint32_t>(stream_ids_.size());
    stream_ids_.emplace(key, id);
  } else {
    ++st.stats.sflow.streams_untracked;
    return;
  }
  // Version numbers of our own in the tracker's key keep sFlow's streams apart from NetFlow's
  // (whose domains are source IDs) in the same exporter.
  const SequenceTracker::Key tkey{
      dg.exporter->port,
      static_cast<uint8_t>(key.flow_samples ? kSflowRecordVersion + 1 : kSflowRecordVersion), id};
  if (!key.flow_samples) {
    // Datagram numbers: restarts are the exporter's; gaps go to SflowStats. The scratch
    // carries the current totals in, because a late datagram gives back what was counted lost.
    st.sequence.NoteV9Uptime(tkey, dg.uptime_ms, st.stats);
    SflowStats& s = st.stats.sflow;
    scratch_.sequence_lost = s.datagrams_lost;
    scratch_.sequence_reordered = s.datagrams_reordered;
    scratch_.sequence_resets = s.datagram_sequence_resets;
    st.sequence.Check(tkey, seq, 1, true, -1, dg.reorder_window, scratch_);
    s.datagrams_lost = scratch_.sequence_lost;
    s.datagrams_reordered = scratch_.sequence_reordered;
    s.datagram_sequence_resets = scratch_.sequence_resets;
    return;
  }
  // Each flow sample stream restarts with its agent; the restart was counted once above.
  st.sequence.NoteV9Uptime(tkey, dg.uptime_ms, scratch_);
  st.sequence.Check(tkey, seq, 1, true, -1, dg.reorder_window, st.stats);
}

void SflowDecoder::ForEachInterface(
    absl::FunctionRef<void(const SflowInterfaceKey&, const SflowInterfaceCounters&)> fn) const {
  for (const auto& [key, counters] : interfaces_) fn(key, counters);
}

// ---------------------------------------------------------------------------------------------

void Decoder::DecodeSflow(std::span<const uint8_t> d, ExporterState& st,
                          const ExporterId& exporter, TimeUs now, RecordSink& sink) {
  ++st.stats.sflow_datagrams;
  const SflowDecoder::Input in{&st, &exporter, now, options_.apply_sampling,
                               options_.reorder_window};
  sflow_.Decode(d, in, sink);
}

void Decoder::ForEachSflowInterface(
    absl::FunctionRef<void(const SflowInterfaceKey&, const SflowInterfaceCounters&)> fn) const {
  sflow_.ForEachInterface(fn);
}

}  // namespace nf
