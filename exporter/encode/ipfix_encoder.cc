#include "exporter/encode/ipfix_encoder.h"

#include <utility>
#include <vector>

#include "wire/netflow_v9.h"
#include "wire/v9_fields.h"

namespace nf {
namespace {

// One field specifier: IE id and length (enterprise fields are refused by the packer).
void PutFieldSpecifiers(const std::vector<TemplateField>& fields, ByteWriter& w) {
  for (const TemplateField& f : fields) {
    w.PutU16(f.type);
    w.PutU16(f.length);
  }
}

}  // namespace

TemplateRecord ToIpfixLayout(const TemplateRecord& v9_layout, bool ipv6) {
  TemplateRecord out = v9_layout;
  for (TemplateField& f : out.fields) {
    if (f.enterprise != 0) continue;
    if (f.type == field::kFirstSwitched) {
      f = {field::kFlowStartMilliseconds, 8, 0};
    } else if (f.type == field::kLastSwitched) {
      f = {field::kFlowEndMilliseconds, 8, 0};
    } else if (f.type == field::kIcmpType && ipv6) {
      f.type = field::kIcmpTypeCodeIpv6;
    }
  }
  return out;
}

absl::StatusOr<std::unique_ptr<IpfixEncoder>> IpfixEncoder::Create(
    const IpfixEncoderOptions& options, const TemplateSpec& spec, DatagramSink sink) {
  std::unique_ptr<IpfixEncoder> e(new IpfixEncoder());
  e->observation_domain_id_ = options.observation_domain_id;
  MessageFormat format;
  format.header_bytes = kIpfixMessageHeaderSize;
  format.pad_sets = false;
  format.sequence_counts_records = true;  // RFC 7011 section 3.1
  format.options_scope_field = kIpfixObservationDomainIdIe;
  format.domain_id = options.observation_domain_id;
  std::vector<TemplateRecord> layouts;
  for (int fam = 0; fam < kFlowFamilyCount; ++fam) {
    if (!spec.layouts[fam].has_value()) continue;
    const FlowFamily family = static_cast<FlowFamily>(fam);
    const bool ipv6 = family == FlowFamily::kIpv6 || family == FlowFamily::kIpv6Icmp;
    layouts.push_back(ToIpfixLayout(*spec.layouts[fam], ipv6));
  }
  // Only FIRST/LAST_SWITCHED use the uptime origin, and they are mapped to absolute times, so
  // the default field context serves.
  if (absl::Status st = e->Init(options, format, spec, std::move(layouts), std::move(sink));
      !st.ok()) {
    return st;
  }
  return e;
}

void IpfixEncoder::WriteHeader(TimeUs now_us, uint32_t sequence, ByteWriter& w) const {
  w.PutU16(kIpfixVersion);
  w.PutU16(0);  // message length, patched by FinishHeader
  w.PutU32(static_cast<uint32_t>(ExportSeconds(now_us)));
  w.PutU32(sequence);
  w.PutU32(observation_domain_id_);
}

void IpfixEncoder::WriteTemplateSets(ByteWriter& w) const {
  size_t start = w.position();
  w.PutU16(kIpfixTemplateSetId);
  w.PutU16(0);
  for (const TemplateRecord& t : templates()) {
    w.PutU16(t.template_id);
    w.PutU16(static_cast<uint16_t>(t.fields.size()));
    PutFieldSpecifiers(t.fields, w);
  }
  w.PatchU16(start + 2, static_cast<uint16_t>(w.position() - start));
  const TemplateRecord* o = sampling_template();
  if (o == nullptr) return;
  start = w.position();
  w.PutU16(kIpfixOptionsTemplateSetId);
  w.PutU16(0);
  w.PutU16(o->template_id);
  w.PutU16(static_cast<uint16_t>(o->scope_fields.size() + o->fields.size()));
  w.PutU16(static_cast<uint16_t>(o->scope_fields.size()));
  PutFieldSpecifiers(o->scope_fields, w);
  PutFieldSpecifiers(o->fields, w);
  w.PatchU16(start + 2, static_cast<uint16_t>(w.position() - start));
}

void IpfixEncoder::FinishHeader(uint16_t /*records*/, ByteWriter& w) const {
  w.PatchU16(2, static_cast<uint16_t>(w.position()));
}

}  // namespace nf
