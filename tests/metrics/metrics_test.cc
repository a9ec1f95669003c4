// nf::metrics: the text exposition format (names, labels, escaping, grouping of families), the
// flowcollect_* collector metrics summed over workers, and
// the /metrics HTTP server, scraped over loopback and parsed back.
#include <cmath>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "collector/decode/decoder.h"
#include "collector/app/collector_metrics.h"
#include "metrics/metrics_http.h"
#include "tests/metrics/exposition_parser.h"
#include "gtest/gtest.h"

namespace nf::metrics {
namespace {

Exposition Parse(absl::string_view text) { return ParseExposition(text); }

TEST(MetricsTest, NamesFollowPrometheusConventions) {
  EXPECT_TRUE(ValidateMetricName("flowcollect_datagrams_total", MetricType::kCounter).ok());
  EXPECT_FALSE(ValidateMetricName("flowcollect_datagrams", MetricType::kCounter).ok());
  EXPECT_FALSE(ValidateMetricName("flowcollect_spool_bytes_total", MetricType::kGauge).ok());
  EXPECT_FALSE(ValidateMetricName("9bad", MetricType::kGauge).ok());
  EXPECT_FALSE(ValidateMetricName("bad-name", MetricType::kGauge).ok());
}

TEST(MetricsTest, RendersFamiliesOnceWithEscapedLabels) {
  Registry r;
  Counter& a = r.AddCounter("flowcollect_datagrams_total", "Datagrams received.",
                            {{"exporter", "192.0.2.1"}});
  Counter& b = r.AddCounter("flowcollect_datagrams_total", "Datagrams received.",
                            {{"exporter", "2001:db8::1"}});
  Gauge& g = r.AddGauge("flowcollect_spool_bytes", "Bytes in the spool.");
  r.AddCallback([](SampleWriter& w) {
    w.Add("flowcollect_decode_errors_total", "Errors.", MetricType::kCounter,
          {{"exporter", "192.0.2.1"}, {"reason", "set_too_short"}}, 3);
    w.Add("flowcollect_datagrams_total", "Datagrams received.", MetricType::kCounter,
          {{"exporter", "we\"ird\\name\n"}}, 1);
  });
  a.Add(5);
  b.Add();
  g.Set(1.5);
  std::string text = r.Render();
  Exposition e = Parse(text);
  ASSERT_TRUE(e.error.empty()) << e.error << "\n" << text;
  EXPECT_EQ(e.types["flowcollect_datagrams_total"], "counter");
  EXPECT_EQ(e.types["flowcollect_spool_bytes"], "gauge");
  EXPECT_EQ(e.samples["flowcollect_datagrams_total{exporter=\"192.0.2.1\"}"], 5);
  EXPECT_EQ(e.samples["flowcollect_datagrams_total{exporter=\"2001:db8::1\"}"], 1);
  EXPECT_EQ(e.samples["flowcollect_datagrams_total{exporter=\"we\\\"ird\\\\name\\n\"}"], 1);
  EXPECT_EQ(e.samples["flowcollect_spool_bytes"], 1.5);
  EXPECT_EQ(
      e.samples["flowcollect_decode_errors_total{exporter=\"192.0.2.1\",reason=\"set_too_short\"}"],
      3);
}

TEST(MetricsTest, ValuesFormatLikePrometheus) {
  std::string s;
  AppendValue(12345678901234.0, s);
  EXPECT_EQ(s, "12345678901234");
  s.clear();
  AppendValue(0.25, s);
  EXPECT_EQ(s, "0.25");
  s.clear();
  AppendValue(std::nan(""), s);
  EXPECT_EQ(s, "NaN");
}

TEST(MetricsServerTest, ScrapedOverLoopbackAndParsed) {
  Registry r;
  Counter& records = r.AddCounter("flowcollect_records_total", "Flow records decoded.",
                                  {{"exporter", "127.0.0.1"}});
  auto server = MetricsServer::Start(r, "127.0.0.1:0");
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_NE((*server)->port(), 0);

  // Updated concurrently from another thread (relaxed atomics, no lock).
  std::thread writer([&] {
    for (int i = 0; i < 100000; ++i) records.Add();
  });
  writer.join();

  std::string response = HttpGet((*server)->port(), "/metrics");
  ASSERT_TRUE(absl::StartsWith(response, "HTTP/1.1 200 OK\r\n")) << response;
  EXPECT_TRUE(absl::StrContains(response, "Content-Type: text/plain; version=0.0.4"));
  size_t body_at = response.find("\r\n\r\n");
  ASSERT_NE(body_at, std::string::npos);
  Exposition e = Parse(response.substr(body_at + 4));
  ASSERT_TRUE(e.error.empty()) << e.error;
  EXPECT_EQ(e.samples["flowcollect_records_total{exporter=\"127.0.0.1\"}"], 100000);
  EXPECT_EQ((*server)->scrapes(), 1u);

  EXPECT_TRUE(absl::StartsWith(HttpGet((*server)->port(), "/nope"), "HTTP/1.1 404"));
  EXPECT_TRUE(absl::StartsWith(HttpGet((*server)->port(), "/metrics?x=1"), "HTTP/1.1 200"));
  (*server)->Stop();
}

TEST(MetricsServerTest, RejectsBadListenAddresses) {
  Registry r;
  EXPECT_FALSE(MetricsServer::Start(r, "127.0.0.1:notaport").ok());
  EXPECT_FALSE(MetricsServer::Start(r, "999.1.1.1:9100").ok());
  EXPECT_FALSE(MetricsServer::Start(r, "127.0.0.1:70000").ok());
}

}  // namespace
}  // namespace nf::metrics

// ---------------------------------------------------------------------------------------------
// flowcollect_* metrics from real decoders: two workers' stats are summed per exporter.

namespace nf::metrics {
namespace {

std::vector<uint8_t> V5Datagram(uint32_t sequence, uint16_t records) {
  std::vector<uint8_t> d(24 + 48 * records, 0);
  auto put16 = [&](size_t at, uint16_t v) {
    d[at] = static_cast<uint8_t>(v >> 8);
    d[at + 1] = static_cast<uint8_t>(v);
  };
  auto put32 = [&](size_t at, uint32_t v) {
    put16(at, static_cast<uint16_t>(v >> 16));
    put16(at + 2, static_cast<uint16_t>(v));
  };
  put16(0, 5);
  put16(2, records);
  put32(4, 100000);       // sysUptime
  put32(8, 1700000000);   // unix secs
  put32(16, sequence);
  for (uint16_t i = 0; i < records; ++i) {
    size_t r = 24 + 48 * size_t{i};
    put32(r, 0x0a000001 + i);  // src
    put32(r + 4, 0x0a000101);  // dst
    put32(r + 16, 10);         // packets
    put32(r + 20, 1000);       // bytes
    put32(r + 24, 90000);      // first
    put32(r + 28, 99000);      // last
    d[r + 38] = 6;             // protocol
  }
  return d;
}

class NullSink : public RecordSink {
 public:
  void OnRecord(const DecodedRecord&) override { ++records; }
  uint64_t records = 0;
};

TEST(CollectorMetricsTest, WorkersAreSummedPerExporter) {
  Decoder w0{DecoderOptions{}};
  Decoder w1{DecoderOptions{}};
  NullSink sink;
  ExporterId exporter{IpAddress::V4(0xc0000201), 2055};
  // One exporter's datagrams spread over two workers (as SO_REUSEPORT may do).
  auto d0 = V5Datagram(0, 3);
  auto d1 = V5Datagram(3, 2);
  w0.DecodeDatagram(d0, exporter, 1'700'000'000'000'000, sink);
  w1.DecodeDatagram(d1, exporter, 1'700'000'000'000'000, sink);
  std::vector<uint8_t> garbage = {0, 7, 0, 0};
  w1.DecodeDatagram(garbage, exporter, 1'700'000'000'000'000, sink);
  ASSERT_EQ(sink.records, 5u);

  CollectorStatsPublisher publisher(2);
  ReceiveStats r0;
  r0.datagrams = 1;
  r0.kernel_drops = 4;
  ReceiveStats r1;
  r1.datagrams = 2;
  publisher.Publish(0, w0, &r0);
  publisher.Publish(1, w1, &r1);
  Registry registry;
  publisher.Register(registry);
  Exposition e = Parse(registry.Render());
  ASSERT_TRUE(e.error.empty()) << e.error;
  const std::string l = "{exporter=\"192.0.2.1\"}";
  EXPECT_EQ(e.samples["flowcollect_datagrams_total" + l], 3);
  EXPECT_EQ(e.samples["flowcollect_records_total" + l], 5);
  EXPECT_EQ(e.samples["flowcollect_flow_packets_total" + l], 50);
  EXPECT_EQ(e.samples["flowcollect_flow_bytes_total" + l], 5000);
  EXPECT_EQ(e.samples["flowcollect_decode_errors_total{exporter=\"192.0.2.1\",reason=\"" +
                      std::string(DecodeErrorName(DecodeError::kShortDatagram)) + "\"}"] +
                e.samples["flowcollect_decode_errors_total{exporter=\"192.0.2.1\",reason=\"" +
                          std::string(DecodeErrorName(DecodeError::kBadVersion)) + "\"}"],
            1);
  EXPECT_EQ(e.samples["flowcollect_socket_datagrams_total"], 3);
  EXPECT_EQ(e.samples["flowcollect_socket_drops_total"], 4);
  EXPECT_EQ(e.types["flowcollect_templates"], "gauge");
}

}  // namespace
}  // namespace nf::metrics
