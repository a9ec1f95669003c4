#include "collector/output/fanout/record_enricher.h"

#include <cstdint>

namespace nf {
namespace {

// One address's AS, mask and country. `as`/`mask`/`country` are the record's fields.
void EnrichAddress(const EnrichmentData& data, bool override_exporter, const IpAddress& address,
                   uint32_t& as, uint8_t& mask, std::array<char, 2>& country) {
  if (address.version == 0) return;
  const bool routing = data.has_routes() || data.has_asn_db();
  // Skip the lookup when everything it could give would be thrown away: the exporter's values
  // are kept (no override), and without --geo-db there is no country to add.
  const bool want_routing =
      routing && (override_exporter || as == 0 || (data.has_routes() && mask == 0));
  const bool want_country = data.has_geo_db() && (override_exporter || country[0] == 0);
  if (!want_routing && !want_country) return;
  const AddressInfo info = want_country ? data.Lookup(address) : data.LookupAs(address);
  if (want_routing) {
    if (info.origin_as != 0 && (override_exporter || as == 0)) as = info.origin_as;
    if (info.mask != 0 && (override_exporter || mask == 0)) mask = info.mask;
  }
  if (want_country && info.country[0] != 0) country = info.country;
}

void EnrichInterface(const EnrichmentData& data, bool override_exporter,
                     const IpAddress& exporter, uint32_t ifindex, absl::string_view& name) {
  if (!override_exporter && !name.empty()) return;
  if (const InterfaceInfo* info = data.Interface(exporter, ifindex); info != nullptr) {
    name = info->name;
  }
}

}  // namespace

void EnrichRecord(const EnrichmentData& data, bool override_exporter, DecodedRecord& r) {
  EnrichAddress(data, override_exporter, r.src_addr, r.src_as, r.src_mask, r.src_country);
  EnrichAddress(data, override_exporter, r.dst_addr, r.dst_as, r.dst_mask, r.dst_country);
  if (data.has_interfaces()) {
    EnrichInterface(data, override_exporter, r.exporter.address, r.input_if, r.input_if_name);
    EnrichInterface(data, override_exporter, r.exporter.address, r.output_if, r.output_if_name);
  }
}

}  // namespace nf
