// IPFIX export encoding (RFC 7011): flow records in, ready-to-send IPFIX messages out.
//
// The IPFIX format on the shared MessagePacker (exporter/encode/message_packer.h): same options,
// FlowRecord input, TemplateSpec layouts, template refresh (every N messages AND every T
// seconds, as RFC 7011 section 8.4 asks of UDP exporters) and MTU packing as NetFlow v9. What
// differs is the wire:
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

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "common/byte_writer.h"
#include "common/flow_record.h"
#include "exporter/encode/message_packer.h"
#include "templates/template_spec.h"
#include "wire/ipfix.h"

namespace nf {

// Packing, refresh and flush options are MessageOptions (exporter/encode/message_packer.h).
struct IpfixEncoderOptions : MessageOptions {
  uint32_t observation_domain_id = 0;
};

using IpfixEncoderStats = MessageStats;

// The IPFIX layout a v9 layout is exported with (the field mapping above). `ipv6` selects the
// ICMP type/code mapping.
TemplateRecord ToIpfixLayout(const TemplateRecord& v9_layout, bool ipv6);

class IpfixEncoder final : public MessagePacker {
 public:
  static absl::StatusOr<std::unique_ptr<IpfixEncoder>> Create(const IpfixEncoderOptions& options,
                                                              const TemplateSpec& spec,
                                                              DatagramSink sink);
  // IPFIX timestamps are absolute, so the uptime origin does not affect the output.
  void SetBootTime(TimeUs /*boot_us*/) override {}

 private:
  IpfixEncoder() = default;
  void WriteHeader(TimeUs now_us, uint32_t sequence, ByteWriter& w) const override;
  void WriteTemplateSets(ByteWriter& w) const override;
  void FinishHeader(uint16_t records, ByteWriter& w) const override;

  uint32_t observation_domain_id_ = 0;
};

}  // namespace nf

#endif  // NF_EXPORTER_ENCODE_IPFIX_ENCODER_H_
