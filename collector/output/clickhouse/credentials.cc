#include "collector/output/clickhouse/credentials.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace nf::clickhouse {

absl::StatusOr<std::string> ReadPasswordFile(const std::string& path, std::string* warning) {
  warning->clear();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read the ClickHouse password file ", path, ": ", std::strerror(errno)));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat("the ClickHouse password file ", path, " is not a regular file"));
  }
  if ((st.st_mode & 077) != 0) {
    *warning = absl::StrFormat(
        "the ClickHouse password file %s can be read by other users (mode %04o); "
        "chmod 600 it",
        path, static_cast<unsigned>(st.st_mode & 07777));
  }
  // A password is short; a bound keeps a wrong path (a log, a device) from being slurped.
  std::string text(4096, '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(fd);
  text.resize(got);
  size_t eol = text.find_first_of("\r\n");
  if (eol != std::string::npos) text.resize(eol);
  if (text.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the ClickHouse password file ", path, " is empty"));
  }
  return text;
}

absl::StatusOr<std::string> LoadPassword(const std::string& file, std::string* warning) {
  warning->clear();
  const char* env = std::getenv(kPasswordEnvironmentVariable);
  if (!file.empty() && env != nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "give the ClickHouse password once: --clickhouse-password-file or $",
        kPasswordEnvironmentVariable));
  }
  if (!file.empty()) return ReadPasswordFile(file, warning);
  if (env == nullptr) return std::string();
  std::string password = env;
  // Nothing this process starts later should inherit it.
  unsetenv(kPasswordEnvironmentVariable);
  return password;
}

}  // namespace nf::clickhouse
