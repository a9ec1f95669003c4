// The IPFIX (RFC 7011) wire format: message header, set constants and (options) template set
// parsing. Shared by the IPFIX encoder and the collector's decoder, so the two cannot disagree
// on a number. Information elements are in wire/v9_fields.h (IPFIX numbers 1-127 are NetFlow
// v9's); TemplateRecord / TemplateField are the v9 model's (wire/netflow_v9.h).
#ifndef NF_WIRE_IPFIX_H_
#define NF_WIRE_IPFIX_H_

#include <cstddef>
#include <cstdint>
#include <span>

#include "absl/functional/function_ref.h"
#include "wire/netflow_v9.h"

namespace nf {

inline constexpr uint16_t kIpfixVersion = 10;
inline constexpr size_t kIpfixMessageHeaderSize = 16;
inline constexpr size_t kIpfixSetHeaderSize = 4;
inline constexpr uint16_t kIpfixTemplateSetId = 2;
inline constexpr uint16_t kIpfixOptionsTemplateSetId = 3;
// IANA observationDomainId, the options template scope (system-wide for this exporter).
inline constexpr uint16_t kIpfixObservationDomainIdIe = 149;
// Sets 4-255 are reserved; data sets start at 256 as in v9.
inline constexpr uint16_t kIpfixMinDataSetId = 256;
// The enterprise bit of an information element number: a 4-byte enterprise number follows.
inline constexpr uint16_t kIpfixEnterpriseBit = 0x8000;
// A data record must fit in one message after the message header and a set header.
inline constexpr size_t kIpfixMaxRecordLength =
    65535 - kIpfixMessageHeaderSize - kIpfixSetHeaderSize;

struct IpfixHeader {
  uint16_t version = kIpfixVersion;
  uint16_t length = 0;  // of the whole message, this header included
  uint32_t export_secs = 0;
  // Data records sent in this observation domain before this message (RFC 7011 3.1).
  uint32_t sequence = 0;
  uint32_t domain = 0;  // observation domain ID

  // Reads the 16-byte header from the start of `message`; false when shorter (the version is
  // not checked here).
  static bool Decode(std::span<const uint8_t> message, IpfixHeader& out);
};

// Why an IPFIX (options) template set could not be parsed completely.
enum class IpfixTemplateError : uint8_t {
  kNone = 0,
  kHeaderTruncated,   // the set ends inside an options template header (no scope count)
  kTruncated,         // field specifiers run past the set
  kBadTemplateId,     // template ID < 256
  kBadScopeCount,     // options template scope count 0 or above the field count
  kTooManyFields,     // field count above the caller's limit
  // Refused records whose extent is known, so the walk goes on after them (`on_skipped`):
  kRecordTooLong,     // fixed-length fields add up to more than kIpfixMaxRecordLength
  kZeroLengthRecord,  // every field is 0 bytes long: a data record of no bytes at all
};
const char* IpfixTemplateErrorName(IpfixTemplateError e);

// Parses the body (after the 4-byte set header) of a template set (`set_id` 2) or options
// template set (3), calling back in wire order:
// - `on_template` for each valid template. Zero-length fields are legal (they take no bytes of a
//   data record); enterprise-specific fields have the bit cleared from `type` and `enterprise`
//   set. Scope fields of options templates go to `scope_fields`.
// - `on_withdraw(template_id, all)` for each withdrawal (field count 0); `all` when the template
//   ID is the set's own ID, which withdraws every template of the set's kind (RFC 7011 8.1).
// - `on_skipped(error)` for kRecordTooLong / kZeroLengthRecord records (not delivered).
// Trailing bytes shorter than a template header are padding. Returns the first error that
// stops the walk (the records before it have been delivered), or kNone.
IpfixTemplateError ParseIpfixTemplateSet(
    uint16_t set_id, std::span<const uint8_t> body, size_t max_fields,
    absl::FunctionRef<void(TemplateRecord&&)> on_template,
    absl::FunctionRef<void(uint16_t template_id, bool all)> on_withdraw,
    absl::FunctionRef<void(IpfixTemplateError)> on_skipped);

}  // namespace nf

#endif  // NF_WIRE_IPFIX_H_
