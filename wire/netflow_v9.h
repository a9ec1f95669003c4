// The NetFlow v9 wire model (RFC 3954): packet header, FlowSet headers, template and options
// template records, and 4-byte padding.
//
// Encoding and decoding are mirror images over ByteWriter/ByteReader so that round-trip tests
// come naturally. Nothing here allocates on the data-record path; template records own a small
// vector because templates are rare.
#ifndef NF_WIRE_NETFLOW_V9_H_
#define NF_WIRE_NETFLOW_V9_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "absl/functional/function_ref.h"
#include "common/byte_reader.h"
#include "common/byte_writer.h"

namespace nf {

inline constexpr uint16_t kNetflowV9Version = 9;
inline constexpr size_t kV9HeaderSize = 20;
inline constexpr size_t kFlowSetHeaderSize = 4;
inline constexpr uint16_t kTemplateFlowSetId = 0;
inline constexpr uint16_t kOptionsTemplateFlowSetId = 1;
inline constexpr uint16_t kMinDataFlowSetId = 256;
// Field length meaning "variable" (RFC 7011 section 7). v9 has none, but H3C NetStream sends it
// in v9 templates, so the v9 parser accepts it with IPFIX semantics.
inline constexpr uint16_t kVariableLength = 65535;

// Options template scope field types (RFC 3954 section 6.1).
enum class V9Scope : uint16_t { kSystem = 1, kInterface = 2, kLineCard = 3, kCache = 4, kTemplate = 5 };

struct V9Header {
  uint16_t version = kNetflowV9Version;
  // Number of records (template, options template and data) in the datagram.
  uint16_t count = 0;
  uint32_t sys_uptime_ms = 0;
  uint32_t unix_secs = 0;
  // Export datagrams sent by this source ID (RFC 3954: incremented per export packet).
  uint32_t sequence = 0;
  uint32_t source_id = 0;

  bool Encode(ByteWriter& w) const;
  // Reads 20 bytes; false when short (the version is not checked here).
  static bool Decode(ByteReader& r, V9Header& out);
};

struct FlowSetHeader {
  uint16_t id = 0;
  uint16_t length = 0;  // including this 4-byte header and padding
};

struct TemplateField {
  uint16_t type = 0;
  uint16_t length = 0;
  // IPFIX enterprise number; 0 for IANA / v9 fields.
  uint32_t enterprise = 0;
  friend bool operator==(const TemplateField&, const TemplateField&) = default;
};

struct TemplateRecord {
  uint16_t template_id = 0;
  std::vector<TemplateField> fields;
  // Options templates only: the scope fields come first on the wire.
  std::vector<TemplateField> scope_fields;
  bool is_options = false;

  // Bytes of one data record (sum of all field lengths; variable-length fields count 0).
  size_t RecordLength() const;
  // True when any field has kVariableLength.
  bool HasVariableLength() const;
  friend bool operator==(const TemplateRecord&, const TemplateRecord&) = default;
};

// Bytes needed after `length` bytes to reach a 4-byte boundary.
constexpr size_t PaddingFor(size_t length) { return (4 - (length % 4)) % 4; }

// Writes one template FlowSet (ID 0) holding `templates`, padded to 4 bytes. On overflow the
// writer's ok() turns false.
bool EncodeTemplateFlowSet(std::span<const TemplateRecord> templates, ByteWriter& w);
// Writes one options template FlowSet (ID 1) holding `templates`, padded to 4 bytes.
bool EncodeOptionsTemplateFlowSet(std::span<const TemplateRecord> templates, ByteWriter& w);

// Why a template FlowSet could not be parsed completely.
enum class TemplateParseError : uint8_t {
  kNone = 0,
  kTruncated,          // a record runs past the FlowSet
  kBadTemplateId,      // template ID < 256
  kZeroFields,         // v9 data template with field count 0 (withdrawal is IPFIX only)
  kBadScopeLength,     // options template scope/option lengths not multiples of 4
  kRecordTooLong,      // record length over 65535 - headers
};
const char* TemplateParseErrorName(TemplateParseError e);

// Parses the body (after the 4-byte header) of a v9 template FlowSet, calling `on_template` for
// each valid template. Trailing padding (< 4 bytes) is ignored. Returns the first error; the
// templates before it have been delivered.
TemplateParseError ParseV9TemplateFlowSet(std::span<const uint8_t> body,
                                          absl::FunctionRef<void(TemplateRecord&&)> on_template);
// Same for an options template FlowSet (ID 1) body.
TemplateParseError ParseV9OptionsTemplateFlowSet(
    std::span<const uint8_t> body, absl::FunctionRef<void(TemplateRecord&&)> on_template);

}  // namespace nf

#endif  // NF_WIRE_NETFLOW_V9_H_
