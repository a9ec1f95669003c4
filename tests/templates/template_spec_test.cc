#include "templates/template_spec.h"

#include <fstream>

#include "wire/v9_fields.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace nf {
namespace {

TEST(ShippedTemplatesTest, AllParseAndAreDocumented) {
  auto shipped = ShippedTemplates();
  ASSERT_GE(shipped.size(), 4u);
  for (const auto& t : shipped) {
    auto spec = LoadTemplate(t.name);
    ASSERT_TRUE(spec.ok()) << t.name << ": " << spec.status();
    EXPECT_EQ(spec->name, std::string(t.name));
    EXPECT_FALSE(spec->description.empty()) << t.name;
  }
  for (const char* name : {"default", "ng_netflow", "softflowd", "minimal"}) {
    EXPECT_TRUE(LoadTemplate(name).ok()) << name;
  }
}

// The layout recorded in ../shared/docs/ng_netflow.md: IDs 256/259, 20 fields each, records of
// 57 and 93 bytes, and this exact order.
TEST(ShippedTemplatesTest, NgNetflowLayoutIsExact) {
  auto spec = LoadTemplate("ng_netflow");
  ASSERT_TRUE(spec.ok()) << spec.status();
  const TemplateRecord& v4 = spec->LayoutFor(4, 6);
  const TemplateRecord& v6 = spec->LayoutFor(6, 6);
  EXPECT_EQ(v4.template_id, 256);
  EXPECT_EQ(v6.template_id, 259);
  ASSERT_EQ(v4.fields.size(), 20u);
  ASSERT_EQ(v6.fields.size(), 20u);
  EXPECT_EQ(v4.RecordLength(), 57u);
  EXPECT_EQ(v6.RecordLength(), 93u);
  const uint16_t want_v4[20][2] = {{8, 4},  {12, 4}, {15, 4}, {10, 2}, {14, 2}, {2, 4},  {1, 4},
                                   {24, 4}, {23, 4}, {22, 4}, {21, 4}, {7, 2},  {11, 2}, {6, 1},
                                   {4, 1},  {5, 1},  {16, 4}, {17, 4}, {9, 1},  {13, 1}};
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(v4.fields[i].type, want_v4[i][0]) << i;
    EXPECT_EQ(v4.fields[i].length, want_v4[i][1]) << i;
    if (i >= 3) {
      EXPECT_EQ(v6.fields[i], v4.fields[i]) << i;
    }
  }
  EXPECT_EQ(v6.fields[0], (TemplateField{27, 16}));
  EXPECT_EQ(v6.fields[1], (TemplateField{28, 16}));
  EXPECT_EQ(v6.fields[2], (TemplateField{62, 16}));
  // ng_netflow has no ICMP-specific templates.
  EXPECT_EQ(&spec->LayoutFor(4, 1), &v4);
}

TEST(ShippedTemplatesTest, SoftflowdUsesIcmpTemplates) {
  auto spec = LoadTemplate("softflowd");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->LayoutFor(4, 6).template_id, 1024);
  EXPECT_EQ(spec->LayoutFor(4, 1).template_id, 1025);
  EXPECT_EQ(spec->LayoutFor(6, 17).template_id, 2048);
  EXPECT_EQ(spec->LayoutFor(6, 58).template_id, 2049);
  EXPECT_EQ(spec->Layouts().size(), 4u);
}

TEST(TemplateTextTest, TypoNamesFieldAndLine) {
  auto spec = ParseTemplateText("# x: y\n[ipv4 256]\nIPV4_SRC_ADDR\nIPV4_DST_ADR\n[ipv6 257]\n"
                                "IPV6_SRC_ADDR\n",
                                "my.tmpl");
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.status().message().find("my.tmpl:4:"), absl::string_view::npos)
      << spec.status();
  EXPECT_NE(spec.status().message().find("IPV4_DST_ADR"), absl::string_view::npos);
}

TEST(TemplateTextTest, RefusesBadLengthsAndMisplacedFields) {
  auto bad_len = ParseTemplateText("[ipv4 256]\nIN_BYTES:9\n[ipv6 257]\nIN_BYTES\n", "t");
  ASSERT_FALSE(bad_len.ok());
  EXPECT_NE(bad_len.status().message().find("IN_BYTES cannot have length 9"),
            absl::string_view::npos)
      << bad_len.status();
  auto addr_len = ParseTemplateText("[ipv4 256]\nIPV4_SRC_ADDR:2\n[ipv6 257]\nIN_BYTES\n", "t");
  EXPECT_FALSE(addr_len.ok());
  auto misplaced = ParseTemplateText("[ipv4 256]\nIPV6_SRC_ADDR\n[ipv6 257]\nIN_BYTES\n", "t");
  ASSERT_FALSE(misplaced.ok());
  EXPECT_NE(misplaced.status().message().find("ipv4 template"), absl::string_view::npos);
  EXPECT_FALSE(ParseTemplateText("[ipv4 256]\nIN_BYTES\n", "t").ok());  // no ipv6
  EXPECT_FALSE(ParseTemplateText("[ipv4 12]\nIN_BYTES\n[ipv6 257]\nIN_BYTES\n", "t").ok());
  EXPECT_FALSE(ParseTemplateText("[ipv4 300]\nIN_BYTES\n[ipv6 300]\nIN_BYTES\n", "t").ok());
  EXPECT_FALSE(ParseTemplateText("IN_BYTES\n[ipv4 256]\n", "t").ok());
  EXPECT_FALSE(ParseTemplateText("[ipv4 256]\nIF_NAME\n[ipv6 257]\nIN_BYTES\n", "t").ok());
}

TEST(InlineTemplateTest, NprobeStyleMapsAddressesPerFamily) {
  auto spec = LoadTemplate("%IPV4_SRC_ADDR %IPV4_DST_ADDR %L4_SRC_PORT %IN_BYTES:8 %IN_PKTS");
  ASSERT_TRUE(spec.ok()) << spec.status();
  const auto& v4 = spec->LayoutFor(4, 6);
  const auto& v6 = spec->LayoutFor(6, 6);
  ASSERT_EQ(v4.fields.size(), 5u);
  ASSERT_EQ(v6.fields.size(), 5u);
  EXPECT_EQ(v4.fields[0], (TemplateField{8, 4}));
  EXPECT_EQ(v6.fields[0], (TemplateField{27, 16}));
  EXPECT_EQ(v6.fields[3], (TemplateField{1, 8}));
  auto typo = LoadTemplate("%IPV4_SRC_ADDR %IN_BYTE");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("IN_BYTE'"), absl::string_view::npos);
}

TEST(LoadTemplateTest, FileAndMissing) {
  testing::TempDir dir;
  const std::string path = dir.File("mine.tmpl");
  {
    std::ofstream out(path);
    out << "# mine: test\n[ipv4 300]\nsourceIPv4Address destinationIPv4Address octetDeltaCount\n"
           "[ipv6 301]\nsourceIPv6Address destinationIPv6Address octetDeltaCount:8\n";
  }
  auto spec = LoadTemplate(path);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->LayoutFor(6, 17).fields[2], (TemplateField{1, 8}));
  auto missing = LoadTemplate("no-such-template");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("ng_netflow"), absl::string_view::npos);
}

}  // namespace
}  // namespace nf
