#include "capture/pcap_source.h"

#include <net/if.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/if_packet.h>
#include <sys/socket.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <optional>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/platform.h"

namespace nf {
namespace {

// Applies a BPF filter; the message quotes the expression and libpcap's reason.
absl::Status ApplyFilter(pcap_t* p, const std::string& filter, const std::string& name) {
  if (filter.empty()) return absl::OkStatus();
  bpf_program prog{};
  if (pcap_compile(p, &prog, filter.c_str(), /*optimize=*/1, PCAP_NETMASK_UNKNOWN) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("bad filter '", filter, "': ", pcap_geterr(p)));
  }
  const int rc = pcap_setfilter(p, &prog);
  pcap_freecode(&prog);
  if (rc != 0) {
    return absl::InternalError(absl::StrCat("cannot set filter on ", name, ": ", pcap_geterr(p)));
  }
  return absl::OkStatus();
}

struct DispatchContext {
  absl::FunctionRef<void(const RawPacket&)>* handler;
  LinkType link;
};

void OnPacket(u_char* user, const pcap_pkthdr* h, const u_char* bytes) {
  auto* ctx = reinterpret_cast<DispatchContext*>(user);
  RawPacket pkt;
  pkt.data = bytes;
  pkt.caplen = h->caplen;
  pkt.wire_len = h->len < h->caplen ? h->caplen : h->len;
  pkt.time_us = TimeUs{h->ts.tv_sec} * 1000000 + h->ts.tv_usec;
  pkt.link = ctx->link;
  (*ctx->handler)(pkt);
}

// The DLT_ value libpcap reports for a file's LINKTYPE_ value (its linktype_to_dlt, which it
// does not export), for the link types whose two numbers differ on some platform. The others
// are equal, or ones we refuse anyway.
int DltFromLinktype(uint32_t linktype) {
  switch (linktype) {
    case 101:  // LINKTYPE_RAW
      return DLT_RAW;
    case 108:  // LINKTYPE_LOOP
      return DLT_LOOP;
    default:
      return static_cast<int>(linktype);
  }
}

// Whether the compiled filter `prog` takes the frame (every frame when it is null).
bool FilterTakes(const bpf_program* prog, const uint8_t* data, uint32_t caplen,
                 uint32_t wire_len) {
  if (prog == nullptr) return true;
  pcap_pkthdr h{};
  h.caplen = caplen;
  h.len = wire_len;
  return pcap_offline_filter(prog, &h, data) != 0;
}

// Delivers packets of a classic pcap reader (ClassicPcapReader, ZstdPcapReader), filtered by
// `prog` when it is not null.
template <typename Reader>
absl::StatusOr<int> DeliverClassic(Reader& reader, const bpf_program* prog, LinkType link,
                                   int max_packets, const volatile int& stop,
                                   absl::FunctionRef<void(const RawPacket&)> handler) {
  int delivered = 0;
  PcapPacket pkt;
  RawPacket raw;
  raw.link = link;
  while (delivered < max_packets && !stop) {
    absl::StatusOr<bool> more = reader.Next(pkt);
    if (!more.ok()) return more.status();
    if (!*more) break;
    if (!FilterTakes(prog, pkt.data, pkt.caplen, pkt.wire_len)) continue;
    raw.data = pkt.data;
    raw.caplen = pkt.caplen;
    raw.wire_len = pkt.wire_len;
    raw.time_us = pkt.time_us;
    handler(raw);
    ++delivered;
  }
  return delivered;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PcapSource>> PcapSource::OpenOffline(
    const std::vector<std::string>& files, const std::string& filter) {
  if (files.empty()) return absl::InvalidArgumentError("no capture file given");
  std::unique_ptr<PcapSource> src(new PcapSource());
  src->filter_ = filter;
  for (const std::string& file : files) {
    if (PcapngReader::IsPcapng(file)) {
      // pcapng goes through our reader: libpcap stops at the first interface whose link type
      // or snaplen differs from the first one's.
      absl::StatusOr<std::unique_ptr<PcapngReader>> ng = PcapngReader::Open(file);
      if (!ng.ok()) return ng.status();
      Input in;
      in.name = file;
      in.ng = std::move(*ng);
      src->inputs_.push_back(std::move(in));
      if (!filter.empty()) {
        // Check the syntax now (against Ethernet) so a typo fails before any work.
        pcap_t* dead = pcap_open_dead(DLT_EN10MB, 262144);
        bpf_program prog{};
        const bool ok = pcap_compile(dead, &prog, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) == 0;
        absl::Status st = ok ? absl::OkStatus()
                             : absl::InvalidArgumentError(
                                   absl::StrCat("bad filter '", filter, "': ", pcap_geterr(dead)));
        if (ok) pcap_freecode(&prog);
        pcap_close(dead);
        if (!st.ok()) return st;
      }
      continue;
    }
    // zstd before libpcap, which cannot read it (and would call it an unknown format).
    absl::StatusOr<std::unique_ptr<ZstdPcapReader>> zstd = ZstdPcapReader::OpenIfZstd(file);
    if (!zstd.ok()) return zstd.status();
    if (*zstd != nullptr) {
      const uint32_t snaplen = (*zstd)->snaplen();
      const int dlt = DltFromLinktype((*zstd)->link_type());
      Input in;
      in.name = file;
      in.zstd = std::move(*zstd);
      src->inputs_.push_back(std::move(in));
      Input& input = src->inputs_.back();
      absl::StatusOr<LinkType> link = LinkTypeFromDlt(dlt);
      if (!link.ok()) {
        return absl::UnimplementedError(absl::StrCat(file, ": ", link.status().message()));
      }
      input.link = *link;
      if (!filter.empty()) {
        auto* prog = new bpf_program{};
        input.classic_filter = prog;  // owned from here on (freed by the destructor)
        pcap_t* dead = pcap_open_dead(dlt, static_cast<int>(snaplen));
        if (dead == nullptr) return absl::ResourceExhaustedError("cannot allocate a pcap handle");
        absl::Status st = absl::OkStatus();
        if (pcap_compile(dead, prog, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
          st = absl::InvalidArgumentError(
              absl::StrCat("bad filter '", filter, "': ", pcap_geterr(dead)));
        }
        pcap_close(dead);
        if (!st.ok()) return st;
      }
      continue;
    }
    char errbuf[PCAP_ERRBUF_SIZE] = {0};
    pcap_t* p =
        pcap_open_offline_with_tstamp_precision(file.c_str(), PCAP_TSTAMP_PRECISION_MICRO, errbuf);
    if (p == nullptr) {
      // A file that is missing or unreadable is the caller's argument; one that exists but is
      // not a capture is bad input (the exit statuses tell the two apart).
      struct stat st {};
      if (::stat(file.c_str(), &st) != 0 || ::access(file.c_str(), R_OK) != 0) {
        return absl::ErrnoToStatus(errno, absl::StrCat("cannot read capture file ", file));
      }
      return absl::DataLossError(absl::StrCat("cannot read capture file ", file, ": ", errbuf));
    }
    Input in;
    in.name = file;
    in.handle = p;
    src->inputs_.push_back(std::move(in));  // owned from here on (closed by the destructor)
    absl::StatusOr<LinkType> link = LinkTypeFromDlt(pcap_datalink(p));
    if (!link.ok()) {
      return absl::UnimplementedError(absl::StrCat(file, ": ", link.status().message()));
    }
    src->inputs_.back().link = *link;
    absl::Status st = ApplyFilter(p, filter, file);
    if (!st.ok()) return st;
    absl::StatusOr<std::unique_ptr<ClassicPcapReader>> classic = ClassicPcapReader::OpenIfClassic(file);
    if (!classic.ok()) return classic.status();
    if (*classic != nullptr) {
      Input& input = src->inputs_.back();
      input.classic = std::move(*classic);
      if (!filter.empty()) {
        auto* prog = new bpf_program{};
        input.classic_filter = prog;  // owned from here on (freed by the destructor)
        if (pcap_compile(p, prog, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
          return absl::InvalidArgumentError(
              absl::StrCat("bad filter '", filter, "': ", pcap_geterr(p)));
        }
      }
    }
  }
  return src;
}

absl::StatusOr<std::unique_ptr<PcapSource>> PcapSource::OpenLive(
    const LiveCaptureOptions& options) {
  char errbuf[PCAP_ERRBUF_SIZE] = {0};
  pcap_t* p = pcap_create(options.interface.c_str(), errbuf);
  if (p == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot capture on ", options.interface, ": ", errbuf));
  }
  std::unique_ptr<PcapSource> src(new PcapSource());
  src->live_ = true;
  Input in;
  in.name = options.interface;
  in.handle = p;
  src->inputs_.push_back(std::move(in));
  int snaplen = options.snaplen;
  // libpcap's NFLOG reader receives a batch of log messages into a buffer of snaplen + 128
  // bytes, and a batch larger than that reaches us with lengths past the buffer's end (seen
  // with 4 small packets and the default 256). With 64 KiB the buffer holds any batch: the
  // kernel closes a batch before it outgrows its default size, and one message with a 64 KiB
  // copy range still fits. The cost is copying whole logged packets, which NFLOG rules select.
  if (absl::StartsWith(options.interface, "nflog")) snaplen = std::max(snaplen, 65535);
  pcap_set_snaplen(p, snaplen);
  pcap_set_promisc(p, options.promiscuous ? 1 : 0);
  pcap_set_timeout(p, options.timeout_ms);
  int buffer = options.buffer_size_bytes;
  // FreeBSD caps a BPF buffer at net.bpf.maxbufsize and gives less without a word: ask for
  // what the kernel allows and tell the operator which knob raises it.
  if (const std::optional<CaptureBufferLimit> limit = GetCaptureBufferLimit();
      limit.has_value() && buffer > 0 && static_cast<size_t>(buffer) > limit->bytes) {
    src->buffer_note_ = absl::StrCat(
        "capture buffer ", buffer, " bytes (--buffer-size) is above ", limit->sysctl, " (",
        limit->bytes, "): capturing with ", limit->bytes, " bytes; raise it with sysctl ",
        limit->sysctl, "=", buffer);
    buffer = static_cast<int>(limit->bytes);
  }
  if (buffer > 0) pcap_set_buffer_size(p, buffer);
  pcap_set_immediate_mode(p, 0);  // batches are what keep per-packet cost low
  const int rc = pcap_activate(p);
  if (rc < 0) {
    const std::string& ifname = options.interface;
    switch (rc) {
      case PCAP_ERROR_NO_SUCH_DEVICE:
        return absl::NotFoundError(absl::StrCat("no such interface: ", ifname));
      case PCAP_ERROR_PERM_DENIED:
      case PCAP_ERROR_PROMISC_PERM_DENIED:
        return absl::PermissionDeniedError(
            absl::StrCat("no permission to capture on ", ifname,
                         " (run as root or grant CAP_NET_RAW,CAP_NET_ADMIN): ", pcap_geterr(p)));
      case PCAP_ERROR_IFACE_NOT_UP:
        return absl::FailedPreconditionError(absl::StrCat("interface ", ifname, " is down"));
      default:
        return absl::UnavailableError(absl::StrCat("cannot capture on ", ifname, ": ",
                                                   pcap_statustostr(rc), ": ", pcap_geterr(p)));
    }
  }
  absl::StatusOr<LinkType> link = LinkTypeFromDlt(pcap_datalink(p));
  if (!link.ok()) {
    return absl::UnimplementedError(
        absl::StrCat(options.interface, ": ", link.status().message()));
  }
  src->inputs_.back().link = *link;
  absl::Status st = ApplyFilter(p, options.filter, options.interface);
  if (!st.ok()) return st;
  src->if_index_ = if_nametoindex(options.interface.c_str());
  if (options.fanout_group >= 0) {
    st = JoinFanout(p, options.interface, options.fanout_group);
    if (!st.ok()) return st;
  }
  return src;
}

absl::Status PcapSource::JoinFanout(pcap* p, const std::string& interface, int group) {
#ifdef __linux__
  // Hash mode: the kernel's symmetric flow hash (addresses and ports, both directions alike)
  // picks the socket, so every packet of a 5-tuple reaches the same handle. DEFRAG reassembles
  // IPv4 fragments first, so a fragmented datagram is not split over handles (the handle then
  // sees the one reassembled datagram, not its fragments).
  const int arg =
      (group & 0xffff) | ((PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG) << 16);
  if (setsockopt(pcap_fileno(p), SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) != 0) {
    return absl::ErrnoToStatus(
        errno, absl::StrCat("cannot join PACKET_FANOUT group ", group, " on ", interface));
  }
  return absl::OkStatus();
#else
  (void)p;
  return absl::UnimplementedError(
      absl::StrCat("cannot split capture on ", interface, " (group ", group,
                   "): PACKET_FANOUT is Linux only"));
#endif
}

bool FanoutSupported(const std::string& interface) {
#ifdef __linux__
  return !absl::StartsWith(interface, "nflog") && if_nametoindex(interface.c_str()) != 0;
#else
  (void)interface;
  return false;
#endif
}

uint16_t FanoutGroupIdFor(int64_t pid) {
  const uint64_t v = static_cast<uint64_t>(pid);
  return static_cast<uint16_t>((v ^ (v >> 16) ^ (v >> 32)) & 0xffff);
}

PcapSource::~PcapSource() {
  for (Input& in : inputs_) {
    if (in.handle != nullptr) pcap_close(in.handle);
    auto* prog = static_cast<bpf_program*>(in.classic_filter);
    if (prog != nullptr) pcap_freecode(prog);
    delete prog;
  }
  for (NgFilter& f : ng_filters_) {
    auto* prog = static_cast<bpf_program*>(f.program);
    if (prog != nullptr) pcap_freecode(prog);
    delete prog;
  }
}

absl::StatusOr<const void*> PcapSource::NgFilterFor(int dlt, uint32_t snaplen) {
  for (const NgFilter& f : ng_filters_) {
    if (f.dlt != dlt || f.snaplen != snaplen) continue;
    if (f.program == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad filter '", filter_, "' for link type ", dlt));
    }
    return static_cast<const void*>(f.program);
  }
  // pcapng names LINKTYPE_ values; libpcap wants the DLT_ one (LINKTYPE_RAW 101 is DLT_RAW).
  pcap_t* dead = pcap_open_dead(DltFromLinktype(static_cast<uint32_t>(dlt)),
                                snaplen == 0 ? 262144 : static_cast<int>(snaplen));
  auto* prog = new bpf_program{};
  if (pcap_compile(dead, prog, filter_.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
    absl::Status st =
        absl::InvalidArgumentError(absl::StrCat("bad filter '", filter_, "' for link type ", dlt,
                                                " in ", current_name(), ": ", pcap_geterr(dead)));
    delete prog;
    pcap_close(dead);
    ng_filters_.push_back(NgFilter{dlt, snaplen, nullptr});  // remember the failure
    return st;
  }
  pcap_close(dead);
  ng_filters_.push_back(NgFilter{dlt, snaplen, prog});
  return static_cast<const void*>(prog);
}

absl::StatusOr<int> PcapSource::DispatchClassic(Input& in, int max_packets,
                                                absl::FunctionRef<void(const RawPacket&)> handler) {
  const auto* prog = static_cast<const bpf_program*>(in.classic_filter);
  if (in.zstd != nullptr) {
    return DeliverClassic(*in.zstd, prog, in.link, max_packets, break_, handler);
  }
  return DeliverClassic(*in.classic, prog, in.link, max_packets, break_, handler);
}

absl::StatusOr<int> PcapSource::DispatchPcapng(Input& in, int max_packets,
                                               absl::FunctionRef<void(const RawPacket&)> handler) {
  int delivered = 0;
  PcapngPacket pkt;
  while (delivered < max_packets && !break_) {
    absl::StatusOr<bool> more = in.ng->Next(pkt);
    if (!more.ok()) return more.status();
    if (!*more) return delivered;
    RawPacket raw;
    raw.data = pkt.data;
    raw.caplen = pkt.caplen;
    raw.wire_len = pkt.wire_len;
    raw.time_us = pkt.time_us;
    absl::StatusOr<LinkType> link = LinkTypeFromDlt(pkt.dlt);
    raw.link_supported = link.ok();
    if (link.ok()) raw.link = *link;
    if (!filter_.empty()) {
      absl::StatusOr<const void*> prog = NgFilterFor(pkt.dlt, pkt.snaplen);
      if (!prog.ok()) {
        // A filter that cannot apply to a link type we do not parse anyway: deliver the
        // packet so it is counted as unsupported rather than silently skipped.
        if (!raw.link_supported) {
          handler(raw);
          ++delivered;
          continue;
        }
        return prog.status();
      }
      if (!FilterTakes(static_cast<const bpf_program*>(*prog), pkt.data, pkt.caplen,
                       pkt.wire_len)) {
        continue;
      }
    }
    handler(raw);
    ++delivered;
  }
  return delivered;
}

namespace {

// libpcap on Linux (TPACKET_V3) blocks in its own poll() until the kernel retires a ring
// block, and the kernel never retires an empty one: on an idle link (or one whose traffic the
// filter rejects) pcap_dispatch would not return, so idle flows would never expire, partial
// datagrams never be flushed and --metrics never refreshed. Wait here with a bound instead;
// false means nothing to read yet (or a signal came in).
constexpr int kLiveWakeMs = 100;
bool WaitReadable(pcap_t* p) {
  const int fd = pcap_get_selectable_fd(p);
  if (fd < 0) return true;  // no selectable fd: let pcap_dispatch wait by itself
  pollfd pfd{fd, POLLIN, 0};
  return poll(&pfd, 1, kLiveWakeMs) > 0;
}

}  // namespace

absl::StatusOr<int> PcapSource::Dispatch(int max_packets,
                                         absl::FunctionRef<void(const RawPacket&)> handler) {
  if (break_) {
    break_ = 0;
    return 0;
  }
  while (current_ < inputs_.size()) {
    Input& in = inputs_[current_];
    if (in.ng != nullptr || in.classic != nullptr || in.zstd != nullptr) {
      absl::StatusOr<int> n = in.ng != nullptr ? DispatchPcapng(in, max_packets, handler)
                                               : DispatchClassic(in, max_packets, handler);
      if (!n.ok()) return n.status();
      received_ += static_cast<uint64_t>(*n);
      if (*n > 0 || break_) {
        break_ = 0;
        return *n;
      }
      ++current_;  // end of this file
      continue;
    }
    if (live_ && !WaitReadable(in.handle)) return 0;
    DispatchContext ctx{&handler, in.link};
    const int n = pcap_dispatch(in.handle, max_packets, OnPacket, reinterpret_cast<u_char*>(&ctx));
    if (n > 0) {
      received_ += static_cast<uint64_t>(n);
      return n;
    }
    if (n == PCAP_ERROR_BREAK) return 0;
    if (n == PCAP_ERROR) {
      return absl::DataLossError(
          absl::StrCat("error reading ", in.name, ": ", pcap_geterr(in.handle)));
    }
    // n == 0: live timeout, or end of this file.
    if (live_) return 0;
    // Keep the handle open (Stats and names stay valid); move to the next file.
    ++current_;
  }
  return absl::OutOfRangeError("end of input");
}

FrameBatch::FrameBatch(size_t capacity_bytes)
    : bytes(new uint8_t[capacity_bytes]), capacity(capacity_bytes) {
  frames.reserve(capacity_bytes / 64);  // the smallest Ethernet frame plus its record header
}

bool PcapSource::ReadsFrameBatches() const {
  if (live_ || inputs_.empty()) return false;
  for (const Input& in : inputs_) {
    if (in.classic == nullptr) return false;
  }
  return true;
}

absl::StatusOr<size_t> PcapSource::ReadFrames(FrameBatch& batch) {
  batch.frames.clear();
  while (current_ < inputs_.size()) {
    Input& in = inputs_[current_];
    if (in.classic == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat(in.name, " is not read in frame batches"));
    }
    const auto* prog = static_cast<const bpf_program*>(in.classic_filter);
    uint8_t* base = batch.bytes.get();
    batch.link = in.link;
    absl::StatusOr<size_t> used =
        in.classic->NextChunk(base, batch.capacity, [&](const PcapPacket& pkt) {
          if (!FilterTakes(prog, pkt.data, pkt.caplen, pkt.wire_len)) return;
          batch.frames.push_back(FrameRef{pkt.time_us, static_cast<uint32_t>(pkt.data - base),
                                          pkt.caplen, pkt.wire_len});
        });
    if (!used.ok()) return used.status();
    if (*used == 0) {
      ++current_;  // end of this file
      continue;
    }
    received_ += batch.frames.size();
    return batch.frames.size();
  }
  return absl::OutOfRangeError("end of input");
}

void PcapSource::BreakLoop() {
  break_ = 1;
  if (current_ < inputs_.size() && inputs_[current_].handle != nullptr) {
    pcap_breakloop(inputs_[current_].handle);
  }
}

CaptureStats PcapSource::Stats() const {
  CaptureStats s;
  s.received = received_;
  if (live_ && !inputs_.empty()) {
    pcap_stat ps{};
    if (pcap_stats(inputs_[0].handle, &ps) == 0) {
      s.dropped = ps.ps_drop;
      s.if_dropped = ps.ps_ifdrop;
    }
  }
  return s;
}

uint64_t PcapSource::BytesRead() const {
  if (live_) return 0;
  uint64_t total = 0;
  for (size_t i = 0; i < inputs_.size() && i <= current_; ++i) {
    const Input& in = inputs_[i];
    if (in.classic != nullptr) {
      total += in.classic->offset();
    } else if (in.zstd != nullptr) {
      total += in.zstd->offset();  // compressed bytes: the files' sizes on disk are the total
    } else if (in.ng != nullptr) {
      total += in.ng->offset();
    } else if (in.handle != nullptr) {
      // libpcap reads through stdio: the stream position is what it has consumed.
      const long pos = std::ftell(pcap_file(in.handle));
      if (pos > 0) total += static_cast<uint64_t>(pos);
    }
  }
  return total;
}

const std::string& PcapSource::current_name() const {
  static const std::string kNone;
  if (inputs_.empty()) return kNone;
  return inputs_[current_ < inputs_.size() ? current_ : inputs_.size() - 1].name;
}

}  // namespace nf
