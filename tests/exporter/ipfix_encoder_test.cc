// Tests of nf::ipfixexport: message header bytes (version, length, export time, record-counting
// sequence, observation domain), template set 2 with the v9 -> IPFIX field mapping, options
// template set 3 for sampling, no padding, MTU packing, template refresh, and for every shipped
// template a round trip through the collector's decoder (nf::decode) and a tshark decode with no
// malformed/expert lines and packet/byte sums equal to the records'.
#include "exporter/encode/ipfix_encoder.h"

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "collector/decode/decoder.h"
#include "common/byte_reader.h"
#include "wire/v9_fields.h"
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

TemplateSpec Spec(const char* name) {
  absl::StatusOr<TemplateSpec> spec = LoadTemplate(name);
  EXPECT_TRUE(spec.ok()) << spec.status();
  return *spec;
}

FlowRecord V4Record(uint32_t src, uint64_t packets, uint64_t bytes, TimeUs first, TimeUs last,
                    uint8_t proto = 6) {
  FlowRecord r;
  r.key.src = IpAddress::V4(src);
  r.key.dst = IpAddress::V4(0xc0000201);
  r.key.protocol = proto;
  if (proto == 1) {
    r.key.dst_port = 8 * 256;  // echo request
  } else {
    r.key.src_port = static_cast<uint16_t>(1024 + src % 1000);
    r.key.dst_port = 443;
  }
  r.key.tos = 0x10;
  r.key.vlan = 42;
  r.key.input_if = 3;
  r.packets = packets;
  r.bytes = bytes;
  r.first_us = first;
  r.last_us = last;
  r.tcp_flags = proto == 6 ? 0x1b : 0;
  r.end_reason = EndReason::kEndOfFlow;
  return r;
}

FlowRecord V6Record(uint8_t last_byte, uint64_t packets, uint64_t bytes, TimeUs first, TimeUs last,
                    uint8_t proto = 17) {
  FlowRecord r;
  uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8};
  a[15] = last_byte;
  r.key.src = IpAddress::V6(a);
  a[15] = 0xfe;
  r.key.dst = IpAddress::V6(a);
  r.key.protocol = proto;
  if (proto == 58) {
    r.key.dst_port = 128 * 256;
  } else {
    r.key.src_port = 5353;
    r.key.dst_port = static_cast<uint16_t>(2000 + last_byte);
  }
  r.packets = packets;
  r.bytes = bytes;
  r.first_us = first;
  r.last_us = last;
  return r;
}

// A mixed set: TCP/ICMP over IPv4, UDP/ICMPv6 over IPv6, sub-ms times.
std::vector<FlowRecord> MixedRecords(int n) {
  std::vector<FlowRecord> out;
  for (int i = 0; i < n; ++i) {
    const TimeUs first = kT0 + i * 1'357 + 999;
    const TimeUs last = first + (i % 7) * 250'321;
    const uint64_t packets = 1 + i % 13;
    const uint64_t bytes = 40 * packets + i;
    switch (i % 4) {
      case 0:
        out.push_back(V4Record(0x0a000000 + i, packets, bytes, first, last));
        break;
      case 1:
        out.push_back(V4Record(0x0a000000 + i, packets, bytes, first, last, 1));
        break;
      case 2:
        out.push_back(V6Record(static_cast<uint8_t>(i), packets, bytes, first, last));
        break;
      default:
        out.push_back(V6Record(static_cast<uint8_t>(i), packets, bytes, first, last, 58));
        break;
    }
  }
  return out;
}

struct Harness {
  std::vector<Bytes> datagrams;
  std::unique_ptr<IpfixEncoder> encoder;

  explicit Harness(IpfixEncoderOptions o, const TemplateSpec& spec = Spec("default")) {
    auto e = IpfixEncoder::Create(o, spec, [this](std::span<const uint8_t> d) {
      datagrams.emplace_back(d.begin(), d.end());
    });
    EXPECT_TRUE(e.ok()) << e.status();
    if (e.ok()) encoder = std::move(*e);
  }
};

// Walks a message's sets: {set id, set length} in order.
std::vector<std::pair<uint16_t, uint16_t>> Sets(const Bytes& m) {
  std::vector<std::pair<uint16_t, uint16_t>> out;
  size_t at = kIpfixMessageHeaderSize;
  while (at + 4 <= m.size()) {
    const uint16_t id = Be16(m, at);
    const uint16_t len = Be16(m, at + 2);
    out.emplace_back(id, len);
    if (len < 4) break;
    at += len;
  }
  EXPECT_EQ(at, m.size()) << "sets do not tile the message";
  return out;
}

TEST(IpfixEncoderTest, HeaderTemplateSetAndFieldMapping) {
  IpfixEncoderOptions o;
  o.observation_domain_id = 77;
  Harness h(o);
  const TimeUs now = kT0 + 3 * kSec;  // not on a whole second
  h.encoder->Add(V4Record(0x0a000001, 5, 500, kT0 + 1500, kT0 + 2750), now);
  h.encoder->Flush(now);
  ASSERT_EQ(h.datagrams.size(), 1u);
  const Bytes& m = h.datagrams[0];
  EXPECT_EQ(Be16(m, 0), 10);
  EXPECT_EQ(Be16(m, 2), m.size());                                        // message length
  EXPECT_EQ(Be32(m, 4), static_cast<uint32_t>((now + kSec - 1) / kSec));  // export time
  EXPECT_EQ(Be32(m, 8), 0u);                                              // no data records before
  EXPECT_EQ(Be32(m, 12), 77u);                                            // observation domain
  auto sets = Sets(m);
  ASSERT_EQ(sets.size(), 2u);
  EXPECT_EQ(sets[0].first, kIpfixTemplateSetId);
  EXPECT_EQ(sets[1].first, 256);
  // Template set: 256 then 257, each with the default's 17 fields; FIRST/LAST_SWITCHED become
  // flowStart/EndMilliseconds of 8 bytes, in place.
  size_t at = kIpfixMessageHeaderSize + 4;
  EXPECT_EQ(Be16(m, at), 256);
  ASSERT_EQ(Be16(m, at + 2), 17);
  std::vector<std::pair<uint16_t, uint16_t>> fields;
  for (int i = 0; i < 17; ++i)
    fields.emplace_back(Be16(m, at + 4 + 4 * i), Be16(m, at + 6 + 4 * i));
  EXPECT_EQ(fields[13], std::make_pair(field::kFlowStartMilliseconds, uint16_t{8}));
  EXPECT_EQ(fields[14], std::make_pair(field::kFlowEndMilliseconds, uint16_t{8}));
  for (const auto& [id, len] : fields) {
    EXPECT_NE(id, field::kFirstSwitched);
    EXPECT_NE(id, field::kLastSwitched);
  }
  at += 4 + 17 * 4;
  EXPECT_EQ(Be16(m, at), 257);
  ASSERT_EQ(Be16(m, at + 2), 17);
  // IPv6 layout: ICMP_TYPE (icmpTypeCodeIPv4) becomes icmpTypeCodeIPv6.
  EXPECT_EQ(Be16(m, at + 4 + 4 * 7), field::kIcmpTypeCodeIpv6);
  at += 4 + 17 * 4;
  EXPECT_EQ(at, kIpfixMessageHeaderSize + sets[0].second);
  // Data set: one record, no padding, timestamps absolute ms.
  const size_t record_len = h.encoder->templates()[0].RecordLength();
  EXPECT_EQ(sets[1].second, 4 + record_len);
  const size_t rec = at + 4;
  EXPECT_EQ(Be32(m, rec), 0x0a000001u);
  EXPECT_EQ(Be32(m, rec + 4), 0xc0000201u);
  // Offsets: 4+4+2+2+1+1+1+2(ICMP)+2(VLAN)+4+4 = 27, packets 8, bytes 8, start 8, end 8.
  auto be64 = [&](size_t p) { return (uint64_t{Be32(m, p)} << 32) | Be32(m, p + 4); };
  EXPECT_EQ(be64(rec + 27), 5u);
  EXPECT_EQ(be64(rec + 35), 500u);
  EXPECT_EQ(be64(rec + 43), static_cast<uint64_t>((kT0 + 1500) / 1000));
  EXPECT_EQ(be64(rec + 51), static_cast<uint64_t>((kT0 + 2750) / 1000));
  EXPECT_EQ(m[rec + 59], 3);  // flow end reason
  EXPECT_EQ(m[rec + 60], 4);  // IP version
  EXPECT_EQ(h.encoder->stats().records, 1u);
  EXPECT_EQ(h.encoder->stats().template_records, 2u);
}

TEST(IpfixEncoderTest, SequenceCountsDataRecordsSentBefore) {
  IpfixEncoderOptions o;
  o.template_refresh_datagrams = 0;
  o.template_refresh_us = 0;
  Harness h(o);
  const int per[] = {3, 1, 5, 2};
  uint32_t before = 0;
  for (int n : per) {
    for (int i = 0; i < n; ++i) h.encoder->Add(V4Record(i, 1, 40, kT0, kT0), kT0);
    h.encoder->Flush(kT0);
  }
  ASSERT_EQ(h.datagrams.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(Be32(h.datagrams[i], 8), before) << i;
    before += static_cast<uint32_t>(per[i]);
    EXPECT_EQ(Sets(h.datagrams[i]).size(), i == 0 ? 2u : 1u);  // templates only first
  }
  EXPECT_EQ(h.encoder->next_sequence(), 11u);
}

TEST(IpfixEncoderTest, SamplingOptionsTemplateAndRecordCountInSequence) {
  IpfixEncoderOptions o;
  o.observation_domain_id = 5;
  o.sampling_interval = 100;
  o.sampling_algorithm = 2;
  Harness h(o);
  h.encoder->Add(V4Record(1, 1, 40, kT0, kT0), kT0);
  h.encoder->Flush(kT0);
  h.encoder->Add(V4Record(2, 1, 40, kT0, kT0), kT0);
  h.encoder->Flush(kT0);
  const Bytes& m = h.datagrams.at(0);
  auto sets = Sets(m);
  ASSERT_EQ(sets.size(), 4u);
  EXPECT_EQ(sets[1].first, kIpfixOptionsTemplateSetId);
  const uint16_t otid = h.encoder->options_template_id();
  EXPECT_EQ(otid, 258);
  EXPECT_EQ(sets[2].first, otid);
  size_t at = kIpfixMessageHeaderSize + sets[0].second;
  // Options template: ID, field count 3, scope count 1, observationDomainId/4,
  // samplingInterval/4, samplingAlgorithm/1; the set is not padded.
  EXPECT_EQ(sets[1].second, 4 + 6 + 12);
  EXPECT_EQ(Be16(m, at + 4), otid);
  EXPECT_EQ(Be16(m, at + 6), 3);
  EXPECT_EQ(Be16(m, at + 8), 1);
  EXPECT_EQ(Be16(m, at + 10), kIpfixObservationDomainIdIe);
  EXPECT_EQ(Be16(m, at + 12), 4);
  EXPECT_EQ(Be16(m, at + 14), field::kSamplingInterval);
  EXPECT_EQ(Be16(m, at + 18), field::kSamplingAlgorithm);
  EXPECT_EQ(Be16(m, at + 20), 1);
  at += sets[1].second;
  EXPECT_EQ(sets[2].second, 4 + 9);
  EXPECT_EQ(Be32(m, at + 4), 5u);
  EXPECT_EQ(Be32(m, at + 8), 100u);
  EXPECT_EQ(m[at + 12], 2);
  // The options data record is a data record: the next message's sequence counts it.
  EXPECT_EQ(Be32(h.datagrams.at(1), 8), 2u);
  EXPECT_EQ(h.encoder->stats().options_records, 1u);

  // The collector learns the sampling interval from it.
  Decoder dec({});
  struct Sink : RecordSink {
    std::vector<DecodedRecord> records;
    void OnRecord(const DecodedRecord& r) override { records.push_back(r); }
  } sink;
  const ExporterId ex{IpAddress::V4(0x7f000001), 4739};
  for (const Bytes& d : h.datagrams) dec.DecodeDatagram(d, ex, kT0, sink);
  ASSERT_EQ(sink.records.size(), 2u);
  EXPECT_EQ(sink.records[0].sampling, 100u);
  EXPECT_EQ(dec.Totals().ErrorTotal(), 0u);
  EXPECT_EQ(dec.Totals().sequence_lost, 0u);
}

TEST(IpfixEncoderTest, MtuPackingWithoutPadding) {
  for (size_t mtu : {576u, 1500u, 9000u}) {
    SCOPED_TRACE(mtu);
    IpfixEncoderOptions o;
    o.mtu = mtu;
    Harness h(o);
    const std::vector<FlowRecord> in = MixedRecords(1000);
    for (const FlowRecord& r : in) h.encoder->Add(r, kT0);
    h.encoder->Flush(kT0);
    size_t largest = 0;
    for (const TemplateRecord& t : h.encoder->templates()) {
      largest = std::max(largest, t.RecordLength());
    }
    for (size_t i = 0; i < h.datagrams.size(); ++i) {
      const Bytes& m = h.datagrams[i];
      EXPECT_LE(m.size() + 28, mtu);
      Sets(m);
      // A full message had no room for the next record (plus a new set header at most).
      if (i + 1 < h.datagrams.size()) {
        EXPECT_GT(m.size() + 28 + largest + 4, mtu);
      }
    }
    EXPECT_EQ(h.encoder->stats().records, 1000u);
    EXPECT_EQ(h.encoder->next_sequence(), 1000u);
  }
}

TEST(IpfixEncoderTest, TemplateRefreshByCountAndTime) {
  IpfixEncoderOptions o;
  o.template_refresh_datagrams = 3;
  o.template_refresh_us = 10 * kSec;
  Harness h(o);
  // Messages at 0,1,2 s (count refresh at #3), then 20 s (time refresh), then 21 s.
  const TimeUs at[] = {0, 1, 2, 3, 20, 21};
  for (TimeUs s : at) {
    h.encoder->Add(V4Record(1, 1, 40, kT0, kT0), kT0 + s * kSec);
    h.encoder->Flush(kT0 + s * kSec);
  }
  std::vector<size_t> with;
  for (size_t i = 0; i < h.datagrams.size(); ++i) {
    if (Sets(h.datagrams[i])[0].first == kIpfixTemplateSetId) with.push_back(i);
  }
  EXPECT_THAT(with, ::testing::ElementsAre(0u, 3u, 4u));
}

TEST(IpfixEncoderTest, RejectsTinyMtuAndUnfillableFields) {
  IpfixEncoderOptions o;
  o.mtu = 100;
  auto tiny = IpfixEncoder::Create(o, Spec("default"), [](std::span<const uint8_t>) {});
  ASSERT_FALSE(tiny.ok());
  EXPECT_THAT(std::string(tiny.status().message()), ::testing::HasSubstr("--mtu 100"));
  absl::StatusOr<TemplateSpec> spec = ParseTemplateText(
      "[ipv4 256]\nIPV4_SRC_ADDR IN_SRC_MAC\n[ipv6 257]\nIPV6_SRC_ADDR\n", "test");
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto bad = IpfixEncoder::Create({}, *spec, [](std::span<const uint8_t>) {});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), ::testing::HasSubstr("IN_SRC_MAC"));
}

// --- every shipped template: collector round trip and tshark --------------------------------

class ShippedTemplateTest : public ::testing::TestWithParam<const char*> {
 protected:
  // Encodes MixedRecords with a small MTU (several messages, refreshes included).
  void Encode() {
    IpfixEncoderOptions o;
    o.observation_domain_id = 9;
    o.mtu = 576;
    o.template_refresh_datagrams = 4;
    o.sampling_interval = 10;  // options template and data too
    h_ = std::make_unique<Harness>(o, Spec(GetParam()));
    ASSERT_NE(h_->encoder, nullptr);
    in_ = MixedRecords(200);
    TimeUs now = kT0 + 10 * kSec;
    for (const FlowRecord& r : in_) {
      h_->encoder->Add(r, now);
      now += 10'000;
    }
    h_->encoder->Flush(now);
    ASSERT_GT(h_->datagrams.size(), 4u);
  }
  std::unique_ptr<Harness> h_;
  std::vector<FlowRecord> in_;
};

TEST_P(ShippedTemplateTest, CollectorDecodesEveryRecordExactly) {
  Encode();
  Decoder dec({});
  struct Sink : RecordSink {
    std::vector<DecodedRecord> records;
    void OnRecord(const DecodedRecord& r) override { records.push_back(r); }
  } sink;
  const ExporterId ex{IpAddress::V4(0x7f000001), 4739};
  for (const Bytes& d : h_->datagrams) dec.DecodeDatagram(d, ex, kT0 + 20 * kSec, sink);
  const ExporterStats t = dec.Totals();
  EXPECT_EQ(t.ErrorTotal(), 0u);
  EXPECT_EQ(t.sequence_lost, 0u);
  EXPECT_EQ(t.ipfix_datagrams, h_->datagrams.size());
  ASSERT_EQ(sink.records.size(), in_.size());
  // Records leave per template set, so match by (source address, destination port).
  for (const FlowRecord& r : in_) {
    const DecodedRecord* d = nullptr;
    for (const DecodedRecord& c : sink.records) {
      if (c.src_addr == r.key.src && c.dst_addr == r.key.dst && c.protocol == r.key.protocol) {
        d = &c;
        break;
      }
    }
    ASSERT_NE(d, nullptr) << r.key.src.version << " proto " << int{r.key.protocol};
    EXPECT_EQ(d->version, 10);
    EXPECT_EQ(d->sampling, 10u);
    EXPECT_EQ(d->source_id, 9u);
    EXPECT_EQ(d->packets, r.packets);
    EXPECT_EQ(d->bytes, r.bytes);
    EXPECT_EQ(d->first_ms, r.first_us / 1000);
    EXPECT_EQ(d->last_ms, r.last_us / 1000);
    const bool icmp = r.key.protocol == 1 || r.key.protocol == 58;
    if (!icmp) {
      EXPECT_EQ(d->src_port, r.key.src_port);
      EXPECT_EQ(d->dst_port, r.key.dst_port);
    } else {
      EXPECT_EQ(d->dst_port >> 8, r.key.dst_port >> 8);  // ICMP type survives every layout
    }
  }
}

// Writes messages as Ethernet/IPv4/UDP frames (to `port`) into a classic pcap file.
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

TEST_P(ShippedTemplateTest, TsharkDecodesCleanlyAndSumsMatch) {
  if (!nf::testing::HaveTool("tshark")) GTEST_SKIP() << "tshark is not installed";
  Encode();
  nf::testing::TempDir dir;
  const std::string pcap = dir.File("ipfix.pcap");
  WriteUdpPcap(pcap, h_->datagrams, 4739);
  const std::string decode_as = " -d udp.port==4739,cflow";
  std::string verbose;
  ASSERT_EQ(nf::testing::RunCommand("tshark -n -r " + pcap + decode_as + " -V 2>&1", &verbose), 0);
  EXPECT_THAT(verbose, ::testing::HasSubstr("Version: 10"));
  EXPECT_THAT(nf::testing::TsharkProblems(verbose), ::testing::IsEmpty());
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
  for (const FlowRecord& r : in_) {
    want_packets += r.packets;
    want_bytes += r.bytes;
  }
  EXPECT_EQ(values, in_.size());
  EXPECT_EQ(packets, want_packets);
  EXPECT_EQ(bytes, want_bytes);
}

INSTANTIATE_TEST_SUITE_P(Shipped, ShippedTemplateTest,
                         ::testing::Values("default", "minimal", "ng_netflow", "softflowd"),
                         [](const ::testing::TestParamInfo<const char*>& p) {
                           return std::string(p.param);
                         });

}  // namespace
}  // namespace nf
