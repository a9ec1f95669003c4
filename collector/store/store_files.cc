#include "collector/store/store_files.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <tuple>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "collector/store/store_format.h"

namespace nf {

namespace {

constexpr TimeUs kUsPerSecond = 1'000'000;

// Reads exactly `n` digits at `pos` into `out`; advances `pos`.
bool Digits(absl::string_view s, size_t& pos, size_t n, int& out) {
  if (s.size() - pos < n) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
    v = v * 10 + (c - '0');
  }
  pos += n;
  out = v;
  return true;
}

// A civil time in UTC, or nullopt-like false when a field is out of range (absl normalises
// 2026-02-30 to March; a name or an argument saying so is simply wrong).
bool CivilToUnix(int y, int mo, int d, int h, int mi, int s, int64_t& unix_seconds) {
  const absl::CivilSecond cs(y, mo, d, h, mi, s);
  if (cs.year() != y || cs.month() != mo || cs.day() != d || cs.hour() != h ||
      cs.minute() != mi || cs.second() != s) {
    return false;
  }
  unix_seconds = absl::ToUnixSeconds(absl::FromCivil(cs, absl::UTCTimeZone()));
  return true;
}

absl::Status BadTime(absl::string_view text) {
  return absl::InvalidArgumentError(absl::StrCat(
      "invalid time \"", text,
      "\": expected an ISO 8601 date and time (2026-12-02, 2026-12-02T13:05:30, "
      "2026-12-02T14:05+01:00; UTC unless an offset is given), a relative time (-2h, -30m, "
      "-90s, -1d, -1w), now, or @UNIX_SECONDS"));
}

// Optional ".ffffff" (1-6 digits) after seconds: microseconds.
bool Fraction(absl::string_view s, size_t& pos, int64_t& micros) {
  micros = 0;
  if (pos >= s.size() || s[pos] != '.') return true;
  ++pos;
  size_t n = 0;
  int64_t scale = 100'000;
  while (pos < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[pos]))) {
    if (n == 6) return false;
    micros += (s[pos] - '0') * scale;
    scale /= 10;
    ++pos;
    ++n;
  }
  return n > 0;
}

}  // namespace

TimeUs StoreFileStart(absl::string_view basename) {
  if (!absl::ConsumePrefix(&basename, "flows-")) return -1;
  if (!absl::ConsumeSuffix(&basename, ".pcap.zst") && !absl::ConsumeSuffix(&basename, ".pcap")) {
    return -1;
  }
  if (basename.size() != 14) return -1;
  size_t pos = 0;
  int y, mo, d, h, mi, s;
  if (!Digits(basename, pos, 4, y) || !Digits(basename, pos, 2, mo) ||
      !Digits(basename, pos, 2, d) || !Digits(basename, pos, 2, h) ||
      !Digits(basename, pos, 2, mi) || !Digits(basename, pos, 2, s)) {
    return -1;
  }
  int64_t unix_seconds = 0;
  if (y < 1970 || !CivilToUnix(y, mo, d, h, mi, s, unix_seconds)) return -1;
  return unix_seconds * kUsPerSecond;
}

std::string StoreFilePath(const std::string& directory, TimeUs start_us, bool compressed) {
  // Floor division: the interval containing a (never expected) negative time.
  const int64_t secs = start_us >= 0 ? start_us / kUsPerSecond
                                     : -((-start_us + kUsPerSecond - 1) / kUsPerSecond);
  const absl::CivilSecond c = absl::ToCivilSecond(absl::FromUnixSeconds(secs),
                                                  absl::UTCTimeZone());
  const bool slash = !directory.empty() && directory.back() == '/';
  return absl::StrFormat("%s%s%04d/%02d/%02d/flows-%04d%02d%02d%02d%02d%02d.pcap%s", directory,
                         slash ? "" : "/", c.year(), c.month(), c.day(), c.year(), c.month(),
                         c.day(), c.hour(), c.minute(), c.second(), compressed ? ".zst" : "");
}

absl::StatusOr<std::vector<StoreFile>> ListStoreFiles(const std::string& directory,
                                                      TimeUs from_us, TimeUs to_us) {
  std::vector<StoreFile> all;
  absl::Status walked = store_internal::WalkFiles(
      directory, [&](const std::string& path, absl::string_view name, uint64_t size) {
        const TimeUs start = StoreFileStart(name);
        if (start < 0) return;
        all.push_back(StoreFile{path, start, size, absl::EndsWith(name, ".zst")});
      });
  if (!walked.ok()) {
    return absl::Status(walked.code(), absl::StrCat("flow store: ", walked.message()));
  }
  std::sort(all.begin(), all.end(), [](const StoreFile& a, const StoreFile& b) {
    return std::tie(a.start_us, a.path) < std::tie(b.start_us, b.path);
  });
  // File i holds what was received in [start_i, start of the next later file): keep it when
  // that overlaps [from, to). Files sharing a start (a .pcap and a .pcap.zst after the
  // compression setting changed within an interval) share their end too. The first file
  // starting at or after `to` is kept as well: a datagram that reached the writer after its
  // interval's file was completed (workers racing at a rotation) went into the next file with
  // its own, earlier receive time, which the reader's time check then selects.
  std::vector<StoreFile> out;
  size_t next = 0;  // first file with a later start than file i
  TimeUs after_to = -1;  // start of the files kept past `to`
  for (size_t i = 0; i < all.size(); ++i) {
    if (next <= i) {
      next = i + 1;
      while (next < all.size() && all[next].start_us == all[i].start_us) ++next;
    }
    if (all[i].start_us >= to_us) {
      if (after_to >= 0 && all[i].start_us != after_to) break;
      after_to = all[i].start_us;
    }
    if (next < all.size() && all[next].start_us <= from_us) continue;
    out.push_back(std::move(all[i]));
  }
  return out;
}

absl::StatusOr<TimeUs> ParseTimeArgument(absl::string_view text, TimeUs now_us) {
  const absl::string_view s = absl::StripAsciiWhitespace(text);
  if (s.empty()) return BadTime(text);
  if (absl::AsciiStrToLower(s) == "now") return now_us;

  if (s[0] == '@') {
    size_t pos = 1;
    bool negative = false;
    if (pos < s.size() && s[pos] == '-') {
      negative = true;
      ++pos;
    }
    int64_t secs = 0;
    size_t digits = 0;
    while (pos < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[pos]))) {
      if (digits == 12) return BadTime(text);  // beyond year 33000: a typo
      secs = secs * 10 + (s[pos] - '0');
      ++pos;
      ++digits;
    }
    int64_t micros = 0;
    if (digits == 0 || !Fraction(s, pos, micros) || pos != s.size()) return BadTime(text);
    const int64_t us = secs * kUsPerSecond + micros;
    return negative ? -us : us;
  }

  if (s[0] == '-' || s[0] == '+') {
    size_t pos = 1;
    int64_t n = 0;
    size_t digits = 0;
    while (pos < s.size() && absl::ascii_isdigit(static_cast<unsigned char>(s[pos]))) {
      if (digits == 9) return BadTime(text);
      n = n * 10 + (s[pos] - '0');
      ++pos;
      ++digits;
    }
    if (digits == 0 || pos + 1 != s.size()) return BadTime(text);
    int64_t unit;
    switch (absl::ascii_tolower(static_cast<unsigned char>(s[pos]))) {
      case 's': unit = 1; break;
      case 'm': unit = 60; break;
      case 'h': unit = 3600; break;
      case 'd': unit = 86400; break;
      case 'w': unit = 7 * 86400; break;
      default: return BadTime(text);
    }
    if (n > std::numeric_limits<int64_t>::max() / (unit * kUsPerSecond)) return BadTime(text);
    const int64_t delta = n * unit * kUsPerSecond;
    TimeUs out = 0;
    const bool overflow = s[0] == '-' ? __builtin_sub_overflow(now_us, delta, &out)
                                      : __builtin_add_overflow(now_us, delta, &out);
    if (overflow) return BadTime(text);
    return out;
  }

  // ISO 8601: YYYY-MM-DD[(T| )hh:mm[:ss[.ffffff]]][Z|±hh[:mm]|±hhmm]
  size_t pos = 0;
  int y, mo, d, h = 0, mi = 0, sec = 0;
  int64_t micros = 0;
  if (!Digits(s, pos, 4, y) || pos >= s.size() || s[pos++] != '-' || !Digits(s, pos, 2, mo) ||
      pos >= s.size() || s[pos++] != '-' || !Digits(s, pos, 2, d)) {
    return BadTime(text);
  }
  if (pos < s.size() && (s[pos] == 'T' || s[pos] == 't' || s[pos] == ' ')) {
    ++pos;
    if (!Digits(s, pos, 2, h) || pos >= s.size() || s[pos++] != ':' || !Digits(s, pos, 2, mi)) {
      return BadTime(text);
    }
    if (pos < s.size() && s[pos] == ':') {
      ++pos;
      if (!Digits(s, pos, 2, sec) || !Fraction(s, pos, micros)) return BadTime(text);
    }
  }
  int64_t offset_seconds = 0;
  if (pos < s.size()) {
    if (s[pos] == 'Z' || s[pos] == 'z') {
      ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
      const int sign = s[pos] == '-' ? -1 : 1;
      ++pos;
      int oh = 0, om = 0;
      if (!Digits(s, pos, 2, oh)) return BadTime(text);
      if (pos < s.size() && s[pos] == ':') {
        ++pos;
        if (!Digits(s, pos, 2, om)) return BadTime(text);
      } else if (pos < s.size()) {
        if (!Digits(s, pos, 2, om)) return BadTime(text);
      }
      if (oh > 23 || om > 59) return BadTime(text);
      offset_seconds = sign * (oh * 3600 + om * 60);
    }
  }
  if (pos != s.size()) return BadTime(text);
  int64_t unix_seconds = 0;
  if (!CivilToUnix(y, mo, d, h, mi, sec, unix_seconds)) return BadTime(text);
  return (unix_seconds - offset_seconds) * kUsPerSecond + micros;
}

absl::Status ParseRetention(absl::string_view text, int64_t* seconds, uint64_t* bytes) {
  const auto bad = [&text] {
    return absl::InvalidArgumentError(absl::StrCat("--store-retention: '", text,
                                                   "' is neither an age (30d, 12h, 90m) nor a "
                                                   "size (200G, 500M)"));
  };
  if (text.size() < 2 || !absl::ascii_isdigit(static_cast<unsigned char>(text.front())) ||
      !absl::ascii_isdigit(static_cast<unsigned char>(text[text.size() - 2]))) {
    return bad();
  }
  const char unit = text.back();
  uint64_t n = 0;
  if (!absl::SimpleAtoi(text.substr(0, text.size() - 1), &n) || n == 0 ||
      n > (uint64_t{1} << 40)) {
    return bad();
  }
  switch (unit) {
    case 's': *seconds = static_cast<int64_t>(n); return absl::OkStatus();
    case 'm': *seconds = static_cast<int64_t>(n) * 60; return absl::OkStatus();
    case 'h': *seconds = static_cast<int64_t>(n) * 3600; return absl::OkStatus();
    case 'd': *seconds = static_cast<int64_t>(n) * 86400; return absl::OkStatus();
    case 'w': *seconds = static_cast<int64_t>(n) * 7 * 86400; return absl::OkStatus();
    case 'k': case 'K': *bytes = n << 10; return absl::OkStatus();
    case 'M': *bytes = n << 20; return absl::OkStatus();
    case 'g': case 'G': *bytes = n << 30; return absl::OkStatus();
    case 't': case 'T':
      if (n > (uint64_t{1} << 20)) return bad();
      *bytes = n << 40;
      return absl::OkStatus();
    default: return bad();
  }
}

}  // namespace nf
