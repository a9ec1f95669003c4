// The collector's statistics text and JSON: where the kernel keeps no per-socket drop counter
// (FreeBSD) the drops are shown as unknown, never as a reassuring zero.
#include "collector/stats/stats_report.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nf {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(StatsReportTest, KernelDropsAreANumberWhereCountedAndUnknownElsewhere) {
  DecoderSummary decoder;
  InputStats in;
  OutputStats out;
  in.receive.kernel_drops = 7;
  in.receive.kernel_drops_available = true;
  EXPECT_THAT(StatsText(decoder, in, out), HasSubstr("kernel drops 7,"));
  EXPECT_THAT(StatsJson(decoder, in, out), HasSubstr("\"kernel_drops\":7,"));

  in.receive.kernel_drops = 0;
  in.receive.kernel_drops_available = false;
  const std::string text = StatsText(decoder, in, out);
  const std::string json = StatsJson(decoder, in, out);
  EXPECT_THAT(text, HasSubstr("kernel drops n/a,"));
  EXPECT_THAT(json, HasSubstr("\"kernel_drops\":null,"));
  EXPECT_THAT(json, Not(HasSubstr("\"kernel_drops\":0")));
}

}  // namespace
}  // namespace nf
