// Time formatting shared by the CSV writers and logs.
//
// Timestamps inside the project are integers: microseconds since the Unix epoch for packet time
// (TimeUs) and milliseconds for NetFlow record times. Formatting is allocation-free on the CSV
// hot path.
#ifndef NF_COMMON_TIME_FORMAT_H_
#define NF_COMMON_TIME_FORMAT_H_

#include <cstdint>
#include <string>

namespace nf {

// Microseconds since 1970-01-01T00:00:00Z.
using TimeUs = int64_t;

// Floor division by b > 0 and its remainder in [0, b), for any int64 `a`: no step overflows,
// which matters because record times come from exporters' 64-bit fields.
inline int64_t FloorDiv(int64_t a, int64_t b) { return a / b - (a % b < 0); }
inline int64_t FloorMod(int64_t a, int64_t b) {
  const int64_t r = a % b;
  return r < 0 ? r + b : r;
}

// The proleptic Gregorian date of day `days` since 1970-01-01 (Howard Hinnant's
// civil_from_days; no time zone database).
void CivilFromDays(int64_t days, int64_t& y, unsigned& m, unsigned& d);

// Appends "YYYY-MM-DDTHH:MM:SS.mmmZ" for `unix_ms` (milliseconds since the epoch, UTC).
void AppendIso8601Ms(int64_t unix_ms, std::string& out);
std::string FormatIso8601Ms(int64_t unix_ms);

}  // namespace nf

#endif  // NF_COMMON_TIME_FORMAT_H_
