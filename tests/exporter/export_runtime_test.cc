// The flowexport runtime in-process (exporter/app/export_runtime.h): a capture written by the
// test goes through ExportRuntime::Run to a UDP socket on 127.0.0.1. Every packet is accounted
// (exported + dropped by reason = seen), the datagrams decode to exactly the per-flow packets and
// bytes of the capture, a stop requested mid-run exports every open flow, and the stats JSON and
// the printed summary are renderings of the same final snapshot. Run with --threads 1 and 2.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "exporter/app/export_runtime.h"
#include "exporter/app/export_stats.h"
#include "gtest/gtest.h"
#include "tests/exporter/frame_builder.h"
#include "tests/support/udp_receiver.h"
#include "tests/exporter/v9_test_decoder.h"
#include "tests/support/test_support.h"
#include "wire/v9_fields.h"

namespace nf {
namespace {

using namespace ::nf::testing;  // NOLINT: frame builders and support helpers

constexpr int64_t kBaseUs = int64_t{1'700'000'000} * 1'000'000;
constexpr int kFlows = 100;
constexpr uint16_t kFirstPort = 10000;
constexpr int kTruncated = 3;  // frames shorter than an Ethernet header
constexpr int kArp = 2;        // not IP

struct Frame {
  PcapFrame frame;
  int flow = -1;          // -1: not a metered packet
  uint64_t l3_bytes = 0;  // what the flow's byte counter gains
};

// Bad frames first, then the flows' packets round-robin (flow f has 1 + f % 7 packets), one
// millisecond apart, so a run stopped after the first capture batch has many flows open.
std::vector<Frame> MakeCapture() {
  std::vector<Frame> frames;
  int64_t t = kBaseUs;
  for (int i = 0; i < kTruncated; ++i) frames.push_back({{t += 1000, Bytes(6, 0)}});
  for (int i = 0; i < kArp; ++i) frames.push_back({{t += 1000, Eth(0x0806, Bytes(28, 0))}});
  for (int round = 0; round < 7; ++round) {
    for (int f = 0; f < kFlows; ++f) {
      if (round >= 1 + f % 7) continue;
      const size_t payload = static_cast<size_t>(10 + (f * 13 + round * 7) % 300);
      const Bytes ip = Ipv4(0x0a000001, 0x0a000002, 17,
                            Udp(static_cast<uint16_t>(kFirstPort + f), 53, payload));
      frames.push_back({{t += 1000, Eth(0x0800, ip)}, f, ip.size()});
    }
  }
  return frames;
}

struct FlowTotals {
  uint64_t packets = 0;
  uint64_t bytes = 0;
  bool operator==(const FlowTotals&) const = default;
};

// Per source port: what the first `frames_read` frames put into each flow.
std::map<uint16_t, FlowTotals> Expected(const std::vector<Frame>& frames, size_t frames_read) {
  std::map<uint16_t, FlowTotals> m;
  for (size_t i = 0; i < frames_read && i < frames.size(); ++i) {
    if (frames[i].flow < 0) continue;
    FlowTotals& t = m[static_cast<uint16_t>(kFirstPort + frames[i].flow)];
    ++t.packets;
    t.bytes += frames[i].l3_bytes;
  }
  return m;
}

struct Decoded {
  std::map<uint16_t, FlowTotals> flows;  // by source port, summed over records
  uint64_t records = 0;
  size_t datagrams = 0;
};

Decoded DecodeAll(const std::vector<Bytes>& datagrams) {
  Decoded out;
  V9TestDecoder decoder;
  for (const Bytes& b : datagrams) {
    DecodedV9Datagram d = decoder.Decode(b);
    EXPECT_EQ(d.error, "");
    ++out.datagrams;
    for (const DecodedV9Record& r : d.records) {
      if (!r.values.contains(field::kL4SrcPort)) continue;  // the sampling options record
      FlowTotals& t = out.flows[static_cast<uint16_t>(r.values.at(field::kL4SrcPort))];
      t.packets += r.values.at(field::kInPkts);
      t.bytes += r.values.at(field::kInBytes);
      ++out.records;
    }
  }
  return out;
}

uint64_t Count(const std::vector<std::pair<std::string, uint64_t>>& v, const std::string& key) {
  for (const auto& [name, n] : v) {
    if (name == key) return n;
  }
  ADD_FAILURE() << "no counter " << key;
  return 0;
}

uint64_t Sum(const std::vector<std::pair<std::string, uint64_t>>& v) {
  uint64_t s = 0;
  for (const auto& [name, n] : v) s += n;
  return s;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class ExportRuntimeTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    frames_ = MakeCapture();
    std::vector<PcapFrame> pcap;
    for (const Frame& f : frames_) pcap.push_back(f.frame);
    ASSERT_TRUE(WritePcap(dir_.File("in.pcap"), pcap));
    options_.files = {dir_.File("in.pcap")};
    options_.collectors = {receiver_.address()};
    options_.stats_json = dir_.File("stats.json");
    options_.max_export_rate = 0;  // no pacing: the test is synchronous
    options_.threads = GetParam();
    options_.progress = ProgressMode::kNever;
    hooks_.log = &log_;
    hooks_.handle_signals = false;  // the test binary keeps its own signal dispositions
  }

  TempDir dir_;
  UdpReceiver receiver_;
  std::vector<Frame> frames_;
  ExportOptions options_;
  RunHooks hooks_;
  std::ostringstream log_;
};

TEST_P(ExportRuntimeTest, AccountsEveryPacketAndExportsExactFlows) {
  ExportRuntime runtime(options_, hooks_);
  ASSERT_EQ(runtime.Run(), 0) << log_.str();
  const ExportSnapshot& s = runtime.final_snapshot();

  EXPECT_EQ(s.packets_seen, frames_.size());
  EXPECT_EQ(Count(s.packets_dropped, "truncated_link"), uint64_t{kTruncated});
  EXPECT_EQ(Count(s.packets_dropped, "not_ip"), uint64_t{kArp});
  EXPECT_EQ(s.packets_parsed + Sum(s.packets_dropped), s.packets_seen);
  // Nothing sampled out, no ring drops, nothing unexportable: every parsed packet is exported.
  EXPECT_EQ(s.packets_exported + Sum(s.packets_dropped), s.packets_seen);
  EXPECT_EQ(s.flows_created, uint64_t{kFlows});
  EXPECT_EQ(s.flows_active, 0u);
  EXPECT_EQ(Count(s.flows_expired, "forced_end"), uint64_t{kFlows});

  const Decoded d = DecodeAll(receiver_.Drain());
  EXPECT_EQ(d.flows, Expected(frames_, frames_.size()));
  EXPECT_EQ(d.records, s.records_sent);
  EXPECT_EQ(d.datagrams, s.datagrams_sent);
  uint64_t bytes = 0;
  for (const auto& [port, t] : d.flows) bytes += t.bytes;
  EXPECT_EQ(bytes, s.bytes_exported);
}

TEST_P(ExportRuntimeTest, StopMidRunExportsEveryOpenFlow) {
  // With --threads 2 the reader hands out ~1 MiB frame batches and the workers count packets
  // once they have metered a batch: a capture of many batches (one bulk flow after the small
  // ones), so the stop comes before its end.
  int64_t t = kBaseUs + 10'000'000;
  for (int i = 0; i < 6000; ++i) {
    const Bytes ip = Ipv4(0x0a000001, 0x0a000003, 17,
                          Udp(static_cast<uint16_t>(kFirstPort + kFlows), 53, 1400));
    frames_.push_back({{t += 100, Eth(0x0800, ip)}, kFlows, ip.size()});
  }
  std::vector<PcapFrame> pcap;
  for (const Frame& f : frames_) pcap.push_back(f.frame);
  ASSERT_TRUE(WritePcap(options_.files[0], pcap));
  ExportRuntime* running = nullptr;
  // Metered but not yet exported when the stop came: packets of open flows (with --threads the
  // workers publish flows_active late, so count packets rather than flows).
  uint64_t unexported_at_stop = 0;
  hooks_.after_batch = [&](const ExportSnapshot& s) {
    unexported_at_stop = s.packets_parsed - s.packets_exported;
    // As SIGTERM would, after the first capture batch whose packets are metered.
    if (unexported_at_stop > 0) running->RequestStop();
  };
  ExportRuntime runtime(options_, hooks_);
  running = &runtime;
  ASSERT_EQ(runtime.Run(), 0) << log_.str();
  const ExportSnapshot& s = runtime.final_snapshot();

  ASSERT_GT(s.packets_seen, 0u);
  ASSERT_LT(s.packets_seen, frames_.size()) << "the stop came after the end of the input";
  EXPECT_GT(unexported_at_stop, 0u);
  EXPECT_EQ(s.flows_active, 0u);
  EXPECT_EQ(s.packets_exported + Sum(s.packets_dropped), s.packets_seen);
  EXPECT_EQ(Count(s.flows_expired, "forced_end"), s.flows_created);

  const Decoded d = DecodeAll(receiver_.Drain());
  EXPECT_EQ(d.flows, Expected(frames_, static_cast<size_t>(s.packets_seen)));
  EXPECT_EQ(d.records, s.flows_created);
  EXPECT_EQ(d.records, s.records_sent);
}

TEST_P(ExportRuntimeTest, JsonAndSummaryComeFromTheFinalSnapshot) {
  ExportRuntime runtime(options_, hooks_);
  ASSERT_EQ(runtime.Run(), 0) << log_.str();
  const ExportSnapshot& s = runtime.final_snapshot();
  const std::string json = ReadFile(options_.stats_json);
  EXPECT_EQ(json, FormatStatsJson(s));
  EXPECT_NE(json.find(absl::StrCat("\"packets_seen\": ", s.packets_seen, ",")),
            std::string::npos);
  EXPECT_NE(json.find(absl::StrCat("\"records_sent\": ", s.records_sent, ",")),
            std::string::npos);
  const std::string summary = FormatSummary(s);
  EXPECT_EQ(log_.str(), summary);
  EXPECT_NE(summary.find(absl::StrCat("packets seen ", s.packets_seen, ", parsed ",
                                      s.packets_parsed)),
            std::string::npos);
  EXPECT_NE(summary.find(absl::StrCat(s.flows_created, " created, ", kFlows,
                                      " exported (forced_end ", kFlows, ")")),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find(absl::StrCat(kTruncated, " packets not metered: truncated_link")),
            std::string::npos)
      << summary;
}

INSTANTIATE_TEST_SUITE_P(Threads, ExportRuntimeTest, ::testing::Values(1, 2));

// SIGHUP's path in-process: a reload requested mid-run is loaded off the capture loop and used
// by every flow exported after it is in place (all flows here end at the end of the input); a
// reload of a file that no longer parses keeps the data in use and is counted.
TEST(ExportRuntimeEnrichTest, ReloadSwapsRoutesMidRunAndAFailedReloadKeepsThem) {
  TempDir dir;
  const std::string routes = dir.File("networks.txt");
  auto write_routes = [&routes](const std::string& text) {
    std::ofstream out(routes + ".new");
    out << text;
    out.close();
    std::rename((routes + ".new").c_str(), routes.c_str());
  };
  write_routes("10.0.0.0/8 64500\n");
  std::vector<PcapFrame> pcap;
  int64_t t = kBaseUs;
  for (int f = 0; f < 20; ++f) {
    const Bytes ip = Ipv4(0x0a000001u + static_cast<uint32_t>(f), 0x0a010001u, 17,
                          Udp(static_cast<uint16_t>(kFirstPort + f), 53, 10));
    pcap.push_back({t += 1000, Eth(0x0800, ip)});
  }
  // Filler (not IP) so the loop runs many batches while the reload thread works.
  for (int i = 0; i < 256 * 40; ++i) pcap.push_back({t += 10, Eth(0x0806, Bytes(28, 0))});
  ASSERT_TRUE(WritePcap(dir.File("in.pcap"), pcap));

  UdpReceiver receiver;
  std::ostringstream log;
  ExportOptions options;
  options.files = {dir.File("in.pcap")};
  options.collectors = {receiver.address()};
  options.max_export_rate = 0;
  options.progress = ProgressMode::kNever;
  options.template_name = "ng_netflow";
  options.enrichment.routes = {routes};
  RunHooks hooks;
  hooks.log = &log;
  hooks.handle_signals = false;
  ExportRuntime* running = nullptr;
  int batch = 0;
  bool corrupt_requested = false;
  uint64_t generation_seen = 0;
  hooks.after_batch = [&](const ExportSnapshot& s) {
    ++batch;
    generation_seen = s.enrichment_generation;
    if (batch == 1) {
      EXPECT_EQ(s.enrichment_generation, 1u);
      write_routes("10.0.0.0/8 64501\n10.0.0.0/24 64502\n");
      running->RequestReload();  // as SIGHUP does
    } else if (s.enrichment_generation == 2 && !corrupt_requested) {
      corrupt_requested = true;
      write_routes("10.0.0.0/8 64501\n10.0.0.0/99 1\n");
      running->RequestReload();
    }
    // Give the reload thread time to finish (bounded: the capture has ~40 batches).
    if (s.enrichment_generation < 2 || s.enrichment_reload_failures == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  };
  ExportRuntime runtime(options, hooks);
  running = &runtime;
  ASSERT_EQ(runtime.Run(), 0) << log.str();
  const ExportSnapshot& s = runtime.final_snapshot();
  EXPECT_EQ(s.enrichment_generation, 2u) << log.str();
  EXPECT_EQ(s.enrichment_reloads, 1u);
  EXPECT_EQ(s.enrichment_reload_failures, 1u) << log.str();
  EXPECT_EQ(generation_seen, 2u);
  EXPECT_EQ(s.addresses_looked_up, 40u);
  EXPECT_EQ(s.addresses_matched, 40u);

  V9TestDecoder decoder;
  int records = 0;
  for (const Bytes& b : receiver.Drain()) {
    DecodedV9Datagram d = decoder.Decode(b);
    EXPECT_EQ(d.error, "");
    for (const DecodedV9Record& r : d.records) {
      if (!r.values.contains(field::kSrcAs)) continue;
      ++records;
      EXPECT_EQ(r.values.at(field::kSrcAs), 64502u);
      EXPECT_EQ(r.values.at(field::kSrcMask), 24u);
      EXPECT_EQ(r.values.at(field::kDstAs), 64501u);
      EXPECT_EQ(r.values.at(field::kDstMask), 8u);
    }
  }
  EXPECT_EQ(records, 20);
}

TEST(ExportRuntimeUsageTest, BadCombinationsAreUsageErrors) {
  std::ostringstream log;
  RunHooks hooks;
  hooks.log = &log;
  hooks.handle_signals = false;
  ExportOptions none;
  none.collectors = {"127.0.0.1:9"};
  EXPECT_EQ(ExportRuntime(none, hooks).Run(), 2);
  EXPECT_NE(log.str().find("give exactly one input"), std::string::npos);

  ExportOptions v5 = none;
  v5.files = {"/nonexistent.pcap"};
  v5.export_version = 5;
  v5.template_given = true;
  EXPECT_EQ(ExportRuntime(v5, hooks).Run(), 2);
  EXPECT_NE(log.str().find("-T has no effect with -v 5"), std::string::npos);
}

}  // namespace
}  // namespace nf
