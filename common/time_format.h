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

// Appends "YYYY-MM-DDTHH:MM:SS.mmmZ" for `unix_ms` (milliseconds since the epoch, UTC).
void AppendIso8601Ms(int64_t unix_ms, std::string& out);
std::string FormatIso8601Ms(int64_t unix_ms);

}  // namespace nf

#endif  // NF_COMMON_TIME_FORMAT_H_
