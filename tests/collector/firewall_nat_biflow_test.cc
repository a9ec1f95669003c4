// Firewall and NAT events (Cisco ASA NSEL, Check Point NEL) and RFC 5103 biflows from the
// shared corpus, decoded in-process and compared with tshark's decode of the same files: the
// event, NAT and reverse-counter values must be the ones tshark reads, record for record as a
// multiset. Hand-built templates then pin the fallback rules (which element counts bytes when
// several are sent) and --biflow split.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "collector/decode/decoder.h"
#include "tests/collector/decode_capture.h"
#include "collector/decode/announced_interfaces.h"
#include "common/byte_reader.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace nf {
namespace {

using testing::KeepRecords;

std::vector<DecodedRecord> DecodeFile(const std::string& path, bool split = false) {
  DecoderOptions options;
  options.biflow_split = split;
  Decoder decoder{options};
  return testing::DecodeCaptureRecords(path, decoder);
}

// Every value tshark prints for `field` over the whole file, in file order.
std::vector<std::string> TsharkValues(const std::string& path, const std::string& field) {
  std::string out;
  const int rc = testing::RunCommand("tshark -n -r '" + path + "' -T fields -E occurrence=a " +
                                         "-E aggregator=';' -e " + field + " 2>/dev/null",
                                     &out);
  EXPECT_EQ(rc, 0) << "tshark failed on " << path;
  std::vector<std::string> values;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    for (absl::string_view v : absl::StrSplit(line, ';', absl::SkipEmpty())) {
      values.emplace_back(v);
    }
  }
  return values;
}

std::vector<uint64_t> TsharkNumbers(const std::string& path, const std::string& field) {
  std::vector<uint64_t> numbers;
  for (const std::string& v : TsharkValues(path, field)) {
    uint64_t n = 0;
    EXPECT_TRUE(absl::SimpleAtoi(v, &n)) << field << "=" << v;
    numbers.push_back(n);
  }
  std::sort(numbers.begin(), numbers.end());
  return numbers;
}

template <typename F>
std::vector<uint64_t> Numbers(const std::vector<DecodedRecord>& records, F value,
                              bool skip_zero = false) {
  std::vector<uint64_t> out;
  for (const DecodedRecord& r : records) {
    const uint64_t v = value(r);
    if (!skip_zero || v != 0) out.push_back(v);
  }
  std::sort(out.begin(), out.end());
  return out;
}

template <typename F>
std::vector<std::string> Addresses(const std::vector<DecodedRecord>& records, F address) {
  std::vector<std::string> out;
  for (const DecodedRecord& r : records) {
    const IpAddress& a = address(r);
    if (a.version != 0) out.push_back(a.ToString());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::vector<uint64_t> NonZero(std::vector<uint64_t> v) {
  v.erase(std::remove(v.begin(), v.end(), 0u), v.end());
  return v;
}

class CorpusFirewallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    NF_REQUIRE_CORPUS();
    if (!testing::HaveTool("tshark")) GTEST_SKIP() << "tshark not installed";
  }
  static std::string File(const std::string& name) { return testing::CorpusDir() + "/" + name; }
};

TEST_F(CorpusFirewallTest, AsaNselEventsNatAndCountersMatchTshark) {
  for (const char* name : {"netflow/logstash/nf9_cisco_asa_1.pcap",
                           "netflow/logstash/nf9_cisco_asa_2.pcap"}) {
    SCOPED_TRACE(name);
    const std::string path = File(name);
    const auto records = DecodeFile(path);
    ASSERT_FALSE(records.empty());
    // tshark shows ASA's FW_EVENT (40005) and IANA firewallEvent (233) as one field, and the
    // XLATE_* elements as the post-NAT ones, as we do.
    EXPECT_EQ(Numbers(records, [](const DecodedRecord& r) { return r.fw_event; }),
              TsharkNumbers(path, "cflow.firewall_event"));
    EXPECT_EQ(Numbers(records, [](const DecodedRecord& r) { return r.fw_ext_event; }),
              TsharkNumbers(path, "cflow.fw_ext_event"));
    EXPECT_EQ(Addresses(records, [](const DecodedRecord& r) -> const IpAddress& {
                return r.post_nat_src_addr;
              }),
              Sorted(TsharkValues(path, "cflow.post_natsource_ipv4_address")));
    EXPECT_EQ(Numbers(records, [](const DecodedRecord& r) { return r.post_nat_dst_port; }, true),
              NonZero(TsharkNumbers(path, "cflow.post_naptdestination_transport_port")));
    EXPECT_EQ(Numbers(records, [](const DecodedRecord& r) { return r.post_nat_src_port; }, true),
              NonZero(TsharkNumbers(path, "cflow.post_naptsource_transport_port")));
    // Every record carries observationTimeMilliseconds.
    size_t with_event_time = 0;
    for (const DecodedRecord& r : records) with_event_time += r.event_time_ms != kNoTime;
    EXPECT_EQ(with_event_time, TsharkValues(path, "cflow.observation_time_milliseconds").size());
  }
  // Byte counts: asa_1 sends only the connection's total (IE 85); asa_2 sends NSEL
  // initiator/responder octets (231/232) and no IE 1. Sums from tshark.
  uint64_t bytes = 0, reverse = 0;
  for (const auto& r : DecodeFile(File("netflow/logstash/nf9_cisco_asa_1.pcap"))) {
    bytes += r.bytes;
    reverse += r.reverse_bytes;
  }
  EXPECT_EQ(bytes, 888u);
  EXPECT_EQ(reverse, 0u);
  const std::string asa2 = File("netflow/logstash/nf9_cisco_asa_2.pcap");
  bytes = reverse = 0;
  for (const auto& r : DecodeFile(asa2)) {
    bytes += r.bytes;
    reverse += r.reverse_bytes;
  }
  uint64_t initiator = 0, responder = 0;
  for (uint64_t v : TsharkNumbers(asa2, "cflow.initiator_octets")) initiator += v;
  for (uint64_t v : TsharkNumbers(asa2, "cflow.responder_octets")) responder += v;
  EXPECT_EQ(initiator, 1131u);
  EXPECT_EQ(responder, 129231u);
  EXPECT_EQ(bytes, initiator);
  EXPECT_EQ(reverse, responder);
}

TEST_F(CorpusFirewallTest, CheckPointNatEventsMatchTshark) {
  const std::string path = File("netflow/akvorado/nat.pcap");
  const auto records = DecodeFile(path);
  ASSERT_EQ(records.size(), 9u);  // the MANIFEST's record count
  EXPECT_EQ(Numbers(records, [](const DecodedRecord& r) { return r.nat_event; }, true),
            NonZero(TsharkNumbers(path, "cflow.nat_event")));
  EXPECT_FALSE(TsharkNumbers(path, "cflow.nat_event").empty());
  EXPECT_EQ(Addresses(records, [](const DecodedRecord& r) -> const IpAddress& {
              return r.post_nat_src_addr;
            }),
            Sorted(TsharkValues(path, "cflow.post_natsource_ipv4_address")));
  EXPECT_EQ(Addresses(records, [](const DecodedRecord& r) -> const IpAddress& {
              return r.post_nat_dst_addr;
            }),
            Sorted(TsharkValues(path, "cflow.post_natdestination_ipv4_address")));
  EXPECT_EQ(Numbers(records, [](const DecodedRecord& r) { return r.post_nat_src_port; }, true),
            NonZero(TsharkNumbers(path, "cflow.post_naptsource_transport_port")));
  EXPECT_EQ(Numbers(records, [](const DecodedRecord& r) { return r.ingress_vrf; }, true),
            NonZero(TsharkNumbers(path, "cflow.ingress_vrfid")));
}

TEST_F(CorpusFirewallTest, YafBiflowSplitsForwardAndReverse) {
  const std::string path = File("netflow2/telegraf/ipfix_yaf_biflow.pcap");
  // netflow2/README.md: tshark sums forward and reverse octetTotalCount/packetTotalCount
  // together (2140 packets, 577437 bytes), of which reverse 613 packets, 465945 bytes. Its
  // packet sum also holds YAF's statistics options record (template 53251), whose
  // packetTotalCount of 1070 counts everything YAF saw and is not a flow.
  constexpr uint64_t kStatsPackets = 1070;
  const auto records = DecodeFile(path);
  EXPECT_EQ(records.size(), 29u);
  uint64_t packets = 0, bytes = 0, reverse_packets = 0, reverse_bytes = 0, with_reverse = 0;
  for (const auto& r : records) {
    packets += r.packets;
    bytes += r.bytes;
    reverse_packets += r.reverse_packets;
    reverse_bytes += r.reverse_bytes;
    with_reverse += (r.reverse_packets | r.reverse_bytes) != 0;
  }
  EXPECT_EQ(packets, 2140u - 613u - kStatsPackets);
  EXPECT_EQ(bytes, 577437u - 465945u);
  EXPECT_EQ(reverse_packets, 613u);
  EXPECT_EQ(reverse_bytes, 465945u);
  ASSERT_GT(with_reverse, 0u);

  // --biflow split: one more row per record with reverse counters, endpoints swapped.
  const auto split = DecodeFile(path, true);
  ASSERT_EQ(split.size(), records.size() + with_reverse);
  uint64_t split_packets = 0, split_bytes = 0;
  for (const auto& r : split) {
    split_packets += r.packets;
    split_bytes += r.bytes;
    EXPECT_EQ(r.reverse_packets, 0u);
    EXPECT_EQ(r.reverse_bytes, 0u);
  }
  EXPECT_EQ(split_packets, 2140u - kStatsPackets);
  EXPECT_EQ(split_bytes, 577437u);
  // The row after a record with reverse counters is its reverse.
  size_t i = 0;
  for (const auto& r : records) {
    const DecodedRecord& forward = split[i++];
    EXPECT_EQ(forward.src_addr, r.src_addr);
    EXPECT_EQ(forward.packets, r.packets);
    if ((r.reverse_packets | r.reverse_bytes) == 0) continue;
    const DecodedRecord& back = split[i++];
    EXPECT_EQ(back.src_addr, r.dst_addr);
    EXPECT_EQ(back.dst_addr, r.src_addr);
    EXPECT_EQ(back.packets, r.reverse_packets);
    EXPECT_EQ(back.bytes, r.reverse_bytes);
    EXPECT_EQ(back.input_if, r.output_if);
    EXPECT_EQ(back.output_if, r.input_if);
    if (r.protocol == 6 || r.protocol == 17) {
      EXPECT_EQ(back.src_port, r.dst_port);
      EXPECT_EQ(back.dst_port, r.src_port);
    }
  }
}

// Hand-built IPFIX: one template, one data record, both in one message.
struct Field {
  uint16_t type;
  uint16_t length;
  uint32_t enterprise = 0;
  uint64_t value = 0;
};

std::vector<uint8_t> IpfixMessage(const std::vector<Field>& fields) {
  std::vector<uint8_t> m(16, 0);
  auto put16 = [&](uint16_t v) {
    m.push_back(static_cast<uint8_t>(v >> 8));
    m.push_back(static_cast<uint8_t>(v));
  };
  auto put32 = [&](uint32_t v) {
    put16(static_cast<uint16_t>(v >> 16));
    put16(static_cast<uint16_t>(v));
  };
  const size_t tset = m.size();
  put16(2);
  put16(0);
  put16(300);
  put16(static_cast<uint16_t>(fields.size()));
  for (const Field& f : fields) {
    put16(static_cast<uint16_t>(f.type | (f.enterprise != 0 ? 0x8000 : 0)));
    put16(f.length);
    if (f.enterprise != 0) put32(f.enterprise);
  }
  const size_t tlen = m.size() - tset;
  m[tset + 2] = static_cast<uint8_t>(tlen >> 8);
  m[tset + 3] = static_cast<uint8_t>(tlen);
  const size_t dset = m.size();
  put16(300);
  put16(0);
  for (const Field& f : fields) {
    for (int i = f.length - 1; i >= 0; --i) m.push_back(static_cast<uint8_t>(f.value >> (8 * i)));
  }
  const size_t dlen = m.size() - dset;
  m[dset + 2] = static_cast<uint8_t>(dlen >> 8);
  m[dset + 3] = static_cast<uint8_t>(dlen);
  m[1] = 10;
  m[2] = static_cast<uint8_t>(m.size() >> 8);
  m[3] = static_cast<uint8_t>(m.size());
  m[7] = 100;  // export time
  return m;
}

DecodedRecord DecodeOne(const std::vector<Field>& fields, bool split = false,
                        size_t expected_rows = 1) {
  DecoderOptions options;
  options.biflow_split = split;
  Decoder decoder{options};
  KeepRecords sink;
  decoder.DecodeDatagram(IpfixMessage(fields), ExporterId{*ParseIpAddress("192.0.2.1"), 4739},
                         1'000'000, sink);
  EXPECT_EQ(sink.records.size(), expected_rows);
  return sink.records.empty() ? DecodedRecord{} : sink.records.front();
}

TEST(FallbackTest, DeltaOctetsBeatInitiatorOctetsBeatTotals) {
  EXPECT_EQ(DecodeOne({{1, 8, 0, 10}, {231, 8, 0, 20}, {85, 8, 0, 30}}).bytes, 10u);
  EXPECT_EQ(DecodeOne({{85, 8, 0, 30}, {231, 4, 0, 20}}).bytes, 20u);
  EXPECT_EQ(DecodeOne({{85, 8, 0, 30}}).bytes, 30u);
  EXPECT_EQ(DecodeOne({{2, 4, 0, 3}, {298, 4, 0, 4}, {86, 4, 0, 5}}).packets, 3u);
  EXPECT_EQ(DecodeOne({{86, 4, 0, 5}, {298, 4, 0, 4}}).packets, 4u);
  EXPECT_EQ(DecodeOne({{86, 4, 0, 5}}).packets, 5u);
  // Reverse: RFC 5103 reverse delta, then NSEL responder, then reverse total.
  const DecodedRecord r =
      DecodeOne({{1, 4, 29305, 7}, {232, 4, 0, 8}, {85, 4, 29305, 9}, {2, 2, 29305, 2}});
  EXPECT_EQ(r.reverse_bytes, 7u);
  EXPECT_EQ(r.reverse_packets, 2u);
  EXPECT_EQ(DecodeOne({{85, 4, 29305, 9}, {232, 4, 0, 8}}).reverse_bytes, 8u);
  EXPECT_EQ(DecodeOne({{85, 4, 29305, 9}}).reverse_bytes, 9u);
  EXPECT_EQ(DecodeOne({{299, 4, 0, 6}}).reverse_packets, 6u);
  // Reverse elements never count in the forward direction, other enterprises not at all.
  const DecodedRecord other = DecodeOne({{1, 4, 29305, 7}, {1, 4, 6871, 11}});
  EXPECT_EQ(other.bytes, 0u);
  EXPECT_EQ(other.reverse_bytes, 7u);
}

TEST(FallbackTest, PhysicalInterfacesOnlyWithoutSnmpIndexes) {
  DecodedRecord r = DecodeOne({{252, 4, 0, 5}, {253, 4, 0, 6}});
  EXPECT_EQ(r.input_if, 5u);
  EXPECT_EQ(r.output_if, 6u);
  r = DecodeOne({{252, 4, 0, 5}, {10, 4, 0, 15}, {253, 4, 0, 6}});
  EXPECT_EQ(r.input_if, 15u);
  EXPECT_EQ(r.output_if, 6u);
}

TEST(FallbackTest, DirectionNatAndEventFields) {
  const DecodedRecord r = DecodeOne({{61, 1, 0, 1},
                                     {225, 4, 0, 0xC6336401},
                                     {227, 2, 0, 40000},
                                     {230, 1, 0, 1},
                                     {233, 1, 0, 2},
                                     {234, 4, 0, 7},
                                     {235, 4, 0, 8},
                                     {323, 8, 0, 1'700'000'000'123}});
  EXPECT_EQ(r.direction, 1);
  EXPECT_EQ(r.post_nat_src_addr.ToString(), "198.51.100.1");
  EXPECT_EQ(r.post_nat_src_port, 40000);
  EXPECT_EQ(r.nat_event, 1);
  EXPECT_EQ(r.fw_event, 2);
  EXPECT_EQ(r.ingress_vrf, 7u);
  EXPECT_EQ(r.egress_vrf, 8u);
  EXPECT_EQ(r.event_time_ms, 1'700'000'000'123);
  EXPECT_EQ(DecodeOne({{322, 4, 0, 1'700'000'000}}).event_time_ms, 1'700'000'000'000);
}

TEST(BiflowSplitTest, SplitsOnlyRecordsWithReverseCounters) {
  const std::vector<Field> fields = {{8, 4, 0, 0x0A000001},  {12, 4, 0, 0x0A000002},
                                     {7, 2, 0, 1234},        {11, 2, 0, 80},
                                     {4, 1, 0, 6},           {10, 4, 0, 1},
                                     {14, 4, 0, 2},          {1, 8, 0, 100},
                                     {2, 8, 0, 2},           {1, 8, 29305, 5000},
                                     {2, 8, 29305, 4}};
  DecoderOptions options;
  options.biflow_split = true;
  Decoder decoder{options};
  KeepRecords sink;
  decoder.DecodeDatagram(IpfixMessage(fields), ExporterId{*ParseIpAddress("192.0.2.1"), 4739},
                         1'000'000, sink);
  ASSERT_EQ(sink.records.size(), 2u);
  const DecodedRecord& f = sink.records[0];
  const DecodedRecord& b = sink.records[1];
  EXPECT_EQ(f.src_addr.ToString(), "10.0.0.1");
  EXPECT_EQ(f.bytes, 100u);
  EXPECT_EQ(f.reverse_bytes, 0u);
  EXPECT_EQ(b.src_addr.ToString(), "10.0.0.2");
  EXPECT_EQ(b.dst_addr.ToString(), "10.0.0.1");
  EXPECT_EQ(b.src_port, 80);
  EXPECT_EQ(b.dst_port, 1234);
  EXPECT_EQ(b.input_if, 2u);
  EXPECT_EQ(b.output_if, 1u);
  EXPECT_EQ(b.packets, 4u);
  EXPECT_EQ(b.bytes, 5000u);
  EXPECT_EQ(decoder.Totals().records, 2u);
  EXPECT_EQ(decoder.Totals().bytes, 5100u);
  // Without reverse counters a record stays one row.
  std::vector<Field> forward_only(fields.begin(), fields.end() - 2);
  DecodeOne(forward_only, true, 1);
}

// An IPFIX options template (scope ingressInterface, interfaceName variable-length,
// interfaceDescription fixed 16 bytes) with one record, then a data record using the index.
TEST(AnnouncedInterfacesTest, OptionsDataNamesFlowInterfaces) {
  std::vector<uint8_t> m(16, 0);
  auto put16 = [&](uint16_t v) {
    m.push_back(static_cast<uint8_t>(v >> 8));
    m.push_back(static_cast<uint8_t>(v));
  };
  auto put32 = [&](uint32_t v) {
    put16(static_cast<uint16_t>(v >> 16));
    put16(static_cast<uint16_t>(v));
  };
  // Options template 400: scope 10 (4 bytes); 82 variable; 83 (16 bytes).
  put16(3), put16(6 + 4 + 12), put16(400), put16(3), put16(1);
  put16(10), put16(4), put16(82), put16(0xFFFF), put16(83), put16(16);
  // Data template 401: 10, 14, 1.
  put16(2), put16(4 + 4 + 12), put16(401), put16(3);
  put16(10), put16(4), put16(14), put16(4), put16(1), put16(4);
  // Options data: ifIndex 7 "Gi0/0/1" "uplink to core" (NUL-padded to 16).
  const std::string name = "Gi0/0/1", desc = "uplink to core";
  const size_t oset = m.size();
  put16(400), put16(0);
  put32(7);
  m.push_back(static_cast<uint8_t>(name.size()));
  m.insert(m.end(), name.begin(), name.end());
  m.insert(m.end(), desc.begin(), desc.end());
  m.insert(m.end(), 16 - desc.size(), 0);
  while ((m.size() - oset) % 4 != 0) m.push_back(0);
  m[oset + 2] = static_cast<uint8_t>((m.size() - oset) >> 8);
  m[oset + 3] = static_cast<uint8_t>(m.size() - oset);
  // Data: in 7 (named), out 9 (not named), 100 bytes.
  put16(401), put16(4 + 12), put32(7), put32(9), put32(100);
  m[1] = 10;
  m[2] = static_cast<uint8_t>(m.size() >> 8);
  m[3] = static_cast<uint8_t>(m.size());
  Decoder decoder{DecoderOptions{}};
  KeepRecords sink;
  const ExporterId exporter{*ParseIpAddress("192.0.2.9"), 4739};
  decoder.DecodeDatagram(m, exporter, 1'000'000, sink);
  ASSERT_EQ(sink.records.size(), 1u);
  EXPECT_EQ(sink.records[0].input_if_name, "Gi0/0/1");
  EXPECT_EQ(sink.records[0].output_if_name, "");
  EXPECT_EQ(decoder.Totals().options_records, 1u);
  // Another exporter's records are not named from this table.
  KeepRecords other;
  decoder.DecodeDatagram(m, ExporterId{*ParseIpAddress("192.0.2.10"), 4739}, 2'000'000, other);
  ASSERT_EQ(other.records.size(), 1u);  // its own options data in the same message names it
  EXPECT_EQ(other.records[0].input_if_name, "Gi0/0/1");
}

TEST(AnnouncedInterfacesTest, BoundedAndStable) {
  AnnouncedInterfaces table;
  const std::string a = "eth0", b = "eth0-renamed";
  auto span = [](const std::string& s) {
    return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  };
  ASSERT_TRUE(table.Learn(1, span(a), {}));
  const absl::string_view before = table.Name(1);
  EXPECT_EQ(before, "eth0");
  ASSERT_TRUE(table.Learn(1, span(b), {}));
  EXPECT_EQ(table.Name(1), "eth0-renamed");
  EXPECT_EQ(table.Name(1).data(), before.data());  // updated in place, never moved
  for (uint32_t i = 2; i <= AnnouncedInterfaces::kMaxInterfaces; ++i) {
    ASSERT_TRUE(table.Learn(i, span(a), {}));
  }
  EXPECT_FALSE(table.Learn(AnnouncedInterfaces::kMaxInterfaces + 1, span(a), {}));
  EXPECT_EQ(table.refused(), 1u);
  EXPECT_EQ(table.Name(1).data(), before.data());
  const std::string long_name(200, 'x');
  ASSERT_TRUE(table.Learn(3, span(long_name), {}));
  EXPECT_EQ(table.Name(3).size(), AnnouncedInterfaces::kMaxTextBytes);
}

}  // namespace
}  // namespace nf
