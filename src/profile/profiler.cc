#include "profile/profiler.h"

#include <algorithm>
#include <chrono>
#include <vector>

namespace tutti {

Result<double> ProfileMedianUs(const std::function<Status()>& run, const ProfilerOptions& options) {
  for (int i = 0; i < options.warmup_runs; ++i) TUTTI_RETURN_IF_ERROR(run());
  std::vector<double> us;
  for (int i = 0; i < std::max(1, options.timed_runs); ++i) {
    auto t0 = std::chrono::steady_clock::now();
    TUTTI_RETURN_IF_ERROR(run());
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::nth_element(us.begin(), us.begin() + static_cast<long>(us.size() / 2), us.end());
  return us[us.size() / 2];
}

}  // namespace tutti
