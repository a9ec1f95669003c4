// The capture loop's first step for one packet, the same on the one-thread path and on every
// capture or parsing worker: parse the frame, count it by result, then ask the sampler.
#ifndef NF_EXPORTER_APP_PACKET_STEP_H_
#define NF_EXPORTER_APP_PACKET_STEP_H_

#include <array>
#include <cstddef>
#include <cstdint>

#include "capture/packet_parser.h"
#include "capture/pcap_source.h"
#include "exporter/meter/flow_table.h"

namespace nf {

// Per-packet counters of one capture loop (plain integers: one thread writes them).
struct PacketCounters {
  uint64_t seen = 0;
  uint64_t parsed = 0;
  std::array<uint64_t, kParseResultCount> results{};
  uint64_t sampled_out = 0;
  uint64_t fragments = 0;
  uint64_t non_first_fragments = 0;
  uint64_t l4_truncated = 0;
};

// Parses `pkt` into `meta` and counts it in `c` (all but the sampler's count). True when it
// parsed.
inline bool ParseAndCount(const RawPacket& pkt, PacketCounters& c, PacketMeta& meta) {
  ++c.seen;
  meta.time_us = pkt.time_us;
  const ParseResult r = pkt.link_supported
                            ? ParsePacket(pkt.data, pkt.caplen, pkt.wire_len, pkt.link, meta)
                            : ParseResult::kUnsupportedLinkType;
  ++c.results[static_cast<size_t>(r)];
  if (r != ParseResult::kOk) return false;
  ++c.parsed;
  if (meta.is_fragment()) ++c.fragments;
  if (meta.is_non_first_fragment()) ++c.non_first_fragments;
  if (meta.l4_truncated()) ++c.l4_truncated;
  return true;
}

// Parses `pkt` into `meta` and counts it in `c`. True when the packet is to be metered: it
// parsed and the sampler keeps it.
inline bool ParseCountAndSample(const RawPacket& pkt, PacketSampler& sampler, PacketCounters& c,
                                PacketMeta& meta) {
  if (!ParseAndCount(pkt, c, meta)) return false;
  if (!sampler.Take()) {
    ++c.sampled_out;
    return false;
  }
  return true;
}

}  // namespace nf

#endif  // NF_EXPORTER_APP_PACKET_STEP_H_
