// The enrichment snapshot and its sources: MaxMind lookups against mmdblookup on MaxMind's test
// databases (and their two deliberately broken files), the interface CSV, the precedence of
// routes over the ASN database, reloads (synchronous, requested, failing, concurrent with
// readers) and the shared command-line options.
#include "enrich/enrichment.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "enrich/enrichment_cli.h"
#include "enrich/interface_table.h"
#include "enrich/mmdb_reader.h"
#include "tests/support/test_support.h"

namespace nf {
namespace {

using ::testing::HasSubstr;

IpAddress Ip(const std::string& text) {
  absl::StatusOr<IpAddress> a = ParseIpAddress(text);
  EXPECT_TRUE(a.ok()) << text;
  return a.ok() ? *a : IpAddress{};
}

std::string Country(const CountryCode& c) {
  return c[0] == 0 ? std::string() : std::string(c.data(), 2);
}

void WriteFile(const std::string& path, const std::string& text) {
  // Write then rename, as an operator's tooling would, so a reload never reads half a file.
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    ASSERT_TRUE(out.good()) << tmp;
  }
  ASSERT_EQ(std::rename(tmp.c_str(), path.c_str()), 0) << path;
}

// A MaxMind corpus file, or empty (the caller skips) when the corpus lacks it.
std::string MaxmindFile(const std::string& name) {
  const std::string dir = testing::CorpusDir();
  if (dir.empty()) return "";
  const std::string path = dir + "/enrich/maxmind/" + name;
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? path : "";
}

#define REQUIRE_MAXMIND(var, name)                                                         \
  const std::string var = MaxmindFile(name);                                               \
  if (var.empty())                                                                         \
    GTEST_SKIP() << "../shared/corpus/enrich/maxmind/" << (name)                           \
                 << " not found: MaxMind tests need the shared corpus"

// ----- MmdbReader against mmdblookup ------------------------------------------------------

// For every network of a source JSON, its first and last address and what mmdblookup answers
// there ("-" when not found), one "ADDR\tVALUE" line each. Python reads the JSON (the project
// has no JSON library) and runs mmdblookup a few at a time.
constexpr char kTruthScript[] = R"PY(
import ipaddress, json, re, subprocess, sys
from concurrent.futures import ThreadPoolExecutor
src, db, kind = sys.argv[1:4]
path = ['autonomous_system_number'] if kind == 'asn' else ['country', 'iso_code']
addrs = []
for entry in json.load(open(src)):
    for net in entry:
        n = ipaddress.ip_network(net, strict=False)
        addrs += [str(n.network_address), str(n.broadcast_address)]
def look(a):
    p = subprocess.run(['mmdblookup', '--file', db, '--ip', a] + path,
                       capture_output=True, text=True)
    m = re.search(r'^\s*(?:(\d+) <uint32>|"([^"]*)" <utf8_string>)', p.stdout, re.M)
    if p.returncode == 0 and m:
        return a + '\t' + (m.group(1) or m.group(2))
    if 'Could not find an entry' in p.stdout or 'does not match the data' in p.stderr:
        return a + '\t-'
    return a + '\tERROR rc=%d %s' % (p.returncode, (p.stdout + p.stderr).strip())
with ThreadPoolExecutor(4) as ex:
    for line in ex.map(look, addrs):
        print(line)
)PY";

struct TruthRow {
  std::string address;
  std::string value;  // "-" when not found
};

std::vector<TruthRow> MmdblookupTruth(const std::string& json, const std::string& db,
                                      const std::string& kind, std::string* error) {
  testing::TempDir tmp;
  const std::string script = tmp.File("truth.py");
  {
    std::ofstream out(script);
    out << kTruthScript;
  }
  std::string out;
  const int rc = testing::RunCommand(
      absl::StrCat("python3 '", script, "' '", json, "' '", db, "' ", kind), &out);
  std::vector<TruthRow> rows;
  if (rc != 0) {
    *error = absl::StrCat("python3 exited with ", rc);
    return rows;
  }
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits('\t', 1));
    if (f.size() != 2) {
      *error = absl::StrCat("bad line: ", line);
      return {};
    }
    rows.push_back({f[0], f[1]});
  }
  return rows;
}

class MmdbTruthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::HaveTool("mmdblookup")) {
      GTEST_SKIP() << "mmdblookup is not installed (scripts/setup-deps.sh lists it)";
    }
    if (!testing::HaveTool("python3")) GTEST_SKIP() << "python3 is not installed";
  }
};

TEST_F(MmdbTruthTest, AsnDatabaseAgreesWithMmdblookup) {
  REQUIRE_MAXMIND(db, "GeoLite2-ASN-Test.mmdb");
  REQUIRE_MAXMIND(json, "source-data/GeoLite2-ASN-Test.json");
  absl::StatusOr<std::unique_ptr<MmdbReader>> reader = MmdbReader::Open(db);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->database_type(), "GeoLite2-ASN");
  std::string error;
  const std::vector<TruthRow> truth = MmdblookupTruth(json, db, "asn", &error);
  ASSERT_TRUE(error.empty()) << error;
  ASSERT_EQ(truth.size(), 720u * 2);
  size_t found = 0, v6 = 0;
  for (const TruthRow& row : truth) {
    ASSERT_FALSE(absl::StartsWith(row.value, "ERROR")) << row.address << ": " << row.value;
    uint32_t want = 0;
    if (row.value != "-") {
      ASSERT_TRUE(absl::SimpleAtoi(row.value, &want)) << row.value;
    }
    const IpAddress a = Ip(row.address);
    EXPECT_EQ((*reader)->LookupAsn(a), want) << row.address;
    found += want != 0;
    v6 += a.is_v6() && want != 0;
  }
  // The first address of every network is in the database (the README's 720/720).
  EXPECT_GE(found, 720u);
  EXPECT_GT(v6, 0u);
  EXPECT_EQ((*reader)->lookup_errors(), 0u);
}

TEST_F(MmdbTruthTest, CountryDatabaseAgreesWithMmdblookup) {
  REQUIRE_MAXMIND(db, "GeoLite2-Country-Test.mmdb");
  REQUIRE_MAXMIND(json, "source-data/GeoLite2-Country-Test.json");
  absl::StatusOr<std::unique_ptr<MmdbReader>> reader = MmdbReader::Open(db);
  ASSERT_TRUE(reader.ok()) << reader.status();
  std::string error;
  const std::vector<TruthRow> truth = MmdblookupTruth(json, db, "country", &error);
  ASSERT_TRUE(error.empty()) << error;
  ASSERT_EQ(truth.size(), 244u * 2);
  size_t found = 0, missing = 0;
  for (const TruthRow& row : truth) {
    ASSERT_FALSE(absl::StartsWith(row.value, "ERROR")) << row.address << ": " << row.value;
    const std::string want = row.value == "-" ? "" : row.value;
    EXPECT_EQ(Country((*reader)->LookupCountry(Ip(row.address))), want) << row.address;
    found += !want.empty();
    missing += want.empty();
  }
  EXPECT_GE(found, 242u);
  // The 2 networks without a country: a record without the key is not found, not an error.
  EXPECT_GE(missing, 2u);
  EXPECT_EQ((*reader)->lookup_errors(), 0u);
}

TEST(MmdbReaderTest, KnownAnswersAndAddressForms) {
  REQUIRE_MAXMIND(asn_path, "GeoLite2-ASN-Test.mmdb");
  REQUIRE_MAXMIND(country_path, "GeoLite2-Country-Test.mmdb");
  auto asn = MmdbReader::Open(asn_path);
  auto country = MmdbReader::Open(country_path);
  ASSERT_TRUE(asn.ok()) << asn.status();
  ASSERT_TRUE(country.ok()) << country.status();
  EXPECT_EQ((*asn)->LookupAsn(Ip("1.128.0.1")), 1221u);
  EXPECT_EQ((*asn)->LookupAsn(Ip("2600:6000::1")), 237u);
  EXPECT_EQ((*asn)->LookupAsn(Ip("1.1.1.1")), 0u);
  // IPv4-mapped IPv6 is looked up as the IPv4 address.
  EXPECT_EQ((*asn)->LookupAsn(Ip("::ffff:1.128.0.1")), 1221u);
  EXPECT_EQ((*asn)->LookupAsn(IpAddress{}), 0u);
  EXPECT_EQ(Country((*country)->LookupCountry(Ip("2.125.160.216"))), "GB");
  EXPECT_EQ(Country((*country)->LookupCountry(Ip("::ffff:2.125.160.216"))), "GB");
  EXPECT_EQ(Country((*country)->LookupCountry(Ip("2001:218::1"))), "JP");
  EXPECT_EQ(Country((*country)->LookupCountry(Ip("1.1.1.1"))), "");
  // The ASN database has no country, the Country database no AS number: not found, no error.
  EXPECT_EQ(Country((*asn)->LookupCountry(Ip("1.128.0.1"))), "");
  EXPECT_EQ((*country)->LookupAsn(Ip("2.125.160.216")), 0u);
  EXPECT_EQ((*asn)->lookup_errors(), 0u);
  EXPECT_EQ((*country)->lookup_errors(), 0u);
}

TEST(MmdbReaderTest, OpenErrorsNameTheFile) {
  testing::TempDir tmp;
  const std::string missing = tmp.File("missing.mmdb");
  auto r = MmdbReader::Open(missing);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(missing));

  const std::string text = tmp.File("text.mmdb");
  WriteFile(text, "192.0.2.0/24 64500\n");
  r = MmdbReader::Open(text);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(text));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("not a valid MaxMind database"));

  const std::string empty = tmp.File("empty.mmdb");
  WriteFile(empty, "");
  r = MmdbReader::Open(empty);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(empty));
}

// The deliberately broken files (type "Test", records {"ip": ...}, IPv4 tree): lookups that
// meet the corruption answer "not found" and are counted, and nothing crashes (ASan in CI).
// Their records hold no AS number or country, so a readable one answers "not found" too,
// without an error.
TEST(MmdbReaderTest, BrokenPointersDatabase) {
  REQUIRE_MAXMIND(path, "MaxMind-DB-test-broken-pointers-24.mmdb");
  auto r = MmdbReader::Open(path);
  ASSERT_TRUE(r.ok()) << r.status();
  const MmdbReader& db = **r;
  EXPECT_EQ(db.database_type(), "Test");
  EXPECT_EQ(db.LookupAsn(Ip("1.1.1.1")), 0u);
  EXPECT_EQ(db.lookup_errors(), 0u);
  // 1.1.1.32: the search tree points past its end.
  EXPECT_EQ(db.LookupAsn(Ip("1.1.1.32")), 0u);
  EXPECT_EQ(db.lookup_errors(), 1u);
  EXPECT_EQ(Country(db.LookupCountry(Ip("1.1.1.32"))), "");
  EXPECT_EQ(db.lookup_errors(), 2u);
  // 1.1.1.16-31: a pointer in the data section points nowhere.
  const uint64_t before = db.lookup_errors();
  for (int i = 16; i < 32; ++i) {
    EXPECT_EQ(db.LookupAsn(Ip(absl::StrCat("1.1.1.", i))), 0u);
  }
  EXPECT_EQ(db.lookup_errors(), before + 16);
  // IPv6 in an IPv4-only database: not found, not an error.
  const uint64_t v4_errors = db.lookup_errors();
  EXPECT_EQ(db.LookupAsn(Ip("2001:db8::1")), 0u);
  EXPECT_EQ(db.lookup_errors(), v4_errors);
  // Every address of 1.1.1.0/24 and a sweep of the space: no crash, only counted errors.
  for (uint32_t i = 0; i < 256; ++i) (void)db.LookupCountry(IpAddress::V4(0x01010100u + i));
  for (uint64_t a = 0; a <= 0xffffffffu; a += 0x00fff1u) {
    (void)db.LookupAsn(IpAddress::V4(static_cast<uint32_t>(a)));
  }
}

TEST(MmdbReaderTest, BrokenSearchTreeDatabase) {
  REQUIRE_MAXMIND(path, "MaxMind-DB-test-broken-search-tree-24.mmdb");
  auto r = MmdbReader::Open(path);
  ASSERT_TRUE(r.ok()) << r.status();
  const MmdbReader& db = **r;
  for (int i = 1; i <= 32; ++i) EXPECT_EQ(db.LookupAsn(Ip(absl::StrCat("1.1.1.", i))), 0u);
  EXPECT_EQ(db.lookup_errors(), 0u);
  EXPECT_EQ(db.LookupAsn(Ip("128.128.128.128")), 0u);
  EXPECT_EQ(db.LookupAsn(Ip("255.255.255.255")), 0u);
  EXPECT_EQ(db.lookup_errors(), 2u);
  // A sweep of the space: no crash (which addresses fail beyond those two is not pinned down).
  for (uint64_t a = 0; a <= 0xffffffffu; a += 0x00fff1u) {
    (void)db.LookupCountry(IpAddress::V4(static_cast<uint32_t>(a)));
  }
}

// ----- InterfaceTable ---------------------------------------------------------------------

TEST(InterfaceTableTest, ParsesQuotedFieldsIpv6AndOptionalColumns) {
  const std::string csv =
      "# exporter,ifindex,name,description,speed\n"
      "\n"
      "192.0.2.1,1,ge-0/0/0,\"uplink, to transit\",10000000000\n"
      "192.0.2.1, 2 ,xe-0/0/1\r\n"
      "\"2001:db8::1\",4294967295,\"et-\"\"1\"\"\",\"two\nlines\",\n"
      "::ffff:198.51.100.7,3,lo0,loopback\n"
      "  # an indented comment\n"
      "2001:db8::1,7,eth7,,100\n";
  absl::StatusOr<InterfaceTable> t = InterfaceTable::Parse("ifaces.csv", csv);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->size(), 5u);
  const InterfaceInfo* i = t->Find(Ip("192.0.2.1"), 1);
  ASSERT_NE(i, nullptr);
  EXPECT_EQ(i->name, "ge-0/0/0");
  EXPECT_EQ(i->description, "uplink, to transit");
  EXPECT_EQ(i->speed, 10'000'000'000u);
  i = t->Find(Ip("192.0.2.1"), 2);
  ASSERT_NE(i, nullptr);
  EXPECT_EQ(i->name, "xe-0/0/1");
  EXPECT_EQ(i->description, "");
  EXPECT_EQ(i->speed, 0u);
  i = t->Find(Ip("2001:db8::1"), 4294967295u);
  ASSERT_NE(i, nullptr);
  EXPECT_EQ(i->name, "et-\"1\"");
  EXPECT_EQ(i->description, "two\nlines");
  i = t->Find(Ip("2001:db8::1"), 7);
  ASSERT_NE(i, nullptr);
  EXPECT_EQ(i->speed, 100u);
  // A mapped exporter in the file and in a flow both meet the IPv4 entry.
  ASSERT_NE(t->Find(Ip("198.51.100.7"), 3), nullptr);
  ASSERT_NE(t->Find(Ip("::ffff:192.0.2.1"), 1), nullptr);
  EXPECT_EQ(t->Find(Ip("::ffff:192.0.2.1"), 1)->name, "ge-0/0/0");
  EXPECT_EQ(t->Find(Ip("192.0.2.1"), 3), nullptr);
  EXPECT_EQ(t->Find(Ip("192.0.2.2"), 1), nullptr);
  EXPECT_EQ(t->Find(Ip("2001:db8::2"), 7), nullptr);
}

TEST(InterfaceTableTest, HeaderLineIsSkipped) {
  auto t = InterfaceTable::Parse("h.csv", "exporter,ifindex,name\n192.0.2.1,5,eth5\n");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->size(), 1u);
  // Anywhere but the first record it is a bad address.
  t = InterfaceTable::Parse("h.csv", "192.0.2.1,5,eth5\nexporter,ifindex,name\n");
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("h.csv:2:"));
}

TEST(InterfaceTableTest, ErrorsNameFileAndLine) {
  struct Case {
    std::string text;
    std::string want;  // substring of the message
  };
  const std::string ok = "# comment\n192.0.2.1,1,eth1\n";  // lines 1-2
  const std::vector<Case> cases = {
      {ok + "192.0.2.300,2,eth2\n", "if.csv:3: exporter '192.0.2.300'"},
      {ok + "192.0.2.1,x,eth2\n", "if.csv:3: ifindex 'x'"},
      {ok + "192.0.2.1,-1,eth2\n", "if.csv:3: ifindex '-1'"},
      {ok + "192.0.2.1,4294967296,eth2\n", "if.csv:3: ifindex"},
      {ok + "192.0.2.1,,eth2\n", "if.csv:3: ifindex"},
      {ok + "\n192.0.2.1,1,again\n",
       "if.csv:4: exporter 192.0.2.1 ifindex 1 was already given on line 2"},
      {ok + "::ffff:192.0.2.1,1,again\n", "was already given on line 2"},
      {ok + "192.0.2.1,2\n", "if.csv:3: missing interface name"},
      {ok + "192.0.2.1,2,\"\"\n", "if.csv:3: missing interface name"},
      {ok + "192.0.2.1,2," + std::string(65, 'n') + "\n", "if.csv:3: interface name is 65 bytes"},
      {ok + "192.0.2.1,2,eth2,d,fast\n", "if.csv:3: speed 'fast'"},
      {ok + "192.0.2.1,2,eth2,d,1,extra\n", "if.csv:3: 6 fields"},
      {ok + "192.0.2.1,2,\"eth2\n\n", "if.csv:3: unterminated quoted field"},
      {ok + "192.0.2.1,2,\"eth2\"x\n", "if.csv:3: text after a closing quote"},
      {ok + "192.0.2.1,2,eth\"2\n", "if.csv:3: a quote inside an unquoted field"},
      // Line numbers count the line breaks inside quoted fields.
      {ok + "192.0.2.1,2,eth2,\"a\nb\"\n192.0.2.1,x,eth3\n", "if.csv:5: ifindex 'x'"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<InterfaceTable> t = InterfaceTable::Parse("if.csv", c.text);
    ASSERT_FALSE(t.ok()) << c.text;
    EXPECT_THAT(std::string(t.status().message()), HasSubstr(c.want)) << c.text;
  }
  // A name of exactly the limit is fine.
  EXPECT_TRUE(
      InterfaceTable::Parse("if.csv", ok + "192.0.2.1,2," + std::string(64, 'n') + "\n").ok());
}

TEST(InterfaceTableTest, LoadNamesTheFile) {
  testing::TempDir tmp;
  const std::string path = tmp.File("ifaces.csv");
  auto t = InterfaceTable::Load(path);
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(std::string(t.status().message()), HasSubstr(path));
  WriteFile(path, "192.0.2.1,1,eth1\n192.0.2.1,bad,eth2\n");
  t = InterfaceTable::Load(path);
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(std::string(t.status().message()), HasSubstr(path + ":2: ifindex 'bad'"));
  WriteFile(path, "192.0.2.1,1,eth1\n");
  t = InterfaceTable::Load(path);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->size(), 1u);
}

// ----- EnrichmentData ---------------------------------------------------------------------

TEST(EnrichmentDataTest, RoutesBeatTheAsnDatabaseWhichFillsTheRest) {
  REQUIRE_MAXMIND(asn_db, "GeoLite2-ASN-Test.mmdb");
  REQUIRE_MAXMIND(geo_db, "GeoLite2-Country-Test.mmdb");
  testing::TempDir tmp;
  EnrichmentConfig config;
  config.routes = {tmp.File("networks.txt")};
  // 1.128.0.0/11 is AS1221 in the ASN database; the route says otherwise for a /16 of it.
  WriteFile(config.routes[0],
            "1.128.0.0/16 64500\n"
            "2.125.160.0/24 64501\n"
            "2600:6000::/32 64502\n"
            "192.0.2.0/24 64503\n"
            "1.130.0.0/16\n");  // a route without an origin AS
  config.asn_db = asn_db;
  config.geo_db = geo_db;
  config.interfaces = tmp.File("ifaces.csv");
  WriteFile(config.interfaces, "192.0.2.1,3,ge-0/0/3,core\n");
  auto loaded = EnrichmentData::Load(config);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const EnrichmentData& d = **loaded;
  EXPECT_TRUE(d.has_routes());
  EXPECT_TRUE(d.has_asn_db());
  EXPECT_TRUE(d.has_geo_db());
  EXPECT_TRUE(d.has_interfaces());
  EXPECT_EQ(d.routes().ipv4_prefixes(), 4u);
  EXPECT_EQ(d.routes().ipv6_prefixes(), 1u);

  AddressInfo info = d.Lookup(Ip("1.128.0.1"));  // the route
  EXPECT_EQ(info.origin_as, 64500u);
  EXPECT_EQ(info.mask, 16);
  info = d.Lookup(Ip("1.129.0.1"));  // no route: the database, no mask
  EXPECT_EQ(info.origin_as, 1221u);
  EXPECT_EQ(info.mask, 0);
  info = d.Lookup(Ip("1.130.0.1"));  // a route without an origin: its mask, the database's AS
  EXPECT_EQ(info.origin_as, 1221u);
  EXPECT_EQ(info.mask, 16);
  info = d.Lookup(Ip("::ffff:1.129.0.1"));
  EXPECT_EQ(info.origin_as, 1221u);
  info = d.Lookup(Ip("2.125.160.216"));  // route AS, database country
  EXPECT_EQ(info.origin_as, 64501u);
  EXPECT_EQ(info.mask, 24);
  EXPECT_EQ(Country(info.country), "GB");
  info = d.Lookup(Ip("2600:6000::1"));
  EXPECT_EQ(info.origin_as, 64502u);
  EXPECT_EQ(info.mask, 32);
  info = d.Lookup(Ip("2600:6001::1"));  // outside the route, inside the database's network
  EXPECT_EQ(info.origin_as, 237u);
  EXPECT_EQ(info.mask, 0);
  info = d.Lookup(Ip("2001:218::1"));
  EXPECT_EQ(Country(info.country), "JP");
  info = d.Lookup(Ip("198.51.100.1"));  // nowhere
  EXPECT_EQ(info.origin_as, 0u);
  EXPECT_EQ(info.mask, 0);
  EXPECT_EQ(Country(info.country), "");
  // LookupAs: the same AS and mask, never a country.
  info = d.LookupAs(Ip("2.125.160.216"));
  EXPECT_EQ(info.origin_as, 64501u);
  EXPECT_EQ(info.mask, 24);
  EXPECT_EQ(Country(info.country), "");
  ASSERT_NE(d.Interface(Ip("192.0.2.1"), 3), nullptr);
  EXPECT_EQ(d.Interface(Ip("192.0.2.1"), 3)->description, "core");
  EXPECT_EQ(d.lookup_errors(), 0u);

  const std::string summary = d.Summary();
  EXPECT_THAT(summary, HasSubstr("routes: 4 IPv4 + 1 IPv6 prefixes"));
  EXPECT_THAT(summary, HasSubstr("GeoLite2-ASN"));
  EXPECT_THAT(summary, HasSubstr("GeoLite2-Country"));
  EXPECT_THAT(summary, HasSubstr("interfaces: 1"));
}

TEST(EnrichmentDataTest, AsnDatabaseAlone) {
  REQUIRE_MAXMIND(asn_db, "GeoLite2-ASN-Test.mmdb");
  EnrichmentConfig config;
  config.asn_db = asn_db;
  auto loaded = EnrichmentData::Load(config);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_FALSE((*loaded)->has_routes());
  EXPECT_FALSE((*loaded)->has_geo_db());
  const AddressInfo info = (*loaded)->Lookup(Ip("1.128.0.1"));
  EXPECT_EQ(info.origin_as, 1221u);
  EXPECT_EQ(info.mask, 0);
  EXPECT_EQ((*loaded)->Interface(Ip("192.0.2.1"), 1), nullptr);
}

TEST(EnrichmentDataTest, DatabaseOfTheWrongKindIsRefused) {
  REQUIRE_MAXMIND(asn_db, "GeoLite2-ASN-Test.mmdb");
  REQUIRE_MAXMIND(geo_db, "GeoLite2-Country-Test.mmdb");
  EnrichmentConfig swapped;
  swapped.asn_db = geo_db;
  auto loaded = EnrichmentData::Load(swapped);
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr(geo_db));
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("--asn-db"));
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("GeoLite2-Country"));
  swapped = {};
  swapped.geo_db = asn_db;
  loaded = EnrichmentData::Load(swapped);
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr(asn_db));
  EXPECT_THAT(std::string(loaded.status().message()), HasSubstr("GeoLite2-ASN"));
}

// ----- Enrichment: create and reload ------------------------------------------------------

std::string Networks(int version) {
  return absl::StrCat("192.0.2.0/24 ", 64500 + version, "\n198.51.100.0/24 ", 65000 + version,
                      "\n");
}

TEST(EnrichmentTest, CreateFailsNamingTheFile) {
  testing::TempDir tmp;
  EnrichmentConfig config;
  config.routes = {tmp.File("missing.txt")};
  auto e = Enrichment::Create(config);
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(std::string(e.status().message()), HasSubstr(config.routes[0]));
  EXPECT_TRUE(absl::IsNotFound(e.status())) << e.status();

  WriteFile(config.routes[0], "192.0.2.0/24 64500\nnot a route\n");
  e = Enrichment::Create(config);
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(std::string(e.status().message()), HasSubstr(config.routes[0] + ":2"));
  // Bad data, not a usage mistake: the tools exit 1 for it.
  EXPECT_TRUE(absl::IsDataLoss(e.status())) << e.status();

  config.routes.clear();
  config.asn_db = tmp.File("missing.mmdb");
  e = Enrichment::Create(config);
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(std::string(e.status().message()), HasSubstr(config.asn_db));

  config.asn_db.clear();
  config.interfaces = tmp.File("bad.csv");
  WriteFile(config.interfaces, "192.0.2.1,1,eth1\n192.0.2.1,1,eth1\n");
  e = Enrichment::Create(config);
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(std::string(e.status().message()), HasSubstr(config.interfaces + ":2"));
}

TEST(EnrichmentTest, ReloadNowSwapsOrKeepsTheOldData) {
  testing::TempDir tmp;
  EnrichmentConfig config;
  config.routes = {tmp.File("networks.txt")};
  WriteFile(config.routes[0], Networks(0));
  auto created = Enrichment::Create(config);
  ASSERT_TRUE(created.ok()) << created.status();
  Enrichment& e = **created;
  EXPECT_EQ(e.generation(), 1u);
  EnrichmentView view(&e);
  const EnrichmentData* d = view.Get();
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->LookupAs(Ip("192.0.2.1")).origin_as, 64500u);

  WriteFile(config.routes[0], Networks(1));
  ASSERT_TRUE(e.ReloadNow().ok());
  EXPECT_EQ(e.generation(), 2u);
  d = view.Get();
  EXPECT_EQ(d->LookupAs(Ip("192.0.2.1")).origin_as, 64501u);
  EXPECT_EQ(d->LookupAs(Ip("198.51.100.1")).origin_as, 65001u);
  EXPECT_EQ(e.stats().reloads, 1u);

  // A corrupt file: the error names file and line, the old data stays.
  WriteFile(config.routes[0], "192.0.2.0/24 64509\ngarbage here\n");
  absl::Status s = e.ReloadNow();
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr(config.routes[0] + ":2"));
  EXPECT_EQ(e.generation(), 2u);
  EXPECT_EQ(view.Get(), d);
  EXPECT_EQ(view.Get()->LookupAs(Ip("192.0.2.1")).origin_as, 64501u);
  EXPECT_EQ(e.Current()->LookupAs(Ip("192.0.2.1")).origin_as, 64501u);
  EnrichmentStats stats = e.stats();
  EXPECT_EQ(stats.reload_failures, 1u);
  EXPECT_EQ(stats.reloads, 1u);
  EXPECT_EQ(stats.generation, 2u);

  // A deleted file: the same.
  ASSERT_EQ(unlink(config.routes[0].c_str()), 0);
  s = e.ReloadNow();
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr(config.routes[0]));
  EXPECT_EQ(e.generation(), 2u);
  EXPECT_EQ(view.Get()->LookupAs(Ip("198.51.100.1")).origin_as, 65001u);
  EXPECT_EQ(e.stats().reload_failures, 2u);

  // Back again.
  WriteFile(config.routes[0], Networks(2));
  ASSERT_TRUE(e.ReloadNow().ok());
  EXPECT_EQ(e.generation(), 3u);
  EXPECT_EQ(view.Get()->LookupAs(Ip("192.0.2.1")).origin_as, 64502u);
  EXPECT_EQ(e.stats().reloads, 2u);
}

TEST(EnrichmentTest, RequestReloadLoadsOnItsThread) {
  testing::TempDir tmp;
  EnrichmentConfig config;
  config.routes = {tmp.File("networks.txt")};
  WriteFile(config.routes[0], Networks(0));
  auto created = Enrichment::Create(config);
  ASSERT_TRUE(created.ok()) << created.status();
  Enrichment& e = **created;
  WriteFile(config.routes[0], Networks(1));
  e.RequestReload();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (e.generation() == 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(e.generation(), 2u);
  EXPECT_EQ(e.Current()->LookupAs(Ip("192.0.2.1")).origin_as, 64501u);

  // A failing requested reload is counted and keeps the data.
  WriteFile(config.routes[0], "bad\n");
  e.RequestReload();
  const auto deadline2 = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (e.stats().reload_failures == 0 && std::chrono::steady_clock::now() < deadline2) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(e.stats().reload_failures, 1u);
  EXPECT_EQ(e.generation(), 2u);
  EXPECT_EQ(e.Current()->LookupAs(Ip("192.0.2.1")).origin_as, 64501u);
  // A request pending at destruction does not hang it.
  e.RequestReload();
}

TEST(EnrichmentTest, ReadersSeeWholeSnapshotsDuringReloads) {
  testing::TempDir tmp;
  EnrichmentConfig config;
  config.routes = {tmp.File("networks.txt")};
  WriteFile(config.routes[0], Networks(0));
  // With a database too when the corpus has one: each reload maps the file anew while readers
  // may still hold the previous mapping.
  config.asn_db = MaxmindFile("GeoLite2-ASN-Test.mmdb");
  auto created = Enrichment::Create(config);
  ASSERT_TRUE(created.ok()) << created.status();
  Enrichment& e = **created;
  constexpr int kReloads = 20;
  std::atomic<bool> done{false};
  std::atomic<uint64_t> mismatches{0};
  std::atomic<uint64_t> lookups{0};
  const auto reader = [&] {
    EnrichmentView view(&e);
    const IpAddress a = IpAddress::V4(0xc0000201u);  // 192.0.2.1
    const IpAddress b = IpAddress::V4(0xc6336401u);  // 198.51.100.1
    const IpAddress c = IpAddress::V4(0x01800001u);  // 1.128.0.1, AS1221 in the ASN database
    // Bounded even if the main thread stalls.
    for (int i = 0; i < 5'000'000 && !done.load(std::memory_order_relaxed); ++i) {
      const EnrichmentData* d = view.Get();
      const uint32_t x = d->LookupAs(a).origin_as;
      const uint32_t y = d->LookupAs(b).origin_as;
      // Both answers come from the same file version.
      if (x < 64500 || x - 64500 != y - 65000) mismatches.fetch_add(1);
      if (d->has_asn_db() && d->LookupAs(c).origin_as != 1221) mismatches.fetch_add(1);
      lookups.fetch_add(1, std::memory_order_relaxed);
    }
  };
  std::thread t1(reader), t2(reader);
  for (int v = 1; v <= kReloads; ++v) {
    WriteFile(config.routes[0], Networks(v));
    ASSERT_TRUE(e.ReloadNow().ok());
  }
  e.RequestReload();  // and one through the reload thread, racing the readers too
  done = true;
  t1.join();
  t2.join();
  EXPECT_EQ(mismatches.load(), 0u);
  EXPECT_GT(lookups.load(), 0u);
  EXPECT_GE(e.generation(), uint64_t{kReloads} + 1);
  EXPECT_EQ(e.Current()->LookupAs(Ip("192.0.2.1")).origin_as, 64500u + kReloads);
}

TEST(EnrichmentTest, ViewWithoutEnrichmentIsNull) {
  EnrichmentView view(nullptr);
  EXPECT_EQ(view.Get(), nullptr);
}

// ----- Command line -----------------------------------------------------------------------

TEST(EnrichmentCliTest, CollectorAndExporterOptions) {
  testing::TempDir tmp;
  const std::string a = tmp.File("a.txt"), b = tmp.File("b.txt"), db = tmp.File("x.mmdb");
  WriteFile(a, "");
  WriteFile(b, "");
  WriteFile(db, "");
  {
    CLI::App app;
    EnrichmentConfig config;
    AddEnrichmentOptions(app, config, /*for_collector=*/true);
    std::vector<std::string> args = {"--interfaces", a, "--geo-db", db, "--asn-db", db,
                                     "--routes",     b, "--routes", a};
    std::reverse(args.begin(), args.end());  // CLI11 parses a reversed vector
    ASSERT_NO_THROW(app.parse(args));
    EXPECT_EQ(config.routes, (std::vector<std::string>{b, a}));
    EXPECT_EQ(config.asn_db, db);
    EXPECT_EQ(config.geo_db, db);
    EXPECT_EQ(config.interfaces, a);
    EXPECT_TRUE(config.any());
    EXPECT_THAT(app.help(), HasSubstr("Enrichment"));
    EXPECT_THAT(app.help(), HasSubstr("SIGHUP reloads"));
  }
  {
    CLI::App app;
    EnrichmentConfig config;
    AddEnrichmentOptions(app, config, /*for_collector=*/false);
    std::vector<std::string> args = {"--routes", a};
    ASSERT_NO_THROW(app.parse(std::vector<std::string>(args.rbegin(), args.rend())));
    EXPECT_EQ(config.routes, std::vector<std::string>{a});
    EXPECT_EQ(app.get_option_no_throw("--geo-db"), nullptr);
    EXPECT_EQ(app.get_option_no_throw("--interfaces"), nullptr);
    args = {"--routes", tmp.File("missing.txt")};
    EXPECT_THROW(app.parse(std::vector<std::string>(args.rbegin(), args.rend())),
                 CLI::ValidationError);
  }
}

}  // namespace
}  // namespace nf
