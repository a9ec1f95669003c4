#include "common/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace nf {

AtomicFile::~AtomicFile() { Abort(); }

absl::Status AtomicFile::Open(const std::string& path) {
  Abort();
  path_ = path;
  if (path == "-") {
    fd_ = STDOUT_FILENO;
    is_stdout_ = true;
    return absl::OkStatus();
  }
  is_stdout_ = false;
  direct_ = false;
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd_ < 0) {
      return absl::InternalError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
    }
    direct_ = true;
    return absl::OkStatus();
  }
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  tmp_path_ = absl::StrCat(dir, ".", base, ".tmp.", getpid());
  fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    return absl::InternalError(absl::StrCat("cannot create ", tmp_path_, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status AtomicFile::Write(absl::string_view data) {
  if (fd_ < 0) return absl::FailedPreconditionError("output not open");
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd_, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat(
          "write to ", is_stdout_ ? "stdout" : (direct_ ? path_ : tmp_path_), ": ",
          std::strerror(errno)));
    }
    off += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status AtomicFile::Commit() {
  if (fd_ < 0) return absl::OkStatus();
  if (is_stdout_) {
    fd_ = -1;
    return absl::OkStatus();
  }
  if (direct_) {
    const int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) {
      return absl::InternalError(absl::StrCat("cannot close ", path_, ": ", std::strerror(errno)));
    }
    return absl::OkStatus();
  }
  if (::fsync(fd_) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    ::unlink(tmp_path_.c_str());
    return absl::InternalError(absl::StrCat("cannot write ", tmp_path_, ": ", std::strerror(err)));
  }
  ::close(fd_);
  fd_ = -1;
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp_path_.c_str());
    return absl::InternalError(
        absl::StrCat("cannot rename ", tmp_path_, " to ", path_, ": ", std::strerror(err)));
  }
  return absl::OkStatus();
}

void AtomicFile::Abort() {
  if (fd_ < 0) return;
  if (!is_stdout_) {
    ::close(fd_);
    if (!direct_) ::unlink(tmp_path_.c_str());
  }
  fd_ = -1;
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view data) {
  AtomicFile f;
  absl::Status s = f.Open(path);
  if (s.ok()) s = f.Write(data);
  if (s.ok()) return f.Commit();
  f.Abort();
  return s;
}

}  // namespace nf
