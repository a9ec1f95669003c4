#include "http/server.h"

#include <chrono>
#include <limits>
#include <list>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
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

absl::Status ParseListenAddress(absl::string_view text, std::string& host, uint16_t& port) {
  absl::string_view port_text = text;
  host = "0.0.0.0";
  if (absl::ConsumePrefix(&port_text, "[")) {
    size_t close = port_text.find("]:");
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("bad listen address '", text, "'"));
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
        absl::StrCat("bad listen address '", text, "' (expected [ADDR:]PORT)"));
  }
  port = static_cast<uint16_t>(p);
  return absl::OkStatus();
}

class SessionBase;

struct Server::Impl {
  Impl(ServerOptions o, Handler h, ServerCounters& c)
      : options(std::move(o)), handler(std::move(h)), counters(c) {}
  ServerOptions options;
  Handler handler;
  ServerCounters& counters;
  std::unique_ptr<asio::ssl::context> tls;
  // Open sessions, oldest first (server thread only). Declared before `io`, so it outlives the
  // handlers `io` destroys, which unlink their sessions from it.
  std::list<SessionBase*> sessions;
  size_t live = 0;  // sessions not yet closed
  asio::io_context io;
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::steady_timer> retry_timer;

  void Accept();
  void Admit(tcp::socket socket);
};

// One connection: its place in the server's list, and how to close it from outside.
class SessionBase {
 public:
  explicit SessionBase(Server::Impl& server) : server_(server) {
    position_ = server_.sessions.insert(server_.sessions.end(), this);
    ++server_.live;
    server_.counters.open.fetch_add(1, std::memory_order_relaxed);
  }
  virtual ~SessionBase() {
    server_.sessions.erase(position_);
    // The stream closes itself; only the count is left to settle.
    if (!closed_) Forget();
  }
  SessionBase(const SessionBase&) = delete;
  SessionBase& operator=(const SessionBase&) = delete;
  // True while it waits for (the rest of) a request: the kind evicted first.
  bool waiting() const { return waiting_; }
  bool closed() const { return closed_; }
  // Closes the socket; the pending operation then ends and releases the session.
  void Close() {
    if (closed_) return;
    Forget();
    CloseSocket();
  }

 protected:
  virtual void CloseSocket() = 0;
  Server::Impl& server_;
  bool waiting_ = true;

 private:
  void Forget() {
    closed_ = true;
    --server_.live;
    server_.counters.open.fetch_sub(1, std::memory_order_relaxed);
  }
  bool closed_ = false;
  std::list<SessionBase*>::iterator position_;
};

namespace {

template <class Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  template <class... Args>
  Session(Server::Impl& server, Args&&... args)
      : SessionBase(server), stream_(std::forward<Args>(args)...) {}

  void Start() {
    if constexpr (kTls) {
      auto self = this->shared_from_this();
      Lowest().expires_after(Ms(server_.options.request_timeout_ms));
      stream_.async_handshake(asio::ssl::stream_base::server, [self](ErrorCode ec) {
        if (ec) {
          self->Count(ec);
          self->server_.counters.tls_failed.fetch_add(1, std::memory_order_relaxed);
          return self->Close();
        }
        self->Read();
      });
    } else {
      Read();
    }
  }

  void CloseSocket() override {
    ErrorCode ignored;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Lowest().socket().close(ignored);
  }

 private:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  void Count(const ErrorCode& ec) {
    if (ec == beast::error::timeout) server_.counters.timed_out.fetch_add(1, std::memory_order_relaxed);
  }

  void Read() {
    waiting_ = true;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_.options.max_request_bytes));
    // Judged from the head in Handle, never read. (Not boost::none: Boost 1.74 compares a
    // Content-Length against it as if it were zero.)
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    Lowest().expires_after(Ms(server_.options.request_timeout_ms));
    auto self = this->shared_from_this();
    // The head only: GET and HEAD carry no body, and one that comes with a body is answered and
    // closed without reading it, so a client cannot make the server buffer anything big.
    bhttp::async_read_header(stream_, buffer_, *parser_, [self](ErrorCode ec, size_t) {
      if (ec) {
        self->Count(ec);
        if (ec == bhttp::error::header_limit || ec == bhttp::error::body_limit ||
            ec == bhttp::error::bad_method || ec == bhttp::error::bad_target ||
            ec == bhttp::error::bad_version) {
          return self->Answer(400, "bad request\n", false, false);
        }
        return self->Close();
      }
      self->Handle();
    });
  }

  void Handle() {
    waiting_ = false;
    const auto& request = parser_->get();
    server_.counters.requests.fetch_add(1, std::memory_order_relaxed);
    bool head = request.method() == bhttp::verb::head;
    const bool has_body = parser_->chunked() || parser_->content_length().value_or(0) > 0;
    if (request.method() != bhttp::verb::get && !head) {
      return Answer(405, "only GET and HEAD\n", false, request.keep_alive() && !has_body);
    }
    if (has_body) return Answer(400, "a GET has no body\n", false, false);
    ServerRequest r;
    r.method = head ? "HEAD" : "GET";
    r.target = std::string(request.target());
    r.path = r.target.substr(0, r.target.find('?'));
    ServerResponse out = server_.handler(r);
    response_.emplace(static_cast<bhttp::status>(out.code), request.version());
    response_->set(bhttp::field::content_type, out.content_type);
    response_->set(bhttp::field::server, "flowtools");
    response_->content_length(out.body.size());
    if (!head) response_->body() = std::move(out.body);
    Write(request.keep_alive());
  }

  void Answer(int code, const char* body, bool head, bool keep_alive) {
    waiting_ = false;
    response_.emplace(static_cast<bhttp::status>(code), 11);
    response_->set(bhttp::field::content_type, "text/plain; charset=utf-8");
    // A 405 must say which methods are allowed (RFC 9110, 15.5.6).
    if (code == 405) response_->set(bhttp::field::allow, "GET, HEAD");
    response_->content_length(std::char_traits<char>::length(body));
    if (!head) response_->body() = body;
    Write(keep_alive);
  }

  void Write(bool keep_alive) {
    response_->keep_alive(keep_alive);
    Lowest().expires_after(Ms(server_.options.write_timeout_ms));
    auto self = this->shared_from_this();
    bhttp::async_write(stream_, *response_, [self, keep_alive](ErrorCode ec, size_t) {
      if (ec || !keep_alive) {
        self->Count(ec);
        return self->Close();
      }
      self->Read();
    });
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::response<bhttp::string_body>> response_;
};

}  // namespace

void Server::Impl::Admit(tcp::socket socket) {
  counters.accepted.fetch_add(1, std::memory_order_relaxed);
  if (live >= options.max_connections) {
    // Oldest waiting connection first; when every one is busy answering, the oldest of all.
    SessionBase* victim = nullptr;
    for (SessionBase* s : sessions) {
      if (s->closed()) continue;
      if (victim == nullptr) victim = s;
      if (s->waiting()) {
        victim = s;
        break;
      }
    }
    if (victim != nullptr) {
      counters.evicted.fetch_add(1, std::memory_order_relaxed);
      victim->Close();
    }
  }
  if (tls) {
    auto s = std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
        *this, beast::tcp_stream(std::move(socket)), *tls);
    s->Start();
  } else {
    auto s = std::make_shared<Session<beast::tcp_stream>>(*this, std::move(socket));
    s->Start();
  }
}

void Server::Impl::Accept() {
  acceptor->async_accept([this](const ErrorCode& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
    if (ec) {
      // Out of descriptors and the like: wait, rather than spin on a failing accept.
      retry_timer->expires_after(Ms(100));
      retry_timer->async_wait([this](const ErrorCode& e) {
        if (!e) Accept();
      });
      return;
    }
    Admit(std::move(socket));
    Accept();
  });
}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options,
                                                      Handler handler) {
  std::string host;
  uint16_t port = 0;
  if (absl::Status s = ParseListenAddress(options.listen, host, port); !s.ok()) return s;
  ErrorCode ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad listen address '", options.listen, "': ", ec.message()));
  }
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("TLS needs both a certificate and a key");
  }
  if (options.max_connections == 0) return absl::InvalidArgumentError("max_connections must be positive");
  std::unique_ptr<Server> server(new Server());
  server->impl_ = std::make_unique<Impl>(options, std::move(handler), server->counters_);
  Impl& impl = *server->impl_;
  if (!options.tls_cert_file.empty()) {
    auto tls = MakeServerTlsContext(options.tls_cert_file, options.tls_key_file);
    if (!tls.ok()) return tls.status();
    impl.tls = *std::move(tls);
  }
  impl.acceptor.emplace(impl.io);
  impl.retry_timer.emplace(impl.io);
  tcp::endpoint endpoint(address, port);
  impl.acceptor->open(endpoint.protocol(), ec);
  if (!ec) impl.acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl.acceptor->bind(endpoint, ec);
  if (!ec) impl.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen, ": ", ec.message()));
  }
  server->port_ = impl.acceptor->local_endpoint(ec).port();
  impl.Accept();
  server->thread_ = std::thread([&impl] { impl.io.run(); });
  return server;
}

Server::~Server() { Stop(); }

void Server::Stop() {
  if (!impl_) return;
  impl_->io.stop();
  if (thread_.joinable()) thread_.join();
  impl_.reset();
}

}  // namespace nf::http
