// Process exit statuses shared by flowexport and flowcollect, so scripts and service managers
// can tell a command-line mistake (fix the unit file) from a run that failed (look at the
// machine). Both man pages document them in EXIT STATUS.
#ifndef NF_COMMON_EXIT_STATUS_H_
#define NF_COMMON_EXIT_STATUS_H_

#include "absl/status/status.h"

namespace nf {

inline constexpr int kExitOk = 0;
// The command line was valid but the run failed: an input that is not a readable capture, an
// address that cannot be bound, a permission, a write error.
inline constexpr int kExitFailure = 1;
// The command line is wrong: an unknown option, a malformed value (an address without a port,
// a port over 65535), a file or interface that does not exist, a bad filter.
inline constexpr int kExitUsage = 2;

// Usage for the errors that name a bad argument (InvalidArgument, NotFound), failure otherwise.
inline int ExitStatusFor(const absl::Status& status) {
  if (status.ok()) return kExitOk;
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
      return kExitUsage;
    default:
      return kExitFailure;
  }
}

}  // namespace nf

#endif  // NF_COMMON_EXIT_STATUS_H_
