#include "capture/packet_parser.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace nf {
namespace {

// Limits that bound every loop over attacker-controlled header chains.
constexpr int kMaxVlanTags = 4;
constexpr int kMaxMplsLabels = 16;
constexpr int kMaxIpv6ExtHeaders = 16;

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86dd;
constexpr uint16_t kEtherVlan = 0x8100;
constexpr uint16_t kEtherQinQ = 0x88a8;
constexpr uint16_t kEtherQinQOld = 0x9100;
constexpr uint16_t kEtherQinQOld2 = 0x9200;
constexpr uint16_t kEtherMplsUnicast = 0x8847;
constexpr uint16_t kEtherMplsMulticast = 0x8848;
constexpr uint16_t kEtherPppoeSession = 0x8864;

constexpr uint8_t kProtoHopByHop = 0;
constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoRouting = 43;
constexpr uint8_t kProtoFragment = 44;
constexpr uint8_t kProtoAh = 51;
constexpr uint8_t kProtoIcmpv6 = 58;
constexpr uint8_t kProtoNoNextHeader = 59;
constexpr uint8_t kProtoDestOpts = 60;
constexpr uint8_t kProtoMobility = 135;
constexpr uint8_t kProtoHip = 139;
constexpr uint8_t kProtoShim6 = 140;
constexpr uint8_t kProtoSctp = 132;
constexpr uint8_t kProtoUdpLite = 136;

inline uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline uint32_t Be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// Parses the transport header at `off`; `l3_end` is where the IP packet ends (bounded by
// caplen for reading). Never fails: missing bytes set kPktL4Truncated.
void ParseL4(const uint8_t* data, size_t caplen, size_t off, size_t l3_end, PacketMeta& m) {
  m.l4_offset = static_cast<uint32_t>(off);
  const size_t avail = off <= caplen ? caplen - off : 0;
  const uint8_t* p = data + off;
  switch (m.protocol) {
    case kProtoTcp:
    case kProtoUdp:
    case kProtoUdpLite:
    case kProtoSctp:
      // Every port-bearing transport opens with the source and destination port.
      if (avail < 4) {
        m.flags |= kPktL4Truncated;
        return;
      }
      m.src_port = Be16(p);
      m.dst_port = Be16(p + 2);
      m.flags |= kPktHasPorts;
      if (m.protocol == kProtoTcp) {
        if (avail < 14) {
          m.flags |= kPktL4Truncated;
          return;
        }
        m.tcp_flags = p[13];
      } else if (m.protocol != kProtoSctp) {
        if (avail < 8) {
          m.flags |= kPktL4Truncated;
          return;
        }
        if (m.protocol == kProtoUdp) {
          // The UDP length bounds the payload; fall back to the IP length if it lies.
          const size_t ip_room = l3_end > off + 8 ? l3_end - off - 8 : 0;
          const uint16_t udp_len = Be16(p + 4);
          size_t payload = udp_len >= 8 ? udp_len - 8u : ip_room;
          if (payload > ip_room) payload = ip_room;
          m.payload_offset = static_cast<uint32_t>(off + 8);
          m.payload_length = static_cast<uint32_t>(payload);
        }
      }
      return;
    case kProtoIcmp:
    case kProtoIcmpv6:
      if (avail < 2) {
        m.flags |= kPktL4Truncated;
        return;
      }
      m.icmp_type = p[0];
      m.icmp_code = p[1];
      m.dst_port = static_cast<uint16_t>(p[0] * 256 + p[1]);
      m.flags |= kPktIcmp;
      return;
    default:
      return;
  }
}

ParseResult ParseIpv4(const uint8_t* data, size_t caplen, size_t wire_len, size_t off,
                      PacketMeta& m) {
  if (caplen < off + 20) return ParseResult::kTruncatedIp;
  const uint8_t* ip = data + off;
  const size_t ihl = size_t{ip[0] & 0x0fu} * 4;
  if (ihl < 20) return ParseResult::kBadIpv4Header;
  if (caplen < off + ihl) return ParseResult::kTruncatedIp;
  uint32_t total = Be16(ip + 2);
  if (total == 0) {
    // TSO/GSO captures carry 0; count what the frame holds from the IP header on.
    total = static_cast<uint32_t>(wire_len > off ? wire_len - off : 0);
    m.flags |= kPktL3LengthFromFrame;
  }
  if (total < ihl) return ParseResult::kBadIpv4Header;
  m.ip_version = 4;
  m.tos = ip[1];
  m.ttl = ip[8];
  m.protocol = ip[9];
  m.src = IpAddress::V4(ip + 12);
  m.dst = IpAddress::V4(ip + 16);
  m.l3_offset = static_cast<uint32_t>(off);
  m.l3_length = total;
  const uint16_t frag = Be16(ip + 6);
  const uint16_t frag_offset = frag & 0x1fff;
  const bool more_fragments = frag & 0x2000;
  if (frag_offset != 0 || more_fragments) m.flags |= kPktFragment;
  if (frag_offset != 0) {
    // No transport header in this fragment: the flow is keyed without ports.
    m.flags |= kPktNonFirstFragment;
    return ParseResult::kOk;
  }
  ParseL4(data, caplen, off + ihl, off + total, m);
  return ParseResult::kOk;
}

ParseResult ParseIpv6(const uint8_t* data, size_t caplen, size_t wire_len, size_t off,
                      PacketMeta& m) {
  if (caplen < off + 40) return ParseResult::kTruncatedIp;
  const uint8_t* ip = data + off;
  const uint32_t vtf = Be32(ip);
  m.ip_version = 6;
  m.tos = static_cast<uint8_t>(vtf >> 20);
  m.flow_label = vtf & 0xfffff;
  m.ttl = ip[7];
  m.src = IpAddress::V6(ip + 8);
  m.dst = IpAddress::V6(ip + 24);
  m.l3_offset = static_cast<uint32_t>(off);
  const uint16_t payload_len = Be16(ip + 4);
  uint8_t next = ip[6];
  if (payload_len == 0 && next != kProtoNoNextHeader) {
    // Jumbogram (RFC 2675) or BIG TCP (whose HBH option the kernel may strip before capture):
    // a payload length of 0 with any upper layer is impossible, and the frame length is the
    // reliable figure.
    m.l3_length = static_cast<uint32_t>(wire_len > off ? wire_len - off : 40);
    m.flags |= kPktL3LengthFromFrame;
  } else {
    m.l3_length = uint32_t{payload_len} + 40;
  }
  const size_t l3_end = off + m.l3_length;
  size_t pos = off + 40;
  for (int i = 0;; ++i) {
    switch (next) {
      case kProtoHopByHop:
      case kProtoRouting:
      case kProtoDestOpts:
      case kProtoMobility:
      case kProtoHip:
      case kProtoShim6: {
        if (i >= kMaxIpv6ExtHeaders) return ParseResult::kTooManyHeaders;
        if (caplen < pos + 2) return ParseResult::kTruncatedIp;
        const uint8_t nh = data[pos];
        const size_t len = (size_t{data[pos + 1]} + 1) * 8;
        if (pos + len > l3_end) return ParseResult::kBadIpv6Header;
        next = nh;
        pos += len;
        continue;
      }
      case kProtoAh: {
        if (i >= kMaxIpv6ExtHeaders) return ParseResult::kTooManyHeaders;
        if (caplen < pos + 2) return ParseResult::kTruncatedIp;
        const uint8_t nh = data[pos];
        const size_t len = (size_t{data[pos + 1]} + 2) * 4;  // AH counts 32-bit words
        if (pos + len > l3_end) return ParseResult::kBadIpv6Header;
        next = nh;
        pos += len;
        continue;
      }
      case kProtoFragment: {
        if (i >= kMaxIpv6ExtHeaders) return ParseResult::kTooManyHeaders;
        if (caplen < pos + 8) return ParseResult::kTruncatedIp;
        const uint8_t nh = data[pos];
        const uint16_t fo = Be16(data + pos + 2);
        m.flags |= kPktFragment;
        pos += 8;
        next = nh;
        if ((fo & 0xfff8) != 0) {
          m.protocol = next;
          m.flags |= kPktNonFirstFragment;
          return ParseResult::kOk;
        }
        continue;
      }
      default:
        break;
    }
    break;
  }
  m.protocol = next;
  ParseL4(data, caplen, pos, l3_end, m);
  return ParseResult::kOk;
}

// Dispatches on the IP version nibble (raw IP, MPLS payloads).
ParseResult ParseIpByVersion(const uint8_t* data, size_t caplen, size_t wire_len, size_t off,
                             PacketMeta& m) {
  if (caplen < off + 1) return ParseResult::kTruncatedIp;
  switch (data[off] >> 4) {
    case 4:
      return ParseIpv4(data, caplen, wire_len, off, m);
    case 6:
      return ParseIpv6(data, caplen, wire_len, off, m);
    default:
      return ParseResult::kBadIpVersion;
  }
}

// Walks an MPLS label stack at `off` to the bottom of stack, then guesses the payload by
// its first nibble, as every MPLS-aware capture tool does (no control word support: a
// pseudowire's first nibble 0 is reported as not IP).
ParseResult ParseMpls(const uint8_t* data, size_t caplen, size_t wire_len, size_t off,
                      PacketMeta& m) {
  for (int i = 0;; ++i) {
    if (i >= kMaxMplsLabels) return ParseResult::kTooManyHeaders;
    if (caplen < off + 4) return ParseResult::kTruncatedLink;
    const uint32_t entry = Be32(data + off);
    if (m.mpls_count == 0) m.mpls_top_label = entry >> 12;
    ++m.mpls_count;
    off += 4;
    if (entry & 0x100) break;  // bottom of stack
  }
  if (caplen < off + 1) return ParseResult::kTruncatedLink;
  const uint8_t nibble = data[off] >> 4;
  if (nibble != 4 && nibble != 6) return ParseResult::kNotIp;
  return ParseIpByVersion(data, caplen, wire_len, off, m);
}

// Parses from an EtherType at data[off-2..off) onwards: VLAN tags, MPLS, PPPoE, IP.
ParseResult ParseEtherType(const uint8_t* data, size_t caplen, size_t wire_len, uint16_t type,
                           size_t off, PacketMeta& m) {
  for (int tags = 0;; ++tags) {
    switch (type) {
      case kEtherIpv4:
        return ParseIpv4(data, caplen, wire_len, off, m);
      case kEtherIpv6:
        return ParseIpv6(data, caplen, wire_len, off, m);
      case kEtherVlan:
      case kEtherQinQ:
      case kEtherQinQOld:
      case kEtherQinQOld2: {
        if (tags >= kMaxVlanTags) return ParseResult::kTooManyHeaders;
        if (caplen < off + 4) return ParseResult::kTruncatedLink;
        const uint16_t vid = Be16(data + off) & 0x0fff;
        if (m.vlan_count == 0) {
          m.vlan = vid;
        } else if (m.vlan_count == 1) {
          m.inner_vlan = vid;
        }
        ++m.vlan_count;
        type = Be16(data + off + 2);
        off += 4;
        continue;
      }
      case kEtherMplsUnicast:
      case kEtherMplsMulticast:
        return ParseMpls(data, caplen, wire_len, off, m);
      case kEtherPppoeSession: {
        // PPPoE header (6) + PPP protocol (2).
        if (caplen < off + 8) return ParseResult::kTruncatedLink;
        const uint16_t ppp = Be16(data + off + 6);
        off += 8;
        if (ppp == 0x0021) return ParseIpv4(data, caplen, wire_len, off, m);
        if (ppp == 0x0057) return ParseIpv6(data, caplen, wire_len, off, m);
        return ParseResult::kNotIp;
      }
      default:
        return ParseResult::kNotIp;
    }
  }
}

// BSD address families for IPv4/IPv6 seen in DLT_NULL/DLT_LOOP headers (BSDs and Linux
// disagree on AF_INET6).
ParseResult ParseAddressFamily(const uint8_t* data, size_t caplen, size_t wire_len, uint32_t family,
                               PacketMeta& m) {
  switch (family) {
    case 2:
      return ParseIpv4(data, caplen, wire_len, 4, m);
    case 10:  // Linux
    case 24:  // NetBSD, OpenBSD, BSD/OS
    case 28:  // FreeBSD, DragonFly
    case 30:  // macOS
      return ParseIpv6(data, caplen, wire_len, 4, m);
    default:
      return ParseResult::kNotIp;
  }
}

// LINKTYPE_NFLOG: a 4-byte header (address family, version, resource ID) and then TLVs whose
// length and type are in the capturing host's byte order. Each TLV's length counts its 4-byte
// header but not the padding to the next 4-byte boundary. Only NFULA_PAYLOAD (type 9) holds
// the packet, from its IP header on; the other TLVs (prefix, mark, interfaces, ...) are skipped.
ParseResult ParseNflog(const uint8_t* data, size_t caplen, size_t wire_len, PacketMeta& m) {
  constexpr uint16_t kNfulaPayload = 9;
  if (caplen < 4) return ParseResult::kTruncatedLink;
  const uint8_t family = data[0];
  // Byte order: TLV types are small numbers, so the byte that is non-zero tells which end is
  // low. Decided on the first TLV, since one capture has one byte order.
  const bool little = !(caplen >= 8 && data[6] == 0 && data[7] != 0);
  size_t off = 4;
  while (off + 4 <= caplen) {
    const uint16_t a = static_cast<uint16_t>(data[off] | data[off + 1] << 8);
    const uint16_t b = static_cast<uint16_t>(data[off + 2] | data[off + 3] << 8);
    const uint16_t length = little ? a : __builtin_bswap16(a);
    const uint16_t type = little ? b : __builtin_bswap16(b);
    if (length < 4) return ParseResult::kTruncatedLink;  // malformed: no progress possible
    if (type == kNfulaPayload) {
      const size_t ip = off + 4;
      const size_t end = off + length;
      // The packet ends where the TLV does; what the snaplen cut is still counted by wire length.
      const size_t cap = end <= caplen ? end : caplen;
      const size_t wire = end <= wire_len ? end : wire_len;
      switch (family) {
        case 2: return ParseIpv4(data, cap, wire, ip, m);   // AF_INET
        case 10: return ParseIpv6(data, cap, wire, ip, m);  // AF_INET6
        default: return ParseIpByVersion(data, cap, wire, ip, m);  // bridge, netdev: by nibble
      }
    }
    off += (size_t{length} + 3) & ~size_t{3};
  }
  // No payload TLV (a rule logged with a zero copy range, or the snaplen cut it off).
  return off >= caplen ? ParseResult::kNotIp : ParseResult::kTruncatedLink;
}

}  // namespace

const char* LinkTypeName(LinkType link) {
  switch (link) {
    case LinkType::kEthernet:
      return "ethernet";
    case LinkType::kLinuxSll:
      return "linux_sll";
    case LinkType::kLinuxSll2:
      return "linux_sll2";
    case LinkType::kRawIp:
      return "raw_ip";
    case LinkType::kRawIpv4:
      return "raw_ipv4";
    case LinkType::kRawIpv6:
      return "raw_ipv6";
    case LinkType::kNull:
      return "null";
    case LinkType::kLoop:
      return "loop";
    case LinkType::kNflog:
      return "nflog";
  }
  return "unknown";
}

absl::StatusOr<LinkType> LinkTypeFromDlt(int dlt) {
  switch (dlt) {
    case 1:
      return LinkType::kEthernet;
    case 113:
      return LinkType::kLinuxSll;
    case 276:
      return LinkType::kLinuxSll2;
    case 12:   // DLT_RAW on most systems (DLT_LOOP on OpenBSD, but pcap files use 101/108)
    case 14:   // DLT_RAW on OpenBSD
    case 101:  // LINKTYPE_RAW as stored in files
      return LinkType::kRawIp;
    case 228:
      return LinkType::kRawIpv4;
    case 229:
      return LinkType::kRawIpv6;
    case 0:
      return LinkType::kNull;
    case 108:
      return LinkType::kLoop;
    case 239:
      return LinkType::kNflog;
    default:
      break;
  }
  // Name the link type with libpcap's vocabulary where we know it, for a useful message.
  const char* name = "";
  switch (dlt) {
    case 105:
      name = " (IEEE802_11)";
      break;
    case 127:
      name = " (IEEE802_11_RADIO)";
      break;
    case 253:
      name = " (NETLINK)";
      break;
    case 9:
      name = " (PPP)";
      break;
    case 50:
      name = " (PPP_SERIAL)";
      break;
    case 51:
      name = " (PPP_ETHER)";
      break;
    case 104:
      name = " (C_HDLC)";
      break;
    case 6:
      name = " (IEEE802)";
      break;
    case 10:
      name = " (FDDI)";
      break;
    case 192:
      name = " (PPI)";
      break;
    case 220:
      name = " (USB_LINUX_MMAPPED)";
      break;
    case 249:
      name = " (USBPCAP)";
      break;
    case 201:
      name = " (BLUETOOTH_HCI_H4_WITH_PHDR)";
      break;
    case 148:
    case 147:
      name = " (USER)";
      break;
    default:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported link type ", dlt, name,
                   ": flowexport handles Ethernet, Linux SLL/SLL2, raw IP, BSD null/loopback and NFLOG"));
}

const char* ParseResultName(ParseResult r) {
  switch (r) {
    case ParseResult::kOk:
      return "ok";
    case ParseResult::kTruncatedLink:
      return "truncated_link";
    case ParseResult::kTruncatedIp:
      return "truncated_ip";
    case ParseResult::kNotIp:
      return "not_ip";
    case ParseResult::kUnsupportedLinkType:
      return "unsupported_link_type";
    case ParseResult::kBadIpVersion:
      return "bad_ip_version";
    case ParseResult::kBadIpv4Header:
      return "bad_ipv4_header";
    case ParseResult::kBadIpv6Header:
      return "bad_ipv6_header";
    case ParseResult::kTooManyHeaders:
      return "too_many_headers";
    case ParseResult::kCount:
      break;
  }
  return "unknown";
}

ParseResult ParsePacket(const uint8_t* data, size_t caplen, size_t wire_len, LinkType link,
                        PacketMeta& out) {
  const TimeUs time_us = out.time_us;
  out = PacketMeta{};
  out.time_us = time_us;
  if (wire_len < caplen) wire_len = caplen;
  switch (link) {
    case LinkType::kEthernet: {
      if (caplen < 14) return ParseResult::kTruncatedLink;
      const uint16_t type = Be16(data + 12);
      if (type < 0x0600) return ParseResult::kNotIp;  // 802.3 length: LLC/SNAP (STP, CDP)
      return ParseEtherType(data, caplen, wire_len, type, 14, out);
    }
    case LinkType::kLinuxSll: {
      if (caplen < 16) return ParseResult::kTruncatedLink;
      return ParseEtherType(data, caplen, wire_len, Be16(data + 14), 16, out);
    }
    case LinkType::kLinuxSll2: {
      if (caplen < 20) return ParseResult::kTruncatedLink;
      return ParseEtherType(data, caplen, wire_len, Be16(data), 20, out);
    }
    case LinkType::kRawIp:
      return ParseIpByVersion(data, caplen, wire_len, 0, out);
    case LinkType::kRawIpv4:
      return ParseIpv4(data, caplen, wire_len, 0, out);
    case LinkType::kRawIpv6:
      return ParseIpv6(data, caplen, wire_len, 0, out);
    case LinkType::kNull: {
      if (caplen < 4) return ParseResult::kTruncatedLink;
      uint32_t family;
      std::memcpy(&family, data, 4);
      // Host byte order of the capturing machine: small values read the right way round,
      // so a value with high bits set was written by the other endianness.
      if (family & 0xffff0000u) family = __builtin_bswap32(family);
      return ParseAddressFamily(data, caplen, wire_len, family, out);
    }
    case LinkType::kLoop: {
      if (caplen < 4) return ParseResult::kTruncatedLink;
      return ParseAddressFamily(data, caplen, wire_len, Be32(data), out);
    }
    case LinkType::kNflog:
      return ParseNflog(data, caplen, wire_len, out);
  }
  return ParseResult::kUnsupportedLinkType;
}

}  // namespace nf
