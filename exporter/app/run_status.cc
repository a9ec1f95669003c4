#include "exporter/app/run_status.h"

#include "absl/strings/str_cat.h"
#include "common/progress.h"

namespace nf {

std::string ExportStatusLine(const ExportStatusSample& before, const ExportStatusSample& now,
                             double seconds) {
  return absl::StrCat(
      "flowexport: ", HumanRate(PerSecond(before.packets_seen, now.packets_seen, seconds)),
      " packets/s, ", Grouped(now.flows_active), " active flows, ",
      HumanRate(PerSecond(before.records_sent, now.records_sent, seconds)),
      " flows/s exported, ", Grouped(now.datagrams_sent), " datagrams; capture drops ",
      Grouped(now.capture_drops), ", send errors ", Grouped(now.send_errors), "\n");
}

}  // namespace nf
