// Fuzz target: the routing-table reader (MRT RIB dumps, networks files, gzip/bzip2 framing).
// Reading must end in routes or an error, never a crash or hang; whatever it accepts must come
// out sorted, unique and masked.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "enrich/route.h"
#include "enrich/routes_file.h"

namespace {

void CheckRoutes(const std::vector<nf::Route>& routes) {
  for (size_t i = 0; i < routes.size(); ++i) {
    const nf::Route& r = routes[i];
    const int bits = r.prefix.version == 4 ? 32 : r.prefix.version == 6 ? 128 : -1;
    if (bits < 0 || r.length > bits) __builtin_trap();
    for (int bit = r.length; bit < 128; ++bit) {
      if (r.prefix.bytes[bit / 8] & (0x80 >> (bit % 8))) __builtin_trap();  // not masked
    }
    if (i == 0) continue;
    const nf::Route& p = routes[i - 1];
    const int c = std::memcmp(p.prefix.bytes.data(), r.prefix.bytes.data(), 16);
    const bool ordered =
        p.prefix.version < r.prefix.version ||
        (p.prefix.version == r.prefix.version && (c < 0 || (c == 0 && p.length < r.length)));
    if (!ordered) __builtin_trap();  // unsorted or a prefix twice
  }
}

void Run(const std::string& bytes) {
  nf::RoutesBuilder builder;
  if (builder.AddBytes("fuzz", bytes).ok()) CheckRoutes(builder.Finish());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  Run(bytes);
  // Detection is by content and a NUL means binary, so most inputs reach one parser only. The
  // same bytes without NULs always reach the networks-file parser.
  if (bytes.find('\0') != std::string::npos) {
    std::string text = bytes;
    for (char& c : text) {
      if (c == '\0') c = '\n';
    }
    Run(text);
  }
  return 0;
}
