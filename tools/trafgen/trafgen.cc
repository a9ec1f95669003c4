#include "tools/trafgen/trafgen.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <numeric>

#include "absl/container/flat_hash_set.h"
#include "absl/numeric/int128.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/atomic_file.h"
#include "common/status_macros.h"

namespace nf::trafgen {
namespace {

constexpr uint8_t kTcp = 6;
constexpr uint8_t kUdp = 17;
constexpr uint8_t kIcmp = 1;
constexpr uint8_t kIcmpV6 = 58;
constexpr uint8_t kTcpFin = 0x01;
constexpr uint8_t kTcpSyn = 0x02;
constexpr uint8_t kTcpPsh = 0x08;
constexpr uint8_t kTcpAck = 0x10;
constexpr uint32_t kMaxL3 = 1500;  // Ethernet MTU
constexpr size_t kMinFrame = 60;   // Ethernet minimum without FCS: shorter frames are padded
constexpr size_t kMaxFrame = 14 + 4 + kMaxL3;

// xoshiro256** seeded by splitmix64: fixed algorithms, so a seed means the same bytes everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& s : s_) {
      seed += 0x9e3779b97f4a7c15ULL;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      s = z ^ (z >> 31);
    }
  }
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Uniform in [0, n); n > 0. Multiply-shift: no modulo bias worth mentioning, no loop.
  uint64_t Below(uint64_t n) { return absl::Uint128High64(absl::uint128(Next()) * n); }
  // Uniform in [lo, hi].
  uint32_t Between(uint32_t lo, uint32_t hi) {
    return lo + static_cast<uint32_t>(Below(uint64_t{hi} - lo + 1));
  }
  bool Chance(double p) { return Uniform() < p; }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::array<uint64_t, 4> s_;
};

template <size_t N>
uint32_t Pick(Rng& rng, const std::array<uint32_t, N>& values) {
  return values[rng.Below(N)];
}

// The IP-level identity of a flow; unique across a capture.
struct IpKey {
  uint8_t protocol;
  IpAddress src;
  IpAddress dst;
  uint16_t src_port;
  uint16_t dst_port;
  friend bool operator==(const IpKey&, const IpKey&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const IpKey& k) {
    return H::combine(std::move(h), k.protocol, k.src, k.dst, k.src_port, k.dst_port);
  }
};

// How a flow picks its packets' IP total lengths.
enum class SizeProfile : uint8_t { kTcpBulk, kTcpInteractive, kUdpSmall, kUdpMedia, kIcmpEcho };

struct FlowState {
  FlowTruth truth;
  uint64_t target = 0;  // packets this flow will have
  uint64_t emitted = 0;
  SizeProfile profile = SizeProfile::kTcpBulk;
  uint8_t icmp_type = 0;
  uint8_t icmp_code = 0;
  uint16_t ip_id = 0;
  uint16_t icmp_ident = 0;
  uint32_t tcp_seq = 0;
  uint32_t tcp_ack = 0;
  uint32_t flow_label = 0;
  uint8_t mac_index = 0;
};

// ---------------------------------------------------------------------------------------------
// Flow sizes: every flow has at least one packet; the remaining packets are shared out in
// proportion to Pareto weights, water-filled under the cap, then rounded so the total is exact.
absl::StatusOr<std::vector<uint64_t>> FlowSizes(const Options& o, Rng& rng) {
  const size_t n = static_cast<size_t>(o.flows);
  std::vector<double> weight(n);
  for (double& w : weight) {
    const double u = 1.0 - rng.Uniform();  // (0, 1]
    w = std::pow(u, -1.0 / o.pareto_alpha);
  }
  const uint64_t extra_total = o.packets - o.flows;
  const double cap =
      o.max_flow_packets == 0 ? HUGE_VAL : static_cast<double>(o.max_flow_packets - 1);
  std::vector<double> share(n, 0.0);
  std::vector<bool> capped(n, false);
  double remaining = static_cast<double>(extra_total);
  // Each round caps at least one more flow or ends, so n + 1 rounds always suffice.
  for (size_t round = 0; round <= n; ++round) {
    double weight_sum = 0;
    for (size_t i = 0; i < n; ++i)
      if (!capped[i]) weight_sum += weight[i];
    if (weight_sum <= 0) break;
    bool capped_any = false;
    for (size_t i = 0; i < n; ++i) {
      if (capped[i]) continue;
      share[i] = remaining * weight[i] / weight_sum;
      if (share[i] > cap) {
        share[i] = cap;
        capped[i] = true;
        capped_any = true;
      }
    }
    if (!capped_any) break;
    remaining = static_cast<double>(extra_total);
    for (size_t i = 0; i < n; ++i)
      if (capped[i]) remaining -= cap;
  }
  std::vector<uint64_t> size(n);
  uint64_t assigned = 0;
  for (size_t i = 0; i < n; ++i) {
    size[i] = static_cast<uint64_t>(std::floor(share[i]));
    assigned += size[i];
  }
  const uint64_t cap_int = o.max_flow_packets == 0 ? UINT64_MAX : o.max_flow_packets - 1;
  // Rounding: hand out what is left by largest fractional part (ties by index), then (for float
  // error) round robin. Floors never exceed the total, so only additions are needed... except
  // when float error made the floors overshoot, which the trim pass fixes.
  if (assigned > extra_total) {
    for (size_t i = n; i-- > 0 && assigned > extra_total;) {
      const uint64_t take = std::min(size[i], assigned - extra_total);
      size[i] -= take;
      assigned -= take;
    }
  }
  if (assigned < extra_total) {
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return share[a] - std::floor(share[a]) > share[b] - std::floor(share[b]);
    });
    for (size_t pass = 0; pass < 2 && assigned < extra_total; ++pass) {
      for (size_t i : order) {
        if (assigned == extra_total) break;
        if (size[i] < cap_int) {
          ++size[i];
          ++assigned;
        }
      }
    }
    // Whatever float error left: fill flows up to the cap in index order (bounded by n).
    for (size_t i = 0; i < n && assigned < extra_total; ++i) {
      const uint64_t room = cap_int - size[i];
      const uint64_t add = std::min(room, extra_total - assigned);
      size[i] += add;
      assigned += add;
    }
  }
  if (assigned != extra_total) {
    return absl::InternalError("flow-size allocation did not add up (cap too tight?)");
  }
  for (uint64_t& s : size) s += 1;
  return size;
}

// ---------------------------------------------------------------------------------------------
// Flow identities.
IpAddress RandomV4(Rng& rng, uint32_t base, uint32_t host_bits) {
  uint32_t host = static_cast<uint32_t>(rng.Below(uint64_t{1} << host_bits));
  // Avoid .0 and .255 host bytes: valid, but they look like network/broadcast addresses.
  uint32_t low = host & 0xff;
  if (low == 0 || low == 255) host = (host & ~0xffu) | (1 + low % 254);
  return IpAddress::V4(base | host);
}

IpAddress RandomV6(Rng& rng, uint16_t subnet, uint64_t host_limit) {
  uint8_t b[16] = {
      0x20, 0x01, 0x0d, 0xb8, static_cast<uint8_t>(subnet >> 8), static_cast<uint8_t>(subnet)};
  uint64_t host = host_limit == 0 ? rng.Next() : 1 + rng.Below(host_limit);
  for (int i = 0; i < 8; ++i) b[15 - i] = static_cast<uint8_t>(host >> (8 * i));
  return IpAddress::V6(b);
}

absl::StatusOr<std::vector<FlowState>> MakeFlows(const Options& o, Rng& rng) {
  NF_ASSIGN_OR_RETURN(std::vector<uint64_t> sizes, FlowSizes(o, rng));
  const double weight_sum = o.tcp_weight + o.udp_weight + o.icmp_weight;
  static constexpr std::array<uint32_t, 10> kTcpPorts = {80, 443,  443,  443,  22,
                                                         25, 8080, 8443, 5432, 993};
  static constexpr std::array<uint32_t, 8> kUdpPorts = {53, 53, 123, 443, 5060, 4789, 514, 161};
  static constexpr std::array<uint32_t, 6> kTos = {0x20, 0x28, 0x48, 0x68, 0xb8, 0x10};
  std::vector<FlowState> flows(sizes.size());
  absl::flat_hash_set<IpKey> seen;
  seen.reserve(flows.size());
  for (size_t i = 0; i < flows.size(); ++i) {
    FlowState& f = flows[i];
    FlowTruth& t = f.truth;
    f.target = sizes[i];
    t.ip_version = rng.Chance(o.ipv6_ratio) ? 6 : 4;
    const double p = rng.Uniform() * weight_sum;
    t.protocol = p < o.tcp_weight                  ? kTcp
                 : p < o.tcp_weight + o.udp_weight ? kUdp
                 : t.ip_version == 6               ? kIcmpV6
                                                   : kIcmp;
    t.tos = rng.Chance(0.8) ? 0 : static_cast<uint8_t>(Pick(rng, kTos));
    t.vlan = rng.Chance(o.vlan_ratio) ? static_cast<uint16_t>(100 + rng.Below(o.vlan_count)) : 0;
    switch (t.protocol) {
      case kTcp:
        f.profile = rng.Chance(0.6) ? SizeProfile::kTcpBulk : SizeProfile::kTcpInteractive;
        break;
      case kUdp:
        f.profile = rng.Chance(0.6) ? SizeProfile::kUdpSmall : SizeProfile::kUdpMedia;
        break;
      default:
        f.profile = SizeProfile::kIcmpEcho;
        break;
    }
    // Draw identities until the IP-level key is new; collisions are rare, so a small bound.
    bool unique = false;
    for (int attempt = 0; attempt < 64 && !unique; ++attempt) {
      if (t.ip_version == 4) {
        t.src = RandomV4(rng, 0x0a000000, 24);  // 10.0.0.0/8 clients
        t.dst = RandomV4(rng, 0xc6120000, 12);  // 198.18.0.0/20 servers (RFC 2544 range)
      } else {
        t.src = RandomV6(rng, 1, 0);     // 2001:db8:1::/64 clients
        t.dst = RandomV6(rng, 2, 4096);  // 2001:db8:2::1..4096 servers
      }
      if (t.protocol == kTcp || t.protocol == kUdp) {
        t.src_port = static_cast<uint16_t>(rng.Between(1024, 65535));
        t.dst_port = static_cast<uint16_t>(
            rng.Chance(0.8) ? (t.protocol == kTcp ? Pick(rng, kTcpPorts) : Pick(rng, kUdpPorts))
                            : rng.Between(1024, 65535));
      } else {
        const bool request = rng.Chance(0.7);
        f.icmp_type = t.protocol == kIcmp ? (request ? 8 : 0) : (request ? 128 : 129);
        f.icmp_code = 0;
        t.src_port = 0;
        t.dst_port = static_cast<uint16_t>(f.icmp_type * 256 + f.icmp_code);
      }
      unique = seen.insert(IpKey{t.protocol, t.src, t.dst, t.src_port, t.dst_port}).second;
    }
    if (!unique) return absl::InternalError("could not draw a unique flow key in 64 attempts");
    f.ip_id = static_cast<uint16_t>(rng.Next());
    f.icmp_ident = static_cast<uint16_t>(rng.Next());
    f.tcp_seq = static_cast<uint32_t>(rng.Next());
    f.tcp_ack = static_cast<uint32_t>(rng.Next());
    f.flow_label = static_cast<uint32_t>(rng.Next()) & 0xfffff;
    f.mac_index = static_cast<uint8_t>(rng.Next());
  }
  return flows;
}

// ---------------------------------------------------------------------------------------------
// Frame building.
void Put16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void Put32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}
uint32_t SumBytes(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += (uint32_t{p[i]} << 8) | p[i + 1];
  if (n & 1) sum += uint32_t{p[n - 1]} << 8;
  return sum;
}
uint16_t Fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffff);
}

// Chooses this packet's IP total length and TCP flags.
uint32_t PacketLength(FlowState& f, Rng& rng, uint32_t min_len, uint8_t* tcp_flags) {
  const bool first = f.emitted == 0;
  const bool last = f.emitted + 1 == f.target;
  *tcp_flags = 0;
  switch (f.profile) {
    case SizeProfile::kTcpBulk:
    case SizeProfile::kTcpInteractive: {
      if (first && !last) {
        *tcp_flags = kTcpSyn;
        return min_len;
      }
      if (last) {
        *tcp_flags = kTcpFin | kTcpAck;
        return min_len;
      }
      if (f.profile == SizeProfile::kTcpBulk) {
        if (rng.Chance(0.3)) {
          *tcp_flags = kTcpAck;
          return min_len;
        }
        *tcp_flags = kTcpAck;
        return rng.Chance(0.8) ? kMaxL3 : rng.Between(min_len + 1, kMaxL3);
      }
      *tcp_flags = kTcpPsh | kTcpAck;
      return rng.Between(min_len + 1, min_len + 300);
    }
    case SizeProfile::kUdpSmall:
      return rng.Between(min_len, 512);
    case SizeProfile::kUdpMedia:
      return rng.Between(200, 1300);
    case SizeProfile::kIcmpEcho:
      return min_len + 56;  // the classic 56-byte ping payload
  }
  return min_len;
}

// Writes one frame into `frame` (zeroed by the caller) and returns its length; *l3_len gets the IP
// total length.
size_t BuildFrame(FlowState& f, Rng& rng, uint8_t* frame, uint32_t* l3_len, uint8_t* flags_out) {
  const FlowTruth& t = f.truth;
  const bool v6 = t.ip_version == 6;
  const uint32_t ip_header = v6 ? 40 : 20;
  const uint32_t l4_header = t.protocol == kTcp ? 20 : 8;
  uint8_t tcp_flags = 0;
  const uint32_t len = PacketLength(f, rng, ip_header + l4_header, &tcp_flags);
  *l3_len = len;
  *flags_out = tcp_flags;

  // Ethernet: locally administered MACs, one pair per flow "host".
  uint8_t* p = frame;
  const uint8_t dst_mac[6] = {0x02, 0x00, 0x5e, 0x10, 0x00, static_cast<uint8_t>(f.mac_index)};
  const uint8_t src_mac[6] = {0x02, 0x00, 0x5e, 0x20, 0x00, static_cast<uint8_t>(~f.mac_index)};
  std::memcpy(p, dst_mac, 6);
  std::memcpy(p + 6, src_mac, 6);
  p += 12;
  if (t.vlan != 0) {
    Put16(p, 0x8100);
    Put16(p + 2, t.vlan & 0x0fff);
    p += 4;
  }
  Put16(p, v6 ? 0x86dd : 0x0800);
  p += 2;

  uint8_t* ip = p;
  uint32_t pseudo = 0;  // TCP/UDP/ICMPv6 pseudo-header sum
  if (v6) {
    Put32(ip, (6u << 28) | (uint32_t{t.tos} << 20) | f.flow_label);
    Put16(ip + 4, len - 40);
    ip[6] = t.protocol;
    ip[7] = 64;
    std::memcpy(ip + 8, t.src.bytes.data(), 16);
    std::memcpy(ip + 24, t.dst.bytes.data(), 16);
    pseudo = SumBytes(ip + 8, 32);
    pseudo += len - 40;
    pseudo += t.protocol;
  } else {
    ip[0] = 0x45;
    ip[1] = t.tos;
    Put16(ip + 2, len);
    Put16(ip + 4, f.ip_id++);
    Put16(ip + 6, 0x4000);  // DF
    ip[8] = 64;
    ip[9] = t.protocol;
    std::memcpy(ip + 12, t.src.bytes.data(), 4);
    std::memcpy(ip + 16, t.dst.bytes.data(), 4);
    Put16(ip + 10, Fold(SumBytes(ip, 20)));
    pseudo = SumBytes(ip + 12, 8);
    pseudo += len - 20;
    pseudo += t.protocol;
  }
  uint8_t* l4 = ip + ip_header;
  const uint32_t l4_len = len - ip_header;
  // Payload bytes are zero, so the checksums only need the headers (and the lengths above).
  switch (t.protocol) {
    case kTcp: {
      Put16(l4, t.src_port);
      Put16(l4 + 2, t.dst_port);
      Put32(l4 + 4, f.tcp_seq);
      Put32(l4 + 8, (tcp_flags & kTcpAck) != 0 ? f.tcp_ack : 0);
      l4[12] = 5 << 4;
      l4[13] = tcp_flags;
      Put16(l4 + 14, 65535);
      Put16(l4 + 16, Fold(SumBytes(l4, 20, pseudo)));
      f.tcp_seq += l4_len - 20 + ((tcp_flags & (kTcpSyn | kTcpFin)) != 0 ? 1 : 0);
      break;
    }
    case kUdp: {
      Put16(l4, t.src_port);
      Put16(l4 + 2, t.dst_port);
      Put16(l4 + 4, l4_len);
      uint16_t sum = Fold(SumBytes(l4, 8, pseudo));
      Put16(l4 + 6, sum == 0 ? 0xffff : sum);
      break;
    }
    default: {  // ICMP / ICMPv6 echo
      l4[0] = f.icmp_type;
      l4[1] = f.icmp_code;
      Put16(l4 + 4, f.icmp_ident);
      Put16(l4 + 6, static_cast<uint32_t>(f.emitted));
      Put16(l4 + 2, Fold(SumBytes(l4, 8, v6 ? pseudo : 0)));
      break;
    }
  }
  const size_t frame_len = static_cast<size_t>(ip - frame) + len;
  return std::max(frame_len, kMinFrame);
}

// ---------------------------------------------------------------------------------------------
// Output files go through nf::AtomicFile (temporary name + rename; devices written in place),
// with a 1 MiB buffer in front because frames are written one at a time.
class BufferedOutput {
 public:
  absl::Status Open(const std::string& path) {
    buffer_.reserve(kFlushBytes + 65536);
    return file_.Open(path);
  }
  bool Write(const void* data, size_t n) {
    buffer_.append(static_cast<const char*>(data), n);
    return buffer_.size() < kFlushBytes || Flush();
  }
  absl::Status Commit() {
    if (!Flush()) return WriteError();
    return file_.Commit();
  }
  absl::Status WriteError() const { return status_; }

 private:
  static constexpr size_t kFlushBytes = 1 << 20;
  bool Flush() {
    status_ = file_.Write(buffer_);
    buffer_.clear();
    return status_.ok();
  }
  AtomicFile file_;
  std::string buffer_;
  absl::Status status_;
};

void PutLe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v >> 16);
  p[3] = static_cast<uint8_t>(v >> 24);
}

absl::Status WriteTruth(const std::vector<FlowState>& flows, const std::string& path) {
  BufferedOutput out;
  NF_RETURN_IF_ERROR(out.Open(path));
  std::string text(kTruthHeader);
  text.push_back('\n');
  // Rows in order of first packet (ties: flow index, which is start order).
  std::vector<size_t> order(flows.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return flows[a].truth.first_us < flows[b].truth.first_us;
  });
  for (size_t i : order) {
    const FlowTruth& t = flows[i].truth;
    absl::StrAppend(&text, int{t.ip_version}, ",", int{t.protocol}, ",");
    t.src.AppendTo(text);
    text.push_back(',');
    t.dst.AppendTo(text);
    absl::StrAppend(&text, ",", t.src_port, ",", t.dst_port, ",", int{t.tos}, ",", t.vlan, ",",
                    t.packets, ",", t.bytes, ",");
    AppendIso8601Ms(t.first_us / 1000, text);
    text.push_back(',');
    AppendIso8601Ms(t.last_us / 1000, text);
    text.push_back('\n');
    if (text.size() > (1 << 20)) {
      if (!out.Write(text.data(), text.size())) return out.WriteError();
      text.clear();
    }
  }
  if (!out.Write(text.data(), text.size())) return out.WriteError();
  return out.Commit();
}

// Parses "YYYY-MM-DDTHH:MM:SS.mmmZ" into microseconds since the epoch.
bool ParseIsoMs(absl::string_view s, TimeUs* out) {
  if (s.size() != 24 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
      s[16] != ':' || s[19] != '.' || s[23] != 'Z')
    return false;
  auto num = [&](size_t pos, size_t len, int64_t* v) {
    return absl::SimpleAtoi(s.substr(pos, len), v);
  };
  int64_t y, mo, d, h, mi, se, ms;
  if (!num(0, 4, &y) || !num(5, 2, &mo) || !num(8, 2, &d) || !num(11, 2, &h) || !num(14, 2, &mi) ||
      !num(17, 2, &se) || !num(20, 3, &ms))
    return false;
  // Howard Hinnant's days_from_civil.
  y -= mo <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const int64_t days = era * 146097 + doe - 719468;
  *out = ((((days * 24 + h) * 60 + mi) * 60 + se) * 1000 + ms) * 1000;
  return true;
}

}  // namespace

absl::Status Validate(const Options& o) {
  if (o.flows == 0) return absl::InvalidArgumentError("--flows must be at least 1");
  if (o.packets < o.flows)
    return absl::InvalidArgumentError(
        absl::StrCat("--packets (", o.packets, ") must be at least --flows (", o.flows, ")"));
  if (o.flows > 20'000'000 || o.packets > 10'000'000'000ULL)
    return absl::InvalidArgumentError(
        "at most 2e7 flows (~110 bytes of state each) and 1e10 packets");
  if (o.max_flow_packets != 0 && o.max_flow_packets * 1.0 * o.flows < o.packets * 1.0)
    return absl::InvalidArgumentError(absl::StrCat("--max-flow-packets ", o.max_flow_packets,
                                                   " x --flows ", o.flows,
                                                   " is less than --packets ", o.packets));
  if (!(o.ipv6_ratio >= 0 && o.ipv6_ratio <= 1))
    return absl::InvalidArgumentError("--ipv6-ratio must be in [0, 1]");
  if (!(o.vlan_ratio >= 0 && o.vlan_ratio <= 1))
    return absl::InvalidArgumentError("--vlan-ratio must be in [0, 1]");
  if (o.vlan_count < 1 || o.vlan_count > 3900)
    return absl::InvalidArgumentError("--vlans must be in [1, 3900]");
  if (!(o.tcp_weight >= 0 && o.udp_weight >= 0 && o.icmp_weight >= 0) ||
      !(o.tcp_weight + o.udp_weight + o.icmp_weight > 0))
    return absl::InvalidArgumentError("protocol weights must be >= 0 with a positive sum");
  if (!(o.pareto_alpha >= 0.1 && o.pareto_alpha <= 100))
    return absl::InvalidArgumentError("--pareto-alpha must be in [0.1, 100]");
  if (!(o.rate_pps > 0 && o.rate_pps <= 1e10))
    return absl::InvalidArgumentError("--rate must be in (0, 1e10] packets per second");
  if (o.start_us < 0 || o.start_us > int64_t{4'000'000'000} * 1'000'000)
    return absl::InvalidArgumentError(
        "--start must be between 1970 and 2096 (pcap seconds are 32-bit)");
  if (o.max_gap_us < 0 || o.max_flow_duration_us < 0)
    return absl::InvalidArgumentError("gap and duration limits must be >= 0");
  return absl::OkStatus();
}

std::string DefaultTruthPath(absl::string_view pcap_path) {
  return absl::StrCat(pcap_path, ".truth.csv");
}

absl::StatusOr<Summary> Generate(const Options& o, const std::string& pcap_path,
                                 const std::string& truth_path) {
  NF_RETURN_IF_ERROR(Validate(o));
  Rng rng(o.seed);
  NF_ASSIGN_OR_RETURN(std::vector<FlowState> flows, MakeFlows(o, rng));

  BufferedOutput out;
  NF_RETURN_IF_ERROR(out.Open(pcap_path));
  const uint32_t file_snaplen = o.snaplen == 0 ? 65535 : o.snaplen;
  uint8_t header[24] = {};
  PutLe32(header, 0xa1b2c3d4);  // microsecond pcap, little-endian
  header[4] = 2;                // version 2.4
  header[6] = 4;
  PutLe32(header + 16, file_snaplen);
  PutLe32(header + 20, 1);  // LINKTYPE_ETHERNET
  if (!out.Write(header, sizeof(header))) return out.WriteError();

  Summary summary;
  summary.flows = flows.size();
  const size_t concurrency = static_cast<size_t>(
      o.concurrency == 0 ? std::min<uint64_t>(o.flows, 1024) : std::min(o.concurrency, o.flows));
  std::vector<size_t> active;
  active.reserve(concurrency);
  size_t next_flow = 0;
  while (active.size() < concurrency) active.push_back(next_flow++);

  const double period_us = 1e6 / o.rate_pps;
  std::array<uint8_t, 16 + kMaxFrame> record{};
  uint8_t* frame = record.data() + 16;
  for (uint64_t slot = 0; slot < o.packets; ++slot) {
    if (active.empty()) return absl::InternalError("scheduler ran out of flows early");
    const size_t pick = static_cast<size_t>(rng.Below(active.size()));
    FlowState& f = flows[active[pick]];
    const TimeUs ts = o.start_us + static_cast<TimeUs>(static_cast<double>(slot) * period_us);

    std::memset(frame, 0, kMaxFrame);
    uint32_t l3_len = 0;
    uint8_t tcp_flags = 0;
    const size_t frame_len = BuildFrame(f, rng, frame, &l3_len, &tcp_flags);
    const size_t caplen = o.snaplen == 0 ? frame_len : std::min<size_t>(frame_len, o.snaplen);
    PutLe32(record.data(), static_cast<uint32_t>(ts / 1'000'000));
    PutLe32(record.data() + 4, static_cast<uint32_t>(ts % 1'000'000));
    PutLe32(record.data() + 8, static_cast<uint32_t>(caplen));
    PutLe32(record.data() + 12, static_cast<uint32_t>(frame_len));
    if (!out.Write(record.data(), 16 + caplen)) return out.WriteError();

    FlowTruth& t = f.truth;
    if (f.emitted == 0) {
      t.first_us = ts;
    } else if (o.max_gap_us != 0 && ts - t.last_us > o.max_gap_us) {
      return absl::FailedPreconditionError(absl::StrCat(
          "a flow would sit idle for ", (ts - t.last_us) / 1e6, " s (limit ", o.max_gap_us / 1e6,
          " s) and an exporter would split it: raise --rate or lower "
          "--concurrency (or disable the check with --max-gap-ms 0)"));
    }
    t.last_us = ts;
    if (o.max_flow_duration_us != 0 && t.last_us - t.first_us > o.max_flow_duration_us) {
      return absl::FailedPreconditionError(
          absl::StrCat("a flow would last longer than ", o.max_flow_duration_us / 1e6,
                       " s and hit an active timeout: raise --rate or --max-flow-duration-s"));
    }
    ++t.packets;
    t.bytes += l3_len;
    ++f.emitted;
    summary.l3_bytes += l3_len;
    summary.frame_bytes += frame_len;
    if (f.emitted == f.target) {
      if (next_flow < flows.size()) {
        active[pick] = next_flow++;
      } else {
        active[pick] = active.back();
        active.pop_back();
      }
    }
  }
  if (next_flow != flows.size() || !active.empty())
    return absl::InternalError("scheduler finished with flows left over");
  summary.packets = o.packets;
  summary.first_us = o.start_us;
  summary.last_us =
      o.start_us + static_cast<TimeUs>(static_cast<double>(o.packets - 1) * period_us);
  for (const FlowState& f : flows) {
    const FlowTruth& t = f.truth;
    (t.ip_version == 4 ? summary.ipv4_flows : summary.ipv6_flows)++;
    if (t.protocol == kTcp)
      ++summary.tcp_flows;
    else if (t.protocol == kUdp)
      ++summary.udp_flows;
    else
      ++summary.icmp_flows;
    if (t.vlan != 0) ++summary.vlan_flows;
    summary.largest_flow = std::max(summary.largest_flow, t.packets);
  }
  NF_RETURN_IF_ERROR(out.Commit());
  if (!truth_path.empty()) NF_RETURN_IF_ERROR(WriteTruth(flows, truth_path));
  return summary;
}

absl::StatusOr<std::vector<FlowTruth>> ReadTruth(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::vector<FlowTruth> rows;
  std::string line;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line_no == 1) {
      if (line != kTruthHeader)
        return absl::InvalidArgumentError(absl::StrCat(path, ": not a truth file (header)"));
      continue;
    }
    if (line.empty()) continue;
    std::vector<absl::string_view> c = absl::StrSplit(line, ',');
    auto bad = [&] {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", line_no, ": bad row"));
    };
    if (c.size() != 12) return bad();
    FlowTruth t;
    uint32_t v, proto, sport, dport, tos, vlan;
    if (!absl::SimpleAtoi(c[0], &v) || !absl::SimpleAtoi(c[1], &proto) ||
        !absl::SimpleAtoi(c[4], &sport) || !absl::SimpleAtoi(c[5], &dport) ||
        !absl::SimpleAtoi(c[6], &tos) || !absl::SimpleAtoi(c[7], &vlan) ||
        !absl::SimpleAtoi(c[8], &t.packets) || !absl::SimpleAtoi(c[9], &t.bytes) ||
        !ParseIsoMs(c[10], &t.first_us) || !ParseIsoMs(c[11], &t.last_us))
      return bad();
    auto src = ParseIpAddress(c[2]);
    auto dst = ParseIpAddress(c[3]);
    if (!src.ok() || !dst.ok()) return bad();
    t.ip_version = static_cast<uint8_t>(v);
    t.protocol = static_cast<uint8_t>(proto);
    t.src = *src;
    t.dst = *dst;
    t.src_port = static_cast<uint16_t>(sport);
    t.dst_port = static_cast<uint16_t>(dport);
    t.tos = static_cast<uint8_t>(tos);
    t.vlan = static_cast<uint16_t>(vlan);
    rows.push_back(t);
  }
  return rows;
}

}  // namespace nf::trafgen
