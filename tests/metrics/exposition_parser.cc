#include "tests/metrics/exposition_parser.h"

#include <cmath>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace nf::metrics {

Exposition ParseExposition(absl::string_view text) {
  Exposition e;
  std::string current;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::ConsumePrefix(&line, "# HELP ")) {
      current = std::string(line.substr(0, line.find(' ')));
      continue;
    }
    if (absl::ConsumePrefix(&line, "# TYPE ")) {
      std::vector<std::string> parts = absl::StrSplit(line, ' ');
      if (parts.size() != 2 || parts[0] != current || e.types.count(parts[0])) {
        e.error = absl::StrCat("bad or repeated TYPE: ", line);
        return e;
      }
      e.types[parts[0]] = parts[1];
      continue;
    }
    size_t space = line.rfind(' ');
    if (space == absl::string_view::npos) {
      e.error = absl::StrCat("no value: ", line);
      return e;
    }
    std::string key(line.substr(0, space));
    std::string name = key.substr(0, key.find('{'));
    if (name != current) {
      e.error = absl::StrCat("sample outside its family: ", line);
      return e;
    }
    if (key.find('{') != std::string::npos && key.back() != '}') {
      e.error = absl::StrCat("bad labels: ", line);
      return e;
    }
    double v = 0;
    absl::string_view value = line.substr(space + 1);
    if (value == "NaN") {
      v = std::nan("");
    } else if (value == "+Inf") {
      v = HUGE_VAL;
    } else if (!absl::SimpleAtod(value, &v)) {
      e.error = absl::StrCat("bad value: ", line);
      return e;
    }
    if (e.samples.count(key) != 0) {
      e.error = absl::StrCat("repeated sample: ", line);
      return e;
    }
    e.samples[key] = v;
  }
  return e;
}

std::string HttpGet(uint16_t port, absl::string_view target) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket s(io);
  boost::system::error_code ec;
  s.connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
  if (ec) return "connect failed: " + ec.message();
  // One request per connection: the server keeps HTTP/1.1 connections open otherwise.
  std::string req =
      absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  boost::asio::write(s, boost::asio::buffer(req), ec);
  std::string out;
  char buf[4096];
  for (int i = 0; i < 100000; ++i) {  // bounded: the server closes after the response
    size_t n = s.read_some(boost::asio::buffer(buf), ec);
    out.append(buf, n);
    if (ec) break;
  }
  return out;
}

std::string HttpBody(const std::string& response) {
  const size_t at = response.find("\r\n\r\n");
  return at == std::string::npos ? std::string() : response.substr(at + 4);
}

}  // namespace nf::metrics
