#include "enrich/enrichment.h"

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "enrich/routes_file.h"

namespace nf {

namespace {

// 112988 -> "112,988", as the summary line is read by people.
std::string WithCommas(uint64_t n) {
  std::string digits = absl::StrCat(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

// The option a database was given to, and whether its type fits it. Both vendors put the kind
// in database_type ("GeoLite2-ASN", "DBIP-ASN-Lite (compat=GeoLite2-ASN)", "GeoLite2-City",
// "DBIP-Country-Lite"); a swapped pair of files would otherwise silently enrich nothing.
absl::StatusOr<std::unique_ptr<MmdbReader>> OpenDatabase(const std::string& path,
                                                         absl::string_view option,
                                                         std::vector<absl::string_view> kinds) {
  NF_ASSIGN_OR_RETURN(std::unique_ptr<MmdbReader> reader, MmdbReader::Open(path));
  const std::string type = absl::AsciiStrToLower(reader->database_type());
  for (absl::string_view kind : kinds) {
    if (absl::StrContains(type, absl::AsciiStrToLower(kind))) return reader;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      path, ": ", option, " needs a database whose type contains \"",
      absl::StrJoin(kinds, "\" or \""), "\", but this one's type is \"",
      reader->database_type(), "\""));
}

}  // namespace

absl::StatusOr<std::shared_ptr<const EnrichmentData>> EnrichmentData::Load(
    const EnrichmentConfig& config) {
  auto data = std::make_shared<EnrichmentData>();
  if (!config.routes.empty()) {
    RoutesBuilder builder;
    for (const std::string& path : config.routes) NF_RETURN_IF_ERROR(builder.AddFile(path));
    const std::vector<Route> routes = builder.Finish();
    NF_ASSIGN_OR_RETURN(data->routes_, PrefixTable::Build(routes));
    data->has_routes_ = true;
  }
  if (!config.asn_db.empty()) {
    NF_ASSIGN_OR_RETURN(data->asn_db_, OpenDatabase(config.asn_db, "--asn-db", {"ASN"}));
  }
  if (!config.geo_db.empty()) {
    NF_ASSIGN_OR_RETURN(data->geo_db_,
                        OpenDatabase(config.geo_db, "--geo-db", {"Country", "City"}));
  }
  if (!config.interfaces.empty()) {
    NF_ASSIGN_OR_RETURN(data->interfaces_, InterfaceTable::Load(config.interfaces));
  }
  return std::shared_ptr<const EnrichmentData>(std::move(data));
}

AddressInfo EnrichmentData::LookupAs(const IpAddress& address) const {
  AddressInfo info;
  if (has_routes_) {
    const PrefixMatch match = routes_.Lookup(address);
    if (match.found) {
      info.origin_as = match.origin_as;
      info.mask = match.length;
    }
  }
  // A route without an origin (local, AS 0) still gives its length; the database may know
  // who holds the address.
  if (info.origin_as == 0 && asn_db_ != nullptr) info.origin_as = asn_db_->LookupAsn(address);
  return info;
}

AddressInfo EnrichmentData::Lookup(const IpAddress& address) const {
  AddressInfo info = LookupAs(address);
  if (geo_db_ != nullptr) info.country = geo_db_->LookupCountry(address);
  return info;
}

std::string EnrichmentData::Summary() const {
  std::vector<std::string> parts;
  if (has_routes_) {
    const double mib = static_cast<double>(routes_.MemoryBytes()) / (1024.0 * 1024.0);
    parts.push_back(absl::StrFormat("routes: %s IPv4 + %s IPv6 prefixes (%.1f MiB)",
                                    WithCommas(routes_.ipv4_prefixes()),
                                    WithCommas(routes_.ipv6_prefixes()), mib));
  }
  if (asn_db_ != nullptr) {
    parts.push_back(absl::StrCat("asn-db: ", asn_db_->path(), " (", asn_db_->database_type(), ")"));
  }
  if (geo_db_ != nullptr) {
    parts.push_back(absl::StrCat("geo-db: ", geo_db_->path(), " (", geo_db_->database_type(), ")"));
  }
  if (interfaces_.size() != 0) {
    parts.push_back(absl::StrCat("interfaces: ", WithCommas(interfaces_.size())));
  }
  if (parts.empty()) return "no enrichment sources";
  return absl::StrJoin(parts, "; ");
}

uint64_t EnrichmentData::lookup_errors() const {
  uint64_t n = 0;
  if (asn_db_ != nullptr) n += asn_db_->lookup_errors();
  if (geo_db_ != nullptr) n += geo_db_->lookup_errors();
  return n;
}

Enrichment::Enrichment(EnrichmentConfig config) : config_(std::move(config)) {}

absl::StatusOr<std::unique_ptr<Enrichment>> Enrichment::Create(const EnrichmentConfig& config) {
  NF_ASSIGN_OR_RETURN(std::shared_ptr<const EnrichmentData> data, EnrichmentData::Load(config));
  std::unique_ptr<Enrichment> enrichment(new Enrichment(config));
  enrichment->current_ = std::move(data);
  enrichment->generation_.store(1, std::memory_order_release);
  enrichment->reload_thread_ = std::thread([e = enrichment.get()] { e->ReloadLoop(); });
  return enrichment;
}

Enrichment::~Enrichment() {
  {
    std::lock_guard<std::mutex> lock(reload_mu_);
    stopping_ = true;
  }
  reload_cv_.notify_all();
  if (reload_thread_.joinable()) reload_thread_.join();
}

void Enrichment::RequestReload() {
  {
    std::lock_guard<std::mutex> lock(reload_mu_);
    reload_requested_ = true;
  }
  reload_cv_.notify_one();
}

void Enrichment::ReloadLoop() {
  std::unique_lock<std::mutex> lock(reload_mu_);
  while (true) {
    reload_cv_.wait(lock, [this] { return reload_requested_ || stopping_; });
    if (stopping_) return;
    // Several SIGHUPs during one load make one more load, not one each.
    reload_requested_ = false;
    lock.unlock();
    (void)ReloadNow();  // logs and counts its own outcome
    lock.lock();
  }
}

absl::Status Enrichment::ReloadNow() {
  std::lock_guard<std::mutex> load_lock(load_mu_);
  absl::StatusOr<std::shared_ptr<const EnrichmentData>> loaded = EnrichmentData::Load(config_);
  if (!loaded.ok()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++reload_failures_;
    }
    std::fprintf(stderr, "enrichment: reload failed, keeping the previous data: %s\n",
                 std::string(loaded.status().message()).c_str());
    return loaded.status();
  }
  const std::string summary = (*loaded)->Summary();
  std::shared_ptr<const EnrichmentData> previous;
  uint64_t generation = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    previous = std::move(current_);
    current_ = *std::move(loaded);
    ++reloads_;
    generation = generation_.load(std::memory_order_relaxed) + 1;
    // Published after current_ so a view that sees the new generation finds the new data.
    generation_.store(generation, std::memory_order_release);
  }
  std::fprintf(stderr, "enrichment: reloaded (generation %llu): %s\n",
               static_cast<unsigned long long>(generation), summary.c_str());
  // `previous` is freed here, outside mu_, or later by the last view holding it.
  return absl::OkStatus();
}

std::shared_ptr<const EnrichmentData> Enrichment::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

EnrichmentStats Enrichment::stats() const {
  EnrichmentStats s;
  std::shared_ptr<const EnrichmentData> data;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s.reloads = reloads_;
    s.reload_failures = reload_failures_;
    s.generation = generation_.load(std::memory_order_relaxed);
    data = current_;
  }
  if (data != nullptr) s.lookup_errors = data->lookup_errors();
  return s;
}

}  // namespace nf
