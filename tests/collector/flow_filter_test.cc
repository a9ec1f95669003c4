// The record filter (flowcollect -f): every term of nfdump's language we support on matching and
// non-matching records, nfdump's precedence and its surprises (port on either side, flags
// all-of/any-of, duration in ms, 1000-based scale factors), our extensions, error messages
// with their positions, the nesting limit, and that Matches() never allocates.
#include "collector/filter/flow_filter.h"

#include <string>

#include "gtest/gtest.h"

namespace nf::report {
// Global allocations so far (tests/report/alloc_counter.cc, linked in).
extern size_t g_allocations;
}  // namespace nf::report

namespace nf {
namespace {

IpAddress Ip(const char* text) { return *ParseIpAddress(text); }

// TCP 10.0.0.1:40000 -> 192.0.2.10:443, 10 packets / 15000 bytes over 2 s.
DecodedRecord Tcp() {
  DecodedRecord r;
  r.exporter.address = Ip("198.51.100.1");
  r.exporter.port = 2055;
  r.version = 10;
  r.source_id = 7;
  r.first_ms = 1700000000000;
  r.last_ms = 1700000002000;
  r.ip_version = 4;
  r.protocol = 6;
  r.tos = 0x20;
  r.src_mask = 24;
  r.dst_mask = 16;
  r.direction = 0;
  r.engine_type = 1;
  r.engine_id = 2;
  r.tcp_flags = 0x12;  // SYN ACK
  r.src_port = 40000;
  r.dst_port = 443;
  r.vlan = 100;
  r.input_if = 3;
  r.output_if = 4;
  r.src_as = 64500;
  r.dst_as = 15169;
  r.sampling = 1000;
  r.src_addr = Ip("10.0.0.1");
  r.dst_addr = Ip("192.0.2.10");
  r.next_hop = Ip("10.0.0.254");
  r.packets = 10;
  r.bytes = 15000;
  r.out_packets = 8;
  r.out_bytes = 900;
  r.flows = 1;
  return r;
}

DecodedRecord Udp6() {
  DecodedRecord r = Tcp();
  r.ip_version = 6;
  r.protocol = 17;
  r.tcp_flags = 0;
  r.src_port = 53;
  r.dst_port = 33000;
  r.src_addr = Ip("2001:db8::1");
  r.dst_addr = Ip("2001:db8:1::53");
  r.next_hop = Ip("fe80::1");
  return r;
}

// ICMP echo request (type 8, code 0) and ICMPv6 destination unreachable (1, 4).
DecodedRecord Icmp(uint8_t protocol, uint8_t type, uint8_t code) {
  DecodedRecord r = Tcp();
  r.protocol = protocol;
  r.tcp_flags = 0;
  r.src_port = 0;
  r.dst_port = static_cast<uint16_t>(type * 256 + code);
  return r;
}

FlowFilter Compiled(const std::string& expression) {
  auto f = FlowFilter::Compile(expression);
  EXPECT_TRUE(f.ok()) << expression << ": " << f.status();
  return f.ok() ? *std::move(f) : FlowFilter();
}

bool Match(const std::string& expression, const DecodedRecord& r) {
  return Compiled(expression).Matches(r);
}

std::string Error(const std::string& expression) {
  auto f = FlowFilter::Compile(expression);
  if (f.ok()) return "compiled: " + f->DebugString();
  EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(f.status().message());
}

std::string Debug(const std::string& expression) { return Compiled(expression).DebugString(); }

TEST(FlowFilterTest, EmptyMatchesEverything) {
  for (const char* e : {"", "   ", "\n\t", "# only a comment", "  # c1\n# c2\n", "any", "ANY"}) {
    const FlowFilter f = Compiled(e);
    EXPECT_TRUE(f.matches_all()) << e;
    EXPECT_TRUE(f.Matches(Tcp())) << e;
    EXPECT_EQ(f.DebugString(), "any") << e;
  }
  EXPECT_TRUE(FlowFilter().matches_all());
  EXPECT_TRUE(FlowFilter().Matches(Udp6()));
  EXPECT_FALSE(Compiled("proto tcp").matches_all());
  EXPECT_FALSE(Compiled("proto tcp").uses_country());
  EXPECT_FALSE(Compiled("proto tcp").uses_interface_names());
}

TEST(FlowFilterTest, KeywordsAreCaseInsensitiveAndCommentsEndAtNewline) {
  EXPECT_TRUE(Match("PROTO TCP AND DST PORT 443", Tcp()));
  EXPECT_TRUE(Match("Proto Tcp and Dst Port EQ 443", Tcp()));
  EXPECT_TRUE(Match("proto tcp # and dst port 80\n and dst port 443", Tcp()));
  EXPECT_FALSE(Match("proto tcp # comment\nand dst port 80", Tcp()));
  EXPECT_TRUE(Match("proto tcp\r\nand dst port 443\r\n", Tcp()));
}

TEST(FlowFilterTest, PrecedenceIsNotThenAndThenOr) {
  const DecodedRecord tcp = Tcp();
  // and binds tighter than or.
  EXPECT_TRUE(Match("proto udp or proto tcp and dst port 443", tcp));
  EXPECT_FALSE(Match("proto udp or proto tcp and dst port 80", tcp));
  EXPECT_TRUE(Match("proto udp and dst port 80 or proto tcp", tcp));
  EXPECT_FALSE(Match("proto udp and (dst port 80 or proto tcp)", tcp));
  // not binds tighter than and: (not udp) and udp.
  EXPECT_FALSE(Match("not proto udp and proto udp", tcp));
  EXPECT_TRUE(Match("not (proto udp and proto udp)", tcp));
  EXPECT_TRUE(Match("not not proto tcp", tcp));
  EXPECT_TRUE(Match("! proto udp && (dst port 443 || dst port 80)", tcp));
  EXPECT_TRUE(Match("!proto udp&&dst port 443", tcp));
  EXPECT_EQ(Debug("proto udp or proto tcp and dst port 443"),
            "(proto == 17 or (proto == 6 and dst port == 443))");
  EXPECT_EQ(Debug("not proto udp and not (proto icmp or proto gre)"),
            "(not proto == 17 and not (proto == 1 or proto == 47))");
  // Chains of one connective flatten; double negation cancels.
  EXPECT_EQ(Debug("proto 1 or (proto 2 or proto 3) or proto 4"),
            "(proto == 1 or proto == 2 or proto == 3 or proto == 4)");
  EXPECT_EQ(Debug("not not (proto 1)"), "proto == 1");
  EXPECT_EQ(Debug("((((proto 1))))"), "proto == 1");
}

TEST(FlowFilterTest, ComparatorsDefaultToEquality) {
  const DecodedRecord r = Tcp();  // dst port 443
  EXPECT_TRUE(Match("dst port 443", r));
  EXPECT_TRUE(Match("dst port = 443", r));
  EXPECT_TRUE(Match("dst port == 443", r));
  EXPECT_TRUE(Match("dst port eq 443", r));
  EXPECT_TRUE(Match("dst port > 442", r));
  EXPECT_FALSE(Match("dst port > 443", r));
  EXPECT_TRUE(Match("dst port gt 442", r));
  EXPECT_TRUE(Match("dst port < 444", r));
  EXPECT_FALSE(Match("dst port lt 443", r));
  EXPECT_TRUE(Match("dst port >= 443", r));
  EXPECT_TRUE(Match("dst port GE 443", r));
  EXPECT_FALSE(Match("dst port >= 444", r));
  EXPECT_TRUE(Match("dst port <= 443", r));
  EXPECT_TRUE(Match("dst port le 443", r));
  EXPECT_FALSE(Match("dst port <= 442", r));
  EXPECT_TRUE(Match("dst port>442", r));
  EXPECT_TRUE(Match("dst port 0x1bb", r));
  EXPECT_EQ(Debug("dst port >= 443"), "dst port >= 443");
}

TEST(FlowFilterTest, AddressFamily) {
  EXPECT_TRUE(Match("inet", Tcp()));
  EXPECT_TRUE(Match("ipv4", Tcp()));
  EXPECT_FALSE(Match("inet6", Tcp()));
  EXPECT_TRUE(Match("inet6", Udp6()));
  EXPECT_TRUE(Match("IPV6", Udp6()));
  EXPECT_FALSE(Match("ipv4", Udp6()));
  DecodedRecord none = Tcp();
  none.ip_version = 0;
  EXPECT_FALSE(Match("inet", none));
  EXPECT_FALSE(Match("inet6", none));
  EXPECT_EQ(Debug("inet"), "inet");
  EXPECT_EQ(Debug("ipv6"), "inet6");
}

TEST(FlowFilterTest, Protocol) {
  EXPECT_TRUE(Match("proto tcp", Tcp()));
  EXPECT_TRUE(Match("proto TCP", Tcp()));
  EXPECT_TRUE(Match("proto 6", Tcp()));
  EXPECT_FALSE(Match("proto udp", Tcp()));
  EXPECT_TRUE(Match("proto udp", Udp6()));
  EXPECT_TRUE(Match("proto icmp", Icmp(1, 8, 0)));
  EXPECT_TRUE(Match("proto icmp6", Icmp(58, 1, 4)));
  EXPECT_FALSE(Match("proto icmp", Icmp(58, 1, 4)));
  EXPECT_EQ(Debug("proto esp"), "proto == 50");
  EXPECT_EQ(Debug("proto gre"), "proto == 47");
  EXPECT_EQ(Debug("proto sctp"), "proto == 132");
  EXPECT_EQ(Debug("proto ipv6"), "proto == 41");
  EXPECT_EQ(Debug("proto IDPR"), "proto == 35");  // nfdump's table: the first IDPR wins
  EXPECT_EQ(Debug("proto > 50"), "proto > 50");
  EXPECT_EQ(Error("proto foo"), "at 7: unknown protocol 'foo'");
  EXPECT_EQ(Error("proto 256"), "at 7: protocol 256 is out of range (0..255)");
  EXPECT_EQ(Error("proto x1"), "at 7: unknown protocol 'x1'");
  EXPECT_EQ(Error("proto > tcp"), "at 9: expected a protocol name or number after 'proto >'");
  EXPECT_EQ(Error("proto"), "at 6: expected a protocol name or number after 'proto'");
}

TEST(FlowFilterTest, HostAddresses) {
  const DecodedRecord r = Tcp();
  EXPECT_TRUE(Match("ip 10.0.0.1", r));
  EXPECT_TRUE(Match("host 192.0.2.10", r));  // either side
  EXPECT_TRUE(Match("src ip 10.0.0.1", r));
  EXPECT_FALSE(Match("dst ip 10.0.0.1", r));
  EXPECT_TRUE(Match("dst host 192.0.2.10", r));
  EXPECT_FALSE(Match("src ip 192.0.2.10", r));
  EXPECT_FALSE(Match("ip 10.0.0.2", r));
  EXPECT_TRUE(Match("src or dst ip 192.0.2.10", r));
  EXPECT_TRUE(Match("dst or src ip 10.0.0.1", r));
  EXPECT_FALSE(Match("src and dst ip 10.0.0.1", r));
  DecodedRecord self = r;
  self.dst_addr = self.src_addr;
  EXPECT_TRUE(Match("src and dst ip 10.0.0.1", self));
  EXPECT_TRUE(Match("ip 010.0.0.001", r));  // nfdump reads leading zeros as decimal
  EXPECT_EQ(Debug("ip 10.0.0.1"), "(src ip 10.0.0.1 or dst ip 10.0.0.1)");
  EXPECT_EQ(Debug("src and dst ip 10.0.0.1"), "(src ip 10.0.0.1 and dst ip 10.0.0.1)");

  const DecodedRecord v6 = Udp6();
  EXPECT_TRUE(Match("ip 2001:db8::1", v6));
  EXPECT_TRUE(Match("src ip 2001:DB8:0:0::1", v6));
  EXPECT_TRUE(Match("dst ip 2001:db8:1::53", v6));
  EXPECT_FALSE(Match("dst ip 2001:db8::1", v6));
  EXPECT_FALSE(Match("ip 10.0.0.1", v6));
  EXPECT_FALSE(Match("ip ::ffff:10.0.0.1", r));  // families are compared exactly
  EXPECT_FALSE(Match("ip 2001:db8::1", r));
}

TEST(FlowFilterTest, AddressErrors) {
  EXPECT_EQ(Error("ip example.com"),
            "at 4: 'example.com' is a hostname: DNS lookups are not supported, give an IPv4 or "
            "IPv6 address (see docs/filters.md)");
  EXPECT_EQ(Error("src ip localhost"),
            "at 8: 'localhost' is a hostname: DNS lookups are not supported, give an IPv4 or "
            "IPv6 address (see docs/filters.md)");
  EXPECT_EQ(Error("ip 10.1"), "at 4: '10.1' is an incomplete IPv4 address");
  EXPECT_EQ(Error("ip 10"), "at 4: '10' is an incomplete IPv4 address");
  EXPECT_EQ(Error("ip 1.2.3.4.5"), "at 4: '1.2.3.4.5' is not a valid IPv4 address");
  EXPECT_EQ(Error("ip 1.2.3.256"), "at 4: '1.2.3.256' is not a valid IPv4 address");
  EXPECT_EQ(Error("ip 1.2.3."), "at 4: '1.2.3.' is not a valid IPv4 address");
  EXPECT_EQ(Error("ip 2001:db8:::1"), "at 4: '2001:db8:::1' is not a valid IPv6 address");
  EXPECT_EQ(Error("dst ip"), "at 7: expected an IPv4 or IPv6 address after 'dst ip'");
  EXPECT_EQ(Error("ip port"), "at 4: expected an IPv4 or IPv6 address after 'ip'");
  EXPECT_EQ(Error("ip 10.0.0.0/8"),
            "at 12: a prefix is not an address: for a network write 'net ADDR/LEN' or "
            "'ip in [ADDR/LEN]'");
  EXPECT_EQ(Error("in ip 10.0.0.1"), "at 1: 'in' does not apply to 'ip' (it takes src|dst)");
}

TEST(FlowFilterTest, AddressLists) {
  const DecodedRecord r = Tcp();
  EXPECT_TRUE(Match("ip in [192.0.2.10]", r));
  EXPECT_TRUE(Match("src ip in [10.0.0.0/8]", r));
  EXPECT_FALSE(Match("dst ip in [10.0.0.0/8]", r));
  EXPECT_TRUE(Match("dst ip in [10.0.0.0/8, 192.0.2.0/24 2001:db8::/32]", r));
  EXPECT_TRUE(Match("dst ip in [192.0.2.10,10.9.9.9]", r));
  EXPECT_FALSE(Match("ip in [10.0.0.2 192.0.2.11 192.0.3.0/24 2001:db8::/32]", r));
  EXPECT_TRUE(Match("src ip in [0.0.0.0/0]", r));
  EXPECT_FALSE(Match("src ip in [::/0]", r));
  EXPECT_TRUE(Match("src and dst ip in [10.0.0.0/8 192.0.2.0/25]", r));
  EXPECT_FALSE(Match("src and dst ip in [10.0.0.0/8 192.0.2.128/25]", r));
  // Overlapping prefixes of several lengths each get searched.
  EXPECT_TRUE(Match("src ip in [10.0.0.0/31 10.0.0.0/30 10.1.0.0/16 10.0.0.1 11.0.0.0/8]", r));
  EXPECT_TRUE(Match("src ip in [11.0.0.0/8 10.0.0.0/16 10.0.0.2/32 12.0.0.0/8]", r));

  const DecodedRecord v6 = Udp6();
  EXPECT_TRUE(Match("src ip in [2001:db8::/32]", v6));
  EXPECT_TRUE(Match("dst ip in [2001:db8:1::/48 10.0.0.0/8]", v6));
  EXPECT_FALSE(Match("dst ip in [2001:db8:2::/48 10.0.0.0/8]", v6));
  EXPECT_TRUE(Match("ip in [2001:db8::1]", v6));
  EXPECT_TRUE(Match("ip in [::/0]", v6));
  EXPECT_FALSE(Match("ip in [0.0.0.0/0]", v6));

  // Sorted, masked and unique.
  EXPECT_EQ(Debug("src ip in [192.0.2.77/24 10.0.0.1, 10.0.0.1 2001:db8::1/32 ::1]"),
            "src ip in [192.0.2.0/24 10.0.0.1 2001:db8::/32 ::1]");
  EXPECT_EQ(Error("ip in []"), "at 8: expected an address or network after 'ip in ['");
  EXPECT_EQ(Error("ip in [10.0.0.1"), "at 16: expected ']' to close the '[' at 7");
  EXPECT_EQ(Error("ip in [10.0.0.1,]"), "at 17: expected an address or network after ','");
  EXPECT_EQ(Error("ip in [10.0.0.0/33]"),
            "at 17: prefix length 33 is out of range (0..32)");
  EXPECT_EQ(Error("ip in [host.example]"),
            "at 8: 'host.example' is a hostname: DNS lookups are not supported, give an IPv4 "
            "or IPv6 address (see docs/filters.md)");
  EXPECT_EQ(Error("ip in 10.0.0.1"), "at 7: expected '[' after 'ip in'");
  EXPECT_EQ(Error("src in ip [10.0.0.1]"),
            "at 5: write 'src ip in [...]' for an address list");
}

TEST(FlowFilterTest, Networks) {
  const DecodedRecord r = Tcp();
  EXPECT_TRUE(Match("net 10.0.0.0/8", r));
  EXPECT_TRUE(Match("src net 10.0.0.0/24", r));
  EXPECT_FALSE(Match("dst net 10.0.0.0/8", r));
  EXPECT_TRUE(Match("dst net 192.0.2.0/24", r));
  EXPECT_FALSE(Match("dst net 192.0.2.0/29", r));
  EXPECT_TRUE(Match("net 10.0.0.0 255.0.0.0", r));
  EXPECT_TRUE(Match("src net 10.0.0.0 255.255.255.0", r));
  EXPECT_FALSE(Match("src net 10.0.1.0 255.255.255.0", r));
  // Any netmask, contiguous or not.
  EXPECT_TRUE(Match("dst net 192.99.7.10 255.0.0.255", r));
  EXPECT_FALSE(Match("dst net 193.0.0.10 255.0.0.255", r));
  // nfdump masks the network and accepts a partial address.
  EXPECT_TRUE(Match("src net 10.0.0.77/24", r));
  EXPECT_TRUE(Match("net 10/8", r));  // nfdump reads `10` as a number and refuses this
  EXPECT_TRUE(Match("src net 10.0/16", r));
  EXPECT_TRUE(Match("net 0.0.0.0/0", r));
  EXPECT_FALSE(Match("net 0.0.0.0/0", Udp6()));
  EXPECT_TRUE(Match("src and dst net 0.0.0.0/0", r));
  EXPECT_FALSE(Match("src and dst net 0.0.0.0/1", r));  // 192.0.2.10 is in 128.0.0.0/1

  const DecodedRecord v6 = Udp6();
  EXPECT_TRUE(Match("net 2001:db8::/32", v6));
  EXPECT_TRUE(Match("dst net 2001:db8:1::/48", v6));
  EXPECT_FALSE(Match("src net 2001:db8:1::/48", v6));
  EXPECT_TRUE(Match("src net 2001:db8/32", v6));  // partial, as nfdump
  EXPECT_TRUE(Match("net ::/0", v6));
  EXPECT_FALSE(Match("net 2001:db8::/32", r));

  EXPECT_EQ(Debug("src net 10.0.0.77/24"), "src net 10.0.0.0/24");
  EXPECT_EQ(Debug("dst net 10.0.0.0 255.0.0.0"), "dst net 10.0.0.0/8");
  EXPECT_EQ(Debug("dst net 10.0.0.0 255.0.255.0"), "dst net 10.0.0.0 255.0.255.0");
  EXPECT_EQ(Debug("net 2001:db8::/32"), "(src net 2001:db8::/32 or dst net 2001:db8::/32)");
  EXPECT_EQ(Error("net 10.0.0.0/33"), "at 14: prefix length 33 is out of range (0..32)");
  EXPECT_EQ(Error("net 10.1/24"),
            "at 9: prefix length 24 is longer than the 16 bits written in '10.1'");
  EXPECT_EQ(Error("net 10.0.0.0"), "at 13: expected '/LEN' or a netmask after 'net 10.0.0.0'");
  EXPECT_EQ(Error("net 10.0.0.0 and proto tcp"),
            "at 14: expected '/LEN' or a netmask after 'net 10.0.0.0'");
  EXPECT_EQ(Error("net 2001:db8:: ffff::"),
            "at 16: a netmask is only valid for IPv4: write 'net ADDR/LEN'");
  EXPECT_EQ(Error("net 10.0 255.255.0.0"), "at 5: '10.0' is an incomplete IPv4 address");
  EXPECT_EQ(Error("net 10.0.0.0 255.0.0"), "at 14: '255.0.0' is an incomplete IPv4 address");
  EXPECT_EQ(Error("net 10.0.0.0/"),
            "at 14: expected a prefix length after 'net 10.0.0.0/'");
}

TEST(FlowFilterTest, PortsMatchEitherSideUnlessQualified) {
  const DecodedRecord r = Tcp();  // 40000 -> 443
  EXPECT_TRUE(Match("port 443", r));
  EXPECT_TRUE(Match("port 40000", r));
  EXPECT_FALSE(Match("port 80", r));
  EXPECT_TRUE(Match("src port 40000", r));
  EXPECT_FALSE(Match("src port 443", r));
  EXPECT_TRUE(Match("dst port 443", r));
  // `port > 1024` holds when either side does: here the source.
  EXPECT_TRUE(Match("port > 1024", r));
  EXPECT_FALSE(Match("dst port > 1024", r));
  EXPECT_FALSE(Match("src and dst port > 1024", r));
  EXPECT_TRUE(Match("src or dst port > 1024", r));
  DecodedRecord thousand = r;
  thousand.dst_port = 1000;
  EXPECT_TRUE(Match("port 1k", thousand));  // scale factors apply to every number
  EXPECT_TRUE(Match("port in [80 443]", r));
  EXPECT_TRUE(Match("dst port in [80, 443, 8443]", r));
  EXPECT_FALSE(Match("src port in [80, 443, 8443]", r));
  EXPECT_TRUE(Match("src and dst port in [443 40000]", r));
  EXPECT_FALSE(Match("src and dst port in [443 4000]", r));
  EXPECT_EQ(Debug("port 443"), "(src port == 443 or dst port == 443)");
  EXPECT_EQ(Debug("dst port in [8443 80,443 80]"), "dst port in [80 443 8443]");
  EXPECT_EQ(Error("proto tcp and dst port http"),
            "at 24: expected a port number after 'dst port'");
  EXPECT_EQ(Error("proto tcp and dst port"), "at 23: expected a port number after 'dst port'");
  EXPECT_EQ(Error("dst port > x"), "at 12: expected a port number after 'dst port >'");
  EXPECT_EQ(Error("port 65536"), "at 6: port 65536 is out of range (0..65535)");
  EXPECT_EQ(Error("port 80k"), "at 6: port 80k is out of range (0..65535)");
  EXPECT_EQ(Error("port in [80 70000]"), "at 13: port 70000 is out of range (0..65535)");
  EXPECT_EQ(Error("port in [80,,443]"), "at 13: expected a number (port) after ','");
  EXPECT_EQ(Error("port != 80"), "at 6: '!=' is not a comparator: write 'not port N'");
  EXPECT_EQ(Error("port => 80"), "at 7: expected a port number after 'port ='");
  EXPECT_EQ(Error("port in pblock"),
            "at 6: 'port in pblock' is not supported (see docs/filters.md)");
  EXPECT_EQ(Error("in port 80"), "at 1: 'in' does not apply to 'port' (it takes src|dst)");
}

TEST(FlowFilterTest, IcmpTypeAndCodeImplyIcmp) {
  EXPECT_TRUE(Match("icmp-type 8", Icmp(1, 8, 0)));
  EXPECT_TRUE(Match("icmp-code 0", Icmp(1, 8, 0)));
  EXPECT_FALSE(Match("icmp-type 0", Icmp(1, 8, 0)));
  EXPECT_TRUE(Match("icmp-type 1 and icmp-code 4", Icmp(58, 1, 4)));
  EXPECT_FALSE(Match("icmp-code 3", Icmp(58, 1, 4)));
  // A TCP record whose port happens to look like type 1 / code 187 is not ICMP.
  EXPECT_FALSE(Match("icmp-type 1", Tcp()));
  EXPECT_FALSE(Match("icmp-code 187", Tcp()));
  // The port terms see ICMP as nfdump stores it: type * 256 + code in the destination port.
  EXPECT_TRUE(Match("dst port 2048", Icmp(1, 8, 0)));
  EXPECT_TRUE(Match("icmp-type > 2", Icmp(1, 3, 1)));
  EXPECT_EQ(Error("icmp-type 256"), "at 11: ICMP type 256 is out of range (0..255)");
  EXPECT_EQ(Error("icmp-code"), "at 10: expected an ICMP code after 'icmp-code'");
}

TEST(FlowFilterTest, AutonomousSystems) {
  const DecodedRecord r = Tcp();  // 64500 -> 15169
  EXPECT_TRUE(Match("as 15169", r));
  EXPECT_TRUE(Match("as 64500", r));
  EXPECT_TRUE(Match("src as 64500", r));
  EXPECT_FALSE(Match("dst as 64500", r));
  EXPECT_TRUE(Match("dst as < 20000", r));
  EXPECT_TRUE(Match("src as >= 64500", r));
  EXPECT_TRUE(Match("as in [1 2 15169]", r));
  EXPECT_TRUE(Match("src as in [64500,64501]", r));
  EXPECT_FALSE(Match("dst as in [64500,64501]", r));
  EXPECT_TRUE(Match("as 4294967295", [] {
    DecodedRecord x = Tcp();
    x.dst_as = 4294967295u;
    return x;
  }()));
  EXPECT_EQ(Error("as 4294967296"), "at 4: AS number 4294967296 is out of range (0..4294967295)");
  EXPECT_EQ(Error("next as 3"), "at 1: 'next as' is not supported (see docs/filters.md)");
  EXPECT_EQ(Error("prev as 3"), "at 1: 'prev as' is not supported (see docs/filters.md)");
  EXPECT_EQ(Error("previous as in [3]"), "at 1: 'prev as' is not supported (see docs/filters.md)");
}

TEST(FlowFilterTest, InterfacesByNumber) {
  const DecodedRecord r = Tcp();  // in 3, out 4
  EXPECT_TRUE(Match("if 3", r));
  EXPECT_TRUE(Match("if 4", r));
  EXPECT_FALSE(Match("if 5", r));
  EXPECT_TRUE(Match("in if 3", r));
  EXPECT_FALSE(Match("in if 4", r));
  EXPECT_TRUE(Match("out if 4", r));
  EXPECT_TRUE(Match("out if > 3", r));
  EXPECT_FALSE(Match("in if > 3", r));
  EXPECT_FALSE(Compiled("in if 3").uses_interface_names());
  EXPECT_EQ(Debug("if 3"), "(in if == 3 or out if == 3)");
  EXPECT_EQ(Error("src if 3"), "at 1: 'src' does not apply to 'if' (it takes in|out)");
  EXPECT_EQ(Error("if 4294967296"),
            "at 4: interface number 4294967296 is out of range (0..4294967295)");
}

TEST(FlowFilterTest, InterfacesByName) {
  DecodedRecord r = Tcp();
  r.input_if_name = "ge-0/0/1";
  r.output_if_name = "eth0";
  const FlowFilter f = Compiled("in if ge-0/0/1");
  EXPECT_TRUE(f.uses_interface_names());
  EXPECT_TRUE(f.Matches(r));
  EXPECT_FALSE(Match("out if ge-0/0/1", r));
  EXPECT_TRUE(Match("if eth0", r));
  EXPECT_TRUE(Match("out if \"eth0\"", r));
  EXPECT_TRUE(Match("out if 'eth0' and in if ge-0/0/1", r));
  EXPECT_FALSE(Match("if eth1", r));
  EXPECT_FALSE(Match("if ETH0", r));  // names are compared exactly
  EXPECT_TRUE(Match("(in if ge-0/0/1)", r));
  EXPECT_TRUE(Match("not in if eth0", r));
  // A quoted name may be a number or a keyword, or hold spaces.
  r.output_if_name = "3";
  EXPECT_TRUE(Match("out if \"3\"", r));
  EXPECT_FALSE(Match("out if 3", r));  // the number compares output_if (4)
  r.output_if_name = "and";
  EXPECT_TRUE(Match("out if \"and\"", r));
  r.output_if_name = "Uplink to ISP";
  EXPECT_TRUE(Match("out if \"Uplink to ISP\"", r));
  // A record without names matches no name.
  EXPECT_FALSE(Match("if eth0", Tcp()));
  EXPECT_TRUE(Match("not if eth0", Tcp()));
  EXPECT_EQ(Debug("in if ge-0/0/1"), "in if \"ge-0/0/1\"");
  EXPECT_EQ(Debug("if eth0"), "(in if \"eth0\" or out if \"eth0\")");
  EXPECT_EQ(Error("in if and proto tcp"),
            "at 7: expected an interface number or name (quote a name spelled like a keyword) "
            "after 'in if'");
  EXPECT_EQ(Error("in if"), "at 6: expected an interface number or name after 'in if'");
  EXPECT_EQ(Error("in if \"\""), "at 7: empty interface name");
  EXPECT_EQ(Error("in if \"eth0"), "at 7: unterminated quoted interface name");
}

TEST(FlowFilterTest, CountersAndScaleFactors) {
  const DecodedRecord r = Tcp();  // 10 packets, 15000 bytes, out 8 / 900
  EXPECT_TRUE(Match("packets 10", r));
  EXPECT_TRUE(Match("in packets 10", r));
  EXPECT_FALSE(Match("out packets 10", r));
  EXPECT_TRUE(Match("out packets 8", r));
  EXPECT_TRUE(Match("bytes > 14k", r));
  EXPECT_FALSE(Match("bytes > 15k", r));  // k is 1000, not 1024
  EXPECT_TRUE(Match("bytes 15K", r));
  EXPECT_TRUE(Match("in bytes >= 15000", r));
  EXPECT_TRUE(Match("out bytes < 1k", r));
  EXPECT_TRUE(Match("bytes < 1m", r));
  EXPECT_TRUE(Match("bytes < 1g", r));
  EXPECT_TRUE(Match("bytes < 1t", r));
  DecodedRecord big = r;
  big.bytes = 3000000000;
  EXPECT_TRUE(Match("bytes 3g", big));
  EXPECT_TRUE(Match("bytes > 2G", big));
  big.bytes = 2000000000000;
  EXPECT_TRUE(Match("bytes 2t", big));
  EXPECT_TRUE(Match("flows 1", r));
  EXPECT_TRUE(Match("flows < 2", r));
  EXPECT_EQ(Debug("bytes > 1m"), "bytes > 1000000");
  EXPECT_EQ(Debug("out bytes 1"), "out bytes == 1");
  EXPECT_EQ(Error("bytes > 99999999999999999999"),
            "at 9: number '99999999999999999999' is too large");
  EXPECT_EQ(Error("bytes > 20000000t"), "at 9: number '20000000t' is too large");
  EXPECT_EQ(Error("src packets 1"), "at 1: 'src' does not apply to 'packets' (it takes in|out)");
  EXPECT_EQ(Error("flow > 1"), "at 1: unknown filter term 'flow'");
}

TEST(FlowFilterTest, DurationAndRates) {
  DecodedRecord r = Tcp();  // 2000 ms, 10 packets, 15000 bytes
  EXPECT_TRUE(Match("duration 2000", r));  // milliseconds
  EXPECT_TRUE(Match("duration 2k", r));
  EXPECT_FALSE(Match("duration 2", r));
  EXPECT_TRUE(Match("duration > 1999 and duration < 2001", r));
  EXPECT_TRUE(Match("pps 5", r));                // 1000 * 10 / 2000
  EXPECT_TRUE(Match("bps 60000", r));            // 8000 * 15000 / 2000
  EXPECT_TRUE(Match("bps 60k", r));
  EXPECT_TRUE(Match("bpp 1500", r));             // 15000 / 10
  // Integer arithmetic, truncating.
  r.last_ms = r.first_ms + 3000;
  EXPECT_TRUE(Match("pps 3", r));    // 10 / 3 s = 3.33
  EXPECT_TRUE(Match("bps 40000", r));
  r.bytes = 15009;
  EXPECT_TRUE(Match("bpp 1500", r));  // 1500.9
  // No duration: pps and bps are 0, as are records without times or with last before first.
  r.last_ms = r.first_ms;
  EXPECT_TRUE(Match("duration 0 and pps 0 and bps 0", r));
  r.last_ms = r.first_ms - 5;
  EXPECT_TRUE(Match("duration 0 and pps 0", r));
  r.last_ms = kNoTime;
  EXPECT_TRUE(Match("duration 0", r));
  r = Tcp();
  r.first_ms = kNoTime;
  EXPECT_TRUE(Match("duration 0", r));
  r.packets = 0;
  EXPECT_TRUE(Match("bpp 0", r));
  // Large counters do not wrap.
  r = Tcp();
  r.bytes = 18000000000000000000u;
  r.last_ms = r.first_ms + 1;
  EXPECT_TRUE(Match("bps 18446744073709551615", r));  // saturated
  EXPECT_EQ(Error("duration > x"), "at 12: expected milliseconds after 'duration >'");
  EXPECT_EQ(Error("in pps 1"), "at 1: 'in' does not apply to 'pps'");
}

TEST(FlowFilterTest, FlagsAreAllOfUnlessNegated) {
  DecodedRecord syn_ack = Tcp();  // 0x12
  EXPECT_TRUE(Match("flags S", syn_ack));
  EXPECT_TRUE(Match("flags A", syn_ack));
  EXPECT_TRUE(Match("flags AS", syn_ack));  // nfdump reads AS as the AS keyword; still flags
  EXPECT_TRUE(Match("flags SA", syn_ack));
  EXPECT_TRUE(Match("flags sa", syn_ack));
  EXPECT_FALSE(Match("flags SF", syn_ack));  // all of them, not any
  EXPECT_FALSE(Match("flags X", syn_ack));   // X: all six
  DecodedRecord all = Tcp();
  all.tcp_flags = 0x3f;
  EXPECT_TRUE(Match("flags X", all));
  EXPECT_TRUE(Match("flags XA", all));
  // Under `not`, a flags term means "any of": `not flags SF` = none of S and F.
  EXPECT_FALSE(Match("not flags SF", syn_ack));
  EXPECT_TRUE(Match("not flags FR", syn_ack));
  EXPECT_TRUE(Match("not not flags AS", syn_ack));
  EXPECT_FALSE(Match("not not flags SF", syn_ack));
  EXPECT_FALSE(Match("not (proto tcp and flags SF)", syn_ack));
  // nfdump's recipe for "SYN only".
  DecodedRecord syn = Tcp();
  syn.tcp_flags = 0x02;
  EXPECT_TRUE(Match("flags S and not flags AFRPU", syn));
  EXPECT_FALSE(Match("flags S and not flags AFRPU", syn_ack));
  // Flags imply TCP.
  DecodedRecord udp = Udp6();
  udp.tcp_flags = 0x12;
  EXPECT_FALSE(Match("flags S", udp));
  EXPECT_TRUE(Match("not flags S", udp));
  EXPECT_FALSE(Match("flags 18", udp));
  // ECE and CWR bits are not letters and do not disturb the six.
  syn_ack.tcp_flags = 0xd2;
  EXPECT_TRUE(Match("flags AS", syn_ack));
  // A number (0..63, as nfdump) compares the whole 8-bit field, ECE and CWR included.
  EXPECT_FALSE(Match("flags 18", syn_ack));
  EXPECT_TRUE(Match("flags > 63", syn_ack));
  syn_ack.tcp_flags = 0x12;
  EXPECT_TRUE(Match("flags 18", syn_ack));
  EXPECT_TRUE(Match("flags > 17", syn_ack));
  EXPECT_FALSE(Match("flags 2", syn_ack));
  EXPECT_EQ(Debug("flags SA"), "flags AS");
  EXPECT_EQ(Debug("not flags AFRPU"), "not flags AFRPU");
  EXPECT_EQ(Debug("flags X"), "flags ASFRPU");
  EXPECT_EQ(Debug("flags > 17"), "flags > 17");
  EXPECT_EQ(Error("flags SS"), "at 7: TCP flag 'S' given twice in 'SS'");
  EXPECT_EQ(Error("flags SQ"), "at 7: 'Q' is not a TCP flag in 'SQ' (flags are A S F R P U X)");
  EXPECT_EQ(Error("flags 64"), "at 7: flags 64 is out of range (0..63)");
  EXPECT_EQ(Error("flags"),
            "at 6: expected TCP flags (letters A S F R P U X, or a number) after 'flags'");
}

TEST(FlowFilterTest, SmallFields) {
  const DecodedRecord r = Tcp();
  EXPECT_TRUE(Match("tos 32", r));
  EXPECT_TRUE(Match("src tos 0x20", r));
  EXPECT_TRUE(Match("tos > 31", r));
  EXPECT_FALSE(Match("tos 0", r));
  EXPECT_TRUE(Match("flowdir ingress", r));
  EXPECT_TRUE(Match("flowdir 0", r));
  EXPECT_TRUE(Match("dir ingress", r));
  EXPECT_FALSE(Match("flowdir egress", r));
  DecodedRecord egress = r;
  egress.direction = 1;
  EXPECT_TRUE(Match("flowdir egress", egress));
  EXPECT_TRUE(Match("flowdir 1", egress));
  EXPECT_TRUE(Match("mask 24", r));
  EXPECT_TRUE(Match("mask 16", r));
  EXPECT_TRUE(Match("src mask 24", r));
  EXPECT_FALSE(Match("dst mask 24", r));
  EXPECT_TRUE(Match("dst mask < 24", r));
  EXPECT_TRUE(Match("vlan 100", r));
  EXPECT_TRUE(Match("src vlan 100", r));
  EXPECT_FALSE(Match("vlan 101", r));
  EXPECT_TRUE(Match("engine-type 1 and engine-id 2", r));
  EXPECT_FALSE(Match("engine-type 2", r));
  EXPECT_TRUE(Match("engine-id > 1", r));
  EXPECT_TRUE(Match("observation domain id 7", r));
  EXPECT_TRUE(Match("observation domain id > 6", r));
  EXPECT_FALSE(Match("observation domain id 8", r));
  EXPECT_TRUE(Match("sampler 1000", r));
  EXPECT_TRUE(Match("sampler >= 100", r));
  EXPECT_FALSE(Match("sampler 0", r));
  EXPECT_TRUE(Match("nfversion 10", r));
  EXPECT_FALSE(Match("nfversion 9", r));
  EXPECT_EQ(Error("tos 256"), "at 5: TOS 256 is out of range (0..255)");
  EXPECT_EQ(Error("dst tos 3"), "at 1: 'dst tos' is not supported (see docs/filters.md)");
  EXPECT_EQ(Error("dst vlan 3"), "at 1: 'dst vlan' is not supported (see docs/filters.md)");
  EXPECT_EQ(Error("vlan 65536"), "at 6: VLAN 65536 is out of range (0..65535)");
  EXPECT_EQ(Error("flowdir 3"), "at 9: flow direction 3 is out of range (0..2)");
  EXPECT_EQ(Error("flowdir sideways"), "at 9: expected ingress, egress, 0 or 1 after 'flowdir'");
  EXPECT_EQ(Error("engine-id 256"), "at 11: engine-id 256 is out of range (0..255)");
  EXPECT_EQ(Error("observation domain 7"), "at 20: expected 'id' after 'observation domain'");
  EXPECT_EQ(Error("observation point id 7"),
            "at 1: 'observation point id' is not supported (see docs/filters.md)");
  EXPECT_EQ(Error("nfversion 11"), "at 11: NetFlow version 11 is out of range (0..10)");
}

TEST(FlowFilterTest, NextHopAndExporter) {
  DecodedRecord r = Tcp();
  EXPECT_TRUE(Match("next ip 10.0.0.254", r));
  EXPECT_FALSE(Match("next ip 10.0.0.1", r));
  EXPECT_TRUE(Match("next ip in [10.0.0.0/24]", r));
  EXPECT_TRUE(Match("next ip fe80::1", Udp6()));
  EXPECT_TRUE(Match("router ip 198.51.100.1", r));
  EXPECT_TRUE(Match("exporter 198.51.100.1", r));
  EXPECT_FALSE(Match("exporter 198.51.100.2", r));
  EXPECT_TRUE(Match("exporter in [198.51.100.0/24 2001:db8::/32]", r));
  // An IPv4 exporter seen through a dual-stack socket still matches its IPv4 address.
  r.exporter.address = Ip("::ffff:198.51.100.1");
  EXPECT_TRUE(Match("exporter 198.51.100.1", r));
  EXPECT_TRUE(Match("exporter ::ffff:198.51.100.1", r));
  EXPECT_TRUE(Match("router ip in [::ffff:198.51.100.0/120]", r));
  EXPECT_TRUE(Match("exporter in [198.51.100.1]", r));
  r.exporter.address = Ip("2001:db8::9");
  EXPECT_TRUE(Match("exporter 2001:db8::9", r));
  EXPECT_TRUE(Match("exporter in [198.51.100.0/24 2001:db8::/32]", r));
  EXPECT_EQ(Debug("router ip 198.51.100.1"), "exporter 198.51.100.1");
  EXPECT_EQ(Error("router 1.2.3.4"), "at 8: expected 'ip' after 'router'");
  EXPECT_EQ(Error("next 1.2.3.4"), "at 6: expected 'ip' or 'as' after 'next'");
  EXPECT_EQ(Error("exporter gw.example"),
            "at 10: 'gw.example' is a hostname: DNS lookups are not supported, give an IPv4 or "
            "IPv6 address (see docs/filters.md)");
}

TEST(FlowFilterTest, Countries) {
  DecodedRecord r = Tcp();
  r.src_country = {'D', 'E'};
  r.dst_country = {'I', 'N'};
  const FlowFilter f = Compiled("src geo DE");
  EXPECT_TRUE(f.uses_country());
  EXPECT_TRUE(f.Matches(r));
  EXPECT_TRUE(Match("geo IN", r));  // IN is also a keyword; any two letters are a code here
  EXPECT_TRUE(Match("dst country in", r));
  EXPECT_TRUE(Match("country de", r));
  EXPECT_FALSE(Match("dst geo DE", r));
  EXPECT_FALSE(Match("geo US", r));
  EXPECT_TRUE(Match("src and dst geo DE or src and dst country IN", [] {
    DecodedRecord x = Tcp();
    x.src_country = {'I', 'N'};
    x.dst_country = {'I', 'N'};
    return x;
  }()));
  EXPECT_FALSE(Match("geo DE", Tcp()));  // unknown countries match nothing
  EXPECT_EQ(Debug("geo de"), "(src country DE or dst country DE)");
  EXPECT_TRUE(Compiled("proto tcp or not dst country US").uses_country());
  EXPECT_EQ(Error("geo USA"), "at 5: expected a two-letter country code after 'geo'");
  EXPECT_EQ(Error("src country 12"),
            "at 13: expected a two-letter country code after 'src country'");
}

TEST(FlowFilterTest, FirewallAndNatEvents) {
  DecodedRecord r = Tcp();
  r.fw_event = 3;
  r.fw_ext_event = 1001;
  r.nat_event = 1;
  r.post_nat_src_addr = *ParseIpAddress("198.51.100.7");
  r.post_nat_dst_addr = *ParseIpAddress("2001:db8::9");
  r.post_nat_src_port = 40000;
  r.post_nat_dst_port = 443;
  r.ingress_vrf = 5;
  r.egress_vrf = 6;
  EXPECT_TRUE(Match("asa event deny", r));
  EXPECT_TRUE(Match("asa event 3", r));
  EXPECT_TRUE(Match("asa event > 2", r));
  EXPECT_FALSE(Match("asa event create", r));
  EXPECT_TRUE(Match("asa event denied ingress", r));
  EXPECT_FALSE(Match("asa event denied egress", r));
  EXPECT_TRUE(Match("asa event denied 1001", r));
  EXPECT_TRUE(Match("asa xevent 1001", r));
  EXPECT_TRUE(Match("asa xevent < 1002", r));
  // One event field, as nfdump has it: the firewall event wins.
  EXPECT_TRUE(Match("nat event 3", r));
  EXPECT_FALSE(Match("nat event add", r));
  DecodedRecord nat = Tcp();
  nat.nat_event = 1;
  EXPECT_TRUE(Match("nat event add", nat));
  EXPECT_TRUE(Match("nat event create", nat));
  EXPECT_TRUE(Match("asa event create", nat));
  EXPECT_FALSE(Match("nat event delete", nat));
  EXPECT_TRUE(Match("nat event >= 1", nat));
  EXPECT_TRUE(Match("src xip 198.51.100.7", r));
  EXPECT_FALSE(Match("dst xip 198.51.100.7", r));
  EXPECT_TRUE(Match("xip 2001:db8::9", r));
  EXPECT_TRUE(Match("dst nip 2001:db8::9", r));
  EXPECT_TRUE(Match("src xip in [192.0.2.1 198.51.100.0/24]", r));
  EXPECT_TRUE(Match("src xnet 198.51.100.0/24", r));
  EXPECT_FALSE(Match("dst xnet 198.51.100.0/24", r));
  EXPECT_TRUE(Match("src xport 40000", r));
  EXPECT_TRUE(Match("dst nport 443", r));
  EXPECT_TRUE(Match("xport > 40000 or xport 443", r));
  EXPECT_FALSE(Match("src and dst xport 443", r));
  EXPECT_TRUE(Match("ingress vrf 5 and egress vrf > 5", r));
  EXPECT_FALSE(Match("ingress vrf 6", r));
  // A record without NSEL/NAT fields: events 0, no translated address.
  EXPECT_TRUE(Match("asa event ignore", Tcp()));
  EXPECT_FALSE(Match("xip 0.0.0.0", Tcp()));
  EXPECT_EQ(Debug("src xport 1"), "src xport == 1");
  EXPECT_EQ(Error("asa event alert"),
            "at 11: unknown asa event 'alert' (ignore, create, term, delete, deny or a number)");
  EXPECT_EQ(Error("asa event 256"), "at 11: asa event 256 is out of range (0..255)");
  EXPECT_EQ(Error("asa frob"), "at 5: expected 'event' or 'xevent' after 'asa'");
  EXPECT_EQ(Error("nat event frob"),
            "at 11: unknown nat event 'frob' (invalid, add, create, delete or a number)");
  EXPECT_EQ(Error("src asa event create"), "at 1: 'src' does not apply to 'asa'");
  EXPECT_EQ(Error("event 1"), "at 1: expected a filter term before 'event'");
}

TEST(FlowFilterTest, UnsupportedTermsNameThemselves) {
  const struct {
    const char* expression;
    const char* error;
  } kCases[] = {
      {"mac 00:11:22:33:44:55", "at 1: 'mac' is not supported (see docs/filters.md)"},
      {"in src mac 00:11:22:33:44:55", "at 8: 'mac' is not supported (see docs/filters.md)"},
      {"src mac 00:11:22:33:44:55", "at 5: 'mac' is not supported (see docs/filters.md)"},
      {"proto tcp and count > 5", "at 15: 'count' is not supported (see docs/filters.md)"},
      {"ident router1", "at 1: 'ident' is not supported (see docs/filters.md)"},
      {"tun proto 47", "at 1: 'tun' is not supported (see docs/filters.md)"},
      {"src tunip 1.2.3.4", "at 5: 'tunip' is not supported (see docs/filters.md)"},
      {"mpls label1 100", "at 1: 'mpls' is not supported (see docs/filters.md)"},
      {"payload content 'GET'", "at 1: 'payload' is not supported (see docs/filters.md)"},
      {"pblock start 1", "at 1: 'pblock' is not supported (see docs/filters.md)"},
      {"egress acl 1", "at 1: 'egress' is not supported (see docs/filters.md)"},
      {"ingress ace 1", "at 1: 'ingress' is not supported (see docs/filters.md)"},
      {"client latency > 10", "at 1: 'client latency' is not supported (see docs/filters.md)"},
      {"bgpnext ip 1.2.3.4", "at 1: 'bgpnext' is not supported (see docs/filters.md)"},
      {"sysid 1", "at 1: 'sysid' is not supported (see docs/filters.md)"},
      {"fwdstat 1", "at 1: 'fwdstat' is not supported (see docs/filters.md)"},
      {"flowlabel x", "at 1: 'flowlabel' is not supported (see docs/filters.md)"},
      {"@include /etc/filter", "at 1: '@include' is not supported (see docs/filters.md)"},
      {"(proto tcp) %web", "at 13: expected 'and' or 'or' before '%'"},
      {"%web (proto tcp)",
       "at 1: flow labels ('%NAME') are not supported (see docs/filters.md)"},
      {"MAC 00:11:22:33:44:55", "at 1: 'mac' is not supported (see docs/filters.md)"},
  };
  for (const auto& c : kCases) EXPECT_EQ(Error(c.expression), c.error) << c.expression;
}

TEST(FlowFilterTest, SyntaxErrorsGivePositions) {
  EXPECT_EQ(Error("proto tcp and"), "at 14: expected a filter term after 'and'");
  EXPECT_EQ(Error("proto tcp or"), "at 13: expected a filter term after 'or'");
  EXPECT_EQ(Error("proto tcp &&"), "at 13: expected a filter term after '&&'");
  EXPECT_EQ(Error("not"), "at 4: expected a filter term after 'not'");
  EXPECT_EQ(Error("and proto tcp"), "at 1: expected a filter term before 'and'");
  EXPECT_EQ(Error("proto tcp port 80"), "at 11: expected 'and' or 'or' before 'port'");
  EXPECT_EQ(Error("(proto tcp"), "at 11: expected ')' to close the '(' at 1");
  EXPECT_EQ(Error("(proto tcp port 80)"), "at 12: expected 'and', 'or' or ')' before 'port'");
  EXPECT_EQ(Error("proto tcp)"), "at 10: unmatched ')'");
  EXPECT_EQ(Error("()"), "at 2: expected a filter term after '('");
  EXPECT_EQ(Error("frobnicate 3"), "at 1: unknown filter term 'frobnicate'");
  EXPECT_EQ(Error("proto tcp and $x"), "at 15: unexpected character '$'");
  EXPECT_EQ(Error("proto tcp and 'x'"),
            "at 15: a quoted string is only valid as an interface name ('if \"NAME\"')");
  EXPECT_EQ(Error("src"), "at 4: expected a filter term after 'src'");
  EXPECT_EQ(Error("src proto tcp"), "at 1: 'src' does not apply to 'proto'");
  EXPECT_EQ(Error("= 3"), "at 1: expected a filter term before '='");
  // Positions count characters, not bytes.
  EXPECT_EQ(Error("in if \"été\" and §"), "at 17: unexpected character '§'");
  EXPECT_EQ(Error("# comment\nproto tcp and"), "at 24: expected a filter term after 'and'");
}

TEST(FlowFilterTest, NestingIsBounded) {
  const auto nested = [](int depth) {
    return std::string(depth, '(') + "proto tcp" + std::string(depth, ')');
  };
  EXPECT_TRUE(Match(nested(256), Tcp()));
  EXPECT_EQ(Error(nested(257)),
            "at 257: expression nested deeper than 256 levels of parentheses and 'not'");
  EXPECT_EQ(Error(nested(100000)),
            "at 257: expression nested deeper than 256 levels of parentheses and 'not'");
  std::string nots;
  for (int i = 0; i < 256; ++i) nots += "not ";
  EXPECT_TRUE(Match(nots + "proto tcp", Tcp()));
  EXPECT_EQ(Error("not " + nots + "proto tcp"),
            "at 1025: expression nested deeper than 256 levels of parentheses and 'not'");
  std::string bangs(300000, '!');
  EXPECT_EQ(Error(bangs + "proto tcp"),
            "at 257: expression nested deeper than 256 levels of parentheses and 'not'");
  // Long flat chains are not nesting: one node with many children.
  std::string chain = "port 1";
  for (int i = 2; i <= 20000; ++i) chain += " or port " + std::to_string(i);
  const FlowFilter f = Compiled(chain);
  EXPECT_TRUE(f.Matches(Tcp()));  // src port 40000 is no match but dst port 443 is
  DecodedRecord r = Tcp();
  r.src_port = 30000;
  r.dst_port = 30001;
  EXPECT_FALSE(f.Matches(r));
}

TEST(FlowFilterTest, MatchesDoesNotAllocate) {
  const FlowFilter f = Compiled(
      "(src ip in [10.0.0.0/8 192.0.2.0/24 2001:db8::/32] or dst net 2001:db8::/32) and "
      "port in [53 443 8443] and as in [15169 64500] and not flags R and bps > 1k and "
      "exporter 198.51.100.1 and (if eth0 or src geo DE or in if 3) and pps < 1g and "
      "dst ip 192.0.2.10 and next ip in [10.0.0.0/24]");
  DecodedRecord r = Tcp();
  r.input_if_name = "eth0";
  const size_t before = report::g_allocations;
  bool all = true;
  for (int i = 0; i < 1000; ++i) all = f.Matches(r) && all;
  EXPECT_EQ(report::g_allocations, before);
  EXPECT_TRUE(all);
  EXPECT_TRUE(f.uses_country());
  EXPECT_TRUE(f.uses_interface_names());
}

TEST(FlowFilterTest, DebugStringCompilesBackToItself) {
  for (const char* e : {
           "proto tcp and dst port 443 or not (src net 10.1/16 and dst net 10.0.0.0 255.0.255.0)",
           "flags S and not flags AFRPU or not (proto tcp and flags X) or flags > 17",
           "ip in [10.0.0.0/8, 2001:db8::1] and exporter in [::ffff:198.51.100.0/120] or "
           "next ip fe80::1",
           "in if 'a\"b' or out if \"c'd\" or if ge-0/0/1 or in if > 3",
           "src geo de or dst country us and inet6 and icmp-type 3 and icmp-code < 4",
           "packets > 1k and in bytes 1m and out packets 3 and out bytes 4 and flows 5 and "
           "duration 6 and pps 7 and bps 8 and bpp 9",
           "tos 1 and flowdir egress and src mask 2 and dst mask 3 and vlan 4 and engine-type 5 "
           "and engine-id 6 and observation domain id 7 and sampler 8 and nfversion 9",
           "as in [3 1 2] and src as 4 and dst port in [5] and router ip 1.2.3.4 and any",
       }) {
    const std::string once = Debug(e);
    EXPECT_EQ(Debug(once), once) << e;
  }
}

TEST(FlowFilterTest, CopiesAreIndependent) {
  FlowFilter a = Compiled("src ip in [10.0.0.0/8] and if eth0");
  FlowFilter b = a;
  a = Compiled("proto udp");
  DecodedRecord r = Tcp();
  r.output_if_name = "eth0";
  EXPECT_TRUE(b.Matches(r));
  EXPECT_FALSE(a.Matches(r));
  FlowFilter c = std::move(b);
  EXPECT_TRUE(c.Matches(r));
}

}  // namespace
}  // namespace nf
