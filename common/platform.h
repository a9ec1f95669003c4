// The few operating-system services whose spelling differs between Linux and FreeBSD, so that
// callers stay free of #ifdefs: don't-fragment on a UDP socket, huge-page advice for a large
// mapping, a socket's kernel drop counter, the cap on a capture buffer, and whether a raw IPv6
// socket takes the caller's own header.
//
// Where a platform has no equivalent the functions say so honestly (std::nullopt, or false
// from the *Available() query) instead of pretending a zero; callers then show the value as
// unavailable. None of these is meant for per-packet paths.
#ifndef NF_COMMON_PLATFORM_H_
#define NF_COMMON_PLATFORM_H_

#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/status/status.h"

namespace nf {

// Forbids fragmentation of datagrams sent on UDP socket `fd` of address family `family`
// (AF_INET or AF_INET6): a datagram larger than the path MTU then fails with EMSGSIZE instead
// of leaving in fragments. The error names the socket option that failed.
absl::Status SetDontFragment(int fd, int family);

// Asks the kernel to back [addr, addr + bytes) with huge pages where that takes advice (Linux
// transparent huge pages). Only advice: the mapping works the same without it, and on FreeBSD
// superpages are promoted automatically, so there is nothing to ask.
void AdviseHugePages(void* addr, size_t bytes);

// True when the kernel keeps a per-socket count of datagrams it dropped because the receive
// buffer was full (Linux SO_MEMINFO); FreeBSD has no such counter.
bool SocketDropCountAvailable();

// The kernel's upper bound on a packet capture buffer, where there is one: FreeBSD caps every
// BPF buffer at the net.bpf.maxbufsize sysctl and silently gives less than asked. Linux has
// no such cap for libpcap's ring (std::nullopt).
struct CaptureBufferLimit {
  size_t bytes = 0;
  const char* sysctl = "";  // the knob that raises it
};
std::optional<CaptureBufferLimit> GetCaptureBufferLimit();

// True when an AF_INET6 raw socket of protocol IPPROTO_RAW sends the IPv6 header the caller
// wrote (Linux); FreeBSD's IPv6 raw sockets always build the header themselves (no
// IPV6_HDRINCL), so a copy cannot leave there with another host's IPv6 source address.
bool RawIpv6HeaderIncluded();

// The cumulative number of datagrams the kernel dropped on socket `fd` (wrapping at 2^32), or
// std::nullopt when the platform has no such counter or reading it failed.
std::optional<uint32_t> SocketDropCount(int fd);

}  // namespace nf

#endif  // NF_COMMON_PLATFORM_H_
