// `tutti processors`: what the engine would run on when its config lists no processors -- one
// processor per CPU core cluster and one per CUDA device -- with the per-core facts the clusters
// come from, so a user can write an explicit engine config from it.
#include <cmath>
#include <cstdio>
#include <optional>

#include "backends/cpu/asymmetric/block_cost_model.h"
#include "backends/cpu/asymmetric/core_speed.h"
#include "backends/cpu/asymmetric/topology.h"
#include "engine/processor.h"
#include "tools/cli_util.h"

namespace tutti::cli {
namespace {

// --calibrate: AsyMo's offline training of the block cost model on this machine (one core, alone).
Result<cpu::asymmetric::BlockCostModel> CalibrateCostModel(std::string& path) {
  const std::vector<int> allowed = cpu::asymmetric::AllowedCores();
  cpu::asymmetric::PinCurrentThread(allowed.front());
  TUTTI_ASSIGN_OR_RETURN(auto model, cpu::asymmetric::BlockCostModel::Fit(cpu::asymmetric::MeasureBlockSamples(2.0)));
  path = cpu::asymmetric::DefaultCostModelPath();
  TUTTI_RETURN_IF_ERROR(model.Save(path));
  return model;
}

int ProcessorsBody(Args& args) {
  const bool json = args.Has("json");
  const bool calibrate = args.Has("calibrate");
  if (Status s = args.CheckAllUsed(); !s.ok()) return ReportError(s);
  if (!args.positional().empty())
    return ReportError(InvalidArgument("tutti processors takes no arguments, got '", args.positional()[0], "'"));
  const std::vector<ProcessorSpec> specs = DiscoverProcessors();
  auto topo = cpu::asymmetric::DetectCpuTopology();
  // Each core's effective speed now, all cores busy at once (another process on a core shows here).
  std::vector<double> gflops;
  if (topo.ok()) {
    std::vector<int> ids;
    for (const auto& c : topo->cores) ids.push_back(c.os_index);
    if (auto measured = cpu::asymmetric::MeasureCoreSpeeds(ids, 0.2); measured.ok()) gflops = *measured;
  }
  auto speed_of = [&](size_t i) { return i < gflops.size() ? Json(std::round(gflops[i] * 10) / 10) : Json(nullptr); };
  std::string model_path;
  std::optional<Result<cpu::asymmetric::BlockCostModel>> model;
  if (calibrate) model = CalibrateCostModel(model_path);

  Json procs = Json::array();
  for (const ProcessorSpec& s : specs)
    procs.push_back({{"name", s.name}, {"device", s.device}, {"cluster", s.cluster.empty() ? Json(nullptr) : Json(s.cluster)},
                     {"cores", s.cpu_cores.empty() ? Json(nullptr) : Json(FormatCoreList(s.cpu_cores))},
                     {"threads", s.threads}, {"memory_domain", s.MemoryDomain()}, {"profile_key", s.ProfileKey()}});
  Json cores = Json::array();
  if (topo.ok())
    for (size_t i = 0; i < topo->cores.size(); ++i) {
      const auto& c = topo->cores[i];
      cores.push_back({{"core", c.os_index}, {"kind", c.kind}, {"cluster", c.cluster}, {"measured_gflops", speed_of(i)},
                       {"capacity", c.capacity > 0 ? Json(c.capacity) : Json(nullptr)},
                       {"max_freq_mhz", c.max_freq_khz > 0 ? Json(c.max_freq_khz / 1000) : Json(nullptr)},
                       {"efficiency", c.efficiency >= 0 ? Json(c.efficiency) : Json(nullptr)}});
    }
  if (model && !model->ok()) return ReportError(model->status().WithContext("--calibrate"));
  if (json) {
    Json j{{"processors", procs}, {"cpu_cores", cores}};
    if (!topo.ok()) j["cpu_topology_error"] = topo.status().message();
    if (model)
      j["cost_model"] = {{"path", model_path}, {"samples", (*model)->samples()}, {"mean_rel_error", (*model)->mean_rel_error()}};
    std::printf("%s\n", DumpJson(j).c_str());
    return 0;
  }
  std::printf("%zu processor%s:\n", specs.size(), specs.size() == 1 ? "" : "s");
  for (const ProcessorSpec& s : specs) std::printf("  %s\n", s.Describe().c_str());
  if (topo.ok()) {
    std::printf("cpu cores:\n  %-5s %-8s %-8s %-9s %-9s %-11s %s\n", "core", "kind", "cluster", "capacity", "max MHz",
                "efficiency", "GFLOP/s now");
    for (size_t i = 0; i < topo->cores.size(); ++i) {
      const auto& c = topo->cores[i];
      auto or_dash = [](int64_t v) { return v > 0 ? std::to_string(v) : std::string("-"); };
      char speed[32] = "-";
      if (i < gflops.size()) std::snprintf(speed, sizeof(speed), "%.1f", gflops[i]);
      std::printf("  %-5d %-8s %-8d %-9s %-9s %-11s %s\n", c.os_index, c.kind.c_str(), c.cluster, or_dash(c.capacity).c_str(),
                  or_dash(c.max_freq_khz / 1000).c_str(), c.efficiency >= 0 ? std::to_string(c.efficiency).c_str() : "-",
                  speed);
    }
  } else {
    std::printf("cpu topology unknown: %s\n", topo.status().message().c_str());
  }
  if (model)
    std::printf("cost model: %d block timings, mean error %.1f%%, saved to %s\n", (*model)->samples(),
                100 * (*model)->mean_rel_error(), model_path.c_str());
  return 0;
}

}  // namespace

TUTTI_REGISTER_COMMAND("processors", "list the processors the engine discovers (CPU core clusters, CUDA devices)",
                       "usage: tutti processors [--calibrate] [--json]\n"
                       "  Lists one processor per CPU core cluster (hwloc CPU kinds, else sysfs capacity and max\n"
                       "  frequency) and one per CUDA device, as an engine config with no \"processors\" uses them,\n"
                       "  then each core's kind, capacity, max frequency and effective speed measured now (all\n"
                       "  cores busy at once, so a core shared with another process shows slower).\n"
                       "  --calibrate          train the asymmetric executor's block cost model on this machine\n"
                       "                       (a few seconds of single-core sgemm blocks) and save it (JSON)\n"
                       "  --json               print as JSON",
                       &ProcessorsBody);

}  // namespace tutti::cli
