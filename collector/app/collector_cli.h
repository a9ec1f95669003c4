// flowcollect's command line: every option with its help text, default and validator, bound
// to a CollectorOptions. Kept out of the main so tests can parse command lines into options.
#ifndef NF_COLLECTOR_APP_COLLECTOR_CLI_H_
#define NF_COLLECTOR_APP_COLLECTOR_CLI_H_

#include "CLI/CLI.hpp"
#include "collector/app/collector_options.h"

namespace nf {

// Adds every flowcollect option to `app`, writing into `o` (which must outlive the parse).
void AddCollectorOptions(CLI::App& app, CollectorOptions& o);
// After a successful parse: records which options were given explicitly.
void NoteGivenOptions(const CLI::App& app, CollectorOptions& o);

}  // namespace nf

#endif  // NF_COLLECTOR_APP_COLLECTOR_CLI_H_
