// Test helper: a tiny big-endian builder for hand-made export datagrams.
#ifndef NF_TESTS_COLLECTOR_TEST_BYTES_H_
#define NF_TESTS_COLLECTOR_TEST_BYTES_H_

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <vector>

namespace nf::testing {

class Buf {
 public:
  Buf& U8(uint8_t v) { b_.push_back(v); return *this; }
  Buf& U16(uint16_t v) { U8(static_cast<uint8_t>(v >> 8)); return U8(static_cast<uint8_t>(v)); }
  Buf& U32(uint32_t v) { U16(static_cast<uint16_t>(v >> 16)); return U16(static_cast<uint16_t>(v)); }
  Buf& U64(uint64_t v) { U32(static_cast<uint32_t>(v >> 32)); return U32(static_cast<uint32_t>(v)); }
  Buf& Bytes(std::initializer_list<uint8_t> v) { b_.insert(b_.end(), v); return *this; }
  Buf& Append(const Buf& o) { b_.insert(b_.end(), o.b_.begin(), o.b_.end()); return *this; }
  Buf& Pad4() { while (b_.size() % 4 != 0) b_.push_back(0); return *this; }
  size_t size() const { return b_.size(); }
  void Patch16(size_t at, uint16_t v) { b_[at] = static_cast<uint8_t>(v >> 8); b_[at + 1] = static_cast<uint8_t>(v); }
  const std::vector<uint8_t>& bytes() const { return b_; }
  std::vector<uint8_t>& bytes() { return b_; }

 private:
  std::vector<uint8_t> b_;
};

}  // namespace nf::testing

#endif  // NF_TESTS_COLLECTOR_TEST_BYTES_H_
