// TemplateCache: full-key semantics, port option, redefinition, bounds, expiry, persistence.
#include "collector/decode/template_cache.h"

#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace nf {
namespace {

ExporterId Exp(uint8_t last, uint16_t port = 5000) {
  const uint8_t a[4] = {192, 0, 2, last};
  return ExporterId{IpAddress::V4(a), port};
}

CachedTemplate Tpl(uint16_t id, std::initializer_list<TemplateField> fields, TimeUs t = 0) {
  CachedTemplate c;
  c.record.template_id = id;
  c.record.fields = fields;
  c.learned_us = t;
  c.min_record_length = 4;
  return c;
}

bool Compile(CachedTemplate& t, uint8_t) {
  t.ops.assign(t.record.fields.size() + t.record.scope_fields.size(), 0);
  t.min_record_length = t.record.RecordLength();
  return true;
}

TEST(TemplateCacheTest, KeyPartsAreAllCompared) {
  TemplateCache cache;
  cache.Add(cache.MakeKey(Exp(1), 9, 0, 256), Tpl(256, {{1, 4, 0}}));
  EXPECT_NE(cache.Find(cache.MakeKey(Exp(1), 9, 0, 256), 0), nullptr);
  EXPECT_EQ(cache.Find(cache.MakeKey(Exp(2), 9, 0, 256), 0), nullptr);   // other exporter
  EXPECT_EQ(cache.Find(cache.MakeKey(Exp(1), 9, 1, 256), 0), nullptr);   // other source ID
  EXPECT_EQ(cache.Find(cache.MakeKey(Exp(1), 10, 0, 256), 0), nullptr);  // IPFIX, not v9
  EXPECT_EQ(cache.Find(cache.MakeKey(Exp(1), 9, 0, 257), 0), nullptr);
  // Without the port option, the port does not matter (RFC 3954 source IP + source ID).
  EXPECT_NE(cache.Find(cache.MakeKey(Exp(1, 6000), 9, 0, 256), 0), nullptr);
}

TEST(TemplateCacheTest, PortInKeyWhenAsked) {
  TemplateCache cache({.key_port = true});
  cache.Add(cache.MakeKey(Exp(1, 5000), 10, 0, 256), Tpl(256, {{1, 4, 0}}));
  EXPECT_NE(cache.Find(cache.MakeKey(Exp(1, 5000), 10, 0, 256), 0), nullptr);
  EXPECT_EQ(cache.Find(cache.MakeKey(Exp(1, 5001), 10, 0, 256), 0), nullptr);
}

TEST(TemplateCacheTest, RedefinitionIsCounted) {
  TemplateCache cache;
  const TemplateKey k = cache.MakeKey(Exp(1), 9, 0, 256);
  EXPECT_EQ(cache.Add(k, Tpl(256, {{1, 4, 0}})), TemplateCache::AddResult::kAdded);
  EXPECT_EQ(cache.Add(k, Tpl(256, {{1, 4, 0}})), TemplateCache::AddResult::kRefreshed);
  EXPECT_EQ(cache.Add(k, Tpl(256, {{1, 8, 0}})), TemplateCache::AddResult::kReplaced);
  EXPECT_EQ(cache.counters().replaced, 1u);
  EXPECT_EQ(cache.Find(k, 0)->record.fields[0].length, 8);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(TemplateCacheTest, BoundedPerExporter) {
  TemplateCache cache({.max_per_exporter = 3});
  for (uint16_t id = 256; id < 266; ++id) cache.Add(cache.MakeKey(Exp(1), 9, 0, id), Tpl(id, {{1, 4, 0}}));
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.counters().refused, 7u);
  // Another exporter has its own budget.
  EXPECT_EQ(cache.Add(cache.MakeKey(Exp(2), 9, 0, 256), Tpl(256, {{1, 4, 0}})),
            TemplateCache::AddResult::kAdded);
  // Withdrawing frees a slot.
  EXPECT_TRUE(cache.Withdraw(cache.MakeKey(Exp(1), 9, 0, 256)));
  EXPECT_EQ(cache.Add(cache.MakeKey(Exp(1), 9, 0, 300), Tpl(300, {{1, 4, 0}})),
            TemplateCache::AddResult::kAdded);
}

TEST(TemplateCacheTest, ExpiryAndWithdrawAll) {
  TemplateCache cache({.ttl_us = 1000});
  cache.Add(cache.MakeKey(Exp(1), 10, 0, 256), Tpl(256, {{1, 4, 0}}, 0));
  cache.Add(cache.MakeKey(Exp(1), 10, 0, 257), Tpl(257, {{1, 4, 0}}, 900));
  EXPECT_EQ(cache.Find(cache.MakeKey(Exp(1), 10, 0, 256), 2000), nullptr);
  EXPECT_EQ(cache.counters().expired, 1u);
  EXPECT_EQ(cache.Expire(1500), 0u);
  EXPECT_EQ(cache.Expire(5000), 1u);
  cache.Add(cache.MakeKey(Exp(1), 10, 0, 258), Tpl(258, {{1, 4, 0}}, 5000));
  cache.Add(cache.MakeKey(Exp(1), 10, 1, 259), Tpl(259, {{1, 4, 0}}, 5000));
  EXPECT_EQ(cache.WithdrawAll(cache.MakeKey(Exp(1), 10, 0, 0), false), 1u);
  EXPECT_EQ(cache.size(), 1u);
}

// Find remembers the entry it returned last; every change to the cache must still show.
TEST(TemplateCacheTest, RepeatedFindsSeeEveryChange) {
  TemplateCache cache({.ttl_us = 1000});
  const TemplateKey a = cache.MakeKey(Exp(1), 10, 0, 256);
  const TemplateKey b = cache.MakeKey(Exp(1), 10, 0, 257);
  cache.Add(a, Tpl(256, {{1, 4, 0}}, 0));
  cache.Add(b, Tpl(257, {{2, 4, 0}}, 0));
  ASSERT_NE(cache.Find(a, 0), nullptr);
  EXPECT_EQ(cache.Find(a, 0)->record.template_id, 256);
  EXPECT_EQ(cache.Find(b, 0)->record.template_id, 257);
  EXPECT_EQ(cache.Find(a, 0)->record.template_id, 256);
  // Redefined in place: the next Find sees the new layout.
  cache.Add(a, Tpl(256, {{1, 8, 0}}, 0));
  EXPECT_EQ(cache.Find(a, 0)->record.fields[0].length, 8);
  // Withdrawn right after a Find: gone, not the remembered node.
  EXPECT_TRUE(cache.Withdraw(a));
  EXPECT_EQ(cache.Find(a, 0), nullptr);
  // Expired while remembered: removed and counted once.
  EXPECT_NE(cache.Find(b, 500), nullptr);
  EXPECT_EQ(cache.Find(b, 2000), nullptr);
  EXPECT_EQ(cache.counters().expired, 1u);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.Find(b, 0), nullptr);
  // Learned again under the same key: found again.
  cache.Add(b, Tpl(257, {{2, 2, 0}}, 3000));
  ASSERT_NE(cache.Find(b, 3000), nullptr);
  EXPECT_EQ(cache.Find(b, 3000)->record.fields[0].length, 2);
  // An exporter's session ending takes the remembered entry with it.
  EXPECT_EQ(cache.RemoveExporter(Exp(1).address, 0), 1u);
  EXPECT_EQ(cache.Find(b, 3000), nullptr);
}

TEST(TemplateCacheTest, SaveAndLoadRoundTrip) {
  testing::TempDir dir;
  const std::string path = dir.File("templates.txt");
  TemplateCache cache;
  CachedTemplate opt = Tpl(300, {{34, 4, 0}, {35, 1, 0}});
  opt.record.is_options = true;
  opt.record.scope_fields = {{1, 0, 0}};
  cache.Add(cache.MakeKey(Exp(1), 9, 7, 300), std::move(opt));
  cache.Add(cache.MakeKey(Exp(2), 10, 1, 256), Tpl(256, {{1, 8, 0}, {82, 65535, 0}, {1, 8, 29305}}));
  ASSERT_TRUE(cache.Save(path).ok());

  TemplateCache loaded;
  size_t n = 0;
  ASSERT_TRUE(loaded.Load(path, Compile, &n).ok());
  EXPECT_EQ(n, 2u);
  const CachedTemplate* a = loaded.Find(loaded.MakeKey(Exp(1), 9, 7, 300), 0);
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->record.is_options);
  EXPECT_EQ(a->record.scope_fields.size(), 1u);
  EXPECT_EQ(a->record.fields.size(), 2u);
  const CachedTemplate* b = loaded.Find(loaded.MakeKey(Exp(2), 10, 1, 256), 0);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->record.fields[2].enterprise, 29305u);
  EXPECT_EQ(b->record.fields[1].length, 65535);
  EXPECT_EQ(b->ops.size(), 3u);  // compiled on load

  // A missing store is a first start, a corrupt one an error naming the line.
  EXPECT_TRUE(loaded.Load(dir.File("absent.txt"), Compile).ok());
  {
    std::ofstream bad(dir.File("bad.txt"));
    bad << "# flowcollect template store v1\nT 192.0.2.1 0 9 0 256 0 0 2 0 1/4/0\n";
  }
  absl::Status st = loaded.Load(dir.File("bad.txt"), Compile);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("line 2"), absl::string_view::npos) << st;
}

}  // namespace
}  // namespace nf
