// Tests of nf::v9export: header fields, template and data bytes, count/sequence, MTU packing,
// template refresh by datagrams and by time, flush interval, padding, the uptime clock
// (exact reconstruction and 32-bit wrap), sampling options, and layout validation.
#include "exporter/encode/v9_encoder.h"

#include <vector>

#include "wire/v9_fields.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/exporter/v9_test_decoder.h"

namespace nf {
namespace {

using ::nf::testing::DecodedV9Datagram;
using ::nf::testing::V9TestDecoder;

constexpr TimeUs kSec = 1'000'000;
constexpr TimeUs kT0 = 1'700'000'000 * kSec + 250'000;  // a realistic epoch time

TemplateSpec DefaultSpec() {
  absl::StatusOr<TemplateSpec> spec = LoadTemplate("default");
  EXPECT_TRUE(spec.ok()) << spec.status();
  return *spec;
}

FlowRecord V4Record(uint32_t src, uint64_t packets, uint64_t bytes, TimeUs first, TimeUs last) {
  FlowRecord r;
  r.key.src = IpAddress::V4(src);
  r.key.dst = IpAddress::V4(0xc0000201);
  r.key.src_port = 1234;
  r.key.dst_port = 80;
  r.key.protocol = 6;
  r.key.tos = 0x10;
  r.key.vlan = 42;
  r.key.input_if = 3;
  r.packets = packets;
  r.bytes = bytes;
  r.first_us = first;
  r.last_us = last;
  r.tcp_flags = 0x1b;
  r.end_reason = EndReason::kEndOfFlow;
  return r;
}

FlowRecord V6Record(uint8_t last_byte, uint64_t packets, uint64_t bytes, TimeUs t) {
  FlowRecord r;
  uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8};
  a[15] = last_byte;
  r.key.src = IpAddress::V6(a);
  a[15] = 0xfe;
  r.key.dst = IpAddress::V6(a);
  r.key.protocol = 58;
  r.key.dst_port = 128 * 256;
  r.packets = packets;
  r.bytes = bytes;
  r.first_us = t;
  r.last_us = t;
  return r;
}

struct Harness {
  std::vector<std::vector<uint8_t>> datagrams;
  std::unique_ptr<V9Encoder> encoder;

  explicit Harness(V9EncoderOptions o, const TemplateSpec& spec = DefaultSpec()) {
    auto e = V9Encoder::Create(o, spec, [this](std::span<const uint8_t> d) {
      datagrams.emplace_back(d.begin(), d.end());
    });
    EXPECT_TRUE(e.ok()) << e.status();
    encoder = std::move(*e);
  }
  std::vector<DecodedV9Datagram> DecodeAll() {
    V9TestDecoder dec;
    std::vector<DecodedV9Datagram> out;
    for (const auto& d : datagrams) out.push_back(dec.Decode(d));
    return out;
  }
};

TEST(V9EncoderTest, FirstDatagramCarriesTemplatesThenData) {
  V9EncoderOptions o;
  o.source_id = 77;
  o.boot_us = kT0;
  Harness h(o);
  h.encoder->Add(V4Record(0x0a000001, 5, 500, kT0 + 1500, kT0 + 2750), kT0 + 3 * kSec);
  h.encoder->Flush(kT0 + 3 * kSec);
  ASSERT_EQ(h.datagrams.size(), 1u);
  const std::vector<uint8_t>& b = h.datagrams[0];
  // Header bytes: version 9, count 3 (2 templates + 1 record), sequence 0, source ID 77.
  EXPECT_EQ(b[0], 0);
  EXPECT_EQ(b[1], 9);
  EXPECT_EQ(b[2], 0);
  EXPECT_EQ(b[3], 3);
  EXPECT_EQ((std::vector<uint8_t>(b.begin() + 12, b.begin() + 20)),
            (std::vector<uint8_t>{0, 0, 0, 0, 0, 0, 0, 77}));
  // First FlowSet: templates (ID 0).
  EXPECT_EQ(b[20], 0);
  EXPECT_EQ(b[21], 0);
  DecodedV9Datagram d = V9TestDecoder().Decode(b);
  ASSERT_EQ(d.error, "");
  EXPECT_EQ(d.header.count, 3);
  EXPECT_EQ(d.header.sequence, 0u);
  EXPECT_EQ(d.header.source_id, 77u);
  ASSERT_EQ(d.templates.size(), 2u);
  EXPECT_EQ(d.templates[0].template_id, 256);
  EXPECT_EQ(d.templates[1].template_id, 257);
  ASSERT_EQ(d.records.size(), 1u);
  const auto& v = d.records[0].values;
  EXPECT_EQ(d.records[0].template_id, 256);
  EXPECT_EQ(v.at(field::kIpv4SrcAddr), 0x0a000001u);
  EXPECT_EQ(v.at(field::kIpv4DstAddr), 0xc0000201u);
  EXPECT_EQ(v.at(field::kL4SrcPort), 1234u);
  EXPECT_EQ(v.at(field::kL4DstPort), 80u);
  EXPECT_EQ(v.at(field::kProtocol), 6u);
  EXPECT_EQ(v.at(field::kSrcTos), 0x10u);
  EXPECT_EQ(v.at(field::kTcpFlags), 0x1bu);
  EXPECT_EQ(v.at(field::kIcmpType), 0u);
  EXPECT_EQ(v.at(field::kSrcVlan), 42u);
  EXPECT_EQ(v.at(field::kInputSnmp), 3u);
  EXPECT_EQ(v.at(field::kInPkts), 5u);
  EXPECT_EQ(v.at(field::kInBytes), 500u);
  EXPECT_EQ(d.records[0].raw.at(field::kInBytes).size(), 8u);
  EXPECT_EQ(v.at(field::kFirstSwitched), 1u);  // 1.5 ms after boot, floor to ms
  EXPECT_EQ(v.at(field::kLastSwitched), 2u);
  EXPECT_EQ(v.at(field::kFlowEndReason), 3u);
  EXPECT_EQ(v.at(field::kIpProtocolVersion), 4u);
}

TEST(V9EncoderTest, ClockReconstructsAbsoluteTimeToTheMillisecond) {
  V9EncoderOptions o;
  o.boot_us = kT0 - 123'456'789;  // arbitrary sub-second origin
  Harness h(o);
  const TimeUs first = kT0 + 987'654;
  const TimeUs last = kT0 + 5 * kSec + 1'999;
  const TimeUs now = kT0 + 5 * kSec + 400'000;  // not on a whole second
  h.encoder->Add(V4Record(1, 1, 40, first, last), now);
  h.encoder->Flush(now);
  DecodedV9Datagram d = V9TestDecoder().Decode(h.datagrams.at(0));
  ASSERT_EQ(d.error, "");
  // unix_secs is rounded up, so the header is never earlier than a record.
  EXPECT_EQ(d.header.unix_secs, static_cast<uint32_t>((now + kSec - 1) / kSec));
  const auto& v = d.records.at(0).values;
  // What nfdump/tshark compute: unix_secs*1000 - sysUptime + FIRST_SWITCHED.
  auto absolute_ms = [&](uint64_t switched) {
    return int64_t{d.header.unix_secs} * 1000 -
           static_cast<int64_t>(
               static_cast<uint32_t>(d.header.sys_uptime_ms - static_cast<uint32_t>(switched)));
  };
  EXPECT_EQ(absolute_ms(v.at(field::kFirstSwitched)), first / 1000);
  EXPECT_EQ(absolute_ms(v.at(field::kLastSwitched)), last / 1000);
  EXPECT_LE(v.at(field::kLastSwitched), d.header.sys_uptime_ms);
}

TEST(V9EncoderTest, UptimeWrapsModulo32Bits) {
  V9EncoderOptions o;
  // Boot 49.7 days ago minus 2 s: the uptime counter wraps between first and last.
  const TimeUs wrap = (TimeUs{1} << 32) * 1000;  // 2^32 ms in us
  o.boot_us = kT0 - wrap + 2 * kSec;
  Harness h(o);
  const TimeUs first = kT0 + 1 * kSec;  // uptime 2^32 - 1000 ms
  const TimeUs last = kT0 + 3 * kSec;   // uptime wraps to 1000 ms
  h.encoder->Add(V4Record(1, 2, 80, first, last), kT0 + 4 * kSec);
  h.encoder->Flush(kT0 + 4 * kSec);
  DecodedV9Datagram d = V9TestDecoder().Decode(h.datagrams.at(0));
  ASSERT_EQ(d.error, "");
  const auto& v = d.records.at(0).values;
  EXPECT_EQ(v.at(field::kFirstSwitched), 0xffffffffu - 999u);
  EXPECT_EQ(v.at(field::kLastSwitched), 1000u);
  // Modular differences against the header still give exact times and duration.
  const uint32_t up = d.header.sys_uptime_ms;
  EXPECT_EQ(static_cast<uint32_t>(up - static_cast<uint32_t>(v.at(field::kFirstSwitched))),
            static_cast<uint32_t>((int64_t{d.header.unix_secs} * 1000) - first / 1000));
  EXPECT_EQ(static_cast<uint32_t>(v.at(field::kLastSwitched) - v.at(field::kFirstSwitched)), 2000u);
}

TEST(V9EncoderTest, CountAndSequenceAcrossDatagrams) {
  V9EncoderOptions o;
  o.boot_us = kT0;
  o.template_refresh_datagrams = 0;
  o.template_refresh_us = 0;
  Harness h(o);
  for (int i = 0; i < 5; ++i) {
    h.encoder->Add(V4Record(i, 1, 40, kT0, kT0), kT0 + i * kSec);
    h.encoder->Flush(kT0 + i * kSec);
  }
  auto ds = h.DecodeAll();
  ASSERT_EQ(ds.size(), 5u);
  for (size_t i = 0; i < ds.size(); ++i) {
    EXPECT_EQ(ds[i].error, "");
    EXPECT_EQ(ds[i].header.sequence, i);
    EXPECT_EQ(ds[i].header.count, i == 0 ? 3 : 1);  // templates only in the first
  }
  EXPECT_EQ(h.encoder->stats().datagrams, 5u);
  EXPECT_EQ(h.encoder->stats().records, 5u);
}

TEST(V9EncoderTest, MtuPackingMixedFamilies) {
  for (size_t mtu : {576u, 1500u, 9000u}) {
    SCOPED_TRACE(mtu);
    V9EncoderOptions o;
    o.mtu = mtu;
    o.boot_us = kT0;
    Harness h(o);
    uint64_t bytes_in = 0;
    for (int i = 0; i < 1000; ++i) {
      FlowRecord r = i % 3 == 0 ? V6Record(static_cast<uint8_t>(i), 2, 100 + i, kT0)
                                : V4Record(i, 1, 40 + i, kT0, kT0);
      bytes_in += r.bytes;
      h.encoder->Add(r, kT0);
    }
    h.encoder->Flush(kT0);
    auto ds = h.DecodeAll();
    uint64_t records = 0;
    uint64_t bytes_out = 0;
    for (size_t i = 0; i < ds.size(); ++i) {
      EXPECT_EQ(ds[i].error, "");
      EXPECT_LE(ds[i].size + 28, mtu);
      for (const auto& rec : ds[i].records) {
        ++records;
        bytes_out += rec.values.at(field::kInBytes);
      }
      // Every full datagram had no room for the next record (the largest is IPv6: 89 bytes
      // plus at most a new FlowSet header and padding).
      if (i + 1 < ds.size()) {
        EXPECT_GT(ds[i].size + 28 + 89 + 4 + 3, mtu);
      }
    }
    EXPECT_EQ(records, 1000u);
    EXPECT_EQ(bytes_out, bytes_in);
  }
}

TEST(V9EncoderTest, Ipv6OverheadShrinksPayload) {
  V9EncoderOptions o;
  o.ip_udp_overhead = 48;
  Harness h(o);
  EXPECT_EQ(h.encoder->max_payload(), 1452u);
}

TEST(V9EncoderTest, TemplateRefreshEveryNDatagrams) {
  V9EncoderOptions o;
  o.boot_us = kT0;
  o.template_refresh_datagrams = 3;
  o.template_refresh_us = 0;
  Harness h(o);
  for (int i = 0; i < 10; ++i) {
    h.encoder->Add(V4Record(i, 1, 40, kT0, kT0), kT0);
    h.encoder->Flush(kT0);
  }
  auto ds = h.DecodeAll();
  ASSERT_EQ(ds.size(), 10u);
  for (size_t i = 0; i < ds.size(); ++i) {
    EXPECT_EQ(ds[i].error, "");
    EXPECT_EQ(!ds[i].templates.empty(), i % 3 == 0) << i;
  }
}

TEST(V9EncoderTest, TemplateRefreshEveryTSeconds) {
  V9EncoderOptions o;
  o.boot_us = kT0;
  o.template_refresh_datagrams = 0;
  o.template_refresh_us = 10 * kSec;
  Harness h(o);
  // One datagram every 4 s: templates at 0 s, 12 s (>= 10 s after), 24 s, 36 s.
  for (int i = 0; i < 10; ++i) {
    const TimeUs t = kT0 + i * 4 * kSec;
    h.encoder->Add(V4Record(i, 1, 40, t, t), t);
    h.encoder->Flush(t);
  }
  auto ds = h.DecodeAll();
  std::vector<size_t> with;
  for (size_t i = 0; i < ds.size(); ++i) {
    EXPECT_EQ(ds[i].error, "");
    if (!ds[i].templates.empty()) with.push_back(i);
  }
  EXPECT_THAT(with, ::testing::ElementsAre(0u, 3u, 6u, 9u));
}

TEST(V9EncoderTest, FlushIntervalSendsQuietRecords) {
  V9EncoderOptions o;
  o.boot_us = kT0;
  o.flush_interval_us = kSec;
  Harness h(o);
  h.encoder->Add(V4Record(1, 1, 40, kT0, kT0), kT0);
  h.encoder->Tick(kT0 + kSec - 1);
  EXPECT_TRUE(h.datagrams.empty());
  h.encoder->Tick(kT0 + kSec);
  EXPECT_EQ(h.datagrams.size(), 1u);
  h.encoder->Tick(kT0 + 5 * kSec);  // nothing pending: nothing sent
  EXPECT_EQ(h.datagrams.size(), 1u);
}

TEST(V9EncoderTest, PaddingKeepsFlowSetsAligned) {
  // A layout with a 5-byte record forces padding after 1, 2 and 3 records.
  absl::StatusOr<TemplateSpec> spec = ParseTemplateText(
      "[ipv4 300]\nIPV4_SRC_ADDR PROTOCOL\n[ipv6 301]\nIPV6_SRC_ADDR PROTOCOL\n", "test");
  ASSERT_TRUE(spec.ok()) << spec.status();
  for (int n = 1; n <= 4; ++n) {
    V9EncoderOptions o;
    o.boot_us = kT0;
    Harness h(o, *spec);
    for (int i = 0; i < n; ++i) h.encoder->Add(V4Record(i, 1, 40, kT0, kT0), kT0);
    h.encoder->Flush(kT0);
    DecodedV9Datagram d = V9TestDecoder().Decode(h.datagrams.at(0));
    EXPECT_EQ(d.error, "") << n;
    EXPECT_EQ(d.records.size(), static_cast<size_t>(n));
    EXPECT_EQ(d.size % 4, 0u);
    for (uint16_t len : d.flowset_lengths) EXPECT_EQ(len % 4, 0);
  }
}

TEST(V9EncoderTest, SamplingOptionsTemplate) {
  V9EncoderOptions o;
  o.boot_us = kT0;
  o.sampling_interval = 100;
  o.sampling_algorithm = 2;
  o.source_id = 5;
  Harness h(o);
  h.encoder->Add(V4Record(1, 1, 40, kT0, kT0), kT0);
  h.encoder->Flush(kT0);
  DecodedV9Datagram d = V9TestDecoder().Decode(h.datagrams.at(0));
  ASSERT_EQ(d.error, "");
  EXPECT_EQ(d.header.count, 5);  // 2 templates + options template + options data + 1 record
  ASSERT_EQ(d.templates.size(), 3u);
  EXPECT_TRUE(d.templates[2].is_options);
  EXPECT_EQ(d.templates[2].template_id, h.encoder->options_template_id());
  ASSERT_EQ(d.records.size(), 2u);
  EXPECT_EQ(d.records[0].template_id, h.encoder->options_template_id());
  EXPECT_EQ(d.records[0].values.at(field::kSamplingInterval), 100u);
  EXPECT_EQ(d.records[0].values.at(field::kSamplingAlgorithm), 2u);
  EXPECT_EQ(d.records[0].values.at(1), 5u);  // system scope (type 1) = source ID
}

TEST(V9EncoderTest, IcmpTypeInIcmpTypeField) {
  V9EncoderOptions o;
  o.boot_us = kT0;
  Harness h(o);
  h.encoder->Add(V6Record(1, 1, 64, kT0), kT0);
  h.encoder->Flush(kT0);
  DecodedV9Datagram d = V9TestDecoder().Decode(h.datagrams.at(0));
  ASSERT_EQ(d.error, "");
  ASSERT_EQ(d.records.size(), 1u);
  EXPECT_EQ(d.records[0].template_id, 257);
  EXPECT_EQ(d.records[0].values.at(field::kIcmpType), 128u * 256);
  EXPECT_EQ(d.records[0].values.at(field::kL4DstPort), 128u * 256);
  EXPECT_EQ(d.records[0].values.at(field::kIpProtocolVersion), 6u);
  EXPECT_EQ(d.records[0].raw.at(field::kIpv6SrcAddr).back(), 1);
}

TEST(V9EncoderTest, CountersSaturateInShortFields) {
  absl::StatusOr<TemplateSpec> spec = ParseTemplateText(
      "[ipv4 256]\nIN_BYTES:4 IN_PKTS:4\n[ipv6 257]\nIN_BYTES:4 IN_PKTS:4\n", "test");
  ASSERT_TRUE(spec.ok()) << spec.status();
  V9EncoderOptions o;
  Harness h(o, *spec);
  h.encoder->Add(V4Record(1, 7, uint64_t{5} << 32, kT0, kT0), kT0);
  h.encoder->Flush(kT0);
  DecodedV9Datagram d = V9TestDecoder().Decode(h.datagrams.at(0));
  EXPECT_EQ(d.records.at(0).values.at(field::kInBytes), 0xffffffffu);
  EXPECT_EQ(d.records.at(0).values.at(field::kInPkts), 7u);
}

TEST(V9EncoderTest, RejectsTinyMtuAndUnfillableFields) {
  V9EncoderOptions o;
  o.mtu = 100;
  auto tiny = V9Encoder::Create(o, DefaultSpec(), [](std::span<const uint8_t>) {});
  ASSERT_FALSE(tiny.ok());
  EXPECT_THAT(std::string(tiny.status().message()), ::testing::HasSubstr("--mtu 100"));
  absl::StatusOr<TemplateSpec> spec = ParseTemplateText(
      "[ipv4 256]\nIPV4_SRC_ADDR IN_SRC_MAC\n[ipv6 257]\nIPV6_SRC_ADDR\n", "test");
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto bad = V9Encoder::Create({}, *spec, [](std::span<const uint8_t>) {});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), ::testing::HasSubstr("IN_SRC_MAC"));
}

}  // namespace
}  // namespace nf
