// Application-level link shaping for `tutti worker --link-rate` (issue 7): a token bucket like tc's
// tbf, for test beds that cannot shape a real link (no network namespaces in a container). The
// worker passes every request it receives and every reply it sends through one bucket per
// direction, so a coordinator on loopback sees a 100 Mbit/s device as it would over a veth pair.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include "core/status.h"

namespace tutti::remote {

// Time source of a TokenBucket: the steady clock in the worker, a fake one in tests.
class ShapingClock {
 public:
  virtual ~ShapingClock() = default;
  virtual double NowSeconds() = 0;
  virtual void SleepSeconds(double s) = 0;
};

// The process's steady clock (never destroyed, shared by every bucket).
ShapingClock& SteadyShapingClock();

// Tokens are bytes, earned at `bytes_per_second` up to `burst_bytes` while the link is idle. A
// transfer takes its bytes at once and, when that drives the bucket below zero, waits until the
// debt is repaid -- so concurrent transfers queue behind each other as on a real link, and a run of
// transfers of B bytes each takes B / rate apiece once the burst is spent. Thread-safe.
class TokenBucket {
 public:
  TokenBucket(double bytes_per_second, double burst_bytes, ShapingClock& clock);

  // Books `bytes` on the link now; returns how many seconds the caller must wait before they have
  // passed (0 while the burst covers them).
  double Reserve(int64_t bytes);
  // Reserve, then wait that long on the clock.
  void Pass(int64_t bytes);

 private:
  const double rate_, burst_;
  ShapingClock& clock_;
  std::mutex mu_;
  double tokens_;  // may go negative: bytes booked but not yet through
  double last_s_;
};

// tc's burst for a tbf at 100 Mbit/s in scripts/testbed.sh ("burst 64kb").
inline constexpr double kLinkBurstBytes = 64 * 1024;

// A rate in tc's units, as bytes per second: a number with bit, kbit, mbit, gbit, tbit (powers of
// 1000), kibit, mibit, gibit, tibit (powers of 1024), or the same with bps for bytes per second; a
// bare number is bits per second. "100mbit" -> 12.5e6.
Result<double> ParseLinkRate(const std::string& text);

}  // namespace tutti::remote
