// Test-side, independent reading of a capture: per-flow packet and layer-3 byte tallies, so that
// the traffic generator's truth and the exporter's totals can be checked against what a pcap
// really holds (read back with libpcap, parsed here without any project parser).
#ifndef NF_TESTS_E2E_CAPTURE_TALLY_H_
#define NF_TESTS_E2E_CAPTURE_TALLY_H_

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "tools/trafgen/trafgen.h"

namespace nf::testing {

// The generator's flow identity, ordered so it can key a std::map.
struct TallyKey {
  uint8_t ip_version = 0;
  uint8_t protocol = 0;
  std::string src;
  std::string dst;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;  // ICMP: type*256+code
  uint8_t tos = 0;
  uint16_t vlan = 0;
  auto Tie() const {
    return std::tie(ip_version, protocol, src, dst, src_port, dst_port, tos, vlan);
  }
  friend bool operator<(const TallyKey& a, const TallyKey& b) { return a.Tie() < b.Tie(); }
  friend bool operator==(const TallyKey& a, const TallyKey& b) { return a.Tie() == b.Tie(); }
};

struct FlowTally {
  uint64_t packets = 0;
  uint64_t bytes = 0;  // sum of IP total lengths
  int64_t first_us = 0;
  int64_t last_us = 0;
  uint8_t tcp_flags = 0;     // OR over packets
  uint64_t fin_packets = 0;  // packets carrying FIN
  bool fin_on_last = false;  // the last packet seen carried FIN
};

struct CaptureTally {
  std::map<TallyKey, FlowTally> flows;
  uint64_t packets = 0;
  uint64_t l3_bytes = 0;
  uint64_t ipv4_packets = 0;
  uint64_t ipv6_packets = 0;
  uint64_t vlan_packets = 0;
  uint64_t truncated = 0;  // caplen < original length
  uint64_t bad_ipv4_checksum = 0;
  uint64_t bad_lengths = 0;   // IP length inconsistent with the frame's original length
  uint64_t unparsed = 0;      // headers not all captured, or not IPv4/IPv6
  uint64_t out_of_order = 0;  // timestamps going backwards
  uint32_t max_caplen = 0;
  int link_type = -1;
  uint32_t file_snaplen = 0;
  std::string read_error;  // libpcap stopped before the end of the file (empty: clean)
};

// Reads `path` with libpcap; false (and *error) when it cannot be opened.
bool TallyCapture(const std::string& path, CaptureTally* tally, std::string* error);

// The key of a truth row.
TallyKey KeyOf(const trafgen::FlowTruth& t);

}  // namespace nf::testing

#endif  // NF_TESTS_E2E_CAPTURE_TALLY_H_
