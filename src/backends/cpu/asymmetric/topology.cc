#include "backends/cpu/asymmetric/topology.h"

#include <hwloc.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <tuple>

namespace tutti::cpu::asymmetric {
namespace {

constexpr const char* kRealSysfs = "/sys/devices/system/cpu";

// A small integer file under sysfs, or 0 when absent/unreadable (most VMs lack cpufreq).
int64_t ReadSysfsInt(const std::filesystem::path& p) {
  std::ifstream in(p);
  int64_t v = 0;
  if (!(in >> v)) return 0;
  return v;
}

// hwloc's view: for each os index, its kind's efficiency rank and core type name. Empty when hwloc
// reports a single kind (or none), which is the usual case on symmetric servers and VMs.
struct HwlocKind {
  int efficiency = -1;
  std::string core_type;
};
std::map<int, HwlocKind> HwlocKinds() {
  std::map<int, HwlocKind> out;
  hwloc_topology_t topo;
  if (hwloc_topology_init(&topo) != 0) return out;
  if (hwloc_topology_load(topo) != 0) {
    hwloc_topology_destroy(topo);
    return out;
  }
  int nr = hwloc_cpukinds_get_nr(topo, 0);
  if (nr > 1) {
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    for (int k = 0; k < nr; ++k) {
      int efficiency = -1;
      unsigned nr_infos = 0;
      struct hwloc_info_s* infos = nullptr;
      if (hwloc_cpukinds_get_info(topo, static_cast<unsigned>(k), set, &efficiency, &nr_infos, &infos, 0) != 0)
        continue;
      HwlocKind kind;
      // Kinds come ordered from least to most powerful; use the index when efficiency is unknown.
      kind.efficiency = efficiency >= 0 ? efficiency : k;
      for (unsigned i = 0; i < nr_infos; ++i)
        if (std::string(infos[i].name) == "CoreType") kind.core_type = infos[i].value;
      int cpu = -1;
      while ((cpu = hwloc_bitmap_next(set, cpu)) != -1) out[cpu] = kind;
    }
    hwloc_bitmap_free(set);
  }
  hwloc_topology_destroy(topo);
  return out;
}

std::vector<int> CpusInTree(const std::filesystem::path& root) {
  std::vector<int> cpus;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(root, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() > 3 && name.rfind("cpu", 0) == 0 &&
        std::all_of(name.begin() + 3, name.end(), [](char c) { return c >= '0' && c <= '9'; }))
      cpus.push_back(std::stoi(name.substr(3)));
  }
  std::sort(cpus.begin(), cpus.end());
  return cpus;
}

// Names clusters the way users know them: hwloc's core type when it has one, else big/LITTLE for
// two clusters, else by rank.
std::string ClusterKindName(const HwlocKind& hk, size_t rank, size_t clusters) {
  if (hk.core_type == "IntelCore") return "P-core";
  if (hk.core_type == "IntelAtom") return "E-core";
  if (!hk.core_type.empty()) return hk.core_type;
  if (clusters == 1) return "core";
  if (clusters == 2) return rank == 0 ? "big" : "LITTLE";
  return "kind" + std::to_string(rank);
}

}  // namespace

const CoreInfo* CpuTopology::core(int os_index) const {
  for (const CoreInfo& c : cores)
    if (c.os_index == os_index) return &c;
  return nullptr;
}

std::vector<int> AllowedCores() {
  std::vector<int> cores;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cores.push_back(c);
  }
  if (cores.empty()) cores.push_back(0);
  return cores;
}

bool PinCurrentThread(int core) {
  if (core < 0 || core >= CPU_SETSIZE) return false;  // CPU_SET beyond the set is undefined
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
}

Result<CpuTopology> DetectCpuTopology(const TopologyOptions& options) {
  const std::filesystem::path root(options.sysfs_cpu_root);
  const bool real = options.sysfs_cpu_root == kRealSysfs;
  std::vector<int> cores = options.cores;
  if (cores.empty()) cores = real ? AllowedCores() : CpusInTree(root);
  if (cores.empty()) return NotFound("no CPU cores under ", options.sysfs_cpu_root);
  std::sort(cores.begin(), cores.end());
  cores.erase(std::unique(cores.begin(), cores.end()), cores.end());
  if (cores.front() < 0) return InvalidArgument("CPU core ", cores.front(), " does not exist");
  if (real) {
    const std::vector<int> allowed = AllowedCores();
    for (int c : cores)
      if (!std::binary_search(allowed.begin(), allowed.end(), c))
        return InvalidArgument("CPU core ", c, " is not available to this process (allowed: ", allowed.size(),
                               " cores)");
  }

  const std::map<int, HwlocKind> hw = real ? HwlocKinds() : std::map<int, HwlocKind>{};
  CpuTopology topo;
  for (int c : cores) {
    CoreInfo info;
    info.os_index = c;
    const std::filesystem::path dir = root / ("cpu" + std::to_string(c));
    info.capacity = ReadSysfsInt(dir / "cpu_capacity");
    info.max_freq_khz = ReadSysfsInt(dir / "cpufreq" / "cpuinfo_max_freq");
    if (auto it = hw.find(c); it != hw.end()) info.efficiency = it->second.efficiency;
    topo.cores.push_back(info);
  }

  // Cluster key: the strongest signal first, so sorting keys puts the fastest cluster first.
  using Key = std::tuple<int, int64_t, int64_t>;
  auto key = [](const CoreInfo& c) { return Key{c.efficiency, c.capacity, c.max_freq_khz}; };
  std::vector<Key> keys;
  for (const CoreInfo& c : topo.cores) keys.push_back(key(c));
  std::sort(keys.begin(), keys.end(), std::greater<>());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  topo.clusters.resize(keys.size());
  for (CoreInfo& c : topo.cores) {
    size_t idx = static_cast<size_t>(std::find(keys.begin(), keys.end(), key(c)) - keys.begin());
    c.cluster = static_cast<int>(idx);
    topo.clusters[idx].cores.push_back(c.os_index);
  }
  for (size_t i = 0; i < topo.clusters.size(); ++i) {
    HwlocKind hk;
    if (auto it = hw.find(topo.clusters[i].cores.front()); it != hw.end()) hk = it->second;
    topo.clusters[i].kind = ClusterKindName(hk, i, topo.clusters.size());
  }
  for (CoreInfo& c : topo.cores) c.kind = topo.clusters[static_cast<size_t>(c.cluster)].kind;
  return topo;
}

}  // namespace tutti::cpu::asymmetric
