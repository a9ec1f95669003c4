// The --metrics options, declared once so flowcollect and flowexport spell, check and document
// the Prometheus endpoint the same way (docs/metrics.md).
#ifndef NF_METRICS_METRICS_CLI_H_
#define NF_METRICS_METRICS_CLI_H_

#include <string>

#include "CLI/CLI.hpp"
#include "metrics/metrics_server.h"

namespace nf::metrics {

// How the help texts begin: flowcollect's help is all lower case, flowexport's starts each
// text with a capital.
enum class HelpCase { kLower, kCapitalized };

// Adds --metrics, --metrics-tls-cert, --metrics-tls-key and --metrics-max-connections to `app`
// in `group`, writing into `options` (which must outlive the parse). The TLS pair needs each
// other and --metrics; an empty options.listen after the parse means no endpoint.
void AddMetricsOptions(CLI::App& app, MetricsServerOptions& options, const std::string& group,
                       HelpCase help_case);

}  // namespace nf::metrics

#endif  // NF_METRICS_METRICS_CLI_H_
