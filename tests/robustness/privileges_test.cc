// nf::privileges: name resolution errors, and the real switch (run as root: a forked child
// drops to `nobody` and reports its IDs, groups and whether root could be regained).
#include "common/privileges.h"

#include <grp.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace nf {
namespace {

TEST(PrivilegesTest, UnknownUserAndGroupAreClearErrors) {
  auto u = ResolveIdentity("nf-no-such-user-xyz", "");
  ASSERT_FALSE(u.ok());
  EXPECT_TRUE(absl::IsNotFound(u.status()));
  EXPECT_NE(u.status().message().find("no such user 'nf-no-such-user-xyz'"), absl::string_view::npos)
      << u.status();
  auto g = ResolveIdentity("", "nf-no-such-group-xyz");
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("no such group 'nf-no-such-group-xyz'"),
            absl::string_view::npos)
      << g.status();
  // A numeric user without a passwd entry needs its group spelled out.
  auto n = ResolveIdentity("4000000000", "");
  EXPECT_FALSE(n.ok());
  auto root = ResolveIdentity("root", "");
  ASSERT_FALSE(root.ok());
  EXPECT_NE(root.status().message().find("is root"), absl::string_view::npos);
}

TEST(PrivilegesTest, ResolvesNamesAndNumbers) {
  const passwd* pw = getpwnam("nobody");
  if (pw == nullptr) GTEST_SKIP() << "no user 'nobody' on this machine";
  const uid_t uid = pw->pw_uid;
  const gid_t gid = pw->pw_gid;
  auto id = ResolveIdentity("nobody", "");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_TRUE(id->change_user);
  EXPECT_TRUE(id->change_group);
  EXPECT_EQ(id->uid, uid);
  EXPECT_EQ(id->gid, gid);  // primary group by default
  auto by_number = ResolveIdentity(std::to_string(uid), "");
  ASSERT_TRUE(by_number.ok()) << by_number.status();
  EXPECT_EQ(by_number->uid, uid);
  EXPECT_EQ(by_number->user, "nobody");
  auto group_only = ResolveIdentity("", "12345");
  ASSERT_TRUE(group_only.ok());
  EXPECT_FALSE(group_only->change_user);
  EXPECT_EQ(group_only->gid, 12345u);
  auto nothing = ResolveIdentity("", "");
  ASSERT_TRUE(nothing.ok());
  EXPECT_TRUE(DropPrivileges(*nothing).ok());
}

// Runs `body` in a forked child; returns its exit status (0 = every check passed).
template <typename F>
int InChild(F body) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return 100;
  return WEXITSTATUS(status);
}

TEST(PrivilegesTest, RootDropsToNobodyForGood) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to switch users (run the suite as root)";
  const passwd* pw = getpwnam("nobody");
  if (pw == nullptr) GTEST_SKIP() << "no user 'nobody' on this machine";
  const uid_t uid = pw->pw_uid;
  const gid_t gid = pw->pw_gid;
  // nobody's groups as the system defines them.
  std::vector<gid_t> want(64);
  int ngroups = static_cast<int>(want.size());
  ASSERT_GE(getgrouplist("nobody", gid, want.data(), &ngroups), 0);
  want.resize(static_cast<size_t>(ngroups));
  std::sort(want.begin(), want.end());
  auto id = ResolveIdentity("nobody", "");
  ASSERT_TRUE(id.ok()) << id.status();
  const int rc = InChild([&]() -> int {
    // Start from a state with extra groups (root's 0 among them) to see them go.
    const gid_t extra[] = {0, 4, 27};
    if (setgroups(3, extra) != 0) return 1;
    absl::Status st = DropPrivileges(*id);
    if (!st.ok()) {
      std::fprintf(stderr, "%s\n", std::string(st.message()).c_str());
      return 2;
    }
    if (getuid() != uid || geteuid() != uid) return 3;
    if (getgid() != gid || getegid() != gid) return 4;
    std::vector<gid_t> got(64);
    const int n = getgroups(static_cast<int>(got.size()), got.data());
    if (n < 0) return 5;
    got.resize(static_cast<size_t>(n));
    std::sort(got.begin(), got.end());
    if (got != want) return 6;
    if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0) return 7;
    if (setgroups(3, extra) == 0) return 8;
    // A second switch to another user must fail with a clear error, not pretend.
    auto other = ResolveIdentity("", "0");
    if (!other.ok() || DropPrivileges(*other).ok()) return 9;
    return 0;
  });
  EXPECT_EQ(rc, 0) << "child check " << rc << " failed (see the numbered checks above)";
}

TEST(PrivilegesTest, GroupOnlyClearsSupplementaryGroups) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to switch groups (run the suite as root)";
  auto id = ResolveIdentity("", "12345");
  ASSERT_TRUE(id.ok());
  const int rc = InChild([&]() -> int {
    const gid_t extra[] = {0, 4};
    if (setgroups(2, extra) != 0) return 1;
    if (!DropPrivileges(*id).ok()) return 2;
    if (getgid() != 12345 || getegid() != 12345) return 3;
    gid_t got[8];
    const int n = getgroups(8, got);
    if (n != 1 || got[0] != 12345) return 4;
    if (getuid() != 0) return 5;  // the user is unchanged
    return 0;
  });
  EXPECT_EQ(rc, 0) << "child check " << rc << " failed";
}

TEST(PrivilegesTest, UnprivilegedSwitchIsRefused) {
  const passwd* pw = getpwnam("nobody");
  if (pw == nullptr) GTEST_SKIP() << "no user 'nobody' on this machine";
  auto daemon_user = ResolveIdentity("daemon", "");
  if (!daemon_user.ok()) GTEST_SKIP() << "no user 'daemon' on this machine";
  auto nobody = ResolveIdentity("nobody", "");
  ASSERT_TRUE(nobody.ok());
  const int rc = InChild([&]() -> int {
    if (geteuid() == 0 && !DropPrivileges(*nobody).ok()) return 1;
    absl::Status st = DropPrivileges(*daemon_user);
    if (st.ok()) return 2;
    if (!absl::IsPermissionDenied(st)) return 3;
    if (st.message().find("daemon") == absl::string_view::npos &&
        st.message().find("groups") == absl::string_view::npos) {
      return 4;
    }
    return 0;
  });
  EXPECT_EQ(rc, 0) << "child check " << rc << " failed";
}

}  // namespace
}  // namespace nf
