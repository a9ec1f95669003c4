// A bounded single-producer/single-consumer ring for handing trivially copyable items between
// exactly two threads without locks: packets from the capture thread to a flow-table shard, and
// expired FlowRecords from a shard to the export thread (architecture.md section 3, design A).
//
// Why this shape:
// - Capacity is a power of two and the head/tail counters are free-running 64-bit integers,
//   so a slot is `counter & mask` and full/empty need no spare slot or wrap flag.
// - The consumer's counter (head) and the producer's counter (tail) live on separate cache
//   lines, each next to that side's private cached copy of the other side's counter. A side
//   reloads the other's counter (an acquire load that may miss in cache) only when its cached
//   view says the ring is full/empty, so a steady stream costs one cross-core line transfer per
//   batch rather than per item.
// - Only acquire/release ordering: the producer writes the items, then publishes the tail
//   with a release store; the consumer acquires the tail, reads the items, then releases the
//   head so the producer may overwrite those slots.
// - Batch push/pop publish once per batch.
//
// Exactly one thread may call the producer methods and exactly one (other) thread the consumer
// methods; the roles may move between threads only with external synchronisation (e.g. a
// thread join). Nothing here blocks: waiting policy belongs to the caller.
#ifndef NF_EXPORTER_METER_SPSC_RING_H_
#define NF_EXPORTER_METER_SPSC_RING_H_

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>

namespace nf {

// Destructive-interference size for the targets we build on (x86-64, arm64); spelled out
// because std::hardware_destructive_interference_size warns under GCC (-Winterference-size).
inline constexpr size_t kCacheLineBytes = 64;

template <typename T>
class SpscRing {
  static_assert(std::is_trivially_copyable_v<T>, "SpscRing moves items with memcpy semantics");

 public:
  // Capacity is `min_capacity` rounded up to a power of two (at least 2).
  explicit SpscRing(size_t min_capacity) {
    size_t cap = 2;
    while (cap < min_capacity && cap < (size_t{1} << 40)) cap <<= 1;
    mask_ = cap - 1;
    const size_t bytes =
        (cap * sizeof(T) + kCacheLineBytes - 1) / kCacheLineBytes * kCacheLineBytes;
    const size_t align = alignof(T) > kCacheLineBytes ? alignof(T) : kCacheLineBytes;
    // T is trivially copyable, hence an implicit-lifetime type: raw storage is enough.
    slots_ = static_cast<T*>(std::aligned_alloc(align, bytes));
  }
  ~SpscRing() { std::free(slots_); }
  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  // False when the storage could not be allocated (check once after construction).
  bool ok() const { return slots_ != nullptr; }
  size_t capacity() const { return mask_ + 1; }

  // ---- Producer side.
  bool TryPush(const T& item) { return PushBatch(&item, 1) == 1; }

  // Pushes up to `n` items in order; returns how many fit (0 when full).
  size_t PushBatch(const T* items, size_t n) {
    const uint64_t tail = tail_.load(std::memory_order_relaxed);
    size_t free_slots = capacity() - static_cast<size_t>(tail - cached_head_);
    if (free_slots < n) {
      cached_head_ = head_.load(std::memory_order_acquire);
      free_slots = capacity() - static_cast<size_t>(tail - cached_head_);
    }
    const size_t count = std::min(n, free_slots);
    if (count == 0) return 0;
    const size_t start = static_cast<size_t>(tail) & mask_;
    const size_t first = std::min(count, capacity() - start);
    std::memcpy(static_cast<void*>(slots_ + start), items, first * sizeof(T));
    if (count > first) {
      std::memcpy(static_cast<void*>(slots_), items + first, (count - first) * sizeof(T));
    }
    tail_.store(tail + count, std::memory_order_release);
    return count;
  }

  // ---- Consumer side.
  bool TryPop(T& out) { return PopBatch(&out, 1) == 1; }

  // Pops up to `max` items in order into `out`; returns how many (0 when empty).
  size_t PopBatch(T* out, size_t max) {
    const uint64_t head = head_.load(std::memory_order_relaxed);
    size_t avail = static_cast<size_t>(cached_tail_ - head);
    if (avail < max) {
      cached_tail_ = tail_.load(std::memory_order_acquire);
      avail = static_cast<size_t>(cached_tail_ - head);
    }
    const size_t count = std::min(max, avail);
    if (count == 0) return 0;
    const size_t start = static_cast<size_t>(head) & mask_;
    const size_t first = std::min(count, capacity() - start);
    std::memcpy(static_cast<void*>(out), slots_ + start, first * sizeof(T));
    if (count > first) {
      std::memcpy(static_cast<void*>(out + first), slots_, (count - first) * sizeof(T));
    }
    head_.store(head + count, std::memory_order_release);
    return count;
  }

  // ---- Either side: a snapshot that may be stale by the time it returns.
  size_t SizeApprox() const {
    const uint64_t head = head_.load(std::memory_order_acquire);
    const uint64_t tail = tail_.load(std::memory_order_acquire);
    return tail >= head ? static_cast<size_t>(tail - head) : 0;
  }
  bool EmptyApprox() const { return SizeApprox() == 0; }

 private:
  // Consumer line: its counter and its cache of the producer's.
  alignas(kCacheLineBytes) std::atomic<uint64_t> head_{0};
  uint64_t cached_tail_ = 0;
  // Producer line.
  alignas(kCacheLineBytes) std::atomic<uint64_t> tail_{0};
  uint64_t cached_head_ = 0;
  // Read-only after construction.
  alignas(kCacheLineBytes) size_t mask_ = 1;
  T* slots_ = nullptr;
};

}  // namespace nf

#endif  // NF_EXPORTER_METER_SPSC_RING_H_
