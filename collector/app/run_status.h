// What flowcollect tells a person while it runs and when it ends: the one-line periodic status
// (-v, every --status-interval seconds) and the short summary at exit (what was received,
// decoded and written, and what was dropped and why). Built from the same counters as the
// detailed report and --stats-json (collector/stats/stats_report.h), so the three never disagree.
#ifndef NF_COLLECTOR_APP_RUN_STATUS_H_
#define NF_COLLECTOR_APP_RUN_STATUS_H_

#include <cstdint>
#include <string>

#include "collector/stats/stats_report.h"

namespace nf {

// The counters the status line shows, read at one moment.
struct CollectorStatusSample {
  uint64_t datagrams = 0;
  uint64_t records = 0;
  uint64_t exporters = 0;
  uint64_t templates = 0;      // templates cached now
  uint64_t drops = 0;          // datagrams/sets lost or refused here, every reason
  uint64_t early_pending = 0;  // data sets waiting for their template now
  uint64_t early_decoded = 0;  // records decoded once their template arrived
};

CollectorStatusSample StatusSample(const DecoderSummary& decoders, const InputStats& input);

// "flowcollect: 1.2k datagrams/s, 34.5k records/s; 3 exporters, 7 templates; drops 0;
//  early: 0 sets waiting, 12 records decoded late"
std::string CollectorStatusLine(const CollectorStatusSample& before,
                                const CollectorStatusSample& now, double seconds);

// The exit summary: a few lines, every drop with its reason, zero counters left out.
std::string CollectorSummaryText(const DecoderSummary& decoders, const InputStats& input,
                                 const OutputStats& output);

}  // namespace nf

#endif  // NF_COLLECTOR_APP_RUN_STATUS_H_
