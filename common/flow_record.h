// The flow record handed from a flow table to the encoders.
//
// Trivially copyable by design: expired flows travel by value over SPSC rings from the
// flow-table shards to the export thread, so no lifetime is tied to a queue.
#ifndef NF_COMMON_FLOW_RECORD_H_
#define NF_COMMON_FLOW_RECORD_H_

#include <cstdint>
#include <type_traits>

#include "common/ip_address.h"
#include "common/time_format.h"

namespace nf {

// Why a flow was exported; values are IPFIX flowEndReason (IE 136, RFC 5102).
enum class EndReason : uint8_t {
  kIdleTimeout = 0x01,
  kActiveTimeout = 0x02,
  kEndOfFlow = 0x03,        // TCP FIN or RST seen
  kForcedEnd = 0x04,        // end of input, SIGINT/SIGTERM
  kLackOfResources = 0x05,  // table full: least recently used flow evicted
};

// What identifies a flow (fields not in the key stay zero).
struct FlowKey {
  IpAddress src;
  IpAddress dst;
  uint16_t src_port = 0;  // ICMP: 0
  uint16_t dst_port = 0;  // ICMP: type * 256 + code, as Cisco does
  uint8_t protocol = 0;
  uint8_t tos = 0;        // IPv4 ToS / IPv6 traffic class
  uint16_t vlan = 0;      // outer 802.1Q VLAN ID, 0 when untagged
  uint32_t input_if = 0;  // SNMP ifIndex of the capture interface

  friend bool operator==(const FlowKey&, const FlowKey&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const FlowKey& k) {
    return H::combine(std::move(h), k.src, k.dst, k.src_port, k.dst_port, k.protocol, k.tos,
                      k.vlan, k.input_if);
  }
};

struct FlowRecord {
  FlowKey key;
  uint64_t packets = 0;
  uint64_t bytes = 0;   // layer-3 bytes (IP total length), as NetFlow counts
  TimeUs first_us = 0;  // packet time of the first and last packet
  TimeUs last_us = 0;
  uint32_t output_if = 0;
  uint8_t tcp_flags = 0;  // OR of all packets' flags
  EndReason end_reason = EndReason::kIdleTimeout;
  uint8_t min_ttl = 0;
  uint8_t max_ttl = 0;
  // Filled by enrichment (routing tables, ASN database) when the flow is exported; 0 = unknown.
  uint8_t src_mask = 0;
  uint8_t dst_mask = 0;
  uint32_t src_as = 0;
  uint32_t dst_as = 0;
};
static_assert(std::is_trivially_copyable_v<FlowRecord>);

}  // namespace nf

#endif  // NF_COMMON_FLOW_RECORD_H_
