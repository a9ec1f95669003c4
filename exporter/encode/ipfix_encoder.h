// IPFIX export encoding (RFC 7011): flow records in, ready-to-send IPFIX messages out.
//
// The IPFIX twin of V9Encoder (exporter/encode/v9_encoder.h): same options, same FlowRecord input,
// same TemplateSpec layouts, same template refresh (every N messages AND every T seconds, as
// RFC 7011 section 8.4 asks of UDP exporters) and MTU packing. What differs is the wire:
// - message header: version 10, message length, export time, sequence number = data records
//   (flow and options data) sent before this message in this observation domain (modulo 2^32),
//   observation domain ID;
// - template set ID 2, options template set ID 3, no padding (RFC 7011 allows but does not need
//   it, and unpadded sets are what most exporters send);
// - v9-only fields are mapped to their IPFIX equivalents: FIRST_SWITCHED / LAST_SWITCHED (22/21,
//   sysUptime-relative) become flowStartMilliseconds / flowEndMilliseconds (152/153, absolute
//   ms, 8 bytes) since IPFIX headers carry no sysUptime; in IPv6 layouts ICMP_TYPE (32, which
//   IANA defines as icmpTypeCodeIPv4) becomes icmpTypeCodeIPv6 (139). Every other v9 ID (1-127
//   and the IPFIX IDs the registry knows) is already an IANA information element and is kept.
// - sampling is announced in an options template scoped to the observation domain
//   (observationDomainId 149) with samplingInterval/samplingAlgorithm (34/35): tshark, nfdump
//   1.6/1.7 and flowcollect all decode that pair; nfdump 1.7 only takes 305/304 together with a
//   selectorId, which would describe a per-sampler rather than system-wide setting.
#ifndef NF_EXPORTER_ENCODE_IPFIX_ENCODER_H_
#define NF_EXPORTER_ENCODE_IPFIX_ENCODER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "common/flow_record.h"
#include "wire/ipfix.h"
#include "wire/netflow_v9.h"
#include "templates/template_spec.h"

namespace nf {

struct IpfixEncoderOptions {
  uint32_t observation_domain_id = 0;
  // Largest IP datagram (IP + UDP headers + IPFIX message); messages are never fragmented.
  size_t mtu = 1500;
  // IP + UDP header bytes to subtract from the MTU: 28 for IPv4, 48 when any collector is IPv6.
  size_t ip_udp_overhead = 28;
  // Template refresh (RFC 7011 8.4, UDP): before the first data, then every N messages and
  // every T (export clock). 0 disables that criterion. Same defaults as v9.
  uint32_t template_refresh_datagrams = 20;
  TimeUs template_refresh_us = 60'000'000;
  // Records wait at most this long before a partial message is sent.
  TimeUs flush_interval_us = 1'000'000;
  // 1-in-N sampling announced in an options template; <= 1 = none.
  uint32_t sampling_interval = 0;
  uint8_t sampling_algorithm = 1;  // 1 deterministic, 2 random
};

struct IpfixEncoderStats {
  uint64_t records = 0;           // flow data records sent
  uint64_t options_records = 0;   // options data records sent (they count in the sequence)
  uint64_t datagrams = 0;         // messages built
  uint64_t template_records = 0;  // template + options template records sent
  uint64_t bytes = 0;             // IPFIX message bytes
};

// The IPFIX layout a v9 layout is exported with (the field mapping above). `ipv6` selects the
// ICMP type/code mapping.
TemplateRecord ToIpfixLayout(const TemplateRecord& v9_layout, bool ipv6);

class IpfixEncoder {
 public:
  using DatagramSink = std::function<void(std::span<const uint8_t>)>;

  // Validates the (mapped) layouts and the MTU (templates plus one record of every layout must
  // fit in one message); errors name the field or the sizes.
  static absl::StatusOr<std::unique_ptr<IpfixEncoder>> Create(const IpfixEncoderOptions& options,
                                                              const TemplateSpec& spec,
                                                              DatagramSink sink);

  // Queues one record at export time `now_us`; sends the message first when it would not fit.
  void Add(const FlowRecord& record, TimeUs now_us);
  // Sends the pending message if its oldest record has waited the flush interval.
  void Tick(TimeUs now_us);
  // Sends whatever is pending now (end of input, shutdown).
  void Flush(TimeUs now_us);
  // Accepted for interface parity with V9Encoder: IPFIX timestamps are absolute, so the uptime
  // origin does not affect the output.
  void SetBootTime(TimeUs /*boot_us*/) {}

  const IpfixEncoderStats& stats() const { return stats_; }
  // Sequence number of the next message (data records sent so far, modulo 2^32).
  uint32_t next_sequence() const { return sequence_; }
  size_t max_payload() const { return max_payload_; }
  uint16_t options_template_id() const { return options_template_id_; }
  // The layouts as sent (after the IPFIX field mapping), in spec family order.
  const std::vector<TemplateRecord>& templates() const { return template_records_; }

 private:
  struct Layout {
    TemplateRecord tmpl;
    size_t record_length = 0;
    std::vector<uint8_t> staged;  // data records waiting, capacity max_payload
    uint16_t staged_records = 0;
  };
  IpfixEncoder() = default;
  bool TemplatesDue(TimeUs now_us) const;
  size_t TemplateBytes() const;
  size_t PendingBytes() const;
  void Send(TimeUs now_us);
  size_t LayoutIndex(const FlowRecord& r) const;

  IpfixEncoderOptions options_;
  TemplateSpec spec_;
  DatagramSink sink_;
  std::vector<Layout> layouts_;
  std::vector<TemplateRecord> template_records_;
  TemplateRecord options_template_;
  bool sampling_ = false;
  uint16_t options_template_id_ = 0;
  size_t max_payload_ = 0;
  size_t template_bytes_ = 0;
  std::vector<uint8_t> buffer_;
  uint32_t sequence_ = 0;
  bool templates_ever_sent_ = false;
  bool current_has_templates_ = false;
  uint32_t datagrams_since_templates_ = 0;
  TimeUs last_templates_us_ = 0;
  size_t pending_records_ = 0;
  TimeUs oldest_pending_us_ = 0;
  IpfixEncoderStats stats_;
};

}  // namespace nf

#endif  // NF_EXPORTER_ENCODE_IPFIX_ENCODER_H_
