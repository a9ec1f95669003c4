#include "enrich/enrichment_cli.h"

#include <string>

namespace nf {

void AddEnrichmentOptions(CLI::App& app, EnrichmentConfig& config, bool for_collector) {
  const std::string group = "Enrichment";
  // CLI11 appends a validator's description to the type name ("FILE:FILE"); the type name
  // already says it is a file.
  CLI::Validator existing_file = CLI::ExistingFile;
  existing_file.description("");
  app.add_option("--routes", config.routes,
                 "origin AS and prefix length by longest-prefix match from an MRT RIB dump or a "
                 "networks file (plain, gzip or bzip2); repeatable; SIGHUP reloads")
      ->check(existing_file)
      ->type_name("FILE")
      ->group(group)
      ->allow_extra_args(false);
  app.add_option("--asn-db", config.asn_db,
                 "AS numbers from a MaxMind-format ASN database (GeoLite2-ASN, DB-IP ASN) for "
                 "addresses no route covers; SIGHUP reloads")
      ->check(existing_file)
      ->type_name("FILE")
      ->group(group);
  if (!for_collector) return;
  app.add_option("--geo-db", config.geo_db,
                 "countries from a MaxMind-format Country or City database (GeoLite2, DB-IP); "
                 "SIGHUP reloads")
      ->check(existing_file)
      ->type_name("FILE")
      ->group(group);
  app.add_option("--interfaces", config.interfaces,
                 "interface names from a CSV of exporter,ifindex,name[,description[,speed]]; "
                 "SIGHUP reloads")
      ->check(existing_file)
      ->type_name("FILE")
      ->group(group);
}

}  // namespace nf
