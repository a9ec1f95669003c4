// The HA node's parts: the datagram digest, the standby's spool (confirmations in either order,
// eviction, expiry, replay order and bytes) and two nodes confirming to each other on loopback.
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <span>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include "absl/strings/str_cat.h"
#include "collector/ha/ha_node.h"
#include "collector/ha/ha_spool.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace nf {
namespace {

std::vector<uint8_t> Bytes(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed * 31 + i * 7);
  return v;
}

ExporterId Exporter(uint8_t last) {
  const uint8_t a[4] = {192, 0, 2, last};
  return ExporterId{IpAddress::V4(a), 2055};
}

using Replayed = std::vector<std::tuple<std::vector<uint8_t>, ExporterId, TimeUs>>;

Replayed ReplayAll(HaSpool& spool) {
  Replayed out;
  spool.Replay([&](std::span<const uint8_t> d, const ExporterId& e, TimeUs t) {
    out.emplace_back(std::vector<uint8_t>(d.begin(), d.end()), e, t);
  });
  return out;
}

TEST(DatagramDigestTest, StableAndSensitiveToEveryByteAndTheLength) {
  const std::vector<uint8_t> d = Bytes(1400, 3);
  const uint64_t h = DatagramDigest(d);
  EXPECT_EQ(h, DatagramDigest(d));
  // Two nodes (and two builds, on either byte order) must agree: the values are fixed, not
  // seeded per process. These were computed by an independent implementation of the same
  // construction (MurmurHash64A, seed 0x6e6674686173686b), so a change of algorithm shows here.
  EXPECT_EQ(DatagramDigest(std::vector<uint8_t>{}), 0xfab61f05e11ad15fULL);
  const std::vector<uint8_t> one_to_eleven = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  EXPECT_EQ(DatagramDigest(one_to_eleven), 0x5da5108334905fdfULL);
  const std::string text = "NetFlow v9 datagram";
  EXPECT_EQ(DatagramDigest(std::span<const uint8_t>(
                reinterpret_cast<const uint8_t*>(text.data()), text.size())),
            0x14ca2419ef89b1caULL);
  for (size_t i : {size_t{0}, size_t{7}, size_t{8}, size_t{1399}}) {
    std::vector<uint8_t> e = d;
    e[i] ^= 1;
    EXPECT_NE(DatagramDigest(e), h) << i;
  }
  std::vector<uint8_t> longer = d;
  longer.push_back(0);
  EXPECT_NE(DatagramDigest(longer), h);
  std::vector<uint8_t> shorter(d.begin(), d.end() - 1);
  EXPECT_NE(DatagramDigest(shorter), h);
}

TEST(HaSpoolTest, ConfirmedDatagramsAreNotReplayedInEitherOrder) {
  HaSpool spool(HaSpoolOptions{});
  std::vector<std::vector<uint8_t>> d;
  for (int i = 0; i < 6; ++i) d.push_back(Bytes(100 + i, static_cast<uint8_t>(i)));
  // 0 and 2: the confirmation comes after the datagram; 4: before it.
  spool.Confirm(DatagramDigest(d[4]), 10);
  for (int i = 0; i < 6; ++i) spool.Add(DatagramDigest(d[i]), d[i], Exporter(i), 100 + i);
  spool.Confirm(DatagramDigest(d[0]), 200);
  spool.Confirm(DatagramDigest(d[2]), 200);
  EXPECT_EQ(spool.unconfirmed(), 3u);
  EXPECT_EQ(spool.stats().spooled, 5u);
  EXPECT_EQ(spool.stats().confirmed, 2u);
  EXPECT_EQ(spool.stats().confirmed_before_arrival, 1u);
  const Replayed r = ReplayAll(spool);
  ASSERT_EQ(r.size(), 3u);
  int k = 0;
  for (int i : {1, 3, 5}) {
    EXPECT_EQ(std::get<0>(r[k]), d[i]);
    EXPECT_EQ(std::get<1>(r[k]), Exporter(i));
    EXPECT_EQ(std::get<2>(r[k]), 100 + i);
    ++k;
  }
  EXPECT_EQ(spool.datagrams(), 0u);
  EXPECT_EQ(spool.pending_confirmations(), 0u);
  EXPECT_TRUE(ReplayAll(spool).empty());
}

TEST(HaSpoolTest, AFullRingEvictsTheOldestAndKeepsEveryByteOfTheRest) {
  HaSpoolOptions o;
  o.max_bytes = 10'000;
  o.max_datagrams = 1000;
  HaSpool spool(o);
  std::vector<std::vector<uint8_t>> d;
  for (int i = 0; i < 200; ++i) {
    d.push_back(Bytes(200 + (i * 37) % 900, static_cast<uint8_t>(i)));
    spool.Add(DatagramDigest(d.back()), d.back(), Exporter(1), i);
    ASSERT_LE(spool.bytes(), o.max_bytes);
  }
  const size_t kept = spool.datagrams();
  EXPECT_GT(kept, 5u);
  EXPECT_EQ(spool.stats().evicted_unconfirmed + kept, 200u);
  const Replayed r = ReplayAll(spool);
  ASSERT_EQ(r.size(), kept);
  // The newest ones, in order, byte for byte (wrapping never overlapped two entries).
  for (size_t k = 0; k < kept; ++k) {
    const size_t i = 200 - kept + k;
    EXPECT_EQ(std::get<0>(r[k]), d[i]) << i;
    EXPECT_EQ(std::get<2>(r[k]), static_cast<TimeUs>(i));
  }
}

TEST(HaSpoolTest, TheEntryLimitEvictsToo) {
  HaSpoolOptions o;
  o.max_datagrams = 4;
  HaSpool spool(o);
  for (int i = 0; i < 10; ++i) {
    const std::vector<uint8_t> b = Bytes(50, static_cast<uint8_t>(i));
    spool.Add(DatagramDigest(b), b, Exporter(1), i);
  }
  EXPECT_EQ(spool.datagrams(), 4u);
  EXPECT_EQ(spool.stats().evicted_unconfirmed, 6u);
  const Replayed r = ReplayAll(spool);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(std::get<2>(r[0]), 6);
  EXPECT_EQ(std::get<0>(r[3]), Bytes(50, 9));
}

TEST(HaSpoolTest, OldDatagramsAndUnmatchedConfirmationsExpire) {
  HaSpoolOptions o;
  o.max_age_us = 1'000'000;
  HaSpool spool(o);
  const std::vector<uint8_t> a = Bytes(60, 1), b = Bytes(60, 2), c = Bytes(60, 3);
  spool.Add(DatagramDigest(a), a, Exporter(1), 1'000'000);
  spool.Add(DatagramDigest(b), b, Exporter(1), 2'500'000);
  spool.Confirm(DatagramDigest(c), 1'000'000);  // c never arrives
  spool.Expire(2'600'000);
  EXPECT_EQ(spool.stats().expired_unconfirmed, 1u);
  EXPECT_EQ(spool.stats().confirmations_unmatched, 1u);
  EXPECT_EQ(spool.pending_confirmations(), 0u);
  // c arriving now is kept: its confirmation was forgotten.
  spool.Add(DatagramDigest(c), c, Exporter(1), 2'700'000);
  const Replayed r = ReplayAll(spool);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(std::get<0>(r[0]), b);
  EXPECT_EQ(std::get<0>(r[1]), c);
}

TEST(HaSpoolTest, ADatagramLargerThanTheRingIsCountedNotKept) {
  HaSpoolOptions o;
  o.max_bytes = 1000;
  HaSpool spool(o);
  const std::vector<uint8_t> big = Bytes(1001, 1);
  spool.Add(DatagramDigest(big), big, Exporter(1), 1);
  EXPECT_EQ(spool.stats().too_large, 1u);
  EXPECT_EQ(spool.datagrams(), 0u);
}

TEST(HaStateTest, OnlyActiveOrMasterWrites) {
  EXPECT_TRUE(HaStateIsActive("active\n"));
  EXPECT_TRUE(HaStateIsActive("  MASTER"));
  EXPECT_TRUE(HaStateIsActive("master 192.0.2.100"));
  EXPECT_FALSE(HaStateIsActive("backup\n"));
  EXPECT_FALSE(HaStateIsActive("fault"));
  EXPECT_FALSE(HaStateIsActive(""));
  EXPECT_FALSE(HaStateIsActive("activex"));
}

TEST(HaOptionsTest, BadOptionsAreNamed) {
  EXPECT_TRUE(ValidateHaOptions({"127.0.0.1:2056", "2057", "/tmp/x", {}}).ok());
  EXPECT_TRUE(ValidateHaOptions({"[::1]:2056", "[::1]:2057", "/tmp/x", {}}).ok());
  auto message = [](const HaOptions& o) {
    return std::string(ValidateHaOptions(o).message());
  };
  EXPECT_NE(message({"peer.example:2056", "2057", "/tmp/x", {}}).find("not an IP address"),
            std::string::npos);
  EXPECT_NE(message({"127.0.0.1", "2057", "/tmp/x", {}}).find("--ha-peer"), std::string::npos);
  EXPECT_NE(message({"127.0.0.1:0", "2057", "/tmp/x", {}}).find("--ha-peer"), std::string::npos);
  EXPECT_NE(message({"127.0.0.1:2056", "x:y", "/tmp/x", {}}).find("--ha-listen"),
            std::string::npos);
  EXPECT_NE(message({"127.0.0.1:2056", "2057", "", {}}).find("--ha-state"), std::string::npos);
}

void WriteState(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  std::ofstream(tmp) << text << "\n";
  ASSERT_EQ(std::rename(tmp.c_str(), path.c_str()), 0);
}

// Runs `io` until `done` or two seconds pass.
template <typename Pred>
bool RunUntil(boost::asio::io_context& io, Pred done) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!done() && std::chrono::steady_clock::now() < end) {
    io.restart();
    io.run_for(std::chrono::milliseconds(10));
  }
  return done();
}

TEST(HaNodeTest, TheStandbyReplaysExactlyWhatTheActiveDidNotConfirm) {
  testing::TempDir dir;
  const uint16_t pa = testing::FreeUdpPort(), pb = testing::FreeUdpPort();
  boost::asio::io_context io;
  int flushes = 0;
  bool flush_ok = true;
  HaNode::Callbacks ca;
  ca.replay = [](std::span<const uint8_t>, const ExporterId&, TimeUs) {};
  ca.flush_outputs = [&] {
    ++flushes;
    return flush_ok;
  };
  Replayed replayed;
  HaNode::Callbacks cb;
  cb.replay = [&](std::span<const uint8_t> d, const ExporterId& e, TimeUs t) {
    replayed.emplace_back(std::vector<uint8_t>(d.begin(), d.end()), e, t);
  };
  cb.flush_outputs = [] { return true; };
  const std::string sa = dir.File("a.state"), sb = dir.File("b.state");
  WriteState(sa, "active");
  WriteState(sb, "backup");
  auto a = HaNode::Create(io, {absl::StrCat("127.0.0.1:", pb), absl::StrCat("127.0.0.1:", pa), sa, {}},
                          ca);
  auto b = HaNode::Create(io, {absl::StrCat("127.0.0.1:", pa), absl::StrCat("127.0.0.1:", pb), sb, {}},
                          cb);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  (*a)->Start();
  (*b)->Start();
  EXPECT_TRUE((*a)->active());
  EXPECT_FALSE((*b)->active());

  std::vector<std::vector<uint8_t>> d;
  for (int i = 0; i < 400; ++i) d.push_back(Bytes(300 + i % 50, static_cast<uint8_t>(i)));
  // Both receive every datagram; the active writes and commits the first 300 (two commits:
  // more digests than one confirmation message holds), the last 100 it receives but never
  // commits, as if it died with them.
  // Receive times are wall-clock times (the node ages its spool by the wall clock).
  const TimeUs t0 = static_cast<TimeUs>(
      std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
  for (int i = 0; i < 400; ++i) (*b)->Spool(d[i], Exporter(1), t0 + i);
  for (int i = 0; i < 300; ++i) {
    (*a)->Written(d[i]);
    if (i == 149 || i == 299) (*a)->Commit();
  }
  EXPECT_EQ(flushes, 2);
  ASSERT_TRUE(RunUntil(io, [&] { return (*b)->stats().spool_unconfirmed == 100; }))
      << (*b)->stats().spool_unconfirmed;
  // A flush that fails confirms nothing.
  flush_ok = false;
  (*a)->Written(d[300]);
  (*a)->Commit();
  EXPECT_EQ((*a)->stats().output_flush_errors, 0u);  // published on the next poll
  ASSERT_TRUE(RunUntil(io, [&] { return (*a)->stats().output_flush_errors == 1; }));
  EXPECT_EQ((*a)->stats().confirmations_sent, 300u);

  // The active dies; the hook makes b active: it replays the 100, in order.
  (*a)->Stop();
  WriteState(sb, "master");
  ASSERT_TRUE(RunUntil(io, [&] { return (*b)->active(); }));
  ASSERT_EQ(replayed.size(), 100u);
  for (int k = 0; k < 100; ++k) {
    EXPECT_EQ(std::get<0>(replayed[k]), d[300 + k]);
    EXPECT_EQ(std::get<2>(replayed[k]), t0 + 300 + k);
  }
  const HaStats s = (*b)->stats();
  EXPECT_EQ(s.became_active, 1u);
  EXPECT_EQ(s.last_replay, 100u);
  EXPECT_EQ(s.spool.confirmed, 300u);
  EXPECT_EQ(s.spool_datagrams, 0u);
  (*b)->Stop();
}

TEST(HaNodeTest, ConfirmationsFromAnyoneButThePeerAreRefused) {
  testing::TempDir dir;
  const uint16_t pb = testing::FreeUdpPort();
  boost::asio::io_context io;
  HaNode::Callbacks cb;
  cb.replay = [](std::span<const uint8_t>, const ExporterId&, TimeUs) {};
  const std::string sb = dir.File("b.state");  // absent: standing by
  // The peer is 127.0.0.2; a confirmation from 127.0.0.1 must not make b forget anything.
  auto b = HaNode::Create(io, {"127.0.0.2:9", absl::StrCat("127.0.0.1:", pb), sb, {}}, cb);
  ASSERT_TRUE(b.ok()) << b.status();
  (*b)->Start();
  const std::vector<uint8_t> d = Bytes(100, 1);
  const TimeUs now = static_cast<TimeUs>(
      std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
  (*b)->Spool(d, Exporter(1), now);
  std::vector<uint8_t> msg = {'N', 'F', 'H', 'A', 1, 1, 0, 1};
  const uint64_t h = DatagramDigest(d);
  for (int i = 7; i >= 0; --i) msg.push_back(static_cast<uint8_t>(h >> (8 * i)));
  boost::asio::ip::udp::socket s(io);
  boost::system::error_code ec;
  s.open(boost::asio::ip::udp::v4(), ec);
  s.bind({boost::asio::ip::make_address("127.0.0.1"), 0}, ec);
  s.send_to(boost::asio::buffer(msg), {boost::asio::ip::make_address("127.0.0.1"), pb}, 0, ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(RunUntil(io, [&] { return (*b)->stats().peer_messages_refused == 1; }));
  EXPECT_EQ((*b)->stats().spool_unconfirmed, 1u);
  (*b)->Stop();
}

}  // namespace
}  // namespace nf
