#include "exporter/meter/spsc_ring.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace nf {
namespace {

TEST(SpscRingTest, CapacityRoundsUpToPowerOfTwo) {
  EXPECT_EQ(SpscRing<int>(0).capacity(), 2u);
  EXPECT_EQ(SpscRing<int>(3).capacity(), 4u);
  EXPECT_EQ(SpscRing<int>(64).capacity(), 64u);
  EXPECT_EQ(SpscRing<int>(65).capacity(), 128u);
  EXPECT_TRUE(SpscRing<int>(1000).ok());
}

TEST(SpscRingTest, SingleItemsFifoFullAndEmpty) {
  SpscRing<uint32_t> ring(4);
  uint32_t v = 0;
  EXPECT_FALSE(ring.TryPop(v));
  for (uint32_t i = 0; i < 4; ++i) EXPECT_TRUE(ring.TryPush(i));
  EXPECT_FALSE(ring.TryPush(99)) << "a full ring refuses";
  EXPECT_EQ(ring.SizeApprox(), 4u);
  for (uint32_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(ring.TryPop(v));
    EXPECT_EQ(v, i);
  }
  EXPECT_FALSE(ring.TryPop(v));
  EXPECT_TRUE(ring.EmptyApprox());
}

TEST(SpscRingTest, BatchesWrapAroundAndPartiallyFit) {
  SpscRing<uint64_t> ring(8);
  std::array<uint64_t, 16> in{};
  std::array<uint64_t, 16> out{};
  uint64_t next_in = 0;
  uint64_t next_out = 0;
  // Offsets that do not divide the capacity make every batch cross the end of the buffer.
  for (int round = 0; round < 100; ++round) {
    const size_t want = 1 + static_cast<size_t>(round % 11);
    for (size_t i = 0; i < want; ++i) in[i] = next_in + i;
    const size_t pushed = ring.PushBatch(in.data(), want);
    EXPECT_LE(pushed, want);
    EXPECT_LE(ring.SizeApprox(), ring.capacity());
    next_in += pushed;
    const size_t popped = ring.PopBatch(out.data(), 1 + static_cast<size_t>(round % 5));
    for (size_t i = 0; i < popped; ++i) EXPECT_EQ(out[i], next_out + i);
    next_out += popped;
  }
  size_t popped;
  while ((popped = ring.PopBatch(out.data(), out.size())) != 0) {
    for (size_t i = 0; i < popped; ++i) EXPECT_EQ(out[i], next_out + i);
    next_out += popped;
  }
  EXPECT_EQ(next_out, next_in);
  EXPECT_GT(next_in, 100u);
}

// A cache-line item whose fields must arrive intact (no torn copies).
struct Item {
  uint64_t seq;
  uint64_t words[6];
  uint64_t check;
};
static_assert(sizeof(Item) == 64);

Item MakeItem(uint64_t seq) {
  Item it{};
  it.seq = seq;
  uint64_t c = seq * 0x9e3779b97f4a7c15ull;
  for (uint64_t& w : it.words) {
    c ^= c << 13;
    c ^= c >> 7;
    c ^= c << 17;
    w = c;
  }
  it.check = seq ^ it.words[0] ^ it.words[5];
  return it;
}

// Two threads, a small ring (constantly full and empty), varying batch sizes: every item
// arrives once, in order, intact. Bounded by item count; the wall-clock guard only stops a
// hung run from hanging the suite (it fails the test, it never passes it).
TEST(SpscRingTest, TwoThreadStressKeepsOrderAndLosesNothing) {
  constexpr uint64_t kItems = 1'000'000;
  SpscRing<Item> ring(64);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  std::atomic<bool> timed_out{false};

  std::thread producer([&] {
    std::array<Item, 17> batch;
    uint64_t next = 0;
    size_t size = 1;
    while (next < kItems) {
      const size_t n = std::min<uint64_t>(size, kItems - next);
      for (size_t i = 0; i < n; ++i) batch[i] = MakeItem(next + i);
      size_t done = 0;
      while (done < n) {
        const size_t k = ring.PushBatch(batch.data() + done, n - done);
        done += k;
        if (k == 0) {
          if (std::chrono::steady_clock::now() > deadline) {
            timed_out = true;
            return;
          }
          std::this_thread::yield();
        }
      }
      next += n;
      size = size % 17 + 1;
    }
  });

  uint64_t expected = 0;
  uint64_t bad = 0;
  std::array<Item, 23> out;
  size_t want = 1;
  while (expected < kItems && !timed_out) {
    const size_t n = ring.PopBatch(out.data(), want);
    if (n == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        timed_out = true;
        break;
      }
      std::this_thread::yield();
      continue;
    }
    for (size_t i = 0; i < n; ++i) {
      const Item& it = out[i];
      const Item ref = MakeItem(expected);
      if (it.seq != expected || it.check != ref.check || it.words[3] != ref.words[3]) ++bad;
      ++expected;
    }
    want = want % 23 + 1;
  }
  producer.join();
  ASSERT_FALSE(timed_out) << "stress run did not finish within its guard";
  EXPECT_EQ(expected, kItems);
  EXPECT_EQ(bad, 0u);
  Item extra;
  EXPECT_FALSE(ring.TryPop(extra)) << "nothing beyond what was pushed";
}

}  // namespace
}  // namespace nf
