// Fuzz target: the command-line address parsers (HOST:PORT, [V6]:PORT, bare PORT, CIDR).
#include <cstddef>
#include <cstdint>
#include <string>

#include "collector/receive/udp_server.h"
#include "common/ip_address.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto hp = nf::ParseHostPort(text);
  if (hp.ok() && hp->port == 0) __builtin_trap();  // port 0 is never accepted
  (void)nf::ParseHostPort(text, "0.0.0.0");
  auto ip = nf::ParseIpAddress(text);
  if (ip.ok()) {
    // Formatting and re-parsing an address gives the same address.
    auto again = nf::ParseIpAddress(ip->ToString());
    if (!again.ok() || !(*again == *ip)) __builtin_trap();
    for (int bits = -1; bits <= 129; bits += 13) (void)nf::MaskAddress(*ip, bits);
  }
  auto cidr = nf::ParseCidr(text);
  if (cidr.ok() && ip.ok()) (void)nf::Allowed({*cidr}, *ip);
  return 0;
}
