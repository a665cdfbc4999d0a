// Offline profiling: time a run function after warm-ups and keep the median, which is robust to
// the odd preempted run on a shared machine (the mean is not).
#pragma once

#include <functional>

#include "core/status.h"

namespace tutti {

struct ProfilerOptions {
  int warmup_runs = 1;
  int timed_runs = 3;
};

// Median wall time of `run` in microseconds; the first failing run's Status otherwise.
Result<double> ProfileMedianUs(const std::function<Status()>& run, const ProfilerOptions& options);

}  // namespace tutti
