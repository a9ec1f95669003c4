// The collector's IPFIX-over-TCP receive path (RFC 7011 section 10.4): `--listen-tcp
// [ADDR:]PORT` accepts exporters' connections and cuts each byte stream into IPFIX messages by
// the 16-bit length of the message header, handing every complete message to the same handler
// signature as UDP datagrams (the message, the peer's address and port, the receive time).
//
// Bounds, because a TCP peer holds resources a UDP one cannot:
// - at most `max_connections` connections; further ones are accepted and closed at once;
// - one fixed buffer of 65535 bytes (the largest message) per connection, never grown, so the
//   bytes held are bounded by connections x 64 KiB;
// - a connection silent for `idle_timeout` is closed (exporters keep connections open and send
//   templates periodically, so the default is long), and one whose current message has not
//   completed `message_timeout` after its first byte (a peer trickling bytes) is closed too;
// - a version other than 10 or a length under 16 is a framing error: the stream cannot be
//   resynchronised after a lying length, so the connection is closed.
// Everything is asynchronous on the io_context the server was created on: Asio says when a
// connection is readable and the bytes are read without waiting (MSG_DONTWAIT), a bounded
// number of reads per turn, so a slow or a flooding peer delays neither other connections nor
// UDP sockets served by the same context. No read is ever left pending on a buffer, which is
// what lets DrainAndStop read the kernel's queue directly at shutdown.
// Only error_code overloads are used: no exceptions. The handlers run on the io_context thread
// and must not block.
//
// Templates belong to the connection (the transport session): the session-end handler runs
// whenever a connection closes for any reason, so the decoder can withdraw them
// (Decoder::EndSession).
#ifndef NF_COLLECTOR_RECEIVE_TCP_SERVER_H_
#define NF_COLLECTOR_RECEIVE_TCP_SERVER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "absl/status/statusor.h"
#include "collector/decode/decoded_record.h"
#include "collector/receive/udp_server.h"
#include "common/time_format.h"

namespace nf {

struct TcpServerOptions {
  // "[ADDR:]PORT" entries (as -l; see ValidateListenAddresses). At least one.
  std::vector<std::string> listen;
  std::vector<Cidr> allow;  // --allow: peers outside are accepted and closed at once
  size_t max_connections = 64;
  // A connection that sends nothing for this long is closed; zero: never.
  std::chrono::milliseconds idle_timeout{600'000};
  // A message not complete this long after its first byte closes the connection; zero: never.
  std::chrono::milliseconds message_timeout{30'000};
};

struct TcpReceiveStats {
  uint64_t accepted = 0;        // connections taken into service
  uint64_t active = 0;          // open now (gauge)
  uint64_t refused_limit = 0;   // closed at once: max_connections were open
  uint64_t denied = 0;          // closed at once: peer outside --allow
  uint64_t closed_peer = 0;     // the exporter closed or reset the connection
  uint64_t closed_idle = 0;     // nothing received for idle_timeout
  uint64_t closed_slow = 0;     // a message took longer than message_timeout
  uint64_t framing_errors = 0;  // version not 10 or length < 16: connection closed
  uint64_t messages = 0;        // complete messages handed to the handler
  uint64_t bytes = 0;           // bytes of those messages
  // Incomplete messages thrown away when their connection closed (by the peer, a timeout, an
  // error or the shutdown; not after a framing error, whose bytes are no message).
  uint64_t messages_dropped = 0;
  uint64_t errors = 0;  // failed accepts and receive errors other than a peer's close/reset
};

class TcpServer {
 public:
  using Handler = UdpServer::Handler;
  using SessionEndHandler = std::function<void(const ExporterId& peer)>;

  // Binds and listens on every address; the error names the address that failed.
  static absl::StatusOr<std::unique_ptr<TcpServer>> Create(boost::asio::io_context& io,
                                                           const TcpServerOptions& options,
                                                           Handler handler,
                                                           SessionEndHandler session_end);
  // Closes everything without calling the session-end handler (its owner may be gone).
  ~TcpServer();
  TcpServer(const TcpServer&) = delete;
  TcpServer& operator=(const TcpServer&) = delete;

  // Starts accepting (and the timeout sweep).
  void Start();
  // Stops accepting and closes every connection (each one's session ends; an incomplete
  // message counts in messages_dropped).
  void Stop();
  // Shutdown: reads what the kernel already holds for every connection (bounded, without
  // waiting), hands on each message it completes, then Stop. So a stop decodes every complete
  // message that had arrived and counts the incomplete ones as dropped.
  void DrainAndStop();

  const TcpReceiveStats& stats() const { return stats_; }
  // "ADDR:PORT" of each listening socket (the real port when 0 was asked for).
  std::vector<std::string> LocalEndpoints() const;

 private:
  struct Acceptor {
    explicit Acceptor(boost::asio::io_context& io) : acceptor(io), retry(io) {}
    boost::asio::ip::tcp::acceptor acceptor;
    boost::asio::steady_timer retry;  // after a failed accept (EMFILE): wait, do not spin
  };
  struct Connection;
  using ConnectionPtr = std::shared_ptr<Connection>;
  enum class CloseReason { kPeer, kIdle, kSlow, kFraming, kError, kStop };
  enum class ReadResult { kData, kAgain, kClosed };

  TcpServer(boost::asio::io_context& io, const TcpServerOptions& options, Handler handler,
            SessionEndHandler session_end);
  void Accept(Acceptor& a);
  void OnAccept(boost::asio::ip::tcp::socket peer);
  // Waits until the connection is readable, then Receive.
  void Arm(const ConnectionPtr& c);
  // Reads until the kernel has nothing more (then Arm) or a turn's worth (then yields).
  void Receive(const ConnectionPtr& c);
  // One non-blocking read into the free end of the buffer, framed; closes on EOF and errors.
  ReadResult ReadOnce(Connection& c);
  // Frames what the buffer holds after `n` new bytes; false when the connection was closed.
  bool OnBytes(Connection& c, size_t n, std::chrono::steady_clock::time_point now);
  void Close(Connection& c, CloseReason why);
  void ArmSweep();
  void Sweep();

  boost::asio::io_context& io_;
  TcpServerOptions options_;
  Handler handler_;
  SessionEndHandler session_end_;
  std::vector<std::unique_ptr<Acceptor>> acceptors_;
  std::list<ConnectionPtr> connections_;
  boost::asio::steady_timer sweep_;
  std::chrono::milliseconds sweep_period_{0};
  TcpReceiveStats stats_;
  bool stopped_ = true;
};

}  // namespace nf

#endif  // NF_COLLECTOR_RECEIVE_TCP_SERVER_H_
