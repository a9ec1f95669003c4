// The decoder's dispatch and its template and early-data bookkeeping. Datagram decoding by
// version lives in decoder_v5.cc and decoder_sets.cc (v9 and IPFIX share one set walk), data
// records in decoder_records.cc.
#include "collector/decode/decoder.h"

#include <memory>
#include <utility>

#include "collector/decode/decode_plan.h"
#include "common/byte_reader.h"
#include "wire/ipfix.h"
#include "wire/netflow_v9.h"
#include "wire/v5.h"

namespace nf {

Decoder::Decoder(const DecoderOptions& options)
    : options_(options),
      early_limits_{options.early_max_sets, options.early_max_bytes, options.early_max_age_us},
      cache_(options.templates),
      sflow_(options.sflow) {}

bool Decoder::Compile(CachedTemplate& t, uint8_t version) const {
  return CompileTemplate(t, version, options_.max_template_fields);
}

ExporterState* Decoder::StateFor(const ExporterId& exporter) {
  ExporterId id = exporter;
  if (session_ || !options_.templates.key_port) id.port = 0;
  // Datagrams come in runs from one exporter: its state without a hash lookup. States are
  // never removed, so the pointer stays valid.
  if (last_state_ != nullptr && last_state_->id == id) return last_state_;
  auto it = index_.find(id);
  if (it != index_.end()) return last_state_ = states_[it->second].get();
  if (states_.size() >= options_.max_exporters) return nullptr;
  auto st = std::make_unique<ExporterState>();
  st->id = id;
  index_.emplace(id, states_.size());
  states_.push_back(std::move(st));
  return last_state_ = states_.back().get();
}

void Decoder::DecodeDatagram(std::span<const uint8_t> datagram, const ExporterId& exporter,
                             TimeUs receive_time, RecordSink& sink) {
  if (options_.shared_templates != nullptr &&
      options_.shared_templates->generation() != shared_seen_) {
    SyncSharedTemplates(receive_time, sink);
  }
  ExporterState* st = StateFor(exporter);
  if (st == nullptr) {
    // A refused exporter's replayed templates are not traffic either (LearnTemplatesOnly).
    if (templates_only_) return;
    ++exporters_refused_;
    ++overflow_state_.stats.datagrams;
    Count(overflow_state_, DecodeError::kExporterLimit);
    return;
  }
  if (!templates_only_) {
    ++st->stats.datagrams;
    st->stats.datagram_bytes += datagram.size();
  }
  if (!st->early.empty()) st->early.Age(early_limits_, receive_time, st->stats);
  if (datagram.size() < 2) {
    Count(*st, DecodeError::kShortDatagram);
    return;
  }
  const uint16_t version = ByteReader::LoadBe16(datagram.data());
  // sFlow's version is a 32-bit 5; NetFlow v5's 16-bit 0x0005 puts the 5 in the first word.
  if (version == 0 && datagram.size() >= 4 &&
      ByteReader::LoadBe32(datagram.data()) == kSflowVersion5) {
    // sFlow has no templates: nothing to learn in LearnTemplatesOnly.
    if (!templates_only_) DecodeSflow(datagram, *st, exporter, receive_time, sink);
    return;
  }
  switch (version) {
    case kNetflowV5Version: DecodeV5(datagram, *st, exporter, receive_time, sink); break;
    case kNetflowV9Version: DecodeV9(datagram, *st, exporter, receive_time, sink); break;
    case kIpfixVersion: DecodeIpfix(datagram, *st, exporter, receive_time, sink); break;
    default: Count(*st, DecodeError::kBadVersion); break;
  }
}

void Decoder::LearnTemplatesOnly(std::span<const uint8_t> datagram, const ExporterId& exporter,
                                 TimeUs receive_time, RecordSink& sink) {
  templates_only_ = true;
  DecodeDatagram(datagram, exporter, receive_time, sink);
  templates_only_ = false;
}

void Decoder::DecodeSessionMessage(std::span<const uint8_t> message, const ExporterId& peer,
                                   TimeUs receive_time, RecordSink& sink) {
  session_ = true;
  DecodeDatagram(message, peer, receive_time, sink);
  session_ = false;
}

void Decoder::EndSession(const ExporterId& peer) {
  cache_.RemoveExporter(peer.address, peer.port);
  auto it = index_.find(ExporterId{peer.address, 0});
  if (it == index_.end()) return;
  ExporterState& st = *states_[it->second];
  st.early.DiscardFor(peer.address, peer.port, st.stats);
  st.sequence.Forget(peer.port);
}

TemplateKey Decoder::KeyFor(const ExporterId& exporter, uint8_t version, uint32_t domain,
                            uint16_t template_id) const {
  TemplateKey key = cache_.MakeKey(exporter, version, domain, template_id);
  if (session_) key.port = exporter.port;  // RFC 7011 10.4: templates live in their session
  return key;
}

// ---------------------------------------------------------------------------------------------
// Templates and early data

void Decoder::LearnTemplate(const Context& ctx, TemplateRecord&& rec, RecordSink& sink) {
  ExporterState& st = *ctx.state;
  ++st.stats.templates;
  CachedTemplate t;
  t.record = std::move(rec);
  t.learned_us = ctx.receive_time;
  if (t.record.scope_fields.size() + t.record.fields.size() > options_.max_template_fields) {
    Count(st, DecodeError::kTemplateTooManyFields);
    return;
  }
  const TemplateKey key = KeyFor(*ctx.exporter, ctx.version, ctx.domain, t.record.template_id);
  // A known template resent unchanged (the common case) keeps its compiled plan.
  if (cache_.Refresh(key, t.record, ctx.receive_time)) {
    if (!st.early.empty()) ReplayEarly(st, key, sink);
    return;
  }
  if (!Compile(t, ctx.version)) {
    // Zero-length fields are legal (they take no bytes of a record), but a record of no bytes
    // at all would make the data set walk spin, so such a template is refused.
    const bool has_fields = !t.record.scope_fields.empty() || !t.record.fields.empty();
    Count(st, has_fields ? DecodeError::kTemplateZeroLengthRecord : DecodeError::kTemplateZeroFields);
    return;
  }
  const TemplateCache::AddResult added = cache_.Add(key, std::move(t));
  switch (added) {
    case TemplateCache::AddResult::kAdded: ++st.stats.templates_new; break;
    case TemplateCache::AddResult::kReplaced: ++st.stats.templates_redefined; break;
    case TemplateCache::AddResult::kRefreshed: break;
    case TemplateCache::AddResult::kRefused: Count(st, DecodeError::kTemplateLimit); return;
  }
  if (options_.shared_templates != nullptr && added != TemplateCache::AddResult::kRefreshed &&
      !session_) {
    // New or redefined: the other workers need it. (Refreshes are not published: no lock. A TCP
    // session's templates are its own.)
    if (const CachedTemplate* learned = cache_.Find(key, ctx.receive_time)) {
      options_.shared_templates->Publish(key, learned->record, ctx.receive_time);
    }
  }
  if (!st.early.empty()) ReplayEarly(st, key, sink);
}

void Decoder::SyncSharedTemplates(TimeUs now, RecordSink& sink) {
  SharedTemplateStore* store = options_.shared_templates;
  if (store == nullptr) return;
  shared_changes_.clear();
  shared_seen_ = store->ChangesSince(shared_seen_, shared_changes_);
  for (SharedTemplateStore::Entry& e : shared_changes_) {
    const CachedTemplate* have = cache_.Find(e.key, now);
    if (have != nullptr && have->record == e.record) continue;  // ours, or already applied
    CachedTemplate t;
    t.record = std::move(e.record);
    t.learned_us = e.learned_us;
    if (!Compile(t, e.key.version)) continue;
    if (cache_.Add(e.key, std::move(t)) == TemplateCache::AddResult::kRefused) continue;
    auto it = index_.find(ExporterId{e.key.exporter, e.key.port});
    if (it != index_.end() && !states_[it->second]->early.empty()) {
      ReplayEarly(*states_[it->second], e.key, sink);
    }
  }
}

void Decoder::BufferEarly(const Context& ctx, const TemplateKey& key,
                          std::span<const uint8_t> body) {
  ExporterState& st = *ctx.state;
  st.early.Add(early_limits_, key, *ctx.exporter, ctx.sys_uptime_ms, ctx.export_secs,
               ctx.receive_time, body, st.stats);
}

void Decoder::ReplayEarly(ExporterState& st, const TemplateKey& key, RecordSink& sink) {
  std::vector<EarlySet> ready;
  st.early.TakeFor(key, ready, st.stats);
  for (EarlySet& e : ready) {
    const CachedTemplate* t = cache_.Find(key, e.receive_time);
    if (t == nullptr) continue;
    Context ctx{&st, &e.exporter, key.version, key.domain, e.sys_uptime_ms, e.export_secs,
                e.receive_time, true};
    st.stats.early_records_decoded += DecodeDataSet(ctx, *t, key.template_id, e.body, sink);
  }
}

void Decoder::Expire(TimeUs now) {
  for (auto& st : states_) st->early.Age(early_limits_, now, st->stats);
  cache_.Expire(now);
}

void Decoder::DiscardEarly() {
  for (auto& st : states_) st->early.DiscardAll(st->stats);
}

// ---------------------------------------------------------------------------------------------

void Decoder::ForEachExporter(
    absl::FunctionRef<void(const ExporterId&, const ExporterStats&)> fn) const {
  for (const auto& st : states_) fn(st->id, st->stats);
}

ExporterStats Decoder::Totals() const {
  ExporterStats t;
  for (const auto& st : states_) t.AddCounters(st->stats);
  t.AddCounters(overflow_state_.stats);
  return t;
}

}  // namespace nf
