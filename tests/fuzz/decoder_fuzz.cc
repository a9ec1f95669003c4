// Fuzz target: the collector's stateful v9/v5/IPFIX decoder with its template cache. An input
// is a sequence of datagrams, each prefixed by a 2-byte length and a 1-byte exporter selector,
// so templates learned from one datagram apply to later ones (redefinitions, early data,
// withdrawals). Small bounds make the limits reachable.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "collector/decode/decoder.h"

namespace {
class CountingSink : public nf::RecordSink {
 public:
  void OnRecord(const nf::DecodedRecord& r) override { packets_ += r.packets; }
  uint64_t packets_ = 0;
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nf::DecoderOptions options;
  options.early_max_sets = 8;
  options.early_max_bytes = 1 << 16;
  options.max_exporters = 4;
  options.templates.max_per_exporter = 16;
  nf::Decoder decoder(options);
  CountingSink sink;
  size_t pos = 0;
  nf::TimeUs now = 1'700'000'000'000'000;
  while (pos + 3 <= size) {
    const size_t len = (size_t{data[pos]} << 8) | data[pos + 1];
    const uint8_t selector = data[pos + 2];
    pos += 3;
    const size_t take = len < size - pos ? len : size - pos;
    // Exactly-sized copy: reads past the datagram hit ASan's redzone.
    std::vector<uint8_t> datagram(data + pos, data + pos + take);
    pos += take;
    nf::ExporterId exporter;
    exporter.address = nf::IpAddress::V4(0x7f000001u + (selector & 7));
    exporter.port = static_cast<uint16_t>(2055 + (selector >> 6));
    decoder.DecodeDatagram(std::span<const uint8_t>(datagram.data(), datagram.size()), exporter,
                           now, sink);
    now += (selector & 0x38) ? 1'000'000 : 200'000'000;  // sometimes age early data out
    decoder.Expire(now);
  }
  return 0;
}
