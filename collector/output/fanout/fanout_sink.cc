#include "collector/output/fanout/fanout_sink.h"

namespace nf {

FanoutSink::FanoutSink(CsvSink* csv, std::mutex* shared_mu,
                       clickhouse::ClickHouseWriter* clickhouse, RecordSink* report,
                       const Enrichment* enrichment, bool enrich_override,
                       const FlowFilter* filter)
    : csv_(csv),
      shared_mu_(shared_mu),
      report_(report),
      enricher_(enrichment, enrich_override),
      filter_(filter != nullptr && !filter->matches_all() ? filter : nullptr) {
  if (clickhouse != nullptr) batcher_ = std::make_unique<clickhouse::ClickHouseBatcher>(*clickhouse);
  if (shared_mu_ != nullptr) pending_.reserve(4096);
}

void FanoutSink::OnRecord(const DecodedRecord& r) {
  if (!enricher_.active()) {
    Forward(r);
    return;
  }
  // A reloaded snapshot is taken only while this worker holds no record enriched from the
  // previous one (its names point into it): always when records go straight through, at the
  // first record of a datagram when they wait for EndDatagram.
  if (pending_.empty()) enricher_.Refresh();
  DecodedRecord enriched = r;  // a plain value on the stack: no allocation
  enricher_.Enrich(enriched);
  Forward(enriched);
}

void FanoutSink::Forward(const DecodedRecord& r) {
  if (filter_ != nullptr && !filter_->Matches(r)) {
    ++filtered_;
    return;
  }
  if (csv_ != nullptr || report_ != nullptr) {
    if (shared_mu_ == nullptr) {
      Deliver(r);
    } else if (sole_producer_) {
      if (!held_.owns_lock()) held_ = std::unique_lock<std::mutex>(*shared_mu_);
      Deliver(r);
    } else {
      pending_.push_back(r);
    }
  }
  if (batcher_ != nullptr) batcher_->OnRecord(r);
}

void FanoutSink::EndDatagram() {
  filtered_published_.store(filtered_, std::memory_order_relaxed);
  if (held_.owns_lock()) held_.unlock();
  if (pending_.empty()) return;
  std::lock_guard<std::mutex> lock(*shared_mu_);
  for (const DecodedRecord& r : pending_) Deliver(r);
  pending_.clear();
}

void FanoutSink::Deliver(const DecodedRecord& r) {
  if (csv_ != nullptr) csv_->OnRecord(r);
  if (report_ != nullptr) report_->OnRecord(r);
}

void FanoutSink::Tick(TimeUs now, bool tick_csv) {
  EndDatagram();
  if (batcher_ != nullptr) batcher_->Tick(now);
  if (tick_csv && csv_ != nullptr) {
    if (shared_mu_ != nullptr) {
      std::lock_guard<std::mutex> lock(*shared_mu_);
      (void)csv_->Tick(now);
    } else {
      (void)csv_->Tick(now);
    }
  }
}

void FanoutSink::Flush() {
  EndDatagram();
  if (batcher_ != nullptr) batcher_->Flush();
}

}  // namespace nf
