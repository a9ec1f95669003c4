// Interface names without SNMP: a CSV of `exporter,ifindex,name[,description[,speed]]` (as
// akvorado's static provider), keyed by exporter address and SNMP ifIndex.
#ifndef NF_ENRICH_INTERFACE_TABLE_H_
#define NF_ENRICH_INTERFACE_TABLE_H_

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/ip_address.h"

namespace nf {

struct InterfaceInfo {
  std::string name;
  std::string description;
  uint64_t speed = 0;  // bits per second as written in the file; 0 when not given
};

class InterfaceTable {
 public:
  // '#' starts a comment line; blank lines are skipped; fields may be double-quoted (RFC 4180).
  // A first line `exporter,ifindex,...` (a spreadsheet's column names) is skipped.
  // An exporter is an IPv4 or IPv6 address. A repeated (exporter, ifindex) is an error naming
  // both lines. Names longer than kMaxNameBytes are an error.
  static absl::StatusOr<InterfaceTable> Load(const std::string& path);
  static absl::StatusOr<InterfaceTable> Parse(absl::string_view name, absl::string_view text);

  // Null when unknown. IPv4-mapped IPv6 exporters match their IPv4 entry.
  const InterfaceInfo* Find(const IpAddress& exporter, uint32_t ifindex) const;
  size_t size() const { return entries_.size(); }

  static constexpr size_t kMaxNameBytes = 64;

 private:
  struct Key {
    IpAddress exporter;
    uint32_t ifindex = 0;
    friend bool operator==(const Key&, const Key&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const Key& k) {
      return H::combine(std::move(h), k.exporter, k.ifindex);
    }
  };
  absl::flat_hash_map<Key, InterfaceInfo> entries_;
};

}  // namespace nf

#endif  // NF_ENRICH_INTERFACE_TABLE_H_
