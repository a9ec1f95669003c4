// flowcollect --report's library: the Space-Saving sketch against brute-force counts, the
// accumulator's time bins (display width, exact merging, spreading, arrival-time fallback),
// protocol split, bounded exporters and rankings, no allocation per record, and the HTML page
// (escaping of hostile text, charts and machine-readable totals present).
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "collector/output/report/html_report.h"
#include "collector/output/report/report_accumulator.h"
#include "collector/output/report/space_saving.h"
#include "gtest/gtest.h"

namespace nf::report {
// Global allocations so far (alloc_counter.cc).
extern size_t g_allocations;
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;  // 2023-11-14T22:13:20Z, in ms

IpAddress V4(uint32_t host_order) { return IpAddress::V4(host_order); }

DecodedRecord Rec(uint32_t src, uint32_t dst, uint8_t proto, uint16_t dport, uint64_t bytes,
                  int64_t first_ms, int64_t last_ms = kNoTime, uint32_t exporter = 0xc0000201) {
  DecodedRecord r;
  r.exporter.address = V4(exporter);
  r.exporter.port = 40000;
  r.version = 9;
  r.src_addr = V4(src);
  r.dst_addr = V4(dst);
  r.ip_version = 4;
  r.protocol = proto;
  r.src_port = 50000;
  r.dst_port = dport;
  r.packets = bytes / 100 + 1;
  r.bytes = bytes;
  r.first_ms = first_ms;
  r.last_ms = last_ms == kNoTime ? first_ms : last_ms;
  r.receive_time_us = (r.last_ms + 1000) * 1000;
  return r;
}

// ---------------------------------------------------------------- Space-Saving

TEST(SpaceSavingTest, ExactWhileEveryKeyFits) {
  SpaceSaving<uint32_t> s(100);
  std::map<uint32_t, uint64_t> truth;
  std::mt19937 rng(1);
  for (int i = 0; i < 10'000; ++i) {
    const uint32_t k = rng() % 100;
    const uint64_t w = rng() % 1500 + 1;
    s.Add(k, w);
    truth[k] += w;
  }
  EXPECT_TRUE(s.exact());
  EXPECT_EQ(s.max_error(), 0u);
  const auto top = s.Top(100);
  ASSERT_EQ(top.size(), truth.size());
  for (const auto& e : top) {
    EXPECT_EQ(e.count, truth[e.key]) << e.key;
    EXPECT_EQ(e.error, 0u);
  }
  for (size_t i = 1; i < top.size(); ++i) EXPECT_GE(top[i - 1].count, top[i].count);
}

TEST(SpaceSavingTest, GuaranteesHoldAgainstBruteForceOnSkewedStream) {
  constexpr size_t kCapacity = 512;
  constexpr uint32_t kKeys = 50'000;
  SpaceSaving<uint32_t> s(kCapacity);
  std::map<uint32_t, uint64_t> truth;
  uint64_t total = 0;
  std::mt19937_64 rng(42);
  // Zipf-like: key rank r drawn with probability ~ 1/r^1.3, weights like packet sizes.
  std::vector<double> cdf(kKeys);
  double acc = 0;
  for (uint32_t r = 0; r < kKeys; ++r) cdf[r] = (acc += std::pow(r + 1.0, -1.3));
  std::uniform_real_distribution<double> u(0, acc);
  for (int i = 0; i < 300'000; ++i) {
    const uint32_t rank =
        static_cast<uint32_t>(std::lower_bound(cdf.begin(), cdf.end(), u(rng)) - cdf.begin());
    const uint32_t key = rank * 2654435761u;  // scatter keys so order says nothing
    const uint64_t w = 40 + rng() % 1461;
    s.Add(key, w);
    truth[key] += w;
    total += w;
  }
  ASSERT_FALSE(s.exact());
  EXPECT_EQ(s.total(), total);
  EXPECT_LE(s.size(), kCapacity);
  EXPECT_LE(s.max_error(), total / kCapacity);
  const auto all = s.Top(kCapacity);
  std::set<uint32_t> kept;
  for (const auto& e : all) {
    kept.insert(e.key);
    const uint64_t t = truth[e.key];
    EXPECT_LE(t, e.count) << "count is an upper bound";
    EXPECT_GE(t, e.count - e.error) << "count - error is a lower bound";
    EXPECT_LE(e.error, total / kCapacity);
  }
  // Every key heavier than W / capacity is kept.
  std::vector<std::pair<uint64_t, uint32_t>> by_weight;
  for (const auto& [k, w] : truth) {
    by_weight.emplace_back(w, k);
    if (w > total / kCapacity) {
      EXPECT_TRUE(kept.count(k)) << "heavy key " << k << " lost";
    }
  }
  // The reported top 10 is the true top 10 (the head of a Zipf stream is well separated).
  std::sort(by_weight.rbegin(), by_weight.rend());
  ASSERT_GT(by_weight[9].first, by_weight[10].first + s.max_error());
  const auto top = s.Top(10);
  for (size_t i = 0; i < 10; ++i) EXPECT_EQ(top[i].key, by_weight[i].second) << "rank " << i;
}

TEST(SpaceSavingTest, MemoryStaysBoundedUnderManyDistinctKeys) {
  SpaceSaving<uint64_t> s(1000);
  for (uint64_t k = 0; k < 1'000'000; ++k) s.Add(k, 1 + k % 7);
  EXPECT_EQ(s.size(), 1000u);
  EXPECT_EQ(s.evictions(), 1'000'000u - 1000u);
  EXPECT_EQ(s.Top(5000).size(), 1000u);
}

// ---------------------------------------------------------------- accumulator

TEST(ReportAccumulatorTest, ProtocolSplitAndTotals) {
  ReportAccumulator acc;
  acc.OnRecord(Rec(1, 2, 6, 443, 1000, kT0));
  acc.OnRecord(Rec(1, 2, 17, 53, 200, kT0));
  acc.OnRecord(Rec(1, 2, 1, 0x0800, 84, kT0));
  acc.OnRecord(Rec(1, 2, 58, 0x8000, 104, kT0));
  acc.OnRecord(Rec(1, 2, 47, 0, 1500, kT0));
  acc.OnRecord(Rec(1, 2, 6, 80, 500, kT0));
  const ReportTotals& t = acc.totals();
  EXPECT_EQ(t.records, 6u);
  EXPECT_EQ(t.bytes, 3388u);
  EXPECT_EQ(t.protocol_bytes[static_cast<size_t>(ProtocolClass::kTcp)], 1500u);
  EXPECT_EQ(t.protocol_bytes[static_cast<size_t>(ProtocolClass::kUdp)], 200u);
  EXPECT_EQ(t.protocol_bytes[static_cast<size_t>(ProtocolClass::kIcmp)], 84u);
  EXPECT_EQ(t.protocol_bytes[static_cast<size_t>(ProtocolClass::kIcmpv6)], 104u);
  EXPECT_EQ(t.protocol_bytes[static_cast<size_t>(ProtocolClass::kOther)], 1500u);
  EXPECT_EQ(t.protocol_records[static_cast<size_t>(ProtocolClass::kTcp)], 2u);
  const auto ports = acc.TopPorts(10);
  ASSERT_EQ(ports.size(), 6u);
  EXPECT_EQ(PortLabel(ports[0].key), "gre");  // 1500 bytes
  EXPECT_EQ(PortLabel(ports[1].key), "443/tcp");
  EXPECT_EQ(PortLabel(PortKey{1, 0x0800}), "icmp 8/0");
}

TEST(ReportAccumulatorTest, BinsCoverTwoHoursInSixtyToOneTwentyDisplayBins) {
  ReportAccumulator acc;
  ProtocolBytes truth{};
  std::mt19937 rng(7);
  const int64_t span = 2 * 3600 * 1000;
  for (int i = 0; i < 5000; ++i) {
    const int64_t t = kT0 + static_cast<int64_t>(rng() % span);
    constexpr uint8_t kProtocols[] = {6, 17, 1, 58, 50};
    const uint8_t proto = kProtocols[i % 5];
    const uint64_t bytes = rng() % 100'000;
    acc.OnRecord(Rec(rng(), rng(), proto, 80, bytes, t));
    truth[static_cast<size_t>(ClassifyProtocol(proto))] += bytes;
  }
  const TimeSeries s = acc.Series();
  EXPECT_GE(s.bins.size(), 60u);
  EXPECT_LE(s.bins.size(), kMaxDisplayBins);
  EXPECT_EQ(s.width_ms % acc.stored_bin_width_ms(), 0);
  EXPECT_EQ(s.start_ms % s.width_ms, 0) << "bins are aligned to their width";
  EXPECT_LE(s.start_ms, acc.totals().first_ms);
  EXPECT_GT(s.start_ms + static_cast<int64_t>(s.bins.size()) * s.width_ms, acc.totals().last_ms);
  ProtocolBytes sums{};
  for (const auto& b : s.bins) {
    for (size_t p = 0; p < kProtocolClasses; ++p) sums[p] += b[p];
  }
  EXPECT_EQ(sums, truth);
  EXPECT_EQ(sums, acc.totals().protocol_bytes);
}

TEST(ReportAccumulatorTest, RecordLandsInItsBinAndSpreadsOverItsDuration) {
  ReportAccumulator acc;
  // Fix the span at 100 minutes with two tiny records, then check placement.
  acc.OnRecord(Rec(1, 2, 6, 80, 1, kT0));
  acc.OnRecord(Rec(1, 2, 6, 80, 1, kT0 + 100 * 60'000));
  TimeSeries s = acc.Series();
  ASSERT_EQ(s.width_ms, 60'000);  // 1 min bins for a 100 min span
  const int64_t at = kT0 + 30 * 60'000 + 123;
  acc.OnRecord(Rec(1, 2, 17, 53, 7000, at));
  // A 10-minute flow: 1000 bytes per minute.
  const int64_t flow_start = s.start_ms + 50 * 60'000;
  acc.OnRecord(Rec(1, 2, 6, 443, 10'000, flow_start, flow_start + 10 * 60'000));
  s = acc.Series();
  const size_t bin = static_cast<size_t>((at - s.start_ms) / s.width_ms);
  EXPECT_EQ(s.bins[bin][static_cast<size_t>(ProtocolClass::kUdp)], 7000u);
  for (size_t i = 50; i < 60; ++i) {
    EXPECT_EQ(s.bins[i][static_cast<size_t>(ProtocolClass::kTcp)], 1000u) << "minute " << i;
  }
  EXPECT_EQ(s.bins[60][static_cast<size_t>(ProtocolClass::kTcp)], 0u);
}

TEST(ReportAccumulatorTest, WideSpansCoarsenWithoutLosingBytes) {
  ReportAccumulator acc;
  uint64_t total = 0;
  // Start fine-grained (sub-second), then stretch to a year and a half.
  for (int i = 0; i < 200; ++i) {
    const uint64_t b = 1000 + i;
    acc.OnRecord(Rec(1, 2, 6, 80, b, kT0 + i * 37));
    total += b;
  }
  EXPECT_LE(acc.stored_bin_width_ms(), 1000);
  for (int d = 0; d < 540; d += 3) {
    const uint64_t b = 5000 + d;
    acc.OnRecord(Rec(3, 4, 17, 53, b, kT0 + int64_t{d} * 86'400'000));
    total += b;
  }
  const TimeSeries s = acc.Series();
  EXPECT_LE(s.bins.size(), kMaxDisplayBins);
  EXPECT_GE(s.width_ms, 86'400'000);
  uint64_t sum = 0;
  for (const auto& b : s.bins) {
    for (uint64_t v : b) sum += v;
  }
  EXPECT_EQ(sum, total);
  EXPECT_EQ(acc.totals().time_clamped, 0u);
}

TEST(ReportAccumulatorTest, ImplausibleOrMissingFlowTimesUseArrival) {
  ReportAccumulator acc;
  DecodedRecord r = Rec(1, 2, 6, 80, 100, kT0);
  acc.OnRecord(r);
  r.first_ms = r.last_ms = kNoTime;  // no time fields in the template
  acc.OnRecord(r);
  r.first_ms = r.last_ms = 1000;  // exporter clock at 1970
  acc.OnRecord(r);
  r.first_ms = std::numeric_limits<int64_t>::max() - 5;  // IPFIX 64-bit garbage
  r.last_ms = std::numeric_limits<int64_t>::max();
  acc.OnRecord(r);
  r.first_ms = -5;
  r.last_ms = std::numeric_limits<int64_t>::max();
  acc.OnRecord(r);
  EXPECT_EQ(acc.totals().timed_by_arrival, 4u);
  EXPECT_EQ(acc.totals().first_ms, kT0);
  EXPECT_EQ(acc.totals().last_ms, r.receive_time_us / 1000);
}

TEST(ReportAccumulatorTest, GarbageTimesWithoutArrivalStayBounded) {
  ReportAccumulator acc;
  DecodedRecord r = Rec(1, 2, 6, 80, 100, kT0);
  r.receive_time_us = 0;  // e.g. a capture with zero timestamps
  r.first_ms = std::numeric_limits<int64_t>::min() + 1;
  r.last_ms = std::numeric_limits<int64_t>::max();
  acc.OnRecord(r);
  acc.OnRecord(Rec(1, 2, 6, 80, 100, kT0));
  const TimeSeries s = acc.Series();
  EXPECT_LE(s.bins.size(), kMaxDisplayBins);
  uint64_t sum = 0;
  for (const auto& b : s.bins) {
    for (uint64_t v : b) sum += v;
  }
  EXPECT_EQ(sum, 200u);
  EXPECT_EQ(acc.totals().timed_by_arrival, 1u);
}

TEST(ReportAccumulatorTest, TopTalkersMatchBruteForce) {
  ReportOptions options;
  options.top_capacity = 128;
  ReportAccumulator acc(options);
  std::map<uint32_t, uint64_t> src_truth, dst_truth;
  std::mt19937 rng(3);
  for (int i = 0; i < 100'000; ++i) {
    // 20 heavy sources among 5000 light ones.
    const bool heavy = rng() % 4 == 0;
    const uint32_t src = heavy ? 0x0a000000 + rng() % 20 : 0x0b000000 + rng() % 5000;
    const uint32_t dst = 0xc6336400 + rng() % (heavy ? 10 : 3000);
    const uint64_t bytes = heavy ? 1000 + (src & 0xff) * 500 + rng() % 100 : rng() % 1500;
    acc.OnRecord(Rec(src, dst, 6, 443, bytes, kT0 + i));
    src_truth[src] += bytes;
    dst_truth[dst] += bytes;
  }
  auto true_top = [](const std::map<uint32_t, uint64_t>& m) {
    std::vector<std::pair<uint64_t, uint32_t>> v;
    for (const auto& [k, w] : m) v.emplace_back(w, k);
    std::sort(v.rbegin(), v.rend());
    return v;
  };
  const auto src_sorted = true_top(src_truth);
  const auto top = acc.TopSources(10);
  ASSERT_EQ(top.size(), 10u);
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(top[i].key, V4(src_sorted[i].second)) << "rank " << i;
    EXPECT_LE(src_sorted[i].first, top[i].count);
    EXPECT_GE(src_sorted[i].first, top[i].count - top[i].error);
  }
  const auto dst_sorted = true_top(dst_truth);
  const auto dtop = acc.TopDestinations(10);
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_LE(dst_sorted[i].first, dtop[i].count);
    EXPECT_GE(dst_sorted[i].first, dtop[i].count - dtop[i].error);
  }
  EXPECT_FALSE(acc.SourceRanking().exact);
  EXPECT_TRUE(acc.PortRanking().exact);
}

TEST(ReportAccumulatorTest, BoundedUnderManyDistinctKeysAndNoAllocationPerRecord) {
  ReportOptions options;
  options.top_capacity = 512;
  options.max_exporters = 4;
  ReportAccumulator acc(options);
  std::mt19937 rng(5);
  // Warm-up: every exporter slot taken, every sketch full.
  for (uint32_t i = 0; i < 2000; ++i) {
    acc.OnRecord(Rec(i, ~i, 17, static_cast<uint16_t>(i), 100, kT0 + i, kNoTime, 0xc0000200 + i % 8));
  }
  const size_t before = g_allocations;
  for (uint32_t i = 0; i < 200'000; ++i) {
    acc.OnRecord(Rec(rng(), rng(), (i % 3) ? 6 : 17, static_cast<uint16_t>(rng()), rng() % 1500,
                     kT0 + 2000 + i * 10, kNoTime, 0xc0000200 + i % 8));
  }
  EXPECT_EQ(g_allocations, before) << "OnRecord allocated in the steady state";
  EXPECT_LE(acc.TopSources(100'000).size(), 512u);
  EXPECT_LE(acc.TopDestinations(100'000).size(), 512u);
  EXPECT_LE(acc.TopPorts(100'000).size(), 512u);
  EXPECT_GT(acc.SourceRanking().evictions, 100'000u);
  EXPECT_EQ(acc.Exporters().size(), 4u);
  EXPECT_GT(acc.other_exporters().records, 0u);
  uint64_t records = acc.other_exporters().records;
  for (const auto& e : acc.Exporters()) records += e.records;
  EXPECT_EQ(records, acc.totals().records);
}

TEST(DistinctCounterTest, EstimatesAreClose) {
  DistinctCounter small, large;
  for (uint64_t i = 0; i < 100; ++i) small.AddHash(i * 7919);
  for (uint64_t i = 0; i < 100; ++i) small.AddHash(i * 7919);  // repeats do not count
  EXPECT_NEAR(static_cast<double>(small.Estimate()), 100, 2);
  for (uint64_t i = 0; i < 200'000; ++i) large.AddHash(i);
  EXPECT_NEAR(static_cast<double>(large.Estimate()), 200'000, 200'000 * 0.05);
  EXPECT_EQ(DistinctCounter().Estimate(), 0u);
}

// ---------------------------------------------------------------- page

TEST(HtmlReportTest, FormatsUnits) {
  EXPECT_EQ(FormatBytes(0), "0 B");
  EXPECT_EQ(FormatBytes(999), "999 B");
  EXPECT_EQ(FormatBytes(1500), "1.50 KB");
  EXPECT_EQ(FormatBytes(12'345'678), "12.3 MB");
  EXPECT_EQ(FormatBytes(4.07e9), "4.07 GB");
  EXPECT_EQ(FormatBitRate(2.5e6), "2.50 Mbit/s");
  EXPECT_EQ(FormatCount(1234567), "1,234,567");
  EXPECT_EQ(FormatCount(12), "12");
  EXPECT_EQ(FormatDuration(250), "250 ms");
  EXPECT_EQ(FormatDuration(60'000), "1 min");
  EXPECT_EQ(FormatDuration(3'720'000), "1 h 2 min");
  EXPECT_EQ(PortLabel(PortKey{17, 53}), "53/udp");
  EXPECT_EQ(PortLabel(PortKey{99, 0}), "proto 99");
}

TEST(HtmlReportTest, EscapesHostileText) {
  EXPECT_EQ(HtmlEscape("<script>alert('x')</script>&\"ok\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;ok&quot;");
  EXPECT_EQ(HtmlEscape(std::string("a\x01z", 3)), "a\xEF\xBF\xBDz");
  ReportAccumulator acc;
  acc.OnRecord(Rec(1, 2, 6, 443, 1000, kT0));
  ReportPageInfo info;
  info.title = "<script>alert(1)</script>";
  info.source = "-r \"/tmp/x.pcap\"><img src=x onerror=alert(1)>";
  const std::string page = RenderHtmlReport(acc, info);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("<img"), std::string::npos);
  EXPECT_NE(page.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(page.find("&lt;img src=x onerror=alert(1)&gt;"), std::string::npos);
}

TEST(HtmlReportTest, PageHasChartsTotalsAndNoExternalReferences) {
  ReportAccumulator acc;
  for (int i = 0; i < 300; ++i) {
    acc.OnRecord(Rec(0x0a000001 + i % 13, 0xc0a80001 + i % 7, i % 2 ? 6 : 17,
                     static_cast<uint16_t>(443 + i % 3), 1000 + i, kT0 + i * 20'000));
  }
  DecoderSummary decoders;
  ExporterStats s;
  s.datagrams = 42;
  s.records = 300;
  decoders.exporters.emplace_back(ExporterId{V4(0xc0000201), 0}, s);
  decoders.exporters.emplace_back(ExporterId{V4(0xc0000202), 0}, ExporterStats{});
  decoders.totals = s;
  ReportPageInfo info;
  info.decoders = &decoders;
  const std::string page = RenderHtmlReport(acc, info);
  for (const char* needle :
       {"<svg id=\"traffic-chart\"", "<svg id=\"top-sources-chart\"",
        "<svg id=\"top-destinations-chart\"", "<svg id=\"top-ports-chart\"",
        "id=\"total-records\" data-value=\"300\"", "id=\"total-datagrams\" data-value=\"42\"",
        "id=\"total-exporters\" data-value=\"2\"", "443/tcp", "10.0.0.1", "Exact: every key"}) {
    EXPECT_NE(page.find(needle), std::string::npos) << needle;
  }
  EXPECT_EQ(page.find("http://"), page.find("http://www.w3.org/2000/svg"));  // namespace only
  EXPECT_EQ(page.find("https://"), std::string::npos);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("url("), std::string::npos);
}

TEST(HtmlReportTest, AsAndCountryRankingsOnlyWithEnrichedData) {
  ReportAccumulator plain;
  plain.OnRecord(Rec(1, 2, 6, 443, 1000, kT0));
  const std::string without = RenderHtmlReport(plain, ReportPageInfo{});
  for (const char* id : {"top-source-as", "top-destination-as", "top-source-countries",
                         "top-destination-countries"}) {
    EXPECT_EQ(without.find(id), std::string::npos) << id;
  }

  ReportAccumulator acc;
  auto enriched = [](uint32_t src_as, uint32_t dst_as, const char* dst_country, uint64_t bytes) {
    DecodedRecord r = Rec(1, 2, 6, 443, bytes, kT0);
    r.src_as = src_as;
    r.dst_as = dst_as;
    if (dst_country != nullptr) r.dst_country = {dst_country[0], dst_country[1]};
    return r;
  };
  acc.OnRecord(enriched(3333, 1221, "GB", 5000));
  acc.OnRecord(enriched(3333, 0, "SE", 3000));
  acc.OnRecord(enriched(64500, 1221, "GB", 1000));
  acc.OnRecord(enriched(0, 0, nullptr, 100000));  // unknown: never ranked
  const auto src_as = acc.TopSourceAs(10);
  ASSERT_EQ(src_as.size(), 2u);
  EXPECT_EQ(src_as[0].key, 3333u);
  EXPECT_EQ(src_as[0].count, 8000u);
  EXPECT_EQ(src_as[1].key, 64500u);
  const auto dst_countries = acc.TopDestinationCountries(10);
  ASSERT_EQ(dst_countries.size(), 2u);
  EXPECT_EQ(CountryLabel(dst_countries[0].key), "GB");
  EXPECT_EQ(dst_countries[0].count, 6000u);
  EXPECT_EQ(CountryLabel(dst_countries[1].key), "SE");
  EXPECT_TRUE(acc.TopSourceCountries(10).empty());

  const std::string page = RenderHtmlReport(acc, ReportPageInfo{});
  for (const char* needle :
       {"<section id=\"top-source-as\">", "<svg id=\"top-source-as-chart\"",
        "<section id=\"top-destination-as\">", "<section id=\"top-destination-countries\">",
        "Top 10 source AS by bytes", "Top 10 destination countries by bytes", ">AS3333<",
        ">AS1221<", ">GB<", ">SE<"}) {
    EXPECT_NE(page.find(needle), std::string::npos) << needle;
  }
  // No source country was known: that ranking is left out, not drawn empty.
  EXPECT_EQ(page.find("top-source-countries"), std::string::npos);
}

TEST(ReportAccumulatorTest, AsAndCountrySketchesDoNotAllocatePerRecord) {
  ReportOptions options;
  options.top_capacity = 256;
  ReportAccumulator acc(options);
  std::mt19937 rng(11);
  auto record = [&](uint32_t i) {
    DecodedRecord r = Rec(rng(), rng(), 6, 443, 100 + i % 900, kT0 + i);
    r.src_as = rng() % 100'000 + 1;
    r.dst_as = rng() % 100'000 + 1;
    r.src_country = {static_cast<char>('A' + rng() % 26), static_cast<char>('A' + rng() % 26)};
    r.dst_country = r.src_country;
    return r;
  };
  for (uint32_t i = 0; i < 5000; ++i) acc.OnRecord(record(i));  // every sketch full
  const size_t before = g_allocations;
  for (uint32_t i = 0; i < 50'000; ++i) acc.OnRecord(record(i));
  EXPECT_EQ(g_allocations, before) << "OnRecord allocated in the steady state";
  EXPECT_LE(acc.TopSourceAs(100'000).size(), 256u);
  EXPECT_GT(acc.SourceAsRanking().evictions, 0u);
  EXPECT_TRUE(acc.SourceCountryRanking().exact);  // 676 codes fit the country sketch
}

TEST(HtmlReportTest, LongInputListIsShortened) {
  ReportAccumulator acc;
  ReportPageInfo info;
  info.source = "-r";
  for (int i = 0; i < 100; ++i) info.source += " /captures/\xc3\xa9t\xc3\xa9-" + std::to_string(i);
  const std::string page = RenderHtmlReport(acc, info);
  EXPECT_NE(page.find("\u2026"), std::string::npos);
  EXPECT_EQ(page.find("-99"), std::string::npos);
}

TEST(HtmlReportTest, EmptyAccumulatorStillRenders) {
  ReportAccumulator acc;
  const std::string page = RenderHtmlReport(acc, ReportPageInfo{});
  EXPECT_NE(page.find("No flow records"), std::string::npos);
  EXPECT_NE(page.find("id=\"total-records\" data-value=\"0\""), std::string::npos);
  EXPECT_NE(page.find("</html>"), std::string::npos);
}

}  // namespace
}  // namespace nf::report
