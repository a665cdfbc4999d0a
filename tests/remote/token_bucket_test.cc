// The worker's link shaper (`tutti worker --link-rate`): a token bucket on a fake clock, with
// delays worked by hand, and tc's rate units.
#include <gtest/gtest.h>

#include "remote/token_bucket.h"

namespace tutti::remote {
namespace {

// Time moves only when the test (or a Pass) says so.
class FakeClock final : public ShapingClock {
 public:
  double NowSeconds() override { return now; }
  void SleepSeconds(double s) override {
    slept += s;
    now += s;
  }
  double now = 5.0, slept = 0;
};

TEST(TokenBucket, BurstThenDebtThenRefill) {
  FakeClock clock;
  TokenBucket b(/*bytes_per_second=*/1000, /*burst_bytes=*/100, clock);
  EXPECT_DOUBLE_EQ(b.Reserve(50), 0.0);    // 100 - 50 = 50 tokens left
  EXPECT_DOUBLE_EQ(b.Reserve(150), 0.1);   // 50 - 150 = -100: 100 bytes at 1000 B/s
  EXPECT_DOUBLE_EQ(b.Reserve(100), 0.2);   // queued behind the first: -200
  clock.now += 0.25;                       // +250 tokens: 50
  EXPECT_DOUBLE_EQ(b.Reserve(50), 0.0);    // 0
  clock.now += 10;                         // refill stops at the burst: 100
  EXPECT_DOUBLE_EQ(b.Reserve(1100), 1.0);  // 100 - 1100 = -1000
}

TEST(TokenBucket, BackToBackTransfersTakeBytesOverRateOnceTheBurstIsSpent) {
  FakeClock clock;
  TokenBucket b(1000, 100, clock);
  b.Pass(500);  // the burst covers 100 of them: 0.4 s
  EXPECT_DOUBLE_EQ(clock.slept, 0.4);
  b.Pass(500);  // bucket empty when it starts: 0.5 s
  EXPECT_DOUBLE_EQ(clock.slept, 0.9);
  b.Pass(500);
  EXPECT_DOUBLE_EQ(clock.slept, 1.4);
  b.Pass(0);  // nothing to send, nothing to wait for
  EXPECT_DOUBLE_EQ(clock.slept, 1.4);
}

TEST(TokenBucket, HundredMegabitLinkMovesAQuarterMebibyteIn21Ms) {
  FakeClock clock;
  TokenBucket b(12.5e6, kLinkBurstBytes, clock);
  b.Pass(256 << 10);  // (262144 - 65536) B / 12.5e6 B/s = 15.72864 ms
  EXPECT_NEAR(clock.slept, 0.01572864, 1e-12);
  b.Pass(256 << 10);  // 262144 / 12.5e6 = 20.97152 ms
  EXPECT_NEAR(clock.slept - 0.01572864, 0.02097152, 1e-12);
}

TEST(ParseLinkRate, TcUnits) {
  EXPECT_DOUBLE_EQ(*ParseLinkRate("100mbit"), 12.5e6);
  EXPECT_DOUBLE_EQ(*ParseLinkRate("1gbit"), 125e6);
  EXPECT_DOUBLE_EQ(*ParseLinkRate("800kbit"), 1e5);
  EXPECT_DOUBLE_EQ(*ParseLinkRate("1.5Mbit"), 187500);
  EXPECT_DOUBLE_EQ(*ParseLinkRate("8mibit"), 1048576);
  EXPECT_DOUBLE_EQ(*ParseLinkRate("10mbps"), 10e6);
  EXPECT_DOUBLE_EQ(*ParseLinkRate("2kibps"), 2048);
  EXPECT_DOUBLE_EQ(*ParseLinkRate("8000"), 1000);  // a bare number is bits per second, as in tc
}

TEST(ParseLinkRate, BadValuesAreOneLineErrors) {
  for (const char* bad : {"", "fast", "mbit", "0mbit", "-5mbit", "100mbits", "100 mbit", "nanmbit", "1bit"}) {
    auto r = ParseLinkRate(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("link rate"), std::string::npos) << r.status().message();
    EXPECT_EQ(r.status().message().find('\n'), std::string::npos);
  }
}

}  // namespace
}  // namespace tutti::remote
