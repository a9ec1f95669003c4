// A zero-copy reader for classic pcap files (`flowexport -r`): the file is memory-mapped and
// packets are handed out as views into the mapping.
//
// Why not libpcap: pcap_next_ex/pcap_dispatch read every record with fread into libpcap's own
// buffer, so each byte is copied twice (page cache -> stdio buffer -> libpcap buffer) and every
// packet costs a few library calls. On a page-cached 1 GB capture that was a third of
// flowexport's CPU time. Mapping the file costs one minor fault per few pages and no copy.
// Pages already consumed are dropped from the mapping (MADV_DONTNEED) as reading advances, so
// the resident set stays a small window however large the file is.
//
// Only the four standard classic-pcap magics (micro- and nanosecond, either byte order) are
// read here; PcapSource keeps libpcap for everything else (pipes, stdin, the "modified" pcap
// variants) and our pcapng reader for pcapng. Records are validated the way libpcap does, with
// the same messages: a capture length beyond the maximum is an error, a record cut short by the
// end of the file is a "truncated dump file" error, and a capture length beyond the file's
// snaplen is clipped to it.
#ifndef NF_CAPTURE_MAPPED_PCAP_READER_H_
#define NF_CAPTURE_MAPPED_PCAP_READER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/time_format.h"

namespace nf {

struct MappedPacket {
  const uint8_t* data = nullptr;  // valid while the reader lives and until ReleaseConsumed
  uint32_t caplen = 0;
  uint32_t wire_len = 0;
  TimeUs time_us = 0;
};

class MappedPcapReader {
 public:
  // Maps `path` when it is a regular, non-empty file in classic pcap format with a standard
  // magic. Returns nullptr (not an error) when the file is something else, so the caller can
  // fall back to libpcap; an error when the file cannot be opened or mapped.
  static absl::StatusOr<std::unique_ptr<MappedPcapReader>> OpenIfClassic(const std::string& path);
  ~MappedPcapReader();
  MappedPcapReader(const MappedPcapReader&) = delete;
  MappedPcapReader& operator=(const MappedPcapReader&) = delete;

  // The file's link type field (LINKTYPE_ value, FCS bits masked off) and snaplen.
  uint32_t link_type() const { return link_type_; }
  uint32_t snaplen() const { return snaplen_; }

  // Reads the next packet: true with `out` filled, false at the end of the file, or an error
  // for a malformed or truncated record (the message names the file).
  absl::StatusOr<bool> Next(MappedPacket& out) {
    if (size_ - offset_ < kRecordHeader) {
      if (offset_ == size_) return false;
      return Truncated(kRecordHeader, size_ - offset_, /*header=*/true);
    }
    const uint8_t* h = base_ + offset_;
    const uint32_t sec = U32(h);
    const uint32_t frac = U32(h + 4);
    uint32_t caplen = U32(h + 8);
    const uint32_t len = U32(h + 12);
    if (caplen > kMaxCaplen) return TooLong(caplen);
    if (size_ - offset_ - kRecordHeader < caplen) {
      return Truncated(caplen, size_ - offset_ - kRecordHeader, /*header=*/false);
    }
    out.data = h + kRecordHeader;
    offset_ += kRecordHeader + caplen;
    // The next record's header and the first bytes of its frame: by the time this packet is
    // parsed and metered they are in cache (hints only; past the end they are ignored).
    __builtin_prefetch(base_ + offset_);
    __builtin_prefetch(base_ + offset_ + 64);
    if (caplen > snaplen_) caplen = snaplen_;
    out.caplen = caplen;
    out.wire_len = len < caplen ? caplen : len;
    out.time_us = TimeUs{sec} * 1000000 + (nanoseconds_ ? frac / 1000 : frac);
    return true;
  }

  // Call between batches: maps the next few MiB of the file ahead of the reader and drops the
  // pages before the current position from the mapping (the data stays in the page cache).
  // Packets handed out before this call are invalid after it.
  void ReleaseConsumed();

  uint64_t offset() const { return offset_; }
  uint64_t size() const { return size_; }

 private:
  static constexpr uint64_t kRecordHeader = 16;
  // libpcap's limit for any link type (MAXIMUM_SNAPLEN): larger lengths mean a corrupt file.
  static constexpr uint32_t kMaxCaplen = 262144;

  MappedPcapReader() = default;
  uint32_t U32(const uint8_t* p) const {
    uint32_t v;
    __builtin_memcpy(&v, p, 4);
    return swap_ ? __builtin_bswap32(v) : v;
  }
  absl::Status Truncated(uint64_t wanted, uint64_t got, bool header) const;
  absl::Status TooLong(uint32_t caplen) const;

  std::string path_;
  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  uint64_t offset_ = 0;
  uint64_t released_ = 0;   // page-aligned prefix already dropped from the mapping
  uint64_t populated_ = 0;  // prefix already mapped ahead of the reader
  bool populate_ = true;    // false once the kernel refused MADV_POPULATE_READ
  bool swap_ = false;
  bool nanoseconds_ = false;
  uint32_t link_type_ = 0;
  uint32_t snaplen_ = 0;
};

}  // namespace nf

#endif  // NF_CAPTURE_MAPPED_PCAP_READER_H_
