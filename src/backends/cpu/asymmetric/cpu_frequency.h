// AsyMo's energy-first mode (seed 001 §5): the CPU frequency for each heavy operator from its data
// reuse. A matrix multiply (M,K) x (K,N) does 2MNK flops over MK + NK + 2MN elements moved, so its
// reuse is 2MNK / (MK + NK + 2MN). High reuse (convolutions) is compute-bound: it finishes sooner
// and spends less energy at the top frequency. Low reuse (FC layers at batch 1, GEMV) waits on
// memory whatever the clock: a lower frequency costs little time and saves power.
//
// Frequencies are set through Linux cpufreq, under a configurable root so tests use a fake tree:
//   <root>/cpuN/cpufreq/{cpuinfo_min_freq, cpuinfo_max_freq, scaling_available_frequencies,
//                        scaling_governor, scaling_max_freq, scaling_setspeed}
// scaling_max_freq caps the clock under any governor; with the "userspace" governor the chosen
// frequency also goes to scaling_setspeed. The original caps are restored when the controller goes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"
#include "graph/graph.h"

namespace tutti::cpu::asymmetric {

// 2MNK / (MK + NK + 2MN); 0 for an empty product.
double DataReuse(double m, double n, double k);

// The data reuse of a Conv (as the GEMM it lowers to: M = output pixels x batch, N = output
// channels per group, K = input channels per group x kernel), Gemm or MatMul node whose shapes are
// known; -1 for any other node.
double OperatorDataReuse(const Graph& graph, const Node& node);

struct EnergyPolicy {
  // At or above this reuse an operator is compute-bound and runs at the top frequency. A GEMV has
  // reuse < 2; a 3x3 convolution of a ResNet stage has hundreds.
  double compute_bound_reuse = 16;
  // Memory-bound operators run at the lowest available frequency at or above this fraction of the
  // top one (the seed found lower clocks stop saving energy once memory latency rises).
  double memory_bound_fraction = 0.6;
};

class CpuFrequencyController {
 public:
  // Reads the cpufreq state of `cores` under `sysfs_cpu_root` and checks it can write it. Always
  // returns a controller; can_set() says whether it will change anything, reason() why not.
  static std::unique_ptr<CpuFrequencyController> Open(const std::string& sysfs_cpu_root, const std::vector<int>& cores,
                                                      EnergyPolicy policy = {});
  ~CpuFrequencyController();  // restores the caps found at Open

  bool can_set() const { return can_set_; }
  const std::string& reason() const { return reason_; }
  int64_t max_khz() const { return max_khz_; }
  int64_t min_khz() const { return min_khz_; }

  // The frequency an operator with this reuse should run at (the top one when reuse < 0: unknown).
  int64_t FrequencyFor(double reuse) const;
  // Sets every core to `khz` (nothing is written when it is already the current setting).
  Status Apply(int64_t khz);
  int64_t current_khz() const;

 private:
  CpuFrequencyController() = default;
  struct Core {
    std::string dir;            // <root>/cpuN/cpufreq
    std::string original_max;   // scaling_max_freq at Open
    std::string original_speed; // scaling_setspeed at Open (userspace governor only)
    bool userspace = false;
  };
  EnergyPolicy policy_;
  std::vector<Core> cores_;
  std::vector<int64_t> available_;  // ascending; empty: any value in [min, max]
  int64_t min_khz_ = 0, max_khz_ = 0;
  bool can_set_ = false;
  std::string reason_;
  mutable std::mutex mu_;  // guards current_ and the writes (several executables may share cores)
  int64_t current_ = -1;
};

// Says once per process, on stderr, that energy-first mode cannot set frequencies and why.
void WarnEnergyModeUnavailableOnce(const std::string& reason);

}  // namespace tutti::cpu::asymmetric
