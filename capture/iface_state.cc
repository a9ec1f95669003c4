#include "capture/iface_state.h"

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <time.h>

#include <cstring>

namespace nf {

IfaceState GetIfaceState(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ) return IfaceState::kGone;
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return IfaceState::kUp;  // cannot tell: assume up, capture errors still count
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  const int rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
  close(fd);
  if (rc != 0) return IfaceState::kGone;
  return (ifr.ifr_flags & IFF_UP) != 0 ? IfaceState::kUp : IfaceState::kDown;
}

absl::string_view IfaceStateName(IfaceState state) {
  switch (state) {
    case IfaceState::kUp:
      return "up";
    case IfaceState::kDown:
      return "down";
    case IfaceState::kGone:
      return "gone";
  }
  return "?";
}

absl::StatusOr<std::unique_ptr<PcapSource>> ReopenWhenUp(const LiveCaptureOptions& options,
                                                         const volatile sig_atomic_t* stop,
                                                         absl::FunctionRef<void()> tick) {
  int polls = 0;
  while (!*stop) {
    if (GetIfaceState(options.interface) == IfaceState::kUp) {
      absl::StatusOr<std::unique_ptr<PcapSource>> src = PcapSource::OpenLive(options);
      if (src.ok() || absl::IsPermissionDenied(src.status())) return src;
      // Up but not ready (a race with the link coming up): try again on the next poll.
    }
    timespec pause{0, 200'000'000};
    nanosleep(&pause, nullptr);  // a signal cuts it short; *stop is checked at once
    if (++polls % 5 == 0) tick();
  }
  return std::unique_ptr<PcapSource>();
}

}  // namespace nf
