// sFlow version 5 (sflow.org, sflow_version_5.txt) for the collector's decoder: the walk of one
// datagram's samples into DecodedRecords (one per flow sample, version kSflowRecordVersion) and
// into a bounded table of the interface counters agents send in counter samples.
//
// What is decoded, and the rules a reader of the output needs:
// - Flow samples, compact (format 1) and expanded (format 3), enterprise 0. Each becomes one
//   record: packets 1, bytes the sampled frame's length, sampling its sampling_rate, source_id
//   its data source index, first/last the receive time (samples carry no time). Addresses,
//   ports, protocol, ToS, TCP flags and VLAN come from the raw packet header record through the
//   capture module's frame parser (header protocol 1 Ethernet, 11 IPv4, 12 IPv6; any other
//   header gives a record with counters only). Without a raw header, a sampled IPv4/IPv6 record
//   gives them (bytes: its length field). Extended switch (VLAN when the header had none),
//   router (next hop, masks) and gateway (AS numbers) records are read too.
// - Interfaces: an ifIndex is taken as is; the "internal" value (0x3fffffff, or 0xffffffff in
//   the expanded form) becomes 0; a packet the agent discarded (format 1) has output_if 0 and
//   is counted; "multiple interfaces" (format 2) is 0.
// - Counter samples (formats 2 and 4): generic interface (1) and Ethernet (2) counters are kept
//   per (agent address, ifIndex), the newest value winning; they are not flow records.
// - Drop notifications (format 5), other formats and other enterprises are skipped by their
//   length and counted; so are flow/counter records that are not used.
// - Sequence numbers: each datagram's per (agent, sub-agent) feeds SflowStats::datagrams_*;
//   each flow sample's per (agent, sub-agent, data source) feeds the exporter's sequence_*
//   counters (units: records, as for v5 and IPFIX). Agent uptime going back is a restart.
// - Anything malformed stops its datagram, or only its sample when the sample's own length is
//   sound, with one DecodeError. Every read is bounded by the datagram; nothing allocates per
//   datagram once the agent's streams and interfaces are known.
#ifndef NF_COLLECTOR_DECODE_SFLOW_DECODER_H_
#define NF_COLLECTOR_DECODE_SFLOW_DECODER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "collector/decode/decode_stats.h"
#include "collector/decode/decoded_record.h"
#include "collector/decode/exporter_state.h"
#include "common/ip_address.h"
#include "common/time_format.h"

namespace nf {

// sFlow's 32-bit version word. NetFlow v5 begins with the 16-bit 0x0005, so the first 4 bytes
// tell them apart.
inline constexpr uint32_t kSflowVersion5 = 5;

// One agent interface: the agent's address and the ifIndex it reports.
struct SflowInterfaceKey {
  IpAddress agent;
  uint32_t if_index = 0;
  friend bool operator==(const SflowInterfaceKey&, const SflowInterfaceKey&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const SflowInterfaceKey& k) {
    return H::combine(std::move(h), k.agent, k.if_index);
  }
};
// Orders keys by agent (version, then bytes) and ifIndex, for stable report order.
bool SflowInterfaceKeyLess(const SflowInterfaceKey& a, const SflowInterfaceKey& b);

// Ethernet (dot3Stats*) counters, in the order of the sFlow record.
inline constexpr size_t kSflowDot3Counters = 13;
// Stable snake_case name of dot3 counter `i` ("alignment_errors", ...).
const char* SflowDot3Name(size_t i);

// What an agent last reported for one interface. The values are the agent's own (absolute,
// wrapping as the device's counters do), not deltas.
struct SflowInterfaceCounters {
  bool has_generic = false;   // a generic interface counters record (format 1) was seen
  bool has_ethernet = false;  // an Ethernet counters record (format 2) was seen
  uint32_t if_type = 0;
  uint32_t if_direction = 0;  // 0 unknown, 1 full duplex, 2 half, 3 in, 4 out
  uint32_t if_status = 0;     // bit 0 admin up, bit 1 operationally up
  uint32_t if_promiscuous = 0;
  uint64_t if_speed = 0;      // bits per second
  uint64_t in_octets = 0;
  uint32_t in_ucast_packets = 0;
  uint32_t in_multicast_packets = 0;
  uint32_t in_broadcast_packets = 0;
  uint32_t in_discards = 0;
  uint32_t in_errors = 0;
  uint32_t in_unknown_protos = 0;
  uint64_t out_octets = 0;
  uint32_t out_ucast_packets = 0;
  uint32_t out_multicast_packets = 0;
  uint32_t out_broadcast_packets = 0;
  uint32_t out_discards = 0;
  uint32_t out_errors = 0;
  std::array<uint32_t, kSflowDot3Counters> dot3{};
  uint64_t samples = 0;   // counter samples that updated this interface
  TimeUs updated_us = 0;  // receive time of the last update
};

class SflowDecoder {
 public:
  struct Limits {
    // Interfaces kept in the counter table; new ones beyond are refused (counted).
    size_t max_interfaces = 65536;
    // Sequence streams (agent, sub-agent[, data source]); beyond, not checked (counted).
    size_t max_streams = 65536;
  };
  explicit SflowDecoder(const Limits& limits) : limits_(limits) {}

  // What a datagram's walk needs from the Decoder.
  struct Input {
    ExporterState* state;
    const ExporterId* exporter;
    TimeUs receive_time;
    bool apply_sampling;
    uint32_t reorder_window;
  };
  // Decodes one datagram whose first 4 bytes are kSflowVersion5 (the caller checked).
  void Decode(std::span<const uint8_t> datagram, const Input& in, RecordSink& sink);

  void ForEachInterface(
      absl::FunctionRef<void(const SflowInterfaceKey&, const SflowInterfaceCounters&)> fn) const;
  size_t interfaces() const { return interfaces_.size(); }

 private:
  struct Datagram;
  struct StreamKey {
    IpAddress agent;
    uint32_t sub_agent = 0;
    uint32_t source_type = 0;
    uint32_t source_index = 0;
    bool flow_samples = false;  // false: the datagram stream
    friend bool operator==(const StreamKey&, const StreamKey&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const StreamKey& k) {
      return H::combine(std::move(h), k.agent, k.sub_agent, k.source_type, k.source_index,
                        k.flow_samples);
    }
  };

  void DecodeFlowSample(const Datagram& dg, std::span<const uint8_t> body, bool expanded,
                        RecordSink& sink);
  void DecodeCounterSample(const Datagram& dg, std::span<const uint8_t> body, bool expanded);
  // Checks a sequence number on its stream: the datagram stream's gaps go to SflowStats, a
  // flow sample stream's to the exporter's sequence_* counters.
  void CheckSequence(const Datagram& dg, const StreamKey& key, uint32_t seq);
  // The table entry for `key`, created if there is room; null when the table is full.
  SflowInterfaceCounters* InterfaceFor(const SflowInterfaceKey& key, ExporterState& st);

  Limits limits_;
  absl::flat_hash_map<SflowInterfaceKey, SflowInterfaceCounters> interfaces_;
  // Stream IDs are the SequenceTracker keys' domain: small numbers for (agent, ...) keys that
  // do not fit the tracker's key.
  absl::flat_hash_map<StreamKey, uint32_t> stream_ids_;
  // Receives SequenceTracker counts that belong elsewhere (datagram gaps, per-sample uptime).
  ExporterStats scratch_;
};

}  // namespace nf

#endif  // NF_COLLECTOR_DECODE_SFLOW_DECODER_H_
