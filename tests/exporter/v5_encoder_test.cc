// Tests of nf::v5export: header and record bytes, 30 records per datagram (fewer under a small
// MTU), flow_sequence, IPv6 counted as not exportable, 64-bit counters split exactly, sampling
// mode bits, the uptime clock (exact ms through the collector's decoder), flush interval, and
// a tshark decode with no malformed/expert lines and packet/byte sums equal to the records'.
#include "exporter/encode/v5_encoder.h"

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "collector/decode/decoder.h"
#include "common/byte_reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace nf {
namespace {

using Bytes = std::vector<uint8_t>;

constexpr TimeUs kSec = 1'000'000;
constexpr TimeUs kT0 = 1'700'000'000 * kSec + 250'000;

uint16_t Be16(const Bytes& b, size_t at) { return ByteReader::LoadBe16(b.data() + at); }
uint32_t Be32(const Bytes& b, size_t at) { return ByteReader::LoadBe32(b.data() + at); }

FlowRecord V4Record(uint32_t src, uint64_t packets, uint64_t bytes, TimeUs first, TimeUs last,
                    uint8_t proto = 6) {
  FlowRecord r;
  r.key.src = IpAddress::V4(src);
  r.key.dst = IpAddress::V4(0xc0000201);
  r.key.protocol = proto;
  if (proto == 1) {
    r.key.dst_port = 3 * 256 + 1;  // unreachable, host
  } else {
    r.key.src_port = static_cast<uint16_t>(1024 + src % 1000);
    r.key.dst_port = 80;
  }
  r.key.tos = 0x20;
  r.key.input_if = 3;
  r.output_if = 70000;  // saturates to 65535 in v5's 16 bits
  r.packets = packets;
  r.bytes = bytes;
  r.first_us = first;
  r.last_us = last;
  r.tcp_flags = proto == 6 ? 0x1b : 0;
  return r;
}

FlowRecord V6Record() {
  FlowRecord r;
  uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8};
  r.key.src = IpAddress::V6(a);
  r.key.dst = IpAddress::V6(a);
  r.key.protocol = 17;
  r.packets = 1;
  r.bytes = 100;
  return r;
}

struct Harness {
  std::vector<Bytes> datagrams;
  std::unique_ptr<V5Encoder> encoder;
  explicit Harness(V5EncoderOptions o) {
    auto e = V5Encoder::Create(
        o, [this](std::span<const uint8_t> d) { datagrams.emplace_back(d.begin(), d.end()); });
    EXPECT_TRUE(e.ok()) << e.status();
    if (e.ok()) encoder = std::move(*e);
  }
};

struct Sink : RecordSink {
  std::vector<DecodedRecord> records;
  void OnRecord(const DecodedRecord& r) override { records.push_back(r); }
};

TEST(V5EncoderTest, HeaderAndRecordBytes) {
  V5EncoderOptions o;
  o.engine_type = 1;
  o.engine_id = 7;
  o.boot_us = kT0;
  Harness h(o);
  const TimeUs now = kT0 + 3 * kSec + 400'000;
  ASSERT_TRUE(h.encoder->Add(V4Record(0x0a000001, 5, 500, kT0 + 1500, kT0 + 2750), now));
  h.encoder->Flush(now);
  ASSERT_EQ(h.datagrams.size(), 1u);
  const Bytes& b = h.datagrams[0];
  ASSERT_EQ(b.size(), 24u + 48u);
  EXPECT_EQ(Be16(b, 0), 5);
  EXPECT_EQ(Be16(b, 2), 1);
  const uint32_t secs = static_cast<uint32_t>((now + kSec - 1) / kSec);
  EXPECT_EQ(Be32(b, 8), secs);
  EXPECT_EQ(Be32(b, 12), 0u);  // nsecs
  // sysUptime = unix_secs*1000 - boot_ms.
  EXPECT_EQ(Be32(b, 4), static_cast<uint32_t>(int64_t{secs} * 1000 - kT0 / 1000));
  EXPECT_EQ(Be32(b, 16), 0u);  // flow_sequence
  EXPECT_EQ(b[20], 1);
  EXPECT_EQ(b[21], 7);
  EXPECT_EQ(Be16(b, 22), 0);  // no sampling
  const size_t r = 24;
  EXPECT_EQ(Be32(b, r), 0x0a000001u);
  EXPECT_EQ(Be32(b, r + 4), 0xc0000201u);
  EXPECT_EQ(Be32(b, r + 8), 0u);
  EXPECT_EQ(Be16(b, r + 12), 3);
  EXPECT_EQ(Be16(b, r + 14), 65535);
  EXPECT_EQ(Be32(b, r + 16), 5u);
  EXPECT_EQ(Be32(b, r + 20), 500u);
  EXPECT_EQ(Be32(b, r + 24), 1u);  // 1.5 ms after boot, floor
  EXPECT_EQ(Be32(b, r + 28), 2u);
  EXPECT_EQ(Be16(b, r + 32), 1024 + 0x0a000001 % 1000);
  EXPECT_EQ(Be16(b, r + 34), 80);
  EXPECT_EQ(b[r + 36], 0);
  EXPECT_EQ(b[r + 37], 0x1b);
  EXPECT_EQ(b[r + 38], 6);
  EXPECT_EQ(b[r + 39], 0x20);
  for (size_t i = 40; i < 48; ++i) EXPECT_EQ(b[r + i], 0) << i;
}

TEST(V5EncoderTest, ThirtyRecordsPerDatagramAndFlowSequence) {
  V5EncoderOptions o;
  o.boot_us = kT0;
  Harness h(o);
  for (int i = 0; i < 65; ++i) h.encoder->Add(V4Record(i, 1, 40, kT0, kT0), kT0);
  h.encoder->Flush(kT0);
  ASSERT_EQ(h.datagrams.size(), 3u);
  const uint16_t counts[] = {30, 30, 5};
  const uint32_t seqs[] = {0, 30, 60};
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(Be16(h.datagrams[i], 2), counts[i]);
    EXPECT_EQ(h.datagrams[i].size(), 24u + 48u * counts[i]);
    EXPECT_EQ(Be32(h.datagrams[i], 16), seqs[i]);
  }
  EXPECT_EQ(h.encoder->next_sequence(), 65u);
  EXPECT_EQ(h.encoder->stats().records, 65u);
  EXPECT_EQ(h.encoder->stats().datagrams, 3u);
}

TEST(V5EncoderTest, SmallMtuLimitsRecords) {
  V5EncoderOptions o;
  o.mtu = 576;  // (576 - 28 - 24) / 48 = 10
  Harness h(o);
  EXPECT_EQ(h.encoder->max_records(), 10u);
  for (int i = 0; i < 25; ++i) h.encoder->Add(V4Record(i, 1, 40, kT0, kT0), kT0);
  h.encoder->Flush(kT0);
  ASSERT_EQ(h.datagrams.size(), 3u);
  for (const Bytes& d : h.datagrams) EXPECT_LE(d.size() + 28, 576u);
  o.mtu = 28 + 24 + 47;
  EXPECT_FALSE(V5Encoder::Create(o, [](std::span<const uint8_t>) {}).ok());
}

TEST(V5EncoderTest, Ipv6IsCountedNotExportable) {
  Harness h({});
  EXPECT_FALSE(h.encoder->Add(V6Record(), kT0));
  EXPECT_TRUE(h.encoder->Add(V4Record(1, 1, 40, kT0, kT0), kT0));
  EXPECT_FALSE(h.encoder->Add(V6Record(), kT0));
  h.encoder->Flush(kT0);
  EXPECT_EQ(h.encoder->stats().not_exportable, 2u);
  EXPECT_EQ(h.encoder->stats().flows, 1u);
  ASSERT_EQ(h.datagrams.size(), 1u);
  EXPECT_EQ(Be16(h.datagrams[0], 2), 1);
}

TEST(V5EncoderTest, CountersOver32BitsAreSplitExactly) {
  Harness h({});
  const uint64_t bytes = (uint64_t{5} << 32) + 12345;
  h.encoder->Add(V4Record(1, 7'000'000, bytes, kT0, kT0), kT0);
  h.encoder->Flush(kT0);
  ASSERT_EQ(h.datagrams.size(), 1u);
  const Bytes& b = h.datagrams[0];
  const uint16_t n = Be16(b, 2);
  EXPECT_EQ(n, 6);  // ceil(bytes / (2^32 - 1))
  uint64_t p = 0, o = 0;
  for (uint16_t i = 0; i < n; ++i) {
    p += Be32(b, 24 + 48 * i + 16);
    o += Be32(b, 24 + 48 * i + 20);
  }
  EXPECT_EQ(p, 7'000'000u);
  EXPECT_EQ(o, bytes);
  EXPECT_EQ(h.encoder->stats().split_records, 5u);
  EXPECT_EQ(h.encoder->stats().flows, 1u);
}

TEST(V5EncoderTest, SamplingModeBits) {
  V5EncoderOptions o;
  o.sampling_interval = 100;
  o.sampling_algorithm = 2;
  Harness h(o);
  h.encoder->Add(V4Record(1, 1, 40, kT0, kT0), kT0);
  h.encoder->Flush(kT0);
  EXPECT_EQ(Be16(h.datagrams.at(0), 22), (2 << 14) | 100);
  o.sampling_interval = 0x4000;
  auto bad = V5Encoder::Create(o, [](std::span<const uint8_t>) {});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), ::testing::HasSubstr("14-bit"));
}

TEST(V5EncoderTest, FlushInterval) {
  V5EncoderOptions o;
  o.flush_interval_us = kSec;
  Harness h(o);
  h.encoder->Add(V4Record(1, 1, 40, kT0, kT0), kT0);
  h.encoder->Tick(kT0 + kSec - 1);
  EXPECT_TRUE(h.datagrams.empty());
  h.encoder->Tick(kT0 + kSec);
  EXPECT_EQ(h.datagrams.size(), 1u);
}

std::vector<FlowRecord> Records(int n) {
  std::vector<FlowRecord> out;
  for (int i = 0; i < n; ++i) {
    const TimeUs first = kT0 + i * 1'357 + 999;
    const TimeUs last = first + (i % 7) * 250'321;
    const uint64_t packets = 1 + i % 13;
    out.push_back(V4Record(0x0a000000 + i, packets, 40 * packets + i, first, last,
                           i % 5 == 0 ? 1 : (i % 2 == 0 ? 6 : 17)));
  }
  return out;
}

TEST(V5EncoderTest, CollectorRoundTripToTheMillisecond) {
  V5EncoderOptions o;
  o.boot_us = kT0 - 123'456'789;  // arbitrary sub-second origin
  o.engine_id = 4;
  Harness h(o);
  const std::vector<FlowRecord> in = Records(100);
  TimeUs now = kT0 + 10 * kSec + 123'456;
  for (const FlowRecord& r : in) {
    h.encoder->Add(r, now);
    now += 7'777;
  }
  h.encoder->Flush(now);
  Decoder dec({});
  Sink sink;
  const ExporterId ex{IpAddress::V4(0x7f000001), 2055};
  for (const Bytes& d : h.datagrams) dec.DecodeDatagram(d, ex, now, sink);
  EXPECT_EQ(dec.Totals().ErrorTotal(), 0u);
  EXPECT_EQ(dec.Totals().sequence_lost, 0u);
  ASSERT_EQ(sink.records.size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const FlowRecord& r = in[i];
    const DecodedRecord& d = sink.records[i];
    EXPECT_EQ(d.version, 5);
    EXPECT_EQ(d.src_addr, r.key.src);
    EXPECT_EQ(d.dst_addr, r.key.dst);
    EXPECT_EQ(d.src_port, r.key.src_port);
    EXPECT_EQ(d.dst_port, r.key.dst_port);
    EXPECT_EQ(d.protocol, r.key.protocol);
    EXPECT_EQ(d.tos, r.key.tos);
    EXPECT_EQ(d.packets, r.packets);
    EXPECT_EQ(d.bytes, r.bytes);
    EXPECT_EQ(d.first_ms, r.first_us / 1000) << i;
    EXPECT_EQ(d.last_ms, r.last_us / 1000) << i;
  }
}

// Writes datagrams as Ethernet/IPv4/UDP frames (to `port`) into a classic pcap file.
void WriteUdpPcap(const std::string& path, const std::vector<Bytes>& payloads, uint16_t port) {
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  auto le32 = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) std::fputc(static_cast<int>((v >> (8 * i)) & 0xff), f);
  };
  auto le16 = [&](uint16_t v) {
    std::fputc(v & 0xff, f);
    std::fputc(v >> 8, f);
  };
  le32(0xa1b2c3d4);
  le16(2);
  le16(4);
  le32(0);
  le32(0);
  le32(65535);
  le32(1);  // Ethernet
  uint32_t t = 1'700'000'000;
  for (const Bytes& p : payloads) {
    Bytes fr = {0, 1, 2, 3, 4, 5, 0, 6, 7, 8, 9, 10, 0x08, 0x00};
    const size_t ip_len = 20 + 8 + p.size();
    Bytes ip = {0x45,
                0,
                static_cast<uint8_t>(ip_len >> 8),
                static_cast<uint8_t>(ip_len),
                0,
                1,
                0,
                0,
                64,
                17,
                0,
                0,
                127,
                0,
                0,
                1,
                127,
                0,
                0,
                1};
    uint32_t sum = 0;
    for (size_t i = 0; i < 20; i += 2) sum += (ip[i] << 8) | ip[i + 1];
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    ip[10] = static_cast<uint8_t>(~sum >> 8);
    ip[11] = static_cast<uint8_t>(~sum);
    fr.insert(fr.end(), ip.begin(), ip.end());
    const size_t udp_len = 8 + p.size();
    Bytes udp = {0x9c,
                 0x40,
                 static_cast<uint8_t>(port >> 8),
                 static_cast<uint8_t>(port),
                 static_cast<uint8_t>(udp_len >> 8),
                 static_cast<uint8_t>(udp_len),
                 0,
                 0};
    fr.insert(fr.end(), udp.begin(), udp.end());
    fr.insert(fr.end(), p.begin(), p.end());
    le32(t++);
    le32(0);
    le32(static_cast<uint32_t>(fr.size()));
    le32(static_cast<uint32_t>(fr.size()));
    std::fwrite(fr.data(), 1, fr.size(), f);
  }
  std::fclose(f);
}

TEST(V5EncoderTest, TsharkDecodesCleanlyAndSumsMatch) {
  if (!nf::testing::HaveTool("tshark")) GTEST_SKIP() << "tshark is not installed";
  V5EncoderOptions o;
  o.boot_us = kT0;
  o.sampling_interval = 10;
  Harness h(o);
  const std::vector<FlowRecord> in = Records(100);
  for (const FlowRecord& r : in) h.encoder->Add(r, kT0 + 20 * kSec);
  h.encoder->Flush(kT0 + 20 * kSec);
  nf::testing::TempDir dir;
  const std::string pcap = dir.File("v5.pcap");
  WriteUdpPcap(pcap, h.datagrams, 2055);
  const std::string decode_as = " -d udp.port==2055,cflow";
  std::string verbose;
  ASSERT_EQ(nf::testing::RunCommand("tshark -n -r " + pcap + decode_as + " -V 2>&1", &verbose), 0);
  EXPECT_THAT(verbose, ::testing::HasSubstr("Version: 5"));
  for (absl::string_view line : absl::StrSplit(verbose, '\n')) {
    EXPECT_EQ(line.find("Malformed"), absl::string_view::npos) << line;
    EXPECT_EQ(line.find("Expert Info (Error"), absl::string_view::npos) << line;
    EXPECT_EQ(line.find("Expert Info (Warning"), absl::string_view::npos) << line;
  }
  std::string fields;
  ASSERT_EQ(nf::testing::RunCommand("tshark -n -r " + pcap + decode_as +
                                        " -T fields -E occurrence=a -E aggregator=,"
                                        " -e cflow.packets -e cflow.octets 2>/dev/null",
                                    &fields),
            0);
  uint64_t packets = 0, bytes = 0, want_packets = 0, want_bytes = 0;
  size_t values = 0;
  for (absl::string_view line : absl::StrSplit(fields, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> cols = absl::StrSplit(line, '\t');
    ASSERT_EQ(cols.size(), 2u) << line;
    for (int c = 0; c < 2; ++c) {
      for (absl::string_view v : absl::StrSplit(cols[c], ',', absl::SkipEmpty())) {
        uint64_t n = 0;
        ASSERT_TRUE(absl::SimpleAtoi(v, &n)) << v;
        (c == 0 ? packets : bytes) += n;
        values += c == 0 ? 1 : 0;
      }
    }
  }
  for (const FlowRecord& r : in) {
    want_packets += r.packets;
    want_bytes += r.bytes;
  }
  EXPECT_EQ(values, in.size());
  EXPECT_EQ(packets, want_packets);
  EXPECT_EQ(bytes, want_bytes);
}

}  // namespace
}  // namespace nf
