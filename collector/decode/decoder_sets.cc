// NetFlow v9 and IPFIX datagrams: each version's header, then one set walk shared by both
// (WalkSets), which hands template sets to the wire parsers and data sets to the record
// decoder or, when their template is unknown, to the early-data buffer.
//
// Invariants: sets are walked by their length, never by the v9 header count; a set whose
// length is short or runs past the datagram ends the walk (counted); every set that cannot be
// counted (error, unknown template) marks the walk uncertain, and an uncertain datagram never
// reports a v9 count mismatch nor advances an IPFIX sequence.
#include <utility>

#include "collector/decode/decoder.h"
#include "collector/decode/record_fields.h"
#include "common/byte_reader.h"
#include "wire/ipfix.h"
#include "wire/netflow_v9.h"

namespace nf {

namespace {

DecodeError FromTemplateError(TemplateParseError e) {
  switch (e) {
    case TemplateParseError::kTruncated: return DecodeError::kTemplateTruncated;
    case TemplateParseError::kBadTemplateId: return DecodeError::kTemplateBadId;
    case TemplateParseError::kZeroFields: return DecodeError::kTemplateZeroFields;
    case TemplateParseError::kBadScopeLength: return DecodeError::kTemplateBadScope;
    case TemplateParseError::kRecordTooLong: return DecodeError::kTemplateTooLong;
    case TemplateParseError::kNone: break;
  }
  return DecodeError::kTemplateTruncated;
}

DecodeError FromIpfixTemplateError(IpfixTemplateError e) {
  switch (e) {
    case IpfixTemplateError::kHeaderTruncated:
    case IpfixTemplateError::kTruncated: return DecodeError::kTemplateTruncated;
    case IpfixTemplateError::kBadTemplateId: return DecodeError::kTemplateBadId;
    case IpfixTemplateError::kBadScopeCount: return DecodeError::kTemplateBadScope;
    case IpfixTemplateError::kTooManyFields: return DecodeError::kTemplateTooManyFields;
    case IpfixTemplateError::kRecordTooLong: return DecodeError::kTemplateTooLong;
    case IpfixTemplateError::kZeroLengthRecord: return DecodeError::kTemplateZeroLengthRecord;
    case IpfixTemplateError::kNone: break;
  }
  return DecodeError::kTemplateTruncated;
}

bool IsTemplateSet(uint8_t version, uint16_t set_id) {
  return version == kNetflowV9Version
             ? set_id == kTemplateFlowSetId || set_id == kOptionsTemplateFlowSetId
             : set_id == kIpfixTemplateSetId || set_id == kIpfixOptionsTemplateSetId;
}

// True when the set headers in `sets` chain, each length at least a header, to its very end.
bool SetsCoverExactly(std::span<const uint8_t> sets) {
  size_t pos = 0;
  while (sets.size() - pos >= kFlowSetHeaderSize) {
    const uint16_t len = ByteReader::LoadBe16(sets.data() + pos + 2);
    if (len < kFlowSetHeaderSize || len > sets.size() - pos) return false;
    pos += len;
  }
  return pos == sets.size();
}

}  // namespace

void Decoder::DecodeV9(std::span<const uint8_t> d, ExporterState& st, const ExporterId& exporter,
                       TimeUs now, RecordSink& sink) {
  if (!templates_only_) ++st.stats.v9_datagrams;
  ByteReader r(d);
  V9Header h;
  if (!V9Header::Decode(r, h)) {
    Count(st, DecodeError::kShortDatagram);
    return;
  }
  const SequenceTracker::Key seq_key{exporter.port, kNetflowV9Version, h.source_id};
  if (!templates_only_) st.sequence.NoteV9Uptime(seq_key, h.sys_uptime_ms, st.stats);
  const Context ctx{&st, &exporter, kNetflowV9Version, h.source_id, h.sys_uptime_ms,
                    h.unix_secs, now, false};
  const uint64_t records_before = st.stats.records;
  const SetWalk walk = WalkSets(ctx, r.rest(), sink);
  // The v9 count covers template and data records alike.
  if (!templates_only_ && !walk.uncertain && walk.templates + walk.records != h.count) {
    Count(st, DecodeError::kV9CountMismatch);
  }
  // v9 sequence numbers count datagrams (RFC 3954); the flow count is passed for exporters
  // that number flows instead. Replayed early records are not this datagram's.
  const uint64_t flows = st.stats.records - records_before;
  if (templates_only_) return;
  st.sequence.Check(seq_key, h.sequence, 1, true,
                    walk.uncertain ? -1 : static_cast<int64_t>(flows), options_.reorder_window,
                    st.stats);
}

void Decoder::DecodeIpfix(std::span<const uint8_t> d, ExporterState& st,
                          const ExporterId& exporter, TimeUs now, RecordSink& sink) {
  if (!templates_only_) ++st.stats.ipfix_datagrams;
  IpfixHeader h;
  if (!IpfixHeader::Decode(d, h)) {
    Count(st, DecodeError::kShortDatagram);
    return;
  }
  if (h.length != d.size()) {
    Count(st, DecodeError::kIpfixLengthMismatch);
    if (h.length < kIpfixMessageHeaderSize) return;
    // A datagram longer than its message: the bytes past the length are not the message's,
    // unless the sets' own lengths cover the datagram exactly, which says the length field is
    // what is wrong (an exporter seen in the wild sends 290 for 292 bytes; tshark decodes all).
    if (h.length < d.size() && !SetsCoverExactly(d.subspan(kIpfixMessageHeaderSize))) {
      d = d.first(h.length);
    }
  }
  const Context ctx{&st, &exporter, kIpfixVersion, h.domain, 0, h.export_secs, now, false};
  const SetWalk walk = WalkSets(ctx, d.subspan(kIpfixMessageHeaderSize), sink);
  if (templates_only_) return;
  // IPFIX sequence numbers count data records, so only a fully decoded message can advance it.
  st.sequence.Check(SequenceTracker::Key{exporter.port, kIpfixVersion, h.domain}, h.sequence,
                    static_cast<uint32_t>(walk.records), !walk.uncertain, -1,
                    options_.reorder_window, st.stats);
}

Decoder::SetWalk Decoder::WalkSets(const Context& ctx, std::span<const uint8_t> sets,
                                   RecordSink& sink) {
  ExporterState& st = *ctx.state;
  // v9 has no message length, so zero fill after the last FlowSet (Palo Alto) reads as a set
  // of length 0; an IPFIX message length leaves no room for fill, so there it is an error.
  const bool zero_length_ends = ctx.version == kNetflowV9Version;
  SetWalk walk;
  ByteReader r(sets);
  while (r.remaining() > 0) {
    if (r.remaining() < kFlowSetHeaderSize ||
        (zero_length_ends && ByteReader::LoadBe16(r.current() + 2) == 0)) {
      if (AllZero(r.rest())) {
        Count(st, DecodeError::kZeroPadding);
      } else {
        Count(st, DecodeError::kSetTooShort);
        walk.uncertain = true;
      }
      break;
    }
    uint16_t id = 0, len = 0;
    r.ReadU16(id);
    r.ReadU16(len);
    if (len < kFlowSetHeaderSize) {
      Count(st, DecodeError::kSetTooShort);
      walk.uncertain = true;
      break;
    }
    std::span<const uint8_t> body;
    if (!r.ReadSpan(len - kFlowSetHeaderSize, body)) {
      Count(st, DecodeError::kSetPastEnd);
      walk.uncertain = true;
      break;
    }
    if (IsTemplateSet(ctx.version, id)) {
      DecodeTemplateSet(ctx, id, body, sink, walk);
    } else if (id < kMinDataFlowSetId) {
      Count(st, DecodeError::kReservedSetId);
      walk.uncertain = true;
    } else {
      const TemplateKey key = KeyFor(*ctx.exporter, ctx.version, ctx.domain, id);
      const CachedTemplate* t = cache_.Find(key, ctx.receive_time);
      if (templates_only_ && (t == nullptr || !t->record.is_options)) {
        // Templates only: flow records are not wanted here, and nothing waits for a template.
        // Options data (sampling intervals, system init time) is still learned.
        continue;
      }
      if (t == nullptr) {
        BufferEarly(ctx, key, body);
        walk.uncertain = true;
      } else {
        walk.records += DecodeDataSet(ctx, *t, id, body, sink);
      }
    }
  }
  return walk;
}

void Decoder::DecodeTemplateSet(const Context& ctx, uint16_t set_id,
                                std::span<const uint8_t> body, RecordSink& sink,
                                SetWalk& walk) {
  ExporterState& st = *ctx.state;
  auto on_template = [&](TemplateRecord&& t) {
    ++walk.templates;
    LearnTemplate(ctx, std::move(t), sink);
  };
  if (ctx.version == kNetflowV9Version) {
    const TemplateParseError e = set_id == kTemplateFlowSetId
                                     ? ParseV9TemplateFlowSet(body, on_template)
                                     : ParseV9OptionsTemplateFlowSet(body, on_template);
    if (e != TemplateParseError::kNone) {
      Count(st, FromTemplateError(e));
      walk.uncertain = true;
    }
    return;
  }
  auto on_withdraw = [&](uint16_t template_id, bool all) {
    ++st.stats.templates_withdrawn;
    if (all) {
      cache_.WithdrawAll(KeyFor(*ctx.exporter, kIpfixVersion, ctx.domain, 0),
                         set_id == kIpfixOptionsTemplateSetId);
    } else if (!cache_.Withdraw(KeyFor(*ctx.exporter, kIpfixVersion, ctx.domain, template_id))) {
      Count(st, DecodeError::kWithdrawUnknown);
    }
  };
  auto on_skipped = [&](IpfixTemplateError e) {
    if (e == IpfixTemplateError::kZeroLengthRecord) {
      // Received but refused, as a v9 template whose fields add up to nothing.
      ++st.stats.templates;
    } else {
      walk.uncertain = true;
    }
    Count(st, FromIpfixTemplateError(e));
  };
  const IpfixTemplateError e = ParseIpfixTemplateSet(
      set_id, body, options_.max_template_fields, on_template, on_withdraw, on_skipped);
  if (e != IpfixTemplateError::kNone) {
    Count(st, FromIpfixTemplateError(e));
    // A set that ends inside an options template header is like short padding: the records
    // before it were all counted.
    if (e != IpfixTemplateError::kHeaderTruncated) walk.uncertain = true;
  }
}

}  // namespace nf
