#include "collector/output/format/text.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "common/time_format.h"

namespace nf {
namespace text_internal {

constinit thread_local SecondText second_cache[kSecondCacheSize];

namespace {
inline char* Two(unsigned v, char* p) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
  return p + 2;
}

// "HH:MM:SS." for a second of the day.
char* WriteTimeOfDay(unsigned second_of_day, char* out) {
  out = Two(second_of_day / 3600, out);
  *out++ = ':';
  out = Two((second_of_day / 60) % 60, out);
  *out++ = ':';
  out = Two(second_of_day % 60, out);
  *out++ = '.';
  return out;
}

}  // namespace

// The same text as glibc's inet_ntop(AF_INET6) (RFC 5952 style: lowercase hex without leading
// zeros, the first longest run of two or more zero groups as "::", and the last 32 bits as a
// dotted quad for IPv4-compatible ::a.b.c.d and IPv4-mapped ::ffff:a.b.c.d), without its
// sprintf calls.
char* WriteIpv6(const uint8_t* b, char* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  uint16_t w[8];
  for (int i = 0; i < 8; ++i) w[i] = static_cast<uint16_t>((b[2 * i] << 8) | b[2 * i + 1]);
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (w[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && w[j] == 0) ++j;
    if (j - i > best_len) {
      best = i;
      best_len = j - i;
    }
    i = j;
  }
  if (best_len < 2) best = -1;
  for (int i = 0; i < 8; ++i) {
    if (best >= 0 && i >= best && i < best + best_len) {
      if (i == best) *out++ = ':';
      continue;
    }
    if (i != 0) *out++ = ':';
    if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff))) {
      return WriteIpv4(b + 12, out);
    }
    const uint16_t v = w[i];
    if (v >= 0x1000) *out++ = kHex[v >> 12];
    if (v >= 0x100) *out++ = kHex[(v >> 8) & 0xf];
    if (v >= 0x10) *out++ = kHex[(v >> 4) & 0xf];
    *out++ = kHex[v & 0xf];
  }
  if (best >= 0 && best + best_len == 8) *out++ = ':';
  return out;
}

char* WriteIso8601MsUncached(int64_t unix_ms, int64_t second, unsigned ms, char* out) {
  // The last date's text ("YYYY-MM-DDT"): a new second of a known day skips the calendar.
  thread_local int64_t cached_days = std::numeric_limits<int64_t>::min();
  thread_local char cached_date[11];
  const int64_t days = FloorDiv(second, 86400);
  const unsigned second_of_day = static_cast<unsigned>(FloorMod(second, 86400));
  char* const text = out;
  if (days == cached_days) {
    std::memcpy(out, cached_date, 11);
    out += 11;
  } else {
    int64_t y;
    unsigned m, d;
    CivilFromDays(days, y, m, d);
    if (y < 0 || y > 9999) {
      // Outside four-digit years: the slow general path (never seen from sane exporters).
      std::string s;
      AppendIso8601Ms(unix_ms, s);
      const size_t n = std::min(s.size(), kMaxCsvColumnChars);
      std::memcpy(out, s.data(), n);
      return out + n;
    }
    const unsigned yy = static_cast<unsigned>(y);
    out = Two(yy / 100, out);
    out = Two(yy % 100, out);
    *out++ = '-';
    out = Two(m, out);
    *out++ = '-';
    out = Two(d, out);
    *out++ = 'T';
    std::memcpy(cached_date, text, 11);
    cached_days = days;
  }
  out = WriteTimeOfDay(second_of_day, out);
  SecondText& entry = second_cache[static_cast<uint64_t>(second) % kSecondCacheSize];
  std::memcpy(entry.text, text, kSecondChars);
  entry.second = second;
  std::memcpy(out, kMillis.text[ms], 4);
  return out + 4;
}

}  // namespace text_internal

void AppendAddress(const IpAddress& a, std::string& out) {
  char buf[kMaxCsvColumnChars];
  out.append(buf, WriteAddress(a, buf));
}

}  // namespace nf
