#include "collector/output/format/text.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <string>

#include "common/time_format.h"

namespace nf {
namespace text_internal {

constinit thread_local SecondText second_cache[kSecondCacheSize];

namespace {
// Two digits of v < 100 (date and time fields).
inline char* Two(unsigned v, char* p) {
  std::memcpy(p, kDigitPairs.text[v], 2);
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

// For each pattern of zero groups (bit g: group g is 0), the first longest run of two or more
// zero groups, which prints as "::": its start and length, or length 0 when there is none.
struct ZeroRuns {
  uint8_t start[256];
  uint8_t len[256];
  constexpr ZeroRuns() : start{}, len{} {
    for (int m = 0; m < 256; ++m) {
      int best = 8, best_len = 0;
      for (int i = 0; i < 8;) {
        if (((m >> i) & 1) == 0) {
          ++i;
          continue;
        }
        int j = i;
        while (j < 8 && ((m >> j) & 1) != 0) ++j;
        if (j - i > best_len) {
          best = i;
          best_len = j - i;
        }
        i = j;
      }
      if (best_len < 2) best = 8, best_len = 0;
      start[m] = static_cast<uint8_t>(best);
      len[m] = static_cast<uint8_t>(best_len);
    }
  }
};
constexpr ZeroRuns kZeroRuns;

// Two lowercase hex digits per byte, first digit in the low byte (little-endian text order).
struct HexPairs {
  uint16_t text[256];
  constexpr HexPairs() : text{} {
    constexpr char kHex[] = "0123456789abcdef";
    for (int i = 0; i < 256; ++i) {
      text[i] = static_cast<uint16_t>(static_cast<uint16_t>(kHex[i >> 4]) |
                                       static_cast<uint16_t>(kHex[i & 15]) << 8);
    }
  }
};
constexpr HexPairs kHexPairs;

// One group in hex without leading zeros: its four digits as one word, shifted so the leading
// zeros fall off, one 4-byte store, and the pointer moved by the digit count. No branch.
inline char* WriteHexGroup(uint32_t v, char* out) {
  const uint32_t digits = (35 - static_cast<uint32_t>(__builtin_clz(v | 1))) >> 2;  // 1..4
  uint32_t text = static_cast<uint32_t>(kHexPairs.text[v >> 8]) |
                  static_cast<uint32_t>(kHexPairs.text[v & 0xff]) << 16;
  if constexpr (std::endian::native == std::endian::little) {
    text >>= 8 * (4 - digits);
  } else {
    text = __builtin_bswap32(text) << (8 * (4 - digits));
  }
  std::memcpy(out, &text, 4);
  return out + digits;
}
}  // namespace

// The same text as glibc's inet_ntop(AF_INET6) (RFC 5952 style: lowercase hex without leading
// zeros, the first longest run of two or more zero groups as "::", and the last 32 bits as a
// dotted quad for IPv4-compatible ::a.b.c.d and IPv4-mapped ::ffff:a.b.c.d), without its
// sprintf calls. The run comes from a table and each group is written without a branch: a
// branch per digit was as fast on regular addresses (one prefix, one run shape), and four times
// slower on varied ones, where the branches mispredict.
char* WriteIpv6(const uint8_t* b, char* out) {
  uint32_t w[8];
  unsigned zeros = 0;
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    w[i] = static_cast<uint32_t>(b[2 * i] << 8 | b[2 * i + 1]);
    zeros |= static_cast<unsigned>(w[i] == 0) << i;
  }
  const int start = kZeroRuns.start[zeros];
  const int len = kZeroRuns.len[zeros];
  if (start == 0 && (len == 6 || (len == 5 && w[5] == 0xffff))) {
    if (len == 6) {
      std::memcpy(out, "::", 2);
      out += 2;
    } else {
      std::memcpy(out, "::ffff:", 7);
      out += 7;
    }
    return WriteIpv4(b + 12, out);
  }
  // Every group is followed by a colon; the last one is taken back.
  int i = 0;
  for (; i < start; ++i) {
    out = WriteHexGroup(w[i], out);
    *out++ = ':';
  }
  if (len == 0) return out - 1;
  if (start == 0) *out++ = ':';
  *out++ = ':';
  i = start + len;
  if (i == 8) return out;
  for (; i < 8; ++i) {
    out = WriteHexGroup(w[i], out);
    *out++ = ':';
  }
  return out - 1;
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
