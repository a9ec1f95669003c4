#include "tests/clickhouse/local_clickhouse.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "http/client.h"
#include "http/url.h"

namespace nf::testing {
namespace {

bool Executable(const std::string& p) { return access(p.c_str(), X_OK) == 0; }

std::string OnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string all = path ? path : "/usr/bin:/bin";
  all += ":/usr/sbin:/sbin";
  std::stringstream ss(all);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    std::string p = dir + "/" + name;
    if (!dir.empty() && Executable(p)) return p;
  }
  return "";
}

}  // namespace

std::string FindClickHouseServer() {
  if (std::string p = OnPath("clickhouse-server"); !p.empty()) return p;
  return OnPath("clickhouse");
}

uint16_t FreeTcpPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  uint16_t port = 0;
  if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
    socklen_t len = sizeof(a);
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  if (fd >= 0) close(fd);
  return port;
}

LocalClickHouse::LocalClickHouse(std::string dir, uint16_t http_port, uint16_t tcp_port,
                                 std::vector<uint16_t> cluster_tcp_ports)
    : dir_(std::move(dir)),
      http_port_(http_port),
      tcp_port_(tcp_port),
      cluster_(std::move(cluster_tcp_ports)) {}

LocalClickHouse::~LocalClickHouse() { Stop(); }

void LocalClickHouse::WriteConfig() const {
  std::filesystem::create_directories(dir_ + "/data");
  std::filesystem::create_directories(dir_ + "/tmp");
  std::filesystem::create_directories(dir_ + "/log");
  std::ofstream c(dir_ + "/config.xml");
  c << "<?xml version=\"1.0\"?>\n<yandex>\n"
    << "  <logger><level>warning</level><log>" << dir_ << "/log/server.log</log><errorlog>"
    << dir_ << "/log/err.log</errorlog><size>10M</size><count>1</count></logger>\n"
    << "  <listen_host>127.0.0.1</listen_host>\n"
    << "  <http_port>" << http_port_ << "</http_port>\n"
    << "  <tcp_port>" << tcp_port_ << "</tcp_port>\n";
  if (https_port_ != 0) {
    c << "  <https_port>" << https_port_ << "</https_port>\n"
      << "  <openSSL><server><certificateFile>" << cert_file_ << "</certificateFile>"
      << "<privateKeyFile>" << key_file_ << "</privateKeyFile><verificationMode>none"
      << "</verificationMode><disableProtocols>sslv2,sslv3</disableProtocols></server>"
      << "</openSSL>\n";
  }
  c
    << "  <path>" << dir_ << "/data/</path>\n"
    << "  <tmp_path>" << dir_ << "/tmp/</tmp_path>\n"
    << "  <user_files_path>" << dir_ << "/user_files/</user_files_path>\n"
    << "  <format_schema_path>" << dir_ << "/format_schemas/</format_schema_path>\n"
    << "  <users_config>" << dir_ << "/users.xml</users_config>\n"
    << "  <default_profile>default</default_profile>\n"
    << "  <default_database>default</default_database>\n"
    << "  <mark_cache_size>5368709120</mark_cache_size>\n"
    << "  <uncompressed_cache_size>0</uncompressed_cache_size>\n";
  if (!cluster_.empty()) {
    c << "  <remote_servers>\n    <nf_test_cluster>\n";
    for (uint16_t p : cluster_) {
      c << "      <shard><replica><host>127.0.0.1</host><port>" << p
        << "</port></replica></shard>\n";
    }
    c << "    </nf_test_cluster>\n  </remote_servers>\n";
  }
  c << "</yandex>\n";
  std::ofstream u(dir_ + "/users.xml");
  u << "<?xml version=\"1.0\"?>\n<yandex>\n"
    << "  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>\n"
    << "  <users><default><password>" << password_ << "</password><networks><ip>127.0.0.1</ip><ip>::1</ip>"
    << "</networks><profile>default</profile><quota>default</quota></default></users>\n"
    << "  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0"
    << "</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0"
    << "</execution_time></interval></default></quotas>\n</yandex>\n";
}

absl::Status LocalClickHouse::Start() {
  if (pid_ > 0) return absl::OkStatus();
  std::string binary = FindClickHouseServer();
  if (binary.empty()) return absl::NotFoundError("clickhouse-server is not installed");
  WriteConfig();
  std::string config = absl::StrCat("--config-file=", dir_, "/config.xml");
  std::string out = dir_ + "/log/stdout.log";
  bool single_binary = absl::EndsWith(binary, "/clickhouse");
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    if (chdir(dir_.c_str()) != 0) _exit(126);
    if (single_binary) {
      execl(binary.c_str(), binary.c_str(), "server", config.c_str(), static_cast<char*>(nullptr));
    } else {
      execl(binary.c_str(), binary.c_str(), config.c_str(), static_cast<char*>(nullptr));
    }
    _exit(127);
  }
  pid_ = pid;
  // Bounded wait for /ping (a cold start takes well under a second here).
  for (int i = 0; i < 600; ++i) {
    // 18.16 answers /ping to GET only; a query works on every release.
    if (Query("SELECT 1").ok()) return absl::OkStatus();
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::InternalError(absl::StrCat("clickhouse-server exited: ", LogTail()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Kill();
  return absl::DeadlineExceededError(absl::StrCat("clickhouse-server did not answer: ", LogTail()));
}

void LocalClickHouse::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  for (int i = 0; i < 600; ++i) {  // up to 30 s
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Kill();
}

void LocalClickHouse::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string LocalClickHouse::Url(absl::string_view extra_params) const {
  return absl::StrCat("http://127.0.0.1:", http_port_, "/?database=default",
                      extra_params.empty() ? "" : "&", extra_params);
}

void LocalClickHouse::EnableHttps(uint16_t port, std::string cert_file, std::string key_file) {
  https_port_ = port;
  cert_file_ = std::move(cert_file);
  key_file_ = std::move(key_file);
}

absl::StatusOr<std::string> LocalClickHouse::Query(absl::string_view sql) const {
  absl::StatusOr<http::Url> url = http::ParseUrl(Url());
  if (!url.ok()) return url.status();
  http::ClientOptions options;
  options.keep_alive = false;
  auto client = http::Client::Create(*url, options);
  if (!client.ok()) return client.status();
  http::Headers auth;
  if (!password_.empty()) auth = {{"X-ClickHouse-User", "default"}, {"X-ClickHouse-Key", password_}};
  http::Result r = (*client)->Post(absl::StrCat(url->path, "?", url->query), auth, sql);
  if (!r.status.ok()) return r.status;
  if (r.code != 200) return absl::InternalError(absl::StrCat("HTTP ", r.code, ": ", r.body));
  return r.body;
}

absl::StatusOr<uint64_t> LocalClickHouse::QueryNumber(absl::string_view sql) const {
  absl::StatusOr<std::string> body = Query(sql);
  if (!body.ok()) return body.status();
  uint64_t n = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*body), &n)) {
    return absl::InternalError(absl::StrCat("not a number: ", *body));
  }
  return n;
}

std::string LocalClickHouse::LogTail() const {
  std::string all;
  for (const char* f : {"/log/stdout.log", "/log/err.log"}) {
    std::ifstream in(dir_ + f);
    std::stringstream ss;
    ss << in.rdbuf();
    all += ss.str();
  }
  if (all.size() > 2000) all = all.substr(all.size() - 2000);
  return all;
}

}  // namespace nf::testing
