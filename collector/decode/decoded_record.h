// The collector's flat record: what the decoder hands to a sink for every NetFlow v5 / v9 /
// IPFIX data record, whatever its template looked like.
//
// It is a plain value (no owning members) so the decoder can fill one on the stack per record
// and sinks (CSV writer, aggregator, tests) can copy it freely: nothing is allocated per record.
// The enrichment fields (countries, interface names) are filled after decoding, before the
// outputs see the record; the names point into the enrichment snapshot, which outlives every
// OnRecord call (and any record a worker holds until the end of its datagram), never longer.
#ifndef NF_COLLECTOR_DECODE_DECODED_RECORD_H_
#define NF_COLLECTOR_DECODE_DECODED_RECORD_H_

#include <array>
#include <cstdint>
#include <limits>

#include "absl/strings/string_view.h"
#include "common/ip_address.h"
#include "common/time_format.h"

namespace nf {

// Who sent a datagram: the UDP source address and port.
struct ExporterId {
  IpAddress address;
  uint16_t port = 0;
  friend bool operator==(const ExporterId&, const ExporterId&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const ExporterId& e) {
    return H::combine(std::move(h), e.address, e.port);
  }
};

// "No time in the record" for first_ms / last_ms.
inline constexpr int64_t kNoTime = std::numeric_limits<int64_t>::min();

// DecodedRecord::version of a record made from an sFlow v5 flow sample. sFlow's version is
// also 5, so it gets a value of its own that no NetFlow/IPFIX version uses.
inline constexpr uint8_t kSflowRecordVersion = 105;

struct DecodedRecord {
  ExporterId exporter;
  uint8_t version = 0;        // 5, 9, 10 (IPFIX) or kSflowRecordVersion
  bool from_early_buffer = false;  // decoded after its template arrived late
  uint32_t source_id = 0;     // v9 source ID, IPFIX observation domain, v5 engine type<<8|id
  uint16_t template_id = 0;   // 0 for v5
  TimeUs receive_time_us = 0;
  int64_t first_ms = kNoTime;  // absolute Unix milliseconds
  int64_t last_ms = kNoTime;

  uint8_t ip_version = 0;  // 4, 6, or 0 when the record has no address
  uint8_t protocol = 0;
  uint8_t tos = 0;
  uint8_t src_mask = 0;
  uint8_t dst_mask = 0;
  uint8_t direction = 0;
  uint8_t flow_end_reason = 0;
  // ENGINE_TYPE/ENGINE_ID (IE 38/39), or the v5 header's. v9 without them (or with 0): the
  // source ID's second and first bytes, as nfcapd has it. IPFIX: 0 unless sent.
  uint8_t engine_type = 0;
  uint8_t engine_id = 0;
  uint16_t tcp_flags = 0;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;  // ICMP: type * 256 + code when the record carries no port
  uint16_t vlan = 0;
  uint32_t input_if = 0;
  uint32_t output_if = 0;
  uint32_t src_as = 0;
  uint32_t dst_as = 0;
  // Sampling interval (1 in N) that applies to this record; 0 when the exporter never said.
  uint32_t sampling = 0;
  IpAddress src_addr;
  IpAddress dst_addr;
  IpAddress next_hop;
  // IN_PKTS/IN_BYTES (IE 2/1), scaled by `sampling` only with --apply-sampling.
  uint64_t packets = 0;
  uint64_t bytes = 0;
  // OUT_PKTS/OUT_BYTES (IE 24/23): reported separately, never added to packets/bytes.
  uint64_t out_packets = 0;
  uint64_t out_bytes = 0;
  // Flows this record stands for: FLOWS (IE 3) when the exporter aggregates, else 1.
  uint32_t flows = 1;
  // The reverse direction of a bidirectional record: RFC 5103 reverse octets/packets
  // (enterprise 29305), or NSEL responderOctets/Packets (IE 232/299). Never in packets/bytes.
  uint64_t reverse_packets = 0;
  uint64_t reverse_bytes = 0;
  // Firewall and NAT events (NSEL, NEL, IPFIX NAT logging). 0 / unset when not sent.
  // The event's own time: observationTime* (IE 322-325), absolute Unix milliseconds.
  int64_t event_time_ms = kNoTime;
  IpAddress post_nat_src_addr;  // IE 225/281, ASA 40001
  IpAddress post_nat_dst_addr;  // IE 226/282, ASA 40002
  uint16_t post_nat_src_port = 0;  // IE 227, ASA 40003
  uint16_t post_nat_dst_port = 0;  // IE 228, ASA 40004
  uint16_t fw_ext_event = 0;  // ASA extended event (33002)
  uint8_t fw_event = 0;       // firewallEvent (IE 233), ASA's older FW_EVENT (40005)
  uint8_t nat_event = 0;      // natEvent (IE 230)
  uint32_t ingress_vrf = 0;   // IE 234
  uint32_t egress_vrf = 0;    // IE 235
  // Enrichment (flowcollect --geo-db, --interfaces): ISO 3166 two-letter codes, {0, 0} when
  // unknown; interface names, empty when unknown. Sinks copy what they keep.
  std::array<char, 2> src_country{};
  std::array<char, 2> dst_country{};
  absl::string_view input_if_name;
  absl::string_view output_if_name;
};

// Receives decoded records. Implementations must not keep the reference past the call.
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  virtual void OnRecord(const DecodedRecord& record) = 0;
};

}  // namespace nf

#endif  // NF_COLLECTOR_DECODE_DECODED_RECORD_H_
