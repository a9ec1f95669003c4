#include "common/privileges.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace nf {
namespace {

std::string Errno(int err) { return std::strerror(err); }

// getpw*_r/getgr*_r with a growing buffer (large group lists need more than sysconf says).
bool LookupUser(const std::string& name, passwd* out, std::vector<char>* buf, bool by_id,
                uid_t uid) {
  for (size_t size = 4096; size <= (size_t{1} << 22); size *= 4) {
    buf->assign(size, 0);
    passwd* result = nullptr;
    const int rc = by_id ? getpwuid_r(uid, out, buf->data(), buf->size(), &result)
                         : getpwnam_r(name.c_str(), out, buf->data(), buf->size(), &result);
    if (rc == ERANGE) continue;
    return rc == 0 && result != nullptr;
  }
  return false;
}

bool LookupGroup(const std::string& name, group* out, std::vector<char>* buf, bool by_id,
                 gid_t gid) {
  for (size_t size = 4096; size <= (size_t{1} << 22); size *= 4) {
    buf->assign(size, 0);
    group* result = nullptr;
    const int rc = by_id ? getgrgid_r(gid, out, buf->data(), buf->size(), &result)
                         : getgrnam_r(name.c_str(), out, buf->data(), buf->size(), &result);
    if (rc == ERANGE) continue;
    return rc == 0 && result != nullptr;
  }
  return false;
}

}  // namespace

absl::StatusOr<Identity> ResolveIdentity(absl::string_view user, absl::string_view group_name) {
  Identity id;
  if (!user.empty()) {
    const std::string name(user);
    passwd pw{};
    std::vector<char> buf;
    uint32_t numeric = 0;
    bool found = LookupUser(name, &pw, &buf, false, 0);
    if (!found && absl::SimpleAtoi(user, &numeric)) {
      found = LookupUser(name, &pw, &buf, true, static_cast<uid_t>(numeric));
      if (!found) {
        // A numeric ID without a passwd entry is allowed (containers); its group must be given.
        if (group_name.empty()) {
          return absl::NotFoundError(absl::StrCat(
              "user ID ", numeric, " has no passwd entry: give its group with -g/--group"));
        }
        id.change_user = true;
        id.uid = static_cast<uid_t>(numeric);
        id.user = name;
      }
    } else if (!found) {
      return absl::NotFoundError(
          absl::StrCat("no such user '", name, "' (-u/--user): check getent passwd ", name));
    }
    if (found) {
      id.change_user = true;
      id.uid = pw.pw_uid;
      id.gid = pw.pw_gid;
      id.change_group = true;
      id.user_in_passwd = true;
      id.user = pw.pw_name;
      group gr{};
      std::vector<char> gbuf;
      id.group = LookupGroup("", &gr, &gbuf, true, pw.pw_gid) ? std::string(gr.gr_name)
                                                             : std::to_string(pw.pw_gid);
    }
  }
  if (!group_name.empty()) {
    const std::string name(group_name);
    group gr{};
    std::vector<char> buf;
    uint32_t numeric = 0;
    if (LookupGroup(name, &gr, &buf, false, 0)) {
      id.gid = gr.gr_gid;
      id.group = gr.gr_name;
    } else if (absl::SimpleAtoi(group_name, &numeric)) {
      id.gid = static_cast<gid_t>(numeric);
      id.group = name;
    } else {
      return absl::NotFoundError(
          absl::StrCat("no such group '", name, "' (-g/--group): check getent group ", name));
    }
    id.change_group = true;
  }
  if (id.change_user && id.uid == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("-u ", id.user, " is root: give an unprivileged user"));
  }
  return id;
}

absl::Status DropPrivileges(const Identity& id) {
  if (!id.change_user && !id.change_group) return absl::OkStatus();
  const bool already = (!id.change_user || (getuid() == id.uid && geteuid() == id.uid)) &&
                       (!id.change_group || (getgid() == id.gid && getegid() == id.gid));
  if (already && geteuid() != 0) return absl::OkStatus();

  // Groups first: after setuid the process may no longer change them.
  if (id.change_group) {
    if (id.user_in_passwd) {
      if (initgroups(id.user.c_str(), id.gid) != 0) {
        return absl::PermissionDeniedError(absl::StrCat(
            "cannot set the groups of user ", id.user, ": ", Errno(errno),
            " (switching user needs root or CAP_SETGID)"));
      }
    } else {
      const gid_t only = id.gid;
      if (setgroups(1, &only) != 0) {
        return absl::PermissionDeniedError(
            absl::StrCat("cannot clear supplementary groups: ", Errno(errno),
                         " (switching group needs root or CAP_SETGID)"));
      }
    }
    if (setresgid(id.gid, id.gid, id.gid) != 0) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot switch to group ", id.group, " (gid ", id.gid, "): ", Errno(errno)));
    }
  }
  if (id.change_user) {
    if (setresuid(id.uid, id.uid, id.uid) != 0) {
      return absl::PermissionDeniedError(absl::StrCat("cannot switch to user ", id.user,
                                                      " (uid ", id.uid, "): ", Errno(errno)));
    }
    // The switch must be one way: with real, effective and saved IDs changed, getting root
    // (or group root) back fails. A process where it succeeds refuses to run.
    if (setuid(0) == 0 || seteuid(0) == 0) {
      return absl::InternalError(
          absl::StrCat("switched to user ", id.user, " but could get root back: refusing to run"));
    }
    if (id.gid != 0 && (setgid(0) == 0 || setegid(0) == 0)) {
      return absl::InternalError(absl::StrCat("switched to user ", id.user,
                                              " but could get group root back: refusing to run"));
    }
  }
  if ((id.change_user && (getuid() != id.uid || geteuid() != id.uid)) ||
      (id.change_group && (getgid() != id.gid || getegid() != id.gid))) {
    return absl::InternalError(
        absl::StrCat("switch to ", DescribeIdentity(id), " did not take effect"));
  }
  return absl::OkStatus();
}

std::string DescribeIdentity(const Identity& id) {
  std::string s;
  if (id.change_user) absl::StrAppend(&s, "user ", id.user, " (uid ", id.uid, ")");
  if (id.change_group) {
    absl::StrAppend(&s, s.empty() ? "" : ", ", "group ", id.group, " (gid ", id.gid, ")");
  }
  return s.empty() ? "unchanged identity" : s;
}

}  // namespace nf
