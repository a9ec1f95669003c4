#include "wire/netflow_v9.h"

namespace nf {

bool V9Header::Encode(ByteWriter& w) const {
  w.PutU16(version);
  w.PutU16(count);
  w.PutU32(sys_uptime_ms);
  w.PutU32(unix_secs);
  w.PutU32(sequence);
  w.PutU32(source_id);
  return w.ok();
}

bool V9Header::Decode(ByteReader& r, V9Header& out) {
  if (r.remaining() < kV9HeaderSize) return false;
  r.ReadU16(out.version);
  r.ReadU16(out.count);
  r.ReadU32(out.sys_uptime_ms);
  r.ReadU32(out.unix_secs);
  r.ReadU32(out.sequence);
  r.ReadU32(out.source_id);
  return true;
}

size_t TemplateRecord::RecordLength() const {
  size_t n = 0;
  for (const auto& f : scope_fields) n += f.length == kVariableLength ? 0 : f.length;
  for (const auto& f : fields) n += f.length == kVariableLength ? 0 : f.length;
  return n;
}

bool TemplateRecord::HasVariableLength() const {
  for (const auto& f : scope_fields) {
    if (f.length == kVariableLength) return true;
  }
  for (const auto& f : fields) {
    if (f.length == kVariableLength) return true;
  }
  return false;
}

namespace {

bool EncodeFlowSet(uint16_t flowset_id, std::span<const TemplateRecord> templates, bool options,
                   ByteWriter& w) {
  const size_t start = w.position();
  w.PutU16(flowset_id);
  w.PutU16(0);  // patched below
  for (const TemplateRecord& t : templates) {
    w.PutU16(t.template_id);
    if (options) {
      w.PutU16(static_cast<uint16_t>(t.scope_fields.size() * 4));
      w.PutU16(static_cast<uint16_t>(t.fields.size() * 4));
      for (const auto& f : t.scope_fields) {
        w.PutU16(f.type);
        w.PutU16(f.length);
      }
    } else {
      w.PutU16(static_cast<uint16_t>(t.fields.size()));
    }
    for (const auto& f : t.fields) {
      w.PutU16(f.type);
      w.PutU16(f.length);
    }
  }
  w.PutZeros(PaddingFor(w.position() - start));
  if (!w.ok()) return false;
  return w.PatchU16(start + 2, static_cast<uint16_t>(w.position() - start));
}

}  // namespace

bool EncodeTemplateFlowSet(std::span<const TemplateRecord> templates, ByteWriter& w) {
  return EncodeFlowSet(kTemplateFlowSetId, templates, false, w);
}

bool EncodeOptionsTemplateFlowSet(std::span<const TemplateRecord> templates, ByteWriter& w) {
  return EncodeFlowSet(kOptionsTemplateFlowSetId, templates, true, w);
}

const char* TemplateParseErrorName(TemplateParseError e) {
  switch (e) {
    case TemplateParseError::kNone: return "none";
    case TemplateParseError::kTruncated: return "template_truncated";
    case TemplateParseError::kBadTemplateId: return "template_bad_id";
    case TemplateParseError::kZeroFields: return "template_zero_fields";
    case TemplateParseError::kBadScopeLength: return "options_template_bad_lengths";
    case TemplateParseError::kRecordTooLong: return "template_record_too_long";
  }
  return "unknown";
}

namespace {
// A record must fit in one datagram after the v9 header and a FlowSet header.
constexpr size_t kMaxRecordLength = 65535 - kV9HeaderSize - kFlowSetHeaderSize;
}  // namespace

TemplateParseError ParseV9TemplateFlowSet(std::span<const uint8_t> body,
                                          absl::FunctionRef<void(TemplateRecord&&)> on_template) {
  ByteReader r(body);
  // Anything shorter than a template header (4 bytes) at the end is padding.
  while (r.remaining() >= 4) {
    TemplateRecord t;
    uint16_t count = 0;
    r.ReadU16(t.template_id);
    r.ReadU16(count);
    if (t.template_id < kMinDataFlowSetId) return TemplateParseError::kBadTemplateId;
    if (count == 0) return TemplateParseError::kZeroFields;
    if (r.remaining() < size_t{count} * 4) return TemplateParseError::kTruncated;
    t.fields.reserve(count);
    size_t total = 0;
    for (uint16_t i = 0; i < count; ++i) {
      TemplateField f;
      r.ReadU16(f.type);
      r.ReadU16(f.length);
      if (f.length != kVariableLength) total += f.length;
      t.fields.push_back(f);
    }
    if (total > kMaxRecordLength) return TemplateParseError::kRecordTooLong;
    on_template(std::move(t));
  }
  return TemplateParseError::kNone;
}

TemplateParseError ParseV9OptionsTemplateFlowSet(
    std::span<const uint8_t> body, absl::FunctionRef<void(TemplateRecord&&)> on_template) {
  ByteReader r(body);
  while (r.remaining() >= 6) {
    TemplateRecord t;
    t.is_options = true;
    uint16_t scope_len = 0, option_len = 0;
    r.ReadU16(t.template_id);
    r.ReadU16(scope_len);
    r.ReadU16(option_len);
    if (t.template_id < kMinDataFlowSetId) return TemplateParseError::kBadTemplateId;
    if (scope_len % 4 != 0 || option_len % 4 != 0) return TemplateParseError::kBadScopeLength;
    if (r.remaining() < size_t{scope_len} + option_len) return TemplateParseError::kTruncated;
    size_t total = 0;
    // Zero-length scope fields occur in the wild (Juniper SRX) and are harmless: they take no
    // bytes in the data record.
    for (uint16_t i = 0; i < scope_len / 4; ++i) {
      TemplateField f;
      r.ReadU16(f.type);
      r.ReadU16(f.length);
      if (f.length != kVariableLength) total += f.length;
      t.scope_fields.push_back(f);
    }
    for (uint16_t i = 0; i < option_len / 4; ++i) {
      TemplateField f;
      r.ReadU16(f.type);
      r.ReadU16(f.length);
      if (f.length != kVariableLength) total += f.length;
      t.fields.push_back(f);
    }
    if (total == 0 && !t.HasVariableLength()) return TemplateParseError::kZeroFields;
    if (total > kMaxRecordLength) return TemplateParseError::kRecordTooLong;
    on_template(std::move(t));
  }
  return TemplateParseError::kNone;
}

}  // namespace nf
