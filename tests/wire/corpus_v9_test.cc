// The wire model against real captures: every v9 datagram in ../shared/corpus/netflow parses
// its header, and the template and options-template IDs and source IDs found by walking
// FlowSets by length equal what MANIFEST/expected_totals.csv (tshark) lists.
#include <set>
#include <string>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "wire/netflow_v9.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace nf {
namespace {

std::set<uint32_t> ParseIdList(const std::string& cell) {
  std::set<uint32_t> ids;
  if (cell.empty() || cell == "-") return ids;
  for (absl::string_view part : absl::StrSplit(cell, ',')) ids.insert(std::stoul(std::string(part)));
  return ids;
}

TEST(CorpusV9Test, HeadersAndTemplatesMatchManifest) {
  NF_REQUIRE_CORPUS();
  const std::string dir = testing::CorpusDir() + "/netflow/";
  auto rows = testing::ReadCsv(dir + "expected_totals.csv");
  ASSERT_GT(rows.size(), 50u);
  int checked = 0;
  for (auto& row : rows) {
    if (row["versions"] != "9") continue;
    const std::string& file = row["file"];
    // Hand-made malformed cases define templates tshark accepts but a strict parser refuses.
    const bool malformed = file.find("malformed") != std::string::npos;
    std::string error;
    auto datagrams = testing::ReadUdpDatagrams(dir + file, &error);
    ASSERT_TRUE(error.empty()) << file << ": " << error;
    ASSERT_EQ(datagrams.size(), std::stoul(row["flow_export_packets"])) << file;
    std::set<uint32_t> source_ids, templates, options_templates;
    for (const auto& d : datagrams) {
      ByteReader r(d.payload);
      V9Header h;
      ASSERT_TRUE(V9Header::Decode(r, h)) << file;
      ASSERT_EQ(h.version, 9) << file;
      source_ids.insert(h.source_id);
      while (r.remaining() >= kFlowSetHeaderSize) {
        FlowSetHeader fs;
        r.ReadU16(fs.id);
        r.ReadU16(fs.length);
        if (fs.length < kFlowSetHeaderSize || fs.length - kFlowSetHeaderSize > r.remaining()) break;
        std::span<const uint8_t> body;
        r.ReadSpan(fs.length - kFlowSetHeaderSize, body);
        if (fs.id == kTemplateFlowSetId) {
          ParseV9TemplateFlowSet(body, [&](TemplateRecord&& t) { templates.insert(t.template_id); });
        } else if (fs.id == kOptionsTemplateFlowSetId) {
          ParseV9OptionsTemplateFlowSet(
              body, [&](TemplateRecord&& t) { options_templates.insert(t.template_id); });
        }
      }
    }
    EXPECT_EQ(source_ids, ParseIdList(row["v9_source_ids"])) << file;
    if (malformed) continue;
    auto want_templates = ParseIdList(row["template_ids"]);
    // tshark stops at the header Count (softflowd's Count bug); walking by length finds more.
    for (uint32_t id : want_templates) EXPECT_TRUE(templates.count(id)) << file << " template " << id;
    if (row["xcheck_records"] == row["tshark_flow_records_total"]) {
      EXPECT_EQ(templates, want_templates) << file << " got " << absl::StrJoin(templates, ",");
      EXPECT_EQ(options_templates, ParseIdList(row["options_template_ids"])) << file;
    }
    ++checked;
  }
  EXPECT_GT(checked, 40);
}

}  // namespace
}  // namespace nf
