// What flowexport tells a person while it runs: the one-line periodic status (--verbose, every
// --status-interval seconds). Its sample is read from the same ExportSnapshot as the exit
// summary and --stats-json (exporter/app/export_stats.h).
#ifndef NF_EXPORTER_APP_RUN_STATUS_H_
#define NF_EXPORTER_APP_RUN_STATUS_H_

#include <cstdint>
#include <string>

namespace nf {

// The counters the status line shows, read at one moment.
struct ExportStatusSample {
  uint64_t packets_seen = 0;
  uint64_t flows_active = 0;    // in the flow table now
  uint64_t records_sent = 0;    // flow records exported (one per flow)
  uint64_t datagrams_sent = 0;
  uint64_t capture_drops = 0;   // kernel + interface drops (live), full shard rings
  uint64_t send_errors = 0;
};

// "flowexport: 81.2k packets/s, 12,345 active flows, 1.2k flows/s exported, 4,567 datagrams;
//  capture drops 0, send errors 0"
std::string ExportStatusLine(const ExportStatusSample& before, const ExportStatusSample& now,
                             double seconds);

}  // namespace nf

#endif  // NF_EXPORTER_APP_RUN_STATUS_H_
