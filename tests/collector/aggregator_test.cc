// -A aggregation: masks, time bins, top N, order, bounded groups, groups equal to the distinct
// printed keys for every column, and the direct index against hashing.
#include "collector/output/aggregate/aggregator.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "collector/output/format/columns.h"
#include "common/ip_address.h"
#include "common/time_format.h"
#include "gtest/gtest.h"
#include "tests/collector/output_test_record.h"

namespace nf {
namespace {

using output_test::Rec;

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

// Times before 1970 fall into the bin that starts before them; times at the ends of the int64
// range (an exporter's garbage) still get a bin and a printable start, with no overflow.
TEST(AggregatorTest, BinsFloorNegativeAndExtremeTimes) {
  AggregateOptions o;
  o.keys = "protocol";
  o.bin_seconds = 60;
  auto a = Aggregator::Create(o);
  ASSERT_TRUE(a.ok()) << a.status();
  for (int64_t t : {int64_t{-1}, int64_t{-60000}, int64_t{-60001}, int64_t{0},
                    std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min() + 1}) {
    DecodedRecord r = Rec("10.0.0.1", "10.9.9.9", 17, 1, 10);
    r.first_ms = t;
    r.last_ms = t;
    (*a)->Add(r);
  }
  std::string out;
  (*a)->AppendRowsAndClear(out);
  std::string max_bin, min_bin;
  AppendIso8601Ms(std::numeric_limits<int64_t>::max() / 60000 * 60000, max_bin);
  // The bin below INT64_MIN + 1 would start outside int64: it stays at the truncated one.
  AppendIso8601Ms((std::numeric_limits<int64_t>::min() + 1) / 60000 * 60000, min_bin);
  EXPECT_NE(out.find("1969-12-31T23:59:00.000Z,17,2,2,20\n"), std::string::npos) << out;  // -1, -60000
  EXPECT_NE(out.find("1969-12-31T23:58:00.000Z,17,1,1,10\n"), std::string::npos) << out;  // -60001
  EXPECT_NE(out.find("1970-01-01T00:00:00.000Z,17,1,1,10\n"), std::string::npos) << out;
  EXPECT_NE(out.find(max_bin + ",17,1,1,10\n"), std::string::npos) << out;
  EXPECT_NE(out.find(min_bin + ",17,1,1,10\n"), std::string::npos) << out;
}

// --top selects each bin's N rows without sorting every group: the rows must be exactly the
// first N per bin of the full sorted output, ties (many equal counts) included.
TEST(AggregatorTest, TopIsTheFirstRowsOfTheFullOrder) {
  std::mt19937 rng(7);
  for (size_t top : {1u, 3u, 10u, 1000u}) {
    AggregateOptions full;
    full.keys = "src_addr,dst_port";
    full.bin_seconds = 60;
    AggregateOptions topped = full;
    topped.top = top;
    auto a = Aggregator::Create(full);
    auto b = Aggregator::Create(topped);
    ASSERT_TRUE(a.ok() && b.ok());
    const int64_t t0 = 1'706'702'400'000;
    for (int i = 0; i < 3000; ++i) {
      const std::string src = absl::StrCat("10.0.", rng() % 4, ".", rng() % 50);
      DecodedRecord r = Rec(src.c_str(), "192.0.2.1", 6, 1, 100 * (1 + rng() % 3),
                            t0 + static_cast<int64_t>(rng() % 180'000));
      r.dst_port = static_cast<uint16_t>(rng() % 3);
      (*a)->Add(r);
      (*b)->Add(r);
    }
    std::string all, some;
    (*a)->AppendRowsAndClear(all);
    (*b)->AppendRowsAndClear(some);
    std::string expected;
    std::map<std::string, size_t> per_bin;
    for (absl::string_view line : absl::StrSplit(all, '\n', absl::SkipEmpty())) {
      const std::string bin(line.substr(0, line.find(',')));
      if (per_bin[bin]++ < top) absl::StrAppend(&expected, line, "\n");
    }
    EXPECT_EQ(some, expected) << "top " << top;
  }
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
    for (IpAddress* a : {&r.src_addr, &r.dst_addr, &r.next_hop, &r.exporter.address,
                         &r.post_nat_src_addr, &r.post_nat_dst_addr}) {
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
    r.engine_type = static_cast<uint8_t>(small());
    r.engine_id = static_cast<uint8_t>(pick({0, 3, 255}));
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
    // Countries (unknown, two codes) and names: empty, plain, needing CSV quotes, and two that
    // differ only past kMaxTextColumnBytes (so they print, and must group, as one).
    static const std::string kLong(kMaxTextColumnBytes, 'x');
    static const std::string kLonger1 = kLong + "1", kLonger2 = kLong + "2";
    static const char* const kCountries[] = {"\0\0", "GB", "SE"};
    const char* country = kCountries[rng() % 3];
    r.src_country = {country[0], country[1]};
    country = kCountries[rng() % 3];
    r.dst_country = {country[0], country[1]};
    const absl::string_view names[] = {"", "ge-0/0/0", "xe-0/0/1, \"uplink\"", kLonger1,
                                       kLonger2, "x"};
    r.input_if_name = names[rng() % 6];
    r.output_if_name = names[rng() % 6];
    r.fw_event = static_cast<uint8_t>(small());
    r.fw_ext_event = static_cast<uint16_t>(pick({0, 2025, 65535}));
    r.nat_event = static_cast<uint8_t>(small());
    r.post_nat_src_port = static_cast<uint16_t>(pick({0, 1024, 65535}));
    r.post_nat_dst_port = static_cast<uint16_t>(pick({0, 53}));
    r.ingress_vrf = static_cast<uint32_t>(pick({0, 1, 0xffffffffu}));
    r.egress_vrf = static_cast<uint32_t>(pick({0, 7}));
    r.event_time_ms = static_cast<int64_t>(pick({static_cast<uint64_t>(kNoTime), 0,
                                                 1'706'702'400'123}));
    r.packets = rng() % 1000;
    r.bytes = rng() % 100000;
    records.push_back(r);
  }
  for (const CsvColumnInfo& c : AllCsvColumns()) {
    if (c.is_counter) continue;
    ASSERT_NE(c.key, nullptr) << c.name << " can be an aggregation key but has no group key";
    for (const int prefix : c.is_address() ? std::vector<int>{-1, 0, 7, 24, 33, 64, 128}
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
        // The printed key: the column's text, or its address masked.
        std::string text;
        if (prefix >= 0) {
          char buf[kMaxCsvColumnChars];
          text.assign(buf, WriteAddress(MaskAddress(c.address(r), prefix), buf));
          if (prefix == 128) {
            // Unmasked, the accessor's address prints as the column does: it is the column's.
            std::string column;
            AppendColumn(c, r, column);
            EXPECT_EQ(text, column);
          }
        } else {
          AppendColumn(c, r, text);
        }
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
        // key text (may itself be empty, or a quoted name holding commas), then
        // flows,packets,bytes.
        std::vector<absl::string_view> f = absl::StrSplit(line, ',');
        ASSERT_GE(f.size(), 4u) << line;
        std::array<uint64_t, 3> sums{};
        for (int i = 0; i < 3; ++i) {
          ASSERT_TRUE(absl::SimpleAtoi(f[f.size() - 3 + i], &sums[i])) << line;
        }
        size_t key_end = line.size();
        for (int i = 0; i < 3; ++i) key_end = line.rfind(',', key_end - 1);
        ASSERT_TRUE(got.emplace(absl::StrCat(line.substr(0, key_end), ","), sums).second)
            << "group twice: " << line;
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

}  // namespace
}  // namespace nf
