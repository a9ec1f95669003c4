// nf::metrics: the text exposition format (names, labels, escaping, grouping of families), the
// flowcollect_* collector metrics summed over workers, and the /metrics endpoint scraped over
// loopback and parsed back: plain and over TLS (a self-signed certificate made with the openssl
// tool), under a flood of 3,000 half-sent requests, with a request timeout, and the flowcollect
// options that configure it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
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
#include "collector/app/collector_cli.h"
#include "collector/app/collector_metrics.h"
#include "collector/app/collector_options.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http/client.h"
#include "http/url.h"
#include "metrics/metrics_server.h"
#include "metrics/registry.h"
#include "tests/metrics/exposition_parser.h"
#include "tests/metrics/metrics_cli_checks.h"
#include "tests/support/test_support.h"

namespace nf::metrics {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;
using ::nf::testing::WaitUntil;

Exposition Parse(absl::string_view text) { return ParseExposition(text); }

MetricsServerOptions Listen(absl::string_view listen) {
  MetricsServerOptions o;
  o.listen = std::string(listen);
  return o;
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
  auto server = MetricsServer::Start(r, Listen("127.0.0.1:0"));
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
  EXPECT_FALSE(MetricsServer::Start(r, Listen("127.0.0.1:notaport")).ok());
  EXPECT_FALSE(MetricsServer::Start(r, Listen("999.1.1.1:9100")).ok());
  EXPECT_FALSE(MetricsServer::Start(r, Listen("127.0.0.1:70000")).ok());
  MetricsServerOptions no_key = Listen("127.0.0.1:0");
  no_key.tls_cert_file = "/etc/hostname";
  auto refused = MetricsServer::Start(r, no_key);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("metrics endpoint: "));
}

// ---------------------------------------------------------------------------------------------
// TLS, the connection bound and the request timeout.

// A self-signed certificate for localhost and 127.0.0.1, and its key, in `dir`.
struct Certificate {
  std::string cert;
  std::string key;
};
bool MakeCertificate(const testing::TempDir& dir, Certificate& out, std::string& error) {
  out.cert = dir.File("cert.pem");
  out.key = dir.File("cert.key");
  return testing::MakeSelfSignedCertificate(dir.path(), "cert", &error);
}

std::unique_ptr<http::Client> ClientFor(absl::string_view url_text, const std::string& ca_file) {
  auto url = http::ParseUrl(url_text);
  EXPECT_TRUE(url.ok()) << url.status();
  if (!url.ok()) return nullptr;
  http::ClientOptions o;
  o.ca_file = ca_file;
  o.connect_timeout_ms = 5000;
  o.io_timeout_ms = 5000;
  auto client = http::Client::Create(*url, o);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

TEST(MetricsServerTest, ServesHttpsWithTheGivenCertificate) {
  if (!testing::HaveTool("openssl")) GTEST_SKIP() << "the openssl tool makes the certificate";
  testing::TempDir dir;
  Certificate cert;
  std::string error;
  ASSERT_TRUE(MakeCertificate(dir, cert, error)) << error;
  Registry r;
  r.AddCounter("flowcollect_records_total", "Flow records decoded.").Add(4242);
  MetricsServerOptions o = Listen("127.0.0.1:0");
  o.tls_cert_file = cert.cert;
  o.tls_key_file = cert.key;
  auto server = MetricsServer::Start(r, o);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string https = absl::StrCat("https://127.0.0.1:", (*server)->port(), "/metrics");

  // Trusting the certificate: a scrape that parses.
  auto trusting = ClientFor(https, cert.cert);
  ASSERT_NE(trusting, nullptr);
  http::Result scrape = trusting->Get("/metrics");
  ASSERT_TRUE(scrape.status.ok()) << scrape.status;
  EXPECT_EQ(scrape.code, 200);
  Exposition e = Parse(scrape.body);
  ASSERT_TRUE(e.error.empty()) << e.error << "\n" << scrape.body;
  EXPECT_EQ(e.samples["flowcollect_records_total"], 4242);
  EXPECT_EQ((*server)->scrapes(), 1u);

  // Plain HTTP to the TLS port: no HTTP answer at all.
  auto plain = ClientFor(absl::StrCat("http://127.0.0.1:", (*server)->port(), "/metrics"), "");
  ASSERT_NE(plain, nullptr);
  http::Result refused = plain->Get("/metrics");
  EXPECT_FALSE(refused.status.ok()) << "code " << refused.code << ": " << refused.body;
  EXPECT_EQ(refused.code, 0);
  std::string raw = HttpGet((*server)->port(), "/metrics");
  EXPECT_FALSE(absl::StartsWith(raw, "HTTP/")) << raw;

  // The system's trust store does not know a self-signed certificate.
  auto untrusting = ClientFor(https, "");
  ASSERT_NE(untrusting, nullptr);
  http::Result unverified = untrusting->Get("/metrics");
  ASSERT_FALSE(unverified.status.ok());
  EXPECT_THAT(unverified.status.message(), HasSubstr("certificate verification"));
  EXPECT_FALSE(unverified.may_have_arrived);

  EXPECT_EQ((*server)->scrapes(), 1u);
  // The plain client, the raw GET and the refusing client: three failed handshakes.
  EXPECT_TRUE(WaitUntil([&] { return (*server)->connection_counters().tls_failed.load() == 3; }))
      << (*server)->connection_counters().tls_failed.load();
}

TEST(MetricsServerTest, RefusesAKeyThatDoesNotMatchTheCertificate) {
  if (!testing::HaveTool("openssl")) GTEST_SKIP() << "the openssl tool makes the certificate";
  testing::TempDir one;
  testing::TempDir two;
  Certificate a;
  Certificate b;
  std::string error;
  ASSERT_TRUE(MakeCertificate(one, a, error)) << error;
  ASSERT_TRUE(MakeCertificate(two, b, error)) << error;
  Registry r;
  MetricsServerOptions o = Listen("127.0.0.1:0");
  o.tls_cert_file = a.cert;
  o.tls_key_file = b.key;
  auto server = MetricsServer::Start(r, o);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(std::string(server.status().message()), HasSubstr("does not match"));
}

// Test-side sockets, closed however the test ends.
class Sockets {
 public:
  ~Sockets() {
    for (int fd : fds_) close(fd);
  }
  // A blocking connection to 127.0.0.1:port (connect and send bounded by 5 s); -1 on failure.
  int Connect(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    fds_.push_back(fd);
    timeval bound{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &bound, sizeof(bound));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) == 0 ? fd : -1;
  }
  const std::vector<int>& fds() const { return fds_; }

 private:
  std::vector<int> fds_;
};

bool Send(int fd, absl::string_view s) {
  return send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
}

// True when the server closes `fd` within `timeout_ms` (without answering).
bool ClosedWithin(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) != 1) return false;
  char c;
  return recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

TEST(MetricsServerTest, ThousandsOfHalfSentRequestsDoNotLockAScraperOut) {
  constexpr int kFlood = 3000;
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < 8000) {
    GTEST_SKIP() << "the hard limit on open files is " << limit.rlim_max
                 << "; this test holds over 3,000 sockets and needs 8000 (ulimit -Hn)";
  }
  const rlimit saved = limit;
  limit.rlim_cur = limit.rlim_max;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &limit), 0);
  struct Restore {
    rlimit saved;
    ~Restore() { setrlimit(RLIMIT_NOFILE, &saved); }
  } restore{saved};

  Registry r;
  r.AddCounter("flowexport_packets_total", "Packets seen.").Add(31337);
  MetricsServerOptions o = Listen("127.0.0.1:0");
  o.max_connections = 256;
  auto server = MetricsServer::Start(r, o);
  ASSERT_TRUE(server.ok()) << server.status();
  const http::ServerCounters& counters = (*server)->connection_counters();

  Sockets flood;
  for (int i = 0; i < kFlood; ++i) {
    int fd = flood.Connect((*server)->port());
    ASSERT_GE(fd, 0) << "connection " << i << ": " << strerror(errno);
    ASSERT_TRUE(Send(fd, "GET /metr")) << "connection " << i << ": " << strerror(errno);
  }

  const auto start = Clock::now();
  auto scraper = ClientFor(absl::StrCat("http://127.0.0.1:", (*server)->port(), "/metrics"), "");
  ASSERT_NE(scraper, nullptr);
  http::Result scrape = scraper->Get("/metrics");
  const auto took = Clock::now() - start;
  ASSERT_TRUE(scrape.status.ok()) << scrape.status;
  EXPECT_EQ(scrape.code, 200);
  EXPECT_LT(took, std::chrono::seconds(5));
  Exposition e = Parse(scrape.body);
  ASSERT_TRUE(e.error.empty()) << e.error;
  EXPECT_EQ(e.samples["flowexport_packets_total"], 31337);

  // The scraper's connection was accepted after every flood connection: the bound held.
  EXPECT_EQ(counters.accepted.load(), kFlood + 1u);
  EXPECT_GE(counters.evicted.load(), kFlood + 1u - 256);
  EXPECT_LE(counters.open.load(), 256u);
  // The oldest went first; the newest half-sent requests are still held.
  EXPECT_TRUE(ClosedWithin(flood.fds().front(), 2000));
  EXPECT_FALSE(ClosedWithin(flood.fds().back(), 0));
}

TEST(MetricsServerTest, HalfSentRequestIsClosedAfterTheRequestTimeout) {
  Registry r;
  MetricsServerOptions o = Listen("127.0.0.1:0");
  o.request_timeout_ms = 300;
  auto server = MetricsServer::Start(r, o);
  ASSERT_TRUE(server.ok()) << server.status();
  Sockets sockets;
  int fd = sockets.Connect((*server)->port());
  ASSERT_GE(fd, 0) << strerror(errno);
  const auto start = Clock::now();
  ASSERT_TRUE(Send(fd, "GET /metrics HTTP/1.1\r\nHost: x\r\n"));
  EXPECT_TRUE(ClosedWithin(fd, 5000));
  const auto took = Clock::now() - start;
  EXPECT_GE(took, std::chrono::milliseconds(250));
  EXPECT_LT(took, std::chrono::milliseconds(3000));
  EXPECT_TRUE(WaitUntil([&] { return (*server)->connection_counters().timed_out.load() == 1; }));
  EXPECT_EQ((*server)->scrapes(), 0u);
  // The server still answers whole requests.
  EXPECT_TRUE(absl::StartsWith(HttpGet((*server)->port(), "/metrics"), "HTTP/1.1 200"));
}

// --metrics-tls-cert and --metrics-tls-key go together, and only with --metrics.
TEST(MetricsCliTest, FlowcollectTlsOptionsComeInPairsWithMetrics) {
  ExpectMetricsOptionRules(&AddCollectorOptions, "127.0.0.1:9464", HelpCase::kLower);
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
