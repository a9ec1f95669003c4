// The collector's datagram decoder: NetFlow v5, NetFlow v9 (RFC 3954) and IPFIX (RFC 7011)
// export datagrams in, flat DecodedRecords out.
//
// Robustness rules, each a lesson from another collector's bug tracker:
// - FlowSets / Sets are walked by their length; the v9 header count is never trusted (softflowd
//   sends a wrong count, and tshark stops early on it). A mismatch is only counted.
// - Every malformed datagram, set, template or record is skipped and counted by reason
//   (DecodeError); decoding resumes at the next set or datagram. Nothing is unbounded: templates
//   per exporter, exporters, buffered early data (count, bytes, age) and fields per template
//   all have limits whose overflow is counted.
// - Data that arrives before its template (cold start, router reboot, data set placed before
//   the template set in one datagram) is kept per exporter and decoded when the template
//   arrives; what ages out is counted.
// - Options data teaches sampling per exporter (fields 34/35, sampler tables 48/49/50, IPFIX
//   302/305/306); `apply_sampling` scales counters.
// - Sequence numbers are checked per (exporter, port, version, source ID) with a small reorder
//   window: v9 counts datagrams, IPFIX and v5 count records; sysUptime going backwards marks an
//   exporter restart.
#ifndef NF_COLLECTOR_DECODE_DECODER_H_
#define NF_COLLECTOR_DECODE_DECODER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "collector/decode/decoded_record.h"
#include "collector/decode/shared_templates.h"
#include "collector/decode/template_cache.h"
#include "common/time_format.h"

namespace nf {

// Why (part of) a datagram was skipped. Stable snake_case names via DecodeErrorName.
enum class DecodeError : uint8_t {
  kShortDatagram,         // shorter than the version's header
  kBadVersion,            // not 5, 9 or 10 (sFlow, garbage)
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
  kCount,
};
inline constexpr size_t kDecodeErrorCount = static_cast<size_t>(DecodeError::kCount);
const char* DecodeErrorName(DecodeError e);

struct DecoderOptions {
  TemplateCache::Options templates;
  bool apply_sampling = false;
  // Early-data buffer per exporter: data sets whose template is unknown.
  size_t early_max_sets = 1024;
  size_t early_max_bytes = 4 << 20;
  int64_t early_max_age_us = 120'000'000;
  // Sequence numbers up to this far behind the expected one are reordering, not a reset.
  uint32_t reorder_window = 64;
  size_t max_exporters = 65536;
  size_t max_template_fields = 1024;
  // --workers: templates learned by any worker's decoder are shared through this store (not
  // owned; must outlive the decoder). Null = a single decoder.
  SharedTemplateStore* shared_templates = nullptr;
};

// Per-exporter counters, as printed at exit / SIGUSR1 and written to --stats-json.
struct ExporterStats {
  uint64_t datagrams = 0;
  uint64_t datagram_bytes = 0;
  uint64_t v5_datagrams = 0;
  uint64_t v9_datagrams = 0;
  uint64_t ipfix_datagrams = 0;
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
  std::array<uint64_t, kDecodeErrorCount> errors{};
  uint64_t ErrorTotal() const;
  // Adds every counter and error of `s` (not the sampling_interval gauge, whose merge
  // depends on the caller).
  void AddCounters(const ExporterStats& s);
};

class Decoder {
 public:
  explicit Decoder(const DecoderOptions& options);

  // Decodes one export datagram received from `exporter` at `receive_time` (packet time for
  // files, so runs are deterministic). Records go to `sink`; problems are counted.
  void DecodeDatagram(std::span<const uint8_t> datagram, const ExporterId& exporter,
                      TimeUs receive_time, RecordSink& sink);

  // Ages out buffered early data and expired templates; call periodically with "now".
  void Expire(TimeUs now);
  // Counts every still-buffered early set as aged out (end of input / shutdown).
  void DiscardEarly();
  // With a shared template store: takes the templates other workers learned since the last
  // call and decodes early data waiting for them. Done at the start of every datagram; call it
  // also from the worker's periodic tick (before Expire) so idle workers catch up.
  void SyncSharedTemplates(TimeUs now, RecordSink& sink);

  TemplateCache& templates() { return cache_; }
  const TemplateCache& templates() const { return cache_; }
  // Builds the decoder's per-field ops for a template (used by TemplateCache::Load).
  bool Compile(CachedTemplate& t, uint8_t version) const;

  // Exporters in first-seen order with their counters. Key text is "ADDR" or "ADDR:PORT".
  void ForEachExporter(absl::FunctionRef<void(const ExporterId&, const ExporterStats&)> fn) const;
  uint64_t exporters_refused() const { return exporters_refused_; }
  ExporterStats Totals() const;

 private:
  struct SeqTracker {
    bool init = false;
    // softflowd numbers v9 datagrams by flows (like IPFIX); detected once, then used.
    bool alt_mode = false;
    uint32_t expected = 0;
    uint32_t expected_alt = 0;
    uint32_t last_uptime = 0;
    bool have_uptime = false;
  };
  struct SeqKey {
    uint16_t port;
    uint8_t version;
    uint32_t domain;
    friend bool operator==(const SeqKey&, const SeqKey&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const SeqKey& k) {
      return H::combine(std::move(h), k.port, k.version, k.domain);
    }
  };
  struct SamplerKey {
    uint32_t domain;
    uint64_t sampler;
    friend bool operator==(const SamplerKey&, const SamplerKey&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const SamplerKey& k) {
      return H::combine(std::move(h), k.domain, k.sampler);
    }
  };
  // A data set whose template was unknown, kept with what decoding it later needs.
  struct EarlySet {
    TemplateKey key;
    ExporterId exporter;
    uint32_t sys_uptime_ms;
    uint32_t export_secs;
    TimeUs receive_time;
    std::vector<uint8_t> body;
  };
  struct ExporterState {
    ExporterId id;
    ExporterStats stats;
    absl::flat_hash_map<SeqKey, SeqTracker> seq;
    absl::flat_hash_map<SamplerKey, uint32_t> samplers;  // (domain, sampler ID) -> interval
    absl::flat_hash_map<uint32_t, uint32_t> domain_sampling;  // domain -> interval
    uint32_t any_sampling = 0;  // last interval learned from any domain
    absl::flat_hash_map<uint32_t, int64_t> system_init_ms;  // IPFIX IE 160 per domain
    std::deque<EarlySet> early;
    size_t early_bytes = 0;
  };
  // Per-datagram context passed down to the record decoder.
  struct Context {
    ExporterState* state;
    const ExporterId* exporter;
    uint8_t version;
    uint32_t domain;
    uint32_t sys_uptime_ms;  // v9 only
    uint32_t export_secs;
    TimeUs receive_time;
    bool from_early;
  };

  ExporterState* StateFor(const ExporterId& exporter);
  void DecodeV5(std::span<const uint8_t> d, ExporterState& st, const ExporterId& exporter,
                TimeUs now, RecordSink& sink);
  void DecodeV9(std::span<const uint8_t> d, ExporterState& st, const ExporterId& exporter,
                TimeUs now, RecordSink& sink);
  void DecodeIpfix(std::span<const uint8_t> d, ExporterState& st, const ExporterId& exporter,
                   TimeUs now, RecordSink& sink);
  // Returns records decoded (data + options); adds to *bad on a malformed record.
  size_t DecodeDataSet(const Context& ctx, const CachedTemplate& t, uint16_t template_id,
                       std::span<const uint8_t> body, RecordSink& sink);
  // Learns a template and replays early data waiting for it.
  void LearnTemplate(const Context& ctx, TemplateRecord&& rec, RecordSink& sink);
  void BufferEarly(const Context& ctx, const TemplateKey& key, std::span<const uint8_t> body);
  void ReplayEarly(ExporterState& st, const TemplateKey& key, RecordSink& sink);
  void AgeEarly(ExporterState& st, TimeUs now);
  // `units` is what the sequence number normally counts; `alt_units` (v9 only, -1 otherwise)
  // is the number of flow records, for exporters that number flows instead of datagrams.
  void CheckSequence(ExporterState& st, const SeqKey& key, uint32_t seq, uint32_t units,
                     bool countable, int64_t alt_units = -1);
  uint32_t SamplingFor(const ExporterState& st, uint32_t domain, bool has_sampler,
                       uint64_t sampler, uint32_t record_interval) const;
  void Count(ExporterState& st, DecodeError e) { ++st.stats.errors[static_cast<size_t>(e)]; }

  DecoderOptions options_;
  TemplateCache cache_;
  absl::flat_hash_map<ExporterId, size_t> index_;
  std::vector<std::unique_ptr<ExporterState>> states_;
  uint64_t exporters_refused_ = 0;
  ExporterState overflow_state_;  // counts for datagrams from refused exporters
  uint64_t shared_seen_ = 0;      // shared template store generation already applied
  std::vector<SharedTemplateStore::Entry> shared_changes_;  // reused by SyncSharedTemplates
};

}  // namespace nf

#endif  // NF_COLLECTOR_DECODE_DECODER_H_
