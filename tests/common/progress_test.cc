// nf::progress driven by a fake clock and a string sink: rendering, rates, ETA, throttling,
// clearing, the final line, and silence when disabled (stderr not a terminal).
#include "common/progress.h"

#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nf {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Harness {
  int64_t now_us = 1'000'000;
  std::string out;
  int writes = 0;
  int clock_reads = 0;
  ProgressBar Make(ProgressOptions o, bool enabled = true) {
    return ProgressBar(
        std::move(o), enabled,
        [this] {
          ++clock_reads;
          return now_us;
        },
        [this](absl::string_view s) {
          ++writes;
          out.append(s.data(), s.size());
        });
  }
};

ProgressOptions Opts(uint64_t total, int width = 100) {
  ProgressOptions o;
  o.label = "flowexport";
  o.total_bytes = total;
  o.width = width;
  return o;
}

TEST(FormatTest, HumanUnits) {
  EXPECT_EQ(HumanBytes(0), "0 B");
  EXPECT_EQ(HumanBytes(1023), "1023 B");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(uint64_t{3} << 30), "3.0 GiB");
  EXPECT_EQ(HumanRate(0), "0");
  EXPECT_EQ(HumanRate(950), "950");
  EXPECT_EQ(HumanRate(81'234), "81.2k");
  EXPECT_EQ(HumanRate(1'250'000), "1.25M");
  EXPECT_EQ(Grouped(0), "0");
  EXPECT_EQ(Grouped(999), "999");
  EXPECT_EQ(Grouped(1'234'567), "1,234,567");
  EXPECT_EQ(FormatDuration(7), "0:07");
  EXPECT_EQ(FormatDuration(83), "1:23");
  EXPECT_EQ(FormatDuration(3723), "1:02:03");
  EXPECT_EQ(FormatDuration(-1), "--:--");
  EXPECT_DOUBLE_EQ(PerSecond(100, 600, 2.0), 250.0);
  EXPECT_EQ(PerSecond(600, 100, 2.0), 0.0);  // counter reset: no negative rate
  EXPECT_EQ(PerSecond(0, 100, 0.0), 0.0);
}

TEST(ProgressModeTest, AutoFollowsTheTerminal) {
  EXPECT_TRUE(ProgressEnabled(ProgressMode::kAuto, true));
  EXPECT_FALSE(ProgressEnabled(ProgressMode::kAuto, false));
  EXPECT_TRUE(ProgressEnabled(ProgressMode::kAlways, false));
  EXPECT_FALSE(ProgressEnabled(ProgressMode::kNever, true));
}

TEST(ProgressBarTest, DisabledWritesNothingAndReadsNoClock) {
  Harness h;
  ProgressBar bar = h.Make(Opts(1000), /*enabled=*/false);
  for (int i = 0; i < 100; ++i) {
    h.now_us += 1'000'000;
    bar.Update(static_cast<uint64_t>(i) * 10, static_cast<uint64_t>(i));
  }
  bar.Clear();
  bar.Finish(1000, 100);
  EXPECT_EQ(h.writes, 0);
  EXPECT_EQ(h.out, "");
  EXPECT_EQ(h.clock_reads, 0);
}

TEST(ProgressBarTest, RendersPercentBytesRateAndEta) {
  Harness h;
  ProgressBar bar = h.Make(Opts(uint64_t{4} << 20));  // 4 MiB
  h.now_us += 1'000'000;
  bar.Update(uint64_t{1} << 20, 50'000);  // 1 MiB and 50k packets in 1 s
  ASSERT_EQ(h.writes, 1);
  EXPECT_TRUE(absl::StartsWith(h.out, "\rflowexport ["));
  EXPECT_TRUE(absl::EndsWith(h.out, "\x1b[K"));
  EXPECT_THAT(h.out, HasSubstr(" 25.0%"));
  EXPECT_THAT(h.out, HasSubstr("1.0 MiB/4.0 MiB"));
  EXPECT_THAT(h.out, HasSubstr("50.0k pkt/s"));
  // 3 MiB left at 1 MiB/s.
  EXPECT_THAT(h.out, HasSubstr("ETA 0:03"));
  // A quarter of the bar is filled.
  const std::string line = bar.Line();
  const size_t open = line.find('['), close = line.find(']');
  ASSERT_NE(open, std::string::npos);
  ASSERT_NE(close, std::string::npos);
  const std::string cells = line.substr(open + 1, close - open - 1);
  EXPECT_EQ(std::count(cells.begin(), cells.end(), '#'), static_cast<long>(cells.size() / 4));
  EXPECT_THAT(line, Not(HasSubstr("\r")));
}

TEST(ProgressBarTest, RedrawsAtMostFiveTimesASecond) {
  Harness h;
  ProgressBar bar = h.Make(Opts(1'000'000));
  // 1000 updates 1 ms apart: one second of work.
  for (int i = 1; i <= 1000; ++i) {
    h.now_us += 1000;
    bar.Update(static_cast<uint64_t>(i) * 100, static_cast<uint64_t>(i));
  }
  EXPECT_EQ(h.writes, 5);
  // Nothing is drawn before the first interval passes.
  Harness h2;
  ProgressBar quick = h2.Make(Opts(1000));
  h2.now_us += 199'999;
  quick.Update(1000, 10);
  EXPECT_EQ(h2.writes, 0);
}

TEST(ProgressBarTest, RateFollowsTheRecentWindow) {
  Harness h;
  ProgressBar bar = h.Make(Opts(0));  // total unknown: no bar, no ETA
  uint64_t packets = 0;
  // 5 s at 1000 pkt/s, then 5 s at 10000 pkt/s: the window (10 redraws = 2 s) shows the
  // new speed, not the average.
  for (int i = 0; i < 50; ++i) {
    h.now_us += 100'000;
    packets += i < 25 ? 100 : 1000;
    bar.Update(packets * 10, packets);
  }
  EXPECT_THAT(bar.Line(), HasSubstr("10.0k pkt/s"));
  EXPECT_THAT(bar.Line(), HasSubstr("ETA --:--"));
  EXPECT_THAT(bar.Line(), Not(HasSubstr("[")));
  EXPECT_THAT(bar.Line(), Not(HasSubstr("%")));
}

TEST(ProgressBarTest, ClearErasesAndNextUpdateRedraws) {
  Harness h;
  ProgressBar bar = h.Make(Opts(1000));
  h.now_us += 300'000;
  bar.Update(100, 1);
  bar.Clear();
  EXPECT_TRUE(absl::EndsWith(h.out, "\r\x1b[K"));
  const int writes = h.writes;
  bar.Clear();  // nothing on screen: nothing to erase
  EXPECT_EQ(h.writes, writes);
  h.now_us += 300'000;
  bar.Update(200, 2);
  EXPECT_EQ(h.writes, writes + 1);
}

TEST(ProgressBarTest, FinishPrintsTheTotalsOnceWithANewline) {
  Harness h;
  ProgressBar bar = h.Make(Opts(2000));
  h.now_us += 500'000;
  bar.Update(1000, 500);
  h.now_us += 1'500'000;
  bar.Finish(2000, 4000);
  const std::vector<std::string> lines = absl::StrSplit(h.out, '\r');
  const std::string last = lines.back();
  EXPECT_TRUE(absl::EndsWith(last, "\x1b[K\n"));
  EXPECT_THAT(last, HasSubstr("100.0%"));
  EXPECT_THAT(last, HasSubstr("done in 0:02"));
  EXPECT_THAT(last, HasSubstr("2.0k pkt/s"));  // 4000 packets over 2 s: the whole run
  EXPECT_THAT(last, Not(HasSubstr("ETA")));
  const int writes = h.writes;
  bar.Finish(2000, 4000);
  bar.Update(3000, 5000);
  EXPECT_EQ(h.writes, writes);
}

TEST(ProgressBarTest, ShortRunPrintsNothingAtAll) {
  Harness h;
  ProgressBar bar = h.Make(Opts(1000));
  h.now_us += 50'000;
  bar.Update(1000, 10);
  bar.Finish(1000, 10);
  EXPECT_EQ(h.out, "");
}

TEST(ProgressBarTest, ForcedBarAlwaysEndsWithTheFinalLine) {
  Harness h;
  ProgressOptions o = Opts(1000);
  o.final_line_always = true;
  ProgressBar bar = h.Make(o);
  h.now_us += 50'000;
  bar.Update(500, 5);
  EXPECT_EQ(h.out, "");  // still throttled
  bar.Finish(1000, 10);
  EXPECT_THAT(h.out, HasSubstr("100.0%"));
  EXPECT_THAT(h.out, HasSubstr("done in 0:00"));
  EXPECT_TRUE(absl::EndsWith(h.out, "\n"));
}

TEST(ProgressBarTest, NeverWiderThanTheTerminal) {
  for (int width : {20, 40, 60, 80, 200}) {
    Harness h;
    ProgressBar bar = h.Make(Opts(uint64_t{1} << 40, width));
    h.now_us += 1'000'000;
    bar.Update(uint64_t{1} << 39, 123'456'789);
    EXPECT_LT(bar.Line().size(), static_cast<size_t>(width)) << width << ": " << bar.Line();
  }
}

TEST(StatusTickerTest, DueOncePerInterval) {
  StatusTicker t(10, 0);
  double elapsed = 0;
  EXPECT_FALSE(t.Due(9'999'999, &elapsed));
  EXPECT_TRUE(t.Due(10'500'000, &elapsed));
  EXPECT_DOUBLE_EQ(elapsed, 10.5);
  EXPECT_FALSE(t.Due(20'000'000, &elapsed));
  EXPECT_TRUE(t.Due(20'500'000, &elapsed));
  EXPECT_DOUBLE_EQ(elapsed, 10.0);
  StatusTicker never(0, 0);
  EXPECT_FALSE(never.Due(1'000'000'000, &elapsed));
}

}  // namespace
}  // namespace nf
