// The collector's datagram decoder: NetFlow v5, NetFlow v9 (RFC 3954), IPFIX (RFC 7011) and
// sFlow v5 (sflow_decoder.h) export datagrams in, flat DecodedRecords out.
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
//
// The implementation is split by job: decoder.cc (dispatch, templates, early data),
// decoder_v5.cc, decoder_sets.cc (the v9 and IPFIX set walk), decoder_records.cc (data
// records), sflow_decoder.cc (sFlow); per-exporter state is in exporter_state.h, template
// compilation in decode_plan.h.
#ifndef NF_COLLECTOR_DECODE_DECODER_H_
#define NF_COLLECTOR_DECODE_DECODER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "collector/decode/decode_stats.h"
#include "collector/decode/decoded_record.h"
#include "collector/decode/exporter_state.h"
#include "collector/decode/sflow_decoder.h"
#include "collector/decode/shared_templates.h"
#include "collector/decode/template_cache.h"
#include "common/time_format.h"

namespace nf {

struct DecoderOptions {
  TemplateCache::Options templates;
  bool apply_sampling = false;
  // A record with reverse counters (RFC 5103 biflow, NSEL responder) becomes two records, one
  // per direction, instead of one with reverse_packets/reverse_bytes.
  bool biflow_split = false;
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
  // sFlow: the interface counter table and the sequence streams (per decoder).
  SflowDecoder::Limits sflow;
};

class Decoder {
 public:
  explicit Decoder(const DecoderOptions& options);

  // Decodes one export datagram received from `exporter` at `receive_time` (packet time for
  // files, so runs are deterministic). Records go to `sink`; problems are counted.
  void DecodeDatagram(std::span<const uint8_t> datagram, const ExporterId& exporter,
                      TimeUs receive_time, RecordSink& sink);
  // Learns the templates (and options data: sampling intervals) of a datagram whose flow
  // records are not wanted: a flow store's synthetic template datagram (collector/store: every
  // store file begins with the templates in force), or a stored datagram outside -r's
  // --from/--to, whose templates the records inside the window may need. Flow data sets are
  // skipped, never buffered. No datagram is counted and no sequence number or uptime checked:
  // those belong to the traffic the run decodes, and a replayed copy would read as loss or a
  // restart.
  void LearnTemplatesOnly(std::span<const uint8_t> datagram, const ExporterId& exporter,
                          TimeUs receive_time, RecordSink& sink);

  // IPFIX over TCP (RFC 7011 section 10.4; collector/receive/tcp_server.h): one message of the
  // transport session with `peer`. Its templates belong to that session, so they are keyed on
  // the peer's address AND port whatever TemplateCache::Options::key_port says, and are not
  // published to the other workers (no other worker sees the session). Per-exporter counters
  // stay keyed on the address alone: connections come and go, and keying them on ports would
  // grow the exporter table with every reconnection.
  void DecodeSessionMessage(std::span<const uint8_t> message, const ExporterId& peer,
                            TimeUs receive_time, RecordSink& sink);
  // The session with `peer` ended (closed, timed out, collector stopping): withdraws every
  // template it taught (all versions and domains; counted as withdrawn in the cache counters),
  // discards its early data (counted as aged out) and forgets its sequence streams.
  void EndSession(const ExporterId& peer);

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
  // sFlow interface counters (counter samples) per (agent address, ifIndex), in no order.
  void ForEachSflowInterface(
      absl::FunctionRef<void(const SflowInterfaceKey&, const SflowInterfaceCounters&)> fn) const;
  size_t sflow_interfaces() const { return sflow_.interfaces(); }

 private:
  // Per-datagram context passed down to the set and record decoders.
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
  // What walking a datagram's sets found.
  struct SetWalk {
    size_t templates = 0;  // template records parsed (v9 counts them in its header)
    size_t records = 0;    // data and options data records decoded
    bool uncertain = false;  // some set could not be counted (unknown template, error)
  };

  ExporterState* StateFor(const ExporterId& exporter);
  // The cache's key, with the peer's port inside a TCP session (DecodeSessionMessage).
  TemplateKey KeyFor(const ExporterId& exporter, uint8_t version, uint32_t domain,
                     uint16_t template_id) const;
  // sflow_decoder.cc: a datagram whose first 32-bit word is 5.
  void DecodeSflow(std::span<const uint8_t> d, ExporterState& st, const ExporterId& exporter,
                   TimeUs now, RecordSink& sink);
  // decoder_v5.cc
  void DecodeV5(std::span<const uint8_t> d, ExporterState& st, const ExporterId& exporter,
                TimeUs now, RecordSink& sink);
  // decoder_sets.cc: v9 and IPFIX headers, then one set walk for both.
  void DecodeV9(std::span<const uint8_t> d, ExporterState& st, const ExporterId& exporter,
                TimeUs now, RecordSink& sink);
  void DecodeIpfix(std::span<const uint8_t> d, ExporterState& st, const ExporterId& exporter,
                   TimeUs now, RecordSink& sink);
  SetWalk WalkSets(const Context& ctx, std::span<const uint8_t> sets, RecordSink& sink);
  void DecodeTemplateSet(const Context& ctx, uint16_t set_id, std::span<const uint8_t> body,
                         RecordSink& sink, SetWalk& walk);
  // decoder_records.cc. Returns records decoded (data + options); malformed ones are counted.
  size_t DecodeDataSet(const Context& ctx, const CachedTemplate& t, uint16_t template_id,
                       std::span<const uint8_t> body, RecordSink& sink);
  // Learns a template and replays early data waiting for it.
  void LearnTemplate(const Context& ctx, TemplateRecord&& rec, RecordSink& sink);
  void BufferEarly(const Context& ctx, const TemplateKey& key, std::span<const uint8_t> body);
  void ReplayEarly(ExporterState& st, const TemplateKey& key, RecordSink& sink);
  static void Count(ExporterState& st, DecodeError e) { st.Count(e); }

  DecoderOptions options_;
  EarlyBuffer::Limits early_limits_;
  TemplateCache cache_;
  absl::flat_hash_map<ExporterId, size_t> index_;
  std::vector<std::unique_ptr<ExporterState>> states_;
  ExporterState* last_state_ = nullptr;  // the last StateFor result (states_ owns it)
  uint64_t exporters_refused_ = 0;
  bool templates_only_ = false;  // inside LearnTemplatesOnly
  bool session_ = false;         // inside DecodeSessionMessage
  ExporterState overflow_state_;  // counts for datagrams from refused exporters
  uint64_t shared_seen_ = 0;      // shared template store generation already applied
  std::vector<SharedTemplateStore::Entry> shared_changes_;  // reused by SyncSharedTemplates
  SflowDecoder sflow_;
};

}  // namespace nf

#endif  // NF_COLLECTOR_DECODE_DECODER_H_
