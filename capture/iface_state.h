// State of a capture interface, for flowexport's --on-iface-down: whether it still exists and
// is administratively up, checked without privileges (SIOCGIFFLAGS on a plain UDP socket).
#ifndef NF_CAPTURE_IFACE_STATE_H_
#define NF_CAPTURE_IFACE_STATE_H_

#include <signal.h>

#include <memory>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "capture/pcap_source.h"

namespace nf {

enum class IfaceState { kUp, kDown, kGone };

// kGone: no interface of that name (deleted); kDown: exists but not IFF_UP.
IfaceState GetIfaceState(const std::string& name);
absl::string_view IfaceStateName(IfaceState state);

// --on-iface-down wait: polls (5 times a second) until `options.interface` exists and is up,
// calling `tick` about once a second meanwhile (so flows still expire and partial datagrams
// go out), then opens a new live capture on it. Returns nullptr when `*stop` became set first;
// an error when the interface is back but cannot be captured on for a reason waiting will not
// fix (no permission: the process dropped privileges with -u and has no CAP_NET_RAW).
absl::StatusOr<std::unique_ptr<PcapSource>> ReopenWhenUp(const LiveCaptureOptions& options,
                                                         const volatile sig_atomic_t* stop,
                                                         absl::FunctionRef<void()> tick);

}  // namespace nf

#endif  // NF_CAPTURE_IFACE_STATE_H_
