// Output files written atomically: bytes go to a temporary file beside the target, fsynced and
// renamed into place on Commit, so readers never see a half-written file.
//
// Targets that are not regular files (/dev/null, /dev/stdout, a FIFO) are written directly:
// renaming over them would replace the device node or pipe with a regular file. "-" means stdout.
#ifndef NF_COMMON_ATOMIC_FILE_H_
#define NF_COMMON_ATOMIC_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace nf {

class AtomicFile {
 public:
  AtomicFile() = default;
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  absl::Status Open(const std::string& path);
  absl::Status Write(absl::string_view data);
  // Flushes, fsyncs and renames into place (direct targets are just closed).
  absl::Status Commit();
  // Removes the temporary file (error paths).
  void Abort();
  bool is_open() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  bool is_stdout_ = false;
  bool direct_ = false;  // not a regular file: written in place, never renamed over
  std::string path_;
  std::string tmp_path_;
};

// Writes `data` to `path` through an AtomicFile.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view data);

}  // namespace nf

#endif  // NF_COMMON_ATOMIC_FILE_H_
