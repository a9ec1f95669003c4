// CSV formatting: the stable default header, row text, RFC 4180 quoting, column selection,
// and the address formatters against inet_ntop.
#include "collector/output/format/csv_format.h"

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "collector/output/format/columns.h"
#include "collector/output/format/text.h"
#include "common/ip_address.h"
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

}  // namespace
}  // namespace nf
