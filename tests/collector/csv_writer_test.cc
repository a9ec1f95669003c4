// CSV writer: stable header, formatting, RFC 4180 quoting, column selection, aggregation
// (masks, bins, top N, bounded groups), atomic output and rotation.
#include "collector/output/csv/csv_writer.h"

#include <arpa/inet.h>
#include <dirent.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace nf {
namespace {

DecodedRecord Rec(const char* src, const char* dst, uint8_t proto, uint64_t pkts, uint64_t bytes,
                  int64_t first_ms = 1'706'702'400'123) {
  DecodedRecord r;
  const uint8_t e[4] = {192, 0, 2, 1};
  r.exporter.address = IpAddress::V4(e);
  r.source_id = 7;
  r.template_id = 256;
  r.first_ms = first_ms;
  r.last_ms = first_ms + 1000;
  r.src_addr = *ParseIpAddress(src);
  r.dst_addr = *ParseIpAddress(dst);
  r.ip_version = r.src_addr.version;
  r.protocol = proto;
  r.src_port = 1234;
  r.dst_port = 80;
  r.packets = pkts;
  r.bytes = bytes;
  r.sampling = 1;
  return r;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

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

TEST(AggregatorTest, MaskTopAndBins) {
  AggregateOptions o;
  o.keys = "src_addr/24,protocol";
  o.bin_seconds = 60;
  o.top = 1;
  auto a = Aggregator::Create(o);
  ASSERT_TRUE(a.ok()) << a.status();
  const int64_t t0 = 1'706'702'400'000;  // 12:00:00
  (*a)->Add(Rec("10.0.0.1", "10.9.9.9", 6, 1, 100, t0 + 1000));
  (*a)->Add(Rec("10.0.0.200", "10.9.9.9", 6, 2, 200, t0 + 2000));
  (*a)->Add(Rec("10.0.1.1", "10.9.9.9", 6, 1, 250, t0 + 3000));
  (*a)->Add(Rec("10.0.1.1", "10.9.9.9", 6, 1, 5, t0 + 61000));  // next bin
  std::string out;
  (*a)->AppendHeader(out);
  (*a)->AppendRowsAndClear(out);
  EXPECT_EQ(out,
            "bin_start,src_addr/24,protocol,flows,packets,bytes\n"
            "2024-01-31T12:00:00.000Z,10.0.0.0,6,2,3,300\n"
            "2024-01-31T12:01:00.000Z,10.0.1.0,6,1,1,5\n");
  EXPECT_EQ((*a)->groups(), 0u);
}

TEST(AggregatorTest, OrderByFlowsAndBoundedGroups) {
  AggregateOptions o;
  o.keys = "dst_addr";
  o.order_by = OrderBy::kFlows;
  o.max_groups = 2;
  auto a = Aggregator::Create(o);
  ASSERT_TRUE(a.ok());
  (*a)->Add(Rec("10.0.0.1", "10.0.0.9", 6, 1, 1000));
  (*a)->Add(Rec("10.0.0.1", "10.0.0.8", 6, 1, 1));
  (*a)->Add(Rec("10.0.0.2", "10.0.0.8", 6, 1, 1));
  (*a)->Add(Rec("10.0.0.2", "10.0.0.7", 6, 1, 1));  // third group: overflow
  std::string out;
  (*a)->AppendRowsAndClear(out);
  EXPECT_EQ(out, "10.0.0.8,2,2,2\n10.0.0.9,1,1,1000\n");
  EXPECT_EQ((*a)->overflow_records(), 1u);
}

// The group key is binary (CsvColumnInfo::key), the printed key is text: for every column -A
// accepts (with and without a mask), the groups must be exactly the distinct texts, with their
// sums. Records carry what could split or merge groups wrongly: bytes an IPv4 address does
// not use, unset and odd address versions, unknown and negative times, microseconds within
// one millisecond, huge numbers.
TEST(AggregatorTest, GroupsAreExactlyTheDistinctTexts) {
  std::mt19937_64 rng(20261125);
  std::vector<DecodedRecord> records;
  for (int i = 0; i < 3000; ++i) {
    DecodedRecord r = Rec(i % 3 ? "10.0.0.1" : "2001:db8::1", "10.1.2.3", 6, 1, 100);
    auto pick = [&](std::initializer_list<uint64_t> v) { return *(v.begin() + rng() % v.size()); };
    for (IpAddress* a : {&r.src_addr, &r.dst_addr, &r.next_hop, &r.exporter.address}) {
      const int kind = static_cast<int>(rng() % 5);
      a->version = kind == 0 ? 0 : kind == 1 ? 6 : kind == 2 ? 7 : 4;
      for (auto& b : a->bytes) b = static_cast<uint8_t>(rng() % 3);  // few values: collisions
    }
    auto small = [&] { return pick({0, 1, 2, 255}); };
    r.version = static_cast<uint8_t>(pick({5, 9, 10}));
    r.source_id = static_cast<uint32_t>(pick({0, 1, 0xffffffffu}));
    r.template_id = static_cast<uint16_t>(pick({0, 256, 65535}));
    r.exporter.port = static_cast<uint16_t>(pick({0, 2055}));
    r.ip_version = static_cast<uint8_t>(pick({0, 4, 6}));
    r.protocol = static_cast<uint8_t>(pick({1, 6, 17, 255}));
    r.tos = static_cast<uint8_t>(small());
    r.src_mask = static_cast<uint8_t>(small());
    r.dst_mask = static_cast<uint8_t>(small());
    r.direction = static_cast<uint8_t>(small());
    r.flow_end_reason = static_cast<uint8_t>(small());
    r.tcp_flags = static_cast<uint16_t>(small());
    r.src_port = static_cast<uint16_t>(pick({0, 80, 65535}));
    r.dst_port = static_cast<uint16_t>(pick({0, 443, 2048}));
    r.vlan = static_cast<uint16_t>(pick({0, 4095}));
    r.input_if = static_cast<uint32_t>(pick({0, 1, 0xffffffffu}));
    r.output_if = static_cast<uint32_t>(pick({0, 7}));
    r.src_as = static_cast<uint32_t>(pick({0, 64512}));
    r.dst_as = static_cast<uint32_t>(pick({0, 4200000000u}));
    r.sampling = static_cast<uint32_t>(pick({0, 1, 1000}));
    r.first_ms = static_cast<int64_t>(pick({static_cast<uint64_t>(kNoTime), 0,
                                            static_cast<uint64_t>(int64_t{-1500}),
                                            1'706'702'400'000, 1'706'702'400'001}));
    r.last_ms = static_cast<int64_t>(pick({static_cast<uint64_t>(kNoTime), 1'706'702'400'000,
                                           1'706'702'460'000}));
    r.receive_time_us = static_cast<int64_t>(pick({1'706'702'400'000'000, 1'706'702'400'000'999,
                                                   1'706'702'400'001'000}));
    r.from_early_buffer = rng() % 2 == 0;
    r.packets = rng() % 1000;
    r.bytes = rng() % 100000;
    records.push_back(r);
  }
  for (const CsvColumnInfo& c : AllCsvColumns()) {
    if (c.is_counter) continue;
    ASSERT_NE(c.key, nullptr) << c.name << " can be an aggregation key but has no group key";
    for (const int prefix : c.is_address ? std::vector<int>{-1, 0, 7, 24, 33, 64, 128}
                                         : std::vector<int>{-1}) {
      const std::string key =
          prefix < 0 ? std::string(c.name) : absl::StrCat(c.name, "/", prefix);
      SCOPED_TRACE(key);
      AggregateOptions o;
      o.keys = key;
      auto a = Aggregator::Create(o);
      ASSERT_TRUE(a.ok()) << a.status();
      std::map<std::string, std::array<uint64_t, 3>> expected;
      for (const DecodedRecord& r : records) {
        DecodedRecord printed = r;
        IpAddress* address = c.name == "src_addr"   ? &printed.src_addr
                             : c.name == "dst_addr" ? &printed.dst_addr
                             : c.name == "next_hop" ? &printed.next_hop
                                                    : &printed.exporter.address;
        if (prefix >= 0) *address = MaskAddress(*address, prefix);
        std::string text;
        AppendColumn(c, printed, text);
        auto& sums = expected[text + ","];
        sums[0] += 1;
        sums[1] += r.packets;
        sums[2] += r.bytes;
        (*a)->Add(r);
      }
      std::string out;
      (*a)->AppendRowsAndClear(out);
      std::map<std::string, std::array<uint64_t, 3>> got;
      for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
        // key text (may itself be empty), then flows,packets,bytes.
        std::vector<absl::string_view> f = absl::StrSplit(line, ',');
        ASSERT_EQ(f.size(), 4u) << line;
        std::array<uint64_t, 3> sums{};
        for (int i = 0; i < 3; ++i) ASSERT_TRUE(absl::SimpleAtoi(f[1 + i], &sums[i])) << line;
        ASSERT_TRUE(got.emplace(absl::StrCat(f[0], ","), sums).second) << "group twice: " << line;
      }
      EXPECT_EQ(got, expected);
      EXPECT_GT(expected.size(), 1u) << "the records do not vary in this column";
    }
  }
}

// Narrow keys (protocol, ports, ToS...: at most 16 bits in all) are indexed directly instead
// of hashed. Both ways must print the same rows and refuse the same records at the group
// bound, over several output intervals (the direct groups are cleared between them).
TEST(AggregatorTest, DirectIndexPrintsWhatHashingPrints) {
  std::mt19937_64 rng(7);
  // The last two are wider than 16 bits together: hashed either way (a control).
  for (const char* keys : {"protocol", "dst_port", "protocol,tos", "ip_version,protocol",
                           "early,direction", "tcp_flags", "vlan", "protocol,dst_port",
                           "early,direction,src_mask"}) {
    for (const size_t max_groups : {size_t{1'000'000}, size_t{3}}) {
      SCOPED_TRACE(absl::StrCat(keys, " max_groups ", max_groups));
      AggregateOptions o;
      o.keys = keys;
      o.max_groups = max_groups;
      auto direct = Aggregator::Create(o);
      o.direct_index = false;
      auto hashed = Aggregator::Create(o);
      ASSERT_TRUE(direct.ok() && hashed.ok());
      const std::string k = keys;
      const bool wide = k == "protocol,dst_port" || k == "early,direction,src_mask";
      EXPECT_EQ((*direct)->indexes_directly(), !wide);
      EXPECT_FALSE((*hashed)->indexes_directly());
      for (int interval = 0; interval < 3; ++interval) {
        for (int i = 0; i < 2000; ++i) {
          DecodedRecord r = Rec("10.0.0.1", "10.1.2.3", 6, 1 + rng() % 9, rng() % 5000);
          r.protocol = static_cast<uint8_t>(rng() % 4 == 0 ? rng() : rng() % 3);
          r.tos = static_cast<uint8_t>(rng());
          r.dst_port = static_cast<uint16_t>(rng() % 2 == 0 ? rng() : 65535 - rng() % 4);
          r.ip_version = static_cast<uint8_t>(rng() % 3 * 2);
          r.vlan = static_cast<uint16_t>(rng() % 4096);
          r.from_early_buffer = rng() % 2 == 0;
          r.direction = static_cast<uint8_t>(rng() % 2);
          r.src_mask = static_cast<uint8_t>(rng() % 33);
          r.tcp_flags = static_cast<uint16_t>(rng() % 2 == 0 ? 0xffff : rng() % 64);
          (*direct)->Add(r);
          (*hashed)->Add(r);
        }
        EXPECT_EQ((*direct)->groups(), (*hashed)->groups());
        std::string a, b;
        (*direct)->AppendRowsAndClear(a);
        (*hashed)->AppendRowsAndClear(b);
        EXPECT_EQ(a, b) << "interval " << interval;
        EXPECT_GT(std::count(a.begin(), a.end(), '\n'), 1);
        EXPECT_EQ((*direct)->groups(), 0u);
      }
      EXPECT_EQ((*direct)->overflow_records(), (*hashed)->overflow_records());
      if (max_groups == 3) {
        EXPECT_GT((*direct)->overflow_records(), 0u);
      }
    }
  }
}

TEST(AggregatorTest, BadKeysAreRejected) {
  for (const char* keys : {"bytes", "protocol/8", "src_addr/200", "nosuch", ""}) {
    AggregateOptions o;
    o.keys = keys;
    EXPECT_FALSE(Aggregator::Create(o).ok()) << keys;
  }
}

TEST(CsvSinkTest, SingleFileIsWrittenAtomically) {
  testing::TempDir dir;
  CsvSinkOptions o;
  o.output = dir.File("out.csv");
  auto sink = CsvSink::Create(o);
  ASSERT_TRUE(sink.ok()) << sink.status();
  (*sink)->OnRecord(Rec("10.0.0.1", "10.0.0.2", 6, 1, 40));
  // Until Close, only a temporary file exists.
  EXPECT_EQ(ListDir(dir.path()).size(), 1u);
  EXPECT_NE(ListDir(dir.path())[0], "out.csv");
  ASSERT_TRUE((*sink)->Close().ok());
  EXPECT_EQ(ListDir(dir.path()), std::vector<std::string>{"out.csv"});
  auto rows = testing::ReadCsv(dir.File("out.csv"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].at("bytes"), "40");
  EXPECT_EQ((*sink)->rows_written(), 1u);
}

TEST(CsvSinkTest, BadOutputPathFailsAtStart) {
  CsvSinkOptions o;
  o.output = "/nonexistent-dir/x.csv";
  EXPECT_FALSE(CsvSink::Create(o).ok());
}

TEST(CsvSinkTest, RotationWritesOneCompleteFilePerInterval) {
  testing::TempDir dir;
  CsvSinkOptions o;
  o.directory = dir.path();
  o.rotate_seconds = 60;
  auto sink = CsvSink::Create(o);
  ASSERT_TRUE(sink.ok()) << sink.status();
  const TimeUs t0 = 1'706'702'400'000'000;  // 2024-01-31T12:00:00Z
  DecodedRecord r = Rec("10.0.0.1", "10.0.0.2", 6, 1, 40);
  r.receive_time_us = t0 + 1'000'000;
  (*sink)->OnRecord(r);
  r.receive_time_us = t0 + 30'000'000;
  (*sink)->OnRecord(r);
  r.receive_time_us = t0 + 61'000'000;  // next interval: the first file is completed
  (*sink)->OnRecord(r);
  EXPECT_TRUE((*sink)->Tick(t0 + 62'000'000).ok());
  auto names = ListDir(dir.path());
  ASSERT_EQ(names.size(), 2u);  // one complete file, one temporary
  EXPECT_EQ(names[1], "flows-20240131T120000Z.csv");
  EXPECT_EQ(testing::ReadCsv(dir.File(names[1])).size(), 2u);
  EXPECT_TRUE((*sink)->Tick(t0 + 125'000'000).ok());  // idle past the interval: closed too
  names = ListDir(dir.path());
  EXPECT_EQ(names, (std::vector<std::string>{"flows-20240131T120000Z.csv",
                                            "flows-20240131T120100Z.csv"}));
  ASSERT_TRUE((*sink)->Close().ok());
  EXPECT_EQ((*sink)->files_written(), 2u);
}

TEST(CsvSinkTest, AggregatedOutput) {
  testing::TempDir dir;
  CsvSinkOptions o;
  o.output = dir.File("agg.csv");
  o.aggregate.keys = "protocol";
  auto sink = CsvSink::Create(o);
  ASSERT_TRUE(sink.ok());
  (*sink)->OnRecord(Rec("10.0.0.1", "10.0.0.2", 6, 1, 40));
  (*sink)->OnRecord(Rec("10.0.0.1", "10.0.0.2", 6, 2, 60));
  (*sink)->OnRecord(Rec("10.0.0.1", "10.0.0.2", 17, 1, 500));
  ASSERT_TRUE((*sink)->Close().ok());
  EXPECT_EQ(ReadFile(dir.File("agg.csv")), "protocol,flows,packets,bytes\n17,1,1,500\n6,2,3,100\n");
}

}  // namespace
}  // namespace nf
