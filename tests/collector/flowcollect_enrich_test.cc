// flowcollect's enrichment end to end, on the binaries:
//   - flowexport -T ng_netflow (SRC_AS, DST_AS and the masks always zero) turns a crafted
//     capture into v9 datagrams, written as a capture of export traffic; flowcollect -r with
//     --routes (the 2002 RIB dump of the corpus), --asn-db, --geo-db and --interfaces writes
//     CSV whose AS, mask, country and interface columns equal what bgpdump and mmdblookup say;
//   - live (-l on loopback), SIGHUP reloads a rewritten networks file (later records carry the
//     new AS) and a corrupt one keeps the old data and counts one reload failure.
#include <arpa/inet.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_support.h"
#include "tests/exporter/frame_builder.h"
#include "tests/support/test_support.h"

namespace nf {
namespace {

using testing::Bytes;

uint32_t V4(const char* text) {
  in_addr a{};
  EXPECT_EQ(inet_pton(AF_INET, text, &a), 1) << text;
  return ntohl(a.s_addr);
}

// One TCP packet per address pair, all in 2024, so flowexport -r makes one flow of each.
bool WriteInput(const std::string& path,
                const std::vector<std::pair<std::string, std::string>>& pairs,
                std::string* error) {
  std::vector<testing::PcapFrame> frames;
  int64_t t = 1'706'702'400'000'000;
  uint16_t port = 40000;
  for (const auto& [src, dst] : pairs) {
    for (int i = 0; i < 2; ++i) {
      testing::PcapFrame f;
      f.time_us = t;
      t += 1000;
      f.bytes = testing::Eth(0x0800, testing::Ipv4(V4(src.c_str()), V4(dst.c_str()), 6,
                                                   testing::Tcp(port, 443, 0x18, 100)));
      frames.push_back(std::move(f));
    }
    ++port;
  }
  return testing::WritePcap(path, frames, 1, error);
}

// flowexport -T ng_netflow over `input`, its datagrams captured into `export_pcap`.
void Export(const testing::TempDir& dir, const std::string& input, const std::string& export_pcap) {
  testing::UdpSink sink;
  std::string error;
  ASSERT_TRUE(sink.Open(&error)) << error;
  const std::vector<std::string> argv = {testing::BinaryPath("flowexport"), "-T", "ng_netflow",
                                         "-r", input, "-c",
                                         absl::StrCat("127.0.0.1:", sink.port())};
  const int rc = testing::RunArgv(argv, dir.File("export.out"), dir.File("export.err"), 30000);
  ASSERT_EQ(rc, 0) << testing::JoinArgv(argv) << "\n" << testing::ReadFile(dir.File("export.err"));
  const auto datagrams = sink.Finish();
  ASSERT_FALSE(datagrams.empty());
  ASSERT_TRUE(testing::WriteDatagramPcap(export_pcap, datagrams, 40000, 2055, &error)) << error;
}

// mmdblookup's answer: the first token of its value line ("GB" <utf8_string>, 1221 <uint32>),
// unquoted; empty when the address is not in the database.
std::string MmdbLookup(const std::string& db, const std::string& ip, const std::string& path) {
  std::string out;
  testing::RunCommand(absl::StrCat("mmdblookup --file ", db, " --ip ", ip, " ", path,
                                   " 2>/dev/null"),
                      &out);
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    absl::string_view value = line.substr(0, line.find(' '));
    absl::ConsumePrefix(&value, "\"");
    absl::ConsumeSuffix(&value, "\"");
    return std::string(value);
  }
  return "";
}

struct RouteTruth {
  uint32_t origin = 0;
  int length = 0;
};

// Longest-prefix match over `bgpdump -m` of the RIB, for each address. Only addresses whose best
// prefix was announced with a single origin are answered (no best-path choice to make).
std::map<std::string, RouteTruth> BgpdumpTruth(const std::string& rib,
                                               const std::vector<std::string>& addresses) {
  std::string dump;
  EXPECT_EQ(testing::RunCommand(absl::StrCat("bgpdump -m ", rib, " 2>/dev/null"), &dump), 0);
  std::map<std::string, RouteTruth> best;
  std::map<std::string, std::map<uint32_t, bool>> origins;  // per address, at the best length
  for (absl::string_view line : absl::StrSplit(dump, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f = absl::StrSplit(line, '|');
    if (f.size() < 7) continue;
    std::vector<absl::string_view> prefix = absl::StrSplit(f[5], '/');
    int length = 0;
    if (prefix.size() != 2 || !absl::SimpleAtoi(prefix[1], &length)) continue;
    if (prefix[0].find(':') != absl::string_view::npos) continue;
    const uint32_t net = V4(std::string(prefix[0]).c_str());
    const uint32_t mask = length == 0 ? 0 : ~uint32_t{0} << (32 - length);
    std::vector<absl::string_view> path = absl::StrSplit(f[6], ' ', absl::SkipEmpty());
    uint32_t origin = 0;
    if (path.empty() || !absl::SimpleAtoi(path.back(), &origin)) continue;  // AS-sets: skip
    for (const std::string& a : addresses) {
      if ((V4(a.c_str()) & mask) != net) continue;
      RouteTruth& b = best[a];
      if (length > b.length) {
        b = RouteTruth{origin, length};
        origins[a].clear();
      }
      if (length == b.length) origins[a][origin] = true;
    }
  }
  for (auto it = best.begin(); it != best.end();) {
    it = origins[it->first].size() == 1 ? std::next(it) : best.erase(it);
  }
  return best;
}

std::string Corpus(const std::string& rel) {
  const std::string dir = testing::CorpusDir();
  if (dir.empty()) return "";
  const std::string path = dir + "/enrich/" + rel;
  return std::ifstream(path).good() ? path : "";
}

TEST(FlowcollectEnrichTest, NgNetflowRecordsGetTheAnswersOfBgpdumpAndMmdblookup) {
  const std::string rib = Corpus("bgpdump/bview.20020722.2337.gz");
  const std::string asn_db = Corpus("maxmind/GeoLite2-ASN-Test.mmdb");
  const std::string geo_db = Corpus("maxmind/GeoLite2-Country-Test.mmdb");
  if (rib.empty() || asn_db.empty() || geo_db.empty()) {
    GTEST_SKIP() << "../shared/corpus/enrich (bgpdump/bview.20020722.2337.gz, maxmind/GeoLite2-"
                    "{ASN,Country}-Test.mmdb) not found";
  }
  if (!testing::HaveTool("bgpdump") || !testing::HaveTool("mmdblookup")) {
    GTEST_SKIP() << "bgpdump or mmdblookup not installed (the truth comes from them)";
  }
  // 193.0.0.1: the README's 193.0.0.0/21, origin 3333. 202.196.224.1 and 216.160.83.57: routed
  // in the RIB, and in the country database (216.160.83.57 also in the ASN database, which the
  // route must beat). 1.128.0.1: no route in 2002, AS1221 in the ASN database. 2.125.160.216:
  // no route, no AS, GB. 67.43.156.1: no route, AS and country from the databases.
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"193.0.0.1", "1.128.0.1"},
      {"202.196.224.1", "2.125.160.216"},
      {"216.160.83.57", "67.43.156.1"},
  };
  std::vector<std::string> addresses;
  for (const auto& [s, d] : pairs) {
    addresses.push_back(s);
    addresses.push_back(d);
  }
  testing::TempDir dir;
  std::string error;
  ASSERT_TRUE(WriteInput(dir.File("in.pcap"), pairs, &error)) << error;
  const std::string export_pcap = dir.File("export.pcap");
  ASSERT_NO_FATAL_FAILURE(Export(dir, dir.File("in.pcap"), export_pcap));
  // WriteDatagramPcap sends from 127.0.0.1; flowexport -r exports ifindex 0.
  {
    std::ofstream(dir.File("interfaces.csv")) << "127.0.0.1,0,file-input\n";
  }

  // Default columns: the enrichment options add theirs at the end.
  const std::vector<std::string> argv = {testing::BinaryPath("flowcollect"),
                                         "-r", export_pcap,
                                         "--routes", rib,
                                         "--asn-db", asn_db,
                                         "--geo-db", geo_db,
                                         "--interfaces", dir.File("interfaces.csv"),
                                         "-o", dir.File("out.csv"),
                                         "--stats-json", dir.File("stats.json")};
  const int rc = testing::RunArgv(argv, dir.File("collect.out"), dir.File("collect.err"), 60000);
  const std::string err = testing::ReadFile(dir.File("collect.err"));
  ASSERT_EQ(rc, 0) << testing::JoinArgv(argv) << "\n" << err;
  EXPECT_NE(err.find("flowcollect: enrichment: "), std::string::npos) << err;  // the summary
  const std::string csv = testing::ReadFile(dir.File("out.csv"));
  ASSERT_EQ(csv.substr(0, csv.find('\n')),
            "exporter,source_id,template_id,first,last,ip_version,protocol,src_addr,dst_addr,"
            "src_port,dst_port,tos,tcp_flags,input_if,output_if,packets,bytes,sampling,src_as,"
            "dst_as,src_mask,dst_mask,src_country,dst_country,input_if_name,output_if_name");

  const std::map<std::string, RouteTruth> routes = BgpdumpTruth(rib, addresses);
  ASSERT_EQ(routes.count("193.0.0.1"), 1u);
  EXPECT_EQ(routes.at("193.0.0.1").origin, 3333u);  // README
  EXPECT_EQ(routes.at("193.0.0.1").length, 21);
  ASSERT_EQ(routes.count("202.196.224.1"), 1u);
  ASSERT_EQ(routes.count("216.160.83.57"), 1u);
  EXPECT_EQ(routes.count("1.128.0.1"), 0u);
  EXPECT_EQ(MmdbLookup(asn_db, "1.128.0.1", "autonomous_system_number"), "1221");  // README
  EXPECT_EQ(MmdbLookup(geo_db, "2.125.160.216", "country iso_code"), "GB");        // README

  auto expect_side = [&](const testing::CsvRow& row, const std::string& side) {
    const std::string address = row.at(side + "_addr");
    std::string as, mask = "0";
    if (auto it = routes.find(address); it != routes.end()) {
      as = absl::StrCat(it->second.origin);
      mask = absl::StrCat(it->second.length);
    } else {
      as = MmdbLookup(asn_db, address, "autonomous_system_number");
      if (as.empty()) as = "0";
    }
    EXPECT_EQ(row.at(side + "_as"), as) << side << " " << address;
    EXPECT_EQ(row.at(side + "_mask"), mask) << side << " " << address;
    EXPECT_EQ(row.at(side + "_country"), MmdbLookup(geo_db, address, "country iso_code"))
        << side << " " << address;
  };
  const std::vector<testing::CsvRow> rows = testing::ReadCsv(dir.File("out.csv"));
  ASSERT_EQ(rows.size(), pairs.size());
  std::map<std::string, bool> seen;
  for (const testing::CsvRow& row : rows) {
    seen[row.at("src_addr")] = true;
    EXPECT_EQ(row.at("input_if"), "0");
    EXPECT_EQ(row.at("input_if_name"), "file-input");
    EXPECT_EQ(row.at("output_if_name"), "file-input");
    expect_side(row, "src");
    expect_side(row, "dst");
  }
  for (const auto& [s, d] : pairs) EXPECT_TRUE(seen[s]) << s;

  testing::FlatJson json;
  ASSERT_TRUE(testing::ParseFlatJson(testing::ReadFile(dir.File("stats.json")), &json, &error))
      << error;
  EXPECT_EQ(testing::JsonU64(json, "enrichment.generation"), 1u) << testing::JsonKeys(json);
  EXPECT_EQ(testing::JsonU64(json, "enrichment.reload_failures"), 0u);

  // Without the sources the same columns print the record's own values: zeros and empties.
  const std::vector<std::string> plain = {
      testing::BinaryPath("flowcollect"), "-r", export_pcap, "-q", "--columns",
      "src_addr,src_as,src_mask,src_country,input_if_name", "-o", dir.File("plain.csv")};
  ASSERT_EQ(testing::RunArgv(plain, dir.File("plain.out"), dir.File("plain.err"), 30000), 0)
      << testing::ReadFile(dir.File("plain.err"));
  for (const testing::CsvRow& row : testing::ReadCsv(dir.File("plain.csv"))) {
    EXPECT_EQ(row.at("src_as"), "0");
    EXPECT_EQ(row.at("src_mask"), "0");
    EXPECT_EQ(row.at("src_country"), "");
    EXPECT_EQ(row.at("input_if_name"), "");
  }
}

TEST(FlowcollectEnrichTest, BadSourceFailsTheRunAndOverrideNeedsASource) {
  testing::TempDir dir;
  { std::ofstream(dir.File("bad.mmdb")) << "not a MaxMind database\n"; }
  const std::string fc = testing::BinaryPath("flowcollect");
  const std::string listen = absl::StrCat("127.0.0.1:", testing::FreeUdpPort());
  // A file that exists but is not a database: the run fails (1), naming the file.
  std::vector<std::string> argv = {fc, "-l", listen, "--geo-db", dir.File("bad.mmdb"), "-q"};
  EXPECT_EQ(testing::RunArgv(argv, dir.File("o"), dir.File("e"), 20000), 1);
  EXPECT_NE(testing::ReadFile(dir.File("e")).find("bad.mmdb"), std::string::npos)
      << testing::ReadFile(dir.File("e"));
  // A file that does not exist: a usage error (2).
  argv = {fc, "-l", listen, "--routes", dir.File("missing.txt"), "-q"};
  EXPECT_EQ(testing::RunArgv(argv, dir.File("o"), dir.File("e"), 20000), 2);
  argv = {fc, "-l", listen, "--enrich-override", "-q"};
  EXPECT_EQ(testing::RunArgv(argv, dir.File("o"), dir.File("e"), 20000), 2);
}

// Polls (bounded) --stats-json, written on SIGUSR1, until `done` holds for it.
bool WaitForStats(testing::Child& child, const std::string& path,
                  const std::function<bool(const testing::FlatJson&)>& done) {
  for (int i = 0; i < 100; ++i) {
    child.Signal(SIGUSR1);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    testing::FlatJson json;
    std::string error;
    if (testing::ParseFlatJson(testing::ReadFile(path), &json, &error) && done(json)) return true;
  }
  return false;
}

TEST(FlowcollectEnrichTest, SighupReloadsLiveAndAFailedReloadKeepsTheOldData) {
  testing::TempDir dir;
  std::string error;
  ASSERT_TRUE(WriteInput(dir.File("in.pcap"), {{"198.18.0.1", "198.19.0.1"}}, &error)) << error;
  const std::string routes = dir.File("networks.txt");
  { std::ofstream(routes) << "64500,198.18.0.0/16\n"; }
  const uint16_t port = testing::FreeUdpPort();
  const std::string stats = dir.File("stats.json");
  testing::Child collector;
  ASSERT_TRUE(collector.Start({testing::BinaryPath("flowcollect"), "-l",
                               absl::StrCat("127.0.0.1:", port), "--routes", routes, "--columns",
                               "src_addr,src_as,src_mask", "-o", dir.File("out.csv"),
                               "--stats-json", stats, "-q"},
                              dir.File("collect.out"), dir.File("collect.err")));
  ASSERT_TRUE(testing::WaitUntilUdpBound(port)) << testing::ReadFile(dir.File("collect.err"));
  auto send = [&](int expected_records) {
    const std::vector<std::string> argv = {testing::BinaryPath("flowexport"), "-T", "ng_netflow",
                                           "-r", dir.File("in.pcap"), "-c",
                                           absl::StrCat("127.0.0.1:", port)};
    ASSERT_EQ(testing::RunArgv(argv, dir.File("export.out"), dir.File("export.err"), 30000), 0)
        << testing::ReadFile(dir.File("export.err"));
    ASSERT_TRUE(WaitForStats(collector, stats, [&](const testing::FlatJson& j) {
      return testing::JsonU64(j, "totals.records").value_or(0) >= uint64_t(expected_records);
    })) << testing::ReadFile(stats);
  };
  ASSERT_NO_FATAL_FAILURE(send(1));

  { std::ofstream(routes, std::ios::trunc) << "64501,198.18.0.0/15\n"; }
  collector.Signal(SIGHUP);
  ASSERT_TRUE(WaitForStats(collector, stats, [](const testing::FlatJson& j) {
    return testing::JsonU64(j, "enrichment.generation").value_or(0) == 2;
  })) << testing::ReadFile(stats);
  ASSERT_NO_FATAL_FAILURE(send(2));

  { std::ofstream(routes, std::ios::trunc) << "this is not a route\n"; }
  collector.Signal(SIGHUP);
  ASSERT_TRUE(WaitForStats(collector, stats, [](const testing::FlatJson& j) {
    return testing::JsonU64(j, "enrichment.reload_failures").value_or(0) == 1;
  })) << testing::ReadFile(stats);
  ASSERT_NO_FATAL_FAILURE(send(3));

  collector.Signal(SIGTERM);
  ASSERT_EQ(collector.Wait(20000), 0) << testing::ReadFile(dir.File("collect.err"));
  EXPECT_NE(testing::ReadFile(dir.File("collect.err")).find("networks.txt"), std::string::npos)
      << "the failed reload names the file: " << testing::ReadFile(dir.File("collect.err"));
  EXPECT_EQ(testing::ReadFile(dir.File("out.csv")),
            "src_addr,src_as,src_mask\n"
            "198.18.0.1,64500,16\n"
            "198.18.0.1,64501,15\n"
            "198.18.0.1,64501,15\n");
  testing::FlatJson json;
  ASSERT_TRUE(testing::ParseFlatJson(testing::ReadFile(stats), &json, &error)) << error;
  EXPECT_EQ(testing::JsonU64(json, "enrichment.reloads"), 1u);
  EXPECT_EQ(testing::JsonU64(json, "enrichment.reload_failures"), 1u);
  EXPECT_EQ(testing::JsonU64(json, "enrichment.generation"), 2u);
}

TEST(FlowcollectEnrichTest, SighupWithoutEnrichmentIsIgnored) {
  testing::TempDir dir;
  const uint16_t port = testing::FreeUdpPort();
  testing::Child collector;
  ASSERT_TRUE(collector.Start({testing::BinaryPath("flowcollect"), "-l",
                               absl::StrCat("127.0.0.1:", port), "-o", dir.File("out.csv"), "-q"},
                              dir.File("o"), dir.File("e")));
  ASSERT_TRUE(testing::WaitUntilUdpBound(port));
  collector.Signal(SIGHUP);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(collector.Running()) << "SIGHUP killed flowcollect";
  collector.Signal(SIGTERM);
  EXPECT_EQ(collector.Wait(20000), 0);
}

}  // namespace
}  // namespace nf
