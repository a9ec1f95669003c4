// A streaming reader for zstd-compressed classic pcap files (`x.pcap.zst`, as the flow store
// writes with --store-compress), so `flowexport -r` and `flowcollect -r` read them without a
// decompressed copy on disk. libpcap cannot open them; PcapSource asks this reader first.
//
// A file is taken by its content (the zstd frame magic), never its name. It is decompressed in
// fixed-size steps (one input buffer, one output buffer of 1 MiB by default), never whole, and
// packets are handed out as views into the output buffer. Concatenated frames (a writer that
// ends a frame at every flush) and skippable frames are read as one stream. Records are
// validated as ClassicPcapReader validates them, with the same messages; a corrupt or cut-short
// zstd stream is an error naming the file.
//
// Opening reads only the pcap file header (link type, snaplen) and keeps just the file
// descriptor: the decompression context and buffers are allocated at the first Next and freed
// at the end of the file, since PcapSource opens every file of a query up front.
#ifndef NF_CAPTURE_ZSTD_PCAP_READER_H_
#define NF_CAPTURE_ZSTD_PCAP_READER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "capture/classic_pcap_reader.h"

typedef struct ZSTD_DCtx_s ZSTD_DCtx;  // zstd.h's decompression context (== ZSTD_DStream)

namespace nf {

class ZstdPcapReader {
 public:
  struct Options {
    // Compressed bytes read from the file at a time.
    size_t input_buffer_bytes = 128 << 10;
    // Decompressed bytes held at a time. A record larger than this (possible only when it is
    // set below 256 KiB, as tests do to make records straddle refills) grows it to fit.
    size_t output_buffer_bytes = 1 << 20;
  };

  // Returns nullptr (not an error) when `path` is not a regular file starting with a zstd frame
  // magic (28 B5 2F FD), so the caller can try the other readers; missing files included, which
  // libpcap then reports as before. For a zstd file, reads the pcap file header: an error
  // (naming the file) when the file cannot be read, the stream is corrupt, or it does not hold a
  // classic pcap with a standard magic (a compressed pcapng is refused with a message saying so).
  static absl::StatusOr<std::unique_ptr<ZstdPcapReader>> OpenIfZstd(const std::string& path);
  static absl::StatusOr<std::unique_ptr<ZstdPcapReader>> OpenIfZstd(const std::string& path,
                                                                   const Options& options);
  ~ZstdPcapReader();
  ZstdPcapReader(const ZstdPcapReader&) = delete;
  ZstdPcapReader& operator=(const ZstdPcapReader&) = delete;

  // The file's link type field (LINKTYPE_ value, FCS bits masked off) and snaplen.
  uint32_t link_type() const { return link_type_; }
  uint32_t snaplen() const { return snaplen_; }

  // Reads the next packet: true with `out` filled, false at the end of the file, or an error
  // for a malformed or truncated record or zstd stream (the message names the file; later
  // calls return it again). `out.data` is valid until the next call.
  absl::StatusOr<bool> Next(PcapPacket& out) {
    if (end_ - pos_ >= kRecordHeader) {
      const uint8_t* h = out_ + pos_;
      const uint32_t caplen = U32(h + 8);
      if (caplen <= kMaxCaplen && end_ - pos_ - kRecordHeader >= caplen) {
        Take(h, caplen, out);
        return true;
      }
    }
    return NextSlow(out);
  }

  // Compressed bytes of the file consumed so far (for progress displays), and the file size.
  uint64_t offset() const { return consumed_; }
  uint64_t size() const { return size_; }

 private:
  static constexpr size_t kRecordHeader = 16;
  static constexpr size_t kFileHeader = 24;
  // libpcap's limit for any link type (MAXIMUM_SNAPLEN): larger lengths mean a corrupt file.
  static constexpr uint32_t kMaxCaplen = 262144;

  explicit ZstdPcapReader(const Options& options) : options_(options) {}
  uint32_t U32(const uint8_t* p) const {
    uint32_t v;
    __builtin_memcpy(&v, p, 4);
    return swap_ ? __builtin_bswap32(v) : v;
  }
  void Take(const uint8_t* h, uint32_t caplen, PcapPacket& out) {
    const uint32_t sec = U32(h);
    const uint32_t frac = U32(h + 4);
    const uint32_t len = U32(h + 12);
    out.data = h + kRecordHeader;
    pos_ += kRecordHeader + caplen;
    if (caplen > snaplen_) caplen = snaplen_;
    out.caplen = caplen;
    out.wire_len = len < caplen ? caplen : len;
    out.time_us = TimeUs{sec} * 1000000 + (nanoseconds_ ? frac / 1000 : frac);
  }
  absl::StatusOr<bool> NextSlow(PcapPacket& out);
  // Allocates a context and buffers of these sizes and rewinds to the start of the file.
  absl::Status Begin(size_t input_bytes, size_t output_bytes);
  // Begin with the configured sizes, then decompresses past the file header.
  absl::Status Start();
  // Frees the context and buffers.
  void Release();
  // Moves the unread bytes to the front of the output buffer and decompresses until at least
  // `want` unread bytes are there or the stream ends. An error for a corrupt or cut-short stream.
  absl::Status Fill(size_t want);
  // Release, and closes the file (end of file or error).
  void Finish();
  absl::Status Fail(absl::Status status);

  Options options_;
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
  uint64_t read_ = 0;      // compressed bytes read from the file
  uint64_t consumed_ = 0;  // of those, bytes the decompressor has taken
  bool started_ = false;
  bool finished_ = false;
  absl::Status error_;     // sticky: returned by every call after a failure

  ZSTD_DCtx* dctx_ = nullptr;
  std::unique_ptr<uint8_t[]> in_;
  size_t in_cap_ = 0;
  size_t in_pos_ = 0;
  size_t in_size_ = 0;
  bool eof_ = false;          // read() returned 0
  bool frame_open_ = false;   // the decompressor is inside a frame (its last call returned > 0)
  uint8_t* out_ = nullptr;    // owned (out_buf_); raw for the inline fast path
  std::unique_ptr<uint8_t[]> out_buf_;
  size_t out_cap_ = 0;
  size_t pos_ = 0;  // next unread byte in out_
  size_t end_ = 0;  // end of decompressed bytes in out_

  bool swap_ = false;
  bool nanoseconds_ = false;
  uint32_t link_type_ = 0;
  uint32_t snaplen_ = 0;
};

}  // namespace nf

#endif  // NF_CAPTURE_ZSTD_PCAP_READER_H_
