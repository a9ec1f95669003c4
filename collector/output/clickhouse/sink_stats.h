// The ClickHouse sink's counters as flowcollect reports them at exit (and on SIGUSR1): a text
// line for stderr and a JSON object for --stats-json (key "clickhouse"). Reads the writer's
// relaxed atomics, so it can run on any thread.
#ifndef NF_COLLECTOR_OUTPUT_CLICKHOUSE_SINK_STATS_H_
#define NF_COLLECTOR_OUTPUT_CLICKHOUSE_SINK_STATS_H_

#include <string>

#include "collector/output/clickhouse/clickhouse_sink.h"

namespace nf::clickhouse {

// {"records_queued":N,"records_inserted":N,"batches_inserted":N,"batches_spooled":N,
//  "insert_failures":N,"retries":N,"batches_found_present":N,"batches_partial":N,
//  "records_dropped":{"spool_full":N,"queue_full":N,"other":N},"spool_bytes":N,
//  "spool_files":N,"spool_records":N,"spool_skipped_files":N,"spool_max_bytes":N,"up":0|1,
//  "last_error":"..."}  (spool_files: batches in the spool, one file each with --spool-dir)
std::string SinkStatsJson(const ClickHouseWriter& writer);

// "clickhouse: ..." lines ending in '\n'.
std::string SinkStatsText(const ClickHouseWriter& writer);

}  // namespace nf::clickhouse

#endif  // NF_COLLECTOR_OUTPUT_CLICKHOUSE_SINK_STATS_H_
