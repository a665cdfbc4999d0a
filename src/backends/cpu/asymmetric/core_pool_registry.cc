#include "backends/cpu/asymmetric/core_pool_registry.h"

#include <algorithm>
#include <map>
#include <mutex>

#include "backends/cpu/asymmetric/core_speed.h"
#include "backends/cpu/asymmetric/topology.h"

namespace tutti::cpu::asymmetric {
namespace {

// Weight of one phase's observation in a core's speed: a core that turns busy is noticed within a
// few operators, and one preempted phase does not swing the estimate.
constexpr double kSpeedSmoothing = 0.2;

}  // namespace

Result<std::shared_ptr<CorePool>> SharedCorePool(std::vector<int> cores) {
  static std::mutex mu;
  // Pools live for the process: their workers sleep when idle, and a fresh pool would measure the
  // cores again (tens of milliseconds) on every compile.
  static std::map<std::vector<int>, std::shared_ptr<CorePool>> pools;  // guarded by mu
  // A core listed twice gets two workers (oversubscription, e.g. to test more workers than blocks).
  if (cores.empty()) return InvalidArgument("a core pool needs at least one core");
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = pools.find(cores); it != pools.end()) return it->second;
  TopologyOptions topo_options;
  topo_options.cores = cores;
  TUTTI_ASSIGN_OR_RETURN(CpuTopology topo, DetectCpuTopology(topo_options));
  std::vector<int> clusters;
  for (int c : cores) clusters.push_back(topo.core(c) ? topo.core(c)->cluster : 0);
  TUTTI_ASSIGN_OR_RETURN(std::vector<double> speeds, MeasureCoreSpeeds(cores));
  TUTTI_ASSIGN_OR_RETURN(std::shared_ptr<CorePool> pool,
                         CorePool::Create(cores, std::move(clusters), std::move(speeds), kSpeedSmoothing));
  pools[cores] = pool;
  return pool;
}

bool CoresDiffer(const CorePool& pool) {
  return pool.cluster_count() > 1 || SpeedSpread(pool.speeds().Snapshot()) > kAsymmetricSpreadThreshold;
}

}  // namespace tutti::cpu::asymmetric
