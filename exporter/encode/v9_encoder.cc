#include "exporter/encode/v9_encoder.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "wire/v9_fields.h"

namespace nf {
namespace {

constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoIcmpv6 = 58;

// Saturates a counter into `len` bytes: a 4-byte IN_BYTES must not wrap to a small number.
uint64_t Saturate(uint64_t v, uint16_t len) {
  if (len >= 8) return v;
  const uint64_t max = (uint64_t{1} << (8 * len)) - 1;
  return v > max ? max : v;
}

bool IsIcmp(const FlowRecord& r) {
  return (r.key.protocol == kProtoIcmp && r.key.src.version == 4) ||
         (r.key.protocol == kProtoIcmpv6 && r.key.src.version == 6);
}

int64_t FloorMs(TimeUs us) { return us >= 0 ? us / 1000 : -((-us + 999) / 1000); }

}  // namespace

uint32_t UptimeMs(TimeUs time_us, TimeUs boot_us) {
  return static_cast<uint32_t>(static_cast<uint64_t>(FloorMs(time_us) - FloorMs(boot_us)));
}

bool IsExportableField(uint16_t id, uint16_t len) {
  if (len == 0 || len == kVariableLength) return false;
  switch (id) {
    case field::kIpv4SrcAddr:
    case field::kIpv4DstAddr:
    case field::kIpv4NextHop:
      return len == 4;
    case field::kIpv6SrcAddr:
    case field::kIpv6DstAddr:
    case field::kIpv6NextHop:
      return len == 16;
    case field::kInBytes:
    case field::kInPkts:
    case field::kFlows:
    case field::kOutBytes:
    case field::kOutPkts:
    case field::kInputSnmp:
    case field::kOutputSnmp:
    case field::kSrcAs:
    case field::kDstAs:
    case field::kIpv6FlowLabel:
    case field::kFlowStartMilliseconds:
    case field::kFlowEndMilliseconds:
    case field::kFlowStartSeconds:
    case field::kFlowEndSeconds:
      return len <= 8;
    case field::kLastSwitched:
    case field::kFirstSwitched:
      return len == 4;
    case field::kProtocol:
    case field::kSrcTos:
    case field::kDstTos:
    case field::kTcpFlags:
    case field::kSrcMask:
    case field::kDstMask:
    case field::kIpv6SrcMask:
    case field::kIpv6DstMask:
    case field::kMinTtl:
    case field::kMaxTtl:
    case field::kIpProtocolVersion:
    case field::kDirection:
    case field::kFlowEndReason:
    case field::kIcmpTypeIpv4:
    case field::kIcmpCodeIpv4:
    case field::kIcmpTypeIpv6:
    case field::kIcmpCodeIpv6:
      return len <= 2;
    case field::kL4SrcPort:
    case field::kL4DstPort:
    case field::kIcmpType:
    case field::kIcmpTypeCodeIpv6:
    case field::kSrcVlan:
    case field::kDstVlan:
    case field::kDot1qVlanId:
    case field::kEngineType:
    case field::kEngineId:
      return len <= 4;
    default:
      return false;
  }
}

bool WriteField(uint16_t id, uint16_t len, const FlowRecord& r, const FieldContext& ctx,
                ByteWriter& w) {
  if (!IsExportableField(id, len)) return false;
  const FlowKey& k = r.key;
  const bool icmp = IsIcmp(r);
  uint64_t v = 0;
  switch (id) {
    case field::kIpv4SrcAddr:
      return k.src.is_v4() ? w.PutBytes(k.src.bytes.data(), 4) : w.PutZeros(4);
    case field::kIpv4DstAddr:
      return k.dst.is_v4() ? w.PutBytes(k.dst.bytes.data(), 4) : w.PutZeros(4);
    case field::kIpv6SrcAddr:
      return k.src.is_v6() ? w.PutBytes(k.src.bytes.data(), 16) : w.PutZeros(16);
    case field::kIpv6DstAddr:
      return k.dst.is_v6() ? w.PutBytes(k.dst.bytes.data(), 16) : w.PutZeros(16);
    case field::kIpv4NextHop:
    case field::kIpv6NextHop:
      return w.PutZeros(len);  // not known to a passive probe
    case field::kInBytes:
      v = Saturate(r.bytes, len);
      break;
    case field::kInPkts:
      v = Saturate(r.packets, len);
      break;
    case field::kFlows:
      v = 1;
      break;
    case field::kInputSnmp:
      v = Saturate(k.input_if, len);
      break;
    case field::kOutputSnmp:
      v = Saturate(r.output_if, len);
      break;
    case field::kLastSwitched:
      v = UptimeMs(r.last_us, ctx.boot_ms * 1000);
      break;
    case field::kFirstSwitched:
      v = UptimeMs(r.first_us, ctx.boot_ms * 1000);
      break;
    case field::kFlowStartMilliseconds:
      v = static_cast<uint64_t>(FloorMs(r.first_us));
      break;
    case field::kFlowEndMilliseconds:
      v = static_cast<uint64_t>(FloorMs(r.last_us));
      break;
    case field::kFlowStartSeconds:
      v = static_cast<uint64_t>(FloorMs(r.first_us) / 1000);
      break;
    case field::kFlowEndSeconds:
      v = static_cast<uint64_t>(FloorMs(r.last_us) / 1000);
      break;
    case field::kProtocol:
      v = k.protocol;
      break;
    case field::kSrcTos:
      v = k.tos;
      break;
    case field::kTcpFlags:
      v = r.tcp_flags;
      break;
    case field::kMinTtl:
      v = r.min_ttl;
      break;
    case field::kMaxTtl:
      v = r.max_ttl;
      break;
    case field::kIpProtocolVersion:
      v = k.src.version;
      break;
    case field::kFlowEndReason:
      v = static_cast<uint8_t>(r.end_reason);
      break;
    case field::kL4SrcPort:
      v = k.src_port;
      break;
    case field::kL4DstPort:
      v = k.dst_port;
      break;  // ICMP: type*256+code (Cisco)
    case field::kIcmpType:
    case field::kIcmpTypeCodeIpv6:
      v = icmp && (id == field::kIcmpType || k.src.is_v6()) ? k.dst_port : 0;
      break;
    case field::kIcmpTypeIpv4:
      v = icmp && k.src.is_v4() ? k.dst_port >> 8 : 0;
      break;
    case field::kIcmpCodeIpv4:
      v = icmp && k.src.is_v4() ? k.dst_port & 0xff : 0;
      break;
    case field::kIcmpTypeIpv6:
      v = icmp && k.src.is_v6() ? k.dst_port >> 8 : 0;
      break;
    case field::kIcmpCodeIpv6:
      v = icmp && k.src.is_v6() ? k.dst_port & 0xff : 0;
      break;
    case field::kSrcVlan:
    case field::kDot1qVlanId:
      v = k.vlan;
      break;
    default:
      v = 0;  // exportable but unknown to a passive probe (AS, masks, OUT_*, direction...)
      break;
  }
  return w.PutUnsigned(v, len);
}

absl::StatusOr<std::unique_ptr<V9Encoder>> V9Encoder::Create(const V9EncoderOptions& options,
                                                             const TemplateSpec& spec,
                                                             DatagramSink sink) {
  std::unique_ptr<V9Encoder> e(new V9Encoder());
  e->options_ = options;
  e->spec_ = spec;
  e->sink_ = std::move(sink);
  uint16_t max_id = 255;
  for (const TemplateRecord* t : spec.Layouts()) {
    for (const TemplateField& f : t->fields) {
      if (f.enterprise != 0 || !IsExportableField(f.type, f.length)) {
        const FieldInfo* info = FindField(f.type);
        return absl::InvalidArgumentError(absl::StrCat(
            "template ", t->template_id, ": field ", info != nullptr ? info->name : "?", " (",
            f.type, ") with length ", f.length, " cannot be exported by flowexport"));
      }
    }
    Layout l;
    l.tmpl = *t;
    l.record_length = t->RecordLength();
    e->layouts_.push_back(std::move(l));
    e->template_records_.push_back(*t);
    max_id = std::max(max_id, t->template_id);
  }
  if (e->layouts_.empty()) return absl::InvalidArgumentError("template has no layouts");
  e->sampling_ = options.sampling_interval > 1;
  if (e->sampling_) {
    if (max_id == 65535) return absl::InvalidArgumentError("no template ID left for options");
    e->options_template_id_ = static_cast<uint16_t>(max_id + 1);
    e->options_template_.template_id = e->options_template_id_;
    e->options_template_.is_options = true;
    e->options_template_.scope_fields = {{static_cast<uint16_t>(V9Scope::kSystem), 4, 0}};
    e->options_template_.fields = {{field::kSamplingInterval, 4, 0},
                                   {field::kSamplingAlgorithm, 1, 0}};
  }
  const size_t overhead = options.ip_udp_overhead;
  if (options.mtu <= overhead + kV9HeaderSize || options.mtu > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("--mtu ", options.mtu, " is out of range"));
  }
  e->max_payload_ = options.mtu - overhead;
  e->template_bytes_ = e->TemplateBytes();
  size_t largest_set = 0;
  for (const Layout& l : e->layouts_) {
    const size_t set = kFlowSetHeaderSize + l.record_length;
    largest_set = std::max(largest_set, set + PaddingFor(set));
  }
  if (kV9HeaderSize + e->template_bytes_ + largest_set > e->max_payload_) {
    return absl::InvalidArgumentError(
        absl::StrCat("--mtu ", options.mtu, " is too small: templates plus one record need ",
                     kV9HeaderSize + e->template_bytes_ + largest_set + overhead, " bytes"));
  }
  for (Layout& l : e->layouts_) l.staged.reserve(e->max_payload_);
  e->buffer_.resize(e->max_payload_);
  return e;
}

size_t V9Encoder::TemplateBytes() const {
  size_t n = kFlowSetHeaderSize;
  for (const TemplateRecord& t : template_records_) n += 4 + 4 * t.fields.size();
  n += PaddingFor(n);
  if (sampling_) {
    // Options template FlowSet: header, template ID, scope length, option length, fields.
    size_t o = kFlowSetHeaderSize + 6 +
               4 * (options_template_.scope_fields.size() + options_template_.fields.size());
    o += PaddingFor(o);
    size_t d = kFlowSetHeaderSize + options_template_.RecordLength();
    d += PaddingFor(d);
    n += o + d;
  }
  return n;
}

bool V9Encoder::TemplatesDue(TimeUs now_us) const {
  if (!templates_ever_sent_) return true;
  if (options_.template_refresh_datagrams != 0 &&
      datagrams_since_templates_ >= options_.template_refresh_datagrams) {
    return true;
  }
  return options_.template_refresh_us != 0 &&
         now_us - last_templates_us_ >= options_.template_refresh_us;
}

size_t V9Encoder::PendingBytes() const {
  size_t n = kV9HeaderSize + (current_has_templates_ ? template_bytes_ : 0);
  for (const Layout& l : layouts_) {
    if (l.staged_records == 0) continue;
    const size_t set = kFlowSetHeaderSize + l.staged.size();
    n += set + PaddingFor(set);
  }
  return n;
}

int V9Encoder::LayoutIndex(const FlowRecord& r) const {
  const TemplateRecord& t = spec_.LayoutFor(r.key.src.version == 6 ? 6 : 4, r.key.protocol);
  for (size_t i = 0; i < layouts_.size(); ++i) {
    if (layouts_[i].tmpl.template_id == t.template_id) return static_cast<int>(i);
  }
  return 0;
}

void V9Encoder::Add(const FlowRecord& record, TimeUs now_us) {
  Layout* l = &layouts_[static_cast<size_t>(LayoutIndex(record))];
  if (pending_records_ == 0) {
    current_has_templates_ = TemplatesDue(now_us);
    oldest_pending_us_ = now_us;
  }
  // Bytes this record adds: the record, plus a FlowSet header and padding change.
  auto added = [&]() {
    const size_t before = l->staged_records == 0 ? 0 : kFlowSetHeaderSize + l->staged.size();
    const size_t after = kFlowSetHeaderSize + l->staged.size() + l->record_length;
    return (after + PaddingFor(after)) - (before + PaddingFor(before));
  };
  if (pending_records_ != 0 && PendingBytes() + added() > max_payload_) {
    Send(now_us);
    current_has_templates_ = TemplatesDue(now_us);
    oldest_pending_us_ = now_us;
  }
  const size_t old_size = l->staged.size();
  l->staged.resize(old_size + l->record_length);
  ByteWriter w(std::span<uint8_t>(l->staged.data() + old_size, l->record_length));
  FieldContext ctx{FloorMs(options_.boot_us)};
  for (const TemplateField& f : l->tmpl.fields) WriteField(f.type, f.length, record, ctx, w);
  ++l->staged_records;
  ++pending_records_;
}

void V9Encoder::Tick(TimeUs now_us) {
  if (pending_records_ != 0 && now_us - oldest_pending_us_ >= options_.flush_interval_us) {
    Send(now_us);
  }
}

void V9Encoder::Flush(TimeUs now_us) {
  if (pending_records_ != 0) Send(now_us);
}

void V9Encoder::Send(TimeUs now_us) {
  ByteWriter w(std::span<uint8_t>(buffer_.data(), buffer_.size()));
  // unix_secs rounded up: no record is later than its header (see the header comment).
  const int64_t unix_secs = now_us <= 0 ? 0 : (now_us + 999'999) / 1'000'000;
  V9Header h;
  h.sys_uptime_ms =
      static_cast<uint32_t>(static_cast<uint64_t>(unix_secs * 1000 - FloorMs(options_.boot_us)));
  h.unix_secs = static_cast<uint32_t>(unix_secs);
  h.sequence = sequence_;
  h.source_id = options_.source_id;
  h.Encode(w);
  uint16_t count = 0;
  if (current_has_templates_) {
    EncodeTemplateFlowSet(template_records_, w);
    count = static_cast<uint16_t>(count + template_records_.size());
    if (sampling_) {
      EncodeOptionsTemplateFlowSet(std::span<const TemplateRecord>(&options_template_, 1), w);
      const size_t start = w.position();
      w.PutU16(options_template_id_);
      w.PutU16(0);                   // length, patched below
      w.PutU32(options_.source_id);  // system scope value
      w.PutU32(options_.sampling_interval);
      w.PutU8(options_.sampling_algorithm);
      w.PutZeros(PaddingFor(w.position() - start));
      w.PatchU16(start + 2, static_cast<uint16_t>(w.position() - start));
      count = static_cast<uint16_t>(count + 2);
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
    w.PutZeros(PaddingFor(w.position() - start));
    w.PatchU16(start + 2, static_cast<uint16_t>(w.position() - start));
    count = static_cast<uint16_t>(count + l.staged_records);
    stats_.records += l.staged_records;
    l.staged.clear();
    l.staged_records = 0;
  }
  w.PatchU16(2, count);
  pending_records_ = 0;
  current_has_templates_ = false;
  ++sequence_;
  ++datagrams_since_templates_;
  ++stats_.datagrams;
  stats_.bytes += w.position();
  // The size accounting above guarantees the datagram fits; ok() false would be a bug.
  if (w.ok()) sink_(w.written());
}

}  // namespace nf
