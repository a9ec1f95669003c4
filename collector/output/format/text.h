// Text formatters for collector output: decimal numbers, IP addresses and ISO 8601 times,
// written straight into caller buffers (no iostreams, no sprintf, no allocation), which keeps
// CSV rows and -A keys at millions per second. The text equals the slow general forms
// (std::to_string, inet_ntop, AppendIso8601Ms).
#ifndef NF_COLLECTOR_OUTPUT_FORMAT_TEXT_H_
#define NF_COLLECTOR_OUTPUT_FORMAT_TEXT_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include "common/ip_address.h"
#include "common/time_format.h"

namespace nf {

// Longest text one formatter, and so one output column, produces (an IPv6 address is 45
// characters; an interface name of 64 bytes, CSV-quoted with every byte a doubled quote, is
// 130); callers size their buffers with it.
inline constexpr size_t kMaxCsvColumnChars = 132;

namespace text_internal {
// "00".."99": two digits per division.
struct DigitPairs {
  char text[100][2];
  constexpr DigitPairs() : text{} {
    for (int i = 0; i < 100; ++i) {
      text[i][0] = static_cast<char>('0' + i / 10);
      text[i][1] = static_cast<char>('0' + i % 10);
    }
  }
};
inline constexpr DigitPairs kDigitPairs;

// Decimal digits of v >= 1: log10 from the bit width (1233/4096 ~ log10(2)), corrected by one
// comparison, instead of a loop of divisions.
inline int DecimalDigits(uint64_t v) {
  static constexpr uint64_t kPow10[20] = {1ull,
                                          10ull,
                                          100ull,
                                          1000ull,
                                          10000ull,
                                          100000ull,
                                          1000000ull,
                                          10000000ull,
                                          100000000ull,
                                          1000000000ull,
                                          10000000000ull,
                                          100000000000ull,
                                          1000000000000ull,
                                          10000000000000ull,
                                          100000000000000ull,
                                          1000000000000000ull,
                                          10000000000000000ull,
                                          100000000000000000ull,
                                          1000000000000000000ull,
                                          10000000000000000000ull};
  const int t = ((64 - __builtin_clzll(v)) * 1233) >> 12;
  return t + (v >= kPow10[t] ? 1 : 0);
}

// Writes the n digits of v backwards from `end`, two per step; 32-bit division where it fits
// (most columns: ports, interfaces, IDs, counters of ordinary flows).
template <typename U>
inline void WriteDigitsBackwards(U v, char* end) {
  while (v >= 100) {
    const U q = v / 100;
    end -= 2;
    std::memcpy(end, kDigitPairs.text[v - q * 100], 2);
    v = q;
  }
  if (v >= 10) {
    std::memcpy(end - 2, kDigitPairs.text[v], 2);
  } else {
    end[-1] = static_cast<char>('0' + v);
  }
}
}  // namespace text_internal

// Writes `v` in decimal at `out` (at most 20 characters) and returns the end. Inline: it is
// on every row's path for most columns.
inline char* WriteUnsigned(uint64_t v, char* out) {
  if (v < 10) {  // flags, masks, ports of 0, most packet counts of tiny flows
    *out = static_cast<char>('0' + v);
    return out + 1;
  }
  char* const end = out + text_internal::DecimalDigits(v);
  if (v <= std::numeric_limits<uint32_t>::max()) {
    text_internal::WriteDigitsBackwards(static_cast<uint32_t>(v), end);
  } else {
    text_internal::WriteDigitsBackwards(v, end);
  }
  return end;
}
inline void AppendUnsigned(uint64_t v, std::string& out) {
  char buf[24];
  out.append(buf, WriteUnsigned(v, buf));
}

namespace text_internal {
// "0.".."255.": every octet of a dotted quad is one 4-byte store and an add, without a branch;
// the last octet's dot lands past the text, where the next write goes.
struct OctetTable {
  char text[256][4];
  uint8_t len[256];  // without the dot
  constexpr OctetTable() : text{}, len{} {
    for (int i = 0; i < 256; ++i) {
      int n = 0;
      if (i >= 100) text[i][n++] = static_cast<char>('0' + i / 100);
      if (i >= 10) text[i][n++] = static_cast<char>('0' + (i / 10) % 10);
      text[i][n++] = static_cast<char>('0' + i % 10);
      text[i][n] = '.';
      len[i] = static_cast<uint8_t>(n);
    }
  }
};
inline constexpr OctetTable kOctets;

// "000Z".."999Z": the milliseconds and the zone of a timestamp as one 4-byte store.
struct MillisTable {
  char text[1000][4];
  constexpr MillisTable() : text{} {
    for (int i = 0; i < 1000; ++i) {
      text[i][0] = static_cast<char>('0' + i / 100);
      text[i][1] = static_cast<char>('0' + (i / 10) % 10);
      text[i][2] = static_cast<char>('0' + i % 10);
      text[i][3] = 'Z';
    }
  }
};
inline constexpr MillisTable kMillis;

// The text up to the second ("YYYY-MM-DDTHH:MM:SS.") of recently printed seconds, per thread,
// by the second's low bits: the times of a run fall within minutes, so most times are two
// copies instead of calendar arithmetic and a dozen divisions.
inline constexpr size_t kSecondChars = 20;
inline constexpr size_t kSecondCacheSize = 64;
struct SecondText {
  int64_t second = std::numeric_limits<int64_t>::min();
  char text[kSecondChars] = {};
};
extern constinit thread_local SecondText second_cache[kSecondCacheSize];

// The general paths, out of line.
char* WriteIpv6(const uint8_t* bytes, char* out);
char* WriteIso8601MsUncached(int64_t unix_ms, int64_t second, unsigned ms, char* out);
}  // namespace text_internal

// Dotted quad for IPv4 (inline: three of a default row's columns are addresses), inet_ntop's
// RFC 5952 text for IPv6, nothing for an unset address. Both store whole words and may write up
// to 4 bytes past the returned end (never past 44 bytes from `out`), where the next write goes.
inline char* WriteIpv4(const uint8_t* b, char* out) {
  using text_internal::kOctets;
  std::memcpy(out, kOctets.text[b[0]], 4);
  out += kOctets.len[b[0]] + 1;
  std::memcpy(out, kOctets.text[b[1]], 4);
  out += kOctets.len[b[1]] + 1;
  std::memcpy(out, kOctets.text[b[2]], 4);
  out += kOctets.len[b[2]] + 1;
  std::memcpy(out, kOctets.text[b[3]], 4);
  return out + kOctets.len[b[3]];
}
inline char* WriteAddress(const IpAddress& a, char* out) {
  if (a.version == 4) return WriteIpv4(a.bytes.data(), out);
  if (a.version == 6) return text_internal::WriteIpv6(a.bytes.data(), out);
  return out;
}
void AppendAddress(const IpAddress& a, std::string& out);

// "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 characters), same text as AppendIso8601Ms; years outside
// 0..9999 take the general path and are cut at kMaxCsvColumnChars. Inline for the cached case.
inline char* WriteIso8601Ms(int64_t unix_ms, char* out) {
  using text_internal::kSecondChars;
  const int64_t second = FloorDiv(unix_ms, 1000);
  const unsigned ms = static_cast<unsigned>(FloorMod(unix_ms, 1000));
  const text_internal::SecondText& entry =
      text_internal::second_cache[static_cast<uint64_t>(second) % text_internal::kSecondCacheSize];
  if (entry.second != second) return text_internal::WriteIso8601MsUncached(unix_ms, second, ms, out);
  std::memcpy(out, entry.text, kSecondChars);
  std::memcpy(out + kSecondChars, text_internal::kMillis.text[ms], 4);
  return out + kSecondChars + 4;
}

}  // namespace nf

#endif  // NF_COLLECTOR_OUTPUT_FORMAT_TEXT_H_
