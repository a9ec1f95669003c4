#include "exporter/encode/ipfix_encoder.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/byte_writer.h"
#include "wire/v9_fields.h"
#include "exporter/encode/v9_encoder.h"

namespace nf {
namespace {

// Bytes of a template set holding `templates` (no padding in IPFIX).
size_t TemplateSetBytes(const std::vector<TemplateRecord>& templates) {
  size_t n = kFlowSetHeaderSize;
  for (const TemplateRecord& t : templates) n += 4 + 4 * t.fields.size();
  return n;
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
  e->options_ = options;
  e->spec_ = spec;
  e->sink_ = std::move(sink);
  uint16_t max_id = 255;
  for (int fam = 0; fam < kFlowFamilyCount; ++fam) {
    if (!spec.layouts[fam].has_value()) continue;
    const FlowFamily family = static_cast<FlowFamily>(fam);
    const bool ipv6 = family == FlowFamily::kIpv6 || family == FlowFamily::kIpv6Icmp;
    TemplateRecord t = ToIpfixLayout(*spec.layouts[fam], ipv6);
    for (const TemplateField& f : t.fields) {
      if (f.enterprise != 0 || !IsExportableField(f.type, f.length)) {
        const FieldInfo* info = FindField(f.type);
        return absl::InvalidArgumentError(absl::StrCat(
            "template ", t.template_id, ": field ", info != nullptr ? info->name : "?", " (",
            f.type, ") with length ", f.length, " cannot be exported by flowexport"));
      }
    }
    max_id = std::max(max_id, t.template_id);
    Layout l;
    l.tmpl = t;
    l.record_length = t.RecordLength();
    e->layouts_.push_back(std::move(l));
    e->template_records_.push_back(std::move(t));
  }
  if (e->layouts_.empty()) return absl::InvalidArgumentError("template has no layouts");
  e->sampling_ = options.sampling_interval > 1;
  if (e->sampling_) {
    if (max_id == 65535) return absl::InvalidArgumentError("no template ID left for options");
    e->options_template_id_ = static_cast<uint16_t>(max_id + 1);
    e->options_template_.template_id = e->options_template_id_;
    e->options_template_.is_options = true;
    e->options_template_.scope_fields = {{kIpfixObservationDomainIdIe, 4, 0}};
    e->options_template_.fields = {{field::kSamplingInterval, 4, 0},
                                   {field::kSamplingAlgorithm, 1, 0}};
  }
  const size_t overhead = options.ip_udp_overhead;
  if (options.mtu <= overhead + kIpfixMessageHeaderSize || options.mtu > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("--mtu ", options.mtu, " is out of range"));
  }
  e->max_payload_ = options.mtu - overhead;
  e->template_bytes_ = e->TemplateBytes();
  size_t largest_set = 0;
  for (const Layout& l : e->layouts_) {
    largest_set = std::max(largest_set, kFlowSetHeaderSize + l.record_length);
  }
  const size_t need = kIpfixMessageHeaderSize + e->template_bytes_ + largest_set;
  if (need > e->max_payload_) {
    return absl::InvalidArgumentError(absl::StrCat("--mtu ", options.mtu,
                                                   " is too small: templates plus one record need ",
                                                   need + overhead, " bytes"));
  }
  for (Layout& l : e->layouts_) l.staged.reserve(e->max_payload_);
  e->buffer_.resize(e->max_payload_);
  return e;
}

size_t IpfixEncoder::TemplateBytes() const {
  size_t n = TemplateSetBytes(template_records_);
  if (sampling_) {
    // Options template set: header, template ID, field count, scope field count, fields; then
    // the options data set with its one record.
    n += kFlowSetHeaderSize + 6 +
         4 * (options_template_.scope_fields.size() + options_template_.fields.size());
    n += kFlowSetHeaderSize + options_template_.RecordLength();
  }
  return n;
}

bool IpfixEncoder::TemplatesDue(TimeUs now_us) const {
  if (!templates_ever_sent_) return true;
  if (options_.template_refresh_datagrams != 0 &&
      datagrams_since_templates_ >= options_.template_refresh_datagrams) {
    return true;
  }
  return options_.template_refresh_us != 0 &&
         now_us - last_templates_us_ >= options_.template_refresh_us;
}

size_t IpfixEncoder::PendingBytes() const {
  size_t n = kIpfixMessageHeaderSize + (current_has_templates_ ? template_bytes_ : 0);
  for (const Layout& l : layouts_) {
    if (l.staged_records != 0) n += kFlowSetHeaderSize + l.staged.size();
  }
  return n;
}

size_t IpfixEncoder::LayoutIndex(const FlowRecord& r) const {
  const TemplateRecord& t = spec_.LayoutFor(r.key.src.version == 6 ? 6 : 4, r.key.protocol);
  for (size_t i = 0; i < layouts_.size(); ++i) {
    if (layouts_[i].tmpl.template_id == t.template_id) return i;
  }
  return 0;
}

void IpfixEncoder::Add(const FlowRecord& record, TimeUs now_us) {
  Layout* l = &layouts_[LayoutIndex(record)];
  if (pending_records_ == 0) {
    current_has_templates_ = TemplatesDue(now_us);
    oldest_pending_us_ = now_us;
  }
  const size_t added = l->record_length + (l->staged_records == 0 ? kFlowSetHeaderSize : 0);
  if (pending_records_ != 0 && PendingBytes() + added > max_payload_) {
    Send(now_us);
    current_has_templates_ = TemplatesDue(now_us);
    oldest_pending_us_ = now_us;
  }
  const size_t old_size = l->staged.size();
  l->staged.resize(old_size + l->record_length);
  ByteWriter w(std::span<uint8_t>(l->staged.data() + old_size, l->record_length));
  // Only FIRST/LAST_SWITCHED use the uptime origin, and they are mapped to absolute times.
  const FieldContext ctx{};
  for (const TemplateField& f : l->tmpl.fields) WriteField(f.type, f.length, record, ctx, w);
  ++l->staged_records;
  ++pending_records_;
}

void IpfixEncoder::Tick(TimeUs now_us) {
  if (pending_records_ != 0 && now_us - oldest_pending_us_ >= options_.flush_interval_us) {
    Send(now_us);
  }
}

void IpfixEncoder::Flush(TimeUs now_us) {
  if (pending_records_ != 0) Send(now_us);
}

void IpfixEncoder::Send(TimeUs now_us) {
  ByteWriter w(std::span<uint8_t>(buffer_.data(), buffer_.size()));
  // Export time rounded up to the second, as v9: no record ends after its message's export
  // time, which some collectors sanity-check.
  const int64_t export_secs = now_us <= 0 ? 0 : (now_us + 999'999) / 1'000'000;
  w.PutU16(kIpfixVersion);
  w.PutU16(0);  // message length, patched below
  w.PutU32(static_cast<uint32_t>(export_secs));
  w.PutU32(sequence_);
  w.PutU32(options_.observation_domain_id);
  uint32_t data_records = 0;
  if (current_has_templates_) {
    size_t start = w.position();
    w.PutU16(kIpfixTemplateSetId);
    w.PutU16(0);
    for (const TemplateRecord& t : template_records_) {
      w.PutU16(t.template_id);
      w.PutU16(static_cast<uint16_t>(t.fields.size()));
      for (const TemplateField& f : t.fields) {
        w.PutU16(f.type);
        w.PutU16(f.length);
      }
    }
    w.PatchU16(start + 2, static_cast<uint16_t>(w.position() - start));
    if (sampling_) {
      start = w.position();
      w.PutU16(kIpfixOptionsTemplateSetId);
      w.PutU16(0);
      w.PutU16(options_template_id_);
      w.PutU16(static_cast<uint16_t>(options_template_.scope_fields.size() +
                                     options_template_.fields.size()));
      w.PutU16(static_cast<uint16_t>(options_template_.scope_fields.size()));
      for (const auto* fields : {&options_template_.scope_fields, &options_template_.fields}) {
        for (const TemplateField& f : *fields) {
          w.PutU16(f.type);
          w.PutU16(f.length);
        }
      }
      w.PatchU16(start + 2, static_cast<uint16_t>(w.position() - start));
      start = w.position();
      w.PutU16(options_template_id_);
      w.PutU16(0);
      w.PutU32(options_.observation_domain_id);  // scope: this observation domain
      w.PutU32(options_.sampling_interval);
      w.PutU8(options_.sampling_algorithm);
      w.PatchU16(start + 2, static_cast<uint16_t>(w.position() - start));
      ++data_records;
      ++stats_.options_records;
    }
    stats_.template_records += template_records_.size() + (sampling_ ? 1 : 0);
    templates_ever_sent_ = true;
    datagrams_since_templates_ = 0;
    last_templates_us_ = now_us;
  }
  for (Layout& l : layouts_) {
    if (l.staged_records == 0) continue;
    const size_t start = w.position();
    w.PutU16(l.tmpl.template_id);
    w.PutU16(0);
    w.PutBytes(l.staged.data(), l.staged.size());
    w.PatchU16(start + 2, static_cast<uint16_t>(w.position() - start));
    data_records += l.staged_records;
    stats_.records += l.staged_records;
    l.staged.clear();
    l.staged_records = 0;
  }
  w.PatchU16(2, static_cast<uint16_t>(w.position()));
  pending_records_ = 0;
  current_has_templates_ = false;
  // RFC 7011 section 3.1: the sequence counts data records sent before this message.
  sequence_ += data_records;
  ++datagrams_since_templates_;
  ++stats_.datagrams;
  stats_.bytes += w.position();
  // The size accounting above guarantees the message fits; ok() false would be a bug.
  if (w.ok()) sink_(w.written());
}

}  // namespace nf
