#include "wire/ipfix.h"

#include <utility>

#include "common/byte_reader.h"

namespace nf {

bool IpfixHeader::Decode(std::span<const uint8_t> message, IpfixHeader& out) {
  if (message.size() < kIpfixMessageHeaderSize) return false;
  const uint8_t* p = message.data();
  out.version = ByteReader::LoadBe16(p);
  out.length = ByteReader::LoadBe16(p + 2);
  out.export_secs = ByteReader::LoadBe32(p + 4);
  out.sequence = ByteReader::LoadBe32(p + 8);
  out.domain = ByteReader::LoadBe32(p + 12);
  return true;
}

const char* IpfixTemplateErrorName(IpfixTemplateError e) {
  switch (e) {
    case IpfixTemplateError::kNone: return "none";
    case IpfixTemplateError::kHeaderTruncated: return "template_header_truncated";
    case IpfixTemplateError::kTruncated: return "template_truncated";
    case IpfixTemplateError::kBadTemplateId: return "template_bad_id";
    case IpfixTemplateError::kBadScopeCount: return "template_bad_scope_count";
    case IpfixTemplateError::kTooManyFields: return "template_too_many_fields";
    case IpfixTemplateError::kRecordTooLong: return "template_record_too_long";
    case IpfixTemplateError::kZeroLengthRecord: return "template_zero_length_record";
  }
  return "unknown";
}

IpfixTemplateError ParseIpfixTemplateSet(
    uint16_t set_id, std::span<const uint8_t> body, size_t max_fields,
    absl::FunctionRef<void(TemplateRecord&&)> on_template,
    absl::FunctionRef<void(uint16_t template_id, bool all)> on_withdraw,
    absl::FunctionRef<void(IpfixTemplateError)> on_skipped) {
  const bool options = set_id == kIpfixOptionsTemplateSetId;
  ByteReader r(body);
  while (r.remaining() >= 4) {
    uint16_t id = 0, count = 0;
    r.ReadU16(id);
    r.ReadU16(count);
    if (count == 0) {
      on_withdraw(id, id == set_id);
      continue;
    }
    uint16_t scope_count = 0;
    if (options && !r.ReadU16(scope_count)) return IpfixTemplateError::kHeaderTruncated;
    if (id < kIpfixMinDataSetId) return IpfixTemplateError::kBadTemplateId;
    if (options && (scope_count == 0 || scope_count > count)) {
      return IpfixTemplateError::kBadScopeCount;
    }
    // Checked before reading the fields, so a hostile count costs nothing.
    if (count > max_fields) return IpfixTemplateError::kTooManyFields;
    TemplateRecord t;
    t.template_id = id;
    t.is_options = options;
    size_t fixed = 0;
    bool variable = false;
    for (uint16_t i = 0; i < count; ++i) {
      TemplateField f;
      if (!r.ReadU16(f.type) || !r.ReadU16(f.length)) return IpfixTemplateError::kTruncated;
      if (f.type & kIpfixEnterpriseBit) {
        f.type &= static_cast<uint16_t>(~kIpfixEnterpriseBit);
        if (!r.ReadU32(f.enterprise)) return IpfixTemplateError::kTruncated;
      }
      if (f.length == kVariableLength) {
        variable = true;
      } else {
        fixed += f.length;
      }
      (i < scope_count ? t.scope_fields : t.fields).push_back(f);
    }
    if (fixed > kIpfixMaxRecordLength) {
      on_skipped(IpfixTemplateError::kRecordTooLong);
      continue;
    }
    // A record of no bytes would make a data set walk spin in place.
    if (fixed == 0 && !variable) {
      on_skipped(IpfixTemplateError::kZeroLengthRecord);
      continue;
    }
    on_template(std::move(t));
  }
  return IpfixTemplateError::kNone;
}

}  // namespace nf
