// CSV formatting: the stable default header, row text, RFC 4180 quoting, column selection,
// the address formatters against inet_ntop, the cached time text against the general
// AppendIso8601Ms, and the one-call default row against its columns' writers.
#include "collector/output/format/csv_format.h"

#include <arpa/inet.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "collector/output/format/columns.h"
#include "collector/output/format/text.h"
#include "common/ip_address.h"
#include "common/time_format.h"
#include "gtest/gtest.h"
#include "tests/collector/output_test_record.h"

namespace nf {
namespace {

using output_test::Rec;

TEST(CsvFormatterTest, DefaultHeaderAndRow) {
  auto f = CsvFormatter::Create("");
  ASSERT_TRUE(f.ok());
  std::string out;
  f->AppendHeader(out);
  EXPECT_EQ(out,
            "exporter,source_id,template_id,first,last,ip_version,protocol,src_addr,dst_addr,"
            "src_port,dst_port,tos,tcp_flags,input_if,output_if,packets,bytes,sampling\n");
  out.clear();
  f->AppendRow(Rec("10.0.0.1", "2001:db8::1", 6, 3, 4500), out);
  EXPECT_EQ(out,
            "192.0.2.1,7,256,2024-01-31T12:00:00.123Z,2024-01-31T12:00:01.123Z,4,6,10.0.0.1,"
            "2001:db8::1,1234,80,0,0,0,0,3,4500,1\n");
  DecodedRecord no_time = Rec("10.0.0.1", "10.0.0.2", 17, 1, 1);
  no_time.first_ms = kNoTime;
  no_time.last_ms = kNoTime;
  out.clear();
  auto g = CsvFormatter::Create("first,last,bytes");
  ASSERT_TRUE(g.ok());
  g->AppendRow(no_time, out);
  EXPECT_EQ(out, ",,1\n");
}

TEST(CsvFormatterTest, UnknownColumnIsAnError) {
  auto f = CsvFormatter::Create("src_addr,nonsense");
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("nonsense"), absl::string_view::npos);
}

TEST(CsvFormatterTest, Rfc4180Quoting) {
  std::string out;
  AppendCsvField("plain", out);
  out += '|';
  AppendCsvField("a,b", out);
  out += '|';
  AppendCsvField("say \"hi\"", out);
  out += '|';
  AppendCsvField("line\nbreak", out);
  EXPECT_EQ(out, "plain|\"a,b\"|\"say \"\"hi\"\"\"|\"line\nbreak\"");
}

TEST(CsvFormatterTest, AddressFormatting) {
  std::string out;
  AppendAddress(*ParseIpAddress("255.0.10.1"), out);
  out += ' ';
  AppendAddress(*ParseIpAddress("2001:db8::1:0:0:1"), out);
  EXPECT_EQ(out, "255.0.10.1 2001:db8::1:0:0:1");
}

// The hand-written IPv6 formatter must print exactly what inet_ntop prints: zero runs of
// every length and position (ties: the first run), IPv4-compatible and -mapped addresses.
TEST(CsvFormatterTest, Ipv6TextEqualsInetNtop) {
  std::vector<std::array<uint8_t, 16>> cases;
  for (int mask = 0; mask < 256; ++mask) {  // every pattern of zero / non-zero groups
    std::array<uint8_t, 16> a{};
    for (int g = 0; g < 8; ++g) {
      if (mask & (1 << g)) {
        a[2 * g] = static_cast<uint8_t>(g == 3 ? 0 : 0x20 + g);
        a[2 * g + 1] = static_cast<uint8_t>(0x01 + 17 * g);
      }
    }
    cases.push_back(a);
  }
  uint64_t x = 0x2545F4914F6CDD1Dull;
  for (int i = 0; i < 2000; ++i) {  // random, with many small and zero groups
    std::array<uint8_t, 16> a{};
    for (int g = 0; g < 8; ++g) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      const uint16_t v = (x & 3) == 0 ? 0 : static_cast<uint16_t>(x >> (8 * (x & 7)));
      a[2 * g] = static_cast<uint8_t>(v >> 8);
      a[2 * g + 1] = static_cast<uint8_t>(v);
    }
    cases.push_back(a);
  }
  for (const char* text : {"::", "::1", "1::", "::ffff:10.1.2.3", "::10.1.2.3", "::ffff:0:1.2.3.4",
                           "64:ff9b::1.2.3.4", "fe80::1:0:0:0:1", "1:0:0:2:0:0:0:3"}) {
    std::array<uint8_t, 16> a{};
    ASSERT_EQ(inet_pton(AF_INET6, text, a.data()), 1) << text;
    cases.push_back(a);
  }
  for (const auto& a : cases) {
    char want[INET6_ADDRSTRLEN];
    ASSERT_NE(inet_ntop(AF_INET6, a.data(), want, sizeof(want)), nullptr);
    char got[kMaxCsvColumnChars];
    char* end = WriteAddress(IpAddress::V6(a.data()), got);
    EXPECT_EQ(std::string(got, end), std::string(want));
  }
}

TEST(CsvFormatterTest, Ipv4TextEqualsInetNtop) {
  for (uint32_t i = 0; i < 70000; ++i) {
    // Every octet value in every position, and lengths mixed within one address.
    const uint32_t v = (i * 2654435761u) ^ (i << 8) ^ i;
    const IpAddress a = IpAddress::V4(v);
    char want[INET_ADDRSTRLEN];
    ASSERT_NE(inet_ntop(AF_INET, a.bytes.data(), want, sizeof(want)), nullptr);
    char got[kMaxCsvColumnChars];
    ASSERT_EQ(std::string(got, WriteAddress(a, got)), std::string(want)) << v;
  }
}

// Numbers take a digit count from the bit width and a 32-bit path below 2^32: every power of
// ten and its neighbours, both sides of 2^32, the maximum, and a spread of values must print
// what std::to_chars prints.
TEST(CsvFormatterTest, UnsignedTextEqualsToChars) {
  std::vector<uint64_t> values = {0, std::numeric_limits<uint32_t>::max(),
                                  uint64_t{std::numeric_limits<uint32_t>::max()} + 1,
                                  std::numeric_limits<uint64_t>::max(),
                                  std::numeric_limits<uint64_t>::max() - 1};
  uint64_t p = 1;
  for (int i = 0; i < 20; ++i) {
    values.insert(values.end(), {p - 1, p, p + 1, 2 * p, 9 * p});
    if (i < 19) p *= 10;
  }
  for (int bit = 0; bit < 64; ++bit) {
    const uint64_t b = uint64_t{1} << bit;
    values.insert(values.end(), {b - 1, b, b + 1});
  }
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 100000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    values.push_back(x >> (x & 63));  // every magnitude
  }
  for (uint64_t v : values) {
    char want[24];
    const std::string expected(want, std::to_chars(want, want + sizeof(want), v).ptr);
    char got[24];
    ASSERT_EQ(std::string(got, WriteUnsigned(v, got)), expected) << v;
  }
}

// Time text is cached by second (64 entries by the low bits) and by day: neighbouring
// seconds, seconds that share a cache entry, other days, times before 1970 and years past
// 9999 must all print what the general formatter prints, in any order.
TEST(CsvFormatterTest, TimeTextEqualsTheGeneralFormatterWhateverTheCacheHolds) {
  std::vector<int64_t> times = {0, 1, 999, 1000, -1, -999, -1000, -1001, -86400000,
                                951782400000,      // 2000-02-29
                                253402300799999,   // 9999-12-31T23:59:59.999
                                253402300800000,   // year 10000: the general path
                                -62167219200000,   // 0000-01-01
                                -62167219200001,   // year -1: the general path
                                // Whatever an exporter's 64-bit field held: no step may overflow.
                                std::numeric_limits<int64_t>::max(),
                                std::numeric_limits<int64_t>::min() + 1,
                                std::numeric_limits<int64_t>::min()};
  const int64_t base = 1706702400123;  // 2024-01-31T12:00:00.123
  for (int64_t k = 0; k < 200; ++k) {
    times.push_back(base + k * 1000);          // consecutive seconds
    times.push_back(base + k * 64 * 1000);     // one cache entry, different seconds
    times.push_back(base + k * 86400 * 1000);  // other days, same time of day
    times.push_back(base - k * 37 * 1000 - k);
  }
  for (int pass = 0; pass < 2; ++pass) {  // the second pass reads the caches the first filled
    for (int64_t t : times) {
      std::string want;
      AppendIso8601Ms(t, want);
      char got[kMaxCsvColumnChars];
      ASSERT_EQ(std::string(got, WriteIso8601Ms(t, got)), want) << t;
    }
  }
}

// The default row is written by one function; it must print what the columns' own writers
// print, joined by commas, for every kind of value, and a list that only starts with the
// default columns must print the rest as before.
TEST(CsvFormatterTest, DefaultRowEqualsItsColumnsOneByOne) {
  std::vector<DecodedRecord> records;
  uint64_t x = 0x9E3779B97F4A7C15ull;
  IpAddress exporter = IpAddress::V4(0x7f000001);
  uint32_t source_id = 0;
  uint16_t template_id = 256;
  for (int i = 0; i < 3000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    DecodedRecord r = Rec("10.0.0.1", "2001:db8::1", static_cast<uint8_t>(x), x % 7, x >> 3);
    r.src_addr = i % 3 == 0 ? IpAddress{} : IpAddress::V4(static_cast<uint32_t>(x));
    r.dst_addr = i % 4 == 0 ? IpAddress::V4(static_cast<uint32_t>(x >> 32)) : r.dst_addr;
    // Rows of one set share exporter, source ID and template ID, which the formatter keeps
    // from row to row: runs of 1-4 rows, then one of the three changes (or none, or all).
    if (x % 4 == 0) {
      switch ((x >> 8) % 5) {
        case 0: exporter = i % 5 == 0 ? *ParseIpAddress("2001:db8::99")
                                      : IpAddress::V4(static_cast<uint32_t>(x >> 7)); break;
        case 1: source_id = static_cast<uint32_t>(x >> 11); break;
        case 2: template_id = static_cast<uint16_t>(x >> 5); break;
        case 3: break;
        default:
          exporter = IpAddress::V4(static_cast<uint32_t>(x >> 9));
          source_id = static_cast<uint32_t>(x >> 13);
          template_id = static_cast<uint16_t>(x >> 3);
      }
    }
    r.exporter.address = exporter;
    r.source_id = source_id;
    r.template_id = template_id;
    r.first_ms = i % 6 == 0 ? kNoTime : 1706702400000 + static_cast<int64_t>(x % 100000000);
    r.last_ms = i % 9 == 0 ? kNoTime : 1706702400000 + static_cast<int64_t>((x >> 20) % 100000000);
    r.ip_version = static_cast<uint8_t>(i % 3 == 0 ? 0 : 4);
    r.src_port = static_cast<uint16_t>(x >> 17);
    r.dst_port = static_cast<uint16_t>(i % 10);
    r.tos = static_cast<uint8_t>(x >> 40);
    r.tcp_flags = static_cast<uint16_t>(x >> 44);
    r.input_if = static_cast<uint32_t>(i % 2 ? x >> 30 : 0);
    r.output_if = static_cast<uint32_t>(x >> 33);
    r.packets = i % 7 == 0 ? ~uint64_t{0} : x >> (i % 64);
    r.bytes = x;
    r.sampling = static_cast<uint32_t>(i % 4 == 0 ? 0 : x >> 50);
    r.vlan = static_cast<uint16_t>(x >> 3);
    records.push_back(r);
  }
  const std::string defaults(kDefaultCsvColumns);
  for (const std::string& list : {std::string(), defaults, defaults + ",vlan,last",
                                  "last," + defaults, std::string("bytes,exporter,first")}) {
    auto f = CsvFormatter::Create(list);
    ASSERT_TRUE(f.ok()) << list;
    std::vector<const CsvColumnInfo*> columns;
    for (absl::string_view name : absl::StrSplit(list.empty() ? defaults : list, ',')) {
      columns.push_back(FindCsvColumn(name));
    }
    for (const DecodedRecord& r : records) {
      std::string want;
      for (size_t i = 0; i < columns.size(); ++i) {
        if (i != 0) want += ',';
        AppendColumn(*columns[i], r, want);
      }
      want += '\n';
      std::string got;
      f->AppendRow(r, got);
      ASSERT_EQ(got, want) << list;
    }
  }
}

}  // namespace
}  // namespace nf
