// Bounds-checked big-endian writer into a caller-owned buffer.
//
// Encoders (NetFlow v9/v5/IPFIX, test packet builders) write through it. A write that does not
// fit sets the writer's `ok()` to false and writes nothing, so an encoder can build a whole
// record and check once; it never allocates, so it is safe on the export hot path.
#ifndef NF_COMMON_BYTE_WRITER_H_
#define NF_COMMON_BYTE_WRITER_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace nf {

class ByteWriter {
 public:
  explicit ByteWriter(std::span<uint8_t> buffer) : buf_(buffer) {}

  size_t position() const { return pos_; }
  size_t capacity() const { return buf_.size(); }
  size_t remaining() const { return buf_.size() - pos_; }
  // False once any write did not fit.
  bool ok() const { return ok_; }
  std::span<const uint8_t> written() const { return {buf_.data(), pos_}; }
  uint8_t* data() { return buf_.data(); }

  bool PutU8(uint8_t v) { return PutUnsigned(v, 1); }
  bool PutU16(uint16_t v) { return PutUnsigned(v, 2); }
  bool PutU32(uint32_t v) { return PutUnsigned(v, 4); }
  bool PutU64(uint64_t v) { return PutUnsigned(v, 8); }
  // Writes the low `length` bytes (1..8) of `v` big-endian; larger values are truncated, as
  // NetFlow's reduced-size encoding requires the caller to have checked the range.
  bool PutUnsigned(uint64_t v, size_t length) {
    if (length == 0 || length > 8 || !Reserve(length)) return Fail();
    for (size_t i = 0; i < length; ++i) {
      buf_[pos_ + length - 1 - i] = static_cast<uint8_t>(v & 0xff);
      v >>= 8;
    }
    pos_ += length;
    return true;
  }
  bool PutBytes(const void* data, size_t length) {
    if (!Reserve(length)) return Fail();
    if (length != 0) std::memcpy(buf_.data() + pos_, data, length);
    pos_ += length;
    return true;
  }
  bool PutZeros(size_t length) {
    if (!Reserve(length)) return Fail();
    std::memset(buf_.data() + pos_, 0, length);
    pos_ += length;
    return true;
  }
  // Overwrites a 16-bit value already written at `offset` (FlowSet lengths, header counts).
  bool PatchU16(size_t offset, uint16_t v) {
    if (offset + 2 > pos_) return Fail();
    buf_[offset] = static_cast<uint8_t>(v >> 8);
    buf_[offset + 1] = static_cast<uint8_t>(v);
    return true;
  }
  bool PatchU32(size_t offset, uint32_t v) {
    if (offset + 4 > pos_) return Fail();
    for (int i = 0; i < 4; ++i) buf_[offset + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
    return true;
  }
  // Moves the cursor back (drop a partially written record).
  void Truncate(size_t position) {
    if (position <= pos_) pos_ = position;
  }

 private:
  bool Reserve(size_t n) const { return ok_ && remaining() >= n; }
  bool Fail() {
    ok_ = false;
    return false;
  }

  std::span<uint8_t> buf_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace nf

#endif  // NF_COMMON_BYTE_WRITER_H_
