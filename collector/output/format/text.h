// Text formatters for collector output: decimal numbers, IP addresses and ISO 8601 times,
// written straight into caller buffers (no iostreams, no sprintf, no allocation), which keeps
// CSV rows and -A keys at millions per second. The text equals the slow general forms
// (std::to_string, inet_ntop, AppendIso8601Ms).
#ifndef NF_COLLECTOR_OUTPUT_FORMAT_TEXT_H_
#define NF_COLLECTOR_OUTPUT_FORMAT_TEXT_H_

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/ip_address.h"

namespace nf {

// Longest text one formatter, and so one output column, produces (an IPv6 address is 45
// characters; an interface name of 64 bytes, CSV-quoted with every byte a doubled quote, is
// 130); callers size their buffers with it.
inline constexpr size_t kMaxCsvColumnChars = 132;

// Writes `v` in decimal at `out` (at most 20 characters) and returns the end. Inline: it is
// on every row's path for most columns.
inline char* WriteUnsigned(uint64_t v, char* out) {
  if (v < 10) {  // flags, masks, ports of 0, most packet counts of tiny flows
    *out = static_cast<char>('0' + v);
    return out + 1;
  }
  return std::to_chars(out, out + 20, v).ptr;
}
inline void AppendUnsigned(uint64_t v, std::string& out) {
  char buf[24];
  out.append(buf, WriteUnsigned(v, buf));
}

// Dotted quad for IPv4, inet_ntop's RFC 5952 text for IPv6, nothing for an unset address.
char* WriteAddress(const IpAddress& a, char* out);
void AppendAddress(const IpAddress& a, std::string& out);

// "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 characters), same text as AppendIso8601Ms; years outside
// 0..9999 take the general path and are cut at kMaxCsvColumnChars.
char* WriteIso8601Ms(int64_t unix_ms, char* out);

}  // namespace nf

#endif  // NF_COLLECTOR_OUTPUT_FORMAT_TEXT_H_
