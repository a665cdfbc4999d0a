#include "backends/cpu/asymmetric/core_speed.h"

#include "backends/cpu/asymmetric/topology.h"

#include <dnnl.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <numeric>
#include <thread>

namespace tutti::cpu::asymmetric {
namespace {

// Below this much busy time in a phase a core's rate is mostly timer and wake-up noise.
constexpr double kMinBusySeconds = 20e-6;

}  // namespace

CoreSpeeds::CoreSpeeds(std::vector<double> gflops, double smoothing)
    : n_(gflops.size()), smoothing_(smoothing), speed_(new std::atomic<double>[gflops.size()]) {
  for (size_t i = 0; i < n_; ++i) speed_[i].store(std::max(gflops[i], 1e-3), std::memory_order_relaxed);
}

std::vector<double> CoreSpeeds::Snapshot() const {
  std::vector<double> v(n_);
  for (size_t i = 0; i < n_; ++i) v[i] = gflops(i);
  return v;
}

void CoreSpeeds::Reset(const std::vector<double>& gflops) {
  std::lock_guard<std::mutex> lock(update_mu_);
  for (size_t i = 0; i < n_ && i < gflops.size(); ++i)
    speed_[i].store(std::max(gflops[i], 1e-3), std::memory_order_relaxed);
}

void CoreSpeeds::Observe(const std::vector<double>& flops, const std::vector<double>& busy_s) {
  std::vector<size_t> seen;
  double rate_sum = 0, speed_sum = 0;
  std::lock_guard<std::mutex> lock(update_mu_);
  for (size_t i = 0; i < n_ && i < flops.size() && i < busy_s.size(); ++i) {
    if (busy_s[i] < kMinBusySeconds || flops[i] <= 0) continue;
    seen.push_back(i);
    rate_sum += flops[i] / busy_s[i];
    speed_sum += gflops(i);
  }
  if (seen.size() < 2) return;
  // Only the ratios between cores are learned from a phase: each core's rate relative to the phase's
  // mean rate, scaled to the current mean speed of the same cores (so the scale stays that of the
  // measured probe, and a memory-bound phase does not drag every estimate down).
  const double mean_rate = rate_sum / static_cast<double>(seen.size());
  const double mean_speed = speed_sum / static_cast<double>(seen.size());
  for (size_t i : seen) {
    const double observed = flops[i] / busy_s[i] / mean_rate * mean_speed;
    const double updated = (1 - smoothing_) * gflops(i) + smoothing_ * observed;
    speed_[i].store(std::max(updated, 1e-3), std::memory_order_relaxed);
  }
}

double SpeedSpread(const std::vector<double>& gflops) {
  if (gflops.empty()) return 0;
  auto [lo, hi] = std::minmax_element(gflops.begin(), gflops.end());
  return *lo > 0 ? *hi / *lo - 1 : 0;
}

Result<std::vector<double>> MeasureCoreSpeeds(const std::vector<int>& cores, double duration_s) {
  // A block of the size the partitioner produces for mid-sized convolutions (fits in L2).
  constexpr int kM = 64, kN = 256, kK = 256;
  constexpr double kFlops = 2.0 * kM * kN * kK;
  std::vector<double> gflops(cores.size(), 0);
  std::vector<int> failed(cores.size(), 0);
  std::atomic<size_t> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (size_t i = 0; i < cores.size(); ++i) {
    threads.emplace_back([&, i] {
      if (!PinCurrentThread(cores[i])) failed[i] = 1;
      omp_set_num_threads(1);
      std::vector<float> a(kM * kK, 0.5f), b(kK * kN, 0.25f), c(kM * kN);
      dnnl_sgemm('N', 'N', kM, kN, kK, 1.f, a.data(), kK, b.data(), kN, 0.f, c.data(), kN);  // JIT warm-up
      ready.fetch_add(1);
      while (!go.load()) std::this_thread::yield();
      using Clock = std::chrono::steady_clock;
      const auto start = Clock::now();
      int64_t blocks = 0;
      double elapsed = 0;
      do {
        dnnl_sgemm('N', 'N', kM, kN, kK, 1.f, a.data(), kK, b.data(), kN, 0.f, c.data(), kN);
        ++blocks;
        elapsed = std::chrono::duration<double>(Clock::now() - start).count();
      } while (elapsed < duration_s);
      gflops[i] = kFlops * static_cast<double>(blocks) / elapsed / 1e9;
    });
  }
  while (ready.load() < cores.size()) std::this_thread::yield();
  go.store(true);
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < cores.size(); ++i)
    if (failed[i]) return Unavailable("cannot pin a thread to CPU core ", cores[i]);
  return gflops;
}

}  // namespace tutti::cpu::asymmetric
