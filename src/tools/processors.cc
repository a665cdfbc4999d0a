// `tutti processors`: what the engine would run on when its config lists no processors -- one
// processor per CPU core cluster and one per CUDA device -- with the per-core facts the clusters
// come from, so a user can write an explicit engine config from it.
#include <cstdio>

#include "backends/cpu/asymmetric/topology.h"
#include "engine/processor.h"
#include "tools/cli_util.h"

namespace tutti::cli {
namespace {

int ProcessorsBody(Args& args) {
  const bool json = args.Has("json");
  if (Status s = args.CheckAllUsed(); !s.ok()) return ReportError(s);
  if (!args.positional().empty())
    return ReportError(InvalidArgument("tutti processors takes no arguments, got '", args.positional()[0], "'"));
  const std::vector<ProcessorSpec> specs = DiscoverProcessors();
  auto topo = cpu::asymmetric::DetectCpuTopology();

  Json procs = Json::array();
  for (const ProcessorSpec& s : specs)
    procs.push_back({{"name", s.name}, {"device", s.device}, {"cluster", s.cluster.empty() ? Json(nullptr) : Json(s.cluster)},
                     {"cores", s.cpu_cores.empty() ? Json(nullptr) : Json(FormatCoreList(s.cpu_cores))},
                     {"threads", s.threads}, {"memory_domain", s.MemoryDomain()}, {"profile_key", s.ProfileKey()}});
  Json cores = Json::array();
  if (topo.ok())
    for (const auto& c : topo->cores)
      cores.push_back({{"core", c.os_index}, {"kind", c.kind}, {"cluster", c.cluster},
                       {"capacity", c.capacity > 0 ? Json(c.capacity) : Json(nullptr)},
                       {"max_freq_mhz", c.max_freq_khz > 0 ? Json(c.max_freq_khz / 1000) : Json(nullptr)},
                       {"efficiency", c.efficiency >= 0 ? Json(c.efficiency) : Json(nullptr)}});
  if (json) {
    Json j{{"processors", procs}, {"cpu_cores", cores}};
    if (!topo.ok()) j["cpu_topology_error"] = topo.status().message();
    std::printf("%s\n", DumpJson(j).c_str());
    return 0;
  }
  std::printf("%zu processor%s:\n", specs.size(), specs.size() == 1 ? "" : "s");
  for (const ProcessorSpec& s : specs) std::printf("  %s\n", s.Describe().c_str());
  if (topo.ok()) {
    std::printf("cpu cores:\n  %-5s %-8s %-8s %-9s %-9s %s\n", "core", "kind", "cluster", "capacity", "max MHz", "efficiency");
    for (const auto& c : topo->cores) {
      auto or_dash = [](int64_t v) { return v > 0 ? std::to_string(v) : std::string("-"); };
      std::printf("  %-5d %-8s %-8d %-9s %-9s %s\n", c.os_index, c.kind.c_str(), c.cluster, or_dash(c.capacity).c_str(),
                  or_dash(c.max_freq_khz / 1000).c_str(), c.efficiency >= 0 ? std::to_string(c.efficiency).c_str() : "-");
    }
  } else {
    std::printf("cpu topology unknown: %s\n", topo.status().message().c_str());
  }
  return 0;
}

}  // namespace

TUTTI_REGISTER_COMMAND("processors", "list the processors the engine discovers (CPU core clusters, CUDA devices)",
                       "usage: tutti processors [--json]\n"
                       "  Lists one processor per CPU core cluster (hwloc CPU kinds, else sysfs capacity and max\n"
                       "  frequency) and one per CUDA device, as an engine config with no \"processors\" uses them,\n"
                       "  then each core's kind, capacity and max frequency.\n"
                       "  --json               print as JSON",
                       &ProcessorsBody);

}  // namespace tutti::cli
