#include "collector/store/store_format.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace nf::store_internal {

namespace {

constexpr uint32_t kPcapMagicMicros = 0xa1b2c3d4;
// A frame of ours holds one write buffer; anything claiming much more is not ours.
constexpr unsigned long long kMaxFrameContent = 16u << 20;

void PutLe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v >> 16);
  p[3] = static_cast<uint8_t>(v >> 24);
}
void PutLe16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
void PutBe16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
uint32_t LoadLe32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) |
         (uint32_t{p[3]} << 24);
}

// One's-complement sum of 16-bit big-endian words (odd trailing byte padded with zero).
uint32_t SumWords(const uint8_t* p, size_t n, uint32_t sum) {
  for (; n >= 2; p += 2, n -= 2) sum += (uint32_t{p[0]} << 8) | p[1];
  if (n == 1) sum += uint32_t{p[0]} << 8;
  return sum;
}
uint16_t FoldChecksum(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

bool ValidFileHeader(const uint8_t* p) {
  return LoadLe32(p) == kPcapMagicMicros && LoadLe32(p + 20) == kLinktypeRaw;
}

// The file mapped read-only (nothing for an empty file).
class MappedFile {
 public:
  ~MappedFile() {
    if (data_ != nullptr) munmap(data_, size_);
  }
  absl::Status Open(const std::string& path) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("cannot open ", path));
    struct stat st;
    if (fstat(fd, &st) != 0) {
      const int err = errno;
      close(fd);
      return absl::ErrnoToStatus(err, absl::StrCat("cannot read ", path));
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ > 0) {
      void* p = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        const int err = errno;
        close(fd);
        size_ = 0;
        return absl::ErrnoToStatus(err, absl::StrCat("cannot read ", path));
      }
      data_ = static_cast<uint8_t*>(p);
    }
    close(fd);
    return absl::OkStatus();
  }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

FileScan ScanPlain(std::span<const uint8_t> file) {
  FileScan out;
  if (file.size() < kPcapFileHeaderSize || !ValidFileHeader(file.data())) return out;
  out.valid = true;
  const RecordScan r = ScanPcapRecords(file.subspan(kPcapFileHeaderSize));
  out.keep_bytes = kPcapFileHeaderSize + r.end;
  out.datagrams = r.datagrams;
  return out;
}

// Keeps whole frames whose records tile them exactly (the writer compresses whole records
// only); the first frame that is cut, corrupt or not ours ends the part kept.
FileScan ScanCompressed(std::span<const uint8_t> file) {
  FileScan out;
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  if (dctx == nullptr) return out;
  std::vector<uint8_t> content;
  size_t offset = 0;
  bool first = true;
  while (offset < file.size()) {
    const uint8_t* src = file.data() + offset;
    const size_t avail = file.size() - offset;
    const size_t frame = ZSTD_findFrameCompressedSize(src, avail);
    if (ZSTD_isError(frame) || frame > avail) break;
    const unsigned long long want = ZSTD_getFrameContentSize(src, frame);
    if (want == ZSTD_CONTENTSIZE_UNKNOWN || want == ZSTD_CONTENTSIZE_ERROR ||
        want > kMaxFrameContent) {
      break;
    }
    content.resize(static_cast<size_t>(want));
    const size_t got = ZSTD_decompressDCtx(dctx, content.data(), content.size(), src, frame);
    if (ZSTD_isError(got) || got != content.size()) break;
    std::span<const uint8_t> records(content);
    if (first) {
      if (records.size() < kPcapFileHeaderSize || !ValidFileHeader(records.data())) break;
      out.valid = true;
      records = records.subspan(kPcapFileHeaderSize);
      first = false;
    }
    const RecordScan r = ScanPcapRecords(records);
    if (r.end != records.size()) break;
    out.datagrams += r.datagrams;
    offset += frame;
    out.keep_bytes = offset;
  }
  ZSTD_freeDCtx(dctx);
  return out;
}

}  // namespace

void EncodePcapFileHeader(uint8_t* out) {
  PutLe32(out, kPcapMagicMicros);
  PutLe16(out + 4, 2);  // version 2.4
  PutLe16(out + 6, 4);
  PutLe32(out + 8, 0);   // thiszone: timestamps are UTC
  PutLe32(out + 12, 0);  // sigfigs
  PutLe32(out + 16, kPcapSnaplen);
  PutLe32(out + 20, kLinktypeRaw);
}

size_t PcapRecordSize(size_t payload_size, bool ipv6) {
  const size_t packet =
      (ipv6 ? kIpv6HeaderSize : kIpv4HeaderSize) + kUdpHeaderSize + payload_size;
  return packet > kPcapSnaplen ? 0 : kPcapRecordHeaderSize + packet;
}

size_t EncodePcapRecord(std::span<const uint8_t> payload, const IpAddress& source,
                        uint16_t source_port, TimeUs time_us, uint8_t ttl, uint8_t* out) {
  const bool ipv6 = source.is_v6();
  const size_t size = PcapRecordSize(payload.size(), ipv6);
  if (size == 0) return 0;
  const uint32_t packet = static_cast<uint32_t>(size - kPcapRecordHeaderSize);
  const TimeUs t = time_us < 0 ? 0 : time_us;
  PutLe32(out, static_cast<uint32_t>(t / 1'000'000));
  PutLe32(out + 4, static_cast<uint32_t>(t % 1'000'000));
  PutLe32(out + 8, packet);
  PutLe32(out + 12, packet);
  uint8_t* ip = out + kPcapRecordHeaderSize;
  const uint16_t dst_port =
      payload.size() >= 2 && payload[0] == 0 && payload[1] == 10 ? kIpfixPort : kNetflowPort;
  const uint16_t udp_length = static_cast<uint16_t>(kUdpHeaderSize + payload.size());
  uint8_t* udp;
  if (ipv6) {
    std::memset(ip, 0, kIpv6HeaderSize);
    ip[0] = 0x60;
    PutBe16(ip + 4, udp_length);
    ip[6] = 17;  // UDP
    ip[7] = ttl;
    std::memcpy(ip + 8, source.bytes.data(), 16);  // destination :: stays zero
    udp = ip + kIpv6HeaderSize;
  } else {
    std::memset(ip, 0, kIpv4HeaderSize);
    ip[0] = 0x45;
    PutBe16(ip + 2, static_cast<uint16_t>(kIpv4HeaderSize + udp_length));
    ip[8] = ttl;
    ip[9] = 17;
    std::memcpy(ip + 12, source.bytes.data(), 4);  // destination 0.0.0.0 stays zero
    PutBe16(ip + 10, FoldChecksum(SumWords(ip, kIpv4HeaderSize, 0)));
    udp = ip + kIpv4HeaderSize;
  }
  PutBe16(udp, source_port);
  PutBe16(udp + 2, dst_port);
  PutBe16(udp + 4, udp_length);
  PutBe16(udp + 6, 0);
  if (!payload.empty()) std::memcpy(udp + kUdpHeaderSize, payload.data(), payload.size());
  if (ipv6) {
    // Pseudo-header: source, destination (zero), upper-layer length, next header.
    uint32_t sum = SumWords(ip + 8, 32, 0);
    sum += udp_length;
    sum += 17;
    sum = SumWords(udp, udp_length, sum);
    uint16_t checksum = FoldChecksum(sum);
    if (checksum == 0) checksum = 0xffff;  // 0 means "no checksum", which IPv6 forbids
    PutBe16(udp + 6, checksum);
  }
  return size;
}

RecordScan ScanPcapRecords(std::span<const uint8_t> data) {
  RecordScan out;
  size_t pos = 0;
  while (data.size() - pos >= kPcapRecordHeaderSize) {
    const uint8_t* h = data.data() + pos;
    const uint32_t caplen = LoadLe32(h + 8);
    const uint32_t len = LoadLe32(h + 12);
    if (caplen != len || caplen > kPcapSnaplen || caplen < kIpv4HeaderSize + kUdpHeaderSize) {
      break;
    }
    if (data.size() - pos - kPcapRecordHeaderSize < caplen) break;
    const uint8_t* ip = h + kPcapRecordHeaderSize;
    uint8_t ttl;
    if (ip[0] == 0x45) {
      ttl = ip[8];
    } else if ((ip[0] >> 4) == 6 && caplen >= kIpv6HeaderSize + kUdpHeaderSize) {
      ttl = ip[7];
    } else {
      break;
    }
    if (ttl == kReplayTtl) {
      ++out.replays;
    } else {
      ++out.datagrams;
    }
    pos += kPcapRecordHeaderSize + caplen;
    out.end = pos;
  }
  return out;
}

namespace {

// Folder depth bound: the layout is three levels deep; this only stops runaway recursion.
constexpr int kMaxDepth = 16;

absl::Status Walk(const std::string& directory, int depth, bool top,
                  absl::FunctionRef<void(const std::string&, absl::string_view, uint64_t)> fn) {
  DIR* d = opendir(directory.c_str());
  if (d == nullptr) {
    if (!top && errno == ENOENT) return absl::OkStatus();
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot read folder ", directory));
  }
  absl::Status status;
  while (struct dirent* e = readdir(d)) {
    const absl::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // vanished
    const std::string path = absl::StrCat(
        directory, !directory.empty() && directory.back() == '/' ? "" : "/", name);
    if (S_ISREG(st.st_mode)) {
      fn(path, name, static_cast<uint64_t>(st.st_size));
    } else if (S_ISDIR(st.st_mode) && depth < kMaxDepth) {
      status = Walk(path, depth + 1, false, fn);
      if (!status.ok()) break;
    }
  }
  closedir(d);
  return status;
}

}  // namespace

absl::Status WalkFiles(const std::string& directory,
                       absl::FunctionRef<void(const std::string& path, absl::string_view name,
                                              uint64_t size)> fn) {
  return Walk(directory, 0, true, fn);
}

absl::StatusOr<FileScan> ScanStoreFile(const std::string& path, bool compressed) {
  MappedFile file;
  if (absl::Status s = file.Open(path); !s.ok()) return s;
  return compressed ? ScanCompressed(file.bytes()) : ScanPlain(file.bytes());
}

}  // namespace nf::store_internal
