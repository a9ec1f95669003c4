#include "collector/ha/ha_node.h"

#include <sys/stat.h>
#include <sys/time.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <utility>

#include <boost/asio/ip/address.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/ip_address.h"
#include "common/progress.h"

namespace nf {
namespace asio = boost::asio;
using asio::ip::udp;

namespace {

// "NFHA", version 1, type 1 (confirm), a 16-bit digest count, then the 64-bit digests, all
// big-endian. 174 digests keep a message under 1,400 bytes.
constexpr uint8_t kMagic[4] = {'N', 'F', 'H', 'A'};
constexpr uint8_t kVersion = 1;
constexpr uint8_t kTypeConfirm = 1;
constexpr size_t kHeader = 8;
constexpr size_t kDigestsPerMessage = 174;
// Written() commits by itself past this many pending digests, so memory stays fixed.
constexpr size_t kMaxPending = 8192;
constexpr auto kPollPeriod = std::chrono::milliseconds(50);
constexpr TimeUs kExpirePeriodUs = 1'000'000;

TimeUs WallNowUs() {
  timeval tv{};
  gettimeofday(&tv, nullptr);
  return static_cast<TimeUs>(tv.tv_sec) * 1'000'000 + tv.tv_usec;
}

absl::StatusOr<udp::endpoint> ParseEndpoint(absl::string_view text, absl::string_view default_host,
                                            absl::string_view what) {
  absl::StatusOr<HostPort> hp = ParseHostPort(text, default_host);
  if (!hp.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " '", text, "': ", hp.status().message()));
  }
  boost::system::error_code ec;
  const asio::ip::address a = asio::ip::make_address(hp->host, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " '", text, "': '", hp->host, "' is not an IP address"));
  }
  return udp::endpoint(a, hp->port);
}

void PutBe64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<uint8_t>(v);
    v >>= 8;
  }
}

uint64_t GetBe64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

bool HaStateIsActive(absl::string_view text) {
  size_t i = 0;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  size_t j = i;
  while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j]))) ++j;
  const std::string word = absl::AsciiStrToLower(text.substr(i, j - i));
  return word == "active" || word == "master";
}

absl::Status ValidateHaOptions(const HaOptions& o) {
  absl::StatusOr<udp::endpoint> peer = ParseEndpoint(o.peer, {}, "--ha-peer");
  if (!peer.ok()) return peer.status();
  if (peer->port() == 0) return absl::InvalidArgumentError("--ha-peer: port 0");
  absl::StatusOr<udp::endpoint> listen = ParseEndpoint(o.listen, "0.0.0.0", "--ha-listen");
  if (!listen.ok()) return listen.status();
  if (o.state_file.empty()) return absl::InvalidArgumentError("--ha-peer needs --ha-state FILE");
  return absl::OkStatus();
}

HaNode::HaNode(asio::io_context& io, const HaOptions& options, Callbacks callbacks)
    : options_(options),
      callbacks_(std::move(callbacks)),
      socket_(io),
      poll_(io),
      receive_buffer_(65536),
      send_buffer_(kHeader + 8 * kDigestsPerMessage),
      spool_(options.spool) {
  pending_.reserve(kMaxPending);
}

HaNode::~HaNode() = default;

absl::StatusOr<std::unique_ptr<HaNode>> HaNode::Create(asio::io_context& io,
                                                       const HaOptions& options,
                                                       Callbacks callbacks) {
  if (absl::Status s = ValidateHaOptions(options); !s.ok()) return s;
  std::unique_ptr<HaNode> node(new HaNode(io, options, std::move(callbacks)));
  node->peer_ = *ParseEndpoint(options.peer, {}, "--ha-peer");
  const udp::endpoint listen = *ParseEndpoint(options.listen, "0.0.0.0", "--ha-listen");
  boost::system::error_code ec;
  node->socket_.open(listen.protocol(), ec);
  if (!ec) node->socket_.bind(listen, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("--ha-listen ", options.listen, ": cannot bind: ", ec.message()));
  }
  node->socket_.non_blocking(true, ec);
  return node;
}

void HaNode::Start() {
  stopped_ = false;
  CheckRole();
  ArmReceive();
  ArmPoll();
  Publish();
}

void HaNode::Stop() {
  stopped_ = true;
  boost::system::error_code ec;
  poll_.cancel(ec);
  socket_.cancel(ec);
  Publish();
}

void HaNode::CheckRole() {
  struct stat st{};
  bool active = false;
  if (::stat(options_.state_file.c_str(), &st) == 0) {
    const int64_t mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
    if (mtime_ns == state_mtime_ns_ && st.st_size == state_size_) return;  // unchanged
    char text[64] = {};
    FILE* f = std::fopen(options_.state_file.c_str(), "r");
    if (f == nullptr) return;  // replaced under us: the next poll reads it
    const size_t n = std::fread(text, 1, sizeof(text) - 1, f);
    std::fclose(f);
    state_mtime_ns_ = mtime_ns;
    state_size_ = st.st_size;
    active = HaStateIsActive(absl::string_view(text, n));
  } else {
    state_mtime_ns_ = -1;
    state_size_ = -1;
  }
  if (active != active_) SetActive(active);
}

void HaNode::SetActive(bool active) {
  if (active) {
    const int64_t start = MonotonicMicros();
    active_ = true;
    // What the peer may not have written, oldest first, before anything newer.
    const size_t replayed = spool_.Replay(
        [this](std::span<const uint8_t> d, const ExporterId& e, TimeUs t) {
          callbacks_.replay(d, e, t);
          Written(d);
        });
    Commit();
    ++counters_.became_active;
    counters_.last_replay = replayed;
    counters_.last_replay_ms = (MonotonicMicros() - start) / 1000;
    if (callbacks_.on_role) callbacks_.on_role(true, replayed);
  } else {
    Commit();  // what was written is confirmed before the peer takes over
    active_ = false;
    pending_.clear();
    ++counters_.became_standby;
    if (callbacks_.on_role) callbacks_.on_role(false, 0);
  }
  Publish();
}

void HaNode::Spool(std::span<const uint8_t> datagram, const ExporterId& exporter,
                   TimeUs receive_time) {
  spool_.Add(DatagramDigest(datagram), datagram, exporter, receive_time);
}

void HaNode::Written(std::span<const uint8_t> datagram) {
  if (pending_.size() >= kMaxPending) Commit();
  pending_.push_back(DatagramDigest(datagram));
}

void HaNode::Commit() {
  if (pending_.empty()) return;
  ++counters_.commits;
  if (callbacks_.flush_outputs && !callbacks_.flush_outputs()) {
    // Not written: the standby keeps these datagrams, and writes them if it takes over.
    ++counters_.output_flush_errors;
    pending_.clear();
    return;
  }
  SendConfirmations();
  pending_.clear();
}

void HaNode::SendConfirmations() {
  std::memcpy(send_buffer_.data(), kMagic, 4);
  send_buffer_[4] = kVersion;
  send_buffer_[5] = kTypeConfirm;
  for (size_t i = 0; i < pending_.size(); i += kDigestsPerMessage) {
    const size_t n = std::min(kDigestsPerMessage, pending_.size() - i);
    send_buffer_[6] = static_cast<uint8_t>(n >> 8);
    send_buffer_[7] = static_cast<uint8_t>(n);
    for (size_t k = 0; k < n; ++k) PutBe64(send_buffer_.data() + kHeader + 8 * k, pending_[i + k]);
    boost::system::error_code ec;
    socket_.send_to(asio::buffer(send_buffer_.data(), kHeader + 8 * n), peer_, 0, ec);
    if (ec) {
      ++counters_.send_errors;
    } else {
      ++counters_.confirm_messages_sent;
      counters_.confirmations_sent += n;
    }
  }
}

void HaNode::ArmReceive() {
  if (stopped_) return;
  socket_.async_receive_from(asio::buffer(receive_buffer_), from_,
                             [this](const boost::system::error_code& ec, size_t n) {
                               if (ec == asio::error::operation_aborted || stopped_) return;
                               if (!ec) OnPeerMessage(n);
                               ArmReceive();
                             });
}

void HaNode::OnPeerMessage(size_t n) {
  const uint8_t* p = receive_buffer_.data();
  // Only the configured peer may confirm: anyone else could make the standby forget datagrams.
  if (from_.address() != peer_.address() || n < kHeader || std::memcmp(p, kMagic, 4) != 0 ||
      p[4] != kVersion || p[5] != kTypeConfirm) {
    ++counters_.peer_messages_refused;
    return;
  }
  const size_t count = (size_t{p[6]} << 8) | p[7];
  if (n != kHeader + 8 * count) {
    ++counters_.peer_messages_refused;
    return;
  }
  counters_.confirmations_received += count;
  if (active_) {
    // Both nodes think they write: the failover daemon will settle it; count it so it shows.
    ++counters_.confirmations_while_active;
    return;
  }
  const TimeUs now = WallNowUs();
  for (size_t k = 0; k < count; ++k) spool_.Confirm(GetBe64(p + kHeader + 8 * k), now);
}

void HaNode::ArmPoll() {
  if (stopped_) return;
  poll_.expires_after(kPollPeriod);
  poll_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    CheckRole();
    const TimeUs now = WallNowUs();
    if (now - last_expire_ >= kExpirePeriodUs) {
      spool_.Expire(now);
      last_expire_ = now;
    }
    Publish();
    ArmPoll();
  });
}

void HaNode::Publish() {
  counters_.active = active_;
  counters_.spool_datagrams = spool_.datagrams();
  counters_.spool_unconfirmed = spool_.unconfirmed();
  counters_.spool_bytes = spool_.bytes();
  counters_.spool = spool_.stats();
  std::lock_guard<std::mutex> lock(mu_);
  published_ = counters_;
}

std::string HaStatsJson(const HaStats& s) {
  return absl::StrCat(
      "{\"role\":\"", s.active ? "active" : "standby", "\",\"became_active\":", s.became_active,
      ",\"became_standby\":", s.became_standby, ",\"commits\":", s.commits,
      ",\"confirmations_sent\":", s.confirmations_sent, ",\"confirm_messages_sent\":",
      s.confirm_messages_sent, ",\"confirmations_received\":", s.confirmations_received,
      ",\"confirmations_while_active\":", s.confirmations_while_active,
      ",\"peer_messages_refused\":", s.peer_messages_refused, ",\"send_errors\":", s.send_errors,
      ",\"output_flush_errors\":", s.output_flush_errors, ",\"last_replay\":", s.last_replay,
      ",\"last_replay_ms\":", s.last_replay_ms, ",\"spool\":{\"datagrams\":", s.spool_datagrams,
      ",\"unconfirmed\":", s.spool_unconfirmed, ",\"bytes\":", s.spool_bytes,
      ",\"spooled\":", s.spool.spooled, ",\"confirmed\":", s.spool.confirmed,
      ",\"confirmed_before_arrival\":", s.spool.confirmed_before_arrival,
      ",\"confirmations_unmatched\":", s.spool.confirmations_unmatched,
      ",\"evicted_unconfirmed\":", s.spool.evicted_unconfirmed,
      ",\"expired_unconfirmed\":", s.spool.expired_unconfirmed, ",\"too_large\":",
      s.spool.too_large, ",\"replayed\":", s.spool.replayed, "}}");
}

std::string HaStatsText(const HaStats& s) {
  return absl::StrCat(
      "ha: ", s.active ? "active" : "standby", ", became active ", s.became_active,
      " times, confirmed ", s.confirmations_sent, " datagrams to the peer (",
      s.send_errors, " send errors, ", s.output_flush_errors, " output errors), received ",
      s.confirmations_received, " confirmations (", s.confirmations_while_active,
      " while active, ", s.peer_messages_refused, " refused)\n",
      "ha spool: ", s.spool_datagrams, " datagrams held (", s.spool_unconfirmed,
      " unconfirmed, ", s.spool_bytes, " bytes); spooled ", s.spool.spooled, ", confirmed ",
      s.spool.confirmed, " (+", s.spool.confirmed_before_arrival, " before arrival), evicted ",
      s.spool.evicted_unconfirmed, " and expired ", s.spool.expired_unconfirmed,
      " unconfirmed, replayed ", s.spool.replayed, " (last takeover ", s.last_replay, " in ",
      s.last_replay_ms, " ms)\n");
}

HaStats HaNode::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return published_;
}

}  // namespace nf
