// Decoder unit tests on crafted datagrams: field mapping, time arithmetic, early-data
// buffering, sampling, sequence accounting, and every crash class from the fuzz checklist
// (each must be counted and must not stop decoding of later input).
#include "collector/decode/decoder.h"

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/collector/test_bytes.h"

namespace nf {
namespace {

using testing::Buf;

// A FlowSet: id, length patched, body, padded to 4.
Buf Set(uint16_t id, const Buf& body, bool pad = true) {
  Buf s;
  s.U16(id).U16(0).Append(body);
  while (pad && s.size() % 4 != 0) s.U8(0);
  s.Patch16(2, static_cast<uint16_t>(s.size()));
  return s;
}

Buf V9(uint16_t count, uint32_t uptime, uint32_t secs, uint32_t seq, uint32_t source_id,
       std::initializer_list<Buf> sets) {
  Buf d;
  d.U16(9).U16(count).U32(uptime).U32(secs).U32(seq).U32(source_id);
  for (const Buf& s : sets) d.Append(s);
  return d;
}

Buf Ipfix(uint32_t export_secs, uint32_t seq, uint32_t domain, std::initializer_list<Buf> sets) {
  Buf d;
  d.U16(10).U16(0).U32(export_secs).U32(seq).U32(domain);
  for (const Buf& s : sets) d.Append(s);
  d.Patch16(2, static_cast<uint16_t>(d.size()));
  return d;
}

// Template 256: src, dst (v4), ports, proto, tos, flags, in/out if, pkts, bytes, first, last.
Buf V4Template(uint16_t id = 256) {
  Buf t;
  t.U16(id).U16(13);
  t.U16(8).U16(4).U16(12).U16(4).U16(7).U16(2).U16(11).U16(2).U16(4).U16(1).U16(5).U16(1);
  t.U16(6).U16(1).U16(10).U16(2).U16(14).U16(2).U16(2).U16(4).U16(1).U16(8).U16(22).U16(4);
  t.U16(21).U16(4);
  return t;
}
// One record for V4Template (33 bytes).
Buf V4Record(uint32_t pkts, uint64_t bytes, uint32_t first, uint32_t last, uint8_t proto = 6) {
  Buf r;
  r.Bytes({10, 0, 0, 1}).Bytes({192, 0, 2, 7}).U16(1234).U16(80).U8(proto).U8(0x10).U8(0x1b);
  r.U16(3).U16(4).U32(pkts).U64(bytes).U32(first).U32(last);
  return r;
}

class Collect : public RecordSink {
 public:
  void OnRecord(const DecodedRecord& r) override { records.push_back(r); }
  std::vector<DecodedRecord> records;
};

ExporterId Exp(uint8_t last = 1, uint16_t port = 5000) {
  const uint8_t a[4] = {192, 0, 2, last};
  return ExporterId{IpAddress::V4(a), port};
}

uint64_t Err(const Decoder& d, DecodeError e) {
  return d.Totals().errors[static_cast<size_t>(e)];
}

constexpr TimeUs kT0 = 1'700'000'000'000'000;

TEST(DecoderV9Test, TemplateAndDataFieldsAndTimes) {
  Decoder d{DecoderOptions{}};
  Collect c;
  // uptime 5000 ms at export time 1700000000 s; first switched 1000 ms, last 4000 ms.
  Buf dg = V9(2, 5000, 1'700'000'000, 1, 7,
              {Set(0, V4Template()), Set(256, V4Record(3, 4500, 1000, 4000))});
  d.DecodeDatagram(dg.bytes(), Exp(), kT0, c);
  ASSERT_EQ(c.records.size(), 1u);
  const DecodedRecord& r = c.records[0];
  EXPECT_EQ(r.version, 9);
  EXPECT_EQ(r.source_id, 7u);
  EXPECT_EQ(r.template_id, 256);
  EXPECT_EQ(r.src_addr.ToString(), "10.0.0.1");
  EXPECT_EQ(r.dst_addr.ToString(), "192.0.2.7");
  EXPECT_EQ(r.ip_version, 4);
  EXPECT_EQ(r.src_port, 1234);
  EXPECT_EQ(r.dst_port, 80);
  EXPECT_EQ(r.protocol, 6);
  EXPECT_EQ(r.tos, 0x10);
  EXPECT_EQ(r.tcp_flags, 0x1b);
  EXPECT_EQ(r.input_if, 3u);
  EXPECT_EQ(r.output_if, 4u);
  EXPECT_EQ(r.packets, 3u);
  EXPECT_EQ(r.bytes, 4500u);  // 8-byte IN_BYTES
  EXPECT_EQ(r.first_ms, 1'700'000'000'000 - 4000);
  EXPECT_EQ(r.last_ms, 1'700'000'000'000 - 1000);
  EXPECT_EQ(d.Totals().ErrorTotal(), 0u);
  EXPECT_EQ(d.Totals().templates_new, 1u);
}

// Exporters interleaved datagram by datagram: each keeps its own templates and uptime (the
// decoder remembers the last exporter's state; a switch must look the other one up).
TEST(DecoderV9Test, InterleavedExportersKeepTheirOwnState) {
  Decoder d{DecoderOptions{}};
  Collect c;
  // A announces the template; B and C send data for template 256 without one: held as early
  // data, never decoded with A's template.
  d.DecodeDatagram(V9(1, 5000, 1'700'000'000, 1, 0, {Set(0, V4Template())}).bytes(), Exp(1), kT0, c);
  d.DecodeDatagram(V9(1, 9000, 1'700'000'000, 1, 0, {Set(256, V4Record(1, 100, 0, 0))}).bytes(),
                   Exp(2), kT0, c);
  d.DecodeDatagram(V9(1, 9000, 1'700'000'000, 1, 0, {Set(256, V4Record(1, 200, 0, 0))}).bytes(),
                   Exp(3), kT0, c);
  EXPECT_TRUE(c.records.empty());
  EXPECT_EQ(d.Totals().early_sets_buffered, 2u);
  // Back to A (from another source port: templates are keyed by address by default): its
  // template decodes its data, with its own uptime.
  d.DecodeDatagram(V9(1, 5000, 1'700'000'000, 2, 0, {Set(256, V4Record(3, 300, 1000, 4000))}).bytes(),
                   Exp(1, 5001), kT0, c);
  ASSERT_EQ(c.records.size(), 1u);
  EXPECT_EQ(c.records[0].bytes, 300u);
  EXPECT_EQ(c.records[0].first_ms, 1'700'000'000'000 - 4000);
  // B's template arrives: its early data is decoded as B's; C's still waits.
  d.DecodeDatagram(V9(1, 9000, 1'700'000'000, 2, 0, {Set(0, V4Template())}).bytes(), Exp(2), kT0, c);
  ASSERT_EQ(c.records.size(), 2u);
  EXPECT_EQ(c.records[1].bytes, 100u);
  EXPECT_EQ(c.records[1].exporter.address, Exp(2).address);
  EXPECT_EQ(d.Totals().early_sets_pending, 1u);
  // Every datagram and record is counted for the exporter that sent it.
  std::map<uint8_t, std::pair<uint64_t, uint64_t>> per_exporter;  // last octet: datagrams, records
  d.ForEachExporter([&](const ExporterId& id, const ExporterStats& st) {
    per_exporter[id.address.bytes[3]] = {st.datagrams, st.records};
  });
  const std::map<uint8_t, std::pair<uint64_t, uint64_t>> want = {
      {1, {2, 1}}, {2, {2, 1}}, {3, {1, 0}}};
  EXPECT_EQ(per_exporter, want);
}

TEST(DecoderV9Test, UptimeWrapUsesModuloArithmetic) {
  Decoder d{DecoderOptions{}};
  Collect c;
  // sysUptime wrapped to 1000 ms; the flow started 3000 ms before export (uptime 2^32-2000).
  Buf dg = V9(2, 1000, 1'700'000'000, 1, 0,
              {Set(0, V4Template()), Set(256, V4Record(1, 1, 0xFFFFF830u, 500))});
  d.DecodeDatagram(dg.bytes(), Exp(), kT0, c);
  ASSERT_EQ(c.records.size(), 1u);
  EXPECT_EQ(c.records[0].first_ms, 1'700'000'000'000 - 3000);
  EXPECT_EQ(c.records[0].last_ms, 1'700'000'000'000 - 500);
}

TEST(DecoderV9Test, DataBeforeTemplateInSameDatagramIsDecoded) {
  Decoder d{DecoderOptions{}};
  Collect c;
  Buf dg = V9(3, 5000, 1'700'000'000, 1, 0,
              {Set(256, V4Record(1, 100, 0, 0).Append(V4Record(2, 200, 0, 0))),
               Set(0, V4Template())});
  d.DecodeDatagram(dg.bytes(), Exp(), kT0, c);
  ASSERT_EQ(c.records.size(), 2u);
  EXPECT_TRUE(c.records[0].from_early_buffer);
  EXPECT_EQ(c.records[1].bytes, 200u);
  EXPECT_EQ(d.Totals().early_sets_buffered, 1u);
  EXPECT_EQ(d.Totals().early_records_decoded, 2u);
  EXPECT_EQ(d.Totals().early_sets_pending, 0u);
}

TEST(DecoderV9Test, EarlyDataAcrossDatagramsAndAgeOut) {
  DecoderOptions o;
  o.early_max_age_us = 10'000'000;
  Decoder d{o};
  Collect c;
  d.DecodeDatagram(V9(1, 5000, 1, 1, 0, {Set(256, V4Record(1, 100, 0, 0))}).bytes(), Exp(), kT0, c);
  d.DecodeDatagram(V9(1, 5000, 1, 2, 0, {Set(257, V4Record(1, 100, 0, 0))}).bytes(), Exp(), kT0, c);
  EXPECT_EQ(c.records.size(), 0u);
  EXPECT_EQ(d.Totals().early_sets_pending, 2u);
  // Template 256 arrives 5 s later: its data is decoded; 257's stays.
  d.DecodeDatagram(V9(1, 6000, 1, 3, 0, {Set(0, V4Template(256))}).bytes(), Exp(), kT0 + 5'000'000, c);
  EXPECT_EQ(c.records.size(), 1u);
  // 20 s later 257's data has aged out and is counted, never silently kept.
  d.Expire(kT0 + 20'000'000);
  EXPECT_EQ(d.Totals().early_sets_aged_out, 1u);
  EXPECT_EQ(d.Totals().early_sets_pending, 0u);
}

TEST(DecoderV9Test, EarlyBufferIsBounded) {
  DecoderOptions o;
  o.early_max_sets = 4;
  Decoder d{o};
  Collect c;
  for (uint32_t i = 0; i < 10; ++i) {
    d.DecodeDatagram(V9(1, 5000, 1, i, 0, {Set(300, V4Record(1, 1, 0, 0))}).bytes(), Exp(), kT0, c);
  }
  EXPECT_EQ(d.Totals().early_sets_buffered, 4u);
  EXPECT_EQ(d.Totals().early_sets_dropped, 6u);
  EXPECT_EQ(Err(d, DecodeError::kEarlyBufferFull), 6u);
}

TEST(DecoderV9Test, H3cVariableLengthInV9Template) {
  Decoder d{DecoderOptions{}};
  Collect c;
  Buf t;
  t.U16(300).U16(3).U16(2).U16(4).U16(82).U16(65535).U16(1).U16(4);
  Buf rec;
  rec.U32(5).U8(3).Bytes({'e', 't', 'h'}).U32(900);
  d.DecodeDatagram(V9(2, 1, 1, 1, 0, {Set(0, t), Set(300, rec)}).bytes(), Exp(), kT0, c);
  ASSERT_EQ(c.records.size(), 1u);
  EXPECT_EQ(c.records[0].packets, 5u);
  EXPECT_EQ(c.records[0].bytes, 900u);
}

TEST(DecoderV9Test, TemplateRedefinedMidStream) {
  Decoder d{DecoderOptions{}};
  Collect c;
  Buf t1;
  t1.U16(256).U16(1).U16(1).U16(4);
  Buf t2;
  t2.U16(256).U16(2).U16(2).U16(4).U16(1).U16(4);
  Buf r1;
  r1.U32(100);
  Buf r2;
  r2.U32(7).U32(700);
  d.DecodeDatagram(V9(2, 1, 1, 1, 0, {Set(0, t1), Set(256, r1)}).bytes(), Exp(), kT0, c);
  d.DecodeDatagram(V9(2, 1, 1, 2, 0, {Set(0, t2), Set(256, r2)}).bytes(), Exp(), kT0, c);
  ASSERT_EQ(c.records.size(), 2u);
  EXPECT_EQ(c.records[0].bytes, 100u);
  EXPECT_EQ(c.records[1].packets, 7u);
  EXPECT_EQ(c.records[1].bytes, 700u);
  EXPECT_EQ(d.Totals().templates_redefined, 1u);
}

TEST(DecoderV9Test, CrashClassesAreCountedAndDecodingContinues) {
  Decoder d{DecoderOptions{}};
  Collect c;
  // Only zero-length fields: a record of 0 bytes would make the data set walk spin.
  Buf zl;
  zl.U16(256).U16(2).U16(1).U16(0).U16(2).U16(0);
  Buf zl_data;
  zl_data.U32(0).U32(0);
  d.DecodeDatagram(V9(1, 1, 1, 1, 0, {Set(0, zl), Set(256, zl_data)}).bytes(), Exp(), kT0, c);
  EXPECT_EQ(Err(d, DecodeError::kTemplateZeroLengthRecord), 1u);
  EXPECT_TRUE(c.records.empty());
  // Zero-field template.
  Buf zf;
  zf.U16(256).U16(0);
  d.DecodeDatagram(V9(1, 1, 1, 2, 0, {Set(0, zf)}).bytes(), Exp(), kT0, c);
  EXPECT_EQ(Err(d, DecodeError::kTemplateZeroFields), 1u);
  // Thousands of fields (2000 one-byte fields).
  Buf many;
  many.U16(256).U16(2000);
  for (int i = 0; i < 2000; ++i) many.U16(4).U16(1);
  d.DecodeDatagram(V9(1, 1, 1, 3, 0, {Set(0, many)}).bytes(), Exp(), kT0, c);
  EXPECT_EQ(Err(d, DecodeError::kTemplateTooManyFields), 1u);
  // Oversized field lengths: the record could never fit in a datagram.
  Buf big;
  big.U16(256).U16(2).U16(1).U16(60000).U16(2).U16(60000);
  d.DecodeDatagram(V9(1, 1, 1, 4, 0, {Set(0, big)}).bytes(), Exp(), kT0, c);
  EXPECT_EQ(Err(d, DecodeError::kTemplateTooLong), 1u);
  // Template count larger than the FlowSet.
  Buf trunc;
  trunc.U16(256).U16(50).U16(1).U16(4);
  d.DecodeDatagram(V9(1, 1, 1, 5, 0, {Set(0, trunc)}).bytes(), Exp(), kT0, c);
  EXPECT_EQ(Err(d, DecodeError::kTemplateTruncated), 1u);
  // FlowSet length < 4 (non-zero bytes follow) and > datagram.
  Buf short_set = V9(1, 1, 1, 6, 0, {});
  short_set.U16(256).U16(2).U32(0xdeadbeef);
  d.DecodeDatagram(short_set.bytes(), Exp(), kT0, c);
  EXPECT_EQ(Err(d, DecodeError::kSetTooShort), 1u);
  Buf past = V9(1, 1, 1, 7, 0, {});
  past.U16(256).U16(400).U32(1);
  d.DecodeDatagram(past.bytes(), Exp(), kT0, c);
  EXPECT_EQ(Err(d, DecodeError::kSetPastEnd), 1u);
  // Reserved set ID.
  d.DecodeDatagram(V9(1, 1, 1, 8, 0, {Set(77, Buf().U32(1))}).bytes(), Exp(), kT0, c);
  EXPECT_EQ(Err(d, DecodeError::kReservedSetId), 1u);
  // Short datagram and wrong version.
  d.DecodeDatagram(Buf().U16(9).U16(1).bytes(), Exp(), kT0, c);
  d.DecodeDatagram(Buf().U32(0x00050000).bytes(), Exp(), kT0, c);
  d.DecodeDatagram(Buf().U16(42).U16(0).bytes(), Exp(), kT0, c);
  EXPECT_EQ(Err(d, DecodeError::kShortDatagram), 2u);
  EXPECT_EQ(Err(d, DecodeError::kBadVersion), 1u);
  EXPECT_TRUE(c.records.empty());
  // And a good datagram still decodes afterwards.
  d.DecodeDatagram(V9(2, 1, 1, 9, 0, {Set(0, V4Template()), Set(256, V4Record(1, 1, 0, 0))}).bytes(),
                   Exp(), kT0, c);
  EXPECT_EQ(c.records.size(), 1u);
}

// Some exporters declare fields of length 0. RFC 3954 does not forbid them and tshark decodes
// such records: the field takes no bytes, and the rest of the record still decodes.
TEST(DecoderV9Test, ZeroLengthFieldsTakeNoBytes) {
  Decoder d{DecoderOptions{}};
  Collect c;
  Buf t;
  t.U16(256).U16(5).U16(8).U16(4).U16(12).U16(4).U16(80).U16(0).U16(2).U16(4).U16(81).U16(0);
  Buf data;
  data.Bytes({10, 0, 0, 1}).Bytes({192, 0, 2, 7}).U32(5);
  data.Bytes({10, 0, 0, 2}).Bytes({192, 0, 2, 8}).U32(7);
  d.DecodeDatagram(V9(3, 1, 1, 1, 0, {Set(0, t), Set(256, data)}).bytes(), Exp(), kT0, c);
  ASSERT_EQ(c.records.size(), 2u);
  EXPECT_EQ(c.records[0].src_addr.ToString(), "10.0.0.1");
  EXPECT_EQ(c.records[0].dst_addr.ToString(), "192.0.2.7");
  EXPECT_EQ(c.records[0].packets, 5u);
  EXPECT_EQ(c.records[1].src_addr.ToString(), "10.0.0.2");
  EXPECT_EQ(c.records[1].packets, 7u);
  EXPECT_EQ(c.records[0].packets + c.records[1].packets, 12u);
  EXPECT_EQ(d.Totals().ErrorTotal(), 0u);
}

TEST(DecoderIpfixTest, ZeroLengthFieldsTakeNoBytesAndAZeroByteRecordIsRefused) {
  Decoder d{DecoderOptions{}};
  Collect c;
  Buf t;
  t.U16(256).U16(4).U16(8).U16(4).U16(210).U16(0).U16(2).U16(8).U16(1).U16(0);
  Buf data;
  data.Bytes({198, 51, 100, 1}).U64(9);
  d.DecodeDatagram(Ipfix(1, 0, 0, {Set(2, t), Set(256, data)}).bytes(), Exp(), kT0, c);
  ASSERT_EQ(c.records.size(), 1u);
  EXPECT_EQ(c.records[0].src_addr.ToString(), "198.51.100.1");
  EXPECT_EQ(c.records[0].packets, 9u);
  EXPECT_EQ(d.Totals().ErrorTotal(), 0u);
  // Fields that add up to 0 bytes: refused and counted, and the data set does not spin.
  Buf zero;
  zero.U16(257).U16(2).U16(210).U16(0).U16(8).U16(0);
  Buf zero_data;
  zero_data.U32(0).U32(0).U32(0);
  d.DecodeDatagram(Ipfix(1, 1, 0, {Set(2, zero), Set(257, zero_data)}).bytes(), Exp(), kT0, c);
  EXPECT_EQ(Err(d, DecodeError::kTemplateZeroLengthRecord), 1u);
  EXPECT_EQ(c.records.size(), 1u);
}

TEST(DecoderV9Test, HeaderCountLieIsCountedButRecordsDecodedByLength) {
  Decoder d{DecoderOptions{}};
  Collect c;
  d.DecodeDatagram(V9(1, 1, 1, 1, 0,
                      {Set(0, V4Template()),
                       Set(256, V4Record(1, 1, 0, 0).Append(V4Record(1, 1, 0, 0)))})
                       .bytes(),
                   Exp(), kT0, c);
  EXPECT_EQ(c.records.size(), 2u);
  EXPECT_EQ(Err(d, DecodeError::kV9CountMismatch), 1u);
}

TEST(DecoderV9Test, OptionsSamplingWithZeroLengthScopeAndApplySampling) {
  for (bool apply : {false, true}) {
    DecoderOptions o;
    o.apply_sampling = apply;
    Decoder d{o};
    Collect c;
    // Options template 260: scope System length 0 (Juniper SRX style), options
    // SAMPLING_INTERVAL(4) and SAMPLING_ALGORITHM(1).
    Buf ot;
    ot.U16(260).U16(4).U16(8).U16(1).U16(0).U16(34).U16(4).U16(35).U16(1);
    Buf od;
    od.U32(100).U8(2);
    d.DecodeDatagram(V9(4, 1, 1, 1, 0,
                        {Set(1, ot), Set(260, od), Set(0, V4Template()),
                         Set(256, V4Record(2, 300, 0, 0))})
                         .bytes(),
                     Exp(), kT0, c);
    ASSERT_EQ(c.records.size(), 1u);
    EXPECT_EQ(c.records[0].sampling, 100u);
    EXPECT_EQ(c.records[0].packets, apply ? 200u : 2u);
    EXPECT_EQ(c.records[0].bytes, apply ? 30000u : 300u);
    EXPECT_EQ(d.Totals().options_records, 1u);
  }
}

TEST(DecoderV9Test, SamplerIdTable) {
  Decoder d{DecoderOptions{}};
  Collect c;
  // Options: FLOW_SAMPLER_ID(48,1), FLOW_SAMPLER_RANDOM_INTERVAL(50,4); two samplers.
  Buf ot;
  ot.U16(260).U16(4).U16(8).U16(1).U16(4).U16(48).U16(1).U16(50).U16(4);
  Buf od;
  od.U32(0).U8(1).U32(10).U32(0).U8(2).U32(1000);
  // Data template with FLOW_SAMPLER_ID.
  Buf t;
  t.U16(256).U16(2).U16(48).U16(1).U16(1).U16(4);
  Buf data;
  data.U8(2).U32(55).U8(1).U32(66);
  d.DecodeDatagram(V9(5, 1, 1, 1, 0, {Set(1, ot), Set(260, od), Set(0, t), Set(256, data)}).bytes(),
                   Exp(), kT0, c);
  ASSERT_EQ(c.records.size(), 2u);
  EXPECT_EQ(c.records[0].sampling, 1000u);
  EXPECT_EQ(c.records[1].sampling, 10u);
}

TEST(DecoderV9Test, SequenceLossReorderAndRestart) {
  Decoder d{DecoderOptions{}};
  Collect c;
  auto send = [&](uint32_t seq, uint32_t uptime) {
    d.DecodeDatagram(V9(0, uptime, 1, seq, 0, {}).bytes(), Exp(), kT0, c);
  };
  send(10, 100000);
  send(11, 101000);
  send(13, 102000);  // 12 missing
  EXPECT_EQ(d.Totals().sequence_lost, 1u);
  send(12, 101500);  // late: reordered, not lost
  EXPECT_EQ(d.Totals().sequence_lost, 0u);
  EXPECT_EQ(d.Totals().sequence_reordered, 1u);
  send(14, 103000);
  send(0, 50);  // exporter restarted: uptime went back
  send(1, 1050);
  EXPECT_EQ(d.Totals().restarts, 1u);
  EXPECT_EQ(d.Totals().sequence_lost, 0u);
  // Different source IDs have their own sequence.
  d.DecodeDatagram(V9(0, 2000, 1, 500, 9, {}).bytes(), Exp(), kT0, c);
  EXPECT_EQ(d.Totals().sequence_lost, 0u);
}

TEST(DecoderV9Test, ExporterNumberingFlowsIsDetected) {
  // softflowd (OpenWrt) numbers v9 datagrams by flows: 0, 1 (3 flows), 4, 6 ... is no loss.
  Decoder d{DecoderOptions{}};
  Collect c;
  auto send = [&](uint32_t seq, int flows) {
    Buf recs;
    for (int i = 0; i < flows; ++i) recs.Append(V4Record(1, 1, 0, 0));
    d.DecodeDatagram(V9(static_cast<uint16_t>(1 + flows), 1000 + seq, 1, seq, 0,
                        {Set(0, V4Template()), Set(256, recs)})
                         .bytes(),
                     Exp(), kT0, c);
  };
  send(0, 1);
  send(1, 3);
  send(4, 2);
  send(6, 1);
  send(7, 2);
  EXPECT_EQ(d.Totals().sequence_lost, 0u);
  send(12, 1);  // 9..11 missing: 3 flows lost
  EXPECT_EQ(d.Totals().sequence_lost, 3u);
}

TEST(DecoderIpfixTest, VariableLengthEnterpriseAndWithdrawal) {
  Decoder d{DecoderOptions{}};
  Collect c;
  // Template 300: octetDeltaCount(1, 8), enterprise 29305 IE 1 (reverse octets, 8 bytes),
  // interfaceName(82, varlen), packetDeltaCount(2, 4), flowStartMilliseconds(152, 8).
  Buf t;
  t.U16(300).U16(5).U16(1).U16(8).U16(0x8001).U16(8).U32(29305).U16(82).U16(65535);
  t.U16(2).U16(4).U16(152).U16(8);
  Buf rec;
  rec.U64(1000).U64(99999).U8(2).Bytes({'g', '0'}).U32(10).U64(1'700'000'000'123);
  Buf rec_long;  // 3-byte varlen form
  rec_long.U64(2000).U64(1).U8(255).U16(3).Bytes({'a', 'b', 'c'}).U32(20).U64(0);
  d.DecodeDatagram(Ipfix(1'700'000'001, 0, 5, {Set(2, t), Set(300, rec.Append(rec_long), false)}).bytes(),
                   Exp(), kT0, c);
  ASSERT_EQ(c.records.size(), 2u);
  EXPECT_EQ(c.records[0].bytes, 1000u);  // reverse counter (enterprise) not added
  EXPECT_EQ(c.records[0].packets, 10u);
  EXPECT_EQ(c.records[0].first_ms, 1'700'000'000'123);
  EXPECT_EQ(c.records[1].bytes, 2000u);
  EXPECT_EQ(c.records[1].version, 10);
  EXPECT_EQ(c.records[1].source_id, 5u);
  // Withdraw 300, then withdraw an unknown template.
  Buf w;
  w.U16(300).U16(0).U16(999).U16(0);
  d.DecodeDatagram(Ipfix(1, 2, 5, {Set(2, w)}).bytes(), Exp(), kT0, c);
  EXPECT_EQ(Err(d, DecodeError::kWithdrawUnknown), 1u);
  EXPECT_EQ(d.templates().size(), 0u);
  // Data for the withdrawn template is now early data, not decoded with a stale layout.
  d.DecodeDatagram(Ipfix(1, 2, 5, {Set(300, Buf().U64(1).U64(1).U8(0).U32(1).U64(0), false)}).bytes(),
                   Exp(), kT0, c);
  EXPECT_EQ(c.records.size(), 2u);
  EXPECT_EQ(d.Totals().early_sets_pending, 1u);
}

// Fixed-length templates take the compiled decode plan: times in seconds and milliseconds
// (8-byte values clamped at 9999-12-31, never overflowing), the last of two time fields wins as
// on the wire, and a template mixing in a delta time keeps wire order through the generic code.
TEST(DecoderIpfixTest, FixedTemplateTimesThroughTheDecodePlan) {
  Decoder d{DecoderOptions{}};
  Collect c;
  // Template 400: flowStartSeconds(150, 8), flowEndMilliseconds(153, 8), packetDeltaCount(2, 4),
  // flowEndSeconds(151, 4) (after 153: it wins for last_ms).
  Buf t;
  t.U16(400).U16(4).U16(150).U16(8).U16(153).U16(8).U16(2).U16(4).U16(151).U16(4);
  Buf recs;
  recs.U64(1'700'000'000).U64(1'700'000'001'234).U32(7).U32(1'700'000'002);
  recs.U64(~uint64_t{0}).U64(~uint64_t{0}).U32(8).U32(5);
  d.DecodeDatagram(Ipfix(1'700'000'010, 0, 1, {Set(2, t), Set(400, recs, false)}).bytes(), Exp(),
                   kT0, c);
  ASSERT_EQ(c.records.size(), 2u);
  EXPECT_EQ(c.records[0].first_ms, 1'700'000'000'000);
  EXPECT_EQ(c.records[0].last_ms, 1'700'000'002'000);
  EXPECT_EQ(c.records[0].packets, 7u);
  EXPECT_EQ(c.records[1].first_ms, 253'402'300'799'000);  // clamped, no overflow
  EXPECT_EQ(c.records[1].last_ms, 5'000);
  EXPECT_EQ(c.records[1].packets, 8u);
  // Template 401: flowEndDeltaMicroseconds(159, 4) then flowEndSeconds(151, 4): the absolute
  // time is last on the wire and wins.
  Buf t2;
  t2.U16(401).U16(2).U16(159).U16(4).U16(151).U16(4);
  c.records.clear();
  d.DecodeDatagram(Ipfix(1'700'000'010, 2, 1,
                         {Set(2, t2), Set(401, Buf().U32(3'000'000).U32(1'700'000'005), false)})
                       .bytes(),
                   Exp(), kT0, c);
  ASSERT_EQ(c.records.size(), 1u);
  EXPECT_EQ(c.records[0].last_ms, 1'700'000'005'000);
  EXPECT_EQ(c.records[0].first_ms, kNoTime);
}

// Every member but template_id, addresses with their version and all 16 bytes.
std::string Describe(const DecodedRecord& r) {
  auto addr = [](const IpAddress& a) {
    std::string s = std::to_string(a.version) + ":";
    for (uint8_t b : a.bytes) s += std::to_string(b) + ".";
    return s;
  };
  std::string s;
  for (int64_t v : {int64_t{r.version}, int64_t{r.from_early_buffer}, int64_t{r.source_id},
                    r.receive_time_us, r.first_ms, r.last_ms, int64_t{r.ip_version},
                    int64_t{r.protocol}, int64_t{r.tos}, int64_t{r.src_mask}, int64_t{r.dst_mask},
                    int64_t{r.direction}, int64_t{r.flow_end_reason}, int64_t{r.tcp_flags},
                    int64_t{r.src_port}, int64_t{r.dst_port}, int64_t{r.vlan},
                    int64_t{r.input_if}, int64_t{r.output_if}, int64_t{r.src_as},
                    int64_t{r.dst_as}, int64_t{r.sampling}, static_cast<int64_t>(r.packets),
                    static_cast<int64_t>(r.bytes), static_cast<int64_t>(r.out_packets),
                    static_cast<int64_t>(r.out_bytes), int64_t{r.exporter.port}}) {
    s += std::to_string(v) + ",";
  }
  return s + addr(r.src_addr) + "," + addr(r.dst_addr) + "," + addr(r.next_hop) + "," +
         addr(r.exporter.address);
}

// The compiled plan (fixed-length templates) must decode exactly as the generic field-by-field
// path does. Random templates draw fields with the widths exporters use, including reduced-size
// encodings and one member written by several fields (IPv4 and IPv6 source, a protocol twice
// at two widths: the last on the wire wins). Each template is sent twice: as is (plan) and with
// a variable-length field appended (generic path); every record must come out the same.
TEST(DecoderIpfixTest, DecodePlanMatchesTheGenericPath) {
  struct Ie {
    uint16_t id;
    std::vector<uint16_t> widths;
  };
  const std::vector<Ie> pool = {
      {1, {1, 2, 4, 8}}, {2, {3, 4, 8}}, {23, {4, 8}}, {24, {2, 8}}, {4, {1, 2}}, {5, {1}},
      {6, {1, 2}}, {7, {1, 2}}, {11, {2, 4}}, {8, {4}}, {12, {4}}, {15, {4}}, {27, {16}},
      {28, {16}}, {62, {16}}, {10, {2, 4}}, {14, {4, 3}}, {16, {2, 4}}, {17, {4}}, {9, {1}},
      {13, {1, 2}}, {32, {2}}, {139, {2}}, {176, {1}}, {177, {1}}, {58, {2, 4}}, {60, {1}},
      {61, {1}}, {136, {1}}, {150, {4}}, {151, {4, 8}}, {152, {8}}, {153, {8}}, {22, {4}},
      {21, {4}}, {34, {4, 2}}};
  std::mt19937 rng(20261125);
  for (int round = 0; round < 300; ++round) {
    SCOPED_TRACE(round);
    const size_t n = 1 + rng() % 24;
    std::vector<std::pair<uint16_t, uint16_t>> fields;
    size_t record_length = 0;
    for (size_t i = 0; i < n; ++i) {
      const Ie& ie = pool[rng() % pool.size()];
      fields.emplace_back(ie.id, ie.widths[rng() % ie.widths.size()]);
      record_length += fields.back().second;
    }
    Buf plan_t, generic_t;
    plan_t.U16(300).U16(static_cast<uint16_t>(n));
    generic_t.U16(301).U16(static_cast<uint16_t>(n + 1));
    for (const auto& [id, width] : fields) {
      plan_t.U16(id).U16(width);
      generic_t.U16(id).U16(width);
    }
    generic_t.U16(82).U16(65535);  // interfaceName, variable length
    Buf plan_data, generic_data;
    for (int k = 0; k < 5; ++k) {
      Buf rec;
      for (size_t b = 0; b < record_length; ++b) {
        // Mostly small values, so protocols hit ICMP and times stay plausible now and then.
        rec.U8(static_cast<uint8_t>(rng() % 4 == 0 ? rng() : rng() % 3));
      }
      plan_data.Append(rec);
      generic_data.Append(rec).U8(1).U8('x');
    }
    Decoder d{DecoderOptions{}};
    Collect c;
    d.DecodeDatagram(Ipfix(1'700'000'000, 0, 1, {Set(2, plan_t), Set(2, generic_t)}).bytes(),
                     Exp(), kT0, c);
    const Buf data = Ipfix(1'700'000'000, 0, 1,
                           {Set(300, plan_data, false), Set(301, generic_data, false)});
    d.DecodeDatagram(data.bytes(), Exp(), kT0, c);
    ASSERT_EQ(c.records.size(), 10u);
    for (size_t k = 0; k < 5; ++k) {
      EXPECT_EQ(c.records[k].template_id, 300);
      EXPECT_EQ(c.records[5 + k].template_id, 301);
      EXPECT_EQ(Describe(c.records[k]), Describe(c.records[5 + k])) << "record " << k;
    }
  }
}

TEST(DecoderIpfixTest, VarlenPastEndAndBadOptionsScope) {
  Decoder d{DecoderOptions{}};
  Collect c;
  Buf t;
  t.U16(300).U16(1).U16(82).U16(65535);
  Buf rec;
  rec.U8(200).Bytes({'x', 'y'});  // claims 200 bytes, has 2
  d.DecodeDatagram(Ipfix(1, 0, 0, {Set(2, t), Set(300, rec, false)}).bytes(), Exp(), kT0, c);
  EXPECT_EQ(Err(d, DecodeError::kRecordTruncated), 1u);
  Buf rec3;
  rec3.U8(255).U16(60000);  // 3-byte form past the end
  d.DecodeDatagram(Ipfix(1, 0, 0, {Set(300, rec3, false)}).bytes(), Exp(), kT0, c);
  EXPECT_EQ(Err(d, DecodeError::kRecordTruncated), 2u);
  // Options template with scope count 0 (RFC 7011 forbids it).
  Buf ot;
  ot.U16(400).U16(1).U16(0).U16(305).U16(4);
  d.DecodeDatagram(Ipfix(1, 0, 0, {Set(3, ot)}).bytes(), Exp(), kT0, c);
  EXPECT_EQ(Err(d, DecodeError::kTemplateBadScope), 1u);
  // Message length larger than the datagram.
  Buf lying = Ipfix(1, 0, 0, {});
  lying.Patch16(2, 1000);
  d.DecodeDatagram(lying.bytes(), Exp(), kT0, c);
  EXPECT_EQ(Err(d, DecodeError::kIpfixLengthMismatch), 1u);
  EXPECT_TRUE(c.records.empty());
}

// A message length shorter than the datagram: the sets are decoded to the datagram's end only
// when their own lengths cover it exactly (the length field is then what is wrong); otherwise
// the bytes past the length are not the message's.
TEST(DecoderIpfixTest, ShortMessageLengthWithSetsCoveringTheDatagram) {
  Buf t;
  t.U16(300).U16(2).U16(1).U16(4).U16(2).U16(4);
  Buf rec;
  rec.U32(1000).U32(3);
  {
    Decoder d{DecoderOptions{}};
    Collect c;
    Buf m = Ipfix(1, 0, 0, {Set(2, t), Set(300, rec, false)});
    m.Patch16(2, static_cast<uint16_t>(m.bytes().size() - 2));  // 2 bytes short
    d.DecodeDatagram(m.bytes(), Exp(), kT0, c);
    EXPECT_EQ(Err(d, DecodeError::kIpfixLengthMismatch), 1u);
    ASSERT_EQ(c.records.size(), 1u);
    EXPECT_EQ(c.records[0].bytes, 1000u);
    EXPECT_EQ(Err(d, DecodeError::kSetPastEnd), 0u);
  }
  {
    // Trailing bytes that are no set: the message ends at its length, as before.
    Decoder d{DecoderOptions{}};
    Collect c;
    Buf m = Ipfix(1, 0, 0, {Set(2, t), Set(300, rec, false)});
    const size_t length = m.bytes().size();
    m.U16(0xffff).U16(0x0001).U8(7);
    m.Patch16(2, static_cast<uint16_t>(length));
    d.DecodeDatagram(m.bytes(), Exp(), kT0, c);
    EXPECT_EQ(Err(d, DecodeError::kIpfixLengthMismatch), 1u);
    EXPECT_EQ(c.records.size(), 1u);
    EXPECT_EQ(d.Totals().ErrorTotal(), 1u);
  }
}

TEST(DecoderIpfixTest, SamplingFromPacketIntervalAndSpace) {
  Decoder d{DecoderOptions{}};
  Collect c;
  // Options template: scope selectorId(302, 4); samplingPacketInterval(305, 4) and
  // samplingPacketSpace(306, 4): 1 selected, 99 skipped = 1 in 100.
  Buf ot;
  ot.U16(400).U16(3).U16(1).U16(302).U16(4).U16(305).U16(4).U16(306).U16(4);
  Buf od;
  od.U32(7).U32(1).U32(99);
  Buf t;
  t.U16(300).U16(2).U16(302).U16(4).U16(2).U16(4);
  Buf rec;
  rec.U32(7).U32(3);
  d.DecodeDatagram(Ipfix(1, 0, 0, {Set(3, ot), Set(400, od), Set(2, t), Set(300, rec)}).bytes(),
                   Exp(), kT0, c);
  ASSERT_EQ(c.records.size(), 1u);
  EXPECT_EQ(c.records[0].sampling, 100u);
}

TEST(DecoderV5Test, RecordsAndSequence) {
  Decoder d{DecoderOptions{}};
  Collect c;
  auto v5 = [](uint32_t seq, uint16_t count) {
    Buf b;
    b.U16(5).U16(count).U32(10000).U32(1'700'000'000).U32(0).U32(seq).U8(0).U8(3).U16(0x4000 | 50);
    for (uint16_t i = 0; i < count; ++i) {
      b.Bytes({10, 0, 0, 1}).Bytes({10, 0, 0, 2}).Bytes({0, 0, 0, 0}).U16(1).U16(2);
      b.U32(4).U32(400).U32(9000).U32(9500).U16(53).U16(5353).U8(0).U8(0x18).U8(17).U8(0);
      b.U16(0).U16(0).U8(24).U8(24).U16(0);
    }
    return b;
  };
  d.DecodeDatagram(v5(0, 2).bytes(), Exp(), kT0, c);
  d.DecodeDatagram(v5(5, 1).bytes(), Exp(), kT0, c);  // records 2..4 lost
  ASSERT_EQ(c.records.size(), 3u);
  EXPECT_EQ(c.records[0].source_id, 3u);
  EXPECT_EQ(c.records[0].sampling, 50u);
  EXPECT_EQ(c.records[0].first_ms, 1'700'000'000'000 - 1000);
  EXPECT_EQ(c.records[0].protocol, 17);
  EXPECT_EQ(c.records[0].engine_type, 0);
  EXPECT_EQ(c.records[0].engine_id, 3);
  EXPECT_EQ(c.records[0].flows, 1u);
  EXPECT_EQ(d.Totals().sequence_lost, 3u);
}

TEST(DecoderV9Test, EngineFieldsAndFlowCount) {
  Decoder d{DecoderOptions{}};
  Collect c;
  Buf t;
  t.U16(256).U16(4).U16(38).U16(1).U16(39).U16(1).U16(3).U16(4).U16(1).U16(4);
  Buf r;
  r.U8(7).U8(9).U32(12).U32(1500);
  d.DecodeDatagram(V9(2, 5000, 1, 1, 0, {Set(0, t), Set(256, r)}).bytes(), Exp(), kT0, c);
  ASSERT_EQ(c.records.size(), 1u);
  EXPECT_EQ(c.records[0].engine_type, 7);
  EXPECT_EQ(c.records[0].engine_id, 9);
  EXPECT_EQ(c.records[0].flows, 12u);
  EXPECT_EQ(c.records[0].bytes, 1500u);
  // Without the fields (or with 0), v9 takes them from the source ID as nfcapd does; IPFIX not.
  d.DecodeDatagram(V9(1, 5000, 1, 2, 0x0305, {Set(0, V4Template())}).bytes(), Exp(), kT0, c);
  d.DecodeDatagram(V9(1, 5000, 1, 3, 0x0305, {Set(256, V4Record(1, 1, 0, 0))}).bytes(), Exp(),
                   kT0, c);
  ASSERT_EQ(c.records.size(), 2u);
  EXPECT_EQ(c.records[1].engine_type, 3);
  EXPECT_EQ(c.records[1].engine_id, 5);
}

// A flow store file's leading template datagrams teach templates but are not traffic: no
// datagram counted, no sequence or uptime checked (a replayed sequence number would otherwise
// read as reordering or loss, and its uptime as a restart).
TEST(DecoderV9Test, StoredTemplatesAreLearnedWithoutCountingTraffic) {
  Decoder d{DecoderOptions{}};
  Collect c;
  d.DecodeDatagram(V9(1, 100000, 1, 41, 0, {Set(0, V4Template())}).bytes(), Exp(), kT0, c);
  Decoder fresh{DecoderOptions{}};
  // The store writes the last sequence seen and an uptime of its own.
  fresh.LearnTemplatesOnly(V9(1, 5, 1, 41, 0, {Set(0, V4Template())}).bytes(), Exp(), kT0, c);
  fresh.DecodeDatagram(V9(1, 101000, 1, 42, 0, {Set(256, V4Record(2, 200, 0, 0))}).bytes(),
                       Exp(), kT0, c);
  ASSERT_EQ(c.records.size(), 1u);
  EXPECT_EQ(c.records[0].bytes, 200u);
  const ExporterStats t = fresh.Totals();
  EXPECT_EQ(t.datagrams, 1u);
  EXPECT_EQ(t.v9_datagrams, 1u);
  EXPECT_EQ(t.sequence_lost, 0u);
  EXPECT_EQ(t.sequence_reordered, 0u);
  EXPECT_EQ(t.restarts, 0u);
  EXPECT_EQ(t.early_sets_buffered, 0u);
  // A datagram outside -r's --from/--to: its template is learned, its flow records are neither
  // delivered nor kept waiting (also those of a template not known yet).
  Decoder window{DecoderOptions{}};
  Collect w;
  window.LearnTemplatesOnly(V9(2, 5, 1, 7, 4, {Set(300, V4Record(9, 9, 0, 0)),
                                               Set(0, V4Template(300)),
                                               Set(300, V4Record(9, 9, 0, 0))}).bytes(),
                            Exp(), kT0, w);
  EXPECT_TRUE(w.records.empty());
  EXPECT_EQ(window.Totals().early_sets_buffered, 0u);
  EXPECT_EQ(window.Totals().records, 0u);
  EXPECT_EQ(Err(window, DecodeError::kV9CountMismatch), 0u);  // the skipped records are no lie
  window.DecodeDatagram(V9(1, 6, 1, 8, 4, {Set(300, V4Record(3, 30, 0, 0))}).bytes(), Exp(), kT0,
                        w);
  ASSERT_EQ(w.records.size(), 1u);
  EXPECT_EQ(w.records[0].bytes, 30u);
}

TEST(DecoderTest, RandomMutationsNeverCrash) {
  // A bounded fuzz pass over valid v9 and IPFIX datagrams; ASan/UBSan builds make it strict.
  Buf v9 = V9(3, 5000, 1, 1, 0, {Set(0, V4Template()), Set(256, V4Record(1, 1, 0, 0))});
  Buf t;
  t.U16(300).U16(2).U16(82).U16(65535).U16(1).U16(4);
  Buf ipfix = Ipfix(1, 0, 0, {Set(2, t), Set(300, Buf().U8(1).U8('a').U32(5))});
  std::mt19937 rng(12345);
  DecoderOptions o;
  o.early_max_sets = 64;
  Decoder d{o};
  Collect c;
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> m = (i % 2 ? v9 : ipfix).bytes();
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) m[rng() % m.size()] = static_cast<uint8_t>(rng());
    if (rng() % 5 == 0) m.resize(rng() % m.size());
    d.DecodeDatagram(m, Exp(static_cast<uint8_t>(rng() % 4)), kT0 + i, c);
    c.records.clear();
  }
  EXPECT_EQ(d.Totals().datagrams, 20000u);
  EXPECT_LE(d.Totals().early_sets_pending, 4u * 64u);
}

}  // namespace
}  // namespace nf
