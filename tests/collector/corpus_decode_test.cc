// Every NetFlow v5 / v9 / IPFIX capture of the shared corpus decoded in-process: record count
// and packet/byte sums must equal expected_totals.csv. The xcheck_* columns are used: they are
// tshark's totals except where the MANIFEST says tshark stops early (softflowd Count bug, H3C)
// or adds RFC 5103 reverse counters, where they are the length-walk totals a correct
// collector must reach.
//
// Records decoded from the early-data buffer (data that arrived before its template) are
// checked separately, so buffering can never hide a regression in the normal path.
#include <cstdint>
#include <map>
#include <string>

#include "absl/strings/numbers.h"
#include "collector/decode/decoder.h"
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
  for (const std::string& path : paths) {
    std::string error;
    auto datagrams = testing::ReadUdpDatagrams(path, &error);
    EXPECT_TRUE(error.empty()) << path << ": " << error;
    for (const auto& d : datagrams) {
      auto addr = ParseIpAddress(d.src);
      EXPECT_TRUE(addr.ok()) << d.src;
      ExporterId id{addr.ok() ? *addr : IpAddress{}, d.src_port};
      decoder.DecodeDatagram(d.payload, id, d.time_us, out.sink);
    }
  }
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
    EXPECT_EQ(r.sink.normal, expected);
    Sums early{};
    if (auto it = kEarlyExpected.find(file); it != kEarlyExpected.end()) early = it->second;
    EXPECT_EQ(r.sink.early, early);
    EXPECT_EQ(r.totals.early_records_decoded, early.records);
    // Nothing may stay silently buffered: every early set is decoded or still pending.
    EXPECT_EQ(r.totals.early_sets_aged_out, 0u);
    if (row.at("versions").empty()) {
      // sFlow: not NetFlow, every datagram is refused by version and counted.
      EXPECT_EQ(r.totals.errors[static_cast<size_t>(DecodeError::kBadVersion)],
                Num(row, "pcap_packets"));
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

}  // namespace
}  // namespace nf
