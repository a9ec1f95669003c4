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

// --listen-tcp: the TCP counters get a text line and a JSON object; without it, neither.
TEST(StatsReportTest, TcpCountersOnlyWhenListeningOnTcp) {
  DecoderSummary decoder;
  InputStats in;
  OutputStats out;
  in.tcp.accepted = 2;
  in.tcp.messages = 3;
  in.tcp.closed_slow = 1;
  EXPECT_THAT(StatsText(decoder, in, out), Not(HasSubstr("tcp:")));
  EXPECT_THAT(StatsJson(decoder, in, out), Not(HasSubstr("\"tcp\"")));
  in.tcp_listening = true;
  EXPECT_THAT(StatsText(decoder, in, out), HasSubstr("tcp: messages 3,"));
  EXPECT_THAT(StatsText(decoder, in, out), HasSubstr("slow 1,"));
  const std::string json = StatsJson(decoder, in, out);
  EXPECT_THAT(json, HasSubstr("\"tcp\":{\"accepted\":2,"));
  EXPECT_THAT(json, HasSubstr("\"closed_slow\":1,"));
  EXPECT_THAT(json, HasSubstr("\"messages\":3,"));
}

}  // namespace
}  // namespace nf
