// Synthetic traffic generator: writes an Ethernet pcap with a known per-flow truth.
//
// Tests and benchmarks use it instead of committing large captures. A run is fully determined by
// its Options (including the seed): the same options give byte-identical files on any platform,
// because the generator uses its own PRNG and distributions rather than the implementation-defined
// <random> distributions.
//
// What the capture holds:
//   * exactly `packets` frames in exactly `flows` unidirectional flows whose sizes follow a
//     heavy-tailed (Pareto) mix, optionally capped by `max_flow_packets`;
//   * IPv4/IPv6 in a chosen ratio, TCP/UDP/ICMP(v6) in chosen weights, optional 802.1Q tags;
//   * valid frames: IPv4 header checksums, TCP/UDP/ICMP checksums, exact IP/UDP lengths, zero
//     payload, Ethernet padding up to 60 bytes (padding is never counted in IP lengths);
//   * TCP flows open with SYN and end with FIN|ACK on their last packet;
//   * flows interleave (a pool of `concurrency` active flows, one picked at random per packet) and
//     timestamps advance at `rate_pps` from `start_us`, so with sane settings no flow idles out or
//     hits an active timeout in an exporter: Generate() refuses settings that would (see
//     max_gap_us / max_flow_duration_us) unless those checks are disabled.
//
// Every flow's IP-level key (version, protocol, addresses, ports, ICMP type/code) is unique, so the
// truth stays exact whether or not a consumer also keys on ToS or VLAN.
//
// The truth file is CSV with the header
//   ip_version,protocol,src_addr,dst_addr,src_port,dst_port,tos,vlan,packets,bytes,first,last
// where bytes is the sum of IP total lengths (what NetFlow counts), ICMP flows have src_port 0 and
// dst_port = type*256+code (as exporters key them), vlan is 0 when untagged, and first/last are
// ISO 8601 UTC with milliseconds (truncated), one row per flow in order of first packet.
#ifndef NF_TOOLS_TRAFGEN_TRAFGEN_H_
#define NF_TOOLS_TRAFGEN_TRAFGEN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/ip_address.h"
#include "common/time_format.h"

namespace nf::trafgen {

struct Options {
  uint64_t packets = 10000;
  uint64_t flows = 1000;
  uint64_t seed = 1;
  // Fraction of flows that are IPv6 (0..1).
  double ipv6_ratio = 0.3;
  // Relative protocol weights (need not sum to 1; ICMP becomes ICMPv6 on IPv6 flows).
  double tcp_weight = 0.6;
  double udp_weight = 0.3;
  double icmp_weight = 0.1;
  // Fraction of flows carried in an 802.1Q tag, and how many distinct VLAN IDs (100, 101, ...).
  double vlan_ratio = 0.0;
  uint32_t vlan_count = 4;
  // Pareto shape for the flow-size weights: smaller is heavier-tailed (1.0..3.0 is sensible).
  double pareto_alpha = 1.2;
  // Largest flow in packets; 0 means no cap.
  uint64_t max_flow_packets = 0;
  // Time of the first packet and the packet rate (packets per second of capture time).
  TimeUs start_us = 1704110400000000;  // 2024-01-01T12:00:00Z
  double rate_pps = 100000.0;
  // Flows active at once; 0 means min(flows, 1024).
  uint64_t concurrency = 0;
  // Cut frames to this many bytes (pcap caplen); 0 keeps whole frames. IP total length and the
  // pcap original length stay those of the whole frame.
  uint32_t snaplen = 0;
  // Generate() fails if a flow has two consecutive packets further apart than this, or lasts
  // longer than max_flow_duration_us, so that exporter timeouts (15 s inactive, 1800 s active by
  // default) never split a flow and the truth stays exact. 0 disables a check.
  int64_t max_gap_us = 10'000'000;
  int64_t max_flow_duration_us = 1'700'000'000;
};

// One flow of the truth file.
struct FlowTruth {
  uint8_t ip_version = 4;
  uint8_t protocol = 0;
  IpAddress src;
  IpAddress dst;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;  // ICMP: type*256+code
  uint8_t tos = 0;
  uint16_t vlan = 0;
  uint64_t packets = 0;
  uint64_t bytes = 0;  // sum of IP total lengths
  TimeUs first_us = 0;
  TimeUs last_us = 0;
};

struct Summary {
  uint64_t packets = 0;
  uint64_t flows = 0;
  uint64_t l3_bytes = 0;     // sum of IP total lengths
  uint64_t frame_bytes = 0;  // sum of original frame lengths
  uint64_t ipv4_flows = 0;
  uint64_t ipv6_flows = 0;
  uint64_t tcp_flows = 0;
  uint64_t udp_flows = 0;
  uint64_t icmp_flows = 0;
  uint64_t vlan_flows = 0;
  uint64_t largest_flow = 0;
  TimeUs first_us = 0;
  TimeUs last_us = 0;
};

// Checks option ranges; Generate() calls it too.
absl::Status Validate(const Options& options);

// Writes the capture to `pcap_path` and the truth to `truth_path` (each via a temporary file and
// rename, so readers never see a partial file). An empty truth_path skips the truth file.
absl::StatusOr<Summary> Generate(const Options& options, const std::string& pcap_path,
                                 const std::string& truth_path);

// The truth file's header line (without newline) and a reader for it, for tests and scripts.
inline constexpr absl::string_view kTruthHeader =
    "ip_version,protocol,src_addr,dst_addr,src_port,dst_port,tos,vlan,packets,bytes,first,last";
absl::StatusOr<std::vector<FlowTruth>> ReadTruth(const std::string& path);

// "<pcap_path>.truth.csv": where the CLI puts the truth by default.
std::string DefaultTruthPath(absl::string_view pcap_path);

}  // namespace nf::trafgen

#endif  // NF_TOOLS_TRAFGEN_TRAFGEN_H_
