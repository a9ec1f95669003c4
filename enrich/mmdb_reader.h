// MaxMind-format databases (GeoLite2-ASN, GeoLite2-Country/City, DB-IP's compatible files),
// read with libmaxminddb from a memory map. Lookups are const and thread-safe; a lookup that
// meets a corrupt data section or search tree is counted and answers "not found", never
// crashes. The file stays mapped while any snapshot uses it, so replace a database by
// renaming a new file over it (as geoipupdate does), never by rewriting it in place.
#ifndef NF_ENRICH_MMDB_READER_H_
#define NF_ENRICH_MMDB_READER_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/ip_address.h"

namespace nf {

// A two-letter ISO 3166 code, or {0, 0} when unknown.
using CountryCode = std::array<char, 2>;

class MmdbReader {
 public:
  // Opens and checks the file: its metadata must parse and its search tree must be readable.
  // Errors name the file and say what is wrong with it. Any database type is accepted here;
  // EnrichmentData::Load checks that each option got the kind it needs.
  static absl::StatusOr<std::unique_ptr<MmdbReader>> Open(const std::string& path);
  ~MmdbReader();

  // autonomous_system_number, or 0 when the address is not in the database.
  uint32_t LookupAsn(const IpAddress& address) const;
  // country.iso_code, or {0, 0}.
  CountryCode LookupCountry(const IpAddress& address) const;

  // Lookups that failed on a corrupt database (libmaxminddb errors), since Open.
  uint64_t lookup_errors() const { return lookup_errors_.load(std::memory_order_relaxed); }
  const std::string& database_type() const { return database_type_; }
  const std::string& path() const { return path_; }

 private:
  MmdbReader() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string path_;
  std::string database_type_;
  mutable std::atomic<uint64_t> lookup_errors_{0};
};

}  // namespace nf

#endif  // NF_ENRICH_MMDB_READER_H_
