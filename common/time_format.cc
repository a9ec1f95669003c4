#include "common/time_format.h"

namespace nf {
namespace {

void AppendDigits(std::string& out, int64_t v, int width) {
  char buf[24];
  int n = 0;
  bool negative = v < 0;
  uint64_t u = negative ? static_cast<uint64_t>(-v) : static_cast<uint64_t>(v);
  do {
    buf[n++] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u != 0);
  while (n < width) buf[n++] = '0';
  if (negative) out.push_back('-');
  while (n > 0) out.push_back(buf[--n]);
}

}  // namespace

void CivilFromDays(int64_t days, int64_t& y, unsigned& m, unsigned& d) {
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += (m <= 2);
}

void AppendIso8601Ms(int64_t unix_ms, std::string& out) {
  const int64_t days = FloorDiv(unix_ms, 86400000);
  const int64_t ms_of_day = FloorMod(unix_ms, 86400000);
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, y, m, d);
  AppendDigits(out, y, 4);
  out.push_back('-');
  AppendDigits(out, m, 2);
  out.push_back('-');
  AppendDigits(out, d, 2);
  out.push_back('T');
  AppendDigits(out, ms_of_day / 3600000, 2);
  out.push_back(':');
  AppendDigits(out, (ms_of_day / 60000) % 60, 2);
  out.push_back(':');
  AppendDigits(out, (ms_of_day / 1000) % 60, 2);
  out.push_back('.');
  AppendDigits(out, ms_of_day % 1000, 3);
  out.push_back('Z');
}

std::string FormatIso8601Ms(int64_t unix_ms) {
  std::string out;
  AppendIso8601Ms(unix_ms, out);
  return out;
}

}  // namespace nf
