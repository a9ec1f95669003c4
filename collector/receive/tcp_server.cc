#include "collector/receive/tcp_server.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include <boost/asio/error.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/v6_only.hpp>

#include "absl/strings/str_cat.h"
#include "common/byte_reader.h"
#include "common/ip_address.h"

namespace nf {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {
constexpr size_t kMaxMessage = 65535;  // the IPFIX length field's maximum
constexpr size_t kIpfixHeader = 16;
constexpr uint16_t kIpfix = 10;
// Reads of one connection before the others get a turn (up to 1 MiB).
constexpr int kReadsPerTurn = 16;
// Reads per connection at shutdown: the kernel holds at most its receive buffer, this is a
// second guard against a peer that keeps sending.
constexpr int kMaxDrainReads = 1024;

TimeUs WallClockUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

absl::StatusOr<tcp::endpoint> ParseTcpListen(const std::string& text) {
  auto hp = ParseHostPort(text, "0.0.0.0");
  if (!hp.ok()) return hp.status();
  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(hp->host, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address '", text, "': not an IP address"));
  }
  return tcp::endpoint(address, hp->port);
}

std::string EndpointText(const tcp::endpoint& e) {
  return e.address().is_v6() ? absl::StrCat("[", e.address().to_string(), "]:", e.port())
                             : absl::StrCat(e.address().to_string(), ":", e.port());
}

ExporterId PeerId(const tcp::endpoint& e) {
  ExporterId id;
  const asio::ip::address a = e.address();
  if (a.is_v4()) {
    const auto bytes = a.to_v4().to_bytes();
    id.address = IpAddress::V4(bytes.data());
  } else {
    const auto bytes = a.to_v6().to_bytes();
    id.address = IpAddress::V6(bytes.data());
  }
  id.port = e.port();
  return id;
}
}  // namespace

// One exporter's connection. Owned by the server's list while open and by the pending wait's
// handler, so a handler that completes after Close (or after the server is gone) still finds
// it, sees `open` false and touches nothing else.
struct TcpServer::Connection {
  explicit Connection(tcp::socket s) : socket(std::move(s)) {}
  tcp::socket socket;
  ExporterId peer;
  std::unique_ptr<uint8_t[]> buffer;  // kMaxMessage bytes; [begin, end) not yet framed
  size_t begin = 0;
  size_t end = 0;
  Clock::time_point last_bytes;     // accept, then every read
  Clock::time_point message_start;  // first byte of the incomplete message (begin != end)
  bool open = true;
  std::list<ConnectionPtr>::iterator self;
};

TcpServer::TcpServer(asio::io_context& io, const TcpServerOptions& options, Handler handler,
                     SessionEndHandler session_end)
    : io_(io),
      options_(options),
      handler_(std::move(handler)),
      session_end_(std::move(session_end)),
      sweep_(io) {
  // Timeouts are enforced by one sweep over the connections, a quarter of the shortest
  // timeout apart (within 5 ms .. 1 s): a connection lives at most that much past its limit.
  std::chrono::milliseconds shortest{0};
  for (std::chrono::milliseconds t : {options.idle_timeout, options.message_timeout}) {
    if (t.count() > 0 && (shortest.count() == 0 || t < shortest)) shortest = t;
  }
  if (shortest.count() > 0) {
    sweep_period_ = std::clamp(shortest / 4, std::chrono::milliseconds(5),
                               std::chrono::milliseconds(1000));
  }
}

absl::StatusOr<std::unique_ptr<TcpServer>> TcpServer::Create(asio::io_context& io,
                                                             const TcpServerOptions& options,
                                                             Handler handler,
                                                             SessionEndHandler session_end) {
  if (options.listen.empty()) return absl::InvalidArgumentError("no TCP listen address");
  std::unique_ptr<TcpServer> server(
      new TcpServer(io, options, std::move(handler), std::move(session_end)));
  for (const std::string& text : options.listen) {
    absl::StatusOr<tcp::endpoint> endpoint = ParseTcpListen(text);
    if (!endpoint.ok()) return endpoint.status();
    auto fail = [&text](const boost::system::error_code& ec) {
      return absl::UnavailableError(absl::StrCat("listen-tcp ", text, ": ", ec.message()));
    };
    auto a = std::make_unique<Acceptor>(io);
    boost::system::error_code ec;
    a->acceptor.open(endpoint->protocol(), ec);
    if (ec) return fail(ec);
    // A restart must not wait for the previous run's connections in TIME_WAIT.
    a->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (endpoint->address().is_v6()) a->acceptor.set_option(asio::ip::v6_only(true), ec);
    a->acceptor.bind(*endpoint, ec);
    if (ec) return fail(ec);
    a->acceptor.listen(tcp::acceptor::max_listen_connections, ec);
    if (ec) return fail(ec);
    server->acceptors_.push_back(std::move(a));
  }
  return server;
}

TcpServer::~TcpServer() {
  session_end_ = nullptr;
  Stop();
}

void TcpServer::Start() {
  if (!stopped_) return;
  stopped_ = false;
  for (auto& a : acceptors_) Accept(*a);
  ArmSweep();
}

void TcpServer::Stop() {
  stopped_ = true;
  boost::system::error_code ec;
  for (auto& a : acceptors_) {
    a->acceptor.close(ec);
    a->retry.cancel(ec);
  }
  sweep_.cancel(ec);
  while (!connections_.empty()) Close(*connections_.front(), CloseReason::kStop);
}

void TcpServer::Accept(Acceptor& a) {
  if (stopped_) return;
  a.acceptor.async_accept([this, &a](const boost::system::error_code& ec, tcp::socket peer) {
    // Aborted: the acceptor was closed, and the server may be gone; touch nothing.
    if (ec == asio::error::operation_aborted || stopped_) return;
    if (ec) {
      // Out of descriptors or memory: try again a little later instead of spinning.
      ++stats_.errors;
      a.retry.expires_after(std::chrono::milliseconds(100));
      a.retry.async_wait([this, &a](const boost::system::error_code& wait_ec) {
        if (!wait_ec) Accept(a);
      });
      return;
    }
    OnAccept(std::move(peer));
    Accept(a);
  });
}

void TcpServer::OnAccept(tcp::socket peer) {
  boost::system::error_code ec;
  const tcp::endpoint remote = peer.remote_endpoint(ec);
  if (ec) {  // already reset by the peer
    ++stats_.errors;
    peer.close(ec);
    return;
  }
  const ExporterId id = PeerId(remote);
  if (!Allowed(options_.allow, id.address)) {
    ++stats_.denied;
    peer.close(ec);
    return;
  }
  if (connections_.size() >= options_.max_connections) {
    ++stats_.refused_limit;
    peer.close(ec);
    return;
  }
  auto c = std::make_shared<Connection>(std::move(peer));
  c->peer = id;
  c->buffer = std::make_unique<uint8_t[]>(kMaxMessage);
  c->last_bytes = Clock::now();
  connections_.push_front(c);
  c->self = connections_.begin();
  ++stats_.accepted;
  stats_.active = connections_.size();
  Arm(c);
}

void TcpServer::Arm(const ConnectionPtr& c) {
  c->socket.async_wait(tcp::socket::wait_read, [this, c](const boost::system::error_code& ec) {
    if (!c->open) return;  // closed meanwhile (timeout, Stop, the server's destructor)
    if (ec) {
      Close(*c, CloseReason::kError);
      return;
    }
    Receive(c);
  });
}

void TcpServer::Receive(const ConnectionPtr& c) {
  for (int i = 0; i < kReadsPerTurn; ++i) {
    switch (ReadOnce(*c)) {
      case ReadResult::kData: continue;
      case ReadResult::kAgain: Arm(c); return;
      case ReadResult::kClosed: return;
    }
  }
  // More is queued. Asio's readiness is edge-triggered, so a wait would not fire again for
  // bytes already there: come back after the handlers queued meanwhile instead.
  asio::post(io_, [this, c] {
    if (c->open) Receive(c);
  });
}

TcpServer::ReadResult TcpServer::ReadOnce(Connection& c) {
  // The incomplete message moves to the front, so the rest of it always fits: the buffer holds
  // one whole message of the largest length.
  if (c.begin > 0) {
    std::memmove(c.buffer.get(), c.buffer.get() + c.begin, c.end - c.begin);
    c.end -= c.begin;
    c.begin = 0;
  }
  const ssize_t got =
      ::recv(c.socket.native_handle(), c.buffer.get() + c.end, kMaxMessage - c.end, MSG_DONTWAIT);
  if (got > 0) {
    return OnBytes(c, static_cast<size_t>(got), Clock::now()) ? ReadResult::kData
                                                                : ReadResult::kClosed;
  }
  if (got == 0) {
    Close(c, CloseReason::kPeer);
    return ReadResult::kClosed;
  }
  const int err = errno;
  if (err == EAGAIN || err == EWOULDBLOCK) return ReadResult::kAgain;
  if (err == EINTR) return ReadResult::kData;
  Close(c, err == ECONNRESET || err == ECONNABORTED || err == ETIMEDOUT ? CloseReason::kPeer
                                                                          : CloseReason::kError);
  return ReadResult::kClosed;
}

bool TcpServer::OnBytes(Connection& c, size_t n, Clock::time_point now) {
  if (c.begin == c.end) c.message_start = now;
  c.end += n;
  c.last_bytes = now;
  const TimeUs receive_time = WallClockUs();
  bool delivered = false;
  while (c.end - c.begin >= 2) {
    const uint8_t* head = c.buffer.get() + c.begin;
    const size_t have = c.end - c.begin;
    // The version is checked as soon as it is there: a peer speaking anything else (v9 over
    // TCP, HTTP, a port scan) is turned away without waiting for more.
    if (ByteReader::LoadBe16(head) != kIpfix) {
      ++stats_.framing_errors;
      Close(c, CloseReason::kFraming);
      return false;
    }
    if (have < 4) break;
    const size_t length = ByteReader::LoadBe16(head + 2);
    if (length < kIpfixHeader) {
      ++stats_.framing_errors;
      Close(c, CloseReason::kFraming);
      return false;
    }
    if (have < length) break;
    ++stats_.messages;
    stats_.bytes += length;
    handler_(std::span<const uint8_t>(head, length), c.peer, receive_time);
    c.begin += length;
    delivered = true;
  }
  if (c.begin == c.end) {
    c.begin = c.end = 0;
  } else if (delivered) {
    c.message_start = now;  // the next message began in this read
  }
  return true;
}

void TcpServer::Close(Connection& c, CloseReason why) {
  if (!c.open) return;
  c.open = false;
  switch (why) {
    case CloseReason::kPeer: ++stats_.closed_peer; break;
    case CloseReason::kIdle: ++stats_.closed_idle; break;
    case CloseReason::kSlow: ++stats_.closed_slow; break;
    case CloseReason::kError: ++stats_.errors; break;
    case CloseReason::kFraming:  // counted where it was found
    case CloseReason::kStop: break;
  }
  // What a framing error leaves is not a message, only bytes that claim to be one.
  if (c.begin != c.end && why != CloseReason::kFraming) ++stats_.messages_dropped;
  boost::system::error_code ec;
  c.socket.shutdown(tcp::socket::shutdown_both, ec);
  c.socket.close(ec);  // the pending wait completes with operation_aborted
  const ExporterId peer = c.peer;
  connections_.erase(c.self);  // the caller or the pending wait still holds `c`
  stats_.active = connections_.size();
  if (session_end_) session_end_(peer);
}

void TcpServer::ArmSweep() {
  if (stopped_ || sweep_period_.count() == 0) return;
  sweep_.expires_after(sweep_period_);
  sweep_.async_wait([this](const boost::system::error_code& ec) {
    if (ec == asio::error::operation_aborted || stopped_) return;
    Sweep();
    ArmSweep();
  });
}

void TcpServer::Sweep() {
  const Clock::time_point now = Clock::now();
  for (auto it = connections_.begin(); it != connections_.end();) {
    Connection& c = **it;
    ++it;  // Close erases c's entry
    if (options_.message_timeout.count() > 0 && c.begin != c.end &&
        now - c.message_start >= options_.message_timeout) {
      Close(c, CloseReason::kSlow);
    } else if (options_.idle_timeout.count() > 0 &&
               now - c.last_bytes >= options_.idle_timeout) {
      Close(c, CloseReason::kIdle);
    }
  }
}

void TcpServer::DrainAndStop() {
  // Copied: a framing error or the peer's close unlists its connection mid-walk.
  std::vector<ConnectionPtr> open(connections_.begin(), connections_.end());
  for (const ConnectionPtr& c : open) {
    for (int i = 0; i < kMaxDrainReads; ++i) {
      if (ReadOnce(*c) != ReadResult::kData) break;
    }
  }
  Stop();
}

std::vector<std::string> TcpServer::LocalEndpoints() const {
  std::vector<std::string> out;
  for (const auto& a : acceptors_) {
    boost::system::error_code ec;
    const tcp::endpoint e = a->acceptor.local_endpoint(ec);
    if (!ec) out.push_back(EndpointText(e));
  }
  return out;
}

}  // namespace nf
