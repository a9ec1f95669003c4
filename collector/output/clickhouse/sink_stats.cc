#include "collector/output/clickhouse/sink_stats.h"

#include <cstdio>

#include "absl/strings/str_cat.h"

namespace nf::clickhouse {
namespace {

uint64_t V(const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); }

void AppendJsonString(const std::string& s, std::string& out) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
}

}  // namespace

std::string SinkStatsJson(const ClickHouseWriter& writer) {
  const ClickHouseCounters& c = writer.counters();
  std::string j = absl::StrCat(
      "{\"records_queued\":", V(c.records_queued), ",\"records_inserted\":",
      V(c.records_inserted), ",\"batches_inserted\":", V(c.batches_inserted),
      ",\"batches_spooled\":", V(c.batches_spooled), ",\"insert_failures\":",
      V(c.insert_failures), ",\"retries\":", V(c.retries), ",\"batches_found_present\":",
      V(c.batches_found_present), ",\"batches_partial\":", V(c.batches_partial),
      ",\"records_dropped\":{\"spool_full\":", V(c.records_dropped_spool_full),
      ",\"queue_full\":", V(c.records_dropped_queue_full), ",\"other\":",
      V(c.records_dropped_other), "},\"spool_bytes\":", V(c.spool_bytes), ",\"spool_files\":",
      V(c.spool_batches), ",\"spool_records\":", V(c.spool_records),
      ",\"spool_skipped_files\":", writer.spool_skipped_files(), ",\"spool_max_bytes\":",
      writer.options().spool_max_bytes, ",\"up\":", V(c.up), ",\"last_error\":");
  AppendJsonString(writer.last_error(), j);
  j += '}';
  return j;
}

std::string SinkStatsText(const ClickHouseWriter& writer) {
  const ClickHouseCounters& c = writer.counters();
  std::string text = absl::StrCat(
      "clickhouse: records queued ", V(c.records_queued), ", inserted ", V(c.records_inserted),
      " in ", V(c.batches_inserted), " batches; insert failures ", V(c.insert_failures),
      ", retries ", V(c.retries), ", batches spooled ", V(c.batches_spooled),
      " (found already inserted ", V(c.batches_found_present), ", partial ",
      V(c.batches_partial), "); spool now ", V(c.spool_records), " records in ",
      V(c.spool_batches), " files, ", V(c.spool_bytes), " bytes; dropped ",
      V(c.records_dropped_spool_full) + V(c.records_dropped_queue_full) +
          V(c.records_dropped_other),
      " (spool full ", V(c.records_dropped_spool_full), ", queue full ",
      V(c.records_dropped_queue_full), ", other ", V(c.records_dropped_other), ")\n");
  const std::string err = writer.last_error();
  if (!err.empty()) absl::StrAppend(&text, "clickhouse: last error: ", err, "\n");
  return text;
}

}  // namespace nf::clickhouse
