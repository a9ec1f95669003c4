// One file with one block per platform rather than a file per platform, so that the FreeBSD
// block is compiled by scripts/freebsd-check.sh from a Linux build's compile_commands.json.
#include "common/platform.h"

#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

#if defined(__linux__)
#include <linux/sock_diag.h>
#elif defined(__FreeBSD__)
#include <sys/sysctl.h>
#elif !defined(__FreeBSD__)
#error "flowtools supports Linux and FreeBSD; add this platform's block to common/platform.cc"
#endif

namespace nf {
namespace {

absl::Status SetIntOption(int fd, int level, int name, int value, const char* what) {
  if (::setsockopt(fd, level, name, &value, sizeof(value)) != 0) {
    return absl::InternalError(absl::StrCat("setsockopt(", what, "): ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

// Both kernels take IPV6_DONTFRAG for IPv6; they differ for IPv4.
absl::Status SetDontFragment(int fd, int family) {
  if (family == AF_INET6) return SetIntOption(fd, IPPROTO_IPV6, IPV6_DONTFRAG, 1, "IPV6_DONTFRAG");
#if defined(__linux__)
  return SetIntOption(fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO, "IP_MTU_DISCOVER");
#else
  return SetIntOption(fd, IPPROTO_IP, IP_DONTFRAG, 1, "IP_DONTFRAG");
#endif
}

#if defined(__linux__)

void AdviseHugePages(void* addr, size_t bytes) {
  // Advice only: without transparent huge pages the mapping still works.
  ::madvise(addr, bytes, MADV_HUGEPAGE);
}

bool SocketDropCountAvailable() { return true; }

bool RawIpv6HeaderIncluded() { return true; }

std::optional<uint32_t> SocketDropCount(int fd) {
  uint32_t meminfo[SK_MEMINFO_VARS] = {};
  socklen_t len = sizeof(meminfo);
  if (::getsockopt(fd, SOL_SOCKET, SO_MEMINFO, meminfo, &len) != 0 ||
      len <= SK_MEMINFO_DROPS * sizeof(uint32_t)) {
    return std::nullopt;
  }
  return meminfo[SK_MEMINFO_DROPS];
}

// libpcap sizes its TPACKET ring itself; no sysctl caps it.
std::optional<CaptureBufferLimit> GetCaptureBufferLimit() { return std::nullopt; }

#elif defined(__FreeBSD__)

// The VM system promotes large, aligned anonymous mappings to superpages on its own.
void AdviseHugePages(void*, size_t) {}

// FreeBSD counts receive-buffer overflows only system-wide (netstat -s -p udp: "dropped due
// to full socket buffers"), never per socket.
bool SocketDropCountAvailable() { return false; }

bool RawIpv6HeaderIncluded() { return false; }

std::optional<uint32_t> SocketDropCount(int) { return std::nullopt; }

std::optional<CaptureBufferLimit> GetCaptureBufferLimit() {
  u_int max = 0;
  size_t len = sizeof(max);
  if (::sysctlbyname("net.bpf.maxbufsize", &max, &len, nullptr, 0) != 0) return std::nullopt;
  return CaptureBufferLimit{max, "net.bpf.maxbufsize"};
}

#endif

}  // namespace nf
