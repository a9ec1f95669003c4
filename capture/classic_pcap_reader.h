// A reader for classic pcap files (`flowexport -r`): the file is read in large read()s into one
// reused 1 MiB buffer and packets are handed out as views into it.
//
// Why not libpcap: pcap_next_ex/pcap_dispatch read every record with fread into libpcap's own
// buffer, so each byte is copied twice (page cache -> stdio buffer -> libpcap buffer) and every
// packet costs a few library calls. Why not a memory mapping (what this reader did before): every
// 4 KiB of the file then costs a page-table entry to set up and tear down, and a TLB miss when
// the parser first touches it, while the copy into a buffer that stays in the CPU's cache is one
// streaming pass. On a page-cached 1 GB capture the whole run took 0.75 CPU-seconds with the
// mapping and 0.35-0.47 with these reads (docs/BENCHMARKS.md).
//
// Only the four standard classic-pcap magics (micro- and nanosecond, either byte order) are
// read here; PcapSource keeps libpcap for everything else (pipes, stdin, the "modified" pcap
// variants) and our pcapng reader for pcapng. Records are validated the way libpcap does, with
// the same messages: a capture length beyond the maximum is an error, a record cut short by the
// end of the file is a "truncated dump file" error, and a capture length beyond the file's
// snaplen is clipped to it.
#ifndef NF_CAPTURE_CLASSIC_PCAP_READER_H_
#define NF_CAPTURE_CLASSIC_PCAP_READER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/time_format.h"

namespace nf {

struct PcapPacket {
  const uint8_t* data = nullptr;  // valid until the next call to Next
  uint32_t caplen = 0;
  uint32_t wire_len = 0;
  TimeUs time_us = 0;
};

class ClassicPcapReader {
 public:
  // Opens `path` when it is a regular, non-empty file in classic pcap format with a standard
  // magic. Returns nullptr (not an error) when the file is something else, so the caller can
  // fall back to libpcap; an error when the file cannot be opened.
  static absl::StatusOr<std::unique_ptr<ClassicPcapReader>> OpenIfClassic(const std::string& path);
  ~ClassicPcapReader();
  ClassicPcapReader(const ClassicPcapReader&) = delete;
  ClassicPcapReader& operator=(const ClassicPcapReader&) = delete;

  // The file's link type field (LINKTYPE_ value, FCS bits masked off) and snaplen.
  uint32_t link_type() const { return link_type_; }
  uint32_t snaplen() const { return snaplen_; }

  // Reads the next packet: true with `out` filled (a view valid until the next call), false at
  // the end of the file, or an error for a malformed, truncated or unreadable record (the
  // message names the file).
  absl::StatusOr<bool> Next(PcapPacket& out) {
    if (end_ - pos_ < kRecordHeader) {
      absl::StatusOr<bool> filled = Fill(kRecordHeader, /*header=*/true);
      if (!filled.ok() || !*filled) return filled;
    }
    const uint8_t* h = buf_.get() + pos_;
    const uint32_t caplen = U32(h + 8);
    if (caplen > kMaxCaplen) return TooLong(caplen);
    if (end_ - pos_ < kRecordHeader + caplen) {
      absl::StatusOr<bool> filled = Fill(kRecordHeader + caplen, /*header=*/false);
      if (!filled.ok()) return filled;
      h = buf_.get() + pos_;
    }
    pos_ += kRecordHeader + caplen;
    offset_ += kRecordHeader + caplen;
    // The next record's header and the first bytes of its frame: by the time this packet is
    // parsed and metered they are in L1 (hints only; past the data they are ignored).
    __builtin_prefetch(buf_.get() + pos_);
    __builtin_prefetch(buf_.get() + pos_ + 64);
    Decode(h, caplen, out);
    return true;
  }

  // The batch form of Next, for frames parsed on other threads (flowexport -r --threads N):
  // reads straight into `dst` (`capacity` bytes, at least kMinChunkBytes), after the bytes an
  // earlier call read past its last whole record, and hands every whole record in it to
  // `on_record` as a view into `dst`. The partial record at the end is kept for the next call.
  // Returns the bytes of `dst` the whole records take, 0 at the end of the file. A malformed
  // or truncated record ends the chunk before it; the next call returns Next's error for it.
  // Next and NextChunk may be mixed on one reader.
  static constexpr size_t kMinChunkBytes = 16 + 262144;
  template <typename OnRecord>  // void(const PcapPacket&)
  absl::StatusOr<size_t> NextChunk(uint8_t* dst, size_t capacity, OnRecord&& on_record) {
    if (!deferred_.ok()) return deferred_;
    absl::StatusOr<uint64_t> filled = FillChunk(dst, capacity);
    if (!filled.ok()) return filled.status();
    const uint64_t used = *filled;
    uint64_t at = 0;
    PcapPacket pkt;
    while (used - at >= kRecordHeader) {
      const uint8_t* h = dst + at;
      const uint32_t caplen = U32(h + 8);
      if (caplen > kMaxCaplen || used - at - kRecordHeader < caplen) break;
      Decode(h, caplen, pkt);
      at += kRecordHeader + caplen;
      on_record(pkt);
    }
    return EndChunk(dst, used, at);
  }

  uint64_t offset() const { return offset_; }
  uint64_t size() const { return size_; }

 private:
  static constexpr uint64_t kRecordHeader = 16;
  // libpcap's limit for any link type (MAXIMUM_SNAPLEN): larger lengths mean a corrupt file.
  static constexpr uint32_t kMaxCaplen = 262144;
  static_assert(kMinChunkBytes == kRecordHeader + kMaxCaplen, "the largest record must fit");

  ClassicPcapReader() = default;
  uint32_t U32(const uint8_t* p) const {
    uint32_t v;
    __builtin_memcpy(&v, p, 4);
    return swap_ ? __builtin_bswap32(v) : v;
  }
  // The packet of the record whose header is at `h` (its frame follows the header).
  void Decode(const uint8_t* h, uint32_t caplen, PcapPacket& out) const {
    const uint32_t sec = U32(h);
    const uint32_t frac = U32(h + 4);
    const uint32_t len = U32(h + 12);
    out.data = h + kRecordHeader;
    if (caplen > snaplen_) caplen = snaplen_;
    out.caplen = caplen;
    out.wire_len = len < caplen ? caplen : len;
    out.time_us = TimeUs{sec} * 1000000 + (nanoseconds_ ? frac / 1000 : frac);
  }
  absl::Status Truncated(uint64_t wanted, uint64_t got, bool header) const;
  // NextChunk's two halves around its walk: FillChunk moves the kept bytes to `dst` and reads
  // after them until `capacity` or the end of the file, returning the bytes in `dst`; EndChunk,
  // given that the walk took `at` bytes of whole records, keeps the partial record after them
  // (or remembers why there is none) and returns NextChunk's result.
  absl::StatusOr<uint64_t> FillChunk(uint8_t* dst, size_t capacity);
  // Reads into dst[have, room) until `have` reaches `until` or the file ends (eof_), counting
  // what it read in `have`: Fill's and FillChunk's reads.
  absl::Status ReadUntil(uint8_t* dst, uint64_t& have, uint64_t until, uint64_t room);
  absl::StatusOr<size_t> EndChunk(const uint8_t* dst, uint64_t used, uint64_t at);
  absl::Status TooLong(uint32_t caplen) const;

  // Moves the unread bytes to the front and reads until `need` bytes are buffered: true when
  // they are, false at a clean end of file (header, nothing left), an error when the file ends
  // inside a record.
  absl::StatusOr<bool> Fill(uint64_t need, bool header);

  std::string path_;
  int fd_ = -1;
  std::unique_ptr<uint8_t[]> buf_;
  uint64_t pos_ = 0;  // next record in buf_
  uint64_t end_ = 0;  // bytes in buf_
  uint64_t size_ = 0;
  uint64_t offset_ = 0;
  bool eof_ = false;
  absl::Status deferred_;  // NextChunk: the error of the record that ended the last chunk
  bool swap_ = false;
  bool nanoseconds_ = false;
  uint32_t link_type_ = 0;
  uint32_t snaplen_ = 0;
};

}  // namespace nf

#endif  // NF_CAPTURE_CLASSIC_PCAP_READER_H_
