// flowcollect's enrichment step on decoded records: a networks file, MaxMind's GeoLite2 test
// databases (known answers from ../shared/corpus/enrich/README.md) and an interfaces CSV.
// Exporter values kept, zeros filled, --enrich-override, interfaces by exporter and ifindex, no
// source changing nothing; -A on the new columns; the fan-out sink across a reload.
#include "collector/output/fanout/record_enricher.h"

#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "collector/output/aggregate/aggregator.h"
#include "collector/output/fanout/fanout_sink.h"
#include "collector/output/format/csv_format.h"
#include "enrich/enrichment.h"
#include "gtest/gtest.h"
#include "tests/collector/output_test_record.h"
#include "tests/support/test_support.h"

namespace nf {
namespace {

using output_test::Rec;

constexpr CountryCode kNoCountry{};
CountryCode Code(const char* c) { return CountryCode{c[0], c[1]}; }

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

std::string MaxMind(const std::string& name) {
  const std::string dir = testing::CorpusDir();
  return dir.empty() ? "" : dir + "/enrich/maxmind/" + name;
}

bool Exists(const std::string& path) { return !path.empty() && std::ifstream(path).good(); }

// Operator routes (pmacct networks-file lines), and interfaces of exporters 192.0.2.1 (the test
// records' exporter) and 198.51.100.1.
constexpr char kRoutes[] = "3333,193.0.0.0/21\n64500,10.1.0.0/16\n";
constexpr char kInterfaces[] =
    "# exporter,ifindex,name,description\n"
    "192.0.2.1,10,ge-0/0/0,core\n"
    "192.0.2.1,20,\"xe-1/0/1, uplink\",transit\n"
    "198.51.100.1,10,other-exporter-if\n";

class RecordEnricherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    asn_db_ = MaxMind("GeoLite2-ASN-Test.mmdb");
    geo_db_ = MaxMind("GeoLite2-Country-Test.mmdb");
    if (!Exists(asn_db_) || !Exists(geo_db_)) {
      GTEST_SKIP() << "../shared/corpus/enrich/maxmind/GeoLite2-{ASN,Country}-Test.mmdb not found";
    }
    WriteText(dir_.File("routes.txt"), kRoutes);
    WriteText(dir_.File("interfaces.csv"), kInterfaces);
  }

  EnrichmentConfig Everything() const {
    EnrichmentConfig c;
    c.routes = {dir_.File("routes.txt")};
    c.asn_db = asn_db_;
    c.geo_db = geo_db_;
    c.interfaces = dir_.File("interfaces.csv");
    return c;
  }

  std::shared_ptr<const EnrichmentData> Load(const EnrichmentConfig& config) {
    auto data = EnrichmentData::Load(config);
    EXPECT_TRUE(data.ok()) << data.status();
    return data.ok() ? *data : nullptr;
  }

  testing::TempDir dir_;
  std::string asn_db_;
  std::string geo_db_;
};

TEST_F(RecordEnricherTest, FillsZerosFromRoutesAsnDbCountriesAndInterfaces) {
  auto data = Load(Everything());
  ASSERT_NE(data, nullptr);
  // 193.0.0.1: the networks file's 193.0.0.0/21, AS3333. 1.128.0.1: no route; the ASN
  // database's 1.128.0.0/11, AS1221 (no mask from a database). 2.125.160.216: GB.
  DecodedRecord a = Rec("193.0.0.1", "1.128.0.1", 6, 1, 100);
  a.input_if = 10;
  a.output_if = 20;
  EnrichRecord(*data, false, a);
  EXPECT_EQ(a.src_as, 3333u);
  EXPECT_EQ(a.src_mask, 21);
  EXPECT_EQ(a.dst_as, 1221u);
  EXPECT_EQ(a.dst_mask, 0);
  EXPECT_EQ(a.src_country, kNoCountry);
  EXPECT_EQ(a.dst_country, kNoCountry);
  EXPECT_EQ(a.input_if_name, "ge-0/0/0");
  EXPECT_EQ(a.output_if_name, "xe-1/0/1, uplink");

  DecodedRecord b = Rec("2.125.160.216", "2001:218::1", 17, 1, 100);
  b.input_if = 99;  // not in the file
  EnrichRecord(*data, false, b);
  EXPECT_EQ(b.src_country, Code("GB"));
  EXPECT_EQ(b.dst_country, Code("JP"));
  EXPECT_EQ(b.src_as, 0u);  // README: 2.125.160.216 is not in the ASN test database
  EXPECT_EQ(b.input_if_name, "");
  EXPECT_EQ(b.output_if_name, "");  // ifindex 0: not in the file

  // The same ifindex on another exporter is another interface.
  DecodedRecord c = Rec("10.1.2.3", "10.1.2.4", 6, 1, 1);
  c.exporter.address = *ParseIpAddress("198.51.100.1");
  c.input_if = 10;
  EnrichRecord(*data, false, c);
  EXPECT_EQ(c.input_if_name, "other-exporter-if");
  EXPECT_EQ(c.src_as, 64500u);
  EXPECT_EQ(c.dst_mask, 16);
}

TEST_F(RecordEnricherTest, KeepsExporterValuesUnlessOverridden) {
  auto data = Load(Everything());
  ASSERT_NE(data, nullptr);
  DecodedRecord exported = Rec("193.0.0.1", "1.128.0.1", 6, 1, 100);
  exported.src_as = 65001;
  exported.src_mask = 24;
  exported.dst_as = 65002;  // dst_mask stays 0: filled? only from a route, and there is none
  exported.input_if = 10;
  exported.input_if_name = "from-the-exporter";  // as an exporter-provided name would be

  DecodedRecord kept = exported;
  EnrichRecord(*data, false, kept);
  EXPECT_EQ(kept.src_as, 65001u);
  EXPECT_EQ(kept.src_mask, 24);
  EXPECT_EQ(kept.dst_as, 65002u);
  EXPECT_EQ(kept.dst_mask, 0);
  EXPECT_EQ(kept.input_if_name, "from-the-exporter");

  DecodedRecord overridden = exported;
  EnrichRecord(*data, true, overridden);
  EXPECT_EQ(overridden.src_as, 3333u);
  EXPECT_EQ(overridden.src_mask, 21);
  EXPECT_EQ(overridden.dst_as, 1221u);
  EXPECT_EQ(overridden.input_if_name, "ge-0/0/0");

  // Override takes the sources only where they have an answer.
  DecodedRecord unknown = Rec("192.0.2.77", "192.0.2.78", 6, 1, 1);
  unknown.src_as = 65003;
  unknown.src_mask = 25;
  EnrichRecord(*data, true, unknown);
  EXPECT_EQ(unknown.src_as, 65003u);
  EXPECT_EQ(unknown.src_mask, 25);
}

TEST_F(RecordEnricherTest, OnlyConfiguredSourcesAndNoSourceChangesNothing) {
  // Countries only from --geo-db: with routes alone a record gets AS and mask, no country.
  EnrichmentConfig routes_only;
  routes_only.routes = {dir_.File("routes.txt")};
  auto data = Load(routes_only);
  ASSERT_NE(data, nullptr);
  DecodedRecord r = Rec("193.0.0.1", "2.125.160.216", 6, 1, 1);
  r.input_if = 10;
  EnrichRecord(*data, true, r);
  EXPECT_EQ(r.src_as, 3333u);
  EXPECT_EQ(r.dst_country, kNoCountry);
  EXPECT_EQ(r.input_if_name, "");

  // No enrichment: the fan-out hands the decoder's record over unchanged.
  struct Capture : RecordSink {
    void OnRecord(const DecodedRecord& rec) override { records.push_back(rec); }
    std::vector<DecodedRecord> records;
  } capture;
  FanoutSink plain(nullptr, nullptr, nullptr, &capture, nullptr, false);
  DecodedRecord in = Rec("193.0.0.1", "1.128.0.1", 6, 1, 1);
  in.input_if = 10;
  plain.OnRecord(in);
  plain.EndDatagram();
  ASSERT_EQ(capture.records.size(), 1u);
  EXPECT_EQ(capture.records[0].src_as, 0u);
  EXPECT_EQ(capture.records[0].src_mask, 0);
  EXPECT_EQ(capture.records[0].input_if_name, "");
}

TEST_F(RecordEnricherTest, FanoutEnrichesAndPicksUpAReloadBetweenDatagrams) {
  auto enrichment = Enrichment::Create(Everything());
  ASSERT_TRUE(enrichment.ok()) << enrichment.status();
  struct Capture : RecordSink {
    // Copies what it keeps, as every sink must: the names point into the snapshot.
    void OnRecord(const DecodedRecord& rec) override {
      as.push_back(rec.src_as);
      names.emplace_back(rec.input_if_name);
    }
    std::vector<uint32_t> as;
    std::vector<std::string> names;
  } capture;
  std::mutex mu;  // the multi-worker path: records wait for the end of their datagram
  FanoutSink sink(nullptr, &mu, nullptr, &capture, enrichment->get(), false);
  DecodedRecord in = Rec("193.0.0.1", "1.128.0.1", 6, 1, 1);
  in.input_if = 10;
  sink.OnRecord(in);
  sink.EndDatagram();

  WriteText(dir_.File("routes.txt"), "4444,193.0.0.0/22\n");
  WriteText(dir_.File("interfaces.csv"), "192.0.2.1,10,renamed\n");
  ASSERT_TRUE((*enrichment)->ReloadNow().ok());
  sink.OnRecord(in);  // the datagram after the reload
  sink.OnRecord(in);
  sink.EndDatagram();
  ASSERT_EQ(capture.as.size(), 3u);
  EXPECT_EQ(capture.as[0], 3333u);
  EXPECT_EQ(capture.names[0], "ge-0/0/0");
  EXPECT_EQ(capture.as[2], 4444u);
  EXPECT_EQ(capture.names[2], "renamed");
  EXPECT_EQ((*enrichment)->stats().reloads, 1u);
}

TEST_F(RecordEnricherTest, AggregatesOnTheNewColumns) {
  auto data = Load(Everything());
  ASSERT_NE(data, nullptr);
  std::vector<DecodedRecord> records = {
      Rec("193.0.0.1", "2.125.160.216", 6, 1, 100),    // AS3333 -> GB
      Rec("193.0.0.9", "2.125.160.217", 6, 2, 200),    // AS3333 -> GB
      Rec("1.128.0.1", "2001:218::1", 6, 1, 50),       // AS1221 -> JP
      Rec("1.128.0.1", "2.125.160.216", 17, 1, 7),     // AS1221 -> GB, another port
      Rec("192.0.2.200", "192.0.2.201", 6, 1, 1),      // nothing known
  };
  records[3].dst_port = 53;
  for (size_t i = 0; i < records.size(); ++i) {
    records[i].input_if = i < 2 ? 10 : i < 4 ? 20 : 30;
    EnrichRecord(*data, false, records[i]);
  }
  auto run = [&](const std::string& keys, bool direct) {
    AggregateOptions o;
    o.keys = keys;
    o.direct_index = direct;
    auto a = Aggregator::Create(o);
    EXPECT_TRUE(a.ok()) << a.status();
    if (!a.ok()) return std::string();
    for (const DecodedRecord& r : records) (*a)->Add(r);
    std::string out;
    (*a)->AppendHeader(out);
    (*a)->AppendRowsAndClear(out);
    return out;
  };
  EXPECT_EQ(run("src_as", true),
            "src_as,flows,packets,bytes\n"
            "3333,2,3,300\n"
            "1221,2,2,57\n"
            "0,1,1,1\n");
  const std::string by_country =
      "dst_country,dst_port,flows,packets,bytes\n"
      "GB,80,2,3,300\n"
      "JP,80,1,1,50\n"
      "GB,53,1,1,7\n"
      ",80,1,1,1\n";
  EXPECT_EQ(run("dst_country,dst_port", false), by_country);
  // Countries alone are narrow enough for the direct index; same groups as hashing.
  auto direct = Aggregator::Create(AggregateOptions{.keys = "dst_country"});
  ASSERT_TRUE(direct.ok());
  EXPECT_TRUE((*direct)->indexes_directly());
  EXPECT_EQ(run("dst_country", true), run("dst_country", false));
  // Names are CSV-quoted when they hold a comma, in -A output as in raw rows.
  EXPECT_EQ(run("input_if_name", true),
            "input_if_name,flows,packets,bytes\n"
            "ge-0/0/0,2,3,300\n"
            "\"xe-1/0/1, uplink\",2,2,57\n"
            ",1,1,1\n");
  auto csv = CsvFormatter::Create("src_addr,src_as,src_mask,dst_country,input_if_name");
  ASSERT_TRUE(csv.ok());
  std::string rows;
  csv->AppendRow(records[0], rows);
  csv->AppendRow(records[2], rows);
  EXPECT_EQ(rows,
            "193.0.0.1,3333,21,GB,ge-0/0/0\n"
            "1.128.0.1,1221,0,JP,\"xe-1/0/1, uplink\"\n");
}

TEST(RecordColumnsTest, LongAndQuotedNamesStayWithinTheColumnBounds) {
  // A 64-byte name of quotes: the longest text a column can print, and a 65-byte group key.
  const std::string quotes(kMaxTextColumnBytes, '"');
  DecodedRecord a = Rec("10.0.0.1", "10.0.0.2", 6, 1, 1);
  DecodedRecord b = a;
  a.input_if_name = quotes;
  const std::string longer = quotes + "tail";  // cut at kMaxTextColumnBytes: same group
  b.input_if_name = longer;
  auto agg = Aggregator::Create(AggregateOptions{.keys = "input_if_name,src_addr"});
  ASSERT_TRUE(agg.ok());
  (*agg)->Add(a);
  (*agg)->Add(b);
  EXPECT_EQ((*agg)->groups(), 1u);
  std::string out;
  (*agg)->AppendRowsAndClear(out);
  EXPECT_EQ(out, "\"" + std::string(2 * kMaxTextColumnBytes, '"') + "\",10.0.0.1,2,2,2\n");
  EXPECT_LE(2 * kMaxTextColumnBytes + 2, kMaxCsvColumnChars);
}

}  // namespace
}  // namespace nf
