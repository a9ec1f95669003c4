#include "exporter/encode/message_packer.h"

#include <algorithm>
#include <span>
#include <utility>

#include "absl/strings/str_cat.h"
#include "wire/v9_fields.h"

namespace nf {

absl::Status MessagePacker::Init(const MessageOptions& options, const MessageFormat& format,
                                 const TemplateSpec& spec, std::vector<TemplateRecord> layouts,
                                 DatagramSink sink) {
  options_ = options;
  format_ = format;
  spec_ = spec;
  sink_ = std::move(sink);
  flush_clock_ = FlushClock(options.flush_interval_us);
  uint16_t max_id = 255;
  for (TemplateRecord& t : layouts) {
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
    layouts_.push_back(std::move(l));
    templates_.push_back(std::move(t));
  }
  if (layouts_.empty()) return absl::InvalidArgumentError("template has no layouts");
  sampling_ = options.sampling_interval > 1;
  if (sampling_) {
    if (max_id == 65535) return absl::InvalidArgumentError("no template ID left for options");
    options_template_.template_id = static_cast<uint16_t>(max_id + 1);
    options_template_.is_options = true;
    options_template_.scope_fields = {{format.options_scope_field, 4, 0}};
    options_template_.fields = {{field::kSamplingInterval, 4, 0},
                                {field::kSamplingAlgorithm, 1, 0}};
    options_data_.resize(options_template_.RecordLength());
    ByteWriter w{std::span<uint8_t>(options_data_)};
    w.PutU32(format.domain_id);  // the scope: this exporter
    w.PutU32(options.sampling_interval);
    w.PutU8(options.sampling_algorithm);
  }
  const size_t overhead = options.ip_udp_overhead;
  if (options.mtu <= overhead + format.header_bytes || options.mtu > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("--mtu ", options.mtu, " is out of range"));
  }
  max_payload_ = options.mtu - overhead;
  template_bytes_ = TemplateBytes();
  size_t largest_set = 0;
  for (const Layout& l : layouts_) {
    largest_set = std::max(largest_set, SetBytes(kFlowSetHeaderSize + l.record_length));
  }
  const size_t need = format.header_bytes + template_bytes_ + largest_set;
  if (need > max_payload_) {
    return absl::InvalidArgumentError(absl::StrCat("--mtu ", options.mtu,
                                                   " is too small: templates plus one record need ",
                                                   need + overhead, " bytes"));
  }
  for (Layout& l : layouts_) l.staged.reserve(max_payload_);
  buffer_.resize(max_payload_);
  return absl::OkStatus();
}

size_t MessagePacker::SetBytes(size_t unpadded) const {
  return unpadded + (format_.pad_sets ? PaddingFor(unpadded) : 0);
}

size_t MessagePacker::TemplateBytes() const {
  size_t n = kFlowSetHeaderSize;
  for (const TemplateRecord& t : templates_) n += 4 + 4 * t.fields.size();
  n = SetBytes(n);
  if (sampling_) {
    // Options template set: header, template ID, two counts or lengths, fields; then the
    // options data set with its one record.
    n += SetBytes(kFlowSetHeaderSize + 6 +
                  4 * (options_template_.scope_fields.size() + options_template_.fields.size()));
    n += SetBytes(kFlowSetHeaderSize + options_template_.RecordLength());
  }
  return n;
}

bool MessagePacker::TemplatesDue(TimeUs now_us) const {
  if (!templates_ever_sent_) return true;
  if (options_.template_refresh_datagrams != 0 &&
      datagrams_since_templates_ >= options_.template_refresh_datagrams) {
    return true;
  }
  return options_.template_refresh_us != 0 &&
         now_us - last_templates_us_ >= options_.template_refresh_us;
}

size_t MessagePacker::PendingBytes() const {
  size_t n = format_.header_bytes + (current_has_templates_ ? template_bytes_ : 0);
  for (const Layout& l : layouts_) {
    if (l.staged_records != 0) n += SetBytes(kFlowSetHeaderSize + l.staged.size());
  }
  return n;
}

size_t MessagePacker::LayoutIndex(const FlowRecord& r) const {
  const TemplateRecord& t = spec_.LayoutFor(r.key.src.version == 6 ? 6 : 4, r.key.protocol);
  for (size_t i = 0; i < layouts_.size(); ++i) {
    if (layouts_[i].tmpl.template_id == t.template_id) return i;
  }
  return 0;
}

void MessagePacker::StartDatagram(TimeUs now_us) {
  current_has_templates_ = TemplatesDue(now_us);
  flush_clock_.Start(now_us);
}

bool MessagePacker::Add(const FlowRecord& record, TimeUs now_us) {
  Layout& l = layouts_[LayoutIndex(record)];
  if (pending_records_ == 0) StartDatagram(now_us);
  // Bytes this record adds: the record, plus a set header and a padding change.
  const size_t before =
      l.staged_records == 0 ? 0 : SetBytes(kFlowSetHeaderSize + l.staged.size());
  const size_t added = SetBytes(kFlowSetHeaderSize + l.staged.size() + l.record_length) - before;
  if (pending_records_ != 0 && PendingBytes() + added > max_payload_) {
    Send(now_us);
    StartDatagram(now_us);
  }
  const size_t old_size = l.staged.size();
  l.staged.resize(old_size + l.record_length);
  ByteWriter w(std::span<uint8_t>(l.staged.data() + old_size, l.record_length));
  for (const TemplateField& f : l.tmpl.fields) {
    WriteField(f.type, f.length, record, field_context_, w);
  }
  ++l.staged_records;
  ++pending_records_;
  return true;
}

void MessagePacker::Tick(TimeUs now_us) {
  if (pending_records_ != 0 && flush_clock_.Due(now_us)) Send(now_us);
}

void MessagePacker::Flush(TimeUs now_us) {
  if (pending_records_ != 0) Send(now_us);
}

EncoderTotals MessagePacker::Totals() const {
  return {stats_.records, stats_.template_records, stats_.datagrams, 0};
}

void MessagePacker::WriteSet(uint16_t set_id, const std::vector<uint8_t>& payload,
                             ByteWriter& w) const {
  const size_t start = w.position();
  w.PutU16(set_id);
  w.PutU16(0);  // length, patched below
  w.PutBytes(payload.data(), payload.size());
  if (format_.pad_sets) w.PutZeros(PaddingFor(w.position() - start));
  w.PatchU16(start + 2, static_cast<uint16_t>(w.position() - start));
}

void MessagePacker::Send(TimeUs now_us) {
  ByteWriter w(std::span<uint8_t>(buffer_.data(), buffer_.size()));
  WriteHeader(now_us, sequence_, w);
  size_t records = 0;
  uint32_t data_records = 0;
  if (current_has_templates_) {
    WriteTemplateSets(w);
    records += templates_.size();
    if (sampling_) {
      WriteSet(options_template_.template_id, options_data_, w);
      records += 2;  // the options template and its data record
      ++data_records;
      ++stats_.options_records;
    }
    stats_.template_records += templates_.size() + (sampling_ ? 1 : 0);
    templates_ever_sent_ = true;
    datagrams_since_templates_ = 0;
    last_templates_us_ = now_us;
  }
  for (Layout& l : layouts_) {
    if (l.staged_records == 0) continue;
    WriteSet(l.tmpl.template_id, l.staged, w);
    records += l.staged_records;
    data_records += l.staged_records;
    stats_.records += l.staged_records;
    l.staged.clear();
    l.staged_records = 0;
  }
  FinishHeader(static_cast<uint16_t>(records), w);
  pending_records_ = 0;
  current_has_templates_ = false;
  sequence_ += format_.sequence_counts_records ? data_records : 1;
  ++datagrams_since_templates_;
  ++stats_.datagrams;
  stats_.bytes += w.position();
  // The size accounting above guarantees the datagram fits; ok() false would be a bug.
  if (w.ok()) sink_(w.written());
}

}  // namespace nf
