// Test helper: a throw-away clickhouse-server on loopback, with its config, data and logs in a
// temporary directory (never the system service). Several instances can form a cluster
// (`remote_servers` lists every instance as one shard) for the Distributed-table recipe.
#ifndef NF_TESTS_CLICKHOUSE_LOCAL_CLICKHOUSE_H_
#define NF_TESTS_CLICKHOUSE_LOCAL_CLICKHOUSE_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace nf::testing {

// The server binary: clickhouse-server (Debian 12's 18.16 is /usr/sbin/clickhouse-server) or
// the single `clickhouse` binary of current releases. Empty when neither is installed.
std::string FindClickHouseServer();

// A free TCP port on 127.0.0.1 (bound and released).
uint16_t FreeTcpPort();

#define NF_REQUIRE_CLICKHOUSE()                                                              \
  do {                                                                                       \
    if (::nf::testing::FindClickHouseServer().empty())                                       \
      GTEST_SKIP() << "clickhouse-server is not installed (scripts/setup-deps.sh installs it)"; \
  } while (0)

class LocalClickHouse {
 public:
  // `dir` holds config, data and logs. `cluster_tcp_ports` are the native ports of every shard
  // of the cluster "nf_test_cluster" (include this instance's own tcp_port()).
  LocalClickHouse(std::string dir, uint16_t http_port, uint16_t tcp_port,
                  std::vector<uint16_t> cluster_tcp_ports = {});
  ~LocalClickHouse();  // Stop()
  LocalClickHouse(const LocalClickHouse&) = delete;
  LocalClickHouse& operator=(const LocalClickHouse&) = delete;

  // Before Start: also serve HTTPS on `port` with this PEM certificate and key.
  void EnableHttps(uint16_t port, std::string cert_file, std::string key_file);
  // Before Start: the `default` user needs this password (Query sends it in headers).
  void SetPassword(std::string password) { password_ = std::move(password); }

  // Starts the server and waits (bounded) until /ping answers.
  absl::Status Start();
  // SIGTERM and wait (SIGKILL after a bound).
  void Stop();
  // SIGKILL: a crash.
  void Kill();
  bool running() const { return pid_ > 0; }

  uint16_t http_port() const { return http_port_; }
  uint16_t tcp_port() const { return tcp_port_; }
  uint16_t https_port() const { return https_port_; }
  std::string Url(absl::string_view extra_params = "") const;
  // Runs one statement; the response body on HTTP 200, an error with the body otherwise.
  absl::StatusOr<std::string> Query(absl::string_view sql) const;
  // A query whose answer is one unsigned number.
  absl::StatusOr<uint64_t> QueryNumber(absl::string_view sql) const;
  std::string LogTail() const;

 private:
  void WriteConfig() const;
  std::string dir_;
  uint16_t http_port_;
  uint16_t tcp_port_;
  std::vector<uint16_t> cluster_;
  uint16_t https_port_ = 0;
  std::string cert_file_;
  std::string key_file_;
  std::string password_;
  pid_t pid_ = -1;
};

}  // namespace nf::testing

#endif  // NF_TESTS_CLICKHOUSE_LOCAL_CLICKHOUSE_H_
