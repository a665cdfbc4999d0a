// The engine's configuration: data with its defaults here, parsed from JSON with errors naming
// the field. Example (every field optional):
//
//   {"processors": [{"name": "cpu0", "device": "cpu", "cores": "0", "threads": 1},
//                   {"name": "npu", "device": "cpu", "cores": "1", "deny_ops": ["Softmax"]}],
//    "scheduler": {"name": "heft", "window": 16, "drop_late": true, "fixed": {"resnet": "cpu0"}},
//    "queue": {"mode": "per_processor", "capacity": 1024, "work_stealing": false, "max_retries": 1},
//    "profile": {"file": "profile.json", "offline": true, "warmup_runs": 1, "runs": 3, "alpha": 0.2},
//    "partition": {"min_subgraph_nodes": 1},
//    "batch_split": {"max_batch": 64},
//    "trace": false}
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/processor.h"
#include "partition/model_analyzer.h"
#include "profile/profiler.h"
#include "sched/scheduler.h"

namespace tutti {

enum class QueueMode {
  kPerProcessor,  // the scheduler assigns every job at once into per-processor queues (Band's default)
  kGlobal,        // jobs wait in one queue and are assigned only to idle processors
};

struct EngineConfig {
  std::vector<ProcessorSpec> processors;  // empty: DiscoverProcessors()
  SchedulerConfig scheduler;
  int schedule_window = 16;               // queued jobs one scheduling decision looks at
  QueueMode queue_mode = QueueMode::kPerProcessor;
  bool work_stealing = false;             // idle processors take queued stages from busy ones
  size_t queue_capacity = 1024;           // requests admitted and not yet finished, all models
  int max_retries = 1;                    // re-plans of a job whose processor failed it
  AnalyzerOptions analyzer;
  std::string profile_file;               // "" = no persisted profile
  bool offline_profile = true;            // profile each (candidate, processor) at RegisterModel
  ProfilerOptions profiler;
  double smoothing_alpha = 0.2;           // online latency estimate: weight of the newest run
  bool record_trace = false;              // keep every stage for Engine::TakeTrace()
  TransferModel transfer;
  // Batch tables for split requests (RequestSplit::kBatch): > 0 profiles each model at batch sizes
  // up to this at RegisterModel (unless the profile file has them); 0 seeds them at the first split
  // request from the whole-model estimate, refined by every share that runs.
  int64_t batch_split_max_batch = 0;
};

// Errors read "engine config: field 'queue.capacity' must be an integer in [1, ...], got -1".
Result<EngineConfig> EngineConfigFromJson(const nlohmann::json& json, const std::string& path = "engine config");
Result<EngineConfig> LoadEngineConfig(const std::string& file);

}  // namespace tutti
