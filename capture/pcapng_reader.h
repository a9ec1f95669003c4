// A small pcapng reader for files libpcap refuses.
//
// libpcap 1.10 stops reading a pcapng file at the first interface whose link type or snaplen
// differs from the first interface's ("an interface has a type 113 different from the type of
// the first interface"), yet such multi-interface captures are common (Wireshark "any"
// captures, merged files). This reader handles every interface independently: section header,
// interface description (link type, snaplen, if_tsresol, if_tsoffset), enhanced, simple and
// obsolete packet blocks, several sections, both byte orders; other blocks are skipped. It
// reuses one buffer, so reading allocates only when a block is larger than any before.
#ifndef NF_CAPTURE_PCAPNG_READER_H_
#define NF_CAPTURE_PCAPNG_READER_H_

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/time_format.h"

namespace nf {

struct PcapngPacket {
  const uint8_t* data = nullptr;  // valid until the next call to Next
  uint32_t caplen = 0;
  uint32_t wire_len = 0;
  TimeUs time_us = 0;
  uint32_t interface = 0;  // index within the current section
  int dlt = 0;             // link type of that interface
  uint32_t snaplen = 0;
};

class PcapngReader {
 public:
  // True when the file starts with a pcapng section header block.
  static bool IsPcapng(const std::string& path);
  static absl::StatusOr<std::unique_ptr<PcapngReader>> Open(const std::string& path);
  ~PcapngReader();
  PcapngReader(const PcapngReader&) = delete;
  PcapngReader& operator=(const PcapngReader&) = delete;

  // Reads the next packet. Returns false at the end of the file; an error for a malformed or
  // truncated file (the message names the file and the offset).
  absl::StatusOr<bool> Next(PcapngPacket& out);
  // Bytes of the file consumed so far (for progress displays).
  uint64_t offset() const { return offset_; }

 private:
  struct Interface {
    int dlt = 0;
    uint32_t snaplen = 0;
    bool binary_resolution = false;  // if_tsresol high bit: 2^-n instead of 10^-n
    uint8_t resolution = 6;
    int64_t offset_s = 0;
  };
  PcapngReader() = default;
  uint16_t U16(const uint8_t* p) const;
  uint32_t U32(const uint8_t* p) const;
  TimeUs ToMicros(const Interface& itf, uint64_t ts) const;
  absl::Status ParseInterface(const uint8_t* body, size_t len);

  std::string path_;
  FILE* file_ = nullptr;
  // stdio's buffer for file_ (glibc ignores a size given without a buffer); closed before
  // it is freed.
  std::unique_ptr<char[]> stdio_buffer_;
  bool swap_ = false;
  bool in_section_ = false;
  uint64_t offset_ = 0;
  std::vector<uint8_t> buf_;
  std::vector<Interface> interfaces_;
};

}  // namespace nf

#endif  // NF_CAPTURE_PCAPNG_READER_H_
