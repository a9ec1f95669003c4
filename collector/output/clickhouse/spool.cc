#include "collector/output/clickhouse/spool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "collector/output/clickhouse/schema.h"

namespace nf::clickhouse {
namespace {

constexpr char kMagic[8] = {'N', 'F', 'C', 'H', 'S', 'P', 'L', '1'};
constexpr size_t kHeaderSize = 48;
constexpr absl::string_view kSuffix = ".nfch";

struct Header {
  uint32_t layout = 0;
  uint64_t id = 0;
  uint32_t rows = 0;
  uint32_t min_time = 0;
  uint32_t max_time = 0;
  uint64_t data_len = 0;
};

template <typename T>
void PutLe(T v, char* p) {
  std::memcpy(p, &v, sizeof(T));
}
template <typename T>
T GetLe(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

void EncodeHeader(const Batch& b, char* h) {
  std::memset(h, 0, kHeaderSize);
  std::memcpy(h, kMagic, 8);
  PutLe<uint32_t>(kLayoutVersion, h + 8);
  PutLe<uint64_t>(b.id, h + 16);
  PutLe<uint32_t>(b.rows, h + 24);
  PutLe<uint32_t>(b.min_time, h + 28);
  PutLe<uint32_t>(b.max_time, h + 32);
  PutLe<uint64_t>(b.data.size(), h + 40);
}

bool DecodeHeader(const char* h, Header& out) {
  if (std::memcmp(h, kMagic, 8) != 0) return false;
  out.layout = GetLe<uint32_t>(h + 8);
  out.id = GetLe<uint64_t>(h + 16);
  out.rows = GetLe<uint32_t>(h + 24);
  out.min_time = GetLe<uint32_t>(h + 28);
  out.max_time = GetLe<uint32_t>(h + 32);
  out.data_len = GetLe<uint64_t>(h + 40);
  return true;
}

absl::Status Errno(absl::string_view what, absl::string_view path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

absl::Status WriteAll(int fd, const char* p, size_t n, absl::string_view path) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Errno("write", path);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return absl::OkStatus();
}

absl::Status ReadAll(int fd, char* p, size_t n, absl::string_view path) {
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0) {
      if (errno == EINTR) continue;
      return Errno("read", path);
    }
    if (r == 0) return absl::DataLossError(absl::StrCat("spool file ", path, " is truncated"));
    p += r;
    n -= static_cast<size_t>(r);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Spool> Spool::Open(const std::string& dir, uint64_t max_bytes) {
  Spool s;
  s.dir_ = dir;
  s.max_bytes_ = max_bytes;
  if (dir.empty()) return s;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot create spool directory ", dir, ": ", ec.message()));
  }
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (absl::StartsWith(name, ".tmp-")) {
      // A batch whose write never completed: it was still in memory (and counted) then.
      std::filesystem::remove(entry.path(), ec);
      continue;
    }
    if (absl::StartsWith(name, "b-") && absl::EndsWith(name, kSuffix)) names.push_back(name);
  }
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read spool directory ", dir, ": ", ec.message()));
  }
  std::sort(names.begin(), names.end());  // b-<sequence>: oldest first
  for (const std::string& name : names) {
    std::string path = absl::StrCat(dir, "/", name);
    uint64_t seq = 0;
    if (absl::SimpleAtoi(absl::string_view(name).substr(2, 16), &seq)) {
      s.next_seq_ = std::max(s.next_seq_, seq + 1);
    }
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    char h[kHeaderSize];
    Header header;
    struct stat st {};
    bool ok = fd >= 0 && ReadAll(fd, h, kHeaderSize, path).ok() && DecodeHeader(h, header) &&
              fstat(fd, &st) == 0 &&
              static_cast<uint64_t>(st.st_size) == kHeaderSize + header.data_len &&
              header.layout == kLayoutVersion;
    if (fd >= 0) close(fd);
    if (!ok) {
      // Another layout or a damaged file: keep it for the operator, never replay it.
      std::filesystem::rename(path, path + ".bad", ec);
      ++s.skipped_files_;
      continue;
    }
    Entry e;
    e.path = path;
    e.size = static_cast<uint64_t>(st.st_size);
    e.rows = header.rows;
    e.batch.id = header.id;
    e.batch.rows = header.rows;
    e.batch.min_time = header.min_time;
    e.batch.max_time = header.max_time;
    e.batch.maybe_sent = true;
    s.bytes_ += e.size;
    s.rows_ += e.rows;
    s.entries_.push_back(std::move(e));
  }
  return s;
}

absl::Status Spool::WriteFile(const std::string& path, const Batch& batch) const {
  std::string tmp = absl::StrCat(dir_, "/.tmp-", path.substr(dir_.size() + 1));
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("open", tmp);
  char h[kHeaderSize];
  EncodeHeader(batch, h);
  absl::Status s = WriteAll(fd, h, kHeaderSize, tmp);
  if (s.ok()) s = WriteAll(fd, batch.data.data(), batch.data.size(), tmp);
  if (s.ok() && fsync(fd) != 0) s = Errno("fsync", tmp);
  if (close(fd) != 0 && s.ok()) s = Errno("close", tmp);
  if (s.ok() && std::rename(tmp.c_str(), path.c_str()) != 0) s = Errno("rename", tmp);
  if (!s.ok()) {
    unlink(tmp.c_str());
    return s;
  }
  // Make the rename durable too.
  int dfd = open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return absl::OkStatus();
}

absl::Status Spool::Put(const Batch& batch) {
  uint64_t size = kHeaderSize + batch.data.size();
  if (bytes_ + size > max_bytes_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "spool full (", bytes_, " of ", max_bytes_, " bytes): batch of ", batch.rows,
        " records dropped"));
  }
  Entry e;
  e.size = size;
  e.rows = batch.rows;
  if (dir_.empty()) {
    e.batch = batch;
  } else {
    e.path = absl::StrFormat("%s/b-%016d-%016x%s", dir_, next_seq_++, batch.id,
                             std::string(kSuffix));
    absl::Status s = WriteFile(e.path, batch);
    if (!s.ok()) return s;
    e.batch.id = batch.id;
    e.batch.rows = batch.rows;
    e.batch.min_time = batch.min_time;
    e.batch.max_time = batch.max_time;
  }
  e.batch.maybe_sent = true;
  bytes_ += size;
  rows_ += batch.rows;
  entries_.push_back(std::move(e));
  return absl::OkStatus();
}

absl::StatusOr<Batch> Spool::ReadOldest() const {
  if (entries_.empty()) return absl::NotFoundError("spool is empty");
  const Entry& e = entries_.front();
  if (e.path.empty()) return e.batch;
  int fd = open(e.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("open", e.path);
  char h[kHeaderSize];
  Header header;
  absl::Status s = ReadAll(fd, h, kHeaderSize, e.path);
  if (s.ok() && !DecodeHeader(h, header)) {
    s = absl::DataLossError(absl::StrCat("spool file ", e.path, " has a bad header"));
  }
  Batch b = e.batch;
  if (s.ok()) {
    b.data.resize(header.data_len);
    s = ReadAll(fd, b.data.data(), b.data.size(), e.path);
  }
  close(fd);
  if (!s.ok()) return s;
  return b;
}

absl::Status Spool::PopOldest() {
  if (entries_.empty()) return absl::NotFoundError("spool is empty");
  Entry& e = entries_.front();
  if (!e.path.empty() && unlink(e.path.c_str()) != 0 && errno != ENOENT) {
    return Errno("unlink", e.path);
  }
  bytes_ -= e.size;
  rows_ -= e.rows;
  entries_.pop_front();
  return absl::OkStatus();
}

}  // namespace nf::clickhouse
