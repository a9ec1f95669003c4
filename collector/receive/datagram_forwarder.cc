#include "collector/receive/datagram_forwarder.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/json_string.h"
#include "common/platform.h"
#include "common/resolve.h"

namespace nf {

namespace {

// A queued copy: u32 payload length (kWrap: the rest of the ring is unused, go on at its
// start), u16 source port, u8 source IP version, u8 unused, 16 source address bytes, payload.
constexpr size_t kEntryHeader = 24;
constexpr uint32_t kWrap = 0xFFFFFFFFu;
// Copies sent per sendmmsg() call (and taken from one ring per pass, so no worker's ring
// waits behind another's).
constexpr size_t kBatch = 64;
constexpr size_t kMaxHeaders = 48;  // IPv6 + UDP
// The largest UDP payload one datagram carries over IPv4 (65535 - 20 - 8) and IPv6 (no jumbo).
constexpr size_t kMaxPayloadV4 = 65507;
constexpr size_t kMaxPayloadV6 = 65527;
// Without work the thread first polls (a busy producer then never pays for a wake-up), then
// sleeps until a producer wakes it (bounded, in case a wake-up is missed).
constexpr auto kPollInterval = std::chrono::microseconds(100);
constexpr int kPollsBeforeSleep = 100;
constexpr auto kSleepBound = std::chrono::milliseconds(100);

size_t Align8(size_t n) { return (n + 7) & ~size_t{7}; }

int64_t SteadyUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void Put16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

uint16_t Fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

// Increments a counter only the forwarder thread (or one producer) writes: no locked
// read-modify-write on the hot path, readers see a consistent value.
void Bump(std::atomic<uint64_t>& c, uint64_t by = 1) {
  c.store(c.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

}  // namespace

absl::string_view ForwardDropName(ForwardDrop reason) {
  switch (reason) {
    case ForwardDrop::kQueueFull:
      return "queue_full";
    case ForwardDrop::kFamilyMismatch:
      return "family_mismatch";
    case ForwardDrop::kTooLarge:
      return "too_large";
    case ForwardDrop::kStopTimeout:
      return "stop_timeout";
  }
  return "unknown";
}

uint32_t OnesComplementSum(std::span<const uint8_t> data, uint32_t sum) {
  // Words summed in memory order are the big-endian sum byte-swapped on a little-endian host
  // (RFC 1071's byte-order independence); ntohs turns it back.
  const uint8_t* p = data.data();
  const size_t n = data.size();
  uint64_t acc = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    uint32_t w;
    std::memcpy(&w, p + i, 4);
    acc += w;
  }
  if (i + 2 <= n) {
    uint16_t w;
    std::memcpy(&w, p + i, 2);
    acc += w;
    i += 2;
  }
  if (i < n) {
    uint16_t w = 0;
    std::memcpy(&w, p + i, 1);  // the odd last byte is the high byte of a zero-padded word
    acc += w;
  }
  while (acc >> 16) acc = (acc & 0xFFFF) + (acc >> 16);
  return Fold(sum + ntohs(static_cast<uint16_t>(acc)));
}

size_t BuildUdpHeaders(const ExporterId& source, const ExporterId& destination,
                       std::span<const uint8_t> payload, uint32_t payload_sum, uint8_t* out) {
  const IpAddress src = source.address.Unmapped();
  const IpAddress& dst = destination.address;
  if (src.version != dst.version) return 0;
  const size_t udp_length = 8 + payload.size();
  size_t ip_length = 0;
  uint8_t* udp = nullptr;
  uint32_t sum = payload_sum;
  if (src.is_v4()) {
    if (payload.size() > kMaxPayloadV4) return 0;
    ip_length = 20;
    // Every field in network byte order: Linux and FreeBSD 11 and later take ip_len and ip_off
    // of an IP_HDRINCL packet so (older FreeBSD wanted host order; not supported).
    out[0] = 0x45;  // version 4, 5 words
    out[1] = 0;     // DSCP/ECN
    Put16(out + 2, static_cast<uint32_t>(20 + udp_length));
    Put16(out + 4, 0);  // identification: filled in by the kernel when zero
    Put16(out + 6, 0);  // no DF: a router may fragment the copy as it would the original
    out[8] = 64;        // TTL
    out[9] = IPPROTO_UDP;
    Put16(out + 10, 0);
    std::memcpy(out + 12, src.bytes.data(), 4);
    std::memcpy(out + 16, dst.bytes.data(), 4);
    Put16(out + 10, static_cast<uint16_t>(~OnesComplementSum({out, 20}) & 0xFFFF));
    sum = OnesComplementSum({out + 12, 8}, sum);  // pseudo-header: addresses
  } else {
    if (payload.size() > kMaxPayloadV6) return 0;
    ip_length = 40;
    out[0] = 0x60;  // version 6, traffic class 0, flow label 0
    out[1] = out[2] = out[3] = 0;
    Put16(out + 4, static_cast<uint32_t>(udp_length));
    out[6] = IPPROTO_UDP;
    out[7] = 64;  // hop limit
    std::memcpy(out + 8, src.bytes.data(), 16);
    std::memcpy(out + 24, dst.bytes.data(), 16);
    sum = OnesComplementSum({out + 8, 32}, sum);
  }
  udp = out + ip_length;
  Put16(udp, source.port);
  Put16(udp + 2, destination.port);
  Put16(udp + 4, static_cast<uint32_t>(udp_length));
  Put16(udp + 6, 0);
  // Pseudo-header: protocol and UDP length (IPv6's 32-bit length has zero upper half).
  sum += IPPROTO_UDP + static_cast<uint32_t>(udp_length);
  sum = OnesComplementSum({udp, 8}, Fold(sum));
  uint16_t checksum = static_cast<uint16_t>(~Fold(sum) & 0xFFFF);
  if (checksum == 0) checksum = 0xFFFF;  // 0 means "no checksum" (and is forbidden over IPv6)
  Put16(udp + 6, checksum);
  return ip_length + 8;
}

// One producer's ring. The producer owns tail and its cached view of head; the forwarder
// thread owns head. Kept on separate cache lines so neither side's writes evict the other's.
struct DatagramForwarder::Ring {
  explicit Ring(size_t bytes) : buffer(bytes) {}
  std::vector<uint8_t> buffer;
  alignas(64) std::atomic<uint64_t> tail{0};
  uint64_t cached_head = 0;
  std::atomic<uint64_t> queue_full{0};
  alignas(64) std::atomic<uint64_t> head{0};
};

struct DatagramForwarder::Destination {
  std::string name;
  std::string address;
  ExporterId id;         // address and port, for the headers built with keep_source
  sockaddr_storage to{};  // where sendmmsg sends (port 0 for a raw socket)
  socklen_t to_len = 0;
  int fd = -1;  // without keep_source: a UDP socket of the destination's family
  std::atomic<uint64_t> datagrams{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> send_errors{0};
  std::atomic<int> last_errno{0};
  std::array<std::atomic<uint64_t>, kForwardDropCount> drops{};
};

absl::StatusOr<std::unique_ptr<DatagramForwarder>> DatagramForwarder::Create(
    const ForwardOptions& options) {
  if (options.destinations.empty()) return absl::InvalidArgumentError("--forward: no destination");
  std::unique_ptr<DatagramForwarder> f(new DatagramForwarder());
  f->keep_source_ = options.keep_source;
  // A ring holds at least two copies of the largest datagram (a TCP message of 64 KiB).
  const size_t ring_bytes = Align8(std::max(options.ring_bytes, size_t{256} << 10));
  for (size_t i = 0; i < std::max<size_t>(options.producers, 1); ++i) {
    f->rings_.push_back(std::make_unique<Ring>(ring_bytes));
  }
  for (const std::string& text : options.destinations) {
    absl::StatusOr<HostPort> hp = ParseHostPort(text);
    if (!hp.ok() || hp->port == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--forward ", text, ": ",
                       hp.ok() ? "port 0" : std::string(hp.status().message()),
                       " (want HOST:PORT or [IPV6]:PORT)"));
    }
    absl::StatusOr<UdpDestination> resolved = ResolveUdpDestination(*hp);
    if (!resolved.ok()) {
      return absl::Status(resolved.status().code(),
                          absl::StrCat("--forward ", text, ": ", resolved.status().message()));
    }
    auto d = std::make_unique<Destination>();
    d->name = text;
    d->address = resolved->numeric;
    std::memcpy(&d->to, &resolved->address, resolved->length);
    d->to_len = resolved->length;
    const int family = d->to.ss_family;
    d->id.port = hp->port;
    if (family == AF_INET) {
      auto* sin = reinterpret_cast<sockaddr_in*>(&d->to);
      d->id.address = IpAddress::V4(reinterpret_cast<const uint8_t*>(&sin->sin_addr));
      if (options.keep_source) sin->sin_port = 0;
    } else {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(&d->to);
      d->id.address = IpAddress::V6(sin6->sin6_addr.s6_addr);
      // A raw IPv6 socket reads the port as the next-header protocol: 0 means its own.
      if (options.keep_source) sin6->sin6_port = 0;
    }
    int& raw = family == AF_INET ? f->raw4_ : f->raw6_;
    if (options.keep_source && raw < 0) {
      if (family == AF_INET6 && !RawIpv6HeaderIncluded()) {
        return absl::UnimplementedError(absl::StrCat(
            "--forward-keep-source to IPv6 destination ", text,
            ": this system's raw IPv6 sockets cannot send another host's source address"));
      }
      raw = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
      if (raw < 0) {
        const int err = errno;
        if (err == EPERM || err == EACCES) {
          return absl::PermissionDeniedError(absl::StrCat(
              "--forward-keep-source needs CAP_NET_RAW (run as root, or grant the capability "
              "to flowcollect) to open a raw ", family == AF_INET ? "IPv4" : "IPv6",
              " socket: ", std::strerror(err)));
        }
        return absl::InternalError(absl::StrCat("--forward-keep-source: raw socket: ",
                                                std::strerror(err)));
      }
      if (family == AF_INET) {
        // Implied by IPPROTO_RAW on Linux, needed on FreeBSD.
        const int one = 1;
        if (setsockopt(raw, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one)) != 0) {
          return absl::InternalError(absl::StrCat("--forward-keep-source: IP_HDRINCL: ",
                                                  std::strerror(errno)));
        }
      }
      const int sndbuf = 4 << 20;
      setsockopt(raw, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    }
    if (!options.keep_source) {
      d->fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (d->fd < 0) {
        return absl::InternalError(
            absl::StrCat("--forward ", text, ": socket: ", std::strerror(errno)));
      }
      // Unconnected: no route is needed at start, and a destination that is not listening
      // (ICMP port unreachable) does not turn later sends into errors.
      const int sndbuf = 4 << 20;
      setsockopt(d->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    }
    f->destinations_.push_back(std::move(d));
  }
  return f;
}

DatagramForwarder::~DatagramForwarder() {
  Stop(0);
  for (auto& d : destinations_) {
    if (d->fd >= 0) close(d->fd);
  }
  if (raw4_ >= 0) close(raw4_);
  if (raw6_ >= 0) close(raw6_);
}

void DatagramForwarder::Start() {
  if (thread_.joinable() || stopped_) return;
  thread_ = std::thread([this] { Loop(); });
}

void DatagramForwarder::Push(size_t producer, std::span<const uint8_t> datagram,
                             const ExporterId& source) {
  Ring& r = *rings_[producer];
  const size_t cap = r.buffer.size();
  const size_t need = Align8(kEntryHeader + datagram.size());
  const uint64_t tail = r.tail.load(std::memory_order_relaxed);
  const size_t at = static_cast<size_t>(tail % cap);
  // An entry never wraps: when it does not fit before the end, the end is skipped.
  const size_t skip = cap - at < need ? cap - at : 0;
  const uint64_t end = tail + skip + need;
  if (end - r.cached_head > cap) {
    r.cached_head = r.head.load(std::memory_order_acquire);
    if (end - r.cached_head > cap) {
      Bump(r.queue_full);
      return;
    }
  }
  uint8_t* base = r.buffer.data();
  if (skip != 0) std::memcpy(base + at, &kWrap, 4);
  uint8_t* e = base + (at + skip) % cap;
  const uint32_t length = static_cast<uint32_t>(datagram.size());
  std::memcpy(e, &length, 4);
  std::memcpy(e + 4, &source.port, 2);
  e[6] = source.address.version;
  e[7] = 0;
  std::memcpy(e + 8, source.address.bytes.data(), 16);
  if (!datagram.empty()) std::memcpy(e + kEntryHeader, datagram.data(), datagram.size());
  // seq_cst with the load of sleeping_ below and the thread's store of it before its last look
  // at the rings: one of the two sides always sees the other (no lost wake-up).
  r.tail.store(end, std::memory_order_seq_cst);
  if (sleeping_.load(std::memory_order_seq_cst)) Wake();
}

void DatagramForwarder::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = true;
  }
  cv_.notify_one();
}

bool DatagramForwarder::AllEmpty() const {
  for (const auto& r : rings_) {
    if (r->head.load(std::memory_order_relaxed) != r->tail.load(std::memory_order_seq_cst)) {
      return false;
    }
  }
  return true;
}

size_t DatagramForwarder::SendBatch(Ring& r) {
  struct Item {
    std::span<const uint8_t> payload;
    ExporterId source;
    uint32_t sum = 0;
  };
  Item items[kBatch];
  const size_t cap = r.buffer.size();
  const uint8_t* base = r.buffer.data();
  uint64_t head = r.head.load(std::memory_order_relaxed);
  const uint64_t tail = r.tail.load(std::memory_order_acquire);
  size_t n = 0;
  while (head != tail && n < kBatch) {
    const size_t at = static_cast<size_t>(head % cap);
    uint32_t length;
    std::memcpy(&length, base + at, 4);
    if (length == kWrap) {
      head += cap - at;
      continue;
    }
    const uint8_t* e = base + at;
    Item& it = items[n++];
    std::memcpy(&it.source.port, e + 4, 2);
    it.source.address.version = e[6];
    std::memcpy(it.source.address.bytes.data(), e + 8, 16);
    it.payload = std::span<const uint8_t>(e + kEntryHeader, length);
    if (keep_source_) it.sum = OnesComplementSum(it.payload);
    head += Align8(kEntryHeader + length);
  }
  if (n > 0) {
    mmsghdr msgs[kBatch];
    iovec iov[kBatch][2];
    uint8_t headers[kBatch][kMaxHeaders];
    size_t sizes[kBatch];
    for (auto& dp : destinations_) {
      Destination& d = *dp;
      const bool v4 = d.to.ss_family == AF_INET;
      size_t m = 0;
      for (size_t i = 0; i < n; ++i) {
        const Item& it = items[i];
        if (it.payload.size() > (v4 ? kMaxPayloadV4 : kMaxPayloadV6)) {
          Bump(d.drops[static_cast<size_t>(ForwardDrop::kTooLarge)]);
          continue;
        }
        msgs[m] = mmsghdr{};
        msghdr& h = msgs[m].msg_hdr;
        if (keep_source_) {
          if (it.source.address.Unmapped().version != d.id.address.version) {
            Bump(d.drops[static_cast<size_t>(ForwardDrop::kFamilyMismatch)]);
            continue;
          }
          const size_t hl = BuildUdpHeaders(it.source, d.id, it.payload, it.sum, headers[m]);
          iov[m][0] = iovec{headers[m], hl};
          iov[m][1] = iovec{const_cast<uint8_t*>(it.payload.data()), it.payload.size()};
          h.msg_iovlen = 2;
        } else {
          iov[m][0] = iovec{const_cast<uint8_t*>(it.payload.data()), it.payload.size()};
          h.msg_iovlen = 1;
        }
        h.msg_iov = iov[m];
        h.msg_name = &d.to;
        h.msg_namelen = d.to_len;
        sizes[m] = it.payload.size();
        ++m;
      }
      const int fd = !keep_source_ ? d.fd : v4 ? raw4_ : raw6_;
      size_t i = 0;
      while (i < m) {
        const ssize_t sent = sendmmsg(fd, msgs + i, static_cast<unsigned>(m - i), 0);
        if (sent < 0 && errno == EINTR) continue;
        if (sent <= 0) {
          // The copy at i failed (no route, EMSGSIZE over the MTU, ENOBUFS): counted, and the
          // batch goes on after it.
          Bump(d.send_errors);
          d.last_errno.store(sent < 0 ? errno : EIO, std::memory_order_relaxed);
          ++i;
          continue;
        }
        uint64_t bytes = 0;
        for (size_t k = i; k < i + static_cast<size_t>(sent); ++k) bytes += sizes[k];
        Bump(d.datagrams, static_cast<uint64_t>(sent));
        Bump(d.bytes, bytes);
        i += static_cast<size_t>(sent);
      }
    }
  }
  r.head.store(head, std::memory_order_release);
  return n;
}

void DatagramForwarder::Loop() {
  int idle = 0;
  while (true) {
    if (stopping_.load(std::memory_order_acquire) &&
        SteadyUs() >= drain_deadline_us_.load(std::memory_order_relaxed)) {
      // Out of time: what is still queued is counted for every destination.
      uint64_t left = 0;
      for (auto& r : rings_) {
        const size_t cap = r->buffer.size();
        uint64_t head = r->head.load(std::memory_order_relaxed);
        const uint64_t tail = r->tail.load(std::memory_order_acquire);
        while (head != tail) {
          const size_t at = static_cast<size_t>(head % cap);
          uint32_t length;
          std::memcpy(&length, r->buffer.data() + at, 4);
          if (length == kWrap) {
            head += cap - at;
            continue;
          }
          ++left;
          head += Align8(kEntryHeader + length);
        }
        r->head.store(head, std::memory_order_release);
      }
      for (auto& d : destinations_) {
        Bump(d->drops[static_cast<size_t>(ForwardDrop::kStopTimeout)], left);
      }
      return;
    }
    size_t taken = 0;
    for (auto& r : rings_) taken += SendBatch(*r);
    if (taken > 0) {
      idle = 0;
      continue;
    }
    if (AllEmpty()) {
      if (stopping_.load(std::memory_order_acquire)) return;
    } else {
      continue;  // only a wrap marker was passed
    }
    if (++idle < kPollsBeforeSleep) {
      std::this_thread::sleep_for(kPollInterval);
      continue;
    }
    sleeping_.store(true, std::memory_order_seq_cst);
    if (AllEmpty() && !stopping_.load(std::memory_order_acquire)) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, kSleepBound, [this] { return wake_; });
      wake_ = false;
    }
    sleeping_.store(false, std::memory_order_relaxed);
    idle = 0;
  }
}

void DatagramForwarder::Stop(int drain_ms) {
  if (stopped_) return;
  stopped_ = true;
  drain_deadline_us_.store(SteadyUs() + int64_t{drain_ms} * 1000, std::memory_order_relaxed);
  stopping_.store(true, std::memory_order_release);
  if (!thread_.joinable()) {
    // Never started: what was queued is still sent, within the drain time.
    thread_ = std::thread([this] { Loop(); });
  }
  Wake();
  thread_.join();
}

ForwardStats DatagramForwarder::Stats() const {
  ForwardStats s;
  s.keep_source = keep_source_;
  uint64_t queue_full = 0;
  for (const auto& r : rings_) queue_full += r->queue_full.load(std::memory_order_relaxed);
  for (const auto& dp : destinations_) {
    const Destination& d = *dp;
    ForwardDestinationStats o;
    o.name = d.name;
    o.address = d.address;
    o.datagrams = d.datagrams.load(std::memory_order_relaxed);
    o.bytes = d.bytes.load(std::memory_order_relaxed);
    o.send_errors = d.send_errors.load(std::memory_order_relaxed);
    o.last_errno = d.last_errno.load(std::memory_order_relaxed);
    for (size_t i = 0; i < kForwardDropCount; ++i) {
      o.drops[i] = d.drops[i].load(std::memory_order_relaxed);
    }
    // A full ring loses the copy for every destination.
    o.drops[static_cast<size_t>(ForwardDrop::kQueueFull)] += queue_full;
    s.destinations.push_back(std::move(o));
  }
  return s;
}

std::string ForwardStatsText(const ForwardStats& stats) {
  std::string out;
  for (const ForwardDestinationStats& d : stats.destinations) {
    absl::StrAppend(&out, "forward to ", d.name, " (", d.address,
                    stats.keep_source ? ", exporter source kept" : "", "): datagrams ",
                    d.datagrams, ", bytes ", d.bytes, ", send errors ", d.send_errors);
    if (d.send_errors != 0 && d.last_errno != 0) {
      absl::StrAppend(&out, " (last: ", std::strerror(d.last_errno), ")");
    }
    out += "; dropped:";
    for (size_t i = 0; i < kForwardDropCount; ++i) {
      absl::StrAppend(&out, i == 0 ? " " : ", ", ForwardDropName(static_cast<ForwardDrop>(i)),
                      " ", d.drops[i]);
    }
    out += "\n";
  }
  return out;
}

std::string ForwardStatsJson(const ForwardStats& stats) {
  std::string out =
      absl::StrCat("{\"keep_source\":", stats.keep_source ? "true" : "false", ",\"destinations\":[");
  bool first = true;
  for (const ForwardDestinationStats& d : stats.destinations) {
    if (!first) out.push_back(',');
    first = false;
    out += "{\"destination\":";
    AppendJsonString(d.name, out);
    out += ",\"address\":";
    AppendJsonString(d.address, out);
    absl::StrAppend(&out, ",\"datagrams\":", d.datagrams, ",\"bytes\":", d.bytes,
                    ",\"send_errors\":", d.send_errors, ",\"drops\":{");
    for (size_t i = 0; i < kForwardDropCount; ++i) {
      absl::StrAppend(&out, i == 0 ? "\"" : ",\"", ForwardDropName(static_cast<ForwardDrop>(i)),
                      "\":", d.drops[i]);
    }
    out += "}}";
  }
  out += "]}";
  return out;
}

}  // namespace nf
