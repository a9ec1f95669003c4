// SharedTemplateStore: decoders of several workers (--workers) see each other's templates,
// early data waiting in another worker is decoded once the template is shared, and
// redefinitions propagate. Refreshes do not move the store's generation.
#include <cstdint>
#include <vector>

#include "collector/decode/decoder.h"
#include "collector/decode/shared_templates.h"
#include "gtest/gtest.h"

namespace nf {
namespace {

void U16(std::vector<uint8_t>& d, uint16_t v) {
  d.push_back(static_cast<uint8_t>(v >> 8));
  d.push_back(static_cast<uint8_t>(v));
}
void U32(std::vector<uint8_t>& d, uint32_t v) {
  U16(d, static_cast<uint16_t>(v >> 16));
  U16(d, static_cast<uint16_t>(v));
}
void Header(std::vector<uint8_t>& d, uint16_t count, uint32_t seq) {
  U16(d, 9);
  U16(d, count);
  U32(d, 1000);
  U32(d, 1'700'000'000);
  U32(d, seq);
  U32(d, 0);
}
// Template 256 with IPV4_DST_ADDR and IN_BYTES, each `bytes_len` long for the byte counter.
std::vector<uint8_t> Template(uint32_t seq, uint16_t bytes_len) {
  std::vector<uint8_t> d;
  Header(d, 1, seq);
  U16(d, 0);
  U16(d, 16);
  U16(d, 256);
  U16(d, 2);
  U16(d, 12);
  U16(d, 4);
  U16(d, 1);
  U16(d, bytes_len);
  return d;
}
std::vector<uint8_t> Data(uint32_t seq, uint32_t bytes, uint16_t bytes_len) {
  std::vector<uint8_t> d;
  Header(d, 1, seq);
  U16(d, 256);
  U16(d, static_cast<uint16_t>(4 + 4 + bytes_len));  // set header + one record
  U32(d, 0x0a000001);
  if (bytes_len == 8) U32(d, 0);
  U32(d, bytes);
  return d;
}

class Collect : public RecordSink {
 public:
  void OnRecord(const DecodedRecord& r) override { bytes.push_back(r.bytes); }
  std::vector<uint64_t> bytes;
};

TEST(SharedTemplatesTest, OneWorkersTemplateDecodesAnothersData) {
  SharedTemplateStore store;
  DecoderOptions o;
  o.shared_templates = &store;
  Decoder a(o), b(o);
  Collect sink;
  const ExporterId e1{IpAddress::V4(0xc0000201), 1111};
  const ExporterId e2{IpAddress::V4(0xc0000201), 2222};  // same router, other source port
  a.DecodeDatagram(Template(0, 4), e1, 1'000'000, sink);
  EXPECT_EQ(store.size(), 1u);
  b.DecodeDatagram(Data(0, 1500, 4), e2, 1'000'001, sink);
  EXPECT_EQ(sink.bytes, (std::vector<uint64_t>{1500}));

  // A refresh of the same layout does not move the generation.
  const uint64_t gen = store.generation();
  a.DecodeDatagram(Template(1, 4), e1, 2'000'000, sink);
  EXPECT_EQ(store.generation(), gen);
}

TEST(SharedTemplatesTest, EarlyDataInAnotherWorkerIsDecodedWhenTheTemplateIsShared) {
  SharedTemplateStore store;
  DecoderOptions o;
  o.shared_templates = &store;
  Decoder a(o), b(o);
  Collect sink;
  const ExporterId e1{IpAddress::V4(0xc0000201), 1111};
  const ExporterId e2{IpAddress::V4(0xc0000201), 2222};
  b.DecodeDatagram(Data(0, 700, 4), e2, 1'000'000, sink);  // no template anywhere yet
  EXPECT_TRUE(sink.bytes.empty());
  a.DecodeDatagram(Template(0, 4), e1, 1'000'001, sink);
  b.SyncSharedTemplates(1'000'002, sink);  // the worker's tick
  EXPECT_EQ(sink.bytes, (std::vector<uint64_t>{700}));
  uint64_t decoded = 0;
  b.ForEachExporter([&](const ExporterId&, const ExporterStats& s) { decoded += s.early_records_decoded; });
  EXPECT_EQ(decoded, 1u);
}

TEST(SharedTemplatesTest, RedefinitionPropagates) {
  SharedTemplateStore store;
  DecoderOptions o;
  o.shared_templates = &store;
  Decoder a(o), b(o);
  Collect sink;
  const ExporterId e{IpAddress::V4(0xc0000201), 1111};
  a.DecodeDatagram(Template(0, 4), e, 1'000'000, sink);
  b.DecodeDatagram(Data(0, 10, 4), e, 1'000'001, sink);
  // The exporter now sends 8-byte byte counters; only worker b sees the new template.
  b.DecodeDatagram(Template(1, 8), e, 2'000'000, sink);
  a.DecodeDatagram(Data(1, 1'000'000, 8), e, 2'000'001, sink);
  EXPECT_EQ(sink.bytes, (std::vector<uint64_t>{10, 1'000'000}));
}

TEST(SharedTemplatesTest, StoreIsBounded) {
  SharedTemplateStore store(1);
  TemplateRecord r;
  r.template_id = 256;
  r.fields.push_back(TemplateField{1, 4, 0});
  store.Publish(TemplateKey{IpAddress::V4(1), 0, 9, 0, 256}, r, 0);
  store.Publish(TemplateKey{IpAddress::V4(2), 0, 9, 0, 256}, r, 0);
  EXPECT_EQ(store.size(), 1u);
  EXPECT_EQ(store.refused(), 1u);
}

}  // namespace
}  // namespace nf
