// Data records of v9 and IPFIX data sets: the fast path for compiled fixed-length templates
// (DecodePlan move lists) and the generic field-by-field path for variable-length fields and
// options records. Both finish a record the same way (times, ICMP, sampling, counters).
//
// Invariants: a set is walked by its template's record length, which is > 0, so the walk
// always ends; a record cut short by the end of the set is counted, never read past; trailing
// bytes that are not zero padding are counted. Nothing here allocates.
#include <cstring>

#include "collector/decode/decode_plan.h"
#include "collector/decode/decoder.h"
#include "collector/decode/record_fields.h"
#include "common/byte_reader.h"
#include "wire/netflow_v9.h"

namespace nf {

size_t Decoder::DecodeDataSet(const Context& ctx, const CachedTemplate& t, uint16_t template_id,
                              std::span<const uint8_t> body, RecordSink& sink) {
  ExporterState& st = *ctx.state;
  const TemplateRecord& rec = t.record;
  const int64_t export_ms = int64_t{ctx.export_secs} * 1000;
  size_t pos = 0;
  size_t decoded = 0;
  // Records without their own sampler ID / interval share the set's default: look it up once.
  const uint32_t set_sampling = st.sampling.For(ctx.domain, false, 0, 0);

  // Everything after a record's fields: options data updates the exporter's sampling state;
  // flow records get their times, ICMP port, sampling, and go to the sink.
  auto finish = [&](DecodedRecord& r, const FieldState& s) __attribute__((always_inline)) {
    ++decoded;
    if (rec.is_options) {
      ++st.stats.options_records;
      st.sampling.LearnOptions(ctx.domain, s.opt, st.stats);
      if ((!s.if_name.empty() || !s.if_description.empty()) && r.input_if != 0) {
        st.interfaces.Learn(r.input_if, s.if_name, s.if_description);
      }
      return;
    }
    if (!st.interfaces.empty()) {
      r.input_if_name = st.interfaces.Name(r.input_if);
      r.output_if_name = st.interfaces.Name(r.output_if);
    }
    if (s.has_first_uptime || s.has_last_uptime) {
      if (ctx.version == kNetflowV9Version) {
        // sysUptime-relative with modulo 2^32 arithmetic: a flow that started before an uptime
        // wrap still lands before the export time.
        if (s.has_first_uptime) {
          r.first_ms = export_ms - static_cast<int32_t>(ctx.sys_uptime_ms -
                                                        static_cast<uint32_t>(s.first_uptime));
        }
        if (s.has_last_uptime) {
          r.last_ms = export_ms - static_cast<int32_t>(ctx.sys_uptime_ms -
                                                       static_cast<uint32_t>(s.last_uptime));
        }
      } else {
        // IPFIX flowStart/EndSysUpTime are relative to systemInitTimeMilliseconds (IE 160),
        // from the record itself or learned from options data.
        const int64_t init = s.opt.has_init ? static_cast<int64_t>(s.opt.init_ms)
                                            : st.sampling.SystemInitMs(ctx.domain);
        if (init != kNoTime) {
          if (s.has_first_uptime) r.first_ms = init + static_cast<int64_t>(s.first_uptime);
          if (s.has_last_uptime) r.last_ms = init + static_cast<int64_t>(s.last_uptime);
        }
      }
    }
    if (r.ip_version == 0 || (r.src_addr.version != 0 && r.ip_version != r.src_addr.version)) {
      r.ip_version = r.src_addr.version != 0 ? r.src_addr.version : r.dst_addr.version;
    }
    uint16_t icmp = s.icmp;
    bool has_icmp = s.has_icmp;
    if (s.has_icmp_type && !has_icmp) {
      icmp = static_cast<uint16_t>((s.icmp_type << 8) | s.icmp_code);
      has_icmp = true;
    }
    if (has_icmp && r.dst_port == 0 && (r.protocol == 1 || r.protocol == 58)) r.dst_port = icmp;
    r.sampling = (s.opt.has_sampler || s.opt.has_interval)
                     ? st.sampling.For(ctx.domain, s.opt.has_sampler, s.opt.sampler, s.opt.Rate())
                     : set_sampling;
    if (ctx.version == kNetflowV9Version) {
      // v9 engines: the source ID's two low bytes unless the record says otherwise (as
      // nfcapd reads them, so filters and columns agree with nfdump's).
      if (r.engine_type == 0) r.engine_type = static_cast<uint8_t>(ctx.domain >> 8);
      if (r.engine_id == 0) r.engine_id = static_cast<uint8_t>(ctx.domain);
    }
    if (options_.biflow_split && (r.reverse_packets | r.reverse_bytes) != 0) {
      DeliverBiflowSplit(options_.apply_sampling, r, st.stats, sink);
    } else {
      DeliverRecord(options_.apply_sampling, r, st.stats, sink);
    }
  };
  auto set_identity = [&](DecodedRecord& r) {
    r.exporter = *ctx.exporter;
    r.version = ctx.version;
    r.from_early_buffer = ctx.from_early;
    r.source_id = ctx.domain;
    r.template_id = template_id;
    r.receive_time_us = ctx.receive_time;
  };
  const uint8_t* base = body.data();

  if (t.plan.fixed) {
    // Fast path (see DecodePlan): one record object for the whole set. Members the plan sets
    // are overwritten by every record; members summed or adjusted after the fields are reset
    // here; members the template lacks keep their defaults.
    const DecodePlan& plan = t.plan;
    const size_t length = t.min_record_length;
    DecodedRecord r;
    set_identity(r);
    FieldState s;
    while (body.size() - pos >= length) {
      const uint8_t* p = base + pos;
      pos += length;
      r.packets = r.bytes = r.out_packets = r.out_bytes = 0;
      r.reverse_packets = r.reverse_bytes = 0;
      r.first_ms = r.last_ms = kNoTime;
      r.ip_version = 0;
      r.dst_port = 0;
      for (const DecodeMove<uint64_t>& m : plan.add64_w8) r.*m.field += LoadBe64(p + m.offset);
      for (const DecodeMove<uint64_t>& m : plan.add64_w4) {
        r.*m.field += ByteReader::LoadBe32(p + m.offset);
      }
      for (const DecodeMove<uint64_t>& m : plan.add64) r.*m.field += LoadUnsigned(p + m.offset, m.width);
      for (const DecodeMove<uint8_t>& m : plan.set8_w1) r.*m.field = p[m.offset];
      for (const DecodeMove<uint8_t>& m : plan.set8) {
        r.*m.field = static_cast<uint8_t>(LoadUnsigned(p + m.offset, m.width));
      }
      for (const DecodeMove<uint16_t>& m : plan.set16_w2) {
        r.*m.field = ByteReader::LoadBe16(p + m.offset);
      }
      for (const DecodeMove<uint16_t>& m : plan.set16) {
        r.*m.field = static_cast<uint16_t>(LoadUnsigned(p + m.offset, m.width));
      }
      for (const DecodeMove<uint32_t>& m : plan.set32_w4) {
        r.*m.field = ByteReader::LoadBe32(p + m.offset);
      }
      for (const DecodeMove<uint32_t>& m : plan.set32) {
        r.*m.field = static_cast<uint32_t>(LoadUnsigned(p + m.offset, m.width));
      }
      // Addresses in place: building a temporary and copying it costs a store-forwarding stall.
      for (const DecodeMove<IpAddress>& m : plan.v4_addresses) {
        IpAddress& a = r.*m.field;
        a.version = 4;
        std::memcpy(a.bytes.data(), p + m.offset, 4);
        std::memset(a.bytes.data() + 4, 0, 12);
      }
      for (const DecodeMove<IpAddress>& m : plan.v6_addresses) {
        IpAddress& a = r.*m.field;
        a.version = 6;
        std::memcpy(a.bytes.data(), p + m.offset, 16);
      }
      for (const DecodeMove<IpAddress>& m : plan.addresses) {
        IpAddress& a = r.*m.field;
        a.version = m.width == 4 ? 4 : 6;
        std::memcpy(a.bytes.data(), p + m.offset, m.width);
        if (m.width == 4) std::memset(a.bytes.data() + 4, 0, 12);
      }
      s.Clear();
      for (const DecodePlan::Uptime& m : plan.uptimes) {
        const uint64_t v = LoadUnsigned(p + m.offset, m.width);
        if (m.last) {
          s.last_uptime = v;
          s.has_last_uptime = true;
        } else {
          s.first_uptime = v;
          s.has_first_uptime = true;
        }
      }
      for (uint16_t o : plan.icmp_type_code) {
        s.icmp = ByteReader::LoadBe16(p + o);
        s.has_icmp = true;
      }
      for (const DecodePlan::AbsoluteTime& m : plan.absolute_times) {
        // Clamped like the generic path (an 8-byte value times 1000 would overflow).
        const uint64_t v = LoadUnsigned(p + m.offset, m.width);
        r.*m.field = m.multiplier == 1000 ? SecondsToMs(v) : ClampMs(v);
      }
      for (const DecodePlan::Special& m : plan.special) {
        ApplyField(m.op, p + m.offset, m.width, export_ms, r, s);
      }
      finish(r, s);
    }
    // Padding to a 4-byte boundary (some exporters pad more, with zeros).
    const size_t rem = body.size() - pos;
    if (rem >= 4 && !AllZero(body.subspan(pos))) Count(st, DecodeError::kSetTrailingBytes);
    return decoded;
  }

  // Generic path: variable-length fields (IPFIX) and options records, field by field.
  const size_t nfields = t.ops.size();
  const uint8_t* ops = t.ops.data();
  const uint16_t* lens = t.lengths.data();
  while (pos < body.size()) {
    const size_t rem = body.size() - pos;
    if (rem < t.min_record_length || (t.variable_length && rem < 4 && AllZero(body.subspan(pos)))) {
      // Padding to a 4-byte boundary (some exporters pad more, with zeros).
      if (rem >= 4 && !AllZero(body.subspan(pos))) Count(st, DecodeError::kSetTrailingBytes);
      break;
    }
    DecodedRecord r;
    FieldState s;
    bool ok = true;
    for (size_t i = 0; i < nfields; ++i) {
      size_t len = lens[i];
      if (len == kVariableLength) {
        if (pos >= body.size()) { ok = false; break; }
        len = base[pos++];
        if (len == 255) {
          if (body.size() - pos < 2) { ok = false; break; }
          len = ByteReader::LoadBe16(base + pos);
          pos += 2;
        }
        if (body.size() - pos < len) { ok = false; break; }
        if (ops[i] != static_cast<uint8_t>(FieldOp::kSkip)) {
          ApplyField(static_cast<FieldOp>(ops[i]), base + pos, len, export_ms, r, s);
        }
        pos += len;
        continue;
      }
      if (body.size() - pos < len) { ok = false; break; }
      const uint8_t* p = base + pos;
      pos += len;
      ApplyField(static_cast<FieldOp>(ops[i]), p, len, export_ms, r, s);
    }
    if (!ok) {
      Count(st, DecodeError::kRecordTruncated);
      break;
    }
    set_identity(r);
    finish(r, s);
  }
  return decoded;
}

}  // namespace nf
