// flowexport --threads N end to end: the same generated capture read with 1, 2 and 4 flow-table
// shards gives the exact truth (packets, bytes, one record per flow) and, with timeouts that
// split flows, the same flow counts per expiry reason as the single table. Export goes to a
// UDP sink on 127.0.0.1.
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tools/trafgen/trafgen.h"
#include "gtest/gtest.h"
#include "tests/e2e/e2e_support.h"
#include "tests/support/test_support.h"

namespace nf {
namespace {

using testing::BinaryPath;
using testing::FlatJson;
using testing::JsonKeys;
using testing::JsonU64;
using testing::ReadFile;
using testing::TempDir;

struct ExportRun {
  FlatJson stats;
  size_t datagrams = 0;
};

void RunFlowexport(const std::string& pcap, const TempDir& dir, const std::string& tag,
                   const std::vector<std::string>& extra, ExportRun* run) {
  testing::UdpSink sink;
  std::string error;
  ASSERT_TRUE(sink.Open(&error)) << error;
  const std::string json = dir.File(tag + ".json");
  std::vector<std::string> argv = {
      BinaryPath("flowexport"), "-r", pcap,           "-c", absl::StrCat("127.0.0.1:", sink.port()),
      "--max-export-rate",      "0",  "--stats-json", json};
  argv.insert(argv.end(), extra.begin(), extra.end());
  const int rc = testing::RunArgv(argv, dir.File(tag + ".out"), dir.File(tag + ".err"), 120000);
  ASSERT_EQ(rc, 0) << testing::JoinArgv(argv) << "\n" << ReadFile(dir.File(tag + ".err"));
  run->datagrams = sink.Finish().size();
  ASSERT_TRUE(testing::ParseFlatJson(ReadFile(json), &run->stats, &error)) << error;
}

uint64_t Get(const ExportRun& r, const std::string& key) {
  const auto v = JsonU64(r.stats, key);
  EXPECT_TRUE(v.has_value()) << key << " missing in\n" << JsonKeys(r.stats);
  return v.value_or(~uint64_t{0});
}

class FlowexportThreadsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(BinaryPath("flowexport").c_str(), X_OK) != 0) {
      GTEST_SKIP() << "flowexport is not built yet: end-to-end test skipped";
    }
  }
};

TEST_F(FlowexportThreadsTest, ShardsGiveTheExactTruth) {
  TempDir dir;
  trafgen::Options o;
  o.packets = 100000;
  o.flows = 8000;
  o.seed = 5;
  o.ipv6_ratio = 0.3;
  o.vlan_ratio = 0.2;
  const std::string pcap = dir.File("in.pcap");
  auto summary = trafgen::Generate(o, pcap, trafgen::DefaultTruthPath(pcap));
  ASSERT_TRUE(summary.ok()) << summary.status();

  for (const char* threads : {"1", "2", "4"}) {
    SCOPED_TRACE(absl::StrCat("--threads ", threads));
    for (const char* policy : {"block", "drop"}) {
      SCOPED_TRACE(absl::StrCat("--ring-full ", policy));
      ExportRun r;
      ASSERT_NO_FATAL_FAILURE(RunFlowexport(pcap, dir, absl::StrCat("t", threads, policy),
                                            {"--threads", threads, "--ring-full", policy}, &r));
      const uint64_t ring_drops = Get(r, "packets_ring_full_dropped");
      if (std::string(policy) == "block") {
        EXPECT_EQ(ring_drops, 0u);
      }
      // Drops (possible only under "drop") are the only packets allowed to be missing.
      EXPECT_EQ(Get(r, "packets_exported") + ring_drops, summary->packets);
      if (ring_drops == 0) {
        EXPECT_EQ(Get(r, "bytes_exported"), summary->l3_bytes);
        EXPECT_EQ(Get(r, "records_sent"), summary->flows);
        EXPECT_EQ(Get(r, "flows_created"), summary->flows);
      }
      EXPECT_EQ(Get(r, "flows_active"), 0u);
      EXPECT_EQ(Get(r, "datagrams_sent"), r.datagrams);
    }
  }
}

TEST_F(FlowexportThreadsTest, TimeoutsSplitFlowsAsInOneTable) {
  TempDir dir;
  trafgen::Options o;
  o.packets = 60000;
  o.flows = 3000;
  o.seed = 9;
  o.rate_pps = 2000;  // 30 s of capture time: 1 s idle and 5 s active timeouts split flows
  o.max_gap_us = 0;   // the truth is per unsplit flow; only totals are compared here
  o.max_flow_duration_us = 0;
  const std::string pcap = dir.File("slow.pcap");
  auto summary = trafgen::Generate(o, pcap, trafgen::DefaultTruthPath(pcap));
  ASSERT_TRUE(summary.ok()) << summary.status();
  const std::vector<std::string> timeouts = {"--inactive-timeout", "1", "--active-timeout", "5"};
  ExportRun one;
  ASSERT_NO_FATAL_FAILURE(RunFlowexport(pcap, dir, "one", timeouts, &one));
  EXPECT_GT(Get(one, "flows_expired.idle_timeout"), 0u);
  EXPECT_GT(Get(one, "flows_expired.active_timeout"), 0u);
  for (const char* threads : {"2", "4"}) {
    SCOPED_TRACE(absl::StrCat("--threads ", threads));
    std::vector<std::string> args = timeouts;
    args.insert(args.end(), {"--threads", threads});
    ExportRun r;
    ASSERT_NO_FATAL_FAILURE(RunFlowexport(pcap, dir, absl::StrCat("t", threads), args, &r));
    EXPECT_EQ(Get(r, "packets_exported"), summary->packets);
    EXPECT_EQ(Get(r, "bytes_exported"), summary->l3_bytes);
    for (const char* key : {"flows_created", "records_sent", "flows_expired.idle_timeout",
                            "flows_expired.active_timeout", "flows_expired.end_of_flow",
                            "flows_expired.forced_end", "flows_expired.lack_of_resources"}) {
      EXPECT_EQ(Get(r, key), Get(one, key)) << key;
    }
  }
}

TEST_F(FlowexportThreadsTest, RejectsBadThreadOptions) {
  TempDir dir;
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"--threads", "0"}, {"--threads", "65"}, {"--ring-full", "wait"}}) {
    std::vector<std::string> argv = {BinaryPath("flowexport"), "-r", "/nonexistent.pcap", "-c",
                                     "127.0.0.1:9"};
    argv.insert(argv.end(), bad.begin(), bad.end());
    const int rc = testing::RunArgv(argv, dir.File("bad.out"), dir.File("bad.err"), 20000);
    EXPECT_NE(rc, 0) << testing::JoinArgv(argv);
    EXPECT_NE(ReadFile(dir.File("bad.err")), "") << testing::JoinArgv(argv);
  }
}

}  // namespace
}  // namespace nf
