// Fuzz target: the collector's sFlow v5 walk (collector/decode/sflow_decoder.h) through
// Decoder::DecodeDatagram. An input is a sequence of datagrams, each prefixed by a 2-byte
// length and a 1-byte selector (agent's exporter, time step, --apply-sampling), like the
// decoder target's; the target writes sFlow's version word (0x00000005) in front of each body,
// so no mutation is spent on reaching the sFlow path. Small table bounds make the interface and
// stream limits reachable. It traps unless every flow sample counted was delivered as exactly
// one sFlow record and the interface table stayed within its bound.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "collector/decode/decoder.h"

namespace {
class CheckingSink : public nf::RecordSink {
 public:
  void OnRecord(const nf::DecodedRecord& r) override {
    if (r.version != nf::kSflowRecordVersion) __builtin_trap();
    if (r.ip_version != 0 && r.ip_version != 4 && r.ip_version != 6) __builtin_trap();
    ++records_;
  }
  uint64_t records_ = 0;
};
// LearnTemplatesOnly must not deliver sFlow records.
class TrapSink : public nf::RecordSink {
 public:
  void OnRecord(const nf::DecodedRecord&) override { __builtin_trap(); }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kMaxInterfaces = 8;
  nf::DecoderOptions options;
  options.max_exporters = 4;
  options.sflow.max_interfaces = kMaxInterfaces;
  options.sflow.max_streams = 16;
  nf::DecoderOptions sampled = options;
  sampled.apply_sampling = true;
  nf::Decoder decoder(options);
  nf::Decoder scaling(sampled);
  CheckingSink sink;
  CheckingSink scaled_sink;
  size_t pos = 0;
  nf::TimeUs now = 1'700'000'000'000'000;
  while (pos + 3 <= size) {
    const size_t len = (size_t{data[pos]} << 8) | data[pos + 1];
    const uint8_t selector = data[pos + 2];
    pos += 3;
    const size_t take = len < size - pos ? len : size - pos;
    // Exactly-sized copy: reads past the datagram hit ASan's redzone.
    std::vector<uint8_t> exact(4 + take);
    exact[3] = 5;
    if (take != 0) std::memcpy(exact.data() + 4, data + pos, take);
    pos += take;
    nf::ExporterId exporter;
    exporter.address = nf::IpAddress::V4(0x7f000001u + (selector & 7));
    exporter.port = 6343;
    const std::span<const uint8_t> d(exact.data(), exact.size());
    decoder.DecodeDatagram(d, exporter, now, sink);
    if (selector & 0x80) scaling.DecodeDatagram(d, exporter, now, scaled_sink);
    if (selector & 0x40) {
      // (Datagrams from exporters past max_exporters are counted even here, by the decoder's
      // refusal path; what matters is that no sFlow is decoded.)
      TrapSink trap;
      const nf::ExporterStats before = decoder.Totals();
      decoder.LearnTemplatesOnly(d, exporter, now, trap);
      const nf::ExporterStats after = decoder.Totals();
      if (after.sflow_datagrams != before.sflow_datagrams ||
          after.sflow.counter_samples != before.sflow.counter_samples ||
          decoder.sflow_interfaces() > kMaxInterfaces) {
        __builtin_trap();
      }
    }
    now += (selector & 0x38) ? 1'000'000 : -5'000'000;  // sometimes back in time
  }
  if (decoder.Totals().sflow.flow_samples != sink.records_) __builtin_trap();
  if (decoder.Totals().records != sink.records_) __builtin_trap();
  if (scaling.Totals().sflow.flow_samples != scaled_sink.records_) __builtin_trap();
  if (decoder.sflow_interfaces() > kMaxInterfaces) __builtin_trap();
  return 0;
}
