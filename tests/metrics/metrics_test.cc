// nf::metrics: the text exposition format (names, labels, escaping, grouping of families) and
// the /metrics HTTP server, scraped over loopback and parsed back.
#include <cmath>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "collector/metrics/metrics.h"
#include "gtest/gtest.h"

namespace nf::metrics {
namespace {

// A parsed exposition: sample key ("name{labels}") -> value, and name -> TYPE.
struct Exposition {
  std::map<std::string, double> samples;
  std::map<std::string, std::string> types;
  std::string error;  // first syntax error
};

// A strict parser for the subset of the text format 0.0.4 we emit: HELP/TYPE before the
// family's samples, one TYPE per family, samples `name{k="v",...} value`.
Exposition Parse(absl::string_view text) {
  Exposition e;
  std::string current;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&line, "# HELP ")) {
      current = std::string(line.substr(0, line.find(' ')));
      continue;
    }
    if (absl::ConsumePrefix(&line, "# TYPE ")) {
      std::vector<std::string> parts = absl::StrSplit(line, ' ');
      if (parts.size() != 2 || parts[0] != current || e.types.count(parts[0])) {
        e.error = absl::StrCat("bad or repeated TYPE: ", line);
        return e;
      }
      e.types[parts[0]] = parts[1];
      continue;
    }
    size_t space = line.rfind(' ');
    if (space == absl::string_view::npos) {
      e.error = absl::StrCat("no value: ", line);
      return e;
    }
    std::string key(line.substr(0, space));
    std::string name = key.substr(0, key.find('{'));
    if (name != current) {
      e.error = absl::StrCat("sample outside its family: ", line);
      return e;
    }
    if (key.find('{') != std::string::npos && key.back() != '}') {
      e.error = absl::StrCat("bad labels: ", line);
      return e;
    }
    double v = 0;
    absl::string_view value = line.substr(space + 1);
    if (value == "NaN") {
      v = std::nan("");
    } else if (value == "+Inf") {
      v = HUGE_VAL;
    } else if (!absl::SimpleAtod(value, &v)) {
      e.error = absl::StrCat("bad value: ", line);
      return e;
    }
    e.samples[key] = v;
  }
  return e;
}

// GET over loopback; returns the whole response (status line, headers, body).
std::string HttpGet(uint16_t port, absl::string_view target) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket s(io);
  boost::system::error_code ec;
  s.connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
  if (ec) return "connect failed: " + ec.message();
  std::string req = absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: x\r\n\r\n");
  boost::asio::write(s, boost::asio::buffer(req), ec);
  std::string out;
  char buf[4096];
  for (int i = 0; i < 100000; ++i) {
    size_t n = s.read_some(boost::asio::buffer(buf), ec);
    out.append(buf, n);
    if (ec) break;
  }
  return out;
}

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
