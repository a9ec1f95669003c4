// Routes as the enrichment module keeps them: a prefix, its length and the origin AS chosen
// for it. Every routing source (MRT RIB dumps, networks files) reduces to a list of these,
// which PrefixTable turns into a longest-prefix-match structure.
#ifndef NF_ENRICH_ROUTE_H_
#define NF_ENRICH_ROUTE_H_

#include <cstdint>

#include "common/ip_address.h"

namespace nf {

struct Route {
  IpAddress prefix;  // bits past `length` are zero
  uint8_t length = 0;  // 0..32 (IPv4) or 0..128 (IPv6)
  uint32_t origin_as = 0;  // 0 when the route has no origin AS (local route, AS 0)
  friend bool operator==(const Route&, const Route&) = default;
};

}  // namespace nf

#endif  // NF_ENRICH_ROUTE_H_
