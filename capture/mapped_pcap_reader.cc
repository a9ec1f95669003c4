#include "capture/mapped_pcap_reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace nf {
namespace {

constexpr uint32_t kMagicMicro = 0xa1b2c3d4;
constexpr uint32_t kMagicNano = 0xa1b23c4d;
constexpr uint64_t kFileHeader = 24;
// Consumed pages are dropped in steps of this size, and twice as much is mapped ahead: large
// enough that madvise is rare (two calls per MiB), small enough that the mapping adds ~3 MiB to
// the resident set (4 MiB steps added ~12 MiB, which took 1,000,000 flows past 128 MiB).
constexpr uint64_t kReleaseStep = 1 << 20;

}  // namespace

absl::StatusOr<std::unique_ptr<MappedPcapReader>> MappedPcapReader::OpenIfClassic(
    const std::string& path) {
  // stat before open: opening a FIFO would block until a writer comes (and closing it again
  // would hang up on that writer before libpcap gets to read).
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot read capture file ", path, ": ", std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) < kFileHeader) {
    return nullptr;  // pipes, devices, empty or header-less files: libpcap decides
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot read capture file ", path, ": ", std::strerror(errno)));
  }
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<uint64_t>(st.st_size) < kFileHeader) {
    ::close(fd);
    return nullptr;  // replaced since the stat above
  }
  uint8_t header[kFileHeader];
  if (::pread(fd, header, sizeof header, 0) != static_cast<ssize_t>(sizeof header)) {
    ::close(fd);
    return nullptr;
  }
  uint32_t magic;
  std::memcpy(&magic, header, 4);
  bool swap;
  bool nano;
  if (magic == kMagicMicro || magic == kMagicNano) {
    swap = false;
    nano = magic == kMagicNano;
  } else if (__builtin_bswap32(magic) == kMagicMicro || __builtin_bswap32(magic) == kMagicNano) {
    swap = true;
    nano = __builtin_bswap32(magic) == kMagicNano;
  } else {
    ::close(fd);
    return nullptr;  // pcapng or a pcap variant libpcap knows
  }
  const size_t size = static_cast<size_t>(st.st_size);
  void* base = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);  // the mapping keeps the file
  if (base == MAP_FAILED) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot map capture file ", path, ": ", std::strerror(map_errno)));
  }
  ::madvise(base, size, MADV_SEQUENTIAL);  // read-ahead; advice only, failure is harmless
  std::unique_ptr<MappedPcapReader> r(new MappedPcapReader());
  r->path_ = path;
  r->base_ = static_cast<const uint8_t*>(base);
  r->size_ = size;
  r->offset_ = kFileHeader;
  r->swap_ = swap;
  r->nanoseconds_ = nano;
  // Upper bits of the link type field carry FCS information (pcap-savefile(5)).
  r->link_type_ = r->U32(header + 20) & 0x03ffffff;
  r->snaplen_ = r->U32(header + 16);
  // As libpcap: a zero or absurd snaplen means "no limit" rather than "drop everything".
  if (r->snaplen_ == 0 || r->snaplen_ > kMaxCaplen) r->snaplen_ = kMaxCaplen;
  return r;
}

MappedPcapReader::~MappedPcapReader() {
  if (base_ != nullptr) ::munmap(const_cast<uint8_t*>(base_), size_);
}

void MappedPcapReader::ReleaseConsumed() {
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  uint8_t* base = const_cast<uint8_t*>(base_);
  // Map the next window's page-cache pages in one call instead of taking a fault every few
  // pages on the packet path (Linux 5.14+; older kernels refuse it and fault as before).
  if (populate_ && populated_ < size_ && populated_ < offset_ + kReleaseStep) {
    const uint64_t from = populated_ < offset_ ? offset_ / page * page : populated_;
    const uint64_t to = std::min<uint64_t>(size_, from + 2 * kReleaseStep);
#ifdef MADV_POPULATE_READ
    if (::madvise(base + from, to - from, MADV_POPULATE_READ) != 0) populate_ = false;
#else
    populate_ = false;
#endif
    populated_ = to;
  }
  if (offset_ - released_ < kReleaseStep) return;
  const uint64_t end = offset_ / page * page;
  if (end <= released_) return;
  ::madvise(base + released_, end - released_, MADV_DONTNEED);
  released_ = end;
}

absl::Status MappedPcapReader::Truncated(uint64_t wanted, uint64_t got, bool header) const {
  return absl::DataLossError(absl::StrCat("error reading ", path_, ": truncated dump file; tried to read ",
                                          wanted, header ? " header" : " captured",
                                          " bytes, only got ", got));
}

absl::Status MappedPcapReader::TooLong(uint32_t caplen) const {
  return absl::DataLossError(absl::StrCat("error reading ", path_,
                                          ": invalid packet capture length ", caplen,
                                          ", bigger than maximum of ", kMaxCaplen));
}

}  // namespace nf
