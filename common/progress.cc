#include "common/progress.h"

#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace nf {

int64_t MonotonicMicros() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000 + ts.tv_nsec / 1000;
}

bool ProgressEnabled(ProgressMode mode, bool is_tty) {
  switch (mode) {
    case ProgressMode::kAlways:
      return true;
    case ProgressMode::kNever:
      return false;
    case ProgressMode::kAuto:
      return is_tty;
  }
  return false;
}

int TerminalColumns(int fd, int fallback) {
  winsize ws{};
  if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
  return fallback;
}

std::string HumanBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  double v = static_cast<double>(bytes);
  size_t unit = 0;
  while (v >= 1024 && unit + 1 < std::size(kUnits)) {
    v /= 1024;
    ++unit;
  }
  return absl::StrFormat("%.1f %s", v, kUnits[unit]);
}

std::string HumanRate(double per_second) {
  if (!(per_second > 0)) return "0";
  if (per_second < 1000) return absl::StrFormat("%.0f", per_second);
  if (per_second < 1e6) return absl::StrFormat("%.1fk", per_second / 1e3);
  if (per_second < 1e9) return absl::StrFormat("%.2fM", per_second / 1e6);
  return absl::StrFormat("%.2fG", per_second / 1e9);
}

std::string Grouped(uint64_t n) {
  std::string digits = absl::StrCat(n);
  std::string out;
  out.reserve(digits.size() + digits.size() / 3);
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string FormatDuration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e9) return "--:--";
  const uint64_t s = static_cast<uint64_t>(std::llround(seconds));
  if (s >= 3600) return absl::StrFormat("%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
  return absl::StrFormat("%d:%02d", s / 60, s % 60);
}

double PerSecond(uint64_t before, uint64_t after, double seconds) {
  if (!(seconds > 0) || after < before) return 0;
  return static_cast<double>(after - before) / seconds;
}

ProgressBar::ProgressBar(ProgressOptions options, bool enabled, Clock clock, Sink sink)
    : options_(std::move(options)), enabled_(enabled), clock_(std::move(clock)),
      sink_(std::move(sink)) {
  if (!enabled_) return;
  start_us_ = clock_();
  last_draw_us_ = start_us_;
  window_.reserve(kWindow);
  window_.push_back(Sample{start_us_, 0, 0});
}

void ProgressBar::Update(uint64_t bytes_done, uint64_t packets_done) {
  if (!enabled_ || finished_) return;
  bytes_ = bytes_done;
  packets_ = packets_done;
  const int64_t now = clock_();
  if (now - last_draw_us_ < options_.redraw_interval_us) return;
  Draw(now);
}

void ProgressBar::Draw(int64_t now_us) {
  last_draw_us_ = now_us;
  if (window_.size() == kWindow) window_.erase(window_.begin());
  window_.push_back(Sample{now_us, bytes_, packets_});
  sink_(absl::StrCat("\r", Compose(false), "\x1b[K"));
  drawn_ = true;
  ever_drawn_ = true;
}

void ProgressBar::Clear() {
  if (!enabled_ || !drawn_) return;
  sink_("\r\x1b[K");
  drawn_ = false;
}

void ProgressBar::Finish(uint64_t bytes_done, uint64_t packets_done) {
  if (!enabled_ || finished_) return;
  finished_ = true;
  bytes_ = bytes_done;
  packets_ = packets_done;
  if (!ever_drawn_ && !options_.final_line_always) return;
  const int64_t now = clock_();
  last_draw_us_ = now;
  if (window_.size() == kWindow) window_.erase(window_.begin());
  window_.push_back(Sample{now, bytes_, packets_});
  sink_(absl::StrCat("\r", Compose(true), "\x1b[K\n"));
  drawn_ = false;
}

std::string ProgressBar::Line() const { return Compose(finished_); }

std::string ProgressBar::Compose(bool final_line) const {
  // Rates: over the window while running; over the whole run on the final line.
  const Sample& newest = window_.back();
  const Sample from = final_line ? Sample{start_us_, 0, 0} : window_.front();
  const double seconds = static_cast<double>(newest.time_us - from.time_us) / 1e6;
  const double pps = PerSecond(from.packets, newest.packets, seconds);
  const double bps = PerSecond(from.bytes, newest.bytes, seconds);

  std::string percent;
  std::string amount = HumanBytes(bytes_);
  double fraction = -1;
  if (options_.total_bytes > 0) {
    fraction = std::min(1.0, static_cast<double>(bytes_) /
                                 static_cast<double>(options_.total_bytes));
    percent = absl::StrFormat("%5.1f%%", fraction * 100);
    absl::StrAppend(&amount, "/", HumanBytes(options_.total_bytes));
  }
  std::string tail;
  if (final_line) {
    tail = absl::StrCat("done in ",
                        FormatDuration(static_cast<double>(newest.time_us - start_us_) / 1e6));
  } else if (options_.total_bytes > 0 && bps > 0) {
    const uint64_t left = options_.total_bytes > bytes_ ? options_.total_bytes - bytes_ : 0;
    tail = absl::StrCat("ETA ", FormatDuration(static_cast<double>(left) / bps));
  } else {
    tail = "ETA --:--";
  }
  // Everything but the bar; the bar takes what is left of the line (one column spare so the
  // cursor never wraps), at most 40 cells, and is left out when fewer than 5 fit.
  // Fields are padded to fixed widths so the bar does not jump as the numbers change.
  std::string rest;
  if (!percent.empty()) absl::StrAppend(&rest, " ", percent);
  absl::StrAppend(&rest, "  ", absl::StrFormat("%-21s", amount), "  ",
                  absl::StrFormat("%6s", HumanRate(pps)), " pkt/s  ", tail);
  const std::string head = options_.label;
  const int room = options_.width - 1 - static_cast<int>(head.size() + rest.size()) - 3;
  std::string line = head;
  if (fraction >= 0 && room >= 5) {
    const int cells = std::min(room, 40);
    const int full = static_cast<int>(fraction * cells);
    absl::StrAppend(&line, line.empty() ? "" : " ", "[",
                    std::string(static_cast<size_t>(full), '#'),
                    std::string(static_cast<size_t>(cells - full), '.'), "]");
  }
  absl::StrAppend(&line, rest);
  const size_t max = options_.width > 1 ? static_cast<size_t>(options_.width - 1) : line.size();
  if (line.size() > max) line.resize(max);
  return line;
}

StatusTicker::StatusTicker(double interval_s, int64_t now_us)
    : interval_us_(interval_s > 0 ? static_cast<int64_t>(interval_s * 1e6) : 0),
      last_us_(now_us) {}

bool StatusTicker::Due(int64_t now_us, double* elapsed_s) {
  if (interval_us_ == 0 || now_us - last_us_ < interval_us_) return false;
  *elapsed_s = static_cast<double>(now_us - last_us_) / 1e6;
  last_us_ = now_us;
  return true;
}

}  // namespace nf
