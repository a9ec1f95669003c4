// The ClickHouse table layout of the collector's raw records: the column list, the DDL
// `flowcollect --clickhouse-schema` prints, and the RowBinary encoding of one DecodedRecord.
//
// Why this layout (see docs/clickhouse.md):
// - It must work on ClickHouse 18.16 (Debian 12) and on current releases, so only types 18.16
//   knows are used: no DateTime64, no IPv6/IPv4 types, no LowCardinality. Addresses are
//   FixedString(16) holding IPv6 or IPv4-mapped IPv6 (::ffff:a.b.c.d), byte-compatible with the
//   IPv6 type of current releases; times are DateTime (seconds) plus a millisecond column.
//   Countries are FixedString(2) (zero bytes when unknown) and interface names String; on
//   current releases both can become LowCardinality in place.
// - It is partitioned by day of `receive_time` and ordered by (receive_time, exporter), the
//   layout goflow2 and akvorado use, so time-range queries read only the parts they need.
// - `batch_id` identifies the insert each row came from; the sink uses it to make re-sends
//   idempotent (a batch is re-sent only when `count() WHERE batch_id = X` is 0).
// Columns carry the CSV column names (docs/csv.md) wherever the meaning is the same. New columns
// go at the end; a table made by an older release needs them added (docs/clickhouse.md):
//   ALTER TABLE flows ADD COLUMN src_country FixedString(2), ADD COLUMN dst_country
//   FixedString(2), ADD COLUMN input_if_name String, ADD COLUMN output_if_name String
#ifndef NF_COLLECTOR_OUTPUT_CLICKHOUSE_SCHEMA_H_
#define NF_COLLECTOR_OUTPUT_CLICKHOUSE_SCHEMA_H_

#include <cstdint>
#include <span>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "collector/decode/decoded_record.h"

namespace nf::clickhouse {

struct Column {
  absl::string_view name;
  absl::string_view type;
  absl::string_view description;
};
// Every column, in RowBinary order.
std::span<const Column> Columns();
// "batch_id, receive_time, ..." for `INSERT INTO t (...)`.
std::string ColumnList();
// Bumped whenever Columns() or the encoding changes; spool files carry it so a newer binary
// never replays rows of another layout.
// 2: src_country, dst_country, input_if_name, output_if_name at the end.
inline constexpr uint32_t kLayoutVersion = 2;

// Table names: [db.]name, each part [A-Za-z_][A-Za-z0-9_]*.
absl::Status ValidateTableName(absl::string_view table);

// The CREATE TABLE statement for a local MergeTree table (works on 18.16 and current releases).
std::string CreateTableSql(absl::string_view table);
// A Distributed table over `cluster` in front of per-shard local tables `local_table`, sharded
// by batch_id so one batch lands on one shard (atomic, and its re-send check sees it).
std::string CreateDistributedTableSql(absl::string_view table, absl::string_view cluster,
                                      absl::string_view local_table);

// Appends one row in RowBinary. No allocation beyond `out`'s growth.
void AppendRowBinary(const DecodedRecord& r, uint64_t batch_id, std::string& out);
// Seconds since the epoch of a record's receive time, clamped to DateTime's range.
uint32_t ReceiveSeconds(const DecodedRecord& r);

}  // namespace nf::clickhouse

#endif  // NF_COLLECTOR_OUTPUT_CLICKHOUSE_SCHEMA_H_
