#include "tests/e2e/e2e_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include "tests/support/test_support.h"

namespace nf::testing {
namespace {

void SleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

int DecodeStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

Child::~Child() {
  if (pid_ > 0 && status_ < 0) {
    ::kill(pid_, SIGKILL);
    int st;
    ::waitpid(pid_, &st, 0);
  }
}

bool Child::Start(const std::vector<std::string>& argv, const std::string& stdout_path,
                  const std::string& stderr_path) {
  if (argv.empty()) return false;
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    const int out = ::open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int in = ::open("/dev/null", O_RDONLY);
    if (out >= 0) ::dup2(out, 1);
    if (err >= 0) ::dup2(err, 2);
    if (in >= 0) ::dup2(in, 0);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  pid_ = pid;
  status_ = -1;
  return true;
}

bool Child::Running() {
  if (pid_ <= 0 || status_ >= 0) return false;
  int st;
  const pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = DecodeStatus(st);
    return false;
  }
  return r == 0;
}

void Child::Signal(int sig) {
  if (Running()) ::kill(pid_, sig);
}

int Child::Wait(int timeout_ms) {
  for (int waited = 0; waited <= timeout_ms; waited += 10) {
    if (!Running()) return status_;
    SleepMs(10);
  }
  return Running() ? -1 : status_;
}

int RunArgv(const std::vector<std::string>& argv, const std::string& stdout_path,
            const std::string& stderr_path, int timeout_ms) {
  Child child;
  if (!child.Start(argv, stdout_path, stderr_path)) return -1;
  return child.Wait(timeout_ms);  // on timeout the destructor kills it
}

std::string JoinArgv(const std::vector<std::string>& argv) {
  std::string s;
  for (const std::string& a : argv) {
    if (!s.empty()) s.push_back(' ');
    s += a.find_first_of(" '\"$") == std::string::npos ? a : "'" + a + "'";
  }
  return s;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// ---------------------------------------------------------------------------------------------
namespace {

class JsonFlattener {
 public:
  JsonFlattener(const std::string& text, FlatJson* out) : s_(text), out_(out) {}
  bool Run(std::string* error) {
    SkipSpace();
    if (!Value("", 0)) {
      if (error) *error = "JSON syntax error near offset " + std::to_string(pos_);
      return false;
    }
    SkipSpace();
    if (pos_ != s_.size()) {
      if (error) *error = "trailing data after JSON at offset " + std::to_string(pos_);
      return false;
    }
    return true;
  }

 private:
  void SkipSpace() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  static std::string Join(const std::string& prefix, const std::string& key) {
    return prefix.empty() ? key : prefix + "." + key;
  }
  bool String(std::string* out) {
    if (pos_ >= s_.size() || s_[pos_] != '"') return false;
    ++pos_;
    while (pos_ < s_.size() && s_[pos_] != '"') {
      char c = s_[pos_++];
      if (c == '\\' && pos_ < s_.size()) {
        char e = s_[pos_++];
        switch (e) {
          case 'n':
            out->push_back('\n');
            break;
          case 't':
            out->push_back('\t');
            break;
          case 'u':
            pos_ += 4;
            out->push_back('?');
            break;  // good enough for keys/messages
          default:
            out->push_back(e);
            break;
        }
      } else {
        out->push_back(c);
      }
    }
    if (pos_ >= s_.size()) return false;
    ++pos_;
    return true;
  }
  bool Value(const std::string& path, int depth) {
    if (depth > 64 || pos_ >= s_.size()) return false;
    const char c = s_[pos_];
    if (c == '{') {
      ++pos_;
      SkipSpace();
      if (pos_ < s_.size() && s_[pos_] == '}') {
        ++pos_;
        return true;
      }
      while (true) {
        SkipSpace();
        std::string key;
        if (!String(&key)) return false;
        SkipSpace();
        if (pos_ >= s_.size() || s_[pos_] != ':') return false;
        ++pos_;
        SkipSpace();
        if (!Value(Join(path, key), depth + 1)) return false;
        SkipSpace();
        if (pos_ < s_.size() && s_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (pos_ < s_.size() && s_[pos_] == '}') {
          ++pos_;
          return true;
        }
        return false;
      }
    }
    if (c == '[') {
      ++pos_;
      SkipSpace();
      if (pos_ < s_.size() && s_[pos_] == ']') {
        ++pos_;
        return true;
      }
      for (size_t index = 0;; ++index) {
        SkipSpace();
        if (!Value(Join(path, std::to_string(index)), depth + 1)) return false;
        SkipSpace();
        if (pos_ < s_.size() && s_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (pos_ < s_.size() && s_[pos_] == ']') {
          ++pos_;
          return true;
        }
        return false;
      }
    }
    if (c == '"') {
      std::string v;
      if (!String(&v)) return false;
      (*out_)[path] = v;
      return true;
    }
    const size_t start = pos_;
    while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) ||
                                s_[pos_] == '-' || s_[pos_] == '+' || s_[pos_] == '.'))
      ++pos_;
    if (pos_ == start) return false;
    (*out_)[path] = s_.substr(start, pos_ - start);
    return true;
  }

  const std::string& s_;
  FlatJson* out_;
  size_t pos_ = 0;
};

}  // namespace

bool ParseFlatJson(const std::string& text, FlatJson* out, std::string* error) {
  out->clear();
  return JsonFlattener(text, out).Run(error);
}

std::optional<uint64_t> JsonU64(const FlatJson& json, const std::string& key) {
  auto it = json.find(key);
  if (it == json.end() || it->second.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(it->second.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || it->second[0] == '-') return std::nullopt;
  return v;
}

uint64_t JsonSumUnder(const FlatJson& json, const std::string& prefix) {
  uint64_t sum = 0;
  const std::string p = prefix + ".";
  for (auto it = json.lower_bound(p); it != json.end() && it->first.compare(0, p.size(), p) == 0;
       ++it) {
    if (auto v = JsonU64(json, it->first)) sum += *v;
  }
  return sum;
}

std::string JsonKeys(const FlatJson& json) {
  std::string s;
  for (const auto& [k, v] : json) s += k + "=" + v + "\n";
  return s;
}

// ---------------------------------------------------------------------------------------------
bool UdpPortInUse(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const int r = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  const int e = errno;
  ::close(fd);
  return r != 0 && e == EADDRINUSE;
}

bool WaitForUdpBound(uint16_t port, int timeout_ms) {
  for (int waited = 0; waited <= timeout_ms; waited += 20) {
    if (UdpPortInUse(port)) return true;
    SleepMs(20);
  }
  return false;
}

namespace {
// Sum of rx_queue over the sockets bound to `port` in /proc/net/udp and /proc/net/udp6; -1 when
// no such socket is listed.
int64_t UdpRxQueue(uint16_t port) {
  int64_t total = -1;
  for (const char* file : {"/proc/net/udp", "/proc/net/udp6"}) {
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream row(line);
      std::string slot, local, remote, state, queues;
      if (!(row >> slot >> local >> remote >> state >> queues)) continue;
      const size_t colon = local.rfind(':');
      if (colon == std::string::npos) continue;
      if (std::strtoul(local.c_str() + colon + 1, nullptr, 16) != port) continue;
      const size_t q = queues.find(':');
      if (q == std::string::npos) continue;
      total = std::max<int64_t>(total, 0) +
              static_cast<int64_t>(std::strtoull(queues.c_str() + q + 1, nullptr, 16));
    }
  }
  return total;
}
}  // namespace

bool WaitForUdpDrained(uint16_t port, int timeout_ms) {
  int empty_in_a_row = 0;
  for (int waited = 0; waited <= timeout_ms; waited += 20) {
    const int64_t q = UdpRxQueue(port);
    // Two empty readings 20 ms apart: the receiver has dequeued everything and had time to
    // process the last datagram it took.
    empty_in_a_row = q <= 0 ? empty_in_a_row + 1 : 0;
    if (empty_in_a_row >= 3) return true;
    SleepMs(20);
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
UdpSink::~UdpSink() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) ::close(fd_);
}

bool UdpSink::Open(std::string* error, bool ipv6) {
  fd_ = ::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
  if (fd_ < 0) {
    if (error) *error = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  // A large buffer, so a file-speed exporter does not overrun us; FORCE works as root.
  int size = 32 << 20;
  if (::setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0)
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  sockaddr_storage storage;
  socklen_t len = LoopbackAddress(0, ipv6, storage);  // port 0: any free one
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&storage), len) != 0) {
    if (error) *error = std::string("bind: ") + std::strerror(errno);
    return false;
  }
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&storage), &len);
  port_ = ntohs(ipv6 ? reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port
                     : reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
  thread_ = std::thread([this] { Loop(); });
  return true;
}

void UdpSink::Loop() {
  std::vector<uint8_t> buf(65536);
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    // Drain everything queued before polling again.
    while (true) {
      const ssize_t n = ::recv(fd_, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n < 0) break;
      datagrams_.emplace_back(buf.begin(), buf.begin() + n);
    }
  }
}

std::vector<std::vector<uint8_t>> UdpSink::Finish() {
  WaitForUdpDrained(port_, 10000);
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  return std::move(datagrams_);
}

// ---------------------------------------------------------------------------------------------
bool WriteDatagramPcap(const std::string& path, const std::vector<std::vector<uint8_t>>& datagrams,
                       uint16_t src_port, uint16_t dst_port, std::string* error) {
  std::ofstream out(path, std::ios::binary);
  if (!out) {
    if (error) *error = "cannot write " + path;
    return false;
  }
  auto le32 = [&](uint32_t v) {
    const char b[4] = {static_cast<char>(v), static_cast<char>(v >> 8), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 24)};
    out.write(b, 4);
  };
  auto le16 = [&](uint16_t v) {
    const char b[2] = {static_cast<char>(v), static_cast<char>(v >> 8)};
    out.write(b, 2);
  };
  le32(0xa1b2c3d4);
  le16(2);
  le16(4);
  le32(0);
  le32(0);
  le32(262144);
  le32(1);  // Ethernet
  uint32_t seconds = 1704110400;
  uint32_t micros = 0;
  uint16_t ip_id = 0;
  for (const auto& d : datagrams) {
    const uint32_t udp_len = static_cast<uint32_t>(d.size() + 8);
    const uint32_t ip_len = udp_len + 20;
    uint8_t h[42] = {0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0x08, 0x00};
    uint8_t* ip = h + 14;
    ip[0] = 0x45;
    ip[2] = static_cast<uint8_t>(ip_len >> 8);
    ip[3] = static_cast<uint8_t>(ip_len);
    ip[4] = static_cast<uint8_t>(ip_id >> 8);
    ip[5] = static_cast<uint8_t>(ip_id);
    ++ip_id;
    ip[8] = 64;
    ip[9] = 17;
    const uint8_t lo[4] = {127, 0, 0, 1};
    std::memcpy(ip + 12, lo, 4);
    std::memcpy(ip + 16, lo, 4);
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2) sum += (uint32_t{ip[i]} << 8) | ip[i + 1];
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    ip[10] = static_cast<uint8_t>(~sum >> 8);
    ip[11] = static_cast<uint8_t>(~sum);
    uint8_t* udp = ip + 20;
    udp[0] = static_cast<uint8_t>(src_port >> 8);
    udp[1] = static_cast<uint8_t>(src_port);
    udp[2] = static_cast<uint8_t>(dst_port >> 8);
    udp[3] = static_cast<uint8_t>(dst_port);
    udp[4] = static_cast<uint8_t>(udp_len >> 8);
    udp[5] = static_cast<uint8_t>(udp_len);  // checksum 0: none (allowed for IPv4)
    le32(seconds);
    le32(micros);
    le32(14 + ip_len);
    le32(14 + ip_len);
    out.write(reinterpret_cast<const char*>(h), sizeof(h));
    out.write(reinterpret_cast<const char*>(d.data()), static_cast<std::streamsize>(d.size()));
    if (++micros == 1000000) {
      micros = 0;
      ++seconds;
    }
  }
  out.close();
  if (!out) {
    if (error) *error = "write failed: " + path;
    return false;
  }
  return true;
}

}  // namespace nf::testing
