// One decode worker's record sink: it enriches every decoded record (record_enricher.h), keeps
// those the -f filter selects (collector/filter, after enrichment so country and interface-name
// terms see their values) and fans them out to the outputs.
//
// The CSV sink and the --report accumulator are shared by all workers (and read by the
// statistics report), so the records of one datagram are collected and handed over under one
// lock per datagram, not one per record. Each worker has its own ClickHouse batcher, which
// needs no lock. With one worker and no lock the records go straight through.
//
// Enriched records may point into the enrichment snapshot (interface names), so the worker
// takes a reloaded snapshot only while it holds no pending record: a reload never frees what
// a pending record points to.
#ifndef NF_COLLECTOR_OUTPUT_FANOUT_FANOUT_SINK_H_
#define NF_COLLECTOR_OUTPUT_FANOUT_FANOUT_SINK_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "collector/decode/decoded_record.h"
#include "collector/filter/flow_filter.h"
#include "collector/output/clickhouse/clickhouse_sink.h"
#include "collector/output/csv/csv_sink.h"
#include "collector/output/fanout/record_enricher.h"
#include "common/time_format.h"

namespace nf {

class FanoutSink : public RecordSink {
 public:
  // Any output may be null. `shared_mu` guards `csv` and `report` (null: one worker, no lock).
  // `enrichment` (null: none) must outlive the sink; `enrich_override` is --enrich-override.
  FanoutSink(CsvSink* csv, std::mutex* shared_mu, clickhouse::ClickHouseWriter* clickhouse,
             RecordSink* report, const Enrichment* enrichment = nullptr,
             bool enrich_override = false, const FlowFilter* filter = nullptr);

  // This sink is the only one feeding the shared outputs (one worker; others only read their
  // counters under the lock): it then takes the lock at a datagram's first record and delivers
  // each record at once, instead of copying every record to hand them over at EndDatagram.
  void set_sole_producer(bool sole) { sole_producer_ = sole; }

  void OnRecord(const DecodedRecord& r) override;
  // Hands the datagram's records to the shared outputs; call after each datagram.
  void EndDatagram();
  // Periodic: the batch age, and CSV rotation when `tick_csv` (one worker does it).
  void Tick(TimeUs now, bool tick_csv);
  // Hands over what is pending and sends the ClickHouse batch.
  void Flush();
  // Records the filter left out, as of the end of the last datagram (any thread).
  uint64_t records_filtered() const { return filtered_published_.load(std::memory_order_relaxed); }

 private:
  void Deliver(const DecodedRecord& r);
  void Forward(const DecodedRecord& r);

  CsvSink* csv_;
  std::mutex* shared_mu_;
  RecordSink* report_;
  std::vector<DecodedRecord> pending_;
  bool sole_producer_ = false;
  std::unique_lock<std::mutex> held_;  // sole producer: the lock, from a datagram's first record
  std::unique_ptr<clickhouse::ClickHouseBatcher> batcher_;
  RecordEnricher enricher_;
  const FlowFilter* filter_;  // null: every record
  uint64_t filtered_ = 0;
  // filtered_ as of the last EndDatagram: one plain store per datagram, not an atomic
  // increment per record.
  std::atomic<uint64_t> filtered_published_{0};
};

}  // namespace nf

#endif  // NF_COLLECTOR_OUTPUT_FANOUT_FANOUT_SINK_H_
