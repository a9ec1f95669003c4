#include "common/ip_address.h"
#include "common/time_format.h"
#include "gtest/gtest.h"

namespace nf {
namespace {

TEST(TimeFormatTest, Iso8601Ms) {
  EXPECT_EQ(FormatIso8601Ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatIso8601Ms(1706702400123), "2024-01-31T12:00:00.123Z");
  EXPECT_EQ(FormatIso8601Ms(951782400000), "2000-02-29T00:00:00.000Z");
}

TEST(IpAddressTest, ParseAndFormat) {
  auto v4 = ParseIpAddress("192.0.2.1");
  ASSERT_TRUE(v4.ok());
  EXPECT_TRUE(v4->is_v4());
  EXPECT_EQ(v4->v4_host_order(), 0xc0000201u);
  EXPECT_EQ(v4->ToString(), "192.0.2.1");
  auto v6 = ParseIpAddress("2001:DB8:0:0::1");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->ToString(), "2001:db8::1");
  EXPECT_FALSE(ParseIpAddress("300.1.1.1").ok());
  EXPECT_EQ(MaskAddress(*v4, 24).ToString(), "192.0.2.0");
  EXPECT_EQ(MaskAddress(*v6, 16).ToString(), "2001::");
}

// Equality compares the version and all 16 bytes (as two words): a difference in any one of
// them makes two addresses unequal.
TEST(IpAddressTest, EqualityTakesTheVersionAndEveryByte) {
  uint8_t bytes[16];
  for (int i = 0; i < 16; ++i) bytes[i] = static_cast<uint8_t>(0x10 + i);
  const IpAddress a = IpAddress::V6(bytes);
  EXPECT_TRUE(a == IpAddress::V6(bytes));
  for (int i = 0; i < 16; ++i) {
    IpAddress b = a;
    b.bytes[i] ^= 0x01;
    EXPECT_FALSE(a == b) << "byte " << i;
  }
  IpAddress other_version = a;
  other_version.version = 4;
  EXPECT_FALSE(a == other_version);
  EXPECT_TRUE(IpAddress::V4(0x0a000001) == IpAddress::V4(0x0a000001));
  EXPECT_FALSE(IpAddress::V4(0x0a000001) == IpAddress::V4(0x0a000002));
  EXPECT_TRUE(IpAddress{} == IpAddress{});
}

TEST(HostPortTest, Forms) {
  auto a = ParseHostPort("10.0.0.5:1234");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "10.0.0.5");
  EXPECT_EQ(a->port, 1234);
  auto b = ParseHostPort("[::1]:2055");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "::1");
  auto c = ParseHostPort("2055", "0.0.0.0");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "0.0.0.0");
  EXPECT_FALSE(ParseHostPort("10.0.0.5").ok());
  EXPECT_FALSE(ParseHostPort("10.0.0.5:0").ok());
  EXPECT_FALSE(ParseHostPort("10.0.0.5:70000").ok());
  EXPECT_FALSE(ParseHostPort("::1:2055").ok());
  EXPECT_FALSE(ParseHostPort("[::1]2055").ok());
}

}  // namespace
}  // namespace nf
