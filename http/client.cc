#include "http/client.h"

#include <poll.h>

#include <chrono>
#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "absl/strings/str_cat.h"
#include "http/tls.h"

namespace nf::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using ErrorCode = boost::system::error_code;

std::chrono::milliseconds Ms(int ms) { return std::chrono::milliseconds(ms); }

}  // namespace

struct Client::Impl {
  Impl(Url u, ClientOptions o) : url(std::move(u)), options(std::move(o)) {}

  Url url;
  ClientOptions options;
  asio::io_context io;
  std::unique_ptr<asio::ssl::context> tls;
  // At most one is set: the open connection.
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  uint64_t connections = 0;

  bool Connected() const { return plain.has_value() || secure.has_value(); }
  beast::tcp_stream& Lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }

  void Close() {
    if (Connected()) {
      ErrorCode ignored;
      Lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
      Lowest().socket().close(ignored);
    }
    plain.reset();
    secure.reset();
    buffer.clear();
  }

  // Runs one asynchronous operation to completion on this thread; the stream's deadline bounds
  // it (beast::error::timeout).
  template <class Start>
  ErrorCode Run(Start&& start) {
    ErrorCode result = asio::error::would_block;
    start([&result](ErrorCode ec, auto&&...) { result = ec; });
    io.restart();
    io.run();
    return result;
  }

  // Runs `op(stream, handler)` on whichever stream is open.
  template <class Op>
  ErrorCode RunOnStream(Op&& op) {
    if (secure) return Run([&](auto handler) { op(*secure, std::move(handler)); });
    return Run([&](auto handler) { op(*plain, std::move(handler)); });
  }

  // An idle connection with anything to read has been closed (or spoken to) by the server.
  bool Stale() {
    if (buffer.size() > 0) return true;
    pollfd p{Lowest().socket().native_handle(), POLLIN, 0};
    return poll(&p, 1, 0) != 0;
  }

  absl::Status Connect() {
    tcp::resolver resolver(io);
    ErrorCode ec;
    auto endpoints = resolver.resolve(url.host, std::to_string(url.port), ec);
    if (ec) return absl::UnavailableError(absl::StrCat("cannot resolve ", url.host, ": ", ec.message()));
    beast::tcp_stream stream(io);
    stream.expires_after(Ms(options.connect_timeout_ms));
    ec = Run([&](auto handler) { stream.async_connect(endpoints, std::move(handler)); });
    if (ec) {
      return ec == beast::error::timeout
                 ? absl::DeadlineExceededError(absl::StrCat("connect to ", url.Authority(), " timed out"))
                 : absl::UnavailableError(absl::StrCat("connect to ", url.Authority(), ": ", ec.message()));
    }
    ErrorCode ignored;
    stream.socket().set_option(tcp::no_delay(true), ignored);
    ++connections;
    if (!url.tls) {
      plain.emplace(std::move(stream));
      return absl::OkStatus();
    }
    secure.emplace(std::move(stream), *tls);
    if (absl::Status s = PrepareClientSsl(secure->native_handle(), url.host); !s.ok()) {
      Close();
      return s;
    }
    Lowest().expires_after(Ms(options.connect_timeout_ms));
    ec = Run([&](auto handler) {
      secure->async_handshake(asio::ssl::stream_base::client, std::move(handler));
    });
    if (ec) {
      std::string why = DescribeTlsError(secure->native_handle(), ec);
      Close();
      return absl::UnavailableError(absl::StrCat(url.Authority(), ": ", why));
    }
    return absl::OkStatus();
  }

  template <class Request>
  Result Exchange(Request& request) {
    Result result;
    if (Connected() && (!options.keep_alive || Stale())) Close();
    if (!Connected()) {
      if (absl::Status s = Connect(); !s.ok()) {
        result.status = s;
        return result;
      }
    }
    result.may_have_arrived = true;
    Lowest().expires_after(Ms(options.io_timeout_ms));
    ErrorCode ec =
        RunOnStream([&](auto& s, auto h) { bhttp::async_write(s, request, std::move(h)); });
    if (ec) {
      Close();
      result.status = ec == beast::error::timeout
                          ? absl::DeadlineExceededError("sending the HTTP request timed out")
                          : absl::UnavailableError(absl::StrCat("sending the HTTP request: ", ec.message()));
      return result;
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(options.max_response_bytes);
    Lowest().expires_after(Ms(options.io_timeout_ms));
    ec = RunOnStream(
        [&](auto& s, auto h) { bhttp::async_read_header(s, buffer, parser, std::move(h)); });
    // Boost 1.74's parser loses its body_limit error when the header carries a Content-Length
    // (the error is overwritten as the body starts), so that case is checked here.
    if (!ec && parser.content_length() && *parser.content_length() > options.max_response_bytes) {
      ec = bhttp::error::body_limit;
    }
    if (!ec && !parser.is_done()) {
      ec = RunOnStream(
          [&](auto& s, auto h) { bhttp::async_read(s, buffer, parser, std::move(h)); });
    }
    if (ec) {
      Close();
      if (ec == beast::error::timeout) {
        result.status = absl::DeadlineExceededError("timed out waiting for the HTTP response");
      } else if (ec == bhttp::error::body_limit) {
        result.status = absl::ResourceExhaustedError("HTTP response too large");
      } else if (ec == bhttp::error::end_of_stream || ec == asio::error::eof) {
        result.status = absl::UnavailableError("connection closed without a complete response");
      } else {
        result.status = absl::UnavailableError(absl::StrCat("reading the HTTP response: ", ec.message()));
      }
      return result;
    }
    bhttp::response<bhttp::string_body> response = parser.release();
    result.code = static_cast<int>(response.result_int());
    result.body = std::move(response.body());
    if (!options.keep_alive || !response.keep_alive()) Close();
    result.status = absl::OkStatus();
    return result;
  }

  template <class Body>
  void Prepare(bhttp::request<Body>& request, const Headers& headers) {
    request.set(bhttp::field::host, url.Authority());
    request.set(bhttp::field::user_agent, "flowtools");
    for (const auto& [name, value] : headers) request.set(name, value);
    request.keep_alive(options.keep_alive);
  }
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() {
  if (impl_) impl_->Close();
}

absl::StatusOr<std::unique_ptr<Client>> Client::Create(Url url, ClientOptions options) {
  auto impl = std::make_unique<Impl>(std::move(url), std::move(options));
  if (impl->url.tls) {
    auto tls = MakeClientTlsContext(impl->options.ca_file);
    if (!tls.ok()) return tls.status();
    impl->tls = *std::move(tls);
  }
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Result Client::Post(absl::string_view target, const Headers& headers, absl::string_view body) {
  bhttp::request<bhttp::span_body<const char>> request(
      bhttp::verb::post, beast::string_view(target.data(), target.size()), 11);
  impl_->Prepare(request, headers);
  request.set(bhttp::field::content_type, "application/octet-stream");
  request.body() = boost::beast::span<const char>(body.data(), body.size());
  request.content_length(body.size());
  return impl_->Exchange(request);
}

Result Client::Get(absl::string_view target, const Headers& headers) {
  bhttp::request<bhttp::empty_body> request(
      bhttp::verb::get, beast::string_view(target.data(), target.size()), 11);
  impl_->Prepare(request, headers);
  return impl_->Exchange(request);
}

const Url& Client::url() const { return impl_->url; }
uint64_t Client::connections_opened() const { return impl_->connections; }

}  // namespace nf::http
