// Progress bar and periodic status lines for long runs (flowexport -r, flowcollect -r and the
// live daemons' one-line status).
//
// Display only: the wall clock read here never feeds flow logic, so file runs stay
// deterministic. The clock and the output go through functions so tests drive both with a fake
// clock and a string sink. A disabled bar never calls either, so a pipe or a log file stays
// quiet and the per-batch cost is one branch.
#ifndef NF_COMMON_PROGRESS_H_
#define NF_COMMON_PROGRESS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace nf {

// Monotonic clock in microseconds, for display and rates only.
int64_t MonotonicMicros();

// --progress / --no-progress / neither (auto: draw when the stream is a terminal).
enum class ProgressMode { kAuto, kAlways, kNever };
bool ProgressEnabled(ProgressMode mode, bool is_tty);
// Columns of the terminal on `fd`, or `fallback` when it is not one (or does not say).
int TerminalColumns(int fd, int fallback = 80);

// "0 B", "512 B", "1.5 KiB", "2.0 GiB".
std::string HumanBytes(uint64_t bytes);
// Count per second with an SI suffix: "0", "950", "81.2k", "1.25M".
std::string HumanRate(double per_second);
// Thousands separators: 1234567 -> "1,234,567".
std::string Grouped(uint64_t n);
// "0:07", "1:23", "1:02:03"; "--:--" for a negative (unknown) duration.
std::string FormatDuration(double seconds);
// Events per second between two counter readings `seconds` apart (0 when seconds <= 0 or the
// counter went backwards).
double PerSecond(uint64_t before, uint64_t after, double seconds);

struct ProgressOptions {
  std::string label;                     // prefix, e.g. "flowexport"
  uint64_t total_bytes = 0;              // sum of the input sizes; 0 = unknown (no bar, no ETA)
  int64_t redraw_interval_us = 200'000;  // at most 5 redraws a second
  int width = 80;                        // terminal columns; the line never wraps
  // Finish prints the final line even for a run shorter than one redraw interval (--progress
  // asked for the bar explicitly; on an automatic terminal bar a flash would be noise).
  bool final_line_always = false;
};

// A one-line progress bar redrawn in place with "\r" and erase-to-end-of-line:
//   flowexport [#######.............]  36.4%  1.2 GiB/3.3 GiB  812.3k pkt/s  ETA 0:42
// Rates come from the samples of the last few redraws (a sliding window), so they follow the
// current speed rather than the average since the start.
class ProgressBar {
 public:
  using Clock = std::function<int64_t()>;          // monotonic microseconds
  using Sink = std::function<void(absl::string_view)>;  // receives text to write as is

  ProgressBar(ProgressOptions options, bool enabled, Clock clock, Sink sink);

  // Call as often as convenient (every batch); draws at most once per redraw interval.
  void Update(uint64_t bytes_done, uint64_t packets_done);
  // Erases the drawn line so other text can be written to the stream; the next Update
  // redraws.
  void Clear();
  // Draws the final counts (average rate and elapsed time instead of the ETA) and ends the
  // line with a newline, but only when something was drawn before (or final_line_always): a
  // run shorter than one redraw interval prints nothing. Later calls (and Updates) do nothing.
  void Finish(uint64_t bytes_done, uint64_t packets_done);

  bool enabled() const { return enabled_; }
  // The text of the line for the current state (no control characters); for tests.
  std::string Line() const;

 private:
  struct Sample {
    int64_t time_us;
    uint64_t bytes;
    uint64_t packets;
  };
  static constexpr size_t kWindow = 10;  // samples kept for rates (~2 s at 5 redraws/s)

  void Draw(int64_t now_us);
  std::string Compose(bool final_line) const;

  ProgressOptions options_;
  bool enabled_;
  Clock clock_;
  Sink sink_;
  int64_t start_us_ = 0;
  int64_t last_draw_us_ = 0;
  uint64_t bytes_ = 0;
  uint64_t packets_ = 0;
  std::vector<Sample> window_;  // oldest first
  bool drawn_ = false;          // a line is on the screen now
  bool ever_drawn_ = false;
  bool finished_ = false;
};

// Says when a periodic status line is due (every `interval_s` of wall clock; 0 = never).
class StatusTicker {
 public:
  StatusTicker(double interval_s, int64_t now_us);
  // True when at least one interval passed since the last true; `*elapsed_s` gets the exact
  // seconds since then (for rates).
  bool Due(int64_t now_us, double* elapsed_s);

 private:
  int64_t interval_us_;
  int64_t last_us_;
};

}  // namespace nf

#endif  // NF_COMMON_PROGRESS_H_
