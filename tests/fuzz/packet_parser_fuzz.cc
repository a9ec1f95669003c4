// Fuzz target: the exporter's frame parser over every link type. The first input byte picks
// the link type; the rest is the frame. ParsePacket must never read past caplen.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "capture/packet_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static constexpr nf::LinkType kLinks[] = {
      nf::LinkType::kEthernet, nf::LinkType::kLinuxSll, nf::LinkType::kLinuxSll2,
      nf::LinkType::kRawIp,    nf::LinkType::kRawIpv4,  nf::LinkType::kRawIpv6,
      nf::LinkType::kNull,     nf::LinkType::kLoop,     nf::LinkType::kNflog};
  const nf::LinkType link = kLinks[data[0] % (sizeof(kLinks) / sizeof(kLinks[0]))];
  // Copy into an exactly-sized heap buffer so ASan catches any read past the frame.
  std::vector<uint8_t> frame(data + 1, data + size);
  nf::PacketMeta meta;
  nf::ParsePacket(frame.data(), frame.size(), frame.size() + (data[0] >> 4), link, meta);
  return 0;
}
