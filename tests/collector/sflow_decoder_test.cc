// sFlow v5 decoding on hand-built datagrams: compact and expanded flow samples, raw Ethernet
// (802.1Q), IPv4 and IPv6 headers, the extended switch/router/gateway records, sampled IPv4/IPv6
// records, the ifIndex rules, counter samples into the interface table, drop notifications and
// unknown formats, sequence accounting, the dispatch against NetFlow v5, and every malformed
// case (each prefix of a valid datagram included), each counted and never fatal. Also the
// sFlow parts of --stats-json and of the Prometheus metrics.
#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "collector/app/collector_metrics.h"
#include "collector/decode/decoder.h"
#include "collector/stats/stats_report.h"
#include "gtest/gtest.h"
#include "tests/collector/test_bytes.h"
#include "metrics/registry.h"

namespace nf {
namespace {

using testing::Buf;

// format/length/body: the shape of every sample and record.
Buf Tagged(uint32_t format, const Buf& body) {
  Buf t;
  t.U32(format).U32(static_cast<uint32_t>(body.size())).Append(body);
  return t;
}

Buf Datagram(std::initializer_list<uint8_t> agent_v4, uint32_t sub_agent, uint32_t seq,
             uint32_t uptime_ms, const std::vector<Buf>& samples) {
  Buf d;
  d.U32(5).U32(1).Bytes(agent_v4).U32(sub_agent).U32(seq).U32(uptime_ms);
  d.U32(static_cast<uint32_t>(samples.size()));
  for (const Buf& s : samples) d.Append(s);
  return d;
}

Buf FlowSample(uint32_t seq, uint32_t source_id, uint32_t rate, uint32_t input, uint32_t output,
               const std::vector<Buf>& records) {
  Buf b;
  b.U32(seq).U32(source_id).U32(rate).U32(1000).U32(0).U32(input).U32(output);
  b.U32(static_cast<uint32_t>(records.size()));
  for (const Buf& r : records) b.Append(r);
  return Tagged(1, b);
}

Buf ExpandedFlowSample(uint32_t seq, uint32_t source_type, uint32_t source_index, uint32_t rate,
                       uint32_t in_format, uint32_t in_value, uint32_t out_format,
                       uint32_t out_value, const std::vector<Buf>& records) {
  Buf b;
  b.U32(seq).U32(source_type).U32(source_index).U32(rate).U32(1000).U32(0);
  b.U32(in_format).U32(in_value).U32(out_format).U32(out_value);
  b.U32(static_cast<uint32_t>(records.size()));
  for (const Buf& r : records) b.Append(r);
  return Tagged(3, b);
}

Buf RawHeader(uint32_t protocol, uint32_t frame_length, const Buf& header) {
  Buf b;
  b.U32(protocol).U32(frame_length).U32(4).U32(static_cast<uint32_t>(header.size()));
  b.Append(header).Pad4();
  return Tagged(1, b);
}

// Ethernet (optionally 802.1Q) + IPv4 + TCP: 10.1.2.3:443 -> 192.0.2.9:51000, flags SYN|ACK.
Buf EthernetTcp4(uint16_t vlan, uint8_t tos = 0x20) {
  Buf f;
  f.Bytes({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  if (vlan != 0) f.U16(0x8100).U16(vlan);
  f.U16(0x0800);
  f.U8(0x45).U8(tos).U16(40).U16(1).U16(0x4000).U8(64).U8(6).U16(0);
  f.Bytes({10, 1, 2, 3}).Bytes({192, 0, 2, 9});
  f.U16(443).U16(51000).U32(1).U32(2).U8(0x50).U8(0x12).U16(1024).U16(0).U16(0);
  return f;
}

// Raw IPv6 + UDP: 2001:db8::1:53 -> 2001:db8::2:5353, traffic class 0x28.
Buf Ipv6Udp() {
  Buf f;
  f.U32(0x60000000u | (0x28u << 20)).U16(8).U8(17).U8(64);
  f.Bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  f.Bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2});
  f.U16(53).U16(5353).U16(8).U16(0);
  return f;
}

// Raw IPv4 + ICMP destination unreachable (type 3, code 1).
Buf Ipv4Icmp() {
  Buf f;
  f.U8(0x45).U8(0).U16(28).U16(1).U16(0).U8(64).U8(1).U16(0);
  f.Bytes({198, 51, 100, 1}).Bytes({198, 51, 100, 2});
  f.U8(3).U8(1).U16(0).U32(0);
  return f;
}

Buf ExtendedSwitch(uint32_t src_vlan, uint32_t dst_vlan) {
  return Tagged(1001, Buf().U32(src_vlan).U32(0).U32(dst_vlan).U32(0));
}
Buf ExtendedRouter(std::initializer_list<uint8_t> next_hop, uint32_t src_mask, uint32_t dst_mask) {
  return Tagged(1002, Buf().U32(1).Bytes(next_hop).U32(src_mask).U32(dst_mask));
}
// Gateway: next hop 203.0.113.254, router AS, source AS, peer AS, then the path segments.
Buf ExtendedGateway(uint32_t router_as, uint32_t src_as,
                    const std::vector<std::vector<uint32_t>>& segments) {
  Buf b;
  b.U32(1).Bytes({203, 0, 113, 254}).U32(router_as).U32(src_as).U32(64999);
  b.U32(static_cast<uint32_t>(segments.size()));
  for (const auto& seg : segments) {
    b.U32(2).U32(static_cast<uint32_t>(seg.size()));
    for (uint32_t as : seg) b.U32(as);
  }
  b.U32(1).U32(0xfde80001u);  // one community
  b.U32(100);                 // local preference
  return Tagged(1003, b);
}
Buf SampledIpv4(uint32_t length) {
  Buf b;
  b.U32(length).U32(17).Bytes({172, 16, 0, 1}).Bytes({172, 16, 0, 2});
  b.U32(5000).U32(6000).U32(0).U32(0x10);
  return Tagged(3, b);
}
Buf SampledIpv6(uint32_t length) {
  Buf b;
  b.U32(length).U32(6);
  b.Bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a});
  b.Bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b});
  b.U32(1111).U32(22).U32(0x02).U32(0x30);
  return Tagged(4, b);
}

Buf GenericCounters(uint32_t if_index, uint64_t in_octets, uint64_t out_octets) {
  Buf b;
  b.U32(if_index).U32(6).U64(10'000'000'000ull).U32(1).U32(3);
  b.U64(in_octets).U32(100).U32(7).U32(3).U32(1).U32(2).U32(0);
  b.U64(out_octets).U32(200).U32(8).U32(4).U32(5).U32(6).U32(0);
  return Tagged(1, b);
}
Buf EthernetCounters() {
  Buf b;
  for (uint32_t i = 0; i < 13; ++i) b.U32(i + 1);
  return Tagged(2, b);
}
Buf CounterSample(uint32_t seq, uint32_t source_id, const std::vector<Buf>& records) {
  Buf b;
  b.U32(seq).U32(source_id).U32(static_cast<uint32_t>(records.size()));
  for (const Buf& r : records) b.Append(r);
  return Tagged(2, b);
}
Buf ExpandedCounterSample(uint32_t seq, uint32_t source_type, uint32_t source_index,
                          const std::vector<Buf>& records) {
  Buf b;
  b.U32(seq).U32(source_type).U32(source_index).U32(static_cast<uint32_t>(records.size()));
  for (const Buf& r : records) b.Append(r);
  return Tagged(4, b);
}

class Collect : public RecordSink {
 public:
  void OnRecord(const DecodedRecord& r) override { records.push_back(r); }
  std::vector<DecodedRecord> records;
};

constexpr TimeUs kT0 = 1'700'000'000'123'456;
const ExporterId kExporter{IpAddress::V4(0xc6336401u), 6343};  // 198.51.100.1:6343

uint64_t Err(const Decoder& d, DecodeError e) { return d.Totals().errors[static_cast<size_t>(e)]; }

// Decodes one datagram from an exactly-sized heap copy (so a sanitizer sees any over-read).
void Decode(Decoder& d, const std::vector<uint8_t>& bytes, RecordSink& sink, TimeUs t = kT0,
            const ExporterId& exporter = kExporter) {
  std::unique_ptr<uint8_t[]> copy(new uint8_t[bytes.size() + 1]);
  if (!bytes.empty()) std::copy(bytes.begin(), bytes.end(), copy.get());
  d.DecodeDatagram(std::span<const uint8_t>(copy.get(), bytes.size()), exporter, t, sink);
}

TEST(SflowDecoderTest, CompactFlowSampleWithVlanTaggedEthernetHeader) {
  Decoder d{DecoderOptions{}};
  Collect c;
  const Buf dg = Datagram({192, 0, 2, 1}, 7, 100, 5000,
                          {FlowSample(1, (0u << 24) | 12, 512, 3, 4,
                                      {RawHeader(1, 1518, EthernetTcp4(42))})});
  Decode(d, dg.bytes(), c);
  ASSERT_EQ(c.records.size(), 1u);
  const DecodedRecord& r = c.records[0];
  EXPECT_EQ(r.version, kSflowRecordVersion);
  EXPECT_EQ(r.exporter, kExporter);  // the UDP source, not the agent
  EXPECT_EQ(r.source_id, 12u);
  EXPECT_EQ(r.template_id, 0u);
  EXPECT_EQ(r.receive_time_us, kT0);
  EXPECT_EQ(r.first_ms, kT0 / 1000);
  EXPECT_EQ(r.last_ms, kT0 / 1000);
  EXPECT_EQ(r.packets, 1u);
  EXPECT_EQ(r.bytes, 1518u);
  EXPECT_EQ(r.sampling, 512u);
  EXPECT_EQ(r.input_if, 3u);
  EXPECT_EQ(r.output_if, 4u);
  EXPECT_EQ(r.ip_version, 4);
  EXPECT_EQ(r.src_addr.ToString(), "10.1.2.3");
  EXPECT_EQ(r.dst_addr.ToString(), "192.0.2.9");
  EXPECT_EQ(r.protocol, 6);
  EXPECT_EQ(r.src_port, 443);
  EXPECT_EQ(r.dst_port, 51000);
  EXPECT_EQ(r.tcp_flags, 0x12);
  EXPECT_EQ(r.tos, 0x20);
  EXPECT_EQ(r.vlan, 42);
  const ExporterStats t = d.Totals();
  EXPECT_EQ(t.datagrams, 1u);
  EXPECT_EQ(t.sflow_datagrams, 1u);
  EXPECT_EQ(t.v5_datagrams, 0u);
  EXPECT_EQ(t.sflow.flow_samples, 1u);
  EXPECT_EQ(t.records, 1u);
  EXPECT_EQ(t.bytes, 1518u);
  EXPECT_EQ(t.ErrorTotal(), 0u);
  uint32_t interval = 0;  // a per-exporter gauge, not summed into Totals
  d.ForEachExporter([&](const ExporterId&, const ExporterStats& s) { interval = s.sampling_interval; });
  EXPECT_EQ(interval, 512u);
}

TEST(SflowDecoderTest, ExpandedFlowSampleWithIpv6HeaderAndLargeIndexes) {
  Decoder d{DecoderOptions{}};
  Collect c;
  // Indexes past 24 (source) and 30 (interfaces) bits: what the expanded form is for.
  const Buf dg = Datagram(
      {192, 0, 2, 1}, 0, 1, 1,
      {ExpandedFlowSample(9, 0, 0x01234567, 64, 0, 0x7abcdef0, 0, 0x40000000,
                          {RawHeader(12, 48, Ipv6Udp())})});
  Decode(d, dg.bytes(), c);
  ASSERT_EQ(c.records.size(), 1u);
  const DecodedRecord& r = c.records[0];
  EXPECT_EQ(r.source_id, 0x01234567u);
  EXPECT_EQ(r.input_if, 0x7abcdef0u);
  EXPECT_EQ(r.output_if, 0x40000000u);  // format 0: the value as is, not the compact bits
  EXPECT_EQ(r.ip_version, 6);
  EXPECT_EQ(r.src_addr.ToString(), "2001:db8::1");
  EXPECT_EQ(r.dst_addr.ToString(), "2001:db8::2");
  EXPECT_EQ(r.protocol, 17);
  EXPECT_EQ(r.src_port, 53);
  EXPECT_EQ(r.dst_port, 5353);
  EXPECT_EQ(r.tos, 0x28);
  EXPECT_EQ(r.bytes, 48u);
  EXPECT_EQ(r.sampling, 64u);
  EXPECT_EQ(d.Totals().sflow.flow_samples, 1u);
}

TEST(SflowDecoderTest, IcmpTypeAndCodeInDstPort) {
  Decoder d{DecoderOptions{}};
  Collect c;
  Decode(d, Datagram({192, 0, 2, 1}, 0, 1, 1, {FlowSample(1, 1, 1, 1, 2, {RawHeader(11, 28, Ipv4Icmp())})}).bytes(), c);
  ASSERT_EQ(c.records.size(), 1u);
  EXPECT_EQ(c.records[0].protocol, 1);
  EXPECT_EQ(c.records[0].src_port, 0);
  EXPECT_EQ(c.records[0].dst_port, 3 * 256 + 1);
}

TEST(SflowDecoderTest, ExtendedSwitchRouterAndGatewayRecords) {
  Decoder d{DecoderOptions{}};
  Collect c;
  // Extended records before the header (order is free); an untagged header takes the switch
  // record's VLAN; the path's last AS is the destination's.
  const Buf s1 = FlowSample(1, 1, 100, 1, 2,
                            {ExtendedSwitch(300, 301), ExtendedRouter({192, 0, 2, 254}, 24, 16),
                             ExtendedGateway(65000, 65100, {{64500, 64501}, {64510, 64511}}),
                             RawHeader(1, 60, EthernetTcp4(0))});
  // A tagged header keeps its own VLAN; no router record: the gateway's next hop; source AS 0
  // and an empty path: the router's AS for both.
  const Buf s2 = FlowSample(2, 1, 100, 1, 2,
                            {RawHeader(1, 64, EthernetTcp4(7)), ExtendedSwitch(300, 301),
                             ExtendedGateway(65000, 0, {})});
  // VLAN IDs past 4095 are not taken.
  const Buf s3 = FlowSample(3, 1, 100, 1, 2, {RawHeader(1, 60, EthernetTcp4(0)),
                                             ExtendedSwitch(5000, 0)});
  Decode(d, Datagram({192, 0, 2, 1}, 0, 1, 1, {s1, s2, s3}).bytes(), c);
  ASSERT_EQ(c.records.size(), 3u);
  EXPECT_EQ(c.records[0].vlan, 300);
  EXPECT_EQ(c.records[0].next_hop.ToString(), "192.0.2.254");
  EXPECT_EQ(c.records[0].src_mask, 24);
  EXPECT_EQ(c.records[0].dst_mask, 16);
  EXPECT_EQ(c.records[0].src_as, 65100u);
  EXPECT_EQ(c.records[0].dst_as, 64511u);
  EXPECT_EQ(c.records[0].src_addr.ToString(), "10.1.2.3");
  EXPECT_EQ(c.records[1].vlan, 7);
  EXPECT_EQ(c.records[1].next_hop.ToString(), "203.0.113.254");
  EXPECT_EQ(c.records[1].src_as, 65000u);
  EXPECT_EQ(c.records[1].dst_as, 65000u);
  EXPECT_EQ(c.records[2].vlan, 0);
  EXPECT_EQ(d.Totals().ErrorTotal(), 0u);
}

TEST(SflowDecoderTest, SampledIpRecordsWithoutRawHeader) {
  Decoder d{DecoderOptions{}};
  Collect c;
  Decode(d, Datagram({192, 0, 2, 1}, 0, 1, 1,
                     {FlowSample(1, 1, 10, 1, 2, {SampledIpv4(1400)}),
                      FlowSample(2, 1, 10, 1, 2, {SampledIpv6(90)}),
                      // With a raw header, the header wins (bytes: its frame length).
                      FlowSample(3, 1, 10, 1, 2, {SampledIpv4(1400), RawHeader(1, 70, EthernetTcp4(0))})})
                .bytes(),
         c);
  ASSERT_EQ(c.records.size(), 3u);
  const DecodedRecord& a = c.records[0];
  EXPECT_EQ(a.ip_version, 4);
  EXPECT_EQ(a.src_addr.ToString(), "172.16.0.1");
  EXPECT_EQ(a.dst_addr.ToString(), "172.16.0.2");
  EXPECT_EQ(a.protocol, 17);
  EXPECT_EQ(a.src_port, 5000);
  EXPECT_EQ(a.dst_port, 6000);
  EXPECT_EQ(a.tos, 0x10);
  EXPECT_EQ(a.bytes, 1400u);
  const DecodedRecord& b = c.records[1];
  EXPECT_EQ(b.ip_version, 6);
  EXPECT_EQ(b.src_addr.ToString(), "2001:db8::a");
  EXPECT_EQ(b.dst_port, 22);
  EXPECT_EQ(b.tcp_flags, 0x02);
  EXPECT_EQ(b.tos, 0x30);
  EXPECT_EQ(b.bytes, 90u);
  EXPECT_EQ(c.records[2].src_addr.ToString(), "10.1.2.3");
  EXPECT_EQ(c.records[2].bytes, 70u);
}

TEST(SflowDecoderTest, InterfaceFormats) {
  Decoder d{DecoderOptions{}};
  Collect c;
  const Buf h = RawHeader(1, 60, EthernetTcp4(0));
  Decode(d, Datagram({192, 0, 2, 1}, 0, 1, 1,
                     {FlowSample(1, 1, 1, 0x3fffffff, 0x3fffffff, {h}),   // internal
                      FlowSample(2, 1, 1, 27, 0x40000001, {h}),           // discarded
                      FlowSample(3, 1, 1, 27, 0x80000007, {h}),           // 7 interfaces
                      ExpandedFlowSample(4, 0, 1, 1, 0, 0xffffffff, 1, 258, {h}),
                      ExpandedFlowSample(5, 0, 1, 1, 0, 0x3fffffff, 2, 0, {h})})
                .bytes(),
         c);
  ASSERT_EQ(c.records.size(), 5u);
  const std::vector<std::pair<uint32_t, uint32_t>> want = {{0, 0}, {27, 0}, {27, 0}, {0, 0}, {0, 0}};
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(c.records[i].input_if, want[i].first) << i;
    EXPECT_EQ(c.records[i].output_if, want[i].second) << i;
  }
  EXPECT_EQ(d.Totals().sflow.discarded_flow_samples, 2u);
}

TEST(SflowDecoderTest, HeadersWithoutAddressesStillGiveARecord) {
  Decoder d{DecoderOptions{}};
  Collect c;
  Buf arp;
  arp.Bytes({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}).U16(0x0806).U32(0x00010800).U32(0x06040001);
  Decode(d, Datagram({192, 0, 2, 1}, 0, 1, 1,
                     {FlowSample(1, 1, 8, 1, 2, {RawHeader(2, 200, Buf().U32(1).U32(2))}),  // token bus
                      FlowSample(2, 1, 8, 1, 2, {RawHeader(1, 64, arp)})})
                .bytes(),
         c);
  ASSERT_EQ(c.records.size(), 2u);
  for (const DecodedRecord& r : c.records) {
    EXPECT_EQ(r.ip_version, 0);
    EXPECT_EQ(r.packets, 1u);
    EXPECT_EQ(r.src_addr.version, 0);
  }
  EXPECT_EQ(c.records[0].bytes, 200u);
  EXPECT_EQ(c.records[1].bytes, 64u);
  const ExporterStats t = d.Totals();
  EXPECT_EQ(t.sflow.headers_unsupported, 1u);
  EXPECT_EQ(t.sflow.headers_not_ip, 1u);
  EXPECT_EQ(t.ErrorTotal(), 0u);
}

TEST(SflowDecoderTest, ApplySamplingScalesPacketsAndBytes) {
  DecoderOptions o;
  o.apply_sampling = true;
  Decoder d{o};
  Collect c;
  Decode(d, Datagram({192, 0, 2, 1}, 0, 1, 1, {FlowSample(1, 1, 400, 1, 2, {RawHeader(1, 100, EthernetTcp4(0))})}).bytes(), c);
  ASSERT_EQ(c.records.size(), 1u);
  EXPECT_EQ(c.records[0].packets, 400u);
  EXPECT_EQ(c.records[0].bytes, 40000u);
}

TEST(SflowDecoderTest, CounterSamplesFillTheInterfaceTableNotRecords) {
  DecoderOptions o;
  o.sflow.max_interfaces = 3;
  Decoder d{o};
  Collect c;
  // Agent 192.0.2.1: ifIndex 5 (generic + Ethernet), then 6 (expanded); agent 192.0.2.2:
  // ifIndex 5 is another interface.
  Decode(d, Datagram({192, 0, 2, 1}, 0, 1, 1,
                     {CounterSample(1, 5, {GenericCounters(5, 1000, 2000), EthernetCounters()}),
                      ExpandedCounterSample(1, 0, 6, {GenericCounters(6, 10, 20)})})
                .bytes(),
         c);
  Decode(d, Datagram({192, 0, 2, 2}, 0, 1, 1, {CounterSample(1, 5, {GenericCounters(5, 1, 2)})}).bytes(),
         c, kT0 + 1);
  // Newer values replace older ones.
  Decode(d, Datagram({192, 0, 2, 1}, 0, 2, 2, {CounterSample(2, 5, {GenericCounters(5, 3000, 4000)})}).bytes(),
         c, kT0 + 2);
  // A fourth interface does not fit: refused and counted.
  Decode(d, Datagram({192, 0, 2, 1}, 0, 3, 3, {CounterSample(3, 9, {GenericCounters(9, 1, 1)})}).bytes(),
         c, kT0 + 3);
  EXPECT_TRUE(c.records.empty());
  const ExporterStats t = d.Totals();
  EXPECT_EQ(t.sflow.counter_samples, 5u);
  EXPECT_EQ(t.sflow.interfaces_refused, 1u);
  EXPECT_EQ(t.records, 0u);
  EXPECT_EQ(t.ErrorTotal(), 0u);
  std::map<std::string, SflowInterfaceCounters> seen;
  d.ForEachSflowInterface([&](const SflowInterfaceKey& k, const SflowInterfaceCounters& v) {
    seen[k.agent.ToString() + "/" + std::to_string(k.if_index)] = v;
  });
  ASSERT_EQ(seen.size(), 3u);
  ASSERT_EQ(d.sflow_interfaces(), 3u);
  const SflowInterfaceCounters& a = seen.at("192.0.2.1/5");
  EXPECT_TRUE(a.has_generic);
  EXPECT_TRUE(a.has_ethernet);
  EXPECT_EQ(a.in_octets, 3000u);
  EXPECT_EQ(a.out_octets, 4000u);
  EXPECT_EQ(a.if_speed, 10'000'000'000ull);
  EXPECT_EQ(a.if_status, 3u);
  EXPECT_EQ(a.in_ucast_packets, 100u);
  EXPECT_EQ(a.in_multicast_packets, 7u);
  EXPECT_EQ(a.in_broadcast_packets, 3u);
  EXPECT_EQ(a.in_discards, 1u);
  EXPECT_EQ(a.in_errors, 2u);
  EXPECT_EQ(a.out_ucast_packets, 200u);
  EXPECT_EQ(a.out_discards, 5u);
  EXPECT_EQ(a.out_errors, 6u);
  EXPECT_EQ(a.dot3[0], 1u);   // alignment errors
  EXPECT_EQ(a.dot3[12], 13u);  // symbol errors
  EXPECT_EQ(a.samples, 2u);
  EXPECT_EQ(a.updated_us, kT0 + 2);
  EXPECT_EQ(seen.at("192.0.2.1/6").in_octets, 10u);
  EXPECT_FALSE(seen.at("192.0.2.1/6").has_ethernet);
  EXPECT_EQ(seen.at("192.0.2.2/5").in_octets, 1u);
}

TEST(SflowDecoderTest, DropNotificationsAndUnknownFormatsAreSkippedAndCounted) {
  Decoder d{DecoderOptions{}};
  Collect c;
  const Buf drop = Tagged(5, Buf().U32(1).U32(0).U32(3).U32(0).U32(1).U32(2).U32(1036).U32(0));
  const Buf vendor_sample = Tagged((4413u << 12) | 1, Buf().U32(1).U32(2));
  const Buf unknown_sample = Tagged(7, Buf());
  const Buf flow = FlowSample(1, 1, 10, 1, 2,
                              {Tagged(2, Buf().U32(64).Bytes({1, 2, 3, 4, 5, 6, 0, 0}).Bytes({1, 2, 3, 4, 5, 6, 0, 0}).U32(0x0800)),
                               Tagged((8800u << 12) | 1, Buf().U32(9)), Tagged(1005, Buf()),
                               RawHeader(1, 60, EthernetTcp4(0))});
  Decode(d, Datagram({192, 0, 2, 1}, 0, 1, 1, {drop, vendor_sample, unknown_sample, flow}).bytes(), c);
  ASSERT_EQ(c.records.size(), 1u);
  EXPECT_EQ(c.records[0].src_addr.ToString(), "10.1.2.3");
  const ExporterStats t = d.Totals();
  EXPECT_EQ(t.sflow.drop_samples, 1u);
  EXPECT_EQ(t.sflow.other_samples, 2u);
  EXPECT_EQ(t.sflow.records_skipped, 3u);
  EXPECT_EQ(t.sflow.flow_samples, 1u);
  EXPECT_EQ(t.ErrorTotal(), 0u);
}

TEST(SflowDecoderTest, MalformedPartsAreCountedOnceAndNeverFatal) {
  const Buf good = FlowSample(1, 1, 10, 1, 2, {RawHeader(1, 60, EthernetTcp4(0))});
  struct Case {
    const char* name;
    Buf datagram;
    DecodeError error;
    size_t records;  // still delivered
  };
  std::vector<Case> cases;
  {
    Buf d;
    d.U32(5).U32(3).U32(0).U32(0).U32(0).U32(0).U32(0);
    cases.push_back({"agent address type 3", d, DecodeError::kSflowBadAddressType, 0});
  }
  {
    Buf d;
    d.U32(5).U32(0).U32(0).U32(0).U32(0).U32(0);
    cases.push_back({"agent address type 0", d, DecodeError::kSflowBadAddressType, 0});
  }
  {
    Buf d = Datagram({192, 0, 2, 1}, 0, 1, 1, {good});
    d.bytes()[24] = 0xff;  // sample count 0xff000001 in a datagram that holds one
    cases.push_back({"absurd sample count", d, DecodeError::kSflowBadCount, 0});
  }
  {
    Buf d = Datagram({192, 0, 2, 1}, 0, 1, 1, {good, Tagged(1, Buf().U32(1))});
    d.bytes()[d.size() - 5] = 0x40;  // second sample's length past the datagram
    cases.push_back({"sample length past the datagram", d, DecodeError::kSflowTruncated, 1});
  }
  {
    // First sample: its raw header record claims more bytes than the sample holds.
    Buf body;
    body.U32(1).U32(1).U32(10).U32(0).U32(0).U32(1).U32(2).U32(1).U32(1).U32(400);
    body.U32(1).U32(60).U32(0).U32(4).U32(0);
    cases.push_back({"record past its sample", Datagram({192, 0, 2, 1}, 0, 1, 1, {Tagged(1, body), good}),
                     DecodeError::kSflowTruncated, 1});
  }
  {
    Buf rec;
    rec.U32(1).U32(60).U32(0).U32(200).U32(0);  // header length 200 in a 20-byte record
    cases.push_back({"header length past the record",
                     Datagram({192, 0, 2, 1}, 0, 1, 1, {FlowSample(1, 1, 10, 1, 2, {Tagged(1, rec)}), good}),
                     DecodeError::kSflowTruncated, 1});
  }
  cases.push_back({"zero-length flow sample", Datagram({192, 0, 2, 1}, 0, 1, 1, {Tagged(1, Buf()), good}),
                   DecodeError::kSflowBadLength, 1});
  cases.push_back({"zero-length counter sample",
                   Datagram({192, 0, 2, 1}, 0, 1, 1, {Tagged(4, Buf()), good}),
                   DecodeError::kSflowBadLength, 1});
  {
    Buf body;
    body.U32(1).U32(1).U32(10).U32(0).U32(0).U32(1).U32(2).U32(0x7fffffff);
    cases.push_back({"absurd record count",
                     Datagram({192, 0, 2, 1}, 0, 1, 1, {Tagged(1, body), good}),
                     DecodeError::kSflowBadCount, 1});
  }
  cases.push_back({"short sampled IPv4",
                   Datagram({192, 0, 2, 1}, 0, 1, 1, {FlowSample(1, 1, 10, 1, 2, {Tagged(3, Buf().U32(1))}), good}),
                   DecodeError::kSflowBadLength, 1});
  cases.push_back({"short generic counters",
                   Datagram({192, 0, 2, 1}, 0, 1, 1, {CounterSample(1, 1, {Tagged(1, Buf().U32(1))}), good}),
                   DecodeError::kSflowBadLength, 1});
  cases.push_back({"router next hop of type 7",
                   Datagram({192, 0, 2, 1}, 0, 1, 1,
                            {FlowSample(1, 1, 10, 1, 2, {Tagged(1002, Buf().U32(7).U32(0).U32(0).U32(0))}), good}),
                   DecodeError::kSflowBadAddressType, 1});
  {
    Buf gw;
    gw.U32(1).Bytes({1, 2, 3, 4}).U32(1).U32(2).U32(3).U32(0xffffffff);  // segment count
    cases.push_back({"absurd AS path segment count",
                     Datagram({192, 0, 2, 1}, 0, 1, 1, {FlowSample(1, 1, 10, 1, 2, {Tagged(1003, gw)}), good}),
                     DecodeError::kSflowBadCount, 1});
  }
  {
    Buf gw;
    gw.U32(1).Bytes({1, 2, 3, 4}).U32(1).U32(2).U32(3).U32(1).U32(2).U32(1000).U32(5);
    cases.push_back({"absurd AS count in a segment",
                     Datagram({192, 0, 2, 1}, 0, 1, 1, {FlowSample(1, 1, 10, 1, 2, {Tagged(1003, gw)}), good}),
                     DecodeError::kSflowBadCount, 1});
  }
  for (const Case& k : cases) {
    SCOPED_TRACE(k.name);
    Decoder d{DecoderOptions{}};
    Collect c;
    Decode(d, k.datagram.bytes(), c);
    EXPECT_EQ(Err(d, k.error), 1u);
    EXPECT_EQ(d.Totals().ErrorTotal(), 1u);
    EXPECT_EQ(c.records.size(), k.records);
    // The decoder goes on: a good datagram after it decodes.
    Decode(d, Datagram({192, 0, 2, 1}, 0, 2, 2, {good}).bytes(), c);
    EXPECT_EQ(c.records.size(), k.records + 1);
  }
}

// Every prefix of a valid datagram (each sample and record kind in it) is cut somewhere:
// exactly one error, no crash, and only the samples wholly inside the prefix are delivered.
TEST(SflowDecoderTest, EveryTruncationPointIsOneCountedError) {
  const Buf dg = Datagram(
      {192, 0, 2, 1}, 3, 10, 10,
      {FlowSample(1, 1, 10, 1, 2,
                  {ExtendedSwitch(5, 6), RawHeader(1, 60, EthernetTcp4(9)),
                   ExtendedRouter({10, 0, 0, 1}, 8, 16), ExtendedGateway(1, 2, {{3, 4}})}),
       ExpandedFlowSample(2, 0, 1, 10, 0, 1, 0, 2, {SampledIpv6(100), RawHeader(12, 48, Ipv6Udp())}),
       CounterSample(1, 1, {GenericCounters(1, 1, 1), EthernetCounters()}),
       Tagged(5, Buf().U32(1).U32(2)), Tagged(99, Buf().U32(1))});
  Decoder full{DecoderOptions{}};
  Collect all;
  Decode(full, dg.bytes(), all);
  ASSERT_EQ(all.records.size(), 2u);
  ASSERT_EQ(full.Totals().ErrorTotal(), 0u);
  ASSERT_EQ(full.sflow_interfaces(), 1u);
  // Where each sample ends: the 28-byte header, then format, length and body per sample.
  std::vector<size_t> ends;
  for (size_t at = 28; at < dg.size();) {
    const uint8_t* p = dg.bytes().data() + at + 4;
    at += 8 + ((size_t{p[0]} << 24) | (size_t{p[1]} << 16) | (size_t{p[2]} << 8) | p[3]);
    ends.push_back(at);
  }
  ASSERT_EQ(ends.size(), 5u);
  ASSERT_EQ(ends.back(), dg.size());
  for (size_t len = 0; len < dg.size(); ++len) {
    SCOPED_TRACE(len);
    Decoder d{DecoderOptions{}};
    Collect c;
    std::vector<uint8_t> prefix(dg.bytes().begin(), dg.bytes().begin() + static_cast<long>(len));
    Decode(d, prefix, c);
    EXPECT_EQ(d.Totals().ErrorTotal(), 1u);
    const size_t whole = static_cast<size_t>(std::count_if(
        ends.begin(), ends.end(), [len](size_t end) { return end <= len; }));
    EXPECT_EQ(c.records.size(), std::min<size_t>(whole, 2));  // samples 1 and 2 are flows
    EXPECT_EQ(d.sflow_interfaces(), whole >= 3 ? 1u : 0u);  // sample 3 is the counters
  }
}

TEST(SflowDecoderTest, DispatchAgainstNetflowV5AndOtherSflowVersions) {
  Decoder d{DecoderOptions{}};
  Collect c;
  // NetFlow v5 with one record: 0x0005 0x0001 ...; its 32-bit word 0 is 0x00050001.
  Buf v5;
  v5.U16(5).U16(1).U32(1000).U32(1700000000).U32(0).U32(0).U8(0).U8(0).U16(0);
  v5.Bytes({10, 0, 0, 1}).Bytes({10, 0, 0, 2}).U32(0).U16(1).U16(2).U32(3).U32(300).U32(0).U32(0);
  v5.U16(1).U16(2).U8(0).U8(0x10).U8(6).U8(0).U16(0).U16(0).U8(0).U8(0).U16(0);
  Decode(d, v5.bytes(), c);
  Decode(d, Datagram({192, 0, 2, 1}, 0, 1, 1, {FlowSample(1, 1, 1, 1, 2, {RawHeader(1, 60, EthernetTcp4(0))})}).bytes(), c);
  Buf v4 = Datagram({192, 0, 2, 1}, 0, 1, 1, {});
  v4.bytes()[3] = 4;  // sFlow version 4: not decoded
  Decode(d, v4.bytes(), c);
  ASSERT_EQ(c.records.size(), 2u);
  EXPECT_EQ(c.records[0].version, 5);
  EXPECT_EQ(c.records[0].packets, 3u);
  EXPECT_EQ(c.records[1].version, kSflowRecordVersion);
  const ExporterStats t = d.Totals();
  EXPECT_EQ(t.v5_datagrams, 1u);
  EXPECT_EQ(t.sflow_datagrams, 1u);
  EXPECT_EQ(t.datagrams, 3u);
  EXPECT_EQ(Err(d, DecodeError::kBadVersion), 1u);
  EXPECT_EQ(t.ErrorTotal(), 1u);
}

TEST(SflowDecoderTest, LearnTemplatesOnlySkipsSflow) {
  Decoder d{DecoderOptions{}};
  Collect c;
  const Buf dg = Datagram({192, 0, 2, 1}, 0, 1, 1,
                          {FlowSample(1, 1, 1, 1, 2, {RawHeader(1, 60, EthernetTcp4(0))}),
                           CounterSample(1, 5, {GenericCounters(5, 1, 1)})});
  d.LearnTemplatesOnly(dg.bytes(), kExporter, kT0, c);
  EXPECT_TRUE(c.records.empty());
  const ExporterStats t = d.Totals();
  EXPECT_EQ(t.datagrams, 0u);
  EXPECT_EQ(t.sflow_datagrams, 0u);
  EXPECT_EQ(t.sflow.counter_samples, 0u);
  EXPECT_EQ(d.sflow_interfaces(), 0u);
}

TEST(SflowDecoderTest, SequenceNumbersPerAgentAndDataSource) {
  Decoder d{DecoderOptions{}};
  Collect c;
  auto flow = [](uint32_t seq, uint32_t source) {
    return FlowSample(seq, source, 1, 1, 2, {RawHeader(1, 60, EthernetTcp4(0))});
  };
  // Agent A: datagrams 1, 2, 5 (2 lost); source 1 samples 1, 2, 3, 8 (4 lost); source 2: 1, 2.
  Decode(d, Datagram({192, 0, 2, 1}, 0, 1, 100'000, {flow(1, 1), flow(1, 2)}).bytes(), c);
  Decode(d, Datagram({192, 0, 2, 1}, 0, 2, 200'000, {flow(2, 1), flow(3, 1), flow(2, 2)}).bytes(), c);
  Decode(d, Datagram({192, 0, 2, 1}, 0, 5, 300'000, {flow(8, 1)}).bytes(), c);
  // Agent B behind the same exporter (a relay), with its own numbers: no loss.
  Decode(d, Datagram({192, 0, 2, 9}, 0, 77, 1000, {flow(40, 1)}).bytes(), c);
  Decode(d, Datagram({192, 0, 2, 9}, 0, 78, 2000, {flow(41, 1)}).bytes(), c);
  // Sub-agent 1 of agent A is another stream too.
  Decode(d, Datagram({192, 0, 2, 1}, 1, 500, 3000, {flow(900, 1)}).bytes(), c);
  ExporterStats t = d.Totals();
  EXPECT_EQ(t.sflow.datagrams_lost, 2u);
  EXPECT_EQ(t.sequence_lost, 4u);
  EXPECT_EQ(t.restarts, 0u);
  // Datagram 4 arrives late: reordered, given back.
  Decode(d, Datagram({192, 0, 2, 1}, 0, 4, 300'000, {}).bytes(), c);
  t = d.Totals();
  EXPECT_EQ(t.sflow.datagrams_lost, 1u);
  EXPECT_EQ(t.sflow.datagrams_reordered, 1u);
  // Agent A restarts (uptime back): numbers start over, counted as a restart, not loss.
  Decode(d, Datagram({192, 0, 2, 1}, 0, 1, 10, {flow(1, 1)}).bytes(), c);
  Decode(d, Datagram({192, 0, 2, 1}, 0, 2, 20, {flow(2, 1)}).bytes(), c);
  t = d.Totals();
  EXPECT_EQ(t.restarts, 1u);
  EXPECT_EQ(t.sflow.datagrams_lost, 1u);
  EXPECT_EQ(t.sequence_lost, 4u);
  EXPECT_EQ(t.sequence_resets, 0u);
  EXPECT_EQ(t.sflow.datagram_sequence_resets, 0u);
}

TEST(SflowDecoderTest, StreamTableIsBounded) {
  DecoderOptions o;
  o.sflow.max_streams = 2;
  Decoder d{o};
  Collect c;
  // Datagram stream + source 1 fill the table; source 2 is not tracked (counted).
  Decode(d, Datagram({192, 0, 2, 1}, 0, 1, 1,
                     {FlowSample(1, 1, 1, 1, 2, {}), FlowSample(1, 2, 1, 1, 2, {})})
                .bytes(),
         c);
  EXPECT_EQ(c.records.size(), 2u);
  EXPECT_EQ(d.Totals().sflow.streams_untracked, 1u);
}

TEST(SflowReportTest, StatsJsonAndMetricsCarrySflow) {
  // Two workers, each with its own table; one interface seen by both counts once, and the
  // newer report wins in the metrics.
  Decoder w0{DecoderOptions{}};
  Decoder w1{DecoderOptions{}};
  Collect c;
  Decode(w0, Datagram({192, 0, 2, 1}, 0, 1, 1,
                      {CounterSample(1, 5, {GenericCounters(5, 1000, 2000), EthernetCounters()}),
                       FlowSample(1, 1, 1, 1, 2, {RawHeader(1, 60, EthernetTcp4(0))}),
                       Tagged(5, Buf())})
                 .bytes(),
         c);
  Decode(w1, Datagram({192, 0, 2, 1}, 0, 2, 2,
                      {CounterSample(2, 5, {GenericCounters(5, 3000, 4000)}),
                       CounterSample(2, 6, {GenericCounters(6, 1, 1)})})
                 .bytes(),
         c, kT0 + 1'000'000);
  DecoderSummary summary;
  summary.Add(w0);
  summary.Add(w1);
  EXPECT_EQ(summary.sflow_interfaces.size(), 2u);
  const std::string json = StatsJson(summary, InputStats{}, OutputStats{});
  EXPECT_NE(json.find("\"sflow_datagrams\":2"), std::string::npos) << json;
  EXPECT_NE(json.find("\"sflow\":{\"datagrams\":2,\"flow_samples\":1,\"counter_samples\":3,"
                      "\"drop_samples\":1,\"other_samples\":0"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"interfaces_tracked\":2}"), std::string::npos) << json;
  EXPECT_NE(json.find("\"sflow_bad_count\":0"), std::string::npos) << json;
  const std::string text = StatsText(summary, InputStats{}, OutputStats{});
  EXPECT_NE(text.find("sflow samples: flow 1"), std::string::npos) << text;

  metrics::CollectorStatsPublisher publisher(2);
  publisher.Publish(0, w0, nullptr);
  publisher.Publish(1, w1, nullptr);
  const metrics::CollectorStatsPublisher::Totals t = publisher.Sum();
  ASSERT_EQ(t.sflow_interfaces.size(), 2u);
  EXPECT_EQ(t.sflow_interfaces[0].first.if_index, 5u);
  EXPECT_EQ(t.sflow_interfaces[0].second.in_octets, 3000u);  // w1's, the newer
  metrics::Registry registry;
  publisher.Register(registry);
  const std::string page = registry.Render();
  const std::string l = "{agent=\"192.0.2.1\",ifindex=\"5\"}";
  EXPECT_NE(page.find("flowcollect_sflow_if_in_octets" + l + " 3000\n"), std::string::npos) << page;
  EXPECT_NE(page.find("flowcollect_sflow_if_out_octets" + l + " 4000\n"), std::string::npos);
  EXPECT_NE(page.find("flowcollect_sflow_if_oper_up" + l + " 1\n"), std::string::npos);
  EXPECT_NE(page.find("flowcollect_sflow_if_speed_bps" + l + " 10000000000\n"), std::string::npos);
  EXPECT_NE(page.find("flowcollect_sflow_interfaces 2\n"), std::string::npos);
  // The newer entry replaces the older whole: w1 sent no Ethernet counters for ifIndex 5.
  EXPECT_EQ(page.find("flowcollect_sflow_if_dot3{agent=\"192.0.2.1\",ifindex=\"5\""),
            std::string::npos);
  EXPECT_NE(page.find("flowcollect_sflow_samples_total{exporter=\"198.51.100.1\",type=\"counter\"} 3\n"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("flowcollect_sflow_datagrams_total{exporter=\"198.51.100.1\"} 2\n"),
            std::string::npos);
}

}  // namespace
}  // namespace nf
