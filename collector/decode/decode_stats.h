// The decoder's counters: DecodeError (why part of a datagram was skipped) and ExporterStats
// (what one exporter sent and what became of it). Counters only grow, except the gauges marked
// so; every malformed input increments exactly one DecodeError.
#ifndef NF_COLLECTOR_DECODE_DECODE_STATS_H_
#define NF_COLLECTOR_DECODE_DECODE_STATS_H_

#include <array>
#include <cstddef>
#include <cstdint>

namespace nf {

// Why (part of) a datagram was skipped. Stable snake_case names via DecodeErrorName.
enum class DecodeError : uint8_t {
  kShortDatagram,         // shorter than the version's header
  kBadVersion,            // not NetFlow 5, 9, IPFIX 10 or sFlow 5 (sFlow v2/v4, garbage)
  kIpfixLengthMismatch,   // IPFIX message length differs from the datagram size
  kV5CountMismatch,       // v5 count disagrees with the datagram size (records present decoded)
  kV9CountMismatch,       // v9 header count differs from the records found by length
  kSetTooShort,           // FlowSet length < 4
  kSetPastEnd,            // FlowSet length runs past the datagram
  kReservedSetId,         // set ID 2..255 (v9) / 4..255 (IPFIX)
  kTemplateTruncated,     // template record runs past its FlowSet
  kTemplateBadId,         // template ID < 256
  kTemplateZeroFields,    // v9 template with no fields
  kTemplateZeroLengthRecord,  // fields that add up to a record of 0 bytes
  kTemplateBadScope,      // options template scope/option lengths invalid
  kTemplateTooLong,       // record longer than a datagram can carry
  kTemplateTooManyFields, // more fields than kMaxTemplateFields
  kTemplateLimit,         // per-exporter template bound reached (template refused)
  kWithdrawUnknown,       // IPFIX withdrawal of a template we do not have
  kRecordTruncated,       // variable-length field runs past the set
  kSetTrailingBytes,      // bytes left in a data set that are not padding
  kEarlyBufferFull,       // data for an unknown template dropped: early buffer full
  kExporterLimit,         // too many exporters: datagram dropped
  kZeroPadding,           // datagram ends in zero fill (Palo Alto): ignored, not malformed
  kSflowTruncated,        // sFlow header, sample, record or sampled header past its container
  kSflowBadLength,        // sFlow sample or record shorter than its format's fixed fields
  kSflowBadAddressType,   // sFlow address type not IPv4 (1) / IPv6 (2) (0 allowed in records)
  kSflowBadCount,         // sFlow sample/record/AS count larger than its bytes can hold
  kCount,
};
inline constexpr size_t kDecodeErrorCount = static_cast<size_t>(DecodeError::kCount);
const char* DecodeErrorName(DecodeError e);

// What became of an exporter's sFlow v5 samples (collector/decode/sflow_decoder.h).
struct SflowStats {
  uint64_t flow_samples = 0;     // flow samples decoded, each delivered as one record
  uint64_t counter_samples = 0;  // counter samples read (interface counters kept)
  uint64_t drop_samples = 0;     // drop notifications (format 5): skipped
  uint64_t other_samples = 0;    // unknown sample formats or enterprises: skipped
  uint64_t discarded_flow_samples = 0;  // flow samples of packets the agent discarded
  uint64_t records_skipped = 0;  // flow/counter records not used (format, enterprise)
  uint64_t headers_unsupported = 0;  // raw headers not Ethernet/IPv4/IPv6: counters only
  uint64_t headers_not_ip = 0;   // raw headers the frame parser found no IP packet in
  uint64_t datagrams_lost = 0;   // datagram sequence per (agent, sub-agent)
  uint64_t datagrams_reordered = 0;
  uint64_t datagram_sequence_resets = 0;
  uint64_t interfaces_refused = 0;  // counter records not kept: interface table full
  uint64_t streams_untracked = 0;   // sequence numbers not checked: stream table full
  void Add(const SflowStats& s);
};

// Per-exporter counters, as printed at exit / SIGUSR1 and written to --stats-json.
struct ExporterStats {
  uint64_t datagrams = 0;
  uint64_t datagram_bytes = 0;
  uint64_t v5_datagrams = 0;
  uint64_t v9_datagrams = 0;
  uint64_t ipfix_datagrams = 0;
  uint64_t sflow_datagrams = 0;  // sFlow v5 (details in `sflow`)
  uint64_t records = 0;          // flow records delivered to the sink
  uint64_t options_records = 0;  // options data records (consumed, not delivered)
  uint64_t packets = 0;          // sums over delivered records
  uint64_t bytes = 0;
  uint64_t templates = 0;        // template records received (incl. refreshes)
  uint64_t templates_new = 0;
  uint64_t templates_redefined = 0;
  uint64_t templates_withdrawn = 0;
  uint64_t sequence_lost = 0;    // datagrams (v9) / records (v5, IPFIX) missing
  uint64_t sequence_reordered = 0;
  uint64_t sequence_resets = 0;  // jumps too large to be loss (counted, not lost)
  uint64_t restarts = 0;         // sysUptime went backwards
  uint64_t early_sets_buffered = 0;
  uint64_t early_records_decoded = 0;
  uint64_t early_sets_aged_out = 0;
  uint64_t early_sets_dropped = 0;  // buffer full (also in errors)
  uint64_t early_sets_pending = 0;  // still waiting (gauge)
  uint32_t sampling_interval = 0;   // last learned default interval (gauge)
  SflowStats sflow;
  std::array<uint64_t, kDecodeErrorCount> errors{};
  uint64_t ErrorTotal() const;
  // Adds every counter and error of `s` (not the sampling_interval gauge, whose merge
  // depends on the caller).
  void AddCounters(const ExporterStats& s);
};

}  // namespace nf

#endif  // NF_COLLECTOR_DECODE_DECODE_STATS_H_
