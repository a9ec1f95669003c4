#include "wire/netflow_v9.h"

#include <array>
#include <vector>

#include "gtest/gtest.h"

namespace nf {
namespace {

TEST(V9HeaderTest, RoundTrip) {
  V9Header h;
  h.count = 7;
  h.sys_uptime_ms = 0xfffffff0;
  h.unix_secs = 1700000000;
  h.sequence = 42;
  h.source_id = 0x01020304;
  std::array<uint8_t, kV9HeaderSize> buf{};
  ByteWriter w(buf);
  ASSERT_TRUE(h.Encode(w));
  EXPECT_EQ(w.position(), kV9HeaderSize);
  EXPECT_EQ(buf[0], 0);
  EXPECT_EQ(buf[1], 9);
  ByteReader r(buf);
  V9Header d;
  ASSERT_TRUE(V9Header::Decode(r, d));
  EXPECT_EQ(d.version, 9);
  EXPECT_EQ(d.count, 7);
  EXPECT_EQ(d.sys_uptime_ms, 0xfffffff0u);
  EXPECT_EQ(d.unix_secs, 1700000000u);
  EXPECT_EQ(d.sequence, 42u);
  EXPECT_EQ(d.source_id, 0x01020304u);
}

TEST(V9HeaderTest, ShortInputRejected) {
  std::array<uint8_t, 19> buf{};
  ByteReader r(buf);
  V9Header d;
  EXPECT_FALSE(V9Header::Decode(r, d));
}

TEST(TemplateFlowSetTest, EncodeParseRoundTripWithPadding) {
  std::vector<TemplateRecord> templates(2);
  templates[0].template_id = 256;
  templates[0].fields = {{8, 4}, {12, 4}, {1, 8}};
  templates[1].template_id = 257;
  templates[1].fields = {{27, 16}, {28, 16}, {4, 1}};
  std::array<uint8_t, 256> buf{};
  ByteWriter w(buf);
  ASSERT_TRUE(EncodeTemplateFlowSet(templates, w));
  // 4 header + (4 + 12) + (4 + 12) = 36, already aligned.
  EXPECT_EQ(w.position(), 36u);
  EXPECT_EQ(buf[2], 0);
  EXPECT_EQ(buf[3], 36);
  std::vector<TemplateRecord> parsed;
  auto err = ParseV9TemplateFlowSet(std::span(buf.data() + 4, w.position() - 4),
                                    [&](TemplateRecord&& t) { parsed.push_back(std::move(t)); });
  EXPECT_EQ(err, TemplateParseError::kNone);
  EXPECT_EQ(parsed, templates);
  EXPECT_EQ(parsed[0].RecordLength(), 16u);
  EXPECT_EQ(parsed[1].RecordLength(), 33u);
}

TEST(TemplateFlowSetTest, OptionsTemplateRoundTripIsPadded) {
  TemplateRecord t;
  t.is_options = true;
  t.template_id = 300;
  t.scope_fields = {{static_cast<uint16_t>(V9Scope::kSystem), 4}};
  t.fields = {{34, 4}, {35, 1}};
  std::array<uint8_t, 64> buf{};
  ByteWriter w(buf);
  ASSERT_TRUE(EncodeOptionsTemplateFlowSet(std::span(&t, 1), w));
  // 4 + 6 + 4 + 8 = 22 -> padded to 24.
  EXPECT_EQ(w.position(), 24u);
  EXPECT_EQ(buf[1], 1);
  std::vector<TemplateRecord> parsed;
  auto err = ParseV9OptionsTemplateFlowSet(std::span(buf.data() + 4, 20),
                                           [&](TemplateRecord&& r) { parsed.push_back(r); });
  EXPECT_EQ(err, TemplateParseError::kNone);
  ASSERT_EQ(parsed.size(), 1u);
  EXPECT_EQ(parsed[0], t);
  EXPECT_EQ(parsed[0].RecordLength(), 9u);
}

TEST(TemplateFlowSetTest, HostileTemplatesRejected) {
  // Zero fields.
  const uint8_t zero[] = {0x01, 0x00, 0x00, 0x00};
  int n = 0;
  EXPECT_EQ(ParseV9TemplateFlowSet(zero, [&](TemplateRecord&&) { ++n; }),
            TemplateParseError::kZeroFields);
  // Field count larger than the FlowSet.
  const uint8_t lie[] = {0x01, 0x00, 0xff, 0xff, 0x00, 0x08, 0x00, 0x04};
  EXPECT_EQ(ParseV9TemplateFlowSet(lie, [&](TemplateRecord&&) { ++n; }),
            TemplateParseError::kTruncated);
  // Template ID in the reserved range.
  const uint8_t low[] = {0x00, 0x05, 0x00, 0x01, 0x00, 0x08, 0x00, 0x04};
  EXPECT_EQ(ParseV9TemplateFlowSet(low, [&](TemplateRecord&&) { ++n; }),
            TemplateParseError::kBadTemplateId);
  // Options lengths not multiples of 4.
  const uint8_t opt[] = {0x01, 0x00, 0x00, 0x03, 0x00, 0x04, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(ParseV9OptionsTemplateFlowSet(opt, [&](TemplateRecord&&) { ++n; }),
            TemplateParseError::kBadScopeLength);
  EXPECT_EQ(n, 0);
}

// A zero-length field is parsed like any other (it takes no bytes of a record); whether the
// template as a whole is usable is the decoder's call.
TEST(TemplateFlowSetTest, ZeroLengthFieldsAreParsed) {
  const uint8_t zlen[] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x08, 0x00, 0x04, 0x00, 0x50, 0x00, 0x00};
  std::vector<TemplateRecord> got;
  EXPECT_EQ(ParseV9TemplateFlowSet(zlen, [&](TemplateRecord&& t) { got.push_back(std::move(t)); }),
            TemplateParseError::kNone);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].fields.size(), 2u);
  EXPECT_EQ(got[0].fields[1].type, 80);
  EXPECT_EQ(got[0].fields[1].length, 0);
}

TEST(PaddingTest, Values) {
  EXPECT_EQ(PaddingFor(0), 0u);
  EXPECT_EQ(PaddingFor(1), 3u);
  EXPECT_EQ(PaddingFor(57), 3u);
  EXPECT_EQ(PaddingFor(60), 0u);
}

}  // namespace
}  // namespace nf
