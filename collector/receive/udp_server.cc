#include "collector/receive/udp_server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace nf {

namespace asio = boost::asio;
using asio::ip::udp;

namespace {
constexpr size_t kMaxDatagram = 65535;
// Datagrams drained per readiness event before yielding to other sockets and timers; twice
// CoalescePause::kTargetDatagrams, so a drain can show the pause that it is too long.
constexpr int kMaxBurst = 2 * CoalescePause::kTargetDatagrams;
// Coalescing pauses in a row, and their total, before the io_context gets the thread back.
constexpr int kCoalesceRounds = 8;
constexpr int kCoalesceTotalUs = 8000;
// Datagrams fetched per recvmmsg call: one system call for a queue of up to this many.
constexpr int kRecvBatch = 16;
constexpr size_t kSlot = kMaxDatagram + 1;  // +1: a datagram that fills it was truncated
// Slots start this far apart: 64 KiB plus 7 cache lines, so the heads of the batch's datagrams
// (where decoding reads and the kernel's copy writes) fall in different cache sets instead of
// all aliasing in the same L1/L2 sets at a 64 KiB stride.
constexpr size_t kSlotStride = 65536 + 7 * 64;

// Asks for `bytes` of receive buffer. Linux caps SO_RCVBUF at net.core.rmem_max, which a stock
// system sets far below what a busy collector needs; SO_RCVBUFFORCE (CAP_NET_ADMIN, e.g. root)
// is not capped, so a privileged collector gets what --rcvbuf asks. Without the privilege, and
// on other systems, SO_RCVBUF is what remains; RcvbufCapped() then tells the operator.
void SetReceiveBuffer(int fd, int bytes) {
#ifdef SO_RCVBUFFORCE
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) == 0) return;
#endif
  (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
}

TimeUs WallClockUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

bool Cidr::Contains(const IpAddress& a) const {
  if (a.version != network.version) return false;
  return MaskAddress(a, prefix) == network;
}

namespace {
absl::StatusOr<udp::endpoint> ParseListen(const std::string& text) {
  auto hp = ParseHostPort(text, "0.0.0.0");
  if (!hp.ok()) return hp.status();
  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(hp->host, ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat("listen address '", text, "': not an IP address"));
  }
  return udp::endpoint(address, hp->port);
}
}  // namespace

absl::Status ValidateListenAddresses(const std::vector<std::string>& listen) {
  for (const std::string& text : listen) {
    if (absl::StatusOr<udp::endpoint> e = ParseListen(text); !e.ok()) return e.status();
  }
  return absl::OkStatus();
}

absl::StatusOr<Cidr> ParseCidr(absl::string_view text) {
  Cidr c;
  absl::string_view addr = text;
  int prefix = -1;
  if (size_t slash = text.find('/'); slash != absl::string_view::npos) {
    addr = text.substr(0, slash);
    if (!absl::SimpleAtoi(text.substr(slash + 1), &prefix) || prefix < 0) {
      return absl::InvalidArgumentError(absl::StrCat("bad prefix length in '", text, "'"));
    }
  }
  auto a = ParseIpAddress(addr);
  if (!a.ok()) return absl::InvalidArgumentError(absl::StrCat("bad CIDR '", text, "'"));
  const int max = a->version == 4 ? 32 : 128;
  if (prefix < 0) prefix = max;
  if (prefix > max) return absl::InvalidArgumentError(absl::StrCat("prefix too long in '", text, "'"));
  c.prefix = prefix;
  c.network = MaskAddress(*a, prefix);
  return c;
}

bool Allowed(const std::vector<Cidr>& allow, const IpAddress& a) {
  if (allow.empty()) return true;
  for (const Cidr& c : allow) {
    if (c.Contains(a)) return true;
  }
  return false;
}

absl::StatusOr<std::unique_ptr<UdpServer>> UdpServer::Create(asio::io_context& io,
                                                             const UdpServerOptions& options,
                                                             Handler handler) {
  std::unique_ptr<UdpServer> server(new UdpServer(options, std::move(handler)));
  // new T[n], not make_unique: default-initialised, so the pages stay untouched until used
  // (make_unique_for_overwrite is missing from the libc++ FreeBSD builds use).
  server->buffer_.reset(new uint8_t[kSlotStride * kRecvBatch]);
  struct Want {
    std::string text;
    bool optional;  // default IPv6 socket: skipped when IPv6 is unavailable
  };
  std::vector<Want> wants;
  if (options.listen.empty()) {
    wants.push_back({"0.0.0.0:2055", false});
    wants.push_back({"[::]:2055", true});
  } else {
    for (const auto& l : options.listen) wants.push_back({l, false});
  }
  for (const Want& w : wants) {
    absl::StatusOr<udp::endpoint> parsed = ParseListen(w.text);
    if (!parsed.ok()) return parsed.status();
    const udp::endpoint endpoint = *parsed;
    const asio::ip::address address = endpoint.address();
    boost::system::error_code ec;
    auto s = std::make_unique<Socket>(io);
    s->socket.open(endpoint.protocol(), ec);
    if (ec) {
      if (w.optional) continue;
      return absl::UnavailableError(absl::StrCat("listen ", w.text, ": ", ec.message()));
    }
    if (address.is_v6()) {
      // Separate IPv4 and IPv6 sockets on the same port need V6ONLY on the IPv6 one.
      s->socket.set_option(asio::ip::v6_only(true), ec);
    }
    SetReceiveBuffer(s->socket.native_handle(), options.rcvbuf_bytes);
    const int one = 1;
    if (options.reuse_port &&
        ::setsockopt(s->socket.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
      return absl::UnavailableError(absl::StrCat("listen ", w.text, ": SO_REUSEPORT refused"));
    }
    s->socket.bind(endpoint, ec);
    if (ec) {
      if (w.optional) continue;
      return absl::UnavailableError(absl::StrCat("listen ", w.text, ": ", ec.message()));
    }
    s->socket.non_blocking(true, ec);
    asio::socket_base::receive_buffer_size granted;
    s->socket.get_option(granted, ec);
    s->pause = CoalescePause(options.coalesce_us, ec ? 0 : static_cast<size_t>(granted.value()));
    server->sockets_.push_back(std::move(s));
  }
  if (server->sockets_.empty()) return absl::UnavailableError("no listen socket could be bound");
  return server;
}

UdpServer::~UdpServer() { Stop(); }

void UdpServer::Start() {
  stopped_ = false;
  for (auto& s : sockets_) Arm(*s);
}

void UdpServer::Stop() {
  stopped_ = true;
  for (auto& s : sockets_) {
    boost::system::error_code ec;
    s->socket.cancel(ec);
  }
}

void UdpServer::Arm(Socket& s) {
  if (stopped_) return;
  s.socket.async_wait(udp::socket::wait_read, [this, &s](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    const Drained got = Drain(s, kMaxBurst);
    if (batch_end_) batch_end_();
    Coalesce(s, got);
  });
}

void UdpServer::Coalesce(Socket& s, Drained got) {
  // A queue emptied by less than a full burst: a steady stream, worth a short pause so the
  // next drain serves many datagrams (see the header). A full burst needs no pause.
  const auto streaming = [&] {
    return options_.coalesce_us > 0 && got.datagrams > 0 && got.datagrams < kMaxBurst;
  };
  int slept_us = 0;
  for (int round = 0; streaming() && round < kCoalesceRounds && slept_us < kCoalesceTotalUs &&
                      !stopped_;
       ++round) {
    const int pause_us = s.pause.pause_us();
    timespec pause{0, static_cast<long>(pause_us) * 1000};
    nanosleep(&pause, nullptr);
    slept_us += pause_us;
    got = Drain(s, kMaxBurst);
    s.pause.AfterDrain(got.datagrams, got.bytes);
    if (batch_end_ && got.datagrams > 0) batch_end_();
  }
  if (stopped_) return;
  if (streaming()) {
    // Still streaming: yield through the io_context's queue (timers and other sockets run, the
    // reactor is polled without blocking) and come straight back to the pause. Waiting for
    // readiness instead would block until the next datagram, a wake-up by the sender's
    // thread that pulls this one onto the sender's core, where each preempts the other.
    asio::post(s.socket.get_executor(), [this, &s, got] { Coalesce(s, got); });
    return;
  }
  Arm(s);
}

void UdpServer::DrainPending() {
  // The kernel queue holds at most rcvbuf bytes, so this ends; the cap is a second guard.
  for (auto& s : sockets_) Drain(*s, 1 << 20);
  if (batch_end_) batch_end_();
}

CoalescePause::CoalescePause(int max_us, size_t buffer_bytes)
    : max_us_(max_us), buffer_bytes_(buffer_bytes), pause_us_(std::min(max_us, 1000)) {}

void CoalescePause::AfterDrain(int datagrams, size_t bytes) {
  if (max_us_ <= 0 || datagrams <= 0) return;  // no pause, or a stream that ended: no evidence
  const size_t queued = bytes + static_cast<size_t>(datagrams) * kOverheadBytes;
  if (datagrams >= kTargetDatagrams || queued > buffer_bytes_ / 4) {
    pause_us_ = std::max(kMinUs, pause_us_ / 2);
  } else if (datagrams < kTargetDatagrams / 2 && queued * 2 <= buffer_bytes_ / 4) {
    pause_us_ = std::min(max_us_, pause_us_ * 2);
  }
  pause_us_ = std::min(pause_us_, max_us_);
}

UdpServer::Drained UdpServer::Drain(Socket& s, int max) {
  const int fd = s.socket.native_handle();
  sockaddr_storage from[kRecvBatch];
  iovec iov[kRecvBatch];
  mmsghdr msgs[kRecvBatch];
  int i = 0;
  size_t bytes = 0;
  while (i < max) {
    const int want = std::min(kRecvBatch, max - i);
    for (int k = 0; k < want; ++k) {
      iov[k] = iovec{buffer_.get() + kSlotStride * static_cast<size_t>(k), kSlot};
      msgs[k] = mmsghdr{};
      msghdr& msg = msgs[k].msg_hdr;
      msg.msg_name = &from[k];
      msg.msg_namelen = sizeof(from[k]);
      msg.msg_iov = &iov[k];
      msg.msg_iovlen = 1;
    }
    const int got = ::recvmmsg(fd, msgs, static_cast<unsigned>(want), MSG_DONTWAIT, nullptr);
    if (got < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) ++stats_.receive_errors;
      break;
    }
    // One clock read per batch: its datagrams were queued within microseconds of each other.
    const TimeUs now = WallClockUs();
    for (int k = 0; k < got; ++k) {
      Deliver(msgs[k].msg_hdr, msgs[k].msg_len, iov[k], now);
      bytes += msgs[k].msg_len;
    }
    i += got;
    // Read on until EAGAIN even after a short batch: a datagram that arrived while the batch
    // was decoded raised its readiness event before Arm() waits again, and would sit in the
    // queue until the next one came.
  }
  PollDrops(s);
  return Drained{i, bytes};
}

// Once per drain rather than SO_RXQ_OVFL's control message with every datagram: the control
// messages cost ~5% of the receive path in profiles, and a drop is counted even when no
// datagram follows it.
void UdpServer::PollDrops(Socket& s) {
  const std::optional<uint32_t> read = SocketDropCount(s.socket.native_handle());
  if (!read.has_value()) return;
  const uint32_t total = *read;
  // The counter is cumulative per socket; count the increase (modulo 2^32).
  stats_.kernel_drops += total - s.last_overflow;
  s.last_overflow = total;
}

void UdpServer::Deliver(const msghdr& msg, size_t n, const iovec& data, TimeUs now) {
  if ((msg.msg_flags & MSG_TRUNC) || n > kMaxDatagram) {
    ++stats_.truncated;
    return;
  }
  ExporterId exporter;
  const auto& from = *static_cast<const sockaddr_storage*>(msg.msg_name);
  if (from.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&from);
    exporter.address = IpAddress::V4(reinterpret_cast<const uint8_t*>(&sin->sin_addr));
    exporter.port = ntohs(sin->sin_port);
  } else if (from.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&from);
    exporter.address = IpAddress::V6(sin6->sin6_addr.s6_addr);
    exporter.port = ntohs(sin6->sin6_port);
  }
  if (!Allowed(options_.allow, exporter.address)) {
    ++stats_.denied;
    return;
  }
  ++stats_.datagrams;
  stats_.bytes += n;
  handler_(std::span<const uint8_t>(static_cast<const uint8_t*>(data.iov_base), n), exporter, now);
}

std::vector<std::string> UdpServer::LocalEndpoints() const {
  std::vector<std::string> out;
  for (const auto& s : sockets_) {
    boost::system::error_code ec;
    const udp::endpoint e = s->socket.local_endpoint(ec);
    if (ec) continue;
    out.push_back(e.address().is_v6() ? absl::StrCat("[", e.address().to_string(), "]:", e.port())
                                      : absl::StrCat(e.address().to_string(), ":", e.port()));
  }
  return out;
}

int UdpServer::EffectiveRcvbuf() const {
  if (sockets_.empty()) return 0;
  asio::socket_base::receive_buffer_size size;
  boost::system::error_code ec;
  sockets_.front()->socket.get_option(size, ec);
  return ec ? 0 : size.value();
}

bool UdpServer::RcvbufCapped() const {
  // Asio already halves Linux's doubled report, so this compares like with like.
  return !sockets_.empty() && EffectiveRcvbuf() < options_.rcvbuf_bytes;
}

}  // namespace nf
