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

}  // namespace nf::testing
