#include "remote/token_bucket.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <thread>

namespace tutti::remote {
namespace {

class SteadyClock final : public ShapingClock {
 public:
  double NowSeconds() override {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
  void SleepSeconds(double s) override {
    if (s > 0) std::this_thread::sleep_for(std::chrono::duration<double>(s));
  }
};

}  // namespace

ShapingClock& SteadyShapingClock() {
  static SteadyClock* clock = new SteadyClock;
  return *clock;
}

TokenBucket::TokenBucket(double bytes_per_second, double burst_bytes, ShapingClock& clock)
    : rate_(bytes_per_second), burst_(std::max(0.0, burst_bytes)), clock_(clock), tokens_(burst_),
      last_s_(clock.NowSeconds()) {}

double TokenBucket::Reserve(int64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  double now = clock_.NowSeconds();
  tokens_ = std::min(burst_, tokens_ + (now - last_s_) * rate_);
  last_s_ = now;
  tokens_ -= static_cast<double>(std::max<int64_t>(0, bytes));
  return tokens_ < 0 ? -tokens_ / rate_ : 0.0;
}

void TokenBucket::Pass(int64_t bytes) { clock_.SleepSeconds(Reserve(bytes)); }

Result<double> ParseLinkRate(const std::string& text) {
  const char* s = text.c_str();
  char* end = nullptr;
  double value = std::strtod(s, &end);
  if (end == s || !std::isfinite(value) || value <= 0)
    return InvalidArgument("link rate '", text, "' is not a positive number with a unit like 100mbit");
  std::string unit(end);
  std::transform(unit.begin(), unit.end(), unit.begin(), [](unsigned char c) { return std::tolower(c); });
  struct Unit {
    const char* name;
    double bytes_per_second;
  };
  static const Unit kUnits[] = {
      {"", 1 / 8.0},       {"bit", 1 / 8.0},    {"kbit", 1e3 / 8},         {"mbit", 1e6 / 8},
      {"gbit", 1e9 / 8},   {"tbit", 1e12 / 8},  {"kibit", 1024.0 / 8},     {"mibit", 1048576.0 / 8},
      {"gibit", 1073741824.0 / 8},              {"tibit", 1099511627776.0 / 8},
      {"bps", 1},          {"kbps", 1e3},       {"mbps", 1e6},             {"gbps", 1e9},
      {"tbps", 1e12},      {"kibps", 1024.0},   {"mibps", 1048576.0},      {"gibps", 1073741824.0},
      {"tibps", 1099511627776.0},
  };
  for (const Unit& u : kUnits)
    if (unit == u.name) {
      double rate = value * u.bytes_per_second;
      // Below one byte a second a single tile would take days: surely a typo.
      if (rate < 1) return InvalidArgument("link rate '", text, "' is below 8 bit/s");
      return rate;
    }
  return InvalidArgument("link rate '", text, "' has unknown unit '", unit,
                         "' (use bit, kbit, mbit, gbit, kibit, ..., or bps, kbps, mbps, ...)");
}

}  // namespace tutti::remote
