// Test helpers for Prometheus endpoints: a strict parser for the text exposition format (the
// subset nf::metrics emits) and a plain HTTP GET over loopback. Shared by the nf::metrics unit
// tests and the flowexport/flowcollect scrape tests.
#ifndef NF_TESTS_METRICS_EXPOSITION_PARSER_H_
#define NF_TESTS_METRICS_EXPOSITION_PARSER_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/strings/string_view.h"

namespace nf::metrics {

// A parsed exposition: sample key ("name{labels}") -> value, and name -> TYPE.
struct Exposition {
  std::map<std::string, double> samples;
  std::map<std::string, std::string> types;
  std::string error;  // first syntax error; empty when the text parsed
};

// Text format 0.0.4 as nf::metrics emits it: HELP/TYPE before the family's samples, one TYPE
// per family, samples `name{k="v",...} value`. Anything else is an error.
Exposition ParseExposition(absl::string_view text);

// GET `target` from 127.0.0.1:`port`; returns the whole response (status line, headers, body),
// or "connect failed: ..." when nothing listens.
std::string HttpGet(uint16_t port, absl::string_view target);

// The body of an HTTP response (after the blank line); empty when there is none.
std::string HttpBody(const std::string& response);

}  // namespace nf::metrics

#endif  // NF_TESTS_METRICS_EXPOSITION_PARSER_H_
