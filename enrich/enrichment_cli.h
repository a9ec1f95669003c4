// The enrichment options, declared once so both tools spell and document them the same way.
#ifndef NF_ENRICH_ENRICHMENT_CLI_H_
#define NF_ENRICH_ENRICHMENT_CLI_H_

#include "CLI/CLI.hpp"
#include "enrich/enrichment.h"

namespace nf {

// Adds --routes, --asn-db, --geo-db and --interfaces to `app` in an "Enrichment" group.
// flowexport passes for_collector = false: it has no field for countries or interface names,
// so those two options are not offered there.
void AddEnrichmentOptions(CLI::App& app, EnrichmentConfig& config, bool for_collector);

}  // namespace nf

#endif  // NF_ENRICH_ENRICHMENT_CLI_H_
