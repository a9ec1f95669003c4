#include "tests/robustness/robustness_support.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace nf::testing {
namespace {

void Put16(std::vector<uint8_t>& d, uint32_t v) {
  d.push_back(static_cast<uint8_t>(v >> 8));
  d.push_back(static_cast<uint8_t>(v));
}
void Put32(std::vector<uint8_t>& d, uint32_t v) {
  Put16(d, v >> 16);
  Put16(d, v & 0xffff);
}
void PutLe32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutLe16(std::string& s, uint32_t v) {
  for (int i = 0; i < 2; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace

std::vector<uint8_t> V9Datagram(const V9Spec& s) {
  std::vector<uint8_t> d;
  Put16(d, 9);
  Put16(d, static_cast<uint32_t>((s.with_template ? 1 : 0) + s.records));
  Put32(d, 1000);  // sysUptime ms
  Put32(d, s.unix_secs);
  Put32(d, s.sequence);
  Put32(d, s.source_id);
  if (s.with_template) {
    Put16(d, 0);
    Put16(d, 4 + 4 + 4 * 4);
    Put16(d, s.template_id);
    Put16(d, 4);
    for (uint32_t type : {8u, 12u, 2u, 1u}) {
      Put16(d, type);
      Put16(d, 4);
    }
  }
  if (s.records > 0) {
    Put16(d, s.template_id);
    Put16(d, static_cast<uint32_t>(4 + 16 * s.records));
    for (int i = 0; i < s.records; ++i) {
      const uint32_t n = s.first_host + static_cast<uint32_t>(i);
      Put32(d, 0x0A000001u);
      Put32(d, 0x0A000000u | (n & 0xffffff));
      Put32(d, s.packets);
      Put32(d, s.bytes);
    }
  }
  return d;
}

bool WriteExportPcap(const std::string& path, const std::vector<TimedDatagram>& datagrams,
                     uint16_t port) {
  std::string out;
  PutLe32(out, 0xa1b2c3d4);
  PutLe16(out, 2);
  PutLe16(out, 4);
  PutLe32(out, 0);
  PutLe32(out, 0);
  PutLe32(out, 262144);
  PutLe32(out, 1);  // DLT_EN10MB
  for (const TimedDatagram& t : datagrams) {
    std::vector<uint8_t> f;
    for (int i = 0; i < 12; ++i) f.push_back(static_cast<uint8_t>(i + 1));  // MACs
    Put16(f, 0x0800);
    const uint32_t ip_len = 20 + 8 + static_cast<uint32_t>(t.payload.size());
    f.push_back(0x45);
    f.push_back(0);
    Put16(f, ip_len);
    Put32(f, 0);        // id, flags/fragment
    f.push_back(64);    // TTL
    f.push_back(17);    // UDP
    Put16(f, 0);        // checksum (not checked)
    Put32(f, t.src_ip);
    Put32(f, 0xC0000202u);
    Put16(f, 4000);
    Put16(f, port);
    Put16(f, 8 + static_cast<uint32_t>(t.payload.size()));
    Put16(f, 0);
    f.insert(f.end(), t.payload.begin(), t.payload.end());
    PutLe32(out, static_cast<uint32_t>(t.time_us / 1000000));
    PutLe32(out, static_cast<uint32_t>(t.time_us % 1000000));
    PutLe32(out, static_cast<uint32_t>(f.size()));
    PutLe32(out, static_cast<uint32_t>(f.size()));
    out.append(reinterpret_cast<const char*>(f.data()), f.size());
  }
  std::ofstream file(path, std::ios::binary);
  file.write(out.data(), static_cast<std::streamsize>(out.size()));
  return static_cast<bool>(file);
}

long CompleteCsvRows(const std::string& path, const std::string& header_prefix,
                     std::string* why) {
  const std::string text = ReadWholeFile(path);
  if (text.empty()) {
    *why = path + ": empty";
    return -1;
  }
  if (text.back() != '\n') {
    *why = path + ": does not end with a newline (cut short)";
    return -1;
  }
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  if (line.rfind(header_prefix, 0) != 0) {
    *why = path + ": first line is not the header: " + line.substr(0, 80);
    return -1;
  }
  const auto fields = std::count(line.begin(), line.end(), ',');
  long rows = 0;
  while (std::getline(in, line)) {
    if (std::count(line.begin(), line.end(), ',') != fields) {
      *why = path + ": row " + std::to_string(rows + 1) + " has the wrong field count: " + line;
      return -1;
    }
    ++rows;
  }
  return rows;
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

pid_t Spawn(const std::vector<std::string>& argv, const ChildOptions& options) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid != 0) return pid;
  // Child: only async-signal-safe calls from here to exec.
  if (options.file_size_limit >= 0) {
    signal(SIGXFSZ, SIG_IGN);  // stays ignored across exec: writes fail with EFBIG instead
    rlimit rl{static_cast<rlim_t>(options.file_size_limit),
              static_cast<rlim_t>(options.file_size_limit)};
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(126);
  }
  if (!options.stderr_path.empty()) {
    // The limit applies to this log too: open it before the limit matters (O_APPEND, small).
    const int fd = open(options.stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 2);
      dup2(fd, 1);
      close(fd);
    }
  }
  execv(args[0], args.data());
  _exit(127);
}

int WaitBounded(pid_t pid, int timeout_ms) {
  int status = 0;
  for (int waited = 0; waited < timeout_ms; waited += 10) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return -1;
}

int ExitCode(int status) {
  if (status == -1 || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int64_t JsonNumber(const std::string& json, const std::string& key, size_t from) {
  const std::string k = "\"" + key + "\":";
  size_t p = json.find(k, from);
  if (p == std::string::npos) return -1;
  p += k.size();
  while (p < json.size() && json[p] == ' ') ++p;
  return std::strtoll(json.c_str() + p, nullptr, 10);
}

bool CanUseNetns() {
  if (geteuid() != 0) return false;
  return std::system("ip netns add nf-probe-$$ >/dev/null 2>&1 && ip netns del nf-probe-$$") == 0;
}

}  // namespace nf::testing
