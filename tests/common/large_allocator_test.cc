// LargeAllocator: small allocations come from the heap, large ones are 2 MiB-aligned mappings,
// and containers keep their contents while growing across the threshold and shrinking back.
#include "common/large_allocator.h"

#include <cstdint>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace nf {
namespace {

bool HugeAligned(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % kLargeAllocationBytes == 0;
}

TEST(LargeAllocatorTest, AVectorGrowsAcrossTheThresholdWithItsContents) {
  std::vector<uint64_t, LargeAllocator<uint64_t>> v;
  bool went_large = false;
  for (uint64_t i = 0; i < 3 * kLargeAllocationBytes / sizeof(uint64_t); ++i) {
    v.push_back(i * 0x9E3779B97F4A7C15ull);
    if (v.capacity() * sizeof(uint64_t) >= kLargeAllocationBytes) {
      went_large = true;
      ASSERT_TRUE(HugeAligned(v.data())) << v.capacity();
    }
  }
  EXPECT_TRUE(went_large);
  for (uint64_t i = 0; i < v.size(); ++i) ASSERT_EQ(v[i], i * 0x9E3779B97F4A7C15ull) << i;
  v.resize(10);
  v.shrink_to_fit();  // back on the heap
  EXPECT_EQ(v[9], 9 * 0x9E3779B97F4A7C15ull);
}

TEST(LargeAllocatorTest, LargeMemoryStartsZeroedAndAStringArenaWorks) {
  LargeAllocator<uint8_t> a;
  const size_t n = kLargeAllocationBytes + 12345;  // not a multiple of the page
  uint8_t* p = a.allocate(n);
  ASSERT_TRUE(HugeAligned(p));
  for (size_t i = 0; i < n; i += 4093) ASSERT_EQ(p[i], 0) << i;
  p[n - 1] = 7;  // the whole range is usable
  a.deallocate(p, n);

  std::basic_string<char, std::char_traits<char>, LargeAllocator<char>> arena;
  const std::string piece = "10.1.2.0/24,443,";
  while (arena.size() < 2 * kLargeAllocationBytes) arena.append(piece);
  EXPECT_TRUE(HugeAligned(arena.data()));
  EXPECT_EQ(arena.substr(arena.size() - piece.size()), piece.c_str());
  EXPECT_EQ(arena.find("443,10.1"), 12u);
}

}  // namespace
}  // namespace nf
