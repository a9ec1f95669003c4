// Every NetFlow v5 / v9 / IPFIX capture of the shared corpus decoded in-process: record count
// and packet/byte sums must equal expected_totals.csv. The xcheck_* columns are used: they are
// tshark's totals except where the MANIFEST says tshark stops early (softflowd Count bug, H3C)
// or adds RFC 5103 reverse counters, where they are the length-walk totals a correct
// collector must reach.
//
// Records decoded from the early-data buffer (data that arrived before its template) are
// checked separately, so buffering can never hide a regression in the normal path.
//
// sFlow v5 (netflow2/ and ndpi/sflow.pcap): one record per flow sample, against the sample
// counts and frame lengths of expected_totals.csv, and sampled fields against tshark.
#include <cstdint>
#include <map>
#include <string>

#include "absl/strings/numbers.h"
#include "collector/decode/decoder.h"
#include "tests/collector/decode_capture.h"
#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace nf {
namespace {

struct Sums {
  uint64_t records = 0;
  uint64_t packets = 0;
  uint64_t bytes = 0;
  friend bool operator==(const Sums&, const Sums&) = default;
};
std::ostream& operator<<(std::ostream& os, const Sums& s) {
  return os << s.records << " records / " << s.packets << " packets / " << s.bytes << " bytes";
}

class SumSink : public RecordSink {
 public:
  void OnRecord(const DecodedRecord& r) override {
    Sums& s = r.from_early_buffer ? early : normal;
    ++s.records;
    s.packets += r.packets;
    s.bytes += r.bytes;
  }
  Sums normal;
  Sums early;
};

uint64_t Num(const testing::CsvRow& row, const std::string& col) {
  auto it = row.find(col);
  uint64_t v = 0;
  if (it == row.end() || it->second.empty()) return 0;
  EXPECT_TRUE(absl::SimpleAtoi(it->second, &v)) << col << "=" << it->second;
  return v;
}

struct DecodeResult {
  SumSink sink;
  ExporterStats totals;
};

DecodeResult DecodeFiles(const std::vector<std::string>& paths,
                         const DecoderOptions& options = DecoderOptions{}) {
  DecodeResult out;
  Decoder decoder{options};
  for (const std::string& path : paths) testing::DecodeCapture(path, decoder, out.sink);
  out.totals = decoder.Totals();
  return out;
}

// Files whose data precedes its template: what the early buffer adds, and why.
const std::map<std::string, Sums> kEarlyExpected = {
    // One datagram: data set 257 (664 bytes = 4 + 11 x 60-byte records) comes before the
    // template set defining 257 (21 fields, 60 bytes). tshark drops those 11; moving the
    // template set in front and running tshark again gives 21 records / 66 / 58329, i.e.
    // 11 / 18 / 3737 more than the 10 / 48 / 54592 it decodes in file order.
    {"akvorado/data+templates.pcap", {11, 18, 3737}},
    // Frames 1 and 2 each carry 7 records of template 257 (376-byte set, 53-byte records)
    // before frame 3 defines it. tshark on frames reordered 3,1,2,4 gives 15 / 74 / 33915,
    // i.e. 14 / 72 / 33787 more than the 1 / 2 / 128 in file order.
    {"graylog/nprobe-netflow9-4.pcap", {14, 72, 33787}},
};

// Files where our default template key (exporter address, not port: RFC 3954, like nfdump,
// pmacct and akvorado) legitimately decodes more than tshark, which keys on the port.
const std::map<std::string, Sums> kPortlessKeyExpected = {
    // Template 347 arrives in frame 10 from port 61853; the exporter then restarts on port
    // 65156 and sends data for 347 in frames 11 and 21 (9 records) without resending it.
    // With --template-key-port we decode 0, like tshark (checked below).
    {"pmacct/112_traffic-00.pcap", {9, 19, 1197}},
};

// Files whose counters are in elements the xcheck columns leave out, which we count when a
// template lacks IE 1/2 (docs/csv.md): octetTotalCount/packetTotalCount (85/86) and NSEL's
// initiatorOctets (231). Each value is tshark's decode of the forward records.
const std::map<std::string, Sums> kFallbackCounterExpected = {
    // Two YAF biflow records: forward totals 2+4 packets, 132+172 octets (the reverse ones and
    // the statistics options record's 1960 packets are not flows' forward counts).
    {"logstash/ipfix_yaf.pcap", {2, 6, 304}},
    // Cisco ASA: the connection's total bytes (85), 888 in all (MANIFEST: permanent_octets).
    {"logstash/nf9_cisco_asa_1.pcap", {14, 0, 888}},
    // Cisco ASA: initiatorOctets 1131 (MANIFEST); responderOctets go to reverse_bytes.
    {"logstash/nf9_cisco_asa_2.pcap", {19, 0, 1131}},
};

// sFlow files in netflow/, whose expected_totals.csv row counts no NetFlow records: one record
// per flow sample (tshark 4.0: ndpi/sflow.pcap has 1 flow sample, frame length 82, and 8
// counter samples in its 9 datagrams).
const std::map<std::string, Sums> kSflowExpected = {
    {"ndpi/sflow.pcap", {1, 1, 82}},
};

TEST(CorpusDecodeTest, EveryFileMatchesExpectedTotals) {
  NF_REQUIRE_CORPUS();
  const std::string dir = testing::CorpusDir() + "/netflow/";
  const auto rows = testing::ReadCsv(dir + "expected_totals.csv");
  ASSERT_GT(rows.size(), 90u);
  size_t checked = 0;
  for (const auto& row : rows) {
    const std::string file = row.at("file");
    SCOPED_TRACE(file);
    DecodeResult r = DecodeFiles({dir + file});
    Sums expected{Num(row, "xcheck_records"), Num(row, "xcheck_sum_packets"),
                  Num(row, "xcheck_sum_octets")};
    if (auto it = kPortlessKeyExpected.find(file); it != kPortlessKeyExpected.end()) {
      expected = it->second;
    }
    if (auto it = kFallbackCounterExpected.find(file); it != kFallbackCounterExpected.end()) {
      expected = it->second;
    }
    if (auto it = kSflowExpected.find(file); it != kSflowExpected.end()) expected = it->second;
    EXPECT_EQ(r.sink.normal, expected);
    Sums early{};
    if (auto it = kEarlyExpected.find(file); it != kEarlyExpected.end()) early = it->second;
    EXPECT_EQ(r.sink.early, early);
    EXPECT_EQ(r.totals.early_records_decoded, early.records);
    // Nothing may stay silently buffered: every early set is decoded or still pending.
    EXPECT_EQ(r.totals.early_sets_aged_out, 0u);
    if (row.at("versions").empty()) {
      // sFlow (the MANIFEST's negative case before sFlow was decoded): every datagram is sFlow
      // v5 and decodes cleanly.
      EXPECT_EQ(r.totals.sflow_datagrams, Num(row, "pcap_packets"));
      EXPECT_EQ(r.totals.ErrorTotal(), 0u);
    }
    ++checked;
  }
  EXPECT_EQ(checked, rows.size());
}

TEST(CorpusDecodeTest, PortInTemplateKeyMatchesTshark) {
  NF_REQUIRE_CORPUS();
  DecoderOptions options;
  options.templates.key_port = true;
  DecodeResult r =
      DecodeFiles({testing::CorpusDir() + "/netflow/pmacct/112_traffic-00.pcap"}, options);
  EXPECT_EQ(r.sink.normal, (Sums{0, 0, 0}));
  EXPECT_EQ(r.totals.options_records, 76u);  // tshark: 76 options records
}

TEST(CorpusDecodeTest, MalformedFilesAreCountedNotFatal) {
  NF_REQUIRE_CORPUS();
  const std::string dir = testing::CorpusDir() + "/netflow/libnetflow9/";
  auto err = [](const DecodeResult& r, DecodeError e) {
    return r.totals.errors[static_cast<size_t>(e)];
  };
  {
    // 16 datagrams, each ending in a 1-byte remainder too short for a FlowSet header (upstream
    // expects 16 malformed) and each with an options template whose only field has length 0.
    DecodeResult r = DecodeFiles({dir + "malformed_2.pcap"});
    EXPECT_EQ(err(r, DecodeError::kZeroPadding), 16u);
    EXPECT_EQ(err(r, DecodeError::kTemplateZeroFields), 16u);
    EXPECT_EQ(r.totals.options_records, 12u);  // the valid options data before it (tshark: 12)
  }
  {
    // A FlowSet of length 0 followed by zeros: never an endless loop, counted.
    DecodeResult r = DecodeFiles({dir + "malformed_4.pcap"});
    EXPECT_EQ(err(r, DecodeError::kZeroPadding), 1u);
    EXPECT_EQ(r.totals.options_records, 1u);
  }
  {
    // Empty data templates: 3 datagrams, each template refused.
    DecodeResult r = DecodeFiles({dir + "malformed_1.pcap"});
    EXPECT_EQ(r.totals.ErrorTotal(), 3u);
    EXPECT_EQ(r.sink.normal.records + r.sink.early.records, 0u);
  }
  {
    // Options template with no option fields and a 0-length scope.
    DecodeResult r = DecodeFiles({dir + "malformed_5.pcap"});
    EXPECT_EQ(err(r, DecodeError::kTemplateZeroFields), 1u);
  }
  {
    DecodeResult r = DecodeFiles({dir + "malformed-OT.pcap"});
    EXPECT_GE(r.totals.ErrorTotal(), 1u);
  }
  {
    // Softflowd's Count bug is counted, and decoding by length still finds every record.
    DecodeResult r = DecodeFiles({testing::CorpusDir() + "/netflow/logstash/nf9_invalid01.pcap"});
    EXPECT_EQ(err(r, DecodeError::kV9CountMismatch), 1u);
    EXPECT_EQ(r.sink.normal, (Sums{2, 2, 194}));
  }
  {
    // v5 header count 55582 with 30 records present: decode the 30, count the lie.
    DecodeResult r = DecodeFiles({testing::CorpusDir() + "/netflow/logstash/nf5_invalid01.pcap"});
    EXPECT_EQ(err(r, DecodeError::kV5CountMismatch), 1u);
    EXPECT_EQ(r.sink.normal.records, 30u);
  }
}

// Template-only and data-only captures that belong together decode when read in order: the
// expected totals are those of the DERIVED merged/ file made of the same packets.
TEST(CorpusDecodeTest, SplitTemplateAndDataCapturesDecodeInOrder) {
  NF_REQUIRE_CORPUS();
  const std::string dir = testing::CorpusDir() + "/netflow/akvorado/";
  const std::map<std::string, std::vector<std::string>> pairs = {
      {"merged/ipfix-datalink.pcap", {"datalink-template.pcap", "datalink-data.pcap"}},
      {"merged/ipfix-ethernet-over-mpls-cw.pcap",
       {"ethernet-over-mpls-with-control-word-template.pcap",
        "ethernet-over-mpls-with-control-word-data.pcap"}},
      {"merged/ipfix-ipfixprobe-biflow.pcap",
       {"ipfixprobe-templates.pcap", "ipfixprobe-data.pcap"}},
      {"merged/ipfix-juniper-cpid.pcap", {"juniper-cpid-template.pcap", "juniper-cpid-data.pcap"}},
      {"merged/ipfix-srv6.pcap", {"ipfix-srv6-template.pcap", "ipfix-srv6-data.pcap"}},
      {"merged/nfv9-icmp.pcap", {"icmp-template.pcap", "icmp-data.pcap"}},
      {"merged/nfv9-multiplesamplingrates.pcap",
       {"multiplesamplingrates-options-template.pcap", "multiplesamplingrates-options-data.pcap",
        "multiplesamplingrates-template.pcap", "multiplesamplingrates-data.pcap"}},
      {"merged/nfv9-options+template+data.pcap",
       {"options-template.pcap", "options-data.pcap", "template.pcap", "data.pcap"}},
      {"merged/nfv9-samplingrate.pcap", {"samplingrate-template.pcap", "samplingrate-data.pcap"}},
  };
  std::map<std::string, testing::CsvRow> expected;
  for (const auto& row : testing::ReadCsv(testing::CorpusDir() + "/netflow/expected_totals.csv")) {
    expected[row.at("file")] = row;
  }
  for (const auto& [merged, parts] : pairs) {
    SCOPED_TRACE(merged);
    std::vector<std::string> paths;
    for (const auto& p : parts) paths.push_back(dir + p);
    DecodeResult r = DecodeFiles(paths);
    const auto& row = expected.at("akvorado/" + merged);
    const Sums want{Num(row, "xcheck_records"), Num(row, "xcheck_sum_packets"),
                    Num(row, "xcheck_sum_octets")};
    EXPECT_EQ(r.sink.normal, want);
    EXPECT_GT(want.records, 0u);
  }
}

// Every sFlow capture of netflow2/ against its expected_totals.csv rows: one record per flow
// sample (packets 1, bytes the sampled frame length), counter samples and other samples (drop
// notifications, unknown formats) counted, never a record. sflow_multiple_counter_30_pdus.pcap
// also holds 5 NetFlow v5 datagrams (port 6343 from source port 40000), which decode as v5: its
// row decoded with `-d udp.port==40000,cflow` has their 7 records / 12 packets / 1953 bytes.
TEST(CorpusDecodeTest, SflowFilesMatchExpectedTotals) {
  NF_REQUIRE_CORPUS();
  const std::string dir = testing::CorpusDir() + "/netflow2/";
  const auto rows = testing::ReadCsv(dir + "expected_totals.csv");
  if (rows.empty()) GTEST_SKIP() << "SKIP: " << dir << "expected_totals.csv not found";
  // Per file, the row that sees the most (the decode-as row of the mixed file).
  std::map<std::string, testing::CsvRow> by_file;
  for (const auto& row : rows) {
    if (row.at("sflow_datagrams").empty()) continue;  // IPFIX files
    auto [it, added] = by_file.emplace(row.at("file"), row);
    if (!added && Num(row, "tshark_v5_records") > Num(it->second, "tshark_v5_records")) {
      it->second = row;
    }
  }
  ASSERT_EQ(by_file.size(), 13u);
  for (const auto& [file, row] : by_file) {
    SCOPED_TRACE(file);
    DecodeResult r = DecodeFiles({dir + file});
    const uint64_t flows = Num(row, "sflow_flow_samples");
    // Every flow sample here carries exactly one raw packet header.
    EXPECT_EQ(flows, Num(row, "sflow_raw_header_records"));
    const Sums want{flows + Num(row, "tshark_v5_records"), flows + Num(row, "sum_cflow_packets"),
                    Num(row, "sflow_sum_frame_length") + Num(row, "sum_cflow_octets")};
    EXPECT_EQ(r.sink.normal, want);
    EXPECT_EQ(r.sink.early, Sums{});
    EXPECT_EQ(r.totals.sflow_datagrams, Num(row, "sflow_datagrams"));
    EXPECT_EQ(r.totals.sflow.flow_samples, flows);
    EXPECT_EQ(r.totals.sflow.counter_samples, Num(row, "sflow_counter_samples"));
    EXPECT_EQ(r.totals.sflow.drop_samples + r.totals.sflow.other_samples,
              Num(row, "sflow_other_samples"));
    EXPECT_EQ(r.totals.sflow.headers_unsupported, 0u);
    EXPECT_EQ(r.totals.sflow.headers_not_ip, 0u);
    if (file == "tcpdump/sflow_print-segv.pcap") {
      // tcpdump's crash reproducer: 8 bytes (version 5, address type 1, then nothing).
      EXPECT_EQ(r.totals.errors[static_cast<size_t>(DecodeError::kSflowTruncated)], 1u);
      EXPECT_EQ(r.totals.ErrorTotal(), 1u);
    } else {
      EXPECT_EQ(r.totals.ErrorTotal(), 0u);
    }
    if (file == "tcpdump/sflow_multiple_counter_30_pdus.pcap") {
      EXPECT_EQ(r.totals.v5_datagrams, 5u);
    }
    if (file == "telegraf/sflow_drop_notification.pcap") {
      EXPECT_EQ(r.totals.sflow.drop_samples, 1u);
    }
  }
}

std::vector<DecodedRecord> DecodeRecords(const std::string& path, Decoder& decoder) {
  return testing::DecodeCaptureRecords(path, decoder);
}

// Fields of sampled packets against tshark's decode. The values below come from
// `tshark -r FILE -V` (TShark 4.0.17, Debian 12), read by hand and kept here.
TEST(CorpusDecodeTest, SflowFieldsMatchTshark) {
  NF_REQUIRE_CORPUS();
  const std::string dir = testing::CorpusDir() + "/netflow2/";
  {
    // Two flow samples, header protocol 11 (raw IPv4), ICMP echo replies (type 0 code 0),
    // DSCP field 0x08, frame length 50, sampling 1, source index 2, input 0, output 2.
    Decoder d{DecoderOptions{}};
    const auto recs = DecodeRecords(dir + "akvorado/data-sflow-raw-ipv4.pcap", d);
    ASSERT_EQ(recs.size(), 2u);
    const char* dsts[] = {"92.222.186.1", "92.222.184.1"};
    for (size_t i = 0; i < 2; ++i) {
      SCOPED_TRACE(i);
      const DecodedRecord& r = recs[i];
      EXPECT_EQ(r.version, kSflowRecordVersion);
      EXPECT_EQ(r.exporter.address.ToString(), "172.19.64.116");
      EXPECT_EQ(r.ip_version, 4);
      EXPECT_EQ(r.src_addr.ToString(), "69.58.92.107");
      EXPECT_EQ(r.dst_addr.ToString(), dsts[i]);
      EXPECT_EQ(r.protocol, 1);
      EXPECT_EQ(r.src_port, 0);
      EXPECT_EQ(r.dst_port, 0);  // echo reply: type 0 * 256 + code 0
      EXPECT_EQ(r.tos, 0x08);
      EXPECT_EQ(r.bytes, 50u);
      EXPECT_EQ(r.packets, 1u);
      EXPECT_EQ(r.sampling, 1u);
      EXPECT_EQ(r.source_id, 2u);
      EXPECT_EQ(r.input_if, 0u);
      EXPECT_EQ(r.output_if, 2u);
    }
  }
  {
    // Expanded flow sample: Ethernet + 802.1Q 809, 52.52.52.52:22 -> 53.53.53.53:52237 TCP
    // (PSH, ACK), DSCP field 0x08, frame length 126, 1 in 1000, source index 11001, input
    // 29001, output 1285816721; router: next hop 54.54.54.54, masks 32/22; gateway: source AS
    // 203476, AS path 8218 29605 203361.
    Decoder d{DecoderOptions{}};
    const auto recs = DecodeRecords(dir + "tcpdump/sflow_expanded.pcap", d);
    ASSERT_EQ(recs.size(), 1u);
    const DecodedRecord& r = recs[0];
    EXPECT_EQ(r.src_addr.ToString(), "52.52.52.52");
    EXPECT_EQ(r.dst_addr.ToString(), "53.53.53.53");
    EXPECT_EQ(r.src_port, 22);
    EXPECT_EQ(r.dst_port, 52237);
    EXPECT_EQ(r.protocol, 6);
    EXPECT_EQ(r.tcp_flags, 0x18);
    EXPECT_EQ(r.tos, 0x08);
    EXPECT_EQ(r.vlan, 809);
    EXPECT_EQ(r.bytes, 126u);
    EXPECT_EQ(r.sampling, 1000u);
    EXPECT_EQ(r.source_id, 11001u);
    EXPECT_EQ(r.input_if, 29001u);
    EXPECT_EQ(r.output_if, 1285816721u);
    EXPECT_EQ(r.next_hop.ToString(), "54.54.54.54");
    EXPECT_EQ(r.src_mask, 32);
    EXPECT_EQ(r.dst_mask, 22);
    EXPECT_EQ(r.src_as, 203476u);
    EXPECT_EQ(r.dst_as, 203361u);
  }
  {
    // Output 0x40000001 (discarded, "host unreachable"), 0x80000007 (7 interfaces); input 27.
    for (const char* file : {"akvorado/data-discard-interface.pcap",
                             "akvorado/data-multiple-interfaces.pcap"}) {
      SCOPED_TRACE(file);
      Decoder d{DecoderOptions{}};
      const auto recs = DecodeRecords(dir + file, d);
      ASSERT_EQ(recs.size(), 1u);
      EXPECT_EQ(recs[0].input_if, 27u);
      EXPECT_EQ(recs[0].output_if, 0u);
      EXPECT_EQ(recs[0].src_addr.ToString(), "2a0c:8880:2:0:185:21:130:38");
      EXPECT_EQ(recs[0].dst_port, 22);
      const bool discard = std::string(file).find("discard") != std::string::npos;
      EXPECT_EQ(d.Totals().sflow.discarded_flow_samples, discard ? 1u : 0u);
    }
  }
  {
    // Internal interface 0x3fffffff both ways; ICMP echo request (type 8, code 0).
    Decoder d{DecoderOptions{}};
    const auto recs = DecodeRecords(dir + "akvorado/data-icmpv4.pcap", d);
    ASSERT_EQ(recs.size(), 1u);
    EXPECT_EQ(recs[0].input_if, 0u);
    EXPECT_EQ(recs[0].output_if, 0u);
    EXPECT_EQ(recs[0].src_addr.ToString(), "203.0.113.4");
    EXPECT_EQ(recs[0].dst_addr.ToString(), "203.0.113.5");
    EXPECT_EQ(recs[0].dst_port, 8 * 256);
    EXPECT_EQ(recs[0].bytes, 102u);
  }
  {
    // Counter samples of agent 172.21.35.17: ifIndex 1036 and 1043, four each; the last ones
    // say 1036: in 25980564 / out 5472352 octets, 1043: 50963330 / 102605777; 100 Mbit/s.
    Decoder d{DecoderOptions{}};
    DecodeRecords(testing::CorpusDir() + "/netflow/ndpi/sflow.pcap", d);
    std::map<uint32_t, SflowInterfaceCounters> seen;
    d.ForEachSflowInterface([&](const SflowInterfaceKey& k, const SflowInterfaceCounters& c) {
      EXPECT_EQ(k.agent.ToString(), "172.21.35.17");
      seen[k.if_index] = c;
    });
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[1036].in_octets, 25980564u);
    EXPECT_EQ(seen[1036].out_octets, 5472352u);
    EXPECT_EQ(seen[1043].in_octets, 50963330u);
    EXPECT_EQ(seen[1043].out_octets, 102605777u);
    EXPECT_EQ(seen[1043].if_speed, 100000000u);
    EXPECT_EQ(seen[1043].if_status, 3u);  // admin and operationally up
    EXPECT_EQ(seen[1036].samples, 4u);
    EXPECT_EQ(seen[1043].samples, 4u);
  }
}

}  // namespace
}  // namespace nf
