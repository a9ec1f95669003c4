#include "metrics/metrics_http.h"

#include <cassert>
#include <chrono>
#include <cmath>
#include <cstdio>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace nf::metrics {
namespace {

using boost::asio::ip::tcp;

const char* TypeName(MetricType t) { return t == MetricType::kCounter ? "counter" : "gauge"; }

void AppendEscaped(absl::string_view s, bool quotes, std::string& out) {
  for (char c : s) {
    if (c == '\\') {
      out.append("\\\\");
    } else if (c == '\n') {
      out.append("\\n");
    } else if (quotes && c == '"') {
      out.append("\\\"");
    } else {
      out.push_back(c);
    }
  }
}

void AppendFamilyHeader(absl::string_view name, absl::string_view help, MetricType type,
                        std::string& out) {
  absl::StrAppend(&out, "# HELP ", name, " ");
  AppendEscaped(help, false, out);
  absl::StrAppend(&out, "\n# TYPE ", name, " ", TypeName(type), "\n");
}

}  // namespace

absl::Status ValidateMetricName(absl::string_view name, MetricType type) {
  bool ok = !name.empty() && !absl::ascii_isdigit(name[0]);
  for (char c : name) ok = ok && (absl::ascii_isalnum(c) || c == '_' || c == ':');
  if (!ok) return absl::InvalidArgumentError(absl::StrCat("bad metric name '", name, "'"));
  if (type == MetricType::kCounter && !absl::EndsWith(name, "_total")) {
    return absl::InvalidArgumentError(absl::StrCat("counter '", name, "' must end in _total"));
  }
  if (type == MetricType::kGauge && absl::EndsWith(name, "_total")) {
    return absl::InvalidArgumentError(absl::StrCat("gauge '", name, "' must not end in _total"));
  }
  return absl::OkStatus();
}

void AppendLabels(const Labels& labels, std::string& out) {
  if (labels.empty()) return;
  out.push_back('{');
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i != 0) out.push_back(',');
    absl::StrAppend(&out, labels[i].first, "=\"");
    AppendEscaped(labels[i].second, true, out);
    out.push_back('"');
  }
  out.push_back('}');
}

void AppendValue(double v, std::string& out) {
  if (std::isnan(v)) {
    out.append("NaN");
  } else if (std::isinf(v)) {
    out.append(v > 0 ? "+Inf" : "-Inf");
  } else if (v == std::floor(v) && std::fabs(v) < 9.007199254740992e15) {
    absl::StrAppend(&out, static_cast<int64_t>(v));
  } else {
    char buf[40];
    std::snprintf(buf, sizeof(buf), "%.17g", v);
    out.append(buf);
  }
}

void SampleWriter::Add(absl::string_view name, absl::string_view help, MetricType type,
                       const Labels& labels, double value) {
  size_t i = 0;
  while (i < order_.size() && order_[i] != name) ++i;
  if (i == order_.size()) {
    order_.emplace_back(name);
    families_.push_back(Family{std::string(help), type, {}});
  }
  std::string line(name);
  AppendLabels(labels, line);
  line.push_back(' ');
  AppendValue(value, line);
  families_[i].lines.push_back(std::move(line));
}

Registry::Entry* Registry::AddEntry(absl::string_view name, absl::string_view help,
                                    MetricType type, Labels labels) {
  absl::Status s = ValidateMetricName(name, type);
  std::lock_guard<std::mutex> lock(mu_);
  for (const Entry& e : entries_) {
    if (e.name == name && e.type != type) s = absl::InvalidArgumentError("type conflict");
  }
  assert(s.ok() && "bad metric registration");
  if (!s.ok()) return &detached_;
  Entry& e = entries_.emplace_back();
  e.name = std::string(name);
  e.help = std::string(help);
  e.type = type;
  e.labels = std::move(labels);
  return &e;
}

Counter& Registry::AddCounter(absl::string_view name, absl::string_view help, Labels labels) {
  return AddEntry(name, help, MetricType::kCounter, std::move(labels))->counter;
}

Gauge& Registry::AddGauge(absl::string_view name, absl::string_view help, Labels labels) {
  return AddEntry(name, help, MetricType::kGauge, std::move(labels))->gauge;
}

void Registry::AddCallback(std::function<void(SampleWriter&)> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  callbacks_.push_back(std::move(fn));
}

std::string Registry::Render() const {
  SampleWriter w;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Entry& e : entries_) {
      double v = e.type == MetricType::kCounter ? static_cast<double>(e.counter.value())
                                                : e.gauge.value();
      w.Add(e.name, e.help, e.type, e.labels, v);
    }
    for (const auto& fn : callbacks_) fn(w);
  }
  std::string out;
  for (size_t i = 0; i < w.order_.size(); ++i) {
    const SampleWriter::Family& f = w.families_[i];
    AppendFamilyHeader(w.order_[i], f.help, f.type, out);
    for (const std::string& line : f.lines) absl::StrAppend(&out, line, "\n");
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

struct MetricsServer::Impl {
  Impl(const Registry& r, std::atomic<uint64_t>& s) : registry(r), scrapes(s), acceptor(io) {}
  const Registry& registry;
  std::atomic<uint64_t>& scrapes;
  boost::asio::io_context io;
  tcp::acceptor acceptor;
  void Accept();
};

namespace {

// One HTTP exchange: read the request head (bounded size and time), answer, close.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const Registry& registry, std::atomic<uint64_t>& scrapes)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        buffer_(8192),
        registry_(registry),
        scrapes_(scrapes) {}

  void Start() {
    auto self = shared_from_this();
    timer_.expires_after(std::chrono::seconds(10));
    timer_.async_wait([self](const boost::system::error_code& ec) {
      if (!ec) {
        boost::system::error_code ignored;
        self->socket_.close(ignored);
      }
    });
    boost::asio::async_read_until(
        socket_, buffer_, "\r\n\r\n",
        [self](const boost::system::error_code& ec, size_t) {
          if (ec) {
            self->Finish();
            return;
          }
          self->Respond();
        });
  }

 private:
  void Respond() {
    auto data = buffer_.data();
    std::string head(boost::asio::buffers_begin(data), boost::asio::buffers_end(data));
    absl::string_view request_line = absl::string_view(head).substr(0, head.find("\r\n"));
    std::vector<absl::string_view> parts = absl::StrSplit(request_line, ' ');
    int code = 200;
    std::string body;
    std::string content_type = "text/plain; version=0.0.4; charset=utf-8";
    if (parts.size() != 3 || !absl::StartsWith(parts[2], "HTTP/")) {
      code = 400;
      body = "bad request\n";
    } else {
      absl::string_view path = parts[1].substr(0, parts[1].find('?'));
      bool head_only = parts[0] == "HEAD";
      if (parts[0] != "GET" && !head_only) {
        code = 405;
        body = "only GET\n";
      } else if (path == "/metrics") {
        body = registry_.Render();
        scrapes_.fetch_add(1, std::memory_order_relaxed);
      } else if (path == "/") {
        content_type = "text/html; charset=utf-8";
        body = "<html><body><a href=\"/metrics\">metrics</a></body></html>\n";
      } else {
        code = 404;
        body = "not found: try /metrics\n";
      }
      if (head_only) body_length_only_ = true;
    }
    const char* reason = code == 200   ? "OK"
                         : code == 400 ? "Bad Request"
                         : code == 404 ? "Not Found"
                                       : "Method Not Allowed";
    response_ = absl::StrCat("HTTP/1.1 ", code, " ", reason, "\r\nContent-Type: ", content_type,
                             "\r\nContent-Length: ", body.size(),
                             "\r\nConnection: close\r\n\r\n");
    if (!body_length_only_) response_.append(body);
    auto self = shared_from_this();
    boost::asio::async_write(socket_, boost::asio::buffer(response_),
                             [self](const boost::system::error_code&, size_t) { self->Finish(); });
  }

  void Finish() {
    boost::system::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    timer_.cancel();
  }

  tcp::socket socket_;
  boost::asio::steady_timer timer_;
  boost::asio::streambuf buffer_;
  const Registry& registry_;
  std::atomic<uint64_t>& scrapes_;
  std::string response_;
  bool body_length_only_ = false;
};

// "[ADDR:]PORT"; port 0 allowed (tests). Bare PORT = 0.0.0.0.
absl::Status ParseListen(absl::string_view text, std::string& host, uint16_t& port) {
  absl::string_view port_text = text;
  host = "0.0.0.0";
  if (absl::ConsumePrefix(&port_text, "[")) {
    size_t close = port_text.find("]:");
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("bad metrics address '", text, "'"));
    }
    host = std::string(port_text.substr(0, close));
    port_text = port_text.substr(close + 2);
  } else if (size_t colon = text.rfind(':'); colon != absl::string_view::npos) {
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  uint32_t p = 0;
  if (!absl::SimpleAtoi(port_text, &p) || p > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad metrics address '", text, "' (expected [ADDR:]PORT)"));
  }
  port = static_cast<uint16_t>(p);
  return absl::OkStatus();
}

}  // namespace

void MetricsServer::Impl::Accept() {
  acceptor.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec == boost::asio::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec) std::make_shared<Session>(std::move(socket), registry, scrapes)->Start();
    Accept();
  });
}

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const Registry& registry,
                                                                    absl::string_view listen) {
  std::string host;
  uint16_t port = 0;
  if (absl::Status s = ParseListen(listen, host, port); !s.ok()) return s;
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(host, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad metrics address '", listen, "': ", ec.message()));
  }
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  server->impl_ = std::make_unique<Impl>(registry, server->scrapes_);
  Impl& impl = *server->impl_;
  tcp::endpoint endpoint(address, port);
  impl.acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl.acceptor.bind(endpoint, ec);
  if (!ec) impl.acceptor.listen(64, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen for metrics on ", listen, ": ", ec.message()));
  }
  server->port_ = impl.acceptor.local_endpoint(ec).port();
  impl.Accept();
  server->thread_ = std::thread([&impl] { impl.io.run(); });
  return server;
}

MetricsServer::~MetricsServer() { Stop(); }

void MetricsServer::Stop() {
  if (!impl_) return;
  impl_->io.stop();
  if (thread_.joinable()) thread_.join();
  impl_.reset();
}

}  // namespace nf::metrics
