// The IPFIX wire format: message header and (options) template set parsing, and the v5 header.
#include "wire/ipfix.h"

#include <cstdint>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "wire/v5.h"

namespace nf {
namespace {

void Put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
void Put32(std::vector<uint8_t>& b, uint32_t v) {
  Put16(b, static_cast<uint16_t>(v >> 16));
  Put16(b, static_cast<uint16_t>(v));
}

// Everything one parse reported, in order.
struct Parsed {
  std::vector<TemplateRecord> templates;
  std::vector<std::pair<uint16_t, bool>> withdrawals;
  std::vector<IpfixTemplateError> skipped;
  IpfixTemplateError error = IpfixTemplateError::kNone;
};

Parsed Parse(uint16_t set_id, const std::vector<uint8_t>& body, size_t max_fields = 1024) {
  Parsed p;
  p.error = ParseIpfixTemplateSet(
      set_id, body, max_fields, [&](TemplateRecord&& t) { p.templates.push_back(std::move(t)); },
      [&](uint16_t id, bool all) { p.withdrawals.emplace_back(id, all); },
      [&](IpfixTemplateError e) { p.skipped.push_back(e); });
  return p;
}

TEST(IpfixHeaderTest, DecodesAllFields) {
  std::vector<uint8_t> b;
  Put16(b, 10);
  Put16(b, 48);
  Put32(b, 1700000000);
  Put32(b, 0xfffffffe);
  Put32(b, 0x01020304);
  IpfixHeader h;
  ASSERT_TRUE(IpfixHeader::Decode(b, h));
  EXPECT_EQ(h.version, 10);
  EXPECT_EQ(h.length, 48);
  EXPECT_EQ(h.export_secs, 1700000000u);
  EXPECT_EQ(h.sequence, 0xfffffffeu);
  EXPECT_EQ(h.domain, 0x01020304u);
}

TEST(IpfixHeaderTest, ShortInputRejected) {
  std::vector<uint8_t> b(kIpfixMessageHeaderSize - 1, 0);
  IpfixHeader h;
  EXPECT_FALSE(IpfixHeader::Decode(b, h));
}

TEST(IpfixTemplateSetTest, DataTemplateWithEnterpriseField) {
  std::vector<uint8_t> b;
  Put16(b, 300);
  Put16(b, 3);
  Put16(b, 8);  // sourceIPv4Address
  Put16(b, 4);
  Put16(b, 0x8000 | 12);  // enterprise-specific element 12
  Put16(b, 2);
  Put32(b, 29305);
  Put16(b, 1);  // octetDeltaCount
  Put16(b, 8);
  const Parsed p = Parse(kIpfixTemplateSetId, b);
  EXPECT_EQ(p.error, IpfixTemplateError::kNone);
  ASSERT_EQ(p.templates.size(), 1u);
  const TemplateRecord& t = p.templates[0];
  EXPECT_EQ(t.template_id, 300);
  EXPECT_FALSE(t.is_options);
  EXPECT_TRUE(t.scope_fields.empty());
  ASSERT_EQ(t.fields.size(), 3u);
  EXPECT_EQ(t.fields[0], (TemplateField{8, 4, 0}));
  EXPECT_EQ(t.fields[1], (TemplateField{12, 2, 29305}));
  EXPECT_EQ(t.fields[2], (TemplateField{1, 8, 0}));
  EXPECT_TRUE(p.withdrawals.empty());
  EXPECT_TRUE(p.skipped.empty());
}

TEST(IpfixTemplateSetTest, OptionsTemplateSplitsScopeFields) {
  std::vector<uint8_t> b;
  Put16(b, 400);
  Put16(b, 3);  // field count
  Put16(b, 1);  // scope count
  Put16(b, kIpfixObservationDomainIdIe);
  Put16(b, 4);
  Put16(b, 305);
  Put16(b, 4);
  Put16(b, 306);
  Put16(b, 4);
  b.push_back(0);  // padding
  b.push_back(0);
  const Parsed p = Parse(kIpfixOptionsTemplateSetId, b);
  EXPECT_EQ(p.error, IpfixTemplateError::kNone);
  ASSERT_EQ(p.templates.size(), 1u);
  const TemplateRecord& t = p.templates[0];
  EXPECT_TRUE(t.is_options);
  EXPECT_EQ(t.template_id, 400);
  ASSERT_EQ(t.scope_fields.size(), 1u);
  EXPECT_EQ(t.scope_fields[0].type, kIpfixObservationDomainIdIe);
  ASSERT_EQ(t.fields.size(), 2u);
  EXPECT_EQ(t.fields[0].type, 305);
  EXPECT_EQ(t.fields[1].type, 306);
}

TEST(IpfixTemplateSetTest, BadScopeCounts) {
  for (uint16_t scope : {uint16_t{0}, uint16_t{3}}) {
    std::vector<uint8_t> b;
    Put16(b, 400);
    Put16(b, 2);
    Put16(b, scope);
    Put16(b, 149);
    Put16(b, 4);
    Put16(b, 305);
    Put16(b, 4);
    const Parsed p = Parse(kIpfixOptionsTemplateSetId, b);
    EXPECT_EQ(p.error, IpfixTemplateError::kBadScopeCount) << "scope count " << scope;
    EXPECT_TRUE(p.templates.empty());
  }
}

TEST(IpfixTemplateSetTest, OptionsHeaderCutBeforeScopeCount) {
  std::vector<uint8_t> b;
  Put16(b, 400);
  Put16(b, 2);
  const Parsed p = Parse(kIpfixOptionsTemplateSetId, b);
  EXPECT_EQ(p.error, IpfixTemplateError::kHeaderTruncated);
  EXPECT_TRUE(p.templates.empty());
}

TEST(IpfixTemplateSetTest, TruncationKeepsEarlierTemplates) {
  std::vector<uint8_t> good;
  Put16(good, 300);
  Put16(good, 1);
  Put16(good, 8);
  Put16(good, 4);
  // Field specifiers cut short.
  std::vector<uint8_t> b = good;
  Put16(b, 301);
  Put16(b, 2);
  Put16(b, 8);
  Put16(b, 4);
  Put16(b, 12);
  Parsed p = Parse(kIpfixTemplateSetId, b);
  EXPECT_EQ(p.error, IpfixTemplateError::kTruncated);
  ASSERT_EQ(p.templates.size(), 1u);
  EXPECT_EQ(p.templates[0].template_id, 300);
  // Enterprise number cut short.
  b = good;
  Put16(b, 302);
  Put16(b, 1);
  Put16(b, 0x8000 | 5);
  Put16(b, 4);
  Put16(b, 0);
  p = Parse(kIpfixTemplateSetId, b);
  EXPECT_EQ(p.error, IpfixTemplateError::kTruncated);
  EXPECT_EQ(p.templates.size(), 1u);
}

TEST(IpfixTemplateSetTest, Withdrawals) {
  std::vector<uint8_t> b;
  Put16(b, 300);  // one template
  Put16(b, 0);
  Put16(b, kIpfixTemplateSetId);  // every data template
  Put16(b, 0);
  Put16(b, 301);  // a template after the withdrawals is still read
  Put16(b, 1);
  Put16(b, 8);
  Put16(b, 4);
  const Parsed p = Parse(kIpfixTemplateSetId, b);
  EXPECT_EQ(p.error, IpfixTemplateError::kNone);
  ASSERT_EQ(p.withdrawals.size(), 2u);
  EXPECT_EQ(p.withdrawals[0], std::make_pair(uint16_t{300}, false));
  EXPECT_EQ(p.withdrawals[1], std::make_pair(kIpfixTemplateSetId, true));
  ASSERT_EQ(p.templates.size(), 1u);
  EXPECT_EQ(p.templates[0].template_id, 301);
  // In an options template set, only ID 3 withdraws all (ID 2 is a single, unknown one).
  std::vector<uint8_t> o;
  Put16(o, kIpfixOptionsTemplateSetId);
  Put16(o, 0);
  Put16(o, kIpfixTemplateSetId);
  Put16(o, 0);
  const Parsed q = Parse(kIpfixOptionsTemplateSetId, o);
  ASSERT_EQ(q.withdrawals.size(), 2u);
  EXPECT_TRUE(q.withdrawals[0].second);
  EXPECT_FALSE(q.withdrawals[1].second);
}

TEST(IpfixTemplateSetTest, ZeroLengthFieldsAreLegal) {
  std::vector<uint8_t> b;
  Put16(b, 300);  // a zero-length field next to a real one: kept
  Put16(b, 2);
  Put16(b, 210);
  Put16(b, 0);
  Put16(b, 8);
  Put16(b, 4);
  Put16(b, 301);  // only zero-length fields: a record of 0 bytes, refused
  Put16(b, 2);
  Put16(b, 210);
  Put16(b, 0);
  Put16(b, 8);
  Put16(b, 0);
  Put16(b, 302);  // a variable-length field alone takes at least one byte: kept
  Put16(b, 1);
  Put16(b, 82);
  Put16(b, kVariableLength);
  const Parsed p = Parse(kIpfixTemplateSetId, b);
  EXPECT_EQ(p.error, IpfixTemplateError::kNone);
  ASSERT_EQ(p.templates.size(), 2u);
  EXPECT_EQ(p.templates[0].template_id, 300);
  ASSERT_EQ(p.templates[0].fields.size(), 2u);
  EXPECT_EQ(p.templates[0].fields[0].length, 0);
  EXPECT_EQ(p.templates[1].template_id, 302);
  ASSERT_EQ(p.skipped.size(), 1u);
  EXPECT_EQ(p.skipped[0], IpfixTemplateError::kZeroLengthRecord);
}

TEST(IpfixTemplateSetTest, OverlongRecordSkippedWalkGoesOn) {
  std::vector<uint8_t> b;
  Put16(b, 300);
  Put16(b, 2);
  Put16(b, 1);
  Put16(b, 40000);
  Put16(b, 2);
  Put16(b, 40000);
  Put16(b, 301);
  Put16(b, 1);
  Put16(b, 8);
  Put16(b, 4);
  const Parsed p = Parse(kIpfixTemplateSetId, b);
  EXPECT_EQ(p.error, IpfixTemplateError::kNone);
  ASSERT_EQ(p.skipped.size(), 1u);
  EXPECT_EQ(p.skipped[0], IpfixTemplateError::kRecordTooLong);
  ASSERT_EQ(p.templates.size(), 1u);
  EXPECT_EQ(p.templates[0].template_id, 301);
}

TEST(IpfixTemplateSetTest, BadIdAndTooManyFieldsStopTheWalk) {
  std::vector<uint8_t> b;
  Put16(b, 255);
  Put16(b, 1);
  Put16(b, 8);
  Put16(b, 4);
  Parsed p = Parse(kIpfixTemplateSetId, b);
  EXPECT_EQ(p.error, IpfixTemplateError::kBadTemplateId);
  EXPECT_TRUE(p.templates.empty());
  b.clear();
  Put16(b, 300);
  Put16(b, 3);
  for (int i = 0; i < 3; ++i) {
    Put16(b, 8);
    Put16(b, 4);
  }
  p = Parse(kIpfixTemplateSetId, b, /*max_fields=*/2);
  EXPECT_EQ(p.error, IpfixTemplateError::kTooManyFields);
  EXPECT_TRUE(p.templates.empty());
  p = Parse(kIpfixTemplateSetId, b, /*max_fields=*/3);
  EXPECT_EQ(p.error, IpfixTemplateError::kNone);
  EXPECT_EQ(p.templates.size(), 1u);
}

TEST(V5HeaderTest, DecodesAllFields) {
  std::vector<uint8_t> b;
  Put16(b, 5);
  Put16(b, 30);
  Put32(b, 123456);
  Put32(b, 1700000000);
  Put32(b, 999999999);
  Put32(b, 77);
  b.push_back(2);  // engine type
  b.push_back(9);  // engine ID
  Put16(b, 0x4000 | 100);  // mode 1, interval 100
  ASSERT_EQ(b.size(), kV5HeaderBytes);
  const V5Header h = V5Header::Decode(b.data());
  EXPECT_EQ(h.version, 5);
  EXPECT_EQ(h.count, 30);
  EXPECT_EQ(h.sys_uptime_ms, 123456u);
  EXPECT_EQ(h.unix_secs, 1700000000u);
  EXPECT_EQ(h.unix_nsecs, 999999999u);
  EXPECT_EQ(h.sequence, 77u);
  EXPECT_EQ(h.source_id(), 0x0209u);
  EXPECT_EQ(h.sampling_interval(), 100u);
}

}  // namespace
}  // namespace nf
