#include "collector/decode/announced_interfaces.h"

#include <algorithm>
#include <cstring>

namespace nf {

void AnnouncedInterfaces::Text::Assign(std::span<const uint8_t> text) {
  // Exporters pad fixed-length strings with NULs (RFC 7011 string encoding allows it).
  size_t n = std::min(text.size(), kMaxTextBytes);
  if (n == 0) {
    size = 0;
    return;
  }
  const auto* nul = static_cast<const uint8_t*>(std::memchr(text.data(), 0, n));
  if (nul != nullptr) n = static_cast<size_t>(nul - text.data());
  std::memcpy(bytes.data(), text.data(), n);
  size = static_cast<uint8_t>(n);
}

bool AnnouncedInterfaces::Learn(uint32_t ifindex, std::span<const uint8_t> name,
                           std::span<const uint8_t> description) {
  auto it = entries_.find(ifindex);
  if (it == entries_.end()) {
    if (entries_.size() >= kMaxInterfaces) {
      ++refused_;
      return false;
    }
    it = entries_.try_emplace(ifindex).first;
  }
  if (!name.empty()) it->second.name.Assign(name);
  if (!description.empty()) it->second.description.Assign(description);
  return true;
}

}  // namespace nf
