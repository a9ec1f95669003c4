#include "common/atomic_file.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gtest/gtest.h"
#include "tests/support/test_support.h"

namespace nf {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(AtomicFileTest, ReplacesWholeFileAndLeavesNoTemporary) {
  testing::TempDir dir;
  const std::string path = dir.File("out.csv");
  ASSERT_TRUE(WriteFileAtomically(path, "old\n").ok());
  AtomicFile f;
  ASSERT_TRUE(f.Open(path).ok());
  ASSERT_TRUE(f.Write("new\n").ok());
  EXPECT_EQ(Slurp(path), "old\n");  // readers see the old file until Commit
  ASSERT_TRUE(f.Commit().ok());
  EXPECT_EQ(Slurp(path), "new\n");
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) entries += e.exists();
  EXPECT_EQ(entries, 1);
}

TEST(AtomicFileTest, AbortKeepsTheOldFile) {
  testing::TempDir dir;
  const std::string path = dir.File("out.csv");
  ASSERT_TRUE(WriteFileAtomically(path, "old\n").ok());
  {
    AtomicFile f;
    ASSERT_TRUE(f.Open(path).ok());
    ASSERT_TRUE(f.Write("partial").ok());
  }  // destroyed without Commit
  EXPECT_EQ(Slurp(path), "old\n");
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) entries += e.exists();
  EXPECT_EQ(entries, 1);
}

// Renaming over /dev/null would turn the device into a regular file for the whole system.
TEST(AtomicFileTest, DevicesAreWrittenInPlace) {
  ASSERT_TRUE(WriteFileAtomically("/dev/null", "a,b,c\n").ok());
  struct stat st;
  ASSERT_EQ(stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
}

TEST(AtomicFileTest, UnwritableDirectoryIsAClearError) {
  auto s = WriteFileAtomically("/nonexistent-dir/x.csv", "x");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/nonexistent-dir/"), absl::string_view::npos) << s;
}

}  // namespace
}  // namespace nf
