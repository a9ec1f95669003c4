// One decode worker's record sink: it fans every decoded record out to the outputs.
//
// The CSV sink and the --report accumulator are shared by all workers (and read by the
// statistics report), so the records of one datagram are collected and handed over under one
// lock per datagram, not one per record. Each worker has its own ClickHouse batcher, which
// needs no lock. With one worker and no lock the records go straight through.
#ifndef NF_COLLECTOR_OUTPUT_FANOUT_FANOUT_SINK_H_
#define NF_COLLECTOR_OUTPUT_FANOUT_FANOUT_SINK_H_

#include <memory>
#include <mutex>
#include <vector>

#include "collector/decode/decoded_record.h"
#include "collector/output/clickhouse/clickhouse_sink.h"
#include "collector/output/csv/csv_sink.h"
#include "common/time_format.h"

namespace nf {

class FanoutSink : public RecordSink {
 public:
  // Any output may be null. `shared_mu` guards `csv` and `report` (null: one worker, no lock).
  FanoutSink(CsvSink* csv, std::mutex* shared_mu, clickhouse::ClickHouseWriter* clickhouse,
             RecordSink* report);

  void OnRecord(const DecodedRecord& r) override;
  // Hands the datagram's records to the shared outputs; call after each datagram.
  void EndDatagram();
  // Periodic: the batch age, and CSV rotation when `tick_csv` (one worker does it).
  void Tick(TimeUs now, bool tick_csv);
  // Hands over what is pending and sends the ClickHouse batch.
  void Flush();

 private:
  void Deliver(const DecodedRecord& r);

  CsvSink* csv_;
  std::mutex* shared_mu_;
  RecordSink* report_;
  std::vector<DecodedRecord> pending_;
  std::unique_ptr<clickhouse::ClickHouseBatcher> batcher_;
};

}  // namespace nf

#endif  // NF_COLLECTOR_OUTPUT_FANOUT_FANOUT_SINK_H_
