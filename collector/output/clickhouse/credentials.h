// nf::clickhouse credentials: where the ClickHouse password comes from when it is kept off the
// command line (a file readable by its owner only, or the environment), read once at start.
#ifndef NF_COLLECTOR_OUTPUT_CLICKHOUSE_CREDENTIALS_H_
#define NF_COLLECTOR_OUTPUT_CLICKHOUSE_CREDENTIALS_H_

#include <string>

#include "absl/status/statusor.h"

namespace nf::clickhouse {

inline constexpr char kPasswordEnvironmentVariable[] = "FLOWCOLLECT_CLICKHOUSE_PASSWORD";

// The password in `path`: its first line, without the line end (so `echo secret > FILE` works).
// An empty or unreadable file is an error. `warning` is set when other users may read the
// file, which defeats keeping the password off the command line.
absl::StatusOr<std::string> ReadPasswordFile(const std::string& path, std::string* warning);

// The password from `file` when one is named, else from the environment variable (which is then
// removed from this process's environment), else "". Both at once is an error: which one is
// meant cannot be guessed. `warning` as above.
absl::StatusOr<std::string> LoadPassword(const std::string& file, std::string* warning);

}  // namespace nf::clickhouse

#endif  // NF_COLLECTOR_OUTPUT_CLICKHOUSE_CREDENTIALS_H_
