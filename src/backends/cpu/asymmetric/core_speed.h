// Each core's effective speed for GEMM-like blocks, in GFLOP/s, measured and then kept current.
//
// Static core kinds (topology.h) cannot see another process sharing a core or a frequency drop, so
// AsyMo measures. MeasureCoreSpeeds() runs the same oneDNN sgemm block on every core at once (all
// cores busy, as during inference). While serving, the thread pool reports each phase's per-core
// rates and CoreSpeeds folds them in with exponential smoothing, so a core that gets busier gets less
// work from then on. Rates of one phase are compared with each other only (a memory-bound GEMV phase
// runs at a tenth of a conv's GFLOP/s on every core; that must not look like every core slowing down).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "core/status.h"

namespace tutti::cpu::asymmetric {

class CoreSpeeds {
 public:
  // gflops[i]: the starting estimate for worker i (> 0). smoothing: weight of a new observation.
  CoreSpeeds(std::vector<double> gflops, double smoothing);

  size_t size() const { return n_; }
  double gflops(size_t worker) const { return speed_[worker].load(std::memory_order_relaxed); }
  std::vector<double> Snapshot() const;
  double smoothing() const { return smoothing_; }

  // One phase's observations: flops[i] done by worker i in busy_s[i] seconds of wall time. Workers
  // with too little busy time to time reliably are ignored; with fewer than two left, nothing is
  // learned (a single core's rate says nothing about relative speed).
  void Observe(const std::vector<double>& flops, const std::vector<double>& busy_s);
  // Replaces every estimate (after a fresh measurement).
  void Reset(const std::vector<double>& gflops);

 private:
  size_t n_;
  double smoothing_;
  std::unique_ptr<std::atomic<double>[]> speed_;
  std::mutex update_mu_;  // serialises Observe/Reset (concurrent phases from several executables)
};

// Effective GFLOP/s of each given core, all measured at once by pinned threads running a fixed sgemm
// block for about `duration_s`. Fails only if a thread cannot be pinned to a listed core.
Result<std::vector<double>> MeasureCoreSpeeds(const std::vector<int>& cores, double duration_s = 0.05);

// Relative spread (max/min - 1) of speeds; the "auto" partition mode compares it to a threshold.
double SpeedSpread(const std::vector<double>& gflops);

}  // namespace tutti::cpu::asymmetric
