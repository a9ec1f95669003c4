// The IPFIX (RFC 7011) wire format: message header and set constants. Shared by the IPFIX
// encoder and the collector's decoder, so the two cannot disagree on a number. Information
// elements are in wire/v9_fields.h (IPFIX numbers 1-127 are NetFlow v9's).
#ifndef NF_WIRE_IPFIX_H_
#define NF_WIRE_IPFIX_H_

#include <cstddef>
#include <cstdint>

namespace nf {

inline constexpr uint16_t kIpfixVersion = 10;
inline constexpr size_t kIpfixMessageHeaderSize = 16;
inline constexpr uint16_t kIpfixTemplateSetId = 2;
inline constexpr uint16_t kIpfixOptionsTemplateSetId = 3;
// IANA observationDomainId, the options template scope (system-wide for this exporter).
inline constexpr uint16_t kIpfixObservationDomainIdIe = 149;
// Sets 4-255 are reserved; data sets start at 256 as in v9.
inline constexpr uint16_t kIpfixMinDataSetId = 256;
// The enterprise bit of an information element number: a 4-byte enterprise number follows.
inline constexpr uint16_t kIpfixEnterpriseBit = 0x8000;

}  // namespace nf

#endif  // NF_WIRE_IPFIX_H_
