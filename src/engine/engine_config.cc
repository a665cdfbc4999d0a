#include "engine/engine_config.h"

#include <nlohmann/json.hpp>

#include <set>

#include "engine/json_fields.h"
#include "partition/batch_split.h"

namespace tutti {
namespace {

Result<ProcessorSpec> ProcessorFromJson(const nlohmann::json& j, const std::string& path) {
  ProcessorSpec s;
  JsonFields f(j, path);
  f.String("name", s.name);
  f.String("device", s.device);
  f.Int("threads", s.threads, 1, 1024);
  f.StringList("allow_ops", s.allow_ops);
  f.StringList("deny_ops", s.deny_ops);
  std::string cores;
  f.String("cores", cores);
  if (!cores.empty()) {
    auto parsed = ParseCoreList(cores);
    if (parsed.ok()) s.cpu_cores = *parsed;
    else f.Fail("cores", "must be a core list like \"0-3,6\", got \"" + cores + "\"");
  }
  if (!f.Has("name")) f.Fail("name", "is required");
  TUTTI_RETURN_IF_ERROR(f.Finish());
  return s;
}

}  // namespace

Result<EngineConfig> EngineConfigFromJson(const nlohmann::json& json, const std::string& path) {
  EngineConfig c;
  JsonFields f(json, path);
  if (const nlohmann::json* procs = f.Array("processors")) {
    std::set<std::string> names;
    for (size_t i = 0; i < procs->size(); ++i) {
      auto spec = ProcessorFromJson((*procs)[i], StrCat(f.Path("processors"), "[", i, "]"));
      if (!spec.ok()) return spec.status();
      if (!names.insert(spec->name).second)
        return InvalidArgument("field '", f.Path("processors"), "[", i, "].name' repeats the name '", spec->name, "'");
      c.processors.push_back(*spec);
    }
    if (c.processors.size() > static_cast<size_t>(kMaxProcessors))
      f.Fail("processors", StrCat("may list at most ", kMaxProcessors, " processors"));
  }
  if (const nlohmann::json* s = f.Object("scheduler")) {
    JsonFields sf(*s, f.Path("scheduler"));
    sf.String("name", c.scheduler.name);
    sf.Int("window", c.schedule_window, 1, 1 << 20);
    sf.Bool("drop_late", c.scheduler.drop_late);
    if (const nlohmann::json* fixed = sf.Object("fixed"))
      for (const auto& [model, proc] : fixed->items()) {
        if (!proc.is_string()) sf.Fail("fixed", "must map model names to processor names");
        else c.scheduler.fixed[model] = proc.get<std::string>();
      }
    TUTTI_RETURN_IF_ERROR(sf.Finish());
    std::vector<std::string> known = SchedulerNames();
    if (std::find(known.begin(), known.end(), c.scheduler.name) == known.end()) {
      std::string list;
      for (const std::string& n : known) list += (list.empty() ? "" : ", ") + n;
      return InvalidArgument("field '", sf.Path("name"), "': unknown scheduler '", c.scheduler.name, "' (known: ", list, ")");
    }
  }
  if (const nlohmann::json* q = f.Object("queue")) {
    JsonFields qf(*q, f.Path("queue"));
    std::string mode = "per_processor";
    qf.String("mode", mode);
    if (mode == "global") c.queue_mode = QueueMode::kGlobal;
    else if (mode != "per_processor") qf.Fail("mode", "must be \"per_processor\" or \"global\", got \"" + mode + "\"");
    int64_t capacity = static_cast<int64_t>(c.queue_capacity);
    qf.Int("capacity", capacity, 1, int64_t{1} << 30);
    c.queue_capacity = static_cast<size_t>(capacity);
    qf.Bool("work_stealing", c.work_stealing);
    qf.Int("max_retries", c.max_retries, 0, 64);
    TUTTI_RETURN_IF_ERROR(qf.Finish());
  }
  if (const nlohmann::json* p = f.Object("profile")) {
    JsonFields pf(*p, f.Path("profile"));
    pf.String("file", c.profile_file);
    pf.Bool("offline", c.offline_profile);
    pf.Int("warmup_runs", c.profiler.warmup_runs, 0, 1000);
    pf.Int("runs", c.profiler.timed_runs, 1, 1000);
    pf.Double("alpha", c.smoothing_alpha, 1e-6, 1.0);
    TUTTI_RETURN_IF_ERROR(pf.Finish());
  }
  if (const nlohmann::json* p = f.Object("partition")) {
    JsonFields pf(*p, f.Path("partition"));
    pf.Int("min_subgraph_nodes", c.analyzer.min_subgraph_nodes, 1, 1 << 20);
    TUTTI_RETURN_IF_ERROR(pf.Finish());
  }
  if (const nlohmann::json* b = f.Object("batch_split")) {
    JsonFields bf(*b, f.Path("batch_split"));
    bf.Int("max_batch", c.batch_split_max_batch, 0, kMaxExactBatch);
    TUTTI_RETURN_IF_ERROR(bf.Finish());
  }
  f.Bool("trace", c.record_trace);
  TUTTI_RETURN_IF_ERROR(f.Finish());
  return c;
}

Result<EngineConfig> LoadEngineConfig(const std::string& file) {
  TUTTI_ASSIGN_OR_RETURN(nlohmann::json j, ReadJsonFile(file));
  return EngineConfigFromJson(j, file);
}

}  // namespace tutti
