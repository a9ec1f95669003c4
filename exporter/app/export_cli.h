// flowexport's command-line options: every CLI11 option of a capture/export run (help text,
// default, validator, group) bound to an ExportOptions. The binary's main adds them to its app
// next to --version and the --ng-netflow group, parses, and calls Run.
#ifndef NF_EXPORTER_APP_EXPORT_CLI_H_
#define NF_EXPORTER_APP_EXPORT_CLI_H_

#include "CLI/CLI.hpp"
#include "exporter/app/export_runtime.h"

namespace nf {

// Adds the Input, Export, Flows and Output option groups to `app`, writing into `o`.
void AddExportOptions(CLI::App& app, ExportOptions& o);

}  // namespace nf

#endif  // NF_EXPORTER_APP_EXPORT_CLI_H_
