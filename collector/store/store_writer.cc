// The store writer: one open file per rotation interval, written from a memory buffer.
//
// A file is opened on the first datagram of its interval (an idle interval leaves no file),
// under a hidden temporary name in its day folder, and begins with the template datagrams.
// Records gather in a buffer that is written whole (compressed: one zstd frame per buffer, so
// a cut file can be trimmed to its last whole frame). Completion flushes, fsyncs the file,
// renames it and fsyncs the folder; retention follows.
//
// Errors: every failure is reported once per file and cause, the file keeps its whole records
// and is still completed, the rest of its interval is counted as lost, and the next interval
// starts afresh. Nothing blocks or retries: a full disk costs lost datagrams, never a stall.
#include "collector/store/store_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "collector/store/store_files.h"
#include "collector/store/store_format.h"
#include "collector/store/template_tracker.h"

namespace nf {

namespace si = store_internal;

namespace {

// Records gather here before one write(): large enough that writes are few and zstd frames
// compress well, small enough to hold per writer without thought.
constexpr size_t kBufferBytes = 256u << 10;
static_assert(kBufferBytes >= si::kMaxRecordSize);
// Tick writes a buffer out once its oldest record is this old, so a quiet collector's data
// reaches the disk (and survives a crash) without waiting for the buffer to fill.
constexpr TimeUs kFlushAgeUs = 10'000'000;
constexpr TimeUs kUsPerSecond = 1'000'000;
// Files and folders hold traffic records: readable by the group, not by everyone.
constexpr mode_t kFileMode = 0640;
constexpr mode_t kDirMode = 0750;

std::string Dirname(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string Basename(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

absl::Status Errno(int err, absl::string_view what, const std::string& path) {
  return absl::ErrnoToStatus(err, absl::StrCat("flow store: ", what, " ", path));
}

// fsync on a folder, so a rename or a new entry in it survives a power cut.
absl::Status SyncDir(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno(errno, "cannot open folder", dir);
  absl::Status s;
  if (fsync(fd) != 0 && errno != EINVAL) s = Errno(errno, "cannot sync folder", dir);
  close(fd);
  return s;
}

// mkdir -p; each folder created is made durable in its parent.
absl::Status MakeDirs(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat("flow store: ", path, " exists and is not a folder"));
  }
  const std::string parent = Dirname(path);
  if (parent != path) {
    if (absl::Status s = MakeDirs(parent); !s.ok()) return s;
  }
  if (mkdir(path.c_str(), kDirMode) != 0) {
    if (errno == EEXIST && stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      return absl::OkStatus();
    }
    return Errno(errno, "cannot create folder", path);
  }
  return SyncDir(parent);
}

// Writes all of `data` at `offset`; returns the bytes written (short only on error, with
// errno set).
size_t WriteAt(int fd, const uint8_t* data, size_t size, uint64_t offset) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = pwrite(fd, data + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return done;
    }
    if (n == 0) {
      errno = EIO;
      return done;
    }
    done += static_cast<size_t>(n);
  }
  return done;
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

// The hidden temporary name of a store file: ".flows-...pcap[.zst].tmp" in the same folder.
std::string TempPathFor(const std::string& final_path) {
  return absl::StrCat(Dirname(final_path), "/.", Basename(final_path), ".tmp");
}

}  // namespace

class StoreWriter::Impl {
 public:
  Impl(const StoreOptions& options, std::string directory)
      : options_(options),
        directory_(std::move(directory)),
        rotate_us_(options.rotate_seconds * kUsPerSecond),
        tracker_(si::TemplateTracker::Limits{}),
        buffer_(new uint8_t[kBufferBytes]) {
    if (options_.compress) {
      cctx_ = ZSTD_createCCtx();
      ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, options_.zstd_level);
      // A checksum per frame lets recovery tell a whole frame from a damaged one.
      ZSTD_CCtx_setParameter(cctx_, ZSTD_c_checksumFlag, 1);
      zstd_capacity_ = ZSTD_compressBound(kBufferBytes);
      zstd_out_.reset(new uint8_t[zstd_capacity_]);
    }
  }
  ~Impl() {
    CloseLocked();
    if (cctx_ != nullptr) ZSTD_freeCCtx(cctx_);
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  void Attach(StoreCounters* counters) { counters_ = counters; }

  // Create's work once the counters exist: leftover temporary files, then retention.
  void Start(TimeUs now) {
    std::lock_guard<std::mutex> lock(mu_);
    RecoverLeftovers();
    ApplyRetention(now);
  }

  void Append(std::span<const uint8_t> datagram, const ExporterId& exporter, TimeUs time_us) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) {
      Add(counters_->datagrams_lost, 1);
      return;
    }
    const TimeUs start = IntervalStart(time_us);
    if (open_ && start > interval_start_) Rotate(time_us);
    if (!open_) {
      // A datagram older than the last completed interval (threads racing at a boundary, a
      // clock stepping back) goes into the next file rather than reopening a completed one;
      // it keeps its true timestamp.
      OpenInterval(have_completed_ ? std::max(start, completed_start_ + rotate_us_) : start,
                   time_us);
    }
    IpAddress source = exporter.address.Unmapped();
    if (source.version != 4 && source.version != 6) source = IpAddress::V4(uint32_t{0});
    Store(datagram, source, exporter.port, time_us);
    tracker_.Note(datagram, source, exporter.port, time_us);
    counters_->templates_untracked.store(tracker_.untracked(), std::memory_order_relaxed);
  }

  void Tick(TimeUs now) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    if (open_ && IntervalStart(now) > interval_start_) {
      Rotate(now);
    } else if (open_ && buffered_ > 0 && now - buffer_oldest_us_ >= kFlushAgeUs) {
      Flush();
    } else if (!open_ && IntervalStart(now) > retained_interval_) {
      // No datagram for a whole interval: files still age out on time.
      ApplyRetention(now);
    }
  }

  absl::Status Close() {
    std::lock_guard<std::mutex> lock(mu_);
    CloseLocked();
    return first_error_;
  }

  std::string last_error() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_error_;
  }

 private:
  static void Add(std::atomic<uint64_t>& counter, uint64_t n) {
    counter.fetch_add(n, std::memory_order_relaxed);
  }

  TimeUs IntervalStart(TimeUs t) const {
    TimeUs q = t / rotate_us_;
    if (t % rotate_us_ != 0 && t < 0) --q;
    return q * rotate_us_;
  }

  void Report(const absl::Status& status) {
    Add(counters_->write_errors, 1);
    last_error_ = std::string(status.message());
    if (first_error_.ok()) first_error_ = status;
    if (options_.on_error) options_.on_error(status);
  }

  void CloseLocked() {
    if (closed_) return;
    Complete();
    closed_ = true;
  }

  // --- one interval's file --------------------------------------------------------------

  void OpenInterval(TimeUs start, TimeUs now) {
    open_ = true;
    interval_start_ = start;
    failed_ = false;
    fd_ = -1;
    file_bytes_ = 0;
    file_datagrams_ = 0;
    ResetBuffer();
    final_path_ = StoreFilePath(directory_, start, options_.compress);
    temp_path_ = TempPathFor(final_path_);
    if (absl::Status s = MakeDirs(Dirname(final_path_)); !s.ok()) {
      Fail(s);
      return;
    }
    // The interval's file may exist already: this process restarted within the interval. It
    // goes back under its temporary name and is continued after its last whole record.
    bool resumed = false;
    const bool existed = Exists(final_path_);
    if (existed && rename(final_path_.c_str(), temp_path_.c_str()) != 0) {
      Fail(Errno(errno, "cannot reopen", final_path_));
      return;
    }
    if (Exists(temp_path_)) {
      absl::StatusOr<si::FileScan> scan = si::ScanStoreFile(temp_path_, options_.compress);
      if (scan.ok() && scan->valid && scan->keep_bytes > 0) {
        fd_ = open(temp_path_.c_str(), O_WRONLY | O_CLOEXEC);
        if (fd_ >= 0 && ftruncate(fd_, static_cast<off_t>(scan->keep_bytes)) == 0) {
          resumed = true;
          file_bytes_ = scan->keep_bytes;
          file_datagrams_ = scan->datagrams;
        } else if (fd_ >= 0) {
          close(fd_);
          fd_ = -1;
        }
      }
    }
    if (!resumed) {
      fd_ = open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, kFileMode);
      if (fd_ < 0) {
        const int err = errno;
        // The previous run's file goes back in place rather than stay hidden.
        if (existed) rename(temp_path_.c_str(), final_path_.c_str());
        Fail(Errno(err, "cannot create", temp_path_));
        return;
      }
      si::EncodePcapFileHeader(buffer_.get());
      used_ = si::kPcapFileHeaderSize;
      records_start_ = used_;
    }
    tracker_.Replay(now, [&](const IpAddress& address, uint16_t port,
                             std::span<const uint8_t> datagram) {
      Put(datagram, address, port, now, si::kReplayTtl);
    });
  }

  // Buffers one received datagram (or counts it lost).
  void Store(std::span<const uint8_t> datagram, const IpAddress& source, uint16_t port,
             TimeUs time_us) {
    if (failed_ || !Put(datagram, source, port, time_us, si::kReceivedTtl)) {
      Add(counters_->datagrams_lost, 1);
    }
  }

  // Adds one record to the buffer, writing the buffer out first when it is full. False when
  // the record could not be kept (the file failed, or the packet exceeds the snaplen: an
  // IPv6 datagram over 65487 bytes).
  bool Put(std::span<const uint8_t> datagram, const IpAddress& source, uint16_t port,
           TimeUs time_us, uint8_t ttl) {
    if (failed_) return false;
    const size_t size = si::PcapRecordSize(datagram.size(), source.is_v6());
    if (size == 0) return false;
    if (used_ + size > kBufferBytes) {
      Flush();
      if (failed_) return false;
    }
    si::EncodePcapRecord(datagram, source, port, time_us, ttl, buffer_.get() + used_);
    used_ += size;
    if (buffered_ == 0 && buffered_replays_ == 0) buffer_oldest_us_ = time_us;
    if (ttl == si::kReplayTtl) {
      ++buffered_replays_;
    } else {
      ++buffered_;
    }
    return true;
  }

  void ResetBuffer() {
    used_ = 0;
    records_start_ = 0;
    buffered_ = 0;
    buffered_replays_ = 0;
  }

  void CountWritten(uint64_t datagrams, uint64_t replays, uint64_t bytes) {
    file_datagrams_ += datagrams;
    file_bytes_ += bytes;
    Add(counters_->datagrams, datagrams);
    Add(counters_->template_datagrams, replays);
    Add(counters_->bytes, bytes);
  }

  // Writes the buffer to the file: whole, or cut back to its last whole record (plain) /
  // dropped (compressed: the file ends at its last whole frame).
  void Flush() {
    if (fd_ < 0 || failed_ || used_ == 0) {
      ResetBuffer();
      return;
    }
    if (options_.compress) {
      const size_t n = ZSTD_compress2(cctx_, zstd_out_.get(), zstd_capacity_, buffer_.get(),
                                      used_);
      if (ZSTD_isError(n)) {
        Fail(absl::InternalError(absl::StrCat("flow store: zstd: ", ZSTD_getErrorName(n))));
        return;
      }
      const size_t written = WriteAt(fd_, zstd_out_.get(), n, file_bytes_);
      if (written != n) {
        const int err = errno;
        // A partial frame is useless: the file ends at its last whole frame.
        if (ftruncate(fd_, static_cast<off_t>(file_bytes_)) != 0) {
          // The reader's scan stops at the cut frame anyway.
        }
        Fail(Errno(err, "cannot write", temp_path_));
        return;
      }
      CountWritten(buffered_, buffered_replays_, n);
      ResetBuffer();
      return;
    }
    const size_t written = WriteAt(fd_, buffer_.get(), used_, file_bytes_);
    if (written == used_) {
      CountWritten(buffered_, buffered_replays_, used_);
      ResetBuffer();
      return;
    }
    const int err = errno;
    // Keep the records that reached the disk whole; a file whose header did not is emptied.
    size_t keep = 0;
    si::RecordScan scan;
    if (written >= records_start_) {
      scan = si::ScanPcapRecords(
          std::span<const uint8_t>(buffer_.get() + records_start_, written - records_start_));
      keep = records_start_ + scan.end;
    }
    if (ftruncate(fd_, static_cast<off_t>(file_bytes_ + keep)) != 0) {
      // Nothing more to do: a reader stops at the cut record.
    }
    CountWritten(scan.datagrams, scan.replays, keep);
    buffered_ -= scan.datagrams;
    Fail(Errno(err, "cannot write", temp_path_));
  }

  // The interval's file failed: report once, the datagrams still buffered are lost, and so is
  // the rest of the interval (Store counts them).
  void Fail(const absl::Status& status) {
    Add(counters_->datagrams_lost, buffered_);
    ResetBuffer();
    failed_ = true;
    Report(status);
  }

  // Completes the current file: flush, fsync, rename into place (or remove it when it holds
  // no datagram).
  void Complete() {
    if (!open_) return;
    open_ = false;
    have_completed_ = true;
    completed_start_ = interval_start_;
    if (fd_ < 0) return;
    Flush();
    if (file_datagrams_ == 0) {
      close(fd_);
      fd_ = -1;
      unlink(temp_path_.c_str());
      RemoveEmptyFolders(Dirname(temp_path_));
      return;
    }
    if (fsync(fd_) != 0) Report(Errno(errno, "cannot sync", temp_path_));
    close(fd_);
    fd_ = -1;
    if (rename(temp_path_.c_str(), final_path_.c_str()) != 0) {
      // Left under its temporary name; the next start finishes it.
      Report(Errno(errno, "cannot rename", temp_path_));
      return;
    }
    if (absl::Status s = SyncDir(Dirname(final_path_)); !s.ok()) Report(s);
    Add(counters_->files, 1);
  }

  void Rotate(TimeUs now) {
    Complete();
    ApplyRetention(now);
  }

  // --- start-up and retention ---------------------------------------------------------------

  void RecoverLeftovers() {
    std::vector<std::string> temps;
    absl::Status walked = si::WalkFiles(
        directory_, [&](const std::string& path, absl::string_view name, uint64_t) {
          if (!absl::ConsumePrefix(&name, ".") || !absl::ConsumeSuffix(&name, ".tmp")) return;
          if (StoreFileStart(name) >= 0) temps.push_back(path);
        });
    if (!walked.ok()) Report(walked);
    for (const std::string& temp : temps) {
      std::string name = Basename(temp);
      name = name.substr(1, name.size() - 1 - 4);  // drop "." and ".tmp"
      const std::string final_path = absl::StrCat(Dirname(temp), "/", name);
      const bool compressed = absl::EndsWith(name, ".zst");
      absl::StatusOr<si::FileScan> scan = si::ScanStoreFile(temp, compressed);
      if (!scan.ok()) {
        Report(scan.status());
        continue;
      }
      if (scan->datagrams == 0) {
        unlink(temp.c_str());
        continue;
      }
      if (Exists(final_path)) {
        Report(absl::AlreadyExistsError(absl::StrCat(
            "flow store: cannot finish ", temp, ": ", final_path, " exists; left as it is")));
        continue;
      }
      const int fd = open(temp.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0) {
        Report(Errno(errno, "cannot open", temp));
        continue;
      }
      bool ok = ftruncate(fd, static_cast<off_t>(scan->keep_bytes)) == 0;
      if (!ok) Report(Errno(errno, "cannot cut", temp));
      if (ok && fsync(fd) != 0) Report(Errno(errno, "cannot sync", temp));
      close(fd);
      if (!ok) continue;
      if (rename(temp.c_str(), final_path.c_str()) != 0) {
        Report(Errno(errno, "cannot rename", temp));
        continue;
      }
      if (absl::Status s = SyncDir(Dirname(final_path)); !s.ok()) Report(s);
      Add(counters_->files_recovered, 1);
    }
  }

  void ApplyRetention(TimeUs now) {
    retained_interval_ = IntervalStart(now);
    if (options_.retention_seconds <= 0 && options_.retention_bytes == 0) return;
    absl::StatusOr<std::vector<StoreFile>> files = ListStoreFiles(directory_);
    if (!files.ok()) {
      Report(files.status());
      return;
    }
    uint64_t total = 0;
    for (const StoreFile& f : *files) total += f.size;
    const TimeUs cutoff = options_.retention_seconds > 0
                              ? now - options_.retention_seconds * kUsPerSecond
                              : std::numeric_limits<TimeUs>::min();
    for (size_t i = 0; i < files->size(); ++i) {
      const StoreFile& f = (*files)[i];
      const bool too_old = f.start_us < cutoff;
      // The newest file stays whatever its size, or a small limit would keep nothing.
      const bool too_big = options_.retention_bytes > 0 && total > options_.retention_bytes &&
                           i + 1 < files->size();
      if (!too_old && !too_big) break;  // oldest first: the rest are newer and within limits
      if (unlink(f.path.c_str()) != 0 && errno != ENOENT) {
        Report(Errno(errno, "cannot remove", f.path));
        continue;
      }
      total -= f.size;
      Add(counters_->files_removed, 1);
      RemoveEmptyFolders(Dirname(f.path));
    }
  }

  // Removes `dir` and its parents below the store's root while they are empty.
  void RemoveEmptyFolders(std::string dir) {
    while (dir.size() > directory_.size() && absl::StartsWith(dir, directory_) &&
           dir[directory_.size()] == '/') {
      if (rmdir(dir.c_str()) != 0) return;
      dir = Dirname(dir);
    }
  }

  const StoreOptions options_;
  const std::string directory_;
  const TimeUs rotate_us_;
  StoreCounters* counters_ = nullptr;
  si::TemplateTracker tracker_;

  mutable std::mutex mu_;
  bool closed_ = false;
  absl::Status first_error_;
  std::string last_error_;

  // The current interval.
  bool open_ = false;
  TimeUs interval_start_ = 0;
  bool have_completed_ = false;
  TimeUs completed_start_ = 0;
  bool failed_ = false;  // the rest of the interval is lost
  TimeUs retained_interval_ = 0;  // the interval in which retention last ran
  int fd_ = -1;
  std::string final_path_;
  std::string temp_path_;
  uint64_t file_bytes_ = 0;      // on disk, all whole records / frames
  uint64_t file_datagrams_ = 0;  // received datagrams on disk

  // The buffer: records not written yet.
  std::unique_ptr<uint8_t[]> buffer_;
  size_t used_ = 0;
  size_t records_start_ = 0;  // after the file header when the buffer holds it
  uint64_t buffered_ = 0;          // received datagrams in the buffer
  uint64_t buffered_replays_ = 0;  // template datagrams in the buffer
  TimeUs buffer_oldest_us_ = 0;

  ZSTD_CCtx* cctx_ = nullptr;
  std::unique_ptr<uint8_t[]> zstd_out_;
  size_t zstd_capacity_ = 0;
};

absl::StatusOr<std::unique_ptr<StoreWriter>> StoreWriter::Create(const StoreOptions& options) {
  if (options.directory.empty()) {
    return absl::InvalidArgumentError("flow store: no directory given");
  }
  if (options.rotate_seconds <= 0 || options.rotate_seconds > 366 * 86400) {
    return absl::InvalidArgumentError(absl::StrCat(
        "flow store: rotation interval must be 1 second to 366 days, not ",
        options.rotate_seconds, " seconds"));
  }
  if (options.retention_seconds < 0) {
    return absl::InvalidArgumentError("flow store: negative retention");
  }
  if (options.compress &&
      (options.zstd_level < ZSTD_minCLevel() || options.zstd_level > ZSTD_maxCLevel())) {
    return absl::InvalidArgumentError(absl::StrCat("flow store: zstd level ", options.zstd_level,
                                                   " is outside ", ZSTD_minCLevel(), "..",
                                                   ZSTD_maxCLevel()));
  }
  std::string directory = options.directory;
  while (directory.size() > 1 && directory.back() == '/') directory.pop_back();
  if (absl::Status s = MakeDirs(directory); !s.ok()) {
    return absl::FailedPreconditionError(s.message());
  }
  // Writable? A probe file says so where access(2) would not (read-only mounts, root).
  const std::string probe = absl::StrCat(directory, "/.store-check-", getpid());
  const int fd = open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, kFileMode);
  if (fd < 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "flow store: cannot write in ", directory, ": ", std::strerror(errno)));
  }
  close(fd);
  unlink(probe.c_str());

  auto impl = std::make_unique<Impl>(options, directory);
  std::unique_ptr<StoreWriter> writer(new StoreWriter(std::move(impl)));
  writer->impl_->Start(absl::ToUnixMicros(absl::Now()));
  return writer;
}

StoreWriter::StoreWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  impl_->Attach(&counters_);
}

StoreWriter::~StoreWriter() {
  if (impl_ != nullptr) impl_->Close().IgnoreError();
}

void StoreWriter::Append(std::span<const uint8_t> datagram, const ExporterId& exporter,
                         TimeUs receive_time_us) {
  impl_->Append(datagram, exporter, receive_time_us);
}

void StoreWriter::Tick(TimeUs now) { impl_->Tick(now); }

absl::Status StoreWriter::Close() { return impl_->Close(); }

std::string StoreWriter::last_error() const { return impl_->last_error(); }

bool IsTemplateReplay(uint8_t ip_ttl) { return ip_ttl == store_internal::kReplayTtl; }

}  // namespace nf
