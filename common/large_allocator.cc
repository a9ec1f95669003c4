#include "common/large_allocator.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/platform.h"

namespace nf {
namespace {
size_t RoundUp(size_t bytes) {
  return (bytes + kLargeAllocationBytes - 1) & ~(kLargeAllocationBytes - 1);
}
}  // namespace

void* AllocateLarge(size_t bytes) {
  const size_t size = RoundUp(bytes);
  // Over-map by one huge page and trim, so the kept range starts on a 2 MiB boundary (only
  // aligned 2 MiB ranges can become huge pages).
  const size_t mapped = size + kLargeAllocationBytes;
  void* raw = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kLargeAllocationBytes - 1) & ~(uintptr_t{kLargeAllocationBytes} - 1);
  if (aligned > start) ::munmap(raw, aligned - start);
  const uintptr_t end = start + mapped;
  if (end > aligned + size) ::munmap(reinterpret_cast<void*>(aligned + size), end - (aligned + size));
  void* p = reinterpret_cast<void*>(aligned);
  AdviseHugePages(p, size);
  return p;
}

void FreeLarge(void* p, size_t bytes) { ::munmap(p, RoundUp(bytes)); }

void LargeAllocationFailed(size_t bytes) {
  std::fprintf(stderr, "out of memory: cannot map %zu bytes: %s\n", bytes, std::strerror(errno));
  std::abort();
}

}  // namespace nf
