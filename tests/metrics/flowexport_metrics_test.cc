// flowexport --metrics: the flowexport_* families render and parse; a live loopback run is
// scraped while it runs and every value equals what --stats-json reports at exit; a -r run is
// scraped mid-run (values parse and never exceed the final statistics).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "exporter/app/export_cli.h"
#include "tools/trafgen/trafgen.h"
#include "exporter/app/export_metrics.h"
#include "gtest/gtest.h"
#include "metrics/registry.h"
#include "tests/metrics/exposition_parser.h"
#include "tests/metrics/metrics_cli_checks.h"
#include "tests/support/test_support.h"

namespace nf::metrics {
namespace {

using nf::testing::BinaryPath;
using nf::testing::FreeUdpPort;
using nf::testing::TempDir;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The number after "key": in `json`, searching from `from`; -1 when absent.
double JsonValue(const std::string& json, const std::string& key, size_t from = 0) {
  const std::string needle = "\"" + key + "\": ";
  const size_t at = json.find(needle, from);
  if (at == std::string::npos) return -1;
  double v = -1;
  const size_t start = at + needle.size();
  const size_t end = json.find_first_of(",}\n", start);
  if (!absl::SimpleAtod(json.substr(start, end - start), &v)) return -1;
  return v;
}

// Every flowexport sample and the stats JSON key (or nested key) it must equal at exit.
std::map<std::string, double> ExpectedFromJson(const std::string& json) {
  std::map<std::string, double> m;
  auto top = [&](const std::string& metric, const std::string& key) { m[metric] = JsonValue(json, key); };
  top("flowexport_packets_total", "packets_seen");
  top("flowexport_packets_parsed_total", "packets_parsed");
  top("flowexport_packets_sampled_out_total", "packets_sampled_out");
  top("flowexport_packets_fragments_total", "packets_fragment");
  top("flowexport_packets_non_first_fragments_total", "packets_non_first_fragment");
  top("flowexport_packets_l4_truncated_total", "packets_l4_truncated");
  top("flowexport_capture_drops_total", "pcap_dropped");
  top("flowexport_capture_interface_drops_total", "pcap_if_dropped");
  top("flowexport_ring_drops_total", "packets_ring_full_dropped");
  top("flowexport_flows_created_total", "flows_created");
  top("flowexport_flows_active", "flows_active");
  top("flowexport_flow_packets_total", "packets_exported");
  top("flowexport_flow_bytes_total", "bytes_exported");
  top("flowexport_records_exported_total", "records_sent");
  top("flowexport_template_records_total", "template_records_sent");
  top("flowexport_records_not_exportable_total", "records_not_exportable");
  top("flowexport_datagrams_sent_total", "datagrams_sent");
  const size_t dropped = json.find("\"packets_dropped\": {");
  for (const char* reason : {"truncated_link", "truncated_ip", "not_ip", "unsupported_link_type",
                             "bad_ip_version", "bad_ipv4_header", "bad_ipv6_header",
                             "too_many_headers"}) {
    m[absl::StrCat("flowexport_packets_dropped_total{reason=\"", reason, "\"}")] =
        JsonValue(json, reason, dropped);
  }
  const size_t expired = json.find("\"flows_expired\": {");
  for (const char* reason :
       {"idle_timeout", "active_timeout", "end_of_flow", "forced_end", "lack_of_resources"}) {
    m[absl::StrCat("flowexport_flows_expired_total{reason=\"", reason, "\"}")] =
        JsonValue(json, reason, expired);
  }
  return m;
}

TEST(FlowexportMetricsTest, SnapshotRendersValidFamilies) {
  ExportSnapshot s;
  s.packets_seen = 10;
  s.packets_parsed = 9;
  s.packets_dropped = {{"not_ip", 1}, {"truncated_ip", 0}};
  s.flows_expired = {{"idle_timeout", 3}, {"forced_end", 2}};
  s.flows_active = 4;
  s.bytes_exported = 12345678901;
  s.collectors = {{"a:2055", "192.0.2.1:2055", 7, 1}, {"b:2055", "192.0.2.2:2055", 8, 0}};
  ExportStatsPublisher publisher;
  publisher.Publish(s);
  Registry registry;
  publisher.Register(registry);
  const Exposition e = ParseExposition(registry.Render());
  ASSERT_TRUE(e.error.empty()) << e.error;
  for (const auto& [name, type] : e.types) {
    EXPECT_TRUE(absl::StartsWith(name, "flowexport_")) << name;
    EXPECT_TRUE(ValidateMetricName(name, type == "counter" ? MetricType::kCounter
                                                           : MetricType::kGauge)
                    .ok())
        << name << " " << type;
  }
  EXPECT_EQ(e.types.at("flowexport_flows_active"), "gauge");
  EXPECT_EQ(e.types.at("flowexport_packets_total"), "counter");
  EXPECT_EQ(e.samples.at("flowexport_packets_total"), 10);
  EXPECT_EQ(e.samples.at("flowexport_packets_dropped_total{reason=\"not_ip\"}"), 1);
  EXPECT_EQ(e.samples.at("flowexport_packets_dropped_total{reason=\"truncated_ip\"}"), 0);
  EXPECT_EQ(e.samples.at("flowexport_flows_expired_total{reason=\"forced_end\"}"), 2);
  EXPECT_EQ(e.samples.at("flowexport_flow_bytes_total"), 12345678901.0);
  EXPECT_EQ(e.samples.at("flowexport_collector_datagrams_total{collector=\"b:2055\"}"), 8);
  EXPECT_EQ(e.samples.at("flowexport_send_errors_total{collector=\"a:2055\"}"), 1);
}

// flowexport running in the background, stderr to a log file.
class Flowexport {
 public:
  Flowexport(const std::vector<std::string>& args, const std::string& log) : log_(log) {
    pid_ = fork();
    if (pid_ == 0) {
      if (std::freopen(log.c_str(), "w", stderr) == nullptr) _exit(126);
      const std::string bin = BinaryPath("flowexport");
      std::vector<char*> argv = {const_cast<char*>(bin.c_str())};
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(bin.c_str(), argv.data());
      _exit(127);
    }
  }
  ~Flowexport() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  bool Exited(int* code) {
    int status = 0;
    if (exited_ || waitpid(pid_, &status, WNOHANG) != pid_) return exited_;
    exited_ = true;
    *code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    return true;
  }
  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  }
  // The metrics port from the --verbose start-up line; 0 while not there yet.
  uint16_t MetricsPort() const {
    const std::string text = ReadFile(log_);
    const std::string needle = "metrics on port ";
    const size_t at = text.find(needle);
    if (at == std::string::npos) return 0;
    uint32_t port = 0;
    const size_t start = at + needle.size();
    if (!absl::SimpleAtoi(text.substr(start, text.find(' ', start) - start), &port)) return 0;
    return static_cast<uint16_t>(port);
  }

 private:
  std::string log_;
  pid_t pid_ = -1;
  bool exited_ = false;
};

Exposition Scrape(uint16_t port) {
  const std::string response = HttpGet(port, "/metrics");
  if (!absl::StartsWith(response, "HTTP/1.1 200")) {
    Exposition e;
    e.error = "scrape failed: " + response.substr(0, 100);
    return e;
  }
  return ParseExposition(HttpBody(response));
}

// Live capture on lo (needs CAP_NET_RAW; skipped without it): traffic stops, the flows idle
// out and are exported, the endpoint shows it, and after SIGTERM every scraped value equals the
// stats JSON (nothing is left to flush at exit).
TEST(FlowexportMetricsTest, LiveScrapeEqualsStatsJsonAtExit) {
  TempDir dir;
  const uint16_t target = FreeUdpPort();
  const uint16_t sink_port = FreeUdpPort();
  const int sink = socket(AF_INET, SOCK_DGRAM, 0);  // the collector: bound, never read
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(sink_port);
  ASSERT_EQ(bind(sink, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const std::string stats = dir.File("stats.json");
  Flowexport fx({"--verbose", "-i", "lo", "-c", absl::StrCat("127.0.0.1:", sink_port),
                 "--metrics", "127.0.0.1:0", "--inactive-timeout", "0.2", "--flush-interval",
                 "0.1", "--stats-json", stats, absl::StrCat("udp dst port ", target)},
                dir.File("log.txt"));
  uint16_t port = 0;
  bool capturing = false;
  int code = 0;
  for (int i = 0; i < 500 && !capturing; ++i) {  // bounded wait for the start-up lines
    if (fx.Exited(&code)) {
      const std::string msg = ReadFile(dir.File("log.txt"));
      if (absl::StrContains(msg, "permission")) GTEST_SKIP() << msg;
      FAIL() << "flowexport exited early: " << msg;
    }
    port = fx.MetricsPort();
    capturing = absl::StrContains(ReadFile(dir.File("log.txt")), "capturing on lo");
    if (!capturing) usleep(20 * 1000);
  }
  ASSERT_TRUE(capturing && port != 0) << ReadFile(dir.File("log.txt"));

  // 3 flows (3 source sockets) of 4 datagrams each.
  for (int f = 0; f < 3; ++f) {
    const int fd = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in to = addr;
    to.sin_port = htons(target);
    std::string payload(50 + f, 'x');
    for (int i = 0; i < 4; ++i) {
      sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
    }
    close(fd);
  }
  // Scrape until the flows have been exported. An idle capture may not wake the loop by
  // itself, so nudge it with SIGUSR1 (prints statistics; the loop then publishes).
  Exposition e;
  bool done = false;
  for (int i = 0; i < 150 && !done; ++i) {
    kill(fx.pid(), SIGUSR1);
    usleep(100 * 1000);
    e = Scrape(port);
    ASSERT_TRUE(e.error.empty()) << e.error;
    done = e.samples["flowexport_packets_total"] == 12 && e.samples["flowexport_flows_active"] == 0 &&
           e.samples["flowexport_records_exported_total"] == 3 &&
           e.samples["flowexport_datagrams_sent_total"] >= 1;
  }
  ASSERT_TRUE(done) << ReadFile(dir.File("log.txt"));
  kill(fx.pid(), SIGTERM);
  ASSERT_EQ(fx.Wait(), 0) << ReadFile(dir.File("log.txt"));
  close(sink);

  const std::string json = ReadFile(stats);
  ASSERT_FALSE(json.empty());
  for (const auto& [metric, value] : ExpectedFromJson(json)) {
    ASSERT_GE(value, 0) << "stats JSON lacks the key for " << metric << "\n" << json;
    ASSERT_EQ(e.samples.count(metric), 1u) << metric << " not scraped";
    EXPECT_EQ(e.samples[metric], value) << metric;
  }
  const std::string collector = absl::StrCat("{collector=\"127.0.0.1:", sink_port, "\"}");
  const size_t collectors = json.find("\"collectors\": [");
  EXPECT_EQ(e.samples["flowexport_collector_datagrams_total" + collector],
            JsonValue(json, "datagrams", collectors));
  EXPECT_EQ(e.samples["flowexport_send_errors_total" + collector],
            JsonValue(json, "send_errors", collectors));
  EXPECT_EQ(e.samples["flowexport_flow_packets_total"], 12);
}

// -r: the endpoint serves while the file is exported (paced to a few datagrams per second);
// every scrape parses and no counter exceeds its final value.
TEST(FlowexportMetricsTest, FileRunIsScrapedWhileItRuns) {
  TempDir dir;
  trafgen::Options to;
  to.packets = 3000;
  to.flows = 300;
  to.seed = 7;
  ASSERT_TRUE(trafgen::Generate(to, dir.File("in.pcap"), "").ok());
  const uint16_t sink_port = FreeUdpPort();
  const std::string stats = dir.File("stats.json");
  Flowexport fx({"--verbose", "-r", dir.File("in.pcap"), "-c",
                 absl::StrCat("127.0.0.1:", sink_port), "--metrics", "127.0.0.1:0",
                 "--max-export-rate", "10", "--stats-json", stats},
                dir.File("log.txt"));
  std::vector<Exposition> scrapes;
  int code = -1;
  for (int i = 0; i < 600 && !fx.Exited(&code); ++i) {  // bounded: ~1-2 s of pacing
    if (const uint16_t port = fx.MetricsPort(); port != 0) {
      Exposition e = Scrape(port);
      if (e.error.empty() || !absl::StartsWith(e.error, "scrape failed")) {
        scrapes.push_back(std::move(e));
      }
    }
    usleep(20 * 1000);
  }
  if (code == -1) code = fx.Wait();
  ASSERT_EQ(code, 0) << ReadFile(dir.File("log.txt"));
  ASSERT_FALSE(scrapes.empty()) << "the run ended before any scrape";
  const std::map<std::string, double> final_values = ExpectedFromJson(ReadFile(stats));
  EXPECT_EQ(final_values.at("flowexport_packets_total"), 3000);
  for (const Exposition& e : scrapes) {
    ASSERT_TRUE(e.error.empty()) << e.error;
    for (const auto& [metric, value] : final_values) {
      if (metric == "flowexport_flows_active") continue;  // a gauge
      ASSERT_EQ(e.samples.count(metric), 1u) << metric;
      EXPECT_LE(e.samples.at(metric), value) << metric;
    }
  }
}

// --metrics-tls-cert and --metrics-tls-key go together, and only with --metrics.
TEST(FlowexportMetricsTest, TlsOptionsComeInPairsWithMetrics) {
  ExpectMetricsOptionRules(&AddExportOptions, "[::1]:9465", HelpCase::kCapitalized);
}

}  // namespace
}  // namespace nf::metrics
