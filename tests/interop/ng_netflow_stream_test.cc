// flowcollect's decoder against a stream built exactly as FreeBSD's ng_netflow emits it
// (../shared/docs/ng_netflow.md section 1): templates 256/259 from templates/ng_netflow.tmpl,
// 1-second uptime resolution, header count including the 2 template records, datagrams closed
// only when "full" (len + 93 + 4 >= mtu - 64), FlowSets switching on record type, and templates
// only every 600 s — so after a collector restart data arrives before any template. Every
// record must decode once the templates arrive, with exact counters and times.
#include <cstdint>
#include <map>
#include <random>
#include <span>
#include <tuple>
#include <vector>

#include "collector/decode/decoder.h"
#include "common/byte_writer.h"
#include "wire/netflow_v9.h"
#include "gtest/gtest.h"
#include "templates/template_spec.h"

namespace nf {
namespace {

struct NgFlow {
  IpAddress src, dst;
  uint16_t src_port, dst_port;
  uint8_t protocol, tos;
  uint16_t input_if;
  uint32_t packets, bytes;
  uint32_t first_uptime_s, last_uptime_s;
};

// Emulates one ng_netflow export domain (FIB 0).
class NgEmulator {
 public:
  NgEmulator(const TemplateSpec& spec, uint32_t boot_unix_secs, size_t mtu)
      : spec_(spec), boot_(boot_unix_secs), mtu_(mtu) {}

  // Appends one expired flow at uptime `now_s`; returns completed datagrams.
  void Add(const NgFlow& f, uint32_t now_s, bool with_templates_if_due) {
    if (buf_.empty()) Open(now_s, with_templates_if_due);
    const bool v6 = f.src.is_v6();
    const TemplateRecord& t = spec_.LayoutFor(v6 ? 6 : 4, f.protocol);
    if (current_set_id_ != t.template_id) CloseSet(), OpenSet(t.template_id);
    ByteWriter w(std::span<uint8_t>(buf_.data() + len_, buf_.size() - len_));
    for (const TemplateField& field : t.fields) WriteField(w, field, f);
    ASSERT_TRUE(w.ok());
    len_ += w.position();
    ++count_;
    // ng_netflow closes the datagram as soon as another IPv6 record might not fit.
    if (len_ + 93 + 4 >= mtu_ - 64) Flush();
  }
  void Flush() {
    if (buf_.empty()) return;
    CloseSet();
    ByteWriter w(std::span<uint8_t>(buf_.data(), 20));
    V9Header h;
    h.count = static_cast<uint16_t>(count_);
    h.sys_uptime_ms = uptime_s_ * 1000;
    h.unix_secs = boot_ + uptime_s_;
    h.sequence = sequence_++;
    h.source_id = 0;
    h.Encode(w);
    buf_.resize(len_);
    datagrams_.push_back(std::move(buf_));
    buf_.clear();
  }
  std::vector<std::vector<uint8_t>>& datagrams() { return datagrams_; }
  void ForceTemplatesNext() { templates_due_ = true; }

 private:
  void Open(uint32_t now_s, bool allow_templates) {
    buf_.assign(65536, 0);
    len_ = 20;
    count_ = 0;
    uptime_s_ = now_s;
    current_set_id_ = 0xffff;
    if (allow_templates && templates_due_) {
      std::vector<TemplateRecord> layouts;
      for (const auto* l : spec_.Layouts()) layouts.push_back(*l);
      ByteWriter w(std::span<uint8_t>(buf_.data() + len_, buf_.size() - len_));
      EncodeTemplateFlowSet(layouts, w);
      len_ += w.position();
      count_ += 2;
      templates_due_ = false;
    }
  }
  void OpenSet(uint16_t id) {
    set_start_ = len_;
    len_ += 4;
    current_set_id_ = id;
  }
  void CloseSet() {
    if (current_set_id_ == 0xffff) return;
    while ((len_ - set_start_) % 4 != 0) buf_[len_++] = 0;
    const size_t n = len_ - set_start_;
    buf_[set_start_] = static_cast<uint8_t>(current_set_id_ >> 8);
    buf_[set_start_ + 1] = static_cast<uint8_t>(current_set_id_);
    buf_[set_start_ + 2] = static_cast<uint8_t>(n >> 8);
    buf_[set_start_ + 3] = static_cast<uint8_t>(n);
    current_set_id_ = 0xffff;
  }
  static void WriteField(ByteWriter& w, const TemplateField& field, const NgFlow& f) {
    switch (field.type) {
      case 8: case 27: w.PutBytes(f.src.bytes.data(), field.length); break;
      case 12: case 28: w.PutBytes(f.dst.bytes.data(), field.length); break;
      case 10: w.PutUnsigned(f.input_if, field.length); break;
      case 2: w.PutUnsigned(f.packets, field.length); break;
      case 1: w.PutUnsigned(f.bytes, field.length); break;
      case 22: w.PutUnsigned(uint64_t{f.first_uptime_s} * 1000, field.length); break;
      case 21: w.PutUnsigned(uint64_t{f.last_uptime_s} * 1000, field.length); break;
      case 7: w.PutUnsigned(f.src_port, field.length); break;
      case 11: w.PutUnsigned(f.dst_port, field.length); break;
      case 4: w.PutUnsigned(f.protocol, field.length); break;
      case 5: w.PutUnsigned(f.tos, field.length); break;
      case 6: w.PutUnsigned(f.protocol == 6 ? 0x1b : 0, field.length); break;
      default: w.PutZeros(field.length); break;  // next hop, OUTPUT_SNMP, OUT_*, AS, masks
    }
  }

  const TemplateSpec& spec_;
  uint32_t boot_;
  size_t mtu_;
  std::vector<uint8_t> buf_;
  size_t len_ = 0;
  size_t count_ = 0;
  size_t set_start_ = 0;
  uint16_t current_set_id_ = 0xffff;
  uint32_t uptime_s_ = 0;
  uint32_t sequence_ = 0;
  bool templates_due_ = false;  // the collector restarted after the last template refresh
  std::vector<std::vector<uint8_t>> datagrams_;
};

using Key = std::tuple<std::string, std::string, uint16_t, uint16_t, uint8_t>;

class CollectingSink : public RecordSink {
 public:
  void OnRecord(const DecodedRecord& r) override {
    Key k{r.src_addr.ToString(), r.dst_addr.ToString(), r.src_port, r.dst_port, r.protocol};
    records_[k].push_back(r);
  }
  std::map<Key, std::vector<DecodedRecord>> records_;
};

TEST(NgNetflowStreamTest, DataBeforeTemplatesDecodesCompletely) {
  auto spec = LoadTemplate("ng_netflow");
  ASSERT_TRUE(spec.ok()) << spec.status();
  const uint32_t boot = 1'700'000'000;
  NgEmulator ng(*spec, boot, 1500);
  std::mt19937 rng(7);
  std::vector<NgFlow> flows;
  uint32_t now = 4000;  // uptime in seconds; the template clock is mid-period
  for (int i = 0; i < 600; ++i) {
    NgFlow f{};
    const bool v6 = i % 3 == 0;
    if (v6) {
      uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8};
      a[14] = static_cast<uint8_t>(i >> 8);
      a[15] = static_cast<uint8_t>(i);
      f.src = IpAddress::V6(a);
      a[13] = 1;
      f.dst = IpAddress::V6(a);
    } else {
      f.src = IpAddress::V4(0x0a000000u + static_cast<uint32_t>(i));
      f.dst = IpAddress::V4(0xc0000201u);
    }
    f.protocol = i % 5 == 0 ? 1 : (i % 2 ? 6 : 17);
    f.src_port = f.protocol == 1 ? 0 : static_cast<uint16_t>(1024 + i);
    f.dst_port = f.protocol == 1 ? 0 : 443;
    f.tos = static_cast<uint8_t>(i % 4);
    f.input_if = 3;
    f.packets = 1 + rng() % 1000;
    f.bytes = f.packets * (40 + rng() % 1400);
    f.first_uptime_s = now - 20 - rng() % 100;
    f.last_uptime_s = now - rng() % 15;
    flows.push_back(f);
    // Templates become due only after ~1/3 of the stream (600 s refresh after a restart).
    if (i == 200) ng.ForceTemplatesNext();
    ng.Add(f, now, true);
    if (i % 37 == 0) ++now;
  }
  ng.Flush();
  ASSERT_GT(ng.datagrams().size(), 20u);

  Decoder decoder(DecoderOptions{});
  CollectingSink sink;
  ExporterId exporter{IpAddress::V4(0xc0000202u), 5000};
  TimeUs t = TimeUs{boot + now} * 1'000'000;
  size_t records_before_templates = 0;
  bool templates_seen = false;
  for (const auto& d : ng.datagrams()) {
    decoder.DecodeDatagram(d, exporter, t, sink);
    size_t n = 0;
    for (const auto& [k, v] : sink.records_) n += v.size();
    if (!templates_seen) {
      templates_seen = decoder.Totals().templates > 0;
      if (!templates_seen) records_before_templates = n;
    }
  }
  EXPECT_EQ(records_before_templates, 0u) << "records cannot decode before their template";
  ExporterStats totals = decoder.Totals();
  EXPECT_EQ(totals.records, flows.size());
  EXPECT_GT(totals.early_records_decoded, 100u);
  EXPECT_EQ(totals.ErrorTotal(), 0u);
  EXPECT_EQ(totals.sequence_lost, 0u);
  for (const NgFlow& f : flows) {
    Key k{f.src.ToString(), f.dst.ToString(), f.src_port, f.dst_port, f.protocol};
    auto it = sink.records_.find(k);
    ASSERT_NE(it, sink.records_.end()) << std::get<0>(k);
    ASSERT_EQ(it->second.size(), 1u);
    const DecodedRecord& r = it->second[0];
    EXPECT_EQ(r.template_id, f.src.is_v6() ? 259 : 256);
    EXPECT_EQ(r.packets, f.packets);
    EXPECT_EQ(r.bytes, f.bytes);
    EXPECT_EQ(r.tos, f.tos);
    EXPECT_EQ(r.input_if, 3u);
    EXPECT_EQ(r.out_packets, 0u);
    EXPECT_EQ(r.first_ms, (int64_t{boot} + f.first_uptime_s) * 1000);
    EXPECT_EQ(r.last_ms, (int64_t{boot} + f.last_uptime_s) * 1000);
  }
}

// Datagram sizes match the notes: IPv4-only datagrams carry 24 records (1392 B payload).
TEST(NgNetflowStreamTest, DatagramFillMatchesKernel) {
  auto spec = LoadTemplate("ng_netflow");
  ASSERT_TRUE(spec.ok());
  NgEmulator ng(*spec, 1'700'000'000, 1500);
  for (int i = 0; i < 48; ++i) {
    NgFlow f{};
    f.src = IpAddress::V4(0x0a000001u + static_cast<uint32_t>(i));
    f.dst = IpAddress::V4(0x0a000002u);
    f.protocol = 17;
    f.packets = 1;
    f.bytes = 100;
    ng.Add(f, 100, false);
  }
  ASSERT_EQ(ng.datagrams().size(), 2u);
  EXPECT_EQ(ng.datagrams()[0].size(), 1392u);
  Decoder decoder(DecoderOptions{});
  CollectingSink sink;
  // Without templates nothing decodes yet, and nothing is counted as malformed.
  for (const auto& d : ng.datagrams()) decoder.DecodeDatagram(d, ExporterId{}, 0, sink);
  EXPECT_EQ(decoder.Totals().records, 0u);
  EXPECT_EQ(decoder.Totals().early_sets_pending, 2u);
}

}  // namespace
}  // namespace nf
