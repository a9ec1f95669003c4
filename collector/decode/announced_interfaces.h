// Interface names an exporter announces in options data (Cisco IOS XE's interface table:
// scope ifIndex, interfaceName (IE 82), interfaceDescription (IE 83)), kept per exporter so
// its flow records get input_if_name/output_if_name without an --interfaces file.
//
// Records hand their sinks string_views into this table, which must stay valid until the end
// of the datagram (see decoded_record.h). So entries are never erased or moved: a node map
// keeps them in place, a re-announced name is copied over the old one in its fixed buffer, and
// a full table refuses new interfaces (counted) instead of evicting.
#ifndef NF_COLLECTOR_DECODE_ANNOUNCED_INTERFACES_H_
#define NF_COLLECTOR_DECODE_ANNOUNCED_INTERFACES_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "absl/container/node_hash_map.h"
#include "absl/strings/string_view.h"

namespace nf {

class AnnouncedInterfaces {
 public:
  // Longest name or description kept (the CSV's text columns cut at 64 bytes too).
  static constexpr size_t kMaxTextBytes = 64;
  // Interfaces per exporter: a chassis has a few thousand at most.
  static constexpr size_t kMaxInterfaces = 16384;

  // Learns or updates one interface. Either text may be empty (not sent). False when the
  // table is full and `ifindex` is new.
  bool Learn(uint32_t ifindex, std::span<const uint8_t> name, std::span<const uint8_t> description);

  // The announced name, empty when unknown. Valid for the table's lifetime.
  absl::string_view Name(uint32_t ifindex) const {
    auto it = entries_.find(ifindex);
    return it == entries_.end() ? absl::string_view() : it->second.name.view();
  }
  absl::string_view Description(uint32_t ifindex) const {
    auto it = entries_.find(ifindex);
    return it == entries_.end() ? absl::string_view() : it->second.description.view();
  }
  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }
  uint64_t refused() const { return refused_; }

 private:
  struct Text {
    std::array<char, kMaxTextBytes> bytes{};
    uint8_t size = 0;
    absl::string_view view() const { return absl::string_view(bytes.data(), size); }
    void Assign(std::span<const uint8_t> text);
  };
  struct Entry {
    Text name;
    Text description;
  };
  absl::node_hash_map<uint32_t, Entry> entries_;
  uint64_t refused_ = 0;
};

}  // namespace nf

#endif  // NF_COLLECTOR_DECODE_ANNOUNCED_INTERFACES_H_
