// The collector's UDP receive path: one Boost.Asio socket per `-l [ADDR:]PORT`, IPv4 and IPv6,
// datagrams up to 65535 bytes, a large kernel receive buffer, an allow list of exporter
// prefixes, and the kernel's own drop counter (Linux SO_MEMINFO) read after every drain so
// socket loss is reported instead of invisible (FreeBSD keeps no such counter per socket).
//
// Asio only tells us a socket is readable (async_wait); the datagrams are then drained with
// recvmmsg(), up to 16 per system call. Only error_code overloads are used: no
// exceptions. The handler runs on the io_context thread and must not block.
//
// Exporters send steady streams, not bursts: at 20,000 datagrams/s each wake-up would find one
// datagram and pay a wake-up, two recvmmsg calls and a drop poll for it. So after a drain that
// emptied the queue, the server pauses and drains again, as long as datagrams keep coming (up
// to 8 rounds or 8 ms, then it yields to the io_context so timers and other sockets run). A
// sparse stream ends the rounds at the first empty drain. The pause adapts to the stream
// (CoalescePause): it grows while drains are small and shrinks as they fill, never beyond
// `coalesce_us` (16 ms by default: the most any datagram waits, nothing beside the seconds or
// minutes an exporter holds a flow) nor beyond what keeps the queue within a quarter of the
// receive buffer.
#ifndef NF_COLLECTOR_RECEIVE_UDP_SERVER_H_
#define NF_COLLECTOR_RECEIVE_UDP_SERVER_H_

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "collector/decode/decoded_record.h"
#include "common/ip_address.h"
#include "common/platform.h"
#include "common/time_format.h"

namespace nf {

// An address prefix such as 192.0.2.0/24 or 2001:db8::/32.
struct Cidr {
  IpAddress network;
  int prefix = 0;
  bool Contains(const IpAddress& a) const;
};
// Parses "ADDR/LEN" or a bare address (a host prefix).
absl::StatusOr<Cidr> ParseCidr(absl::string_view text);
// True when `allow` is empty or one of its prefixes contains `a`.
bool Allowed(const std::vector<Cidr>& allow, const IpAddress& a);

struct UdpServerOptions {
  // "[ADDR:]PORT" entries; empty = 0.0.0.0:2055 and [::]:2055 (IPv6 only where available).
  std::vector<std::string> listen;
  int rcvbuf_bytes = 32 << 20;
  std::vector<Cidr> allow;
  // SO_REUSEPORT on every socket, so several servers (flowcollect --workers) bind the same
  // addresses and the kernel spreads datagrams over them.
  bool reuse_port = false;
  // Longest pause between drains while a stream keeps coming (0: read at every wake-up).
  int coalesce_us = 16000;
};

// The pause before a steady stream's next drain. Each pause costs a sleep and a wake-up (10-15
// us on a virtual machine), and a thread that wakes often is also preempted often by the
// threads it shares a core with; so the longer the pause the more datagrams share that cost,
// until the queue it lets build up approaches the receive buffer (a full buffer drops
// datagrams). Hundreds of datagrams per drain, not tens: at 20,000 datagrams/s, drains of about
// 320 instead of 80 cut the receiver's context switches from about 1,400 to 150-300 per stream
// of a million records, and its CPU by about 8%.
// The pause doubles after a small drain and halves after a large one (kTargetDatagrams), stays
// within [kMinUs, max_us], and is halved whenever the queue it let build up took more than a
// quarter of the usable buffer, counting each datagram's kernel overhead (kOverheadBytes); it
// doubles only when twice that queue still fits in the quarter. (Linux's real limit is twice
// the usable size, so the queue stays under an eighth of it.) Pure arithmetic, no clock: tested
// alone.
class CoalescePause {
 public:
  static constexpr int kMinUs = 125;
  static constexpr int kTargetDatagrams = 512;
  static constexpr size_t kOverheadBytes = 1024;

  // `buffer_bytes`: the socket's usable receive buffer (SO_RCVBUF as granted, halved on Linux).
  CoalescePause(int max_us, size_t buffer_bytes);
  int pause_us() const { return pause_us_; }
  // After the drain that followed a pause of pause_us(): `datagrams` read, `bytes` of payload.
  void AfterDrain(int datagrams, size_t bytes);

 private:
  int max_us_;
  size_t buffer_bytes_;
  int pause_us_;
};

struct ReceiveStats {
  uint64_t datagrams = 0;
  uint64_t bytes = 0;
  uint64_t kernel_drops = 0;  // SO_MEMINFO: datagrams the kernel dropped (buffer full)
  uint64_t denied = 0;        // sources outside --allow
  uint64_t receive_errors = 0;
  uint64_t truncated = 0;     // datagram larger than our buffer (cannot happen at 65535)
  // False where the kernel keeps no per-socket drop counter (FreeBSD): kernel_drops is then
  // unknown rather than zero, and reports show it as unavailable.
  bool kernel_drops_available = SocketDropCountAvailable();
};

// Checks that every listen address parses ([ADDR:]PORT, [IPv6]:PORT, ADDR an IP address)
// without binding anything, so a typo fails before any output is opened.
absl::Status ValidateListenAddresses(const std::vector<std::string>& listen);

class UdpServer {
 public:
  using Handler =
      std::function<void(std::span<const uint8_t>, const ExporterId&, TimeUs receive_time)>;

  // Binds every listen address; the error names the address that failed.
  static absl::StatusOr<std::unique_ptr<UdpServer>> Create(boost::asio::io_context& io,
                                                           const UdpServerOptions& options,
                                                           Handler handler);
  ~UdpServer();

  // Called after each drain (a wake-up's, each coalescing round's, and DrainPending's), on the
  // receiving thread: where work that can wait for the end of a burst is done once.
  void set_batch_end(std::function<void()> fn) { batch_end_ = std::move(fn); }

  // Starts the asynchronous receive loops.
  void Start();
  // Cancels outstanding waits (the io_context can then run out).
  void Stop();
  // Reads every datagram already queued in the kernel (bounded), so a shutdown loses nothing
  // that had arrived.
  void DrainPending();

  const ReceiveStats& stats() const { return stats_; }
  // "ADDR:PORT" of each bound socket (the real port when 0 was asked for).
  std::vector<std::string> LocalEndpoints() const;
  // Usable SO_RCVBUF of the first socket (Linux reports twice this; Asio halves it back).
  int EffectiveRcvbuf() const;
  // True when the kernel gave less than UdpServerOptions::rcvbuf_bytes (Linux: capped at
  // net.core.rmem_max without CAP_NET_ADMIN; FreeBSD: refused above kern.ipc.maxsockbuf).
  bool RcvbufCapped() const;

 private:
  struct Socket {
    explicit Socket(boost::asio::io_context& io) : socket(io) {}
    boost::asio::ip::udp::socket socket;
    uint32_t last_overflow = 0;  // the kernel's drop counter at the last poll
    CoalescePause pause{0, 0};   // set once the socket is bound
  };
  UdpServer(const UdpServerOptions& options, Handler handler)
      : options_(options), handler_(std::move(handler)) {}
  void Arm(Socket& s);
  struct Drained {
    int datagrams = 0;
    size_t bytes = 0;
  };
  // The pauses and drains that follow a drain of `got` while a stream keeps coming; then waits
  // for readiness again (Arm), or yields and comes back while the stream still flows.
  void Coalesce(Socket& s, Drained got);
  // Reads up to `max` datagrams.
  Drained Drain(Socket& s, int max);
  // One received datagram: drop counters from its control data, --allow, then the handler.
  void Deliver(const msghdr& msg, size_t n, const iovec& data, TimeUs now);
  // Adds the socket's new kernel drops (SocketDropCount) to the statistics.
  void PollDrops(Socket& s);

  UdpServerOptions options_;
  Handler handler_;
  std::function<void()> batch_end_;
  std::vector<std::unique_ptr<Socket>> sockets_;
  // Not zeroed: a slot's pages are touched only as far as the datagrams written into them
  // reach, so 16 slots of 64 KiB cost the memory of the datagrams actually seen.
  std::unique_ptr<uint8_t[]> buffer_;
  ReceiveStats stats_;
  bool stopped_ = false;
};

}  // namespace nf

#endif  // NF_COLLECTOR_RECEIVE_UDP_SERVER_H_
