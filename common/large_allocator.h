// An allocator for large tables that grow with the input (-A's groups, their index and their
// text): allocations of 2 MiB and more are anonymous mappings aligned to 2 MiB and advised for
// huge pages, smaller ones come from the heap as usual.
//
// Why: a table of a million groups spans tens of thousands of 4 KiB pages. Each first touch is a
// page fault (several microseconds under virtualisation), and each random lookup into the table
// also misses the TLB. With 2 MiB pages both become rare. Where the kernel gives no huge pages
// the memory works the same.
#ifndef NF_COMMON_LARGE_ALLOCATOR_H_
#define NF_COMMON_LARGE_ALLOCATOR_H_

#include <cstddef>
#include <memory>

namespace nf {

inline constexpr size_t kLargeAllocationBytes = size_t{2} << 20;

// `bytes` of zeroed memory (rounded up to whole 2 MiB pages), 2 MiB aligned and advised for
// huge pages; nullptr when the system has no memory left. Free with FreeLarge(p, bytes).
void* AllocateLarge(size_t bytes);
void FreeLarge(void* p, size_t bytes);
// Ends the process with a message, as a failed operator new would (LargeAllocator's only way
// to report it: standard containers expect an allocator to succeed).
[[noreturn]] void LargeAllocationFailed(size_t bytes);

template <typename T>
class LargeAllocator {
 public:
  using value_type = T;
  LargeAllocator() = default;
  template <typename U>
  LargeAllocator(const LargeAllocator<U>&) noexcept {}  // NOLINT: allocator rebinding

  T* allocate(size_t n) {
    if (n * sizeof(T) < kLargeAllocationBytes) return std::allocator<T>().allocate(n);
    void* p = AllocateLarge(n * sizeof(T));
    if (p == nullptr) LargeAllocationFailed(n * sizeof(T));
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t n) {
    if (n * sizeof(T) < kLargeAllocationBytes) {
      std::allocator<T>().deallocate(p, n);
    } else {
      FreeLarge(p, n * sizeof(T));
    }
  }
  friend bool operator==(const LargeAllocator&, const LargeAllocator&) { return true; }
};

}  // namespace nf

#endif  // NF_COMMON_LARGE_ALLOCATOR_H_
