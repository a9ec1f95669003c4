#include "collector/output/clickhouse/http_client.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace nf::clickhouse {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string UrlDecode(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Closes the descriptor on every return path.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

absl::Status Errno(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// Waits until `fd` is ready for `events`; false on timeout or error.
bool WaitFor(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  for (int tries = 0; tries < 1000; ++tries) {  // bounded: only EINTR loops
    int n = poll(&p, 1, timeout_ms);
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
  return false;
}

// Connects (non-blocking with a timeout) to the first address of `url` that answers.
absl::StatusOr<int> Connect(const HttpUrl& url, const HttpOptions& options) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string port = absl::StrCat(url.port);
  int rc = getaddrinfo(url.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve ", url.host, ": ", gai_strerror(rc)));
  }
  absl::Status last = absl::UnavailableError("no address");
  int result = -1;
  for (addrinfo* ai = res; ai != nullptr && result < 0; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                    ai->ai_protocol);
    if (fd < 0) {
      last = Errno("socket");
      continue;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      if (errno != EINPROGRESS || !WaitFor(fd, POLLOUT, options.connect_timeout_ms)) {
        last = errno == EINPROGRESS
                   ? absl::DeadlineExceededError(absl::StrCat("connect to ", url.host, ":",
                                                              url.port, " timed out"))
                   : Errno(absl::StrCat("connect to ", url.host, ":", url.port));
        close(fd);
        continue;
      }
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        errno = err;
        last = Errno(absl::StrCat("connect to ", url.host, ":", url.port));
        close(fd);
        continue;
      }
    }
    result = fd;
  }
  freeaddrinfo(res);
  if (result < 0) return last;
  return result;
}

absl::Status SendAll(int fd, absl::string_view data, int timeout_ms) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!WaitFor(fd, POLLOUT, timeout_ms)) return absl::DeadlineExceededError("send timed out");
      continue;
    }
    return Errno("send");
  }
  return absl::OkStatus();
}

// Decodes a chunked body; false when it is malformed or incomplete.
bool Dechunk(absl::string_view in, std::string& out) {
  out.clear();
  size_t pos = 0;
  while (pos < in.size()) {
    size_t eol = in.find("\r\n", pos);
    if (eol == absl::string_view::npos) return false;
    absl::string_view size_text = in.substr(pos, eol - pos);
    size_t semi = size_text.find(';');
    if (semi != absl::string_view::npos) size_text = size_text.substr(0, semi);
    uint64_t size = 0;
    if (!absl::SimpleHexAtoi(absl::StripAsciiWhitespace(size_text), &size)) return false;
    pos = eol + 2;
    if (size == 0) return true;
    if (size > in.size() - pos) return false;
    out.append(in.data() + pos, size);
    pos += size + 2;  // chunk data + CRLF
  }
  return false;
}

}  // namespace

std::string HttpUrl::Param(absl::string_view name) const {
  for (absl::string_view kv : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
    if (p.first == name) return UrlDecode(p.second);
  }
  return "";
}

std::string HttpUrl::Redacted() const {
  std::string q;
  for (absl::string_view kv : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> p = absl::StrSplit(kv, absl::MaxSplits('=', 1));
    if (!q.empty()) q.push_back('&');
    if (p.first == "password") {
      absl::StrAppend(&q, p.first, "=***");
    } else {
      absl::StrAppend(&q, kv);
    }
  }
  bool v6 = host.find(':') != std::string::npos;
  return absl::StrCat("http://", v6 ? "[" : "", host, v6 ? "]" : "", ":", port, path,
                      q.empty() ? "" : "?", q);
}

absl::StatusOr<HttpUrl> ParseHttpUrl(absl::string_view url) {
  HttpUrl out;
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "http://")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ClickHouse URL must start with http:// (got '", url, "'); https is not supported"));
  }
  size_t slash = rest.find_first_of("/?");
  absl::string_view authority = rest.substr(0, slash);
  absl::string_view tail = slash == absl::string_view::npos ? "" : rest.substr(slash);
  if (authority.find('@') != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        "put ClickHouse credentials in the query string (?user=..&password=..), not in the host");
  }
  absl::string_view host = authority;
  absl::string_view port_text;
  if (absl::ConsumePrefix(&host, "[")) {
    size_t close_bracket = host.find(']');
    if (close_bracket == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("bad IPv6 host in '", url, "'"));
    }
    absl::string_view after = host.substr(close_bracket + 1);
    host = host.substr(0, close_bracket);
    if (!after.empty()) {
      if (after[0] != ':') return absl::InvalidArgumentError(absl::StrCat("bad host in '", url, "'"));
      port_text = after.substr(1);
    }
  } else {
    size_t colon = host.find(':');
    if (colon != absl::string_view::npos) {
      port_text = host.substr(colon + 1);
      host = host.substr(0, colon);
    }
  }
  if (host.empty()) return absl::InvalidArgumentError(absl::StrCat("no host in '", url, "'"));
  out.host = std::string(host);
  if (!port_text.empty()) {
    uint32_t port = 0;
    if (!absl::SimpleAtoi(port_text, &port) || port == 0 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("bad port in '", url, "'"));
    }
    out.port = static_cast<uint16_t>(port);
  }
  size_t q = tail.find('?');
  absl::string_view path = tail.substr(0, q);
  out.path = path.empty() ? "/" : std::string(path);
  if (q != absl::string_view::npos) out.query = std::string(tail.substr(q + 1));
  return out;
}

std::string UrlEncode(absl::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

HttpResult HttpPost(const HttpUrl& url,
                    const std::vector<std::pair<std::string, std::string>>& params,
                    absl::string_view body, const HttpOptions& options) {
  HttpResult result;
  absl::StatusOr<int> fd_or = Connect(url, options);
  if (!fd_or.ok()) {
    result.status = fd_or.status();
    return result;
  }
  Fd fd(*fd_or);

  std::string target = url.path;
  std::string query = url.query;
  for (const auto& [name, value] : params) {
    if (!query.empty()) query.push_back('&');
    absl::StrAppend(&query, UrlEncode(name), "=", UrlEncode(value));
  }
  if (!query.empty()) absl::StrAppend(&target, "?", query);
  bool v6 = url.host.find(':') != std::string::npos;
  std::string head = absl::StrCat("POST ", target, " HTTP/1.1\r\nHost: ", v6 ? "[" : "", url.host,
                                  v6 ? "]" : "", ":", url.port,
                                  "\r\nContent-Type: application/octet-stream\r\nContent-Length: ",
                                  body.size(), "\r\nConnection: close\r\n\r\n");
  result.may_have_arrived = true;
  if (absl::Status s = SendAll(fd.get(), head, options.io_timeout_ms); !s.ok()) {
    result.status = s;
    return result;
  }
  if (absl::Status s = SendAll(fd.get(), body, options.io_timeout_ms); !s.ok()) {
    result.status = s;
    return result;
  }

  // Read the whole response (Connection: close), bounded.
  std::string response;
  char buf[16384];
  for (;;) {
    ssize_t n = recv(fd.get(), buf, sizeof(buf), 0);
    if (n > 0) {
      if (response.size() + static_cast<size_t>(n) > options.max_response_bytes) {
        result.status = absl::ResourceExhaustedError("HTTP response too large");
        return result;
      }
      response.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!WaitFor(fd.get(), POLLIN, options.io_timeout_ms)) {
        result.status = absl::DeadlineExceededError("timed out waiting for the HTTP response");
        return result;
      }
      continue;
    }
    result.status = Errno("recv");
    return result;
  }

  size_t header_end = response.find("\r\n\r\n");
  if (header_end == std::string::npos) {
    result.status = absl::UnavailableError(
        response.empty() ? "connection closed without a response" : "truncated HTTP response");
    return result;
  }
  absl::string_view headers(response.data(), header_end);
  absl::string_view body_in(response.data() + header_end + 4, response.size() - header_end - 4);
  // "HTTP/1.1 200 OK"
  std::vector<absl::string_view> status_line =
      absl::StrSplit(headers.substr(0, headers.find("\r\n")), absl::MaxSplits(' ', 2));
  if (status_line.size() < 2 || !absl::StartsWith(status_line[0], "HTTP/") ||
      !absl::SimpleAtoi(status_line[1], &result.code)) {
    result.status = absl::UnavailableError("malformed HTTP status line");
    return result;
  }
  bool chunked = false;
  int64_t content_length = -1;
  for (absl::string_view line : absl::StrSplit(headers, "\r\n")) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(line, absl::MaxSplits(':', 1));
    std::string name = absl::AsciiStrToLower(kv.first);
    absl::string_view value = absl::StripAsciiWhitespace(kv.second);
    if (name == "transfer-encoding" && absl::AsciiStrToLower(value).find("chunked") != std::string::npos) {
      chunked = true;
    } else if (name == "content-length") {
      if (!absl::SimpleAtoi(value, &content_length)) content_length = -1;
    }
  }
  if (chunked) {
    if (!Dechunk(body_in, result.body)) {
      result.status = absl::UnavailableError("truncated chunked HTTP response");
      return result;
    }
  } else if (content_length >= 0) {
    if (body_in.size() < static_cast<size_t>(content_length)) {
      result.status = absl::UnavailableError("truncated HTTP response body");
      return result;
    }
    result.body = std::string(body_in.substr(0, static_cast<size_t>(content_length)));
  } else {
    result.body = std::string(body_in);
  }
  result.status = absl::OkStatus();
  return result;
}

}  // namespace nf::clickhouse
