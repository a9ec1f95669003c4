#include "collector/decode/decode_stats.h"

namespace nf {

const char* DecodeErrorName(DecodeError e) {
  switch (e) {
    case DecodeError::kShortDatagram: return "short_datagram";
    case DecodeError::kBadVersion: return "bad_version";
    case DecodeError::kIpfixLengthMismatch: return "ipfix_length_mismatch";
    case DecodeError::kV5CountMismatch: return "v5_count_mismatch";
    case DecodeError::kV9CountMismatch: return "v9_count_mismatch";
    case DecodeError::kSetTooShort: return "set_too_short";
    case DecodeError::kSetPastEnd: return "set_past_end";
    case DecodeError::kReservedSetId: return "reserved_set_id";
    case DecodeError::kTemplateTruncated: return "template_truncated";
    case DecodeError::kTemplateBadId: return "template_bad_id";
    case DecodeError::kTemplateZeroFields: return "template_zero_fields";
    case DecodeError::kTemplateZeroLengthRecord: return "template_zero_length_record";
    case DecodeError::kTemplateBadScope: return "template_bad_scope";
    case DecodeError::kTemplateTooLong: return "template_too_long";
    case DecodeError::kTemplateTooManyFields: return "template_too_many_fields";
    case DecodeError::kTemplateLimit: return "template_limit";
    case DecodeError::kWithdrawUnknown: return "withdraw_unknown_template";
    case DecodeError::kRecordTruncated: return "record_truncated";
    case DecodeError::kSetTrailingBytes: return "set_trailing_bytes";
    case DecodeError::kEarlyBufferFull: return "early_buffer_full";
    case DecodeError::kExporterLimit: return "exporter_limit";
    case DecodeError::kZeroPadding: return "zero_padding";
    case DecodeError::kSflowTruncated: return "sflow_truncated";
    case DecodeError::kSflowBadLength: return "sflow_bad_length";
    case DecodeError::kSflowBadAddressType: return "sflow_bad_address_type";
    case DecodeError::kSflowBadCount: return "sflow_bad_count";
    case DecodeError::kCount: break;
  }
  return "unknown";
}

uint64_t ExporterStats::ErrorTotal() const {
  uint64_t n = 0;
  for (uint64_t e : errors) n += e;
  return n;
}

void ExporterStats::AddCounters(const ExporterStats& s) {
  ExporterStats& t = *this;
  t.datagrams += s.datagrams;
  t.datagram_bytes += s.datagram_bytes;
  t.v5_datagrams += s.v5_datagrams;
  t.v9_datagrams += s.v9_datagrams;
  t.ipfix_datagrams += s.ipfix_datagrams;
  t.sflow_datagrams += s.sflow_datagrams;
  t.records += s.records;
  t.options_records += s.options_records;
  t.packets += s.packets;
  t.bytes += s.bytes;
  t.templates += s.templates;
  t.templates_new += s.templates_new;
  t.templates_redefined += s.templates_redefined;
  t.templates_withdrawn += s.templates_withdrawn;
  t.sequence_lost += s.sequence_lost;
  t.sequence_reordered += s.sequence_reordered;
  t.sequence_resets += s.sequence_resets;
  t.restarts += s.restarts;
  t.early_sets_buffered += s.early_sets_buffered;
  t.early_records_decoded += s.early_records_decoded;
  t.early_sets_aged_out += s.early_sets_aged_out;
  t.early_sets_dropped += s.early_sets_dropped;
  t.early_sets_pending += s.early_sets_pending;
  t.sflow.Add(s.sflow);
  for (size_t i = 0; i < kDecodeErrorCount; ++i) t.errors[i] += s.errors[i];
}

void SflowStats::Add(const SflowStats& s) {
  flow_samples += s.flow_samples;
  counter_samples += s.counter_samples;
  drop_samples += s.drop_samples;
  other_samples += s.other_samples;
  discarded_flow_samples += s.discarded_flow_samples;
  records_skipped += s.records_skipped;
  headers_unsupported += s.headers_unsupported;
  headers_not_ip += s.headers_not_ip;
  datagrams_lost += s.datagrams_lost;
  datagrams_reordered += s.datagrams_reordered;
  datagram_sequence_resets += s.datagram_sequence_resets;
  interfaces_refused += s.interfaces_refused;
  streams_untracked += s.streams_untracked;
}

}  // namespace nf
