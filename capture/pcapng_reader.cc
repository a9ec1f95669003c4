#include "capture/pcapng_reader.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace nf {
namespace {

constexpr uint32_t kSectionHeader = 0x0A0D0D0A;
constexpr uint32_t kInterfaceDescription = 1;
constexpr uint32_t kObsoletePacket = 2;
constexpr uint32_t kSimplePacket = 3;
constexpr uint32_t kEnhancedPacket = 6;
constexpr uint32_t kByteOrderMagic = 0x1A2B3C4D;
constexpr uint32_t kMaxBlock = 256u << 20;  // refuse absurd lengths instead of allocating

// 128-bit intermediate so nanosecond (or 2^-n) stamps never overflow while being scaled.
__extension__ typedef __int128 Int128;

uint32_t Native32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

}  // namespace

bool PcapngReader::IsPcapng(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  uint8_t b[4] = {0};
  const bool ok = std::fread(b, 1, 4, f) == 4;
  std::fclose(f);
  return ok && Native32(b) == kSectionHeader;
}

absl::StatusOr<std::unique_ptr<PcapngReader>> PcapngReader::Open(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return absl::ErrnoToStatus(errno, absl::StrCat("cannot read capture file ", path));
  }
  std::unique_ptr<PcapngReader> r(new PcapngReader());
  // stdio's default 4 KiB buffer costs a read() per few blocks: a tenth of a whole
  // `flowcollect -r` run went to those calls.
  constexpr size_t kStdioBuffer = 1 << 20;
  r->stdio_buffer_ = std::make_unique<char[]>(kStdioBuffer);
  std::setvbuf(f, r->stdio_buffer_.get(), _IOFBF, kStdioBuffer);
  r->path_ = path;
  r->file_ = f;
  return r;
}

PcapngReader::~PcapngReader() {
  if (file_ != nullptr) std::fclose(file_);
}

uint16_t PcapngReader::U16(const uint8_t* p) const {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return swap_ ? static_cast<uint16_t>(__builtin_bswap16(v)) : v;
}

uint32_t PcapngReader::U32(const uint8_t* p) const {
  uint32_t v = Native32(p);
  return swap_ ? __builtin_bswap32(v) : v;
}

TimeUs PcapngReader::ToMicros(const Interface& itf, uint64_t ts) const {
  Int128 us;
  if (itf.binary_resolution) {
    const int shift = itf.resolution > 63 ? 63 : itf.resolution;
    us = (static_cast<Int128>(ts) * 1000000) >> shift;
  } else if (itf.resolution >= 6) {
    Int128 div = 1;
    for (int i = 6; i < itf.resolution && i < 30; ++i) div *= 10;
    us = static_cast<Int128>(ts) / div;
  } else {
    Int128 mul = 1;
    for (int i = itf.resolution; i < 6; ++i) mul *= 10;
    us = static_cast<Int128>(ts) * mul;
  }
  return static_cast<TimeUs>(us) + itf.offset_s * 1000000;
}

absl::Status PcapngReader::ParseInterface(const uint8_t* body, size_t len) {
  if (len < 8) {
    return absl::DataLossError(
        absl::StrCat("error reading ", path_, ": short interface block at offset ", offset_));
  }
  Interface itf;
  itf.dlt = U16(body);
  itf.snaplen = U32(body + 4);
  // Options: code(2) length(2) value padded to 4.
  size_t pos = 8;
  while (pos + 4 <= len) {
    const uint16_t code = U16(body + pos);
    const uint16_t olen = U16(body + pos + 2);
    pos += 4;
    if (code == 0 || pos + olen > len) break;
    if (code == 9 && olen >= 1) {
      itf.binary_resolution = (body[pos] & 0x80) != 0;
      itf.resolution = body[pos] & 0x7f;
    } else if (code == 14 && olen >= 8) {
      uint64_t v;
      std::memcpy(&v, body + pos, 8);
      itf.offset_s = static_cast<int64_t>(swap_ ? __builtin_bswap64(v) : v);
    }
    pos += (olen + 3u) & ~3u;
  }
  interfaces_.push_back(itf);
  return absl::OkStatus();
}

absl::StatusOr<bool> PcapngReader::Next(PcapngPacket& out) {
  for (;;) {
    uint8_t head[8];
    const size_t got = std::fread(head, 1, 8, file_);
    if (got == 0 && std::feof(file_)) return false;
    if (got != 8) {
      return absl::DataLossError(
          absl::StrCat("error reading ", path_, ": truncated block header at offset ", offset_));
    }
    const uint32_t raw_type = Native32(head);
    if (raw_type == kSectionHeader) {
      // The byte order is only known after reading the magic that follows the length.
      uint8_t bom[4];
      if (std::fread(bom, 1, 4, file_) != 4) {
        return absl::DataLossError(
            absl::StrCat("error reading ", path_, ": truncated section header at ", offset_));
      }
      const uint32_t magic = Native32(bom);
      if (magic == kByteOrderMagic) {
        swap_ = false;
      } else if (magic == __builtin_bswap32(kByteOrderMagic)) {
        swap_ = true;
      } else {
        return absl::DataLossError(
            absl::StrCat("error reading ", path_, ": bad byte-order magic at ", offset_));
      }
      const uint32_t len = U32(head + 4);
      if (len < 28 || len % 4 != 0 || len > kMaxBlock) {
        return absl::DataLossError(
            absl::StrCat("error reading ", path_, ": bad section length at ", offset_));
      }
      buf_.resize(len - 12);
      if (std::fread(buf_.data(), 1, len - 12, file_) != len - 12) {
        return absl::DataLossError(
            absl::StrCat("error reading ", path_, ": truncated section at ", offset_));
      }
      interfaces_.clear();
      in_section_ = true;
      offset_ += len;
      continue;
    }
    if (!in_section_) {
      return absl::DataLossError(absl::StrCat("error reading ", path_, ": not a pcapng file"));
    }
    const uint32_t type = U32(head);
    const uint32_t len = U32(head + 4);
    if (len < 12 || len % 4 != 0 || len > kMaxBlock) {
      return absl::DataLossError(absl::StrCat("error reading ", path_, ": bad block length ", len,
                                              " at offset ", offset_));
    }
    const size_t body_len = len - 12;
    if (buf_.size() < body_len + 4) buf_.resize(body_len + 4);
    if (std::fread(buf_.data(), 1, body_len + 4, file_) != body_len + 4) {
      return absl::DataLossError(
          absl::StrCat("error reading ", path_, ": truncated block at offset ", offset_));
    }
    const uint64_t block_offset = offset_;
    offset_ += len;
    const uint8_t* b = buf_.data();
    auto bad = [&](const char* what) {
      return absl::DataLossError(
          absl::StrCat("error reading ", path_, ": ", what, " at offset ", block_offset));
    };
    switch (type) {
      case kInterfaceDescription: {
        absl::Status st = ParseInterface(b, body_len);
        if (!st.ok()) return st;
        continue;
      }
      case kEnhancedPacket:
      case kObsoletePacket: {
        if (body_len < 20) return bad("short packet block");
        const uint32_t itf = type == kEnhancedPacket ? U32(b) : U16(b);
        if (itf >= interfaces_.size()) return bad("packet for an undeclared interface");
        const uint64_t ts = (uint64_t{U32(b + 4)} << 32) | U32(b + 8);
        const uint32_t caplen = U32(b + 12);
        const uint32_t wire = U32(b + 16);
        if (caplen > body_len - 20) return bad("packet longer than its block");
        out.data = b + 20;
        out.caplen = caplen;
        out.wire_len = wire < caplen ? caplen : wire;
        out.interface = itf;
        out.dlt = interfaces_[itf].dlt;
        out.snaplen = interfaces_[itf].snaplen;
        out.time_us = ToMicros(interfaces_[itf], ts);
        return true;
      }
      case kSimplePacket: {
        if (body_len < 4) return bad("short simple packet block");
        if (interfaces_.empty()) return bad("packet for an undeclared interface");
        const uint32_t wire = U32(b);
        uint32_t caplen = static_cast<uint32_t>(body_len - 4);
        if (wire < caplen) caplen = wire;
        if (interfaces_[0].snaplen != 0 && caplen > interfaces_[0].snaplen) {
          caplen = interfaces_[0].snaplen;
        }
        out.data = b + 4;
        out.caplen = caplen;
        out.wire_len = wire;
        out.interface = 0;
        out.dlt = interfaces_[0].dlt;
        out.snaplen = interfaces_[0].snaplen;
        out.time_us = 0;  // simple packet blocks carry no time
        return true;
      }
      default:
        continue;  // name resolution, statistics, custom, decryption secrets...
    }
  }
}

}  // namespace nf
