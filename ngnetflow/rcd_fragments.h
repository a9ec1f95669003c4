// The rc.d script's shell fragments, kept as shell files (ngnetflow/rcd_*.sh.in) so they read
// and diff as shell, and compiled into the library by ngnetflow/CMakeLists.txt. They are
// templates: EmitRcd fills @S@ (the service name) and the other @...@ placeholders.
#ifndef NF_NGNETFLOW_RCD_FRAGMENTS_H_
#define NF_NGNETFLOW_RCD_FRAGMENTS_H_

#include "absl/strings/string_view.h"

namespace nf::ng {

// The helper functions (start, stop, status, knob checks).
absl::string_view RcdFunctions();
// The ether method's batch builder (one ng_netflow node on the interfaces' ng_ether hooks).
absl::string_view RcdEtherPlan();
// The ipfw method's batch builder (ngtee rules into one ng_netflow node).
absl::string_view RcdIpfwPlan();

}  // namespace nf::ng

#endif  // NF_NGNETFLOW_RCD_FRAGMENTS_H_
