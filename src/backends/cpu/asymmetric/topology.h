// Which CPU cores this process may use, what kind each is, and how they group into clusters.
//
// AsyMo (MobiCom'21, seed 001) partitions a matrix multiply first across processors (clusters of
// like cores: big / LITTLE, P / E) and then across the cores of each; this is where the clusters come
// from. Sources, in order of authority: hwloc's CPU kinds (efficiency ranking and "CoreType" info on
// hybrid x86 and big.LITTLE), then sysfs `cpu_capacity` (arm64 and recent x86 kernels) and
// `cpufreq/cpuinfo_max_freq`. Cores of equal kind, capacity and max frequency form one cluster.
// The static kind says nothing about load from other processes; core_speed.h measures that.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace tutti::cpu::asymmetric {

struct CoreInfo {
  int os_index = 0;          // logical CPU number (what sched_setaffinity takes)
  int cluster = 0;           // index into CpuTopology::clusters
  std::string kind;          // "P-core", "E-core", "big", "LITTLE", or "core" when all alike
  int64_t capacity = 0;      // sysfs cpu_capacity (1024 = the biggest core); 0 when unknown
  int64_t max_freq_khz = 0;  // sysfs cpuinfo_max_freq; 0 when unknown
  int efficiency = -1;       // hwloc kind efficiency rank (higher = faster); -1 when unknown
};

struct CoreCluster {
  std::string kind;
  std::vector<int> cores;  // os indices, ascending
};

struct CpuTopology {
  std::vector<CoreInfo> cores;  // ascending os_index
  std::vector<CoreCluster> clusters;  // fastest kind first
  // True when the static facts already say the cores differ (more than one cluster).
  bool heterogeneous() const { return clusters.size() > 1; }
  const CoreInfo* core(int os_index) const;
};

struct TopologyOptions {
  // Root of the sysfs CPU tree; tests point it at a fake tree. hwloc is consulted only when this is
  // the real "/sys/devices/system/cpu" (hwloc reads the real machine, not the fake tree).
  std::string sysfs_cpu_root = "/sys/devices/system/cpu";
  // Cores to describe; empty = the process's affinity mask (or, with a fake tree, every cpuN in it).
  std::vector<int> cores;
};

Result<CpuTopology> DetectCpuTopology(const TopologyOptions& options = {});

// The cores this process may run on (sched_getaffinity), ascending.
std::vector<int> AllowedCores();

// Pins the calling thread to one core; false when the core is out of range or not allowed.
bool PinCurrentThread(int core);

}  // namespace tutti::cpu::asymmetric
