// Least privilege for the daemons: `-u USER` / `-g GROUP` switch the process to an unprivileged
// identity once everything that needs root (capture handles, sockets on ports < 1024, output
// opened in protected places) is open.
//
// Two steps, so a typo fails before anything is opened: ResolveIdentity() looks the names up
// (a missing user or group is a clear error at start), DropPrivileges() switches later. The
// switch is setgroups/initgroups, setgid, setuid (real, effective and saved IDs, so all
// capabilities go too), then a check that getting root back fails; a process that could regain
// root is an error, never a silent success.
#ifndef NF_COMMON_PRIVILEGES_H_
#define NF_COMMON_PRIVILEGES_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace nf {

// The identity to switch to. Empty user: keep the user ID (only the group changes).
struct Identity {
  bool change_user = false;
  bool change_group = false;
  uid_t uid = 0;
  gid_t gid = 0;
  bool user_in_passwd = false;  // initgroups(user) gives the supplementary groups
  std::string user;   // name for initgroups and messages
  std::string group;  // name for messages
};

// Looks up `user` and `group` (names, or numeric IDs). With only a user, the group is the
// user's primary group and the supplementary groups are the user's (initgroups); with a group,
// that group is used and, without a user, the supplementary groups are cleared. Both empty:
// an Identity that changes nothing.
absl::StatusOr<Identity> ResolveIdentity(absl::string_view user, absl::string_view group);

// Switches the whole process (every thread) to `id`. Needs root or CAP_SETUID/CAP_SETGID
// unless the process already runs as `id`. Returns an error naming the failed step.
absl::Status DropPrivileges(const Identity& id);

// "user nobody (uid 65534), group nogroup (gid 65534)", for log lines.
std::string DescribeIdentity(const Identity& id);

}  // namespace nf

#endif  // NF_COMMON_PRIVILEGES_H_
