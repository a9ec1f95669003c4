#include "exporter/encode/v9_encoder.h"

#include <span>
#include <utility>
#include <vector>

#include "wire/netflow_v9.h"

namespace nf {

absl::StatusOr<std::unique_ptr<V9Encoder>> V9Encoder::Create(const V9EncoderOptions& options,
                                                             const TemplateSpec& spec,
                                                             DatagramSink sink) {
  std::unique_ptr<V9Encoder> e(new V9Encoder());
  e->options_ = options;
  MessageFormat format;
  format.header_bytes = kV9HeaderSize;
  format.pad_sets = true;
  format.sequence_counts_records = false;  // RFC 3954: the sequence counts export packets
  format.options_scope_field = static_cast<uint16_t>(V9Scope::kSystem);
  format.domain_id = options.source_id;
  std::vector<TemplateRecord> layouts;
  for (const TemplateRecord* t : spec.Layouts()) layouts.push_back(*t);
  if (absl::Status st = e->Init(options, format, spec, std::move(layouts), std::move(sink));
      !st.ok()) {
    return st;
  }
  e->SetBootTime(options.boot_us);
  return e;
}

void V9Encoder::SetBootTime(TimeUs boot_us) {
  options_.boot_us = boot_us;
  set_field_context(FieldContext{FloorMs(boot_us)});
}

void V9Encoder::WriteHeader(TimeUs now_us, uint32_t sequence, ByteWriter& w) const {
  const int64_t unix_secs = ExportSeconds(now_us);
  V9Header h;
  h.sys_uptime_ms =
      static_cast<uint32_t>(static_cast<uint64_t>(unix_secs * 1000 - FloorMs(options_.boot_us)));
  h.unix_secs = static_cast<uint32_t>(unix_secs);
  h.sequence = sequence;
  h.source_id = options_.source_id;
  h.Encode(w);
}

void V9Encoder::WriteTemplateSets(ByteWriter& w) const {
  EncodeTemplateFlowSet(templates(), w);
  if (const TemplateRecord* o = sampling_template(); o != nullptr) {
    EncodeOptionsTemplateFlowSet(std::span<const TemplateRecord>(o, 1), w);
  }
}

void V9Encoder::FinishHeader(uint16_t records, ByteWriter& w) const { w.PatchU16(2, records); }

}  // namespace nf
