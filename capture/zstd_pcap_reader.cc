#include "capture/zstd_pcap_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace nf {
namespace {

constexpr uint8_t kZstdMagic[4] = {0x28, 0xb5, 0x2f, 0xfd};
constexpr uint32_t kMagicMicro = 0xa1b2c3d4;
constexpr uint32_t kMagicNano = 0xa1b23c4d;
constexpr uint32_t kPcapngMagic = 0x0a0d0d0a;  // a palindrome: either byte order
// Opening decompresses only the 24-byte file header: small reads are enough, and whatever the
// context allocates for the first block is freed again before the file is read.
constexpr size_t kOpenInputBytes = 4096;

}  // namespace

absl::StatusOr<std::unique_ptr<ZstdPcapReader>> ZstdPcapReader::OpenIfZstd(
    const std::string& path) {
  return OpenIfZstd(path, Options());
}

absl::StatusOr<std::unique_ptr<ZstdPcapReader>> ZstdPcapReader::OpenIfZstd(
    const std::string& path, const Options& options) {
  // stat before open: opening a FIFO would block until a writer comes. A missing or unreadable
  // file is left to the caller's libpcap path, whose message it has always given.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<uint64_t>(st.st_size) < sizeof kZstdMagic) {
    return nullptr;
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  uint8_t magic[sizeof kZstdMagic];
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      ::pread(fd, magic, sizeof magic, 0) != static_cast<ssize_t>(sizeof magic) ||
      std::memcmp(magic, kZstdMagic, sizeof magic) != 0) {
    ::close(fd);
    return nullptr;
  }
  std::unique_ptr<ZstdPcapReader> r(new ZstdPcapReader(options));
  r->path_ = path;
  r->fd_ = fd;  // owned from here on
  r->size_ = static_cast<uint64_t>(st.st_size);
  absl::Status filled = r->Begin(kOpenInputBytes, kFileHeader);
  if (filled.ok()) filled = r->Fill(kFileHeader);
  if (!filled.ok()) return filled;
  const size_t got = r->end_;
  uint8_t header[kFileHeader] = {};
  std::memcpy(header, r->out_, got);
  r->Release();
  r->read_ = 0;
  r->consumed_ = 0;
  const auto bad = [&path](const std::string& why) {
    return absl::DataLossError(absl::StrCat("cannot read capture file ", path, ": ", why));
  };
  uint32_t m;
  std::memcpy(&m, header, 4);
  if (got >= 4 && m == kPcapngMagic) {
    return bad("zstd-compressed pcapng is not supported (decompress it with zstd -d first)");
  }
  if (got < kFileHeader) {
    return bad(absl::StrCat("the zstd-compressed data (", got,
                            " bytes) is too short for a pcap file header"));
  }
  if (m == kMagicMicro || m == kMagicNano) {
    r->nanoseconds_ = m == kMagicNano;
  } else if (__builtin_bswap32(m) == kMagicMicro || __builtin_bswap32(m) == kMagicNano) {
    r->swap_ = true;
    r->nanoseconds_ = __builtin_bswap32(m) == kMagicNano;
  } else {
    return bad("the zstd-compressed data is not a classic pcap file (unknown magic)");
  }
  // The version check libpcap makes (2.0 to 2.4, and DG/UX tcpdump's 543.0).
  uint16_t major;
  uint16_t minor;
  std::memcpy(&major, header + 4, 2);
  std::memcpy(&minor, header + 6, 2);
  if (r->swap_) {
    major = __builtin_bswap16(major);
    minor = __builtin_bswap16(minor);
  }
  if (!((major == 2 && minor <= 4) || (major == 543 && minor == 0))) {
    return bad(absl::StrCat("unsupported pcap savefile version ", major, ".", minor));
  }
  // Upper bits of the link type field carry FCS information (pcap-savefile(5)).
  r->link_type_ = r->U32(header + 20) & 0x03ffffff;
  r->snaplen_ = r->U32(header + 16);
  // As libpcap: a zero or absurd snaplen means "no limit" rather than "drop everything".
  if (r->snaplen_ == 0 || r->snaplen_ > kMaxCaplen) r->snaplen_ = kMaxCaplen;
  return r;
}

ZstdPcapReader::~ZstdPcapReader() { Finish(); }

absl::Status ZstdPcapReader::Begin(size_t input_bytes, size_t output_bytes) {
  Release();
  dctx_ = ZSTD_createDCtx();
  if (dctx_ == nullptr) {
    return absl::ResourceExhaustedError(
        absl::StrCat("error reading ", path_, ": cannot allocate a zstd context"));
  }
  in_.reset(new uint8_t[input_bytes]);
  out_buf_.reset(new uint8_t[output_bytes]);
  out_ = out_buf_.get();
  out_cap_ = output_bytes;
  in_cap_ = input_bytes;
  in_pos_ = in_size_ = 0;
  pos_ = end_ = 0;
  read_ = consumed_ = 0;
  eof_ = false;
  frame_open_ = false;
  return absl::OkStatus();
}

void ZstdPcapReader::Release() {
  ZSTD_freeDCtx(dctx_);  // accepts nullptr
  dctx_ = nullptr;
  in_.reset();
  out_buf_.reset();
  out_ = nullptr;
  in_cap_ = out_cap_ = 0;
  in_pos_ = in_size_ = 0;
  pos_ = end_ = 0;
}

void ZstdPcapReader::Finish() {
  Release();
  finished_ = true;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

absl::Status ZstdPcapReader::Start() {
  started_ = true;
  // Read-ahead for the whole file; advice only, failure is harmless.
  ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
  absl::Status st = Begin(std::max<size_t>(options_.input_buffer_bytes, 1),
                          std::max(options_.output_buffer_bytes, kFileHeader));
  if (st.ok()) st = Fill(kFileHeader);
  if (!st.ok()) return st;
  if (end_ < kFileHeader) {  // the header was there when the file was opened
    return absl::DataLossError(absl::StrCat("error reading ", path_, ": file changed while open"));
  }
  pos_ = kFileHeader;
  return absl::OkStatus();
}

absl::Status ZstdPcapReader::Fill(size_t want) {
  // Records straddle refills: keep the unread tail, at the front so the buffer's whole rest is
  // free. It is less than one record, so the move is small next to what is decompressed after it.
  if (pos_ > 0) {
    std::memmove(out_, out_ + pos_, end_ - pos_);
    end_ -= pos_;
    pos_ = 0;
  }
  if (want > out_cap_) {
    // Only a buffer configured below the largest record gets here.
    std::unique_ptr<uint8_t[]> bigger(new uint8_t[want]);
    std::memcpy(bigger.get(), out_, end_);
    out_buf_ = std::move(bigger);
    out_ = out_buf_.get();
    out_cap_ = want;
  }
  while (end_ < want) {
    if (in_pos_ == in_size_ && !eof_) {
      ssize_t n;
      do {
        n = ::pread(fd_, in_.get(), in_cap_, static_cast<off_t>(read_));
      } while (n < 0 && errno == EINTR);
      if (n < 0) {
        return absl::DataLossError(
            absl::StrCat("error reading ", path_, ": ", std::strerror(errno)));
      }
      in_pos_ = 0;
      in_size_ = static_cast<size_t>(n);
      read_ += static_cast<uint64_t>(n);
      eof_ = n == 0;
    }
    ZSTD_inBuffer in{in_.get(), in_size_, in_pos_};
    ZSTD_outBuffer out{out_, out_cap_, end_};
    const size_t hint = ZSTD_decompressStream(dctx_, &out, &in);
    if (ZSTD_isError(hint)) {
      return absl::DataLossError(absl::StrCat("error reading ", path_, ": corrupt zstd stream (",
                                              ZSTD_getErrorName(hint), ")"));
    }
    const bool progress = in.pos != in_pos_ || out.pos != end_;
    consumed_ += in.pos - in_pos_;
    in_pos_ = in.pos;
    end_ = out.pos;
    // 0 means a frame is complete and flushed. A call without progress says nothing about the
    // data (between frames it already expects the next header), so it does not count.
    if (progress) {
      frame_open_ = hint != 0;
    } else if (eof_ && in_pos_ == in_size_) {
      break;  // the stream is exhausted
    }
  }
  if (end_ < want && frame_open_) {
    return absl::DataLossError(absl::StrCat(
        "error reading ", path_, ": truncated zstd stream (the file ends inside a frame)"));
  }
  return absl::OkStatus();
}

absl::Status ZstdPcapReader::Fail(absl::Status status) {
  Finish();
  error_ = status;
  return status;
}

absl::StatusOr<bool> ZstdPcapReader::NextSlow(PcapPacket& out) {
  if (!error_.ok()) return error_;
  if (finished_) return false;
  if (!started_) {
    absl::Status st = Start();
    if (!st.ok()) return Fail(st);
  }
  if (end_ - pos_ < kRecordHeader) {
    absl::Status st = Fill(kRecordHeader);
    if (!st.ok()) return Fail(st);
    if (end_ - pos_ < kRecordHeader) {
      if (end_ == pos_) {
        Finish();  // end of file: nothing held until the reader goes
        return false;
      }
      return Fail(absl::DataLossError(
          absl::StrCat("error reading ", path_, ": truncated dump file; tried to read ",
                       kRecordHeader, " header bytes, only got ", end_ - pos_)));
    }
  }
  const uint32_t caplen = U32(out_ + pos_ + 8);
  if (caplen > kMaxCaplen) {
    return Fail(absl::DataLossError(absl::StrCat("error reading ", path_,
                                                 ": invalid packet capture length ", caplen,
                                                 ", bigger than maximum of ", kMaxCaplen)));
  }
  if (end_ - pos_ - kRecordHeader < caplen) {
    absl::Status st = Fill(kRecordHeader + caplen);
    if (!st.ok()) return Fail(st);
    if (end_ - pos_ - kRecordHeader < caplen) {
      return Fail(absl::DataLossError(
          absl::StrCat("error reading ", path_, ": truncated dump file; tried to read ", caplen,
                       " captured bytes, only got ", end_ - pos_ - kRecordHeader)));
    }
  }
  Take(out_ + pos_, caplen, out);
  return true;
}

}  // namespace nf
