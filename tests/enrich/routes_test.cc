// RoutesBuilder: every corpus MRT file against bgpdump's reading of it (the best path per prefix
// recomputed here from `bgpdump -m` text by a separate, simple implementation of the rules),
// the corpus examples, PrefixTable lookups over the loaded tables, and synthetic MRT records and
// networks files for each selection rule, each syntax and each kind of bad input.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/ip_address.h"
#include "enrich/prefix_table.h"
#include "enrich/route.h"
#include "enrich/routes_file.h"
#include "tests/support/test_support.h"

namespace nf {
namespace {

// ---------------------------------------------------------------------------------------------
// Building MRT bytes.

void Put8(std::string& s, uint32_t v) { s.push_back(static_cast<char>(v & 0xff)); }
void Put16(std::string& s, uint32_t v) {
  Put8(s, v >> 8);
  Put8(s, v);
}
void Put32(std::string& s, uint32_t v) {
  Put16(s, v >> 16);
  Put16(s, v);
}
void PutAddress(std::string& s, const char* text) {
  const IpAddress a = *ParseIpAddress(text);
  s.append(reinterpret_cast<const char*>(a.bytes.data()), a.is_v4() ? 4 : 16);
}

std::string Mrt(uint16_t type, uint16_t subtype, const std::string& body) {
  std::string s;
  Put32(s, 1027381055);
  Put16(s, type);
  Put16(s, subtype);
  Put32(s, static_cast<uint32_t>(body.size()));
  return s + body;
}

std::string Attr(uint8_t type, const std::string& value, uint8_t flags = 0x40) {
  std::string s;
  if (value.size() > 255) flags |= 0x10;
  Put8(s, flags);
  Put8(s, type);
  if (flags & 0x10) {
    Put16(s, static_cast<uint32_t>(value.size()));
  } else {
    Put8(s, static_cast<uint32_t>(value.size()));
  }
  return s + value;
}

constexpr uint8_t kSet = 1;
constexpr uint8_t kSeq = 2;
constexpr uint8_t kConfedSeq = 3;

struct Segment {
  uint8_t type;
  std::vector<uint32_t> ases;
};
std::string PathValue(const std::vector<Segment>& segments, int asn_size = 4) {
  std::string s;
  for (const Segment& seg : segments) {
    Put8(s, seg.type);
    Put8(s, static_cast<uint32_t>(seg.ases.size()));
    for (uint32_t as : seg.ases) asn_size == 4 ? Put32(s, as) : Put16(s, as);
  }
  return s;
}

struct PathAttrs {
  std::vector<Segment> path;
  std::optional<uint8_t> origin = 0;  // IGP
  std::optional<uint32_t> local_pref;
  std::optional<uint32_t> med;
  std::optional<std::vector<Segment>> as4_path;  // TABLE_DUMP only
  std::string extra;                             // more raw attributes
};
std::string Attrs(const PathAttrs& p, int asn_size = 4) {
  std::string s;
  if (p.origin) s += Attr(1, std::string(1, static_cast<char>(*p.origin)));
  s += Attr(2, PathValue(p.path, asn_size));
  if (p.med) {
    std::string v;
    Put32(v, *p.med);
    s += Attr(4, v, 0x80);
  }
  if (p.local_pref) {
    std::string v;
    Put32(v, *p.local_pref);
    s += Attr(5, v);
  }
  if (p.as4_path) s += Attr(17, PathValue(*p.as4_path, 4), 0xc0);
  return s + p.extra;
}

// TABLE_DUMP_V2 PEER_INDEX_TABLE with 4-byte-AS IPv4 peers.
std::string PeerTable(const std::vector<uint32_t>& peer_as) {
  std::string b;
  Put32(b, 0xc0000201);
  Put16(b, 4);
  b += "test";
  Put16(b, static_cast<uint32_t>(peer_as.size()));
  for (size_t i = 0; i < peer_as.size(); ++i) {
    Put8(b, 2);  // IPv4 address, 4-byte AS
    Put32(b, 0x0a000001 + static_cast<uint32_t>(i));
    Put32(b, 0x0a000001 + static_cast<uint32_t>(i));
    Put32(b, peer_as[i]);
  }
  return Mrt(13, 1, b);
}

struct Entry {
  uint16_t peer;
  std::string attrs;
  uint32_t path_id = 0;
};
// RIB_IPV4_UNICAST (2) / RIB_IPV6_UNICAST (4), or their ADD-PATH forms (8 / 10).
std::string Rib(const char* prefix, int length, const std::vector<Entry>& entries,
                uint16_t subtype = 0) {
  const IpAddress a = *ParseIpAddress(prefix);
  if (subtype == 0) subtype = a.is_v4() ? 2 : 4;
  const bool add_path = subtype == 8 || subtype == 10;
  std::string b;
  Put32(b, 7);
  Put8(b, length);
  b.append(reinterpret_cast<const char*>(a.bytes.data()), (length + 7) / 8);
  Put16(b, static_cast<uint32_t>(entries.size()));
  for (const Entry& e : entries) {
    Put16(b, e.peer);
    Put32(b, 1027380000);
    if (add_path) Put32(b, e.path_id);
    Put16(b, static_cast<uint32_t>(e.attrs.size()));
    b += e.attrs;
  }
  return Mrt(13, subtype, b);
}

// TABLE_DUMP (type 12) record: 2-byte ASNs.
std::string TableDump(const char* prefix, int length, const char* peer_ip, uint16_t peer_as,
                      const std::string& attrs) {
  const IpAddress a = *ParseIpAddress(prefix);
  std::string b;
  Put16(b, 0);
  Put16(b, 1);
  PutAddress(b, prefix);
  Put8(b, length);
  Put8(b, 1);
  Put32(b, 1027380000);
  PutAddress(b, peer_ip);
  Put16(b, peer_as);
  Put16(b, static_cast<uint32_t>(attrs.size()));
  return Mrt(12, a.is_v4() ? 1 : 2, b + attrs);
}

// ---------------------------------------------------------------------------------------------
// Reading results.

absl::StatusOr<std::vector<Route>> Load(const std::string& bytes, const std::string& name = "t") {
  RoutesBuilder builder;
  absl::Status s = builder.AddBytes(name, bytes);
  if (!s.ok()) return s;
  return builder.Finish();
}

std::string RouteText(const Route& r) {
  return absl::StrCat(r.prefix.ToString(), "/", r.length, "=", r.origin_as);
}

// Origin AS of `prefix` ("192.0.2.0/24"), or -1 when absent.
int64_t OriginOf(const std::vector<Route>& routes, absl::string_view prefix) {
  const std::vector<std::string> parts = absl::StrSplit(prefix, '/');
  const IpAddress a = *ParseIpAddress(parts[0]);
  int length = 0;
  EXPECT_TRUE(absl::SimpleAtoi(parts[1], &length));
  for (const Route& r : routes) {
    if (r.prefix == a && r.length == length) return r.origin_as;
  }
  return -1;
}

std::string Gzip(const std::string& data) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, data.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool WriteWholeFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  return static_cast<bool>(out);
}

// Three peers and one prefix with a path from each: the winner's origin AS.
int64_t Winner(const std::vector<PathAttrs>& paths) {
  std::string bytes = PeerTable({65001, 65002, 65003, 65004});
  std::vector<Entry> entries;
  for (size_t i = 0; i < paths.size(); ++i) {
    entries.push_back({static_cast<uint16_t>(i), Attrs(paths[i])});
  }
  bytes += Rib("198.51.100.0", 24, entries);
  absl::StatusOr<std::vector<Route>> routes = Load(bytes);
  EXPECT_TRUE(routes.ok()) << routes.status();
  if (!routes.ok()) return -2;
  EXPECT_EQ(routes->size(), 1u);
  return OriginOf(*routes, "198.51.100.0/24");
}

// ---------------------------------------------------------------------------------------------
// Selection rules, one at a time.

TEST(RoutesSelectionTest, HighestLocalPrefWinsAndAbsentIs100) {
  // The long path wins on LOCAL_PREF alone.
  EXPECT_EQ(Winner({{.path = {{kSeq, {1, 11}}}, .local_pref = 50},
                    {.path = {{kSeq, {2, 3, 4, 22}}}, .local_pref = 200}}),
            22);
  // Absent LOCAL_PREF (100) beats 90 and loses to 110.
  EXPECT_EQ(Winner({{.path = {{kSeq, {1, 2, 3, 11}}}}, {.path = {{kSeq, {22}}}, .local_pref = 90}}),
            11);
  EXPECT_EQ(
      Winner({{.path = {{kSeq, {11}}}}, {.path = {{kSeq, {1, 2, 3, 22}}}, .local_pref = 110}}), 22);
}

TEST(RoutesSelectionTest, ShortestPathWithAsSetCountingOne) {
  // Sequence of 2 + a set of 3 is length 3, shorter than a sequence of 4. Its origin is the
  // last AS of the sequence before the set.
  EXPECT_EQ(
      Winner({{.path = {{kSeq, {7, 8, 9, 10}}}}, {.path = {{kSeq, {1, 2}}, {kSet, {3, 4, 5}}}}}),
      2);
  // Counting the set's members (5) would lose to the sequence of 4: it must not.
  EXPECT_EQ(
      Winner({{.path = {{kSeq, {1, 2}}, {kSet, {3, 4, 5}}}}, {.path = {{kSeq, {7, 8, 9, 10}}}}}),
      2);
  // A sequence of 3 beats a sequence of 4, whichever comes first.
  EXPECT_EQ(Winner({{.path = {{kSeq, {7, 8, 9, 10}}}}, {.path = {{kSeq, {1, 2, 3}}}}}), 3);
  // Confederation segments count zero (RFC 5065): 3 confed + 3 = 3 beats 4.
  EXPECT_EQ(Winner({{.path = {{kSeq, {7, 8, 9, 10}}}},
                    {.path = {{kConfedSeq, {64512, 64513, 64514}}, {kSeq, {1, 2, 3}}}}}),
            3);
}

TEST(RoutesSelectionTest, OriginIgpBeforeEgpBeforeIncomplete) {
  EXPECT_EQ(Winner({{.path = {{kSeq, {1, 11}}}, .origin = 2},
                    {.path = {{kSeq, {2, 22}}}, .origin = 1},
                    {.path = {{kSeq, {3, 33}}}, .origin = 0}}),
            33);
  EXPECT_EQ(
      Winner({{.path = {{kSeq, {1, 11}}}, .origin = 2}, {.path = {{kSeq, {2, 22}}}, .origin = 1}}),
      22);
  // An absent ORIGIN ranks as INCOMPLETE: EGP beats it, and a later INCOMPLETE does not.
  EXPECT_EQ(Winner({{.path = {{kSeq, {1, 11}}}, .origin = std::nullopt},
                    {.path = {{kSeq, {2, 22}}}, .origin = 1}}),
            22);
  EXPECT_EQ(Winner({{.path = {{kSeq, {1, 11}}}, .origin = std::nullopt},
                    {.path = {{kSeq, {2, 22}}}, .origin = 2}}),
            11);
}

TEST(RoutesSelectionTest, LowestMedAndAbsentIsZero) {
  EXPECT_EQ(Winner({{.path = {{kSeq, {1, 11}}}, .med = 20},
                    {.path = {{kSeq, {2, 22}}}, .med = 10},
                    {.path = {{kSeq, {3, 33}}}, .med = 30}}),
            22);
  EXPECT_EQ(Winner({{.path = {{kSeq, {1, 11}}}, .med = 5}, {.path = {{kSeq, {2, 22}}}}}), 22);
  EXPECT_EQ(Winner({{.path = {{kSeq, {1, 11}}}}, {.path = {{kSeq, {2, 22}}}, .med = 1}}), 11);
}

TEST(RoutesSelectionTest, FirstSeenWinsTiesInFileAndAcrossFiles) {
  EXPECT_EQ(Winner({{.path = {{kSeq, {1, 11}}}}, {.path = {{kSeq, {2, 22}}}}}), 11);
  EXPECT_EQ(Winner({{.path = {{kSeq, {2, 22}}}}, {.path = {{kSeq, {1, 11}}}}}), 22);
  RoutesBuilder builder;
  ASSERT_TRUE(builder
                  .AddBytes("a", PeerTable({1}) + Rib("198.51.100.0", 24,
                                                      {{0, Attrs({.path = {{kSeq, {1, 11}}}})}}))
                  .ok());
  ASSERT_TRUE(builder
                  .AddBytes("b", PeerTable({2}) + Rib("198.51.100.0", 24,
                                                      {{0, Attrs({.path = {{kSeq, {2, 22}}}})}}))
                  .ok());
  const std::vector<Route> routes = builder.Finish();
  EXPECT_EQ(OriginOf(routes, "198.51.100.0/24"), 11);
  EXPECT_EQ(builder.stats().files, 2u);
}

TEST(RoutesSelectionTest, EmptyPathOrNoSequenceMeansPeerAs) {
  // Peer 2 is AS 65003; an empty AS_PATH wins on length and takes the peer AS.
  EXPECT_EQ(Winner({{.path = {{kSeq, {1, 11}}}}, {.path = {{kSeq, {2, 22}}}}, {.path = {}}}),
            65003);
  // A path that is only an AS_SET has no AS_SEQUENCE: peer AS as well.
  EXPECT_EQ(Winner({{.path = {{kSet, {5, 6}}}}}), 65001);
  // No attributes at all (an ADD-PATH local entry): LOCAL_PREF 100, empty path; a peer of AS 0
  // gives origin 0.
  std::string bytes =
      PeerTable({0, 65015}) +
      Rib("10.0.15.0", 24, {{0, "", 0}, {1, Attrs({.path = {{kSeq, {65015}}}}), 5}}, 8);
  absl::StatusOr<std::vector<Route>> routes = Load(bytes);
  ASSERT_TRUE(routes.ok()) << routes.status();
  EXPECT_EQ(OriginOf(*routes, "10.0.15.0/24"), 0);
}

TEST(RoutesSelectionTest, AddPathAndIpv6Subtypes) {
  std::string bytes = PeerTable({65001, 65002});
  bytes += Rib("2001:db8::", 32,
               {{0, Attrs({.path = {{kSeq, {65001, 4200000001u}}}}), 1},
                {1, Attrs({.path = {{kSeq, {65002}}}}), 2}},
               10);
  bytes += Rib("2001:db8:1::", 48, {{0, Attrs({.path = {{kSeq, {65001, 4200000002u}}}})}});
  bytes += Rib("192.0.2.0", 24, {{1, Attrs({.path = {{kSeq, {65002, 4200000003u}}}}), 9}}, 8);
  // Multicast (3) and RIB_GENERIC (6) records are skipped, not parsed.
  bytes += Mrt(13, 3, "whatever");
  bytes += Mrt(13, 6, "x");
  RoutesBuilder builder;
  ASSERT_TRUE(builder.AddBytes("t", bytes).ok());
  const std::vector<Route> routes = builder.Finish();
  EXPECT_EQ(OriginOf(routes, "2001:db8::/32"), 65002);
  EXPECT_EQ(OriginOf(routes, "2001:db8:1::/48"), 4200000002u);
  EXPECT_EQ(OriginOf(routes, "192.0.2.0/24"), 4200000003u);
  EXPECT_EQ(builder.stats().mrt_records, 6u);
  EXPECT_EQ(builder.stats().rib_entries, 4u);
  EXPECT_EQ(builder.stats().skipped, 2u);
  // Sorted by version, then address, then length.
  ASSERT_EQ(routes.size(), 3u);
  EXPECT_TRUE(routes[0].prefix.is_v4());
  EXPECT_EQ(routes[1].length, 32);
  EXPECT_EQ(routes[2].length, 48);
}

TEST(RoutesSelectionTest, TableDumpTwoByteAsWithAs4Path) {
  // RFC 6793: 1853 23456 23456 + AS4_PATH 4200000000 4200000001 is 1853 4200000000 4200000001.
  std::string bytes =
      TableDump("192.0.2.0", 24, "193.203.0.1", 1853,
                Attrs({.path = {{kSeq, {1853, 23456, 23456}}},
                       .as4_path = std::vector<Segment>{{kSeq, {4200000000u, 4200000001u}}}},
                      2));
  // An AS4_PATH longer than the AS_PATH is ignored.
  bytes += TableDump("192.0.3.0", 24, "193.203.0.1", 1853,
                     Attrs({.path = {{kSeq, {1853, 23456}}},
                            .as4_path = std::vector<Segment>{{kSeq, {1, 2, 4200000001u}}}},
                           2));
  // AGGREGATOR not AS_TRANS together with AS4_AGGREGATOR: AS4_PATH is ignored.
  std::string aggregator;
  Put16(aggregator, 1853);
  Put32(aggregator, 0xc0000201);
  std::string as4_aggregator;
  Put32(as4_aggregator, 4200000009u);
  Put32(as4_aggregator, 0xc0000201);
  bytes += TableDump("192.0.4.0", 24, "193.203.0.1", 1853,
                     Attrs({.path = {{kSeq, {1853, 23456}}},
                            .as4_path = std::vector<Segment>{{kSeq, {4200000001u}}},
                            .extra = Attr(7, aggregator, 0xc0) + Attr(18, as4_aggregator, 0xc0)},
                           2));
  // Plain 2-byte path, an IPv6 TABLE_DUMP record, and an empty path (peer AS).
  bytes +=
      TableDump("2001:db8::", 32, "2001:db8::1", 3333, Attrs({.path = {{kSeq, {3333, 1103}}}}, 2));
  bytes += TableDump("192.0.5.0", 24, "193.203.0.1", 1853, Attrs({.path = {}}, 2));
  absl::StatusOr<std::vector<Route>> routes = Load(bytes);
  ASSERT_TRUE(routes.ok()) << routes.status();
  EXPECT_EQ(OriginOf(*routes, "192.0.2.0/24"), 4200000001u);
  EXPECT_EQ(OriginOf(*routes, "192.0.3.0/24"), 23456);
  EXPECT_EQ(OriginOf(*routes, "192.0.4.0/24"), 23456);
  EXPECT_EQ(OriginOf(*routes, "2001:db8::/32"), 1103);
  EXPECT_EQ(OriginOf(*routes, "192.0.5.0/24"), 1853);
}

TEST(RoutesSelectionTest, ExtendedLengthAttributeAndUnknownTypesSkipped) {
  // A 300-AS path (two segments: a segment holds at most 255) needs the extended-length flag;
  // it loses to a short one.
  std::vector<uint32_t> long_half(150, 64500);
  std::string bytes = PeerTable({1, 2});
  bytes += Mrt(16, 4, std::string(40, 'x'));  // a BGP4MP message: skipped by its length
  bytes += Rib("203.0.113.0", 24,
               {{0, Attrs({.path = {{kSeq, long_half}, {kSeq, long_half}}})},
                {1, Attrs({.path = {{kSeq, {2, 7}}}})}});
  bytes += Rib("203.0.114.0", 24,
               {{0, Attrs({.path = {{kSeq, long_half}, {kSeq, long_half}, {kSeq, {9}}}})}});
  RoutesBuilder builder;
  absl::Status s = builder.AddBytes("t", bytes);
  ASSERT_TRUE(s.ok()) << s;
  const std::vector<Route> routes = builder.Finish();
  EXPECT_EQ(OriginOf(routes, "203.0.113.0/24"), 7);
  EXPECT_EQ(OriginOf(routes, "203.0.114.0/24"), 9);
  EXPECT_EQ(builder.stats().skipped, 1u);
}

// ---------------------------------------------------------------------------------------------
// Networks files.

TEST(RoutesTextTest, BothSyntaxesCommentsAndIpv6) {
  const std::string text =
      "# networks\n"
      "\n"
      "65001,192.0.2.0/24\n"
      "65000,65002,198.51.100.0/24   # pmacct with a peer AS\n"
      "  203.0.113.0/24\t65003\r\n"
      "203.0.114.0/24 AS65004\n"
      "! pmacct-style comment\n"
      "2001:db8::/32 4200000000\n"
      "65005,2001:db8:1::/48\n"
      "10.0.0.0/8\n"
      "172.16.1.1/12 as65006\n"
      "192.0.2.0/24 65099\n"
      "100.64.0.0/10 1.10";  // asdot, no final newline
  RoutesBuilder builder;
  ASSERT_TRUE(builder.AddBytes("nets", text).ok());
  const std::vector<Route> routes = builder.Finish();
  EXPECT_EQ(OriginOf(routes, "192.0.2.0/24"), 65001);  // the first line for a prefix wins
  EXPECT_EQ(OriginOf(routes, "198.51.100.0/24"), 65002);
  EXPECT_EQ(OriginOf(routes, "203.0.113.0/24"), 65003);
  EXPECT_EQ(OriginOf(routes, "203.0.114.0/24"), 65004);
  EXPECT_EQ(OriginOf(routes, "2001:db8::/32"), 4200000000u);
  EXPECT_EQ(OriginOf(routes, "2001:db8:1::/48"), 65005);
  EXPECT_EQ(OriginOf(routes, "10.0.0.0/8"), 0);         // a bare prefix: a route without an AS
  EXPECT_EQ(OriginOf(routes, "172.16.0.0/12"), 65006);  // host bits masked off
  EXPECT_EQ(OriginOf(routes, "100.64.0.0/10"), 65546);
  EXPECT_EQ(routes.size(), 9u);
  EXPECT_EQ(builder.stats().text_lines, 10u);
}

// An IPv4 network written IPv4-mapped is an IPv4 route (mapped addresses are looked up in the
// IPv4 table, so an IPv6 route there could never match); a short or non-mapped one stays IPv6.
TEST(RoutesTextTest, Ipv4MappedPrefixesBecomeIpv4Routes) {
  RoutesBuilder builder;
  ASSERT_TRUE(builder
                  .AddBytes("nets", "::ffff:192.0.2.0/120 64500\n"
                                    "::ffff:198.51.100.7/128 64501\n"
                                    "::ffff:0:0/96 64502\n"
                                    "::ffff:0:0/95 64503\n"
                                    "::fffe:c000:200/120 64504\n")
                  .ok());
  const std::vector<Route> routes = builder.Finish();
  EXPECT_EQ(OriginOf(routes, "192.0.2.0/24"), 64500);
  EXPECT_EQ(OriginOf(routes, "198.51.100.7/32"), 64501);
  EXPECT_EQ(OriginOf(routes, "0.0.0.0/0"), 64502);
  EXPECT_EQ(OriginOf(routes, "::fffe:0:0/95"), 64503);
  EXPECT_EQ(OriginOf(routes, "::fffe:c000:200/120"), 64504);
  absl::StatusOr<PrefixTable> table = PrefixTable::Build(routes);
  ASSERT_TRUE(table.ok()) << table.status();
  const PrefixMatch m = table->Lookup(*ParseIpAddress("::ffff:192.0.2.9"));
  EXPECT_TRUE(m.found);
  EXPECT_EQ(m.origin_as, 64500u);
  EXPECT_EQ(m.length, 24);
}

TEST(RoutesTextTest, NetworksFileBeatsMrtInEitherOrder) {
  const std::string mrt =
      PeerTable({1}) +
      Rib("192.0.2.0", 24, {{0, Attrs({.path = {{kSeq, {1, 11}}}, .local_pref = 500})}}) +
      Rib("192.0.3.0", 24, {{0, Attrs({.path = {{kSeq, {1, 12}}}})}});
  const std::string text = "192.0.2.0/24 65001\n";
  for (bool text_first : {true, false}) {
    RoutesBuilder builder;
    ASSERT_TRUE(builder.AddBytes(text_first ? "nets" : "mrt", text_first ? text : mrt).ok());
    ASSERT_TRUE(builder.AddBytes(text_first ? "mrt" : "nets", text_first ? mrt : text).ok());
    const std::vector<Route> routes = builder.Finish();
    EXPECT_EQ(OriginOf(routes, "192.0.2.0/24"), 65001) << text_first;
    EXPECT_EQ(OriginOf(routes, "192.0.3.0/24"), 12) << text_first;
  }
}

TEST(RoutesTextTest, BadLinesNameFileAndLine) {
  struct Case {
    std::string text;
    std::string expect;  // in the message
  };
  const std::vector<Case> cases = {
      {"192.0.2.0/24 65001\n192.0.2.0/33 65001\n", "nets:2: "},
      {"# c\n\n192.0.2.0 65001\n", "nets:3: "},  // no length
      {"192.0.2.0/24 65001 7\n", "nets:1: "},    // too many fields
      {"192.0.2.0/24 AS\n", "nets:1: bad AS number"},
      {"192.0.2.0/24 4294967296\n", "nets:1: bad AS number"},
      {"192.0.2.0/24 -1\n", "nets:1: bad AS number"},
      {"65001,\n", "nets:1: "},
      {"1,2,3,192.0.2.0/24\n", "nets:1: "},
      {"x65001,192.0.2.0/24\n", "nets:1: bad AS number"},
      {"65001,192.0.2.0/24x\n", "nets:1: "},
      {"2001:db8::/129 1\n", "nets:1: bad prefix length"},
      {"300.0.0.0/8 1\n", "nets:1: bad prefix"},
      {"192.0.2.0/24 65001\n192.0.2.0/24\x01 65001\n", "nets:2: control character"},
      {"192.0.2.0/24 " + std::string(5000, '1') + "\n", "nets:1: line longer"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::vector<Route>> routes = Load(c.text, "nets");
    ASSERT_FALSE(routes.ok()) << c.text;
    EXPECT_NE(routes.status().message().find(c.expect), absl::string_view::npos)
        << routes.status() << " for " << c.text;
  }
}

// ---------------------------------------------------------------------------------------------
// Bad input.

TEST(RoutesErrorTest, TruncatedRecordNamesTheOffset) {
  const std::string good =
      PeerTable({1}) + Rib("192.0.2.0", 24, {{0, Attrs({.path = {{kSeq, {1}}}})}});
  const std::string third = Rib("192.0.3.0", 24, {{0, Attrs({.path = {{kSeq, {1}}}})}});
  // The last record's body is cut short.
  absl::StatusOr<std::vector<Route>> r = Load(good + third.substr(0, third.size() - 3), "rib");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(absl::StrCat("rib: offset ", good.size(), ": ")),
            absl::string_view::npos)
      << r.status();
  EXPECT_NE(r.status().message().find("truncated"), absl::string_view::npos) << r.status();
  // A header cut short.
  r = Load(good + third.substr(0, 7), "rib");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(absl::StrCat("rib: offset ", good.size(), ": ")),
            absl::string_view::npos)
      << r.status();
}

TEST(RoutesErrorTest, InconsistentRecordsAreErrors) {
  const std::string peers = PeerTable({1, 2});
  const std::string ok_attrs = Attrs({.path = {{kSeq, {1}}}});
  struct Case {
    std::string bytes;
    std::string expect;
  };
  std::string bad_segment;
  Put8(bad_segment, 2);
  Put8(bad_segment, 5);  // 5 ASes, 1 present
  Put32(bad_segment, 1);
  std::string bad_type;
  Put8(bad_type, 9);
  Put8(bad_type, 1);
  Put32(bad_type, 1);
  std::string short_attr = ok_attrs;
  short_attr.pop_back();
  const std::vector<Case> cases = {
      {peers + Rib("192.0.2.0", 24, {{2, ok_attrs}}), "peer index 2"},
      {Rib("192.0.2.0", 24, {{0, ok_attrs}}), "before any PEER_INDEX_TABLE"},
      {peers + Rib("192.0.2.0", 24, {{0, Attr(2, bad_segment)}}), "AS_PATH"},
      {peers + Rib("192.0.2.0", 24, {{0, Attr(2, bad_type)}}), "segment type 9"},
      {peers + Rib("192.0.2.0", 24, {{0, short_attr}}), "overruns"},
      {peers + Rib("192.0.2.0", 24, {{0, Attr(1, std::string(1, '\x07')) + ok_attrs}}), "ORIGIN"},
      {peers + Mrt(13, 2, std::string("\0\0\0\1\x21", 5)), "prefix length 33"},
      {peers + Mrt(13, 2, peers.substr(12) + "zz"), "entry"},
      {Mrt(13, 1, std::string("\xc0\0\2\1\0\0\0\5", 8) + std::string(4, 'x')), "peer entry 0 of 5"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::vector<Route>> r = Load(c.bytes, "rib");
    ASSERT_FALSE(r.ok()) << c.expect;
    EXPECT_NE(r.status().message().find("rib: offset "), absl::string_view::npos) << r.status();
    EXPECT_NE(r.status().message().find(c.expect), absl::string_view::npos) << r.status();
  }
}

TEST(RoutesErrorTest, EmptyGarbageAndNoRouteFiles) {
  absl::StatusOr<std::vector<Route>> r = Load("", "empty");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("empty: no routes"), absl::string_view::npos) << r.status();
  r = Load("# only a comment\n\n", "comments");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("comments: no routes"), absl::string_view::npos);
  r = Load(PeerTable({1}), "peers-only");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("peers-only: no routes"), absl::string_view::npos);
  r = Load(std::string("\x7f"
                       "ELF\x02\x01\x01\0\0\0\0\0\0\0\0\0",
                       16),
           "garbage");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("garbage: neither an MRT RIB dump nor a networks file"),
            absl::string_view::npos)
      << r.status();
  r = Load(Gzip(""), "empty.gz");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("empty.gz: no routes"), absl::string_view::npos);
  RoutesBuilder builder;
  absl::Status s = builder.AddFile("/nonexistent/routes.mrt");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/nonexistent/routes.mrt"), absl::string_view::npos) << s;
}

// ---------------------------------------------------------------------------------------------
// Compression.

std::string SampleMrt() {
  std::string bytes = PeerTable({65001, 65002});
  for (int i = 0; i < 2000; ++i) {
    const std::string prefix = absl::StrCat("10.", i / 256, ".", i % 256, ".0");
    bytes += Rib(prefix.c_str(), 24,
                 {{0, Attrs({.path = {{kSeq, {65001, 64000u + i % 7, 100000u + i}}}})},
                  {1, Attrs({.path = {{kSeq, {65002, 200000u + i}}}})}});
  }
  return bytes;
}

TEST(RoutesCompressionTest, GzipBzip2AndPlainGiveTheSameRoutes) {
  const std::string plain = SampleMrt();
  absl::StatusOr<std::vector<Route>> expected = Load(plain);
  ASSERT_TRUE(expected.ok()) << expected.status();
  ASSERT_EQ(expected->size(), 2000u);
  EXPECT_EQ(OriginOf(*expected, "10.0.5.0/24"), 200005);

  absl::StatusOr<std::vector<Route>> gz = Load(Gzip(plain), "x.gz");
  ASSERT_TRUE(gz.ok()) << gz.status();
  EXPECT_EQ(*gz, *expected);
  // Concatenated gzip members read as one stream.
  const size_t cut = plain.size() / 2 + 5;  // not on a record boundary
  absl::StatusOr<std::vector<Route>> gz2 =
      Load(Gzip(plain.substr(0, cut)) + Gzip(plain.substr(cut)), "x2.gz");
  ASSERT_TRUE(gz2.ok()) << gz2.status();
  EXPECT_EQ(*gz2, *expected);
  // A networks file works compressed too.
  absl::StatusOr<std::vector<Route>> text = Load(Gzip("192.0.2.0/24 65001\n"), "n.gz");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(OriginOf(*text, "192.0.2.0/24"), 65001);

  if (!testing::HaveTool("bzip2")) GTEST_SKIP() << "bzip2 is not installed: bzip2 half skipped";
  testing::TempDir dir;
  ASSERT_TRUE(WriteWholeFile(dir.File("a"), plain.substr(0, cut)));
  ASSERT_TRUE(WriteWholeFile(dir.File("b"), plain.substr(cut)));
  ASSERT_EQ(testing::RunCommand("bzip2 -c " + dir.File("a") + " " + dir.File("b") + " > " +
                                dir.File("ab.bz2")),
            0);
  ASSERT_EQ(testing::RunCommand("cat " + dir.File("a") + " " + dir.File("b") + " | bzip2 -c > " +
                                dir.File("one.bz2")),
            0);
  for (const char* file : {"one.bz2", "ab.bz2"}) {  // one stream, then two concatenated
    RoutesBuilder builder;
    absl::Status s = builder.AddFile(dir.File(file));
    ASSERT_TRUE(s.ok()) << s;
    EXPECT_EQ(builder.Finish(), *expected) << file;
  }
}

TEST(RoutesCompressionTest, CorruptOrTruncatedStreamsAreErrors) {
  const std::string plain = SampleMrt();
  std::string gz = Gzip(plain);
  std::string corrupt = gz;
  for (size_t i = 100; i < 140; ++i) corrupt[i] = static_cast<char>(corrupt[i] ^ 0x5a);
  absl::StatusOr<std::vector<Route>> r = Load(corrupt, "bad.gz");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("bad.gz: corrupt gzip"), absl::string_view::npos)
      << r.status();
  r = Load(gz.substr(0, gz.size() / 2), "short.gz");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("short.gz: gzip data ends"), absl::string_view::npos)
      << r.status();
  // Trailing junk after the last member is not another member.
  r = Load(gz + "junk!", "tail.gz");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("tail.gz: corrupt gzip"), absl::string_view::npos)
      << r.status();

  if (!testing::HaveTool("bzip2")) GTEST_SKIP() << "bzip2 is not installed: bzip2 half skipped";
  testing::TempDir dir;
  ASSERT_TRUE(WriteWholeFile(dir.File("p"), plain));
  ASSERT_EQ(testing::RunCommand("bzip2 -c " + dir.File("p") + " > " + dir.File("p.bz2")), 0);
  const std::string bz = ReadWholeFile(dir.File("p.bz2"));
  r = Load(bz.substr(0, bz.size() / 2), "short.bz2");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("short.bz2: bzip2 data ends"), absl::string_view::npos)
      << r.status();
  std::string bad = bz;
  for (size_t i = 50; i < 90; ++i) bad[i] = static_cast<char>(bad[i] ^ 0x5a);
  r = Load(bad, "bad.bz2");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("bad.bz2: corrupt bzip2"), absl::string_view::npos)
      << r.status();
}

// ---------------------------------------------------------------------------------------------
// The corpus against bgpdump.

struct Key {
  uint8_t version;
  std::array<uint8_t, 16> bytes;
  int length;
  auto operator<=>(const Key&) const = default;
};
Key KeyOf(const Route& r) { return {r.prefix.version, r.prefix.bytes, r.length}; }
std::optional<Key> ParseKey(absl::string_view text) {
  const std::vector<std::string> parts = absl::StrSplit(text, '/');
  if (parts.size() != 2) return std::nullopt;
  absl::StatusOr<IpAddress> a = ParseIpAddress(parts[0]);
  int length = 0;
  if (!a.ok() || !absl::SimpleAtoi(parts[1], &length)) return std::nullopt;
  return Key{a->version, a->bytes, length};
}

// Best path per prefix recomputed from `bgpdump -m` lines, with the rules spelled out on text.
struct Expected {
  uint32_t origin_as = 0;
  size_t lines = 0;
};
struct RefPath {
  uint32_t local_pref, length, origin, med, origin_as;
};

bool ParsePathText(const std::string& text, uint32_t peer_as, uint32_t& length,
                   uint32_t& origin_as) {
  // Tokens: "123" in a sequence, "{1,2}" a set (one), "(..)" / "[..]" confederation (zero).
  length = 0;
  origin_as = peer_as;
  int depth_confed = 0;
  for (const absl::string_view token : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    absl::string_view t = token;
    if (t.front() == '{') {
      if (t.back() != '}') return false;
      if (depth_confed == 0) ++length;
      continue;
    }
    if (t.front() == '(' || t.front() == '[') {
      ++depth_confed;
      t.remove_prefix(1);
    }
    bool closes = !t.empty() && (t.back() == ')' || t.back() == ']');
    if (closes) t.remove_suffix(1);
    uint32_t as = 0;
    if (!t.empty() && !absl::SimpleAtoi(t, &as)) return false;
    if (depth_confed == 0) {
      ++length;
      origin_as = as;
    }
    if (closes) --depth_confed;
  }
  return true;
}

// Returns an empty map (and a failure) when bgpdump output cannot be read.
std::map<Key, Expected> ExpectedFromBgpdump(const std::string& file, size_t* lines_out) {
  std::string out;
  EXPECT_EQ(testing::RunCommand("bgpdump -m '" + file + "' 2>/dev/null", &out), 0);
  std::map<Key, RefPath> best;
  std::map<Key, Expected> result;
  size_t lines = 0;
  for (const absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    const std::vector<std::string> f = absl::StrSplit(line, '|');
    // TABLE_DUMP2_AP lines carry the ADD-PATH path ID before the AS path.
    const size_t shift = f[0] == "TABLE_DUMP2_AP" ? 1 : 0;
    if (f.size() < 11 + shift) {
      ADD_FAILURE() << "short bgpdump line: " << line;
      return {};
    }
    ++lines;
    std::optional<Key> key = ParseKey(f[5]);
    uint32_t peer_as = 0;
    RefPath p{};
    if (!key || !absl::SimpleAtoi(f[4], &peer_as) ||
        !ParsePathText(f[6 + shift], peer_as, p.length, p.origin_as) ||
        !absl::SimpleAtoi(f[9 + shift], &p.local_pref) ||
        !absl::SimpleAtoi(f[10 + shift], &p.med)) {
      ADD_FAILURE() << "unreadable bgpdump line: " << line;
      return {};
    }
    // bgpdump prints 0 for an absent LOCAL_PREF (the local ADD-PATH entry carries no
    // attributes at all and prints 0); absent means 100.
    if (p.local_pref == 0) p.local_pref = 100;
    const std::string& origin = f[7 + shift];
    p.origin = origin == "IGP" ? 0 : origin == "EGP" ? 1 : 2;
    ++result[*key].lines;
    auto it = best.find(*key);
    if (it == best.end()) {
      best.emplace(*key, p);
      continue;
    }
    const RefPath& b = it->second;
    if (std::make_tuple(-static_cast<int64_t>(p.local_pref), p.length, p.origin, p.med) <
        std::make_tuple(-static_cast<int64_t>(b.local_pref), b.length, b.origin, b.med)) {
      it->second = p;
    }
  }
  for (auto& [key, e] : result) e.origin_as = best[key].origin_as;
  *lines_out = lines;
  return result;
}

struct CorpusFile {
  const char* path;
  size_t lines;
  size_t prefixes;
};
constexpr CorpusFile kCorpusMrt[] = {
    {"bgpdump/bview.20020722.2337.gz", 115521, 112988},
    {"bgpdump/bview.ipv4_unicast_add_path.gz", 62, 31},
    {"mrtparse/quagga_rib", 9, 6},
    {"mrtparse/openbgpd_rib_table", 31, 21},
};

std::string CorpusFilePath(const char* relative) {
  const std::string dir = testing::CorpusDir();
  if (dir.empty()) return "";
  const std::string path = dir + "/enrich/" + relative;
  std::ifstream in(path);
  return in ? path : "";
}

#define REQUIRE_CORPUS_FILE(var, relative)                                    \
  NF_REQUIRE_CORPUS();                                                        \
  const std::string var = CorpusFilePath(relative);                           \
  if (var.empty()) {                                                          \
    GTEST_SKIP() << "../shared/corpus/enrich/" << (relative) << " not found"; \
  }                                                                           \
  static_assert(true)

absl::StatusOr<std::vector<Route>> LoadFile(const std::string& path, RoutesLoadStats* stats) {
  RoutesBuilder builder;
  absl::Status s = builder.AddFile(path);
  if (!s.ok()) return s;
  if (stats != nullptr) *stats = builder.stats();
  return builder.Finish();
}

class RoutesCorpusTest : public ::testing::TestWithParam<CorpusFile> {};

TEST_P(RoutesCorpusTest, EveryPrefixHasBgpdumpsBestOrigin) {
  REQUIRE_CORPUS_FILE(path, GetParam().path);
  if (!testing::HaveTool("bgpdump")) GTEST_SKIP() << "bgpdump is not installed";
  size_t lines = 0;
  const std::map<Key, Expected> expected = ExpectedFromBgpdump(path, &lines);
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(lines, GetParam().lines);
  EXPECT_EQ(expected.size(), GetParam().prefixes);

  RoutesLoadStats stats;
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::vector<Route>> routes = LoadFile(path, &stats);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(routes.ok()) << routes.status();
  std::printf("%s: %zu prefixes from %llu records / %llu paths in %.1f ms\n", GetParam().path,
              routes->size(), static_cast<unsigned long long>(stats.mrt_records),
              static_cast<unsigned long long>(stats.rib_entries), ms);
  EXPECT_EQ(stats.rib_entries, lines);  // bgpdump prints one line per path
  EXPECT_EQ(stats.skipped, 0u);

  size_t mismatches = 0;
  std::set<Key> seen;
  for (size_t i = 0; i < routes->size(); ++i) {
    const Route& r = (*routes)[i];
    const Key key = KeyOf(r);
    if (i > 0) {
      EXPECT_LT(KeyOf((*routes)[i - 1]), key) << "not sorted or duplicated";
    }
    seen.insert(key);
    auto it = expected.find(key);
    if (it == expected.end()) {
      if (++mismatches <= 10) ADD_FAILURE() << RouteText(r) << " is not in bgpdump's output";
    } else if (it->second.origin_as != r.origin_as) {
      if (++mismatches <= 10) {
        ADD_FAILURE() << RouteText(r) << " but bgpdump's best path gives " << it->second.origin_as;
      }
    }
  }
  for (const auto& [key, e] : expected) {
    if (!seen.count(key) && ++mismatches <= 10) {
      Route r{IpAddress{key.version, key.bytes}, static_cast<uint8_t>(key.length), e.origin_as};
      ADD_FAILURE() << RouteText(r) << " from bgpdump is missing";
    }
  }
  EXPECT_EQ(mismatches, 0u);
  EXPECT_EQ(routes->size(), expected.size());
}

INSTANTIATE_TEST_SUITE_P(Corpus, RoutesCorpusTest, ::testing::ValuesIn(kCorpusMrt),
                         [](const ::testing::TestParamInfo<CorpusFile>& p) {
                           std::string name = p.param.path;
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

TEST(RoutesCorpusExamplesTest, ReadmeExamples) {
  REQUIRE_CORPUS_FILE(bview, "bgpdump/bview.20020722.2337.gz");
  absl::StatusOr<std::vector<Route>> r = LoadFile(bview, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(OriginOf(*r, "193.0.0.0/21"), 3333);
  EXPECT_EQ(OriginOf(*r, "3.0.0.0/8"), 80);
  EXPECT_EQ(OriginOf(*r, "24.223.0.0/18"), 13659);  // 1853 1239 13659 {13659,701}

  const std::string add_path = CorpusFilePath("bgpdump/bview.ipv4_unicast_add_path.gz");
  ASSERT_FALSE(add_path.empty());
  r = LoadFile(add_path, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  // Path ID 36 (5 ASes, origin 65011) beats path ID 38 (6 ASes, origin 65010).
  EXPECT_EQ(OriginOf(*r, "10.0.10.0/24"), 65011);
  // The local entry (peer 0.0.0.0 AS 0, no attributes) has the empty path: origin 0.
  EXPECT_EQ(OriginOf(*r, "10.0.15.0/24"), 0);
  EXPECT_EQ(OriginOf(*r, "10.0.16.0/24"), 0);

  const std::string quagga = CorpusFilePath("mrtparse/quagga_rib");
  ASSERT_FALSE(quagga.empty());
  r = LoadFile(quagga, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(OriginOf(*r, "172.17.0.0/24"), 64512);  // path 4200000000 x3, 64512 x3
  EXPECT_EQ(OriginOf(*r, "fd01:1::/64"), 64512);

  const std::string openbgpd = CorpusFilePath("mrtparse/openbgpd_rib_table");
  ASSERT_FALSE(openbgpd.empty());
  r = LoadFile(openbgpd, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(OriginOf(*r, "192.168.0.0/16"), 65015);
  EXPECT_EQ(OriginOf(*r, "192.168.1.0/24"), 65015);
  EXPECT_EQ(OriginOf(*r, "192.168.0.10/32"), 65000);  // empty path: the peer AS
  EXPECT_EQ(OriginOf(*r, "2001:db8::10/128"), 65000);
}

TEST(RoutesCorpusExamplesTest, UncompressedAndRecompressedCorpusGiveTheSameRoutes) {
  REQUIRE_CORPUS_FILE(bview, "bgpdump/bview.ipv4_unicast_add_path.gz");
  absl::StatusOr<std::vector<Route>> from_gz = LoadFile(bview, nullptr);
  ASSERT_TRUE(from_gz.ok()) << from_gz.status();
  testing::TempDir dir;
  ASSERT_EQ(testing::RunCommand("gzip -dc '" + bview + "' > " + dir.File("plain")), 0);
  absl::StatusOr<std::vector<Route>> plain = LoadFile(dir.File("plain"), nullptr);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(*plain, *from_gz);
  if (!testing::HaveTool("bzip2")) GTEST_SKIP() << "bzip2 is not installed";
  // The name says .gz, the content is bzip2: detection goes by content.
  ASSERT_EQ(testing::RunCommand("bzip2 -c " + dir.File("plain") + " > " + dir.File("x.gz")), 0);
  absl::StatusOr<std::vector<Route>> bz = LoadFile(dir.File("x.gz"), nullptr);
  ASSERT_TRUE(bz.ok()) << bz.status();
  EXPECT_EQ(*bz, *from_gz);
}

// ---------------------------------------------------------------------------------------------
// Longest-prefix match over what the loader gives.

IpAddress FirstAddress(const Route& r) { return r.prefix; }
IpAddress LastAddress(const Route& r) {
  IpAddress a = r.prefix;
  const int bits = a.is_v4() ? 32 : 128;
  for (int bit = r.length; bit < bits; ++bit)
    a.bytes[bit / 8] |= static_cast<uint8_t>(0x80 >> (bit % 8));
  return a;
}

// Most specific route covering `a`, by trying every length from the longest down.
std::optional<Route> MostSpecific(const std::map<Key, Route>& by_key, const IpAddress& a) {
  const int bits = a.is_v4() ? 32 : 128;
  for (int length = bits; length >= 0; --length) {
    const IpAddress masked = MaskAddress(a, length);
    auto it = by_key.find(Key{masked.version, masked.bytes, length});
    if (it != by_key.end()) return it->second;
  }
  return std::nullopt;
}

void ExpectLookup(const PrefixTable& table, const std::map<Key, Route>& by_key, const IpAddress& a,
                  size_t& failures) {
  const std::optional<Route> want = MostSpecific(by_key, a);
  const PrefixMatch got = table.Lookup(a);
  const bool ok =
      want ? (got.found && got.origin_as == want->origin_as && got.length == want->length)
           : (!got.found && got.origin_as == 0 && got.length == 0);
  if (!ok && ++failures <= 10) {
    ADD_FAILURE() << a.ToString() << ": lookup gives found=" << got.found << " AS " << got.origin_as
                  << " /" << int{got.length} << ", expected "
                  << (want ? RouteText(*want) : std::string("no route"));
  }
}

TEST_P(RoutesCorpusTest, PrefixTableAnswersTheMostSpecificRoute) {
  REQUIRE_CORPUS_FILE(path, GetParam().path);
  absl::StatusOr<std::vector<Route>> routes = LoadFile(path, nullptr);
  ASSERT_TRUE(routes.ok()) << routes.status();
  absl::StatusOr<PrefixTable> table = PrefixTable::Build(*routes);
  ASSERT_TRUE(table.ok()) << table.status();
  std::map<Key, Route> by_key;
  for (const Route& r : *routes) by_key.emplace(KeyOf(r), r);
  size_t failures = 0;
  size_t nested = 0;
  for (const Route& r : *routes) {
    for (const IpAddress& a : {FirstAddress(r), LastAddress(r)}) {
      if (MostSpecific(by_key, a)->length != r.length) ++nested;
      ExpectLookup(*table, by_key, a, failures);
    }
  }
  EXPECT_EQ(failures, 0u);
  std::printf("%s: %zu lookups, %zu answered by a more specific prefix\n", GetParam().path,
              2 * routes->size(), nested);
}

TEST(RoutesPrefixTableTest, HostRoutesMissesAndMappedAddresses) {
  RoutesBuilder builder;
  ASSERT_TRUE(builder
                  .AddBytes("nets",
                            "10.0.0.0/8 1\n10.1.2.3/32 2\n10.1.2.0/24 3\n"
                            "2001:db8::/32 4\n2001:db8::1/128 5\n2001:db8::/64 6\n")
                  .ok());
  std::vector<Route> routes = builder.Finish();
  absl::StatusOr<PrefixTable> table = PrefixTable::Build(routes);
  ASSERT_TRUE(table.ok()) << table.status();
  std::map<Key, Route> by_key;
  for (const Route& r : routes) by_key.emplace(KeyOf(r), r);
  size_t failures = 0;
  for (const char* a :
       {"10.1.2.3", "10.1.2.2", "10.1.2.4", "10.1.3.3", "10.255.255.255", "11.0.0.0",
        "9.255.255.255", "2001:db8::1", "2001:db8::2", "2001:db8:0:1::1", "2001:db9::", "::"}) {
    ExpectLookup(*table, by_key, *ParseIpAddress(a), failures);
  }
  EXPECT_EQ(failures, 0u);
  EXPECT_EQ(table->Lookup(*ParseIpAddress("10.1.2.3")).origin_as, 2u);
  const PrefixMatch miss = table->Lookup(*ParseIpAddress("11.0.0.1"));
  EXPECT_FALSE(miss.found);
  EXPECT_EQ(miss.origin_as, 0u);
  EXPECT_EQ(miss.length, 0);
  const PrefixMatch mapped = table->Lookup(*ParseIpAddress("::ffff:10.1.2.3"));
  EXPECT_TRUE(mapped.found);
  EXPECT_EQ(mapped.origin_as, 2u);
  EXPECT_EQ(mapped.length, 32);
}

TEST(RoutesPrefixTableTest, CorpusMissesAndIpv4MappedLookups) {
  REQUIRE_CORPUS_FILE(bview, "bgpdump/bview.20020722.2337.gz");
  absl::StatusOr<std::vector<Route>> routes = LoadFile(bview, nullptr);
  ASSERT_TRUE(routes.ok()) << routes.status();
  absl::StatusOr<PrefixTable> table = PrefixTable::Build(*routes);
  ASSERT_TRUE(table.ok()) << table.status();
  std::map<Key, Route> by_key;
  for (const Route& r : *routes) by_key.emplace(KeyOf(r), r);
  // No route covers these (the reference confirms it), so the table must miss.
  for (const char* a : {"0.0.0.1", "127.0.0.1", "255.255.255.254"}) {
    ASSERT_FALSE(MostSpecific(by_key, *ParseIpAddress(a)).has_value()) << a;
    const PrefixMatch m = table->Lookup(*ParseIpAddress(a));
    EXPECT_FALSE(m.found) << a;
    EXPECT_EQ(m.origin_as, 0u) << a;
    EXPECT_EQ(m.length, 0) << a;
  }
  const PrefixMatch v4 = table->Lookup(*ParseIpAddress("193.0.0.1"));
  const PrefixMatch mapped = table->Lookup(*ParseIpAddress("::ffff:193.0.0.1"));
  EXPECT_TRUE(v4.found);
  EXPECT_EQ(v4.origin_as, 3333u);
  EXPECT_EQ(v4.length, 21);
  EXPECT_EQ(mapped.found, v4.found);
  EXPECT_EQ(mapped.origin_as, v4.origin_as);
  EXPECT_EQ(mapped.length, v4.length);
}

}  // namespace
}  // namespace nf
