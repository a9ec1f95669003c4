// Test helper: builds link/IP/L4 frames byte by byte, so parser, flow-table and end-to-end
// tests feed exactly the headers they mean to test.
#ifndef NF_TESTS_EXPORTER_FRAME_BUILDER_H_
#define NF_TESTS_EXPORTER_FRAME_BUILDER_H_

#include <cstdint>
#include <initializer_list>
#include <vector>

namespace nf::testing {

using Bytes = std::vector<uint8_t>;

// Appends by resize and index rather than two push_backs: GCC 12 at -O2 with TSan reports a
// false -Warray-bounds inside the vector's regrowth after a one-byte push.
inline void Put16(Bytes& b, uint16_t v) {
  const size_t at = b.size();
  b.resize(at + 2);
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}
inline void Put32(Bytes& b, uint32_t v) {
  Put16(b, static_cast<uint16_t>(v >> 16));
  Put16(b, static_cast<uint16_t>(v));
}
inline void Append(Bytes& b, const Bytes& more) { b.insert(b.end(), more.begin(), more.end()); }

// Upper layers.
inline Bytes Tcp(uint16_t sport, uint16_t dport, uint8_t flags, size_t payload = 0) {
  Bytes b;
  Put16(b, sport);
  Put16(b, dport);
  Put32(b, 1);          // seq
  Put32(b, 0);          // ack
  b.push_back(5 << 4);  // data offset
  b.push_back(flags);
  Put16(b, 65535);
  Put16(b, 0);
  Put16(b, 0);
  b.resize(b.size() + payload, 0xab);
  return b;
}
inline Bytes Udp(uint16_t sport, uint16_t dport, size_t payload = 0) {
  Bytes b;
  Put16(b, sport);
  Put16(b, dport);
  Put16(b, static_cast<uint16_t>(8 + payload));
  Put16(b, 0);
  b.resize(b.size() + payload, 0xcd);
  return b;
}
inline Bytes Sctp(uint16_t sport, uint16_t dport) {
  Bytes b;
  Put16(b, sport);
  Put16(b, dport);
  Put32(b, 0x01020304);
  Put32(b, 0);
  return b;
}
inline Bytes Icmp(uint8_t type, uint8_t code, size_t payload = 4) {
  Bytes b{type, code, 0, 0};
  b.resize(b.size() + payload, 0x11);
  return b;
}

struct Ip4Options {
  uint8_t tos = 0;
  uint8_t ttl = 64;
  uint16_t frag = 0;  // flags (0x2000 MF) | offset in 8-byte units
  Bytes options;      // multiple of 4
  int total_length_override = -1;
};
inline Bytes Ipv4(uint32_t src, uint32_t dst, uint8_t proto, const Bytes& payload,
                  const Ip4Options& o = {}) {
  Bytes b;
  const size_t hl = 20 + o.options.size();
  b.push_back(static_cast<uint8_t>(0x40 | (hl / 4)));
  b.push_back(o.tos);
  Put16(b, o.total_length_override >= 0 ? static_cast<uint16_t>(o.total_length_override)
                                        : static_cast<uint16_t>(hl + payload.size()));
  Put16(b, 0x1234);
  Put16(b, o.frag);
  b.push_back(o.ttl);
  b.push_back(proto);
  Put16(b, 0);
  Put32(b, src);
  Put32(b, dst);
  Append(b, o.options);
  Append(b, payload);
  return b;
}

inline Bytes V6Addr(uint16_t last) {
  Bytes a{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  Put16(a, last);
  return a;
}
// `payload` is everything after the fixed header (extension headers included).
inline Bytes Ipv6(uint16_t src_last, uint16_t dst_last, uint8_t next, const Bytes& payload,
                  uint8_t tclass = 0, uint8_t hop_limit = 64) {
  Bytes b;
  Put32(b, (6u << 28) | (uint32_t{tclass} << 20) | 0x12345);
  Put16(b, static_cast<uint16_t>(payload.size()));
  b.push_back(next);
  b.push_back(hop_limit);
  Append(b, V6Addr(src_last));
  Append(b, V6Addr(dst_last));
  Append(b, payload);
  return b;
}
// A generic IPv6 extension header (HBH/routing/dest opts) of `len8` 8-byte units (>= 1).
inline Bytes Ext6(uint8_t next, size_t len8 = 1) {
  Bytes b{next, static_cast<uint8_t>(len8 - 1)};
  b.resize(len8 * 8, 0);
  return b;
}
inline Bytes Frag6(uint8_t next, uint16_t offset_units, bool more) {
  Bytes b{next, 0};
  Put16(b, static_cast<uint16_t>((offset_units << 3) | (more ? 1 : 0)));
  Put32(b, 0xdeadbeef);
  return b;
}
// AH with `words` 32-bit words of ICV after the 12 fixed bytes.
inline Bytes Ah(uint8_t next, size_t icv_words = 3) {
  const size_t total_words = 3 + icv_words;
  Bytes b{next, static_cast<uint8_t>(total_words - 2), 0, 0};
  Put32(b, 0x100);  // SPI
  Put32(b, 1);      // sequence
  b.resize(total_words * 4, 0x77);
  return b;
}

// Link layers.
inline Bytes Eth(uint16_t ethertype, const Bytes& payload,
                 std::initializer_list<std::pair<uint16_t, uint16_t>> tags = {}) {
  Bytes b{0, 1, 2, 3, 4, 5, 0, 6, 7, 8, 9, 10};
  for (const auto& [tpid, tci] : tags) {
    Put16(b, tpid);
    Put16(b, tci);
  }
  Put16(b, ethertype);
  Append(b, payload);
  return b;
}
inline Bytes Mpls(std::initializer_list<uint32_t> labels, const Bytes& payload) {
  Bytes b;
  size_t i = 0;
  for (uint32_t label : labels) {
    ++i;
    Put32(b, (label << 12) | (i == labels.size() ? 0x100 : 0) | 64);
  }
  Append(b, payload);
  return b;
}
inline Bytes Sll(uint16_t protocol, const Bytes& payload) {
  Bytes b;
  Put16(b, 0);  // packet type: to us
  Put16(b, 1);  // ARPHRD_ETHER
  Put16(b, 6);
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(i));
  Put16(b, protocol);
  Append(b, payload);
  return b;
}
inline Bytes Sll2(uint16_t protocol, const Bytes& payload) {
  Bytes b;
  Put16(b, protocol);
  Put16(b, 0);
  Put32(b, 3);  // ifindex
  Put16(b, 1);  // ARPHRD_ETHER
  b.push_back(0);
  b.push_back(6);
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(i));
  Append(b, payload);
  return b;
}
// DLT_NULL: address family in the given byte order.
inline Bytes Null(uint32_t family, bool little_endian, const Bytes& payload) {
  Bytes b;
  if (little_endian) {
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(family >> (8 * i)));
  } else {
    Put32(b, family);
  }
  Append(b, payload);
  return b;
}

// DLT_NFLOG: header (family, version 0, resource ID 5), then TLVs in the given byte order:
// NFULA_PACKET_HDR, NFULA_PREFIX "drop" (length 9, padded to 12), and the packet as
// NFULA_PAYLOAD, padded to 4. `with_payload` false leaves the payload TLV out.
inline Bytes Nflog(uint8_t family, bool little_endian, const Bytes& packet,
                   bool with_payload = true) {
  Bytes b{family, 0, 0, 5};
  auto tlv = [&](uint16_t type, const Bytes& value) {
    const uint16_t len = static_cast<uint16_t>(4 + value.size());
    if (little_endian) {
      b.insert(b.end(), {static_cast<uint8_t>(len), static_cast<uint8_t>(len >> 8),
                         static_cast<uint8_t>(type), static_cast<uint8_t>(type >> 8)});
    } else {
      Put16(b, len);
      Put16(b, type);
    }
    Append(b, value);
    while (b.size() % 4 != 0) b.push_back(0);
  };
  tlv(1, Bytes{0x08, 0x00, 3, 0});
  tlv(10, Bytes{'d', 'r', 'o', 'p', 0});
  if (with_payload) tlv(9, packet);
  return b;
}

}  // namespace nf::testing

#endif  // NF_TESTS_EXPORTER_FRAME_BUILDER_H_
