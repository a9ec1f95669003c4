// Counts global allocations for report_test's "no allocation per record" check. Kept in its own
// translation unit so the compiler does not pair this malloc with the library's delete.
#include <cstddef>
#include <cstdlib>
#include <new>

namespace nf::report {
size_t g_allocations = 0;
}  // namespace nf::report

void* operator new(std::size_t size) {
  ++nf::report::g_allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  std::abort();
}
// Explicit deletes matching the malloc above (the library's defaults do the same).
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
