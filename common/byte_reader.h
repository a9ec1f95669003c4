// Bounds-checked big-endian reader over a byte span (network byte order).
//
// Used by every wire decoder (packet parser, NetFlow v9/v5/IPFIX decoder). It never throws and
// never reads past the end: a read that does not fit returns false and leaves the cursor where
// it was, so callers turn short input into a counted error instead of undefined behaviour.
#ifndef NF_COMMON_BYTE_READER_H_
#define NF_COMMON_BYTE_READER_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace nf {

class ByteReader {
 public:
  ByteReader() = default;
  explicit ByteReader(std::span<const uint8_t> data) : data_(data) {}
  ByteReader(const uint8_t* data, size_t size) : data_(data, size) {}

  size_t position() const { return pos_; }
  size_t size() const { return data_.size(); }
  size_t remaining() const { return data_.size() - pos_; }
  bool empty() const { return remaining() == 0; }
  // The unread bytes.
  std::span<const uint8_t> rest() const { return data_.subspan(pos_); }
  const uint8_t* current() const { return data_.data() + pos_; }

  bool ReadU8(uint8_t& out) {
    if (remaining() < 1) return false;
    out = data_[pos_++];
    return true;
  }
  bool ReadU16(uint16_t& out) {
    if (remaining() < 2) return false;
    out = static_cast<uint16_t>((data_[pos_] << 8) | data_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  bool ReadU32(uint32_t& out) {
    if (remaining() < 4) return false;
    out = LoadBe32(data_.data() + pos_);
    pos_ += 4;
    return true;
  }
  bool ReadU64(uint64_t& out) {
    if (remaining() < 8) return false;
    out = (static_cast<uint64_t>(LoadBe32(data_.data() + pos_)) << 32) |
          LoadBe32(data_.data() + pos_ + 4);
    pos_ += 8;
    return true;
  }
  // Reads an unsigned big-endian integer of 1..8 bytes (NetFlow allows reduced-size encoding).
  bool ReadUnsigned(size_t length, uint64_t& out) {
    if (length == 0 || length > 8 || remaining() < length) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < length; ++i) v = (v << 8) | data_[pos_ + i];
    pos_ += length;
    out = v;
    return true;
  }
  bool ReadBytes(void* out, size_t length) {
    if (remaining() < length) return false;
    if (length != 0) std::memcpy(out, data_.data() + pos_, length);
    pos_ += length;
    return true;
  }
  // Returns a view of the next `length` bytes and advances past them.
  bool ReadSpan(size_t length, std::span<const uint8_t>& out) {
    if (remaining() < length) return false;
    out = data_.subspan(pos_, length);
    pos_ += length;
    return true;
  }
  bool Skip(size_t length) {
    if (remaining() < length) return false;
    pos_ += length;
    return true;
  }

  static uint16_t LoadBe16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
  static uint32_t LoadBe32(const uint8_t* p) {
    return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
           (static_cast<uint32_t>(p[2]) << 8) | static_cast<uint32_t>(p[3]);
  }

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

}  // namespace nf

#endif  // NF_COMMON_BYTE_READER_H_
