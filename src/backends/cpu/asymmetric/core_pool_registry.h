// The process's pinned core pools: one per set of cores, shared by every executable compiled for
// those cores (two pools pinned to the same cores would only fight over them).
#pragma once

#include <memory>
#include <vector>

#include "backends/cpu/asymmetric/thread_pool.h"
#include "core/status.h"

namespace tutti::cpu::asymmetric {

// The pool for `cores` (os indices), created on first use: clusters from DetectCpuTopology, starting
// speeds measured on every core at once (MeasureCoreSpeeds). Fails when a core cannot be pinned.
Result<std::shared_ptr<CorePool>> SharedCorePool(std::vector<int> cores);

// Measured speeds differing by more than this (max/min - 1) make the cores "differ" for kAuto.
inline constexpr double kAsymmetricSpreadThreshold = 0.25;

// Whether the pool's cores differ: declared kinds (more than one cluster) or measured speeds.
bool CoresDiffer(const CorePool& pool);

}  // namespace tutti::cpu::asymmetric
