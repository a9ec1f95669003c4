// Enrichment: what flow records lack and operators already have data for. Origin AS and
// prefix length from routing tables, AS numbers and countries from MaxMind-format databases,
// interface names from a CSV. Both tools use it: flowexport fills SRC_AS/DST_AS and
// SRC_MASK/DST_MASK of every flow it exports, flowcollect fills the same columns (and
// countries, interface names) of every record it decodes.
//
// EnrichmentData is one immutable snapshot of every source. Enrichment owns the current
// snapshot and replaces it on reload (SIGHUP): a new snapshot is built off the packet and
// record paths, on a thread of its own, and swapped in atomically; readers keep the one they
// hold until they next refresh, so they never wait for a load. A reload that fails keeps the
// old snapshot, counts the failure and logs an error that names the file (and line).
#ifndef NF_ENRICH_ENRICHMENT_H_
#define NF_ENRICH_ENRICHMENT_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/ip_address.h"
#include "enrich/interface_table.h"
#include "enrich/mmdb_reader.h"
#include "enrich/prefix_table.h"

namespace nf {

// The sources, as given on the command line (the same options on both tools).
struct EnrichmentConfig {
  std::vector<std::string> routes;  // --routes, repeatable, in order
  std::string asn_db;               // --asn-db FILE.mmdb
  std::string geo_db;               // --geo-db FILE.mmdb
  std::string interfaces;           // --interfaces FILE.csv
  bool any() const {
    return !routes.empty() || !asn_db.empty() || !geo_db.empty() || !interfaces.empty();
  }
};

// What one address resolves to.
struct AddressInfo {
  uint32_t origin_as = 0;  // routes first; the ASN database when no route matched
  uint8_t mask = 0;        // prefix length of the matching route, 0 when none
  CountryCode country{};   // {0, 0} when unknown or without --geo-db
};

class EnrichmentData {
 public:
  // Loads every source of `config`. The error names the file (and line, or byte offset).
  // Each MaxMind file must be of the kind its option asks for, judged by its metadata's
  // database_type (case-insensitive): --asn-db needs "ASN" in it (GeoLite2-ASN, DBIP-ASN-Lite),
  // --geo-db "Country" or "City" (GeoLite2-Country, GeoLite2-City, DBIP-Country-Lite); any
  // other file is an error naming the file and its type.
  static absl::StatusOr<std::shared_ptr<const EnrichmentData>> Load(const EnrichmentConfig& config);

  AddressInfo Lookup(const IpAddress& address) const;
  // Only the routing part (what flowexport needs): no MaxMind country lookup.
  AddressInfo LookupAs(const IpAddress& address) const;
  const InterfaceInfo* Interface(const IpAddress& exporter, uint32_t ifindex) const {
    return interfaces_.Find(exporter, ifindex);
  }

  bool has_routes() const { return has_routes_; }
  bool has_asn_db() const { return asn_db_ != nullptr; }
  bool has_geo_db() const { return geo_db_ != nullptr; }
  bool has_interfaces() const { return interfaces_.size() != 0; }
  const PrefixTable& routes() const { return routes_; }
  // A one-line description for logs: "routes: 112,988 IPv4 + 0 IPv6 prefixes (64.3 MiB); ...".
  std::string Summary() const;
  // MaxMind lookups that met a corrupt database, summed over both databases.
  uint64_t lookup_errors() const;

 private:
  PrefixTable routes_;
  bool has_routes_ = false;
  std::unique_ptr<MmdbReader> asn_db_;
  std::unique_ptr<MmdbReader> geo_db_;
  InterfaceTable interfaces_;
};

struct EnrichmentStats {
  uint64_t reloads = 0;          // successful reloads (the first load not counted)
  uint64_t reload_failures = 0;  // reloads that kept the old data
  uint64_t generation = 0;       // 1 after the first load, +1 per successful reload
  uint64_t lookup_errors = 0;    // of the current snapshot's MaxMind databases
};

class Enrichment {
 public:
  // Loads every source once (a failure here is the caller's clear error and exit) and starts
  // the reload thread. A missing file is NotFound and a database of the wrong type for its
  // option InvalidArgument (usage mistakes, exit 2); a file that does not parse is DataLoss,
  // as a corrupt capture is (a failed run, exit 1).
  static absl::StatusOr<std::unique_ptr<Enrichment>> Create(const EnrichmentConfig& config);
  ~Enrichment();  // stops the reload thread (a load in progress finishes first)

  // Asks the reload thread to load every source again; returns at once. Not async-signal-safe:
  // call it from a loop that saw a SIGHUP flag, never from the handler.
  void RequestReload();
  // Loads and swaps synchronously (tests, and the reload thread). Returns the load's error,
  // in which case the old snapshot stays.
  absl::Status ReloadNow();

  // The current snapshot. Takes a short lock: per batch or on a generation change, not per
  // record (see EnrichmentView).
  std::shared_ptr<const EnrichmentData> Current() const;
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  EnrichmentStats stats() const;

 private:
  explicit Enrichment(EnrichmentConfig config);
  void ReloadLoop();

  EnrichmentConfig config_;
  mutable std::mutex mu_;  // guards current_ and the stats below
  std::shared_ptr<const EnrichmentData> current_;
  uint64_t reloads_ = 0;
  uint64_t reload_failures_ = 0;
  std::atomic<uint64_t> generation_{0};

  // Serializes loads, so a slower load never swaps in data older than a faster later one.
  // Separate from reload_mu_ so RequestReload never waits for a load in progress.
  std::mutex load_mu_;

  std::mutex reload_mu_;  // guards the two flags below; reload_cv_ waits on it
  std::condition_variable reload_cv_;
  bool reload_requested_ = false;  // guarded by reload_mu_
  bool stopping_ = false;          // guarded by reload_mu_
  std::thread reload_thread_;
};

// One reader's handle (one per worker thread): Get() costs one atomic load while nothing was
// reloaded, and picks up the new snapshot after a reload. The snapshot it returns stays valid
// until the next Get() on this view.
class EnrichmentView {
 public:
  explicit EnrichmentView(const Enrichment* enrichment) : enrichment_(enrichment) {}
  // Null when there is no enrichment.
  const EnrichmentData* Get() {
    if (enrichment_ == nullptr) return nullptr;
    const uint64_t g = enrichment_->generation();
    if (g != generation_) {
      data_ = enrichment_->Current();
      generation_ = g;
    }
    return data_.get();
  }

 private:
  const Enrichment* enrichment_;
  uint64_t generation_ = 0;
  std::shared_ptr<const EnrichmentData> data_;
};

}  // namespace nf

#endif  // NF_ENRICH_ENRICHMENT_H_
