// Packet parsing for the exporter (and the collector's `-r`): one captured frame in, the
// flow-relevant facts out.
//
// ParsePacket is pure and allocation-free: it reads only the bytes it is given (never past
// `caplen`), writes one PacketMeta, and reports every reason for not producing a flow key as a
// ParseResult value so callers can keep one counter per drop reason. It walks link layers
// (Ethernet with 802.1Q/QinQ/MPLS/PPPoE, Linux SLL/SLL2, raw IP, BSD null/loop, Linux NFLOG) down to the
// outermost IP header, then IPv4 options / IPv6 extension headers down to TCP, UDP, SCTP or
// ICMP. Tunnels are not decapsulated: like softflowd and router NetFlow, the outer IP header is
// the flow (6in4 is protocol 41, GRE is 47, VXLAN is UDP 4789).
#ifndef NF_CAPTURE_PACKET_PARSER_H_
#define NF_CAPTURE_PACKET_PARSER_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "common/ip_address.h"
#include "common/time_format.h"

namespace nf {

// Link-layer framings the parser understands. Values are ours, not DLT numbers: use
// LinkTypeFromDlt to map what libpcap reports.
enum class LinkType : uint8_t {
  kEthernet,   // DLT_EN10MB
  kLinuxSll,   // DLT_LINUX_SLL (113)
  kLinuxSll2,  // DLT_LINUX_SLL2 (276)
  kRawIp,      // DLT_RAW (12 or 14) / LINKTYPE_RAW (101): IPv4 or IPv6 by the version nibble
  kRawIpv4,    // LINKTYPE_IPV4 (228)
  kRawIpv6,    // LINKTYPE_IPV6 (229)
  kNull,       // DLT_NULL (0): 4-byte address family in the capturing host's byte order
  kLoop,       // DLT_LOOP (108, or 12 on OpenBSD): address family in network byte order
  kNflog,      // DLT_NFLOG (239): Linux netfilter log; the packet is in the NFULA_PAYLOAD TLV
};
const char* LinkTypeName(LinkType link);

// Maps a libpcap data link type (pcap_datalink) to a LinkType; the error names the DLT
// (e.g. "unsupported link type 127 (IEEE802_11_RADIO)").
absl::StatusOr<LinkType> LinkTypeFromDlt(int dlt);

// Why a frame did or did not yield a flow key. Everything except kOk is a drop.
enum class ParseResult : uint8_t {
  kOk = 0,
  kTruncatedLink,        // capture ends inside the link-layer header(s)
  kTruncatedIp,          // capture ends inside the IP header or IPv6 extension headers
  kNotIp,                // ARP, LLC/STP, LLDP, PPP control, ... (no IP packet)
  kUnsupportedLinkType,  // not produced by ParsePacket (callers that skip a link use it)
  kBadIpVersion,         // version nibble is neither 4 nor 6
  kBadIpv4Header,        // IHL < 5, or total length shorter than the header
  kBadIpv6Header,        // malformed extension header chain (e.g. an AH length past the end)
  kTooManyHeaders,       // more VLAN tags, MPLS labels or IPv6 extension headers than we walk
  kCount,                // number of values; not a result
};
inline constexpr size_t kParseResultCount = static_cast<size_t>(ParseResult::kCount);
// Stable snake_case name ("truncated_link", ...), used in statistics and JSON.
const char* ParseResultName(ParseResult r);

// PacketMeta::flags bits.
inline constexpr uint8_t kPktFragment = 0x01;           // IPv4 MF/offset or IPv6 fragment header
inline constexpr uint8_t kPktNonFirstFragment = 0x02;   // fragment offset > 0: no L4 header
inline constexpr uint8_t kPktL4Truncated = 0x04;        // ports/flags/type not in the capture
inline constexpr uint8_t kPktHasPorts = 0x08;           // src_port/dst_port came from TCP/UDP/SCTP
inline constexpr uint8_t kPktIcmp = 0x10;               // icmp_type/code valid (ICMP or ICMPv6)
inline constexpr uint8_t kPktL3LengthFromFrame = 0x20;  // IP length field was 0 (TSO/GSO, jumbo)

struct PacketMeta {
  // Filled by the caller (packet time); ParsePacket leaves it untouched.
  TimeUs time_us = 0;
  uint8_t ip_version = 0;  // 4 or 6
  uint8_t protocol = 0;    // upper-layer protocol after IPv6 extension headers
  uint8_t tos = 0;         // IPv4 ToS byte / IPv6 traffic class
  uint8_t ttl = 0;         // IPv4 TTL / IPv6 hop limit
  uint8_t tcp_flags = 0;   // TCP only (low 8 flag bits: CWR ECE URG ACK PSH RST SYN FIN)
  uint8_t flags = 0;       // kPkt* bits
  uint8_t icmp_type = 0;
  uint8_t icmp_code = 0;
  uint8_t vlan_count = 0;       // 802.1Q/802.1ad tags seen
  uint8_t mpls_count = 0;       // MPLS labels seen
  uint16_t vlan = 0;            // outermost VLAN ID, 0 when untagged
  uint16_t inner_vlan = 0;      // second VLAN ID (QinQ C-tag), 0 when absent
  uint16_t src_port = 0;        // TCP/UDP/SCTP; 0 for ICMP and others
  uint16_t dst_port = 0;        // TCP/UDP/SCTP; ICMP: type * 256 + code (Cisco convention)
  uint32_t mpls_top_label = 0;  // 20-bit label of the outermost MPLS entry
  uint32_t flow_label = 0;      // IPv6 flow label
  // Layer-3 length NetFlow counts: IPv4 total length, IPv6 payload length + 40. When the field
  // is 0 (TSO/GSO capture, jumbogram) it is the frame's length from the IP header on.
  uint32_t l3_length = 0;
  uint32_t l3_offset = 0;  // offset of the IP header within the frame
  uint32_t l4_offset = 0;  // offset of the TCP/UDP/SCTP/ICMP header (0 when not reached)
  // UDP only: payload offset within the frame and the payload length from the UDP header
  // (bounded by the IP length). The bytes may extend past caplen if the capture is truncated.
  uint32_t payload_offset = 0;
  uint32_t payload_length = 0;
  IpAddress src;
  IpAddress dst;

  bool is_fragment() const { return flags & kPktFragment; }
  bool is_non_first_fragment() const { return flags & kPktNonFirstFragment; }
  bool l4_truncated() const { return flags & kPktL4Truncated; }
};

// Parses one frame. `caplen` bytes are readable at `data`; `wire_len` is the original length
// (>= caplen) and only matters when an IP length field is 0. On kOk every field except
// time_us is (re)set; on a drop `out` is in an unspecified but valid state.
//
// Truncation policy: a frame whose IP header is complete but whose L4 header is cut by the
// snaplen is still kOk (bytes come from the IP length, so counts stay exact) with
// kPktL4Truncated set and the missing fields zero. Non-first fragments are kOk with ports 0.
ParseResult ParsePacket(const uint8_t* data, size_t caplen, size_t wire_len, LinkType link,
                        PacketMeta& out);

}  // namespace nf

#endif  // NF_CAPTURE_PACKET_PARSER_H_
