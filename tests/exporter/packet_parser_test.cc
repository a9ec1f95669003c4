// Tests of nf::packet (ParsePacket, LinkTypeFromDlt) on hand-built frames for every link type
// and header chain, and of nf::capture + nf::packet over the shared traffic corpus.
#include "capture/packet_parser.h"

#include <array>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "capture/pcap_source.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/exporter/frame_builder.h"
#include "tests/support/test_support.h"

namespace nf {
namespace {

using ::nf::testing::Bytes;
using namespace ::nf::testing;  // NOLINT: frame builders

constexpr uint32_t kA = 0x0a000001;  // 10.0.0.1
constexpr uint32_t kB = 0xc0a80102;  // 192.168.1.2

ParseResult Parse(const Bytes& frame, LinkType link, PacketMeta& m, size_t caplen = SIZE_MAX) {
  if (caplen > frame.size()) caplen = frame.size();
  return ParsePacket(frame.data(), caplen, frame.size(), link, m);
}

TEST(PacketParserTest, EthernetIpv4Tcp) {
  Ip4Options o;
  o.tos = 0x28;
  o.ttl = 33;
  Bytes f = Eth(0x0800, Ipv4(kA, kB, 6, Tcp(1234, 80, 0x12, 10), o));
  PacketMeta m;
  ASSERT_EQ(Parse(f, LinkType::kEthernet, m), ParseResult::kOk);
  EXPECT_EQ(m.ip_version, 4);
  EXPECT_EQ(m.src, IpAddress::V4(kA));
  EXPECT_EQ(m.dst, IpAddress::V4(kB));
  EXPECT_EQ(m.protocol, 6);
  EXPECT_EQ(m.src_port, 1234);
  EXPECT_EQ(m.dst_port, 80);
  EXPECT_EQ(m.tcp_flags, 0x12);
  EXPECT_EQ(m.tos, 0x28);
  EXPECT_EQ(m.ttl, 33);
  EXPECT_EQ(m.l3_length, 20u + 20u + 10u);
  EXPECT_EQ(m.l3_offset, 14u);
  EXPECT_EQ(m.l4_offset, 34u);
  EXPECT_EQ(m.vlan, 0);
  EXPECT_FALSE(m.is_fragment());
  EXPECT_FALSE(m.l4_truncated());
}

TEST(PacketParserTest, EthernetPaddingDoesNotCount) {
  Bytes f = Eth(0x0800, Ipv4(kA, kB, 17, Udp(53, 53, 2)));
  f.resize(60, 0);  // minimum Ethernet frame: trailing padding
  PacketMeta m;
  ASSERT_EQ(Parse(f, LinkType::kEthernet, m), ParseResult::kOk);
  EXPECT_EQ(m.l3_length, 30u);
  EXPECT_EQ(m.payload_offset, 14u + 20u + 8u);
  EXPECT_EQ(m.payload_length, 2u);
}

TEST(PacketParserTest, Ipv4OptionsAreSkipped) {
  Ip4Options o;
  o.options = {0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00};  // router alert + NOPs + EOL
  Bytes f = Eth(0x0800, Ipv4(kA, kB, 17, Udp(5000, 6000, 4), o));
  PacketMeta m;
  ASSERT_EQ(Parse(f, LinkType::kEthernet, m), ParseResult::kOk);
  EXPECT_EQ(m.l4_offset, 14u + 28u);
  EXPECT_EQ(m.src_port, 5000);
  EXPECT_EQ(m.dst_port, 6000);
  EXPECT_EQ(m.l3_length, 28u + 12u);
}

TEST(PacketParserTest, UdpPayloadOffsetAndLength) {
  Bytes f = Eth(0x0800, Ipv4(kA, kB, 17, Udp(2055, 2055, 100)));
  PacketMeta m;
  ASSERT_EQ(Parse(f, LinkType::kEthernet, m), ParseResult::kOk);
  EXPECT_EQ(m.payload_offset, 42u);
  EXPECT_EQ(m.payload_length, 100u);
}

TEST(PacketParserTest, Ipv4Fragments) {
  // First fragment (MF, offset 0): ports are present.
  Ip4Options first;
  first.frag = 0x2000;
  Bytes f1 = Eth(0x0800, Ipv4(kA, kB, 17, Udp(111, 2049, 64), first));
  PacketMeta m;
  ASSERT_EQ(Parse(f1, LinkType::kEthernet, m), ParseResult::kOk);
  EXPECT_TRUE(m.is_fragment());
  EXPECT_FALSE(m.is_non_first_fragment());
  EXPECT_EQ(m.src_port, 111);
  EXPECT_EQ(m.dst_port, 2049);

  // Later fragment: counted, keyed without ports even though its bytes look like a header.
  Ip4Options later;
  later.frag = 0x0009;
  Bytes f2 = Eth(0x0800, Ipv4(kA, kB, 17, Udp(999, 999, 20), later));
  ASSERT_EQ(Parse(f2, LinkType::kEthernet, m), ParseResult::kOk);
  EXPECT_TRUE(m.is_fragment());
  EXPECT_TRUE(m.is_non_first_fragment());
  EXPECT_EQ(m.src_port, 0);
  EXPECT_EQ(m.dst_port, 0);
  EXPECT_EQ(m.protocol, 17);
  EXPECT_EQ(m.l3_length, 20u + 28u);
}

TEST(PacketParserTest, IcmpTypeCodeInDstPort) {
  Bytes f = Eth(0x0800, Ipv4(kA, kB, 1, Icmp(3, 1)));
  PacketMeta m;
  ASSERT_EQ(Parse(f, LinkType::kEthernet, m), ParseResult::kOk);
  EXPECT_EQ(m.icmp_type, 3);
  EXPECT_EQ(m.icmp_code, 1);
  EXPECT_EQ(m.src_port, 0);
  EXPECT_EQ(m.dst_port, 3 * 256 + 1);
}

TEST(PacketParserTest, Icmpv6) {
  Bytes f = Eth(0x86dd, Ipv6(1, 2, 58, Icmp(128, 0)));
  PacketMeta m;
  ASSERT_EQ(Parse(f, LinkType::kEthernet, m), ParseResult::kOk);
  EXPECT_EQ(m.protocol, 58);
  EXPECT_EQ(m.icmp_type, 128);
  EXPECT_EQ(m.dst_port, 128 * 256);
}

TEST(PacketParserTest, Sctp) {
  Bytes f = Eth(0x0800, Ipv4(kA, kB, 132, Sctp(2905, 2906)));
  PacketMeta m;
  ASSERT_EQ(Parse(f, LinkType::kEthernet, m), ParseResult::kOk);
  EXPECT_EQ(m.src_port, 2905);
  EXPECT_EQ(m.dst_port, 2906);
}

TEST(PacketParserTest, Ipv6Tcp) {
  Bytes f = Eth(0x86dd, Ipv6(1, 2, 6, Tcp(40000, 443, 0x02), /*tclass=*/0xb8, 50));
  PacketMeta m;
  ASSERT_EQ(Parse(f, LinkType::kEthernet, m), ParseResult::kOk);
  EXPECT_EQ(m.ip_version, 6);
  EXPECT_EQ(m.src.version, 6);
  EXPECT_EQ(m.src.bytes[15], 1);
  EXPECT_EQ(m.dst.bytes[15], 2);
  EXPECT_EQ(m.tos, 0xb8);
  EXPECT_EQ(m.ttl, 50);
  EXPECT_EQ(m.flow_label, 0x12345u);
  EXPECT_EQ(m.l3_length, 40u + 20u);
  EXPECT_EQ(m.src_port, 40000);
  EXPECT_EQ(m.tcp_flags, 0x02);
}

TEST(PacketParserTest, Ipv6ExtensionHeaderChain) {
  // HBH -> routing -> dest opts (16 bytes) -> AH -> UDP.
  Bytes chain = Ext6(43);
  Append(chain, Ext6(60));
  Append(chain, Ext6(51, 2));
  Append(chain, Ah(17));
  Append(chain, Udp(546, 547, 12));
  Bytes f = Eth(0x86dd, Ipv6(1, 2, 0, chain));
  PacketMeta m;
  ASSERT_EQ(Parse(f, LinkType::kEthernet, m), ParseResult::kOk);
  EXPECT_EQ(m.protocol, 17);
  EXPECT_EQ(m.src_port, 546);
  EXPECT_EQ(m.dst_port, 547);
  EXPECT_EQ(m.l4_offset, 14u + 40u + 8u + 8u + 16u + 24u);
  EXPECT_EQ(m.l3_length, 40u + chain.size());
}

TEST(PacketParserTest, Ipv6Fragments) {
  Bytes first = Frag6(17, 0, true);
  Append(first, Udp(5353, 5353, 40));
  PacketMeta m;
  ASSERT_EQ(Parse(Eth(0x86dd, Ipv6(1, 2, 44, first)), LinkType::kEthernet, m), ParseResult::kOk);
  EXPECT_TRUE(m.is_fragment());
  EXPECT_FALSE(m.is_non_first_fragment());
  EXPECT_EQ(m.protocol, 17);
  EXPECT_EQ(m.src_port, 5353);

  Bytes later = Frag6(17, 6, false);
  Append(later, Bytes(30, 0x55));
  ASSERT_EQ(Parse(Eth(0x86dd, Ipv6(1, 2, 0,
                                   [&] {
                                     Bytes b = Ext6(44);
                                     Append(b, later);
                                     return b;
                                   }())),
                  LinkType::kEthernet, m),
            ParseResult::kOk);
  EXPECT_TRUE(m.is_non_first_fragment());
  EXPECT_EQ(m.protocol, 17);
  EXPECT_EQ(m.src_port, 0);
  EXPECT_EQ(m.dst_port, 0);
}

TEST(PacketParserTest, Ipv6PayloadLengthZeroUsesFrame) {
  // BIG TCP / jumbogram: payload length 0, the frame carries the real size.
  Bytes f = Eth(0x86dd, Ipv6(1, 2, 6, Tcp(1, 2, 0x10, 1000)));
  f[14 + 4] = 0;
  f[14 + 5] = 0;
  PacketMeta m;
  ASSERT_EQ(Parse(f, LinkType::kEthernet, m, 80), ParseResult::kOk);
  EXPECT_EQ(m.l3_length, 40u + 20u + 1000u);
  // A real empty packet (next header 59) stays 40 even with Ethernet padding.
  Bytes empty = Eth(0x86dd, Ipv6(1, 2, 59, {}));
  empty.resize(70, 0);
  ASSERT_EQ(Parse(empty, LinkType::kEthernet, m), ParseResult::kOk);
  EXPECT_EQ(m.l3_length, 40u);
}

TEST(PacketParserTest, Ipv6BadExtensionLength) {
  Bytes chain = Ext6(17, 1);
  chain[1] = 200;  // claims 1608 bytes
  Append(chain, Udp(1, 2));
  PacketMeta m;
  EXPECT_EQ(Parse(Eth(0x86dd, Ipv6(1, 2, 0, chain)), LinkType::kEthernet, m),
            ParseResult::kBadIpv6Header);
}

TEST(PacketParserTest, Ipv6TooManyExtensionHeaders) {
  Bytes chain;
  for (int i = 0; i < 20; ++i) Append(chain, Ext6(60));
  Append(chain, Udp(1, 2));
  PacketMeta m;
  EXPECT_EQ(Parse(Eth(0x86dd, Ipv6(1, 2, 60, chain)), LinkType::kEthernet, m),
            ParseResult::kTooManyHeaders);
}

TEST(PacketParserTest, VlanAndQinQ) {
  Bytes ip = Ipv4(kA, kB, 17, Udp(1, 2));
  PacketMeta m;
  ASSERT_EQ(Parse(Eth(0x0800, ip, {{0x8100, 0x2064}}), LinkType::kEthernet, m), ParseResult::kOk);
  EXPECT_EQ(m.vlan, 100);
  EXPECT_EQ(m.vlan_count, 1);
  EXPECT_EQ(m.l3_offset, 18u);
  for (uint16_t outer : {0x88a8, 0x9100}) {
    ASSERT_EQ(Parse(Eth(0x0800, ip, {{outer, 10}, {0x8100, 20}}), LinkType::kEthernet, m),
              ParseResult::kOk)
        << outer;
    EXPECT_EQ(m.vlan, 10);
    EXPECT_EQ(m.inner_vlan, 20);
    EXPECT_EQ(m.vlan_count, 2);
    EXPECT_EQ(m.l3_offset, 22u);
    EXPECT_EQ(m.src_port, 1);
  }
}

TEST(PacketParserTest, MplsStacks) {
  PacketMeta m;
  Bytes v4 = Mpls({16, 17, 18}, Ipv4(kA, kB, 6, Tcp(10, 20, 0x10)));
  ASSERT_EQ(Parse(Eth(0x8847, v4), LinkType::kEthernet, m), ParseResult::kOk);
  EXPECT_EQ(m.mpls_count, 3);
  EXPECT_EQ(m.mpls_top_label, 16u);
  EXPECT_EQ(m.l3_offset, 14u + 12u);
  EXPECT_EQ(m.dst_port, 20);

  Bytes v6 = Mpls({100}, Ipv6(1, 2, 17, Udp(7, 8)));
  ASSERT_EQ(Parse(Eth(0x8847, v6, {{0x8100, 5}}), LinkType::kEthernet, m), ParseResult::kOk);
  EXPECT_EQ(m.ip_version, 6);
  EXPECT_EQ(m.vlan, 5);
  EXPECT_EQ(m.dst_port, 8);

  // Pseudowire with control word (first nibble 0): not IP.
  Bytes pw = Mpls({200}, Bytes{0, 0, 0, 0, 1, 2, 3});
  EXPECT_EQ(Parse(Eth(0x8847, pw), LinkType::kEthernet, m), ParseResult::kNotIp);
  // A stack with no bottom-of-stack bit runs out of capture.
  Bytes endless = {0, 0x10, 0, 64, 0, 0x20, 0, 64};
  EXPECT_EQ(Parse(Eth(0x8847, endless), LinkType::kEthernet, m), ParseResult::kTruncatedLink);
}

TEST(PacketParserTest, PppoeSession) {
  Bytes ppp = {0x11, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x21};
  Bytes ip = Ipv4(kA, kB, 17, Udp(3, 4));
  ppp[4] = static_cast<uint8_t>((ip.size() + 2) >> 8);
  ppp[5] = static_cast<uint8_t>(ip.size() + 2);
  Append(ppp, ip);
  PacketMeta m;
  ASSERT_EQ(Parse(Eth(0x8864, ppp), LinkType::kEthernet, m), ParseResult::kOk);
  EXPECT_EQ(m.dst_port, 4);
}

TEST(PacketParserTest, NotIp) {
  PacketMeta m;
  EXPECT_EQ(Parse(Eth(0x0806, Bytes(28, 0)), LinkType::kEthernet, m), ParseResult::kNotIp);
  Bytes llc = Eth(0x0026, Bytes(38, 0));  // 802.3 length field
  EXPECT_EQ(Parse(llc, LinkType::kEthernet, m), ParseResult::kNotIp);
}

TEST(PacketParserTest, LinuxSllAndSll2) {
  PacketMeta m;
  ASSERT_EQ(Parse(Sll(0x0800, Ipv4(kA, kB, 6, Tcp(1, 2, 0x01))), LinkType::kLinuxSll, m),
            ParseResult::kOk);
  EXPECT_EQ(m.l3_offset, 16u);
  EXPECT_EQ(m.tcp_flags, 0x01);
  ASSERT_EQ(Parse(Sll2(0x86dd, Ipv6(1, 2, 17, Udp(9, 10))), LinkType::kLinuxSll2, m),
            ParseResult::kOk);
  EXPECT_EQ(m.l3_offset, 20u);
  EXPECT_EQ(m.dst_port, 10);
  EXPECT_EQ(Parse(Sll(0x0806, Bytes(28, 0)), LinkType::kLinuxSll, m), ParseResult::kNotIp);
  EXPECT_EQ(Parse(Bytes(10, 0), LinkType::kLinuxSll, m), ParseResult::kTruncatedLink);
  EXPECT_EQ(Parse(Bytes(19, 0), LinkType::kLinuxSll2, m), ParseResult::kTruncatedLink);
}

TEST(PacketParserTest, RawIp) {
  PacketMeta m;
  ASSERT_EQ(Parse(Ipv4(kA, kB, 17, Udp(1, 2)), LinkType::kRawIp, m), ParseResult::kOk);
  EXPECT_EQ(m.ip_version, 4);
  EXPECT_EQ(m.l3_offset, 0u);
  ASSERT_EQ(Parse(Ipv6(1, 2, 17, Udp(1, 2)), LinkType::kRawIp, m), ParseResult::kOk);
  EXPECT_EQ(m.ip_version, 6);
  ASSERT_EQ(Parse(Ipv4(kA, kB, 17, Udp(1, 2)), LinkType::kRawIpv4, m), ParseResult::kOk);
  ASSERT_EQ(Parse(Ipv6(1, 2, 17, Udp(1, 2)), LinkType::kRawIpv6, m), ParseResult::kOk);
  EXPECT_EQ(Parse(Bytes{0x50, 0, 0, 0}, LinkType::kRawIp, m), ParseResult::kBadIpVersion);
}

TEST(PacketParserTest, NullAndLoop) {
  PacketMeta m;
  for (bool le : {true, false}) {
    ASSERT_EQ(Parse(Null(2, le, Ipv4(kA, kB, 17, Udp(1, 2))), LinkType::kNull, m),
              ParseResult::kOk);
    EXPECT_EQ(m.ip_version, 4);
    EXPECT_EQ(m.l3_offset, 4u);
    for (uint32_t af6 : {10u, 24u, 28u, 30u}) {
      ASSERT_EQ(Parse(Null(af6, le, Ipv6(1, 2, 6, Tcp(1, 2, 0))), LinkType::kNull, m),
                ParseResult::kOk);
      EXPECT_EQ(m.ip_version, 6);
    }
  }
  ASSERT_EQ(Parse(Null(24, false, Ipv6(1, 2, 6, Tcp(1, 2, 0))), LinkType::kLoop, m),
            ParseResult::kOk);
  EXPECT_EQ(Parse(Null(7, false, Bytes(20, 0)), LinkType::kLoop, m), ParseResult::kNotIp);
}

TEST(PacketParserTest, Nflog) {
  PacketMeta m;
  for (bool le : {true, false}) {
    SCOPED_TRACE(le ? "little-endian TLVs" : "big-endian TLVs");
    // 37 bytes of IPv4: the payload TLV is padded, and the padding must not count.
    const Bytes v4 = Ipv4(kA, kB, 17, Udp(1000, 53, 9));
    ASSERT_EQ(v4.size() % 4, 1u);
    const Bytes frame = Nflog(2, le, v4);
    ASSERT_EQ(Parse(frame, LinkType::kNflog, m), ParseResult::kOk);
    EXPECT_EQ(m.ip_version, 4);
    EXPECT_EQ(m.l3_offset, 4u + 8u + 12u + 4u);
    EXPECT_EQ(m.l3_length, v4.size());
    EXPECT_EQ(m.src_port, 1000);
    EXPECT_EQ(m.dst_port, 53);
    ASSERT_EQ(Parse(Nflog(10, le, Ipv6(1, 2, 6, Tcp(4, 443, 0x02))), LinkType::kNflog, m),
              ParseResult::kOk);
    EXPECT_EQ(m.ip_version, 6);
    EXPECT_EQ(m.dst_port, 443);
    // An IPv4 packet under an AF_INET6 header is a bad IPv6 header, not silently IPv4.
    EXPECT_NE(Parse(Nflog(10, le, v4), LinkType::kNflog, m), ParseResult::kOk);
    // No payload TLV: nothing to meter.
    EXPECT_EQ(Parse(Nflog(2, le, v4, false), LinkType::kNflog, m), ParseResult::kNotIp);
    // The snaplen cuts inside the TLVs before the payload.
    EXPECT_EQ(Parse(frame, LinkType::kNflog, m, 14), ParseResult::kTruncatedLink);
    // The snaplen cuts the payload after the IP header: bytes still come from the IP length.
    ASSERT_EQ(Parse(frame, LinkType::kNflog, m, 28 + 20), ParseResult::kOk);
    EXPECT_EQ(m.l3_length, v4.size());
  }
  // A TLV length below its own header cannot advance: refused, never a loop.
  Bytes bad{2, 0, 0, 5, 2, 0, 9, 0, 0x45, 0, 0, 20};
  EXPECT_EQ(Parse(bad, LinkType::kNflog, m), ParseResult::kTruncatedLink);
  EXPECT_EQ(Parse(Bytes{2, 0}, LinkType::kNflog, m), ParseResult::kTruncatedLink);
}

TEST(PacketParserTest, TruncationPolicy) {
  Bytes f = Eth(0x0800, Ipv4(kA, kB, 6, Tcp(1234, 80, 0x18, 100)));
  PacketMeta m;
  // Snaplen inside the Ethernet header, then inside the IP header.
  EXPECT_EQ(Parse(f, LinkType::kEthernet, m, 10), ParseResult::kTruncatedLink);
  EXPECT_EQ(Parse(f, LinkType::kEthernet, m, 30), ParseResult::kTruncatedIp);
  // IP complete, ports present, flags cut: counted with exact bytes.
  ASSERT_EQ(Parse(f, LinkType::kEthernet, m, 40), ParseResult::kOk);
  EXPECT_TRUE(m.l4_truncated());
  EXPECT_EQ(m.src_port, 1234);
  EXPECT_EQ(m.tcp_flags, 0);
  EXPECT_EQ(m.l3_length, 140u);
  // IP complete, no L4 byte at all.
  ASSERT_EQ(Parse(f, LinkType::kEthernet, m, 34), ParseResult::kOk);
  EXPECT_TRUE(m.l4_truncated());
  EXPECT_EQ(m.src_port, 0);
  // Every prefix of every kind of frame parses without reading past caplen (ASan checks).
  for (size_t n = 0; n <= f.size(); ++n) {
    Bytes prefix(f.begin(), f.begin() + static_cast<ptrdiff_t>(n));
    Parse(prefix, LinkType::kEthernet, m);
  }
}

TEST(PacketParserTest, BadIpv4Headers) {
  PacketMeta m;
  Bytes ip = Ipv4(kA, kB, 17, Udp(1, 2));
  ip[0] = 0x44;  // IHL 4
  EXPECT_EQ(Parse(Eth(0x0800, ip), LinkType::kEthernet, m), ParseResult::kBadIpv4Header);
  Ip4Options o;
  o.total_length_override = 12;
  EXPECT_EQ(Parse(Eth(0x0800, Ipv4(kA, kB, 17, Udp(1, 2), o)), LinkType::kEthernet, m),
            ParseResult::kBadIpv4Header);
  // Total length 0 (TSO capture): the frame length counts.
  o.total_length_override = 0;
  ASSERT_EQ(Parse(Eth(0x0800, Ipv4(kA, kB, 17, Udp(1, 2, 100), o)), LinkType::kEthernet, m),
            ParseResult::kOk);
  EXPECT_EQ(m.l3_length, 128u);
}

TEST(PacketParserTest, TimeIsPreserved) {
  PacketMeta m;
  m.time_us = 42;
  ASSERT_EQ(Parse(Eth(0x0800, Ipv4(kA, kB, 17, Udp(1, 2))), LinkType::kEthernet, m),
            ParseResult::kOk);
  EXPECT_EQ(m.time_us, 42);
}

TEST(PacketParserTest, ResultNamesAreDistinct) {
  std::map<std::string, int> seen;
  for (size_t i = 0; i < kParseResultCount; ++i) {
    ++seen[ParseResultName(static_cast<ParseResult>(i))];
  }
  EXPECT_EQ(seen.size(), kParseResultCount);
  EXPECT_EQ(seen.count("unknown"), 0u);
}

TEST(LinkTypeTest, FromDlt) {
  EXPECT_EQ(*LinkTypeFromDlt(1), LinkType::kEthernet);
  EXPECT_EQ(*LinkTypeFromDlt(113), LinkType::kLinuxSll);
  EXPECT_EQ(*LinkTypeFromDlt(276), LinkType::kLinuxSll2);
  EXPECT_EQ(*LinkTypeFromDlt(12), LinkType::kRawIp);
  EXPECT_EQ(*LinkTypeFromDlt(14), LinkType::kRawIp);
  EXPECT_EQ(*LinkTypeFromDlt(101), LinkType::kRawIp);
  EXPECT_EQ(*LinkTypeFromDlt(228), LinkType::kRawIpv4);
  EXPECT_EQ(*LinkTypeFromDlt(229), LinkType::kRawIpv6);
  EXPECT_EQ(*LinkTypeFromDlt(0), LinkType::kNull);
  EXPECT_EQ(*LinkTypeFromDlt(108), LinkType::kLoop);
  EXPECT_EQ(*LinkTypeFromDlt(239), LinkType::kNflog);
  absl::StatusOr<LinkType> bad = LinkTypeFromDlt(127);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), ::testing::HasSubstr("127"));
  EXPECT_THAT(std::string(bad.status().message()), ::testing::HasSubstr("IEEE802_11_RADIO"));
}

// Packet counts per traffic file from the corpus MANIFEST (capinfos), the independent truth.
std::map<std::string, uint64_t> ManifestPacketCounts(const std::string& corpus) {
  std::map<std::string, uint64_t> counts;
  std::ifstream in(corpus + "/MANIFEST.md");
  std::string line;
  bool in_traffic = false;
  while (std::getline(in, line)) {
    if (line.rfind("## traffic/", 0) == 0) in_traffic = true;
    if (!in_traffic || line.rfind("| `", 0) != 0) continue;
    std::vector<std::string> cells = absl::StrSplit(line, '|');
    // cells[0] empty, 1 file, 2 source, 3 licence, 4 size, 5 format, 6 snaplen, 7 pkts.
    if (cells.size() < 8) continue;
    std::string file(absl::StripAsciiWhitespace(cells[1]));
    file = file.substr(1, file.size() - 2);
    counts["traffic/" + file] = std::stoull(std::string(absl::StripAsciiWhitespace(cells[7])));
  }
  return counts;
}

TEST(PacketParserCorpusTest, EveryTrafficCaptureAddsUp) {
  NF_REQUIRE_CORPUS();
  const std::string corpus = ::nf::testing::CorpusDir();
  const std::map<std::string, uint64_t> expected = ManifestPacketCounts(corpus);
  ASSERT_GT(expected.size(), 50u);
  size_t files = 0;
  size_t refused = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(corpus + "/traffic")) {
    if (!entry.is_regular_file()) continue;
    const std::string rel = entry.path().lexically_relative(corpus).string();
    SCOPED_TRACE(rel);
    absl::StatusOr<std::unique_ptr<PcapSource>> src = PcapSource::OpenOffline({entry.path()});
    if (!src.ok()) {
      // Only link types we do not handle may be refused, and the message must name them.
      EXPECT_THAT(std::string(src.status().message()),
                  ::testing::HasSubstr("unsupported link type"));
      ++refused;
      if (getenv("NF_VERBOSE") != nullptr)
        std::cout << rel << ": " << src.status().message() << "\n";
      continue;
    }
    ++files;
    std::array<uint64_t, kParseResultCount> results{};
    uint64_t bytes = 0;
    absl::Status end;
    for (int guard = 0; guard < 1000000; ++guard) {
      absl::StatusOr<int> n = (*src)->Dispatch(256, [&](const RawPacket& p) {
        PacketMeta m;
        ParseResult r = p.link_supported ? ParsePacket(p.data, p.caplen, p.wire_len, p.link, m)
                                         : ParseResult::kUnsupportedLinkType;
        ++results[static_cast<size_t>(r)];
        if (r == ParseResult::kOk) bytes += m.l3_length;
      });
      if (!n.ok()) {
        end = n.status();
        break;
      }
    }
    uint64_t total = 0;
    for (uint64_t c : results) total += c;
    ASSERT_TRUE(absl::IsOutOfRange(end)) << end;
    auto it = expected.find(rel);
    if (it != expected.end()) {
      EXPECT_EQ(total, it->second);
    }
    if (getenv("NF_VERBOSE") != nullptr) {
      std::string line = rel + ":";
      for (size_t i = 0; i < kParseResultCount; ++i) {
        if (results[i] != 0)
          line += " " + std::string(ParseResultName(static_cast<ParseResult>(i))) + "=" +
                  std::to_string(results[i]);
      }
      std::cout << line << " l3_bytes=" << bytes << "\n";
    }
    EXPECT_EQ(total, (*src)->Stats().received);
  }
  EXPECT_GT(files, 100u);
  EXPECT_LE(refused, 10u);
}

}  // namespace
}  // namespace nf
