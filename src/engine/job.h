// One request as it moves through the engine: admitted into the global queue, planned by the
// scheduler into stages, run stage by stage by workers, then ended exactly once.
//
// Ownership: a job is in exactly one place at a time -- the global queue, one worker's queue, or
// one worker's hands while a stage runs -- and moves between them under the engine mutex, so the
// tensors below are only ever touched by one thread at a time and need no lock of their own.
#pragma once

#include <functional>
#include <future>
#include <memory>
#include <vector>

#include "core/tensor.h"
#include "engine/engine.h"
#include "engine/partitioned_model.h"
#include "sched/scheduler.h"

namespace tutti {

struct Job {
  uint64_t id = 0;
  std::shared_ptr<PartitionedModel> model;
  std::vector<Tensor> inputs;   // the request's inputs, in graph-input order
  std::vector<Tensor> values;   // full-graph values by ValueId; filled only for multi-stage plans
  std::vector<Tensor> outputs;  // result of a whole-model stage
  std::promise<Result<Outputs>> promise;
  std::function<void(const Result<Outputs>&)> callback;
  int64_t submitted_us = 0;
  int64_t deadline_us = 0;      // absolute engine clock; 0 = none

  // Planning state. A retried job resumes at next_unit and avoids the processors that failed it.
  int next_unit = 0;
  ProcessorMask excluded = 0;
  int retries = 0;
  Plan plan;
  size_t stage = 0;             // index into plan of the stage queued or running
  double stage_est_us = 0;      // its expected latency, booked in the worker's queue estimate
  int stages_run = 0;
  int64_t stage_in_bytes = 0, stage_out_bytes = 0;  // of the last stage run (for trace copies)

  // A split request (RequestSplit::kBatch, engine_split.cc) is a parent with one child job per
  // share. The parent is in no queue: it holds the request's promise, the full output tensors and
  // what its shares report, and ends (once) when its last share does. A share is an ordinary
  // whole-model job over views of its rows of the parent's inputs and outputs, so it is queued,
  // stolen, retried, traced and counted per processor like any stage, but never counted as a request.
  std::shared_ptr<Job> parent;  // set on a share
  int64_t share_offset = 0, share_items = 0;
  size_t shares_left = 0;       // parent: shares not yet ended
  Status split_status;          // parent: the first share that failed
  BatchSplitPlan split_plan;    // parent
};

struct Engine::SplitSetup {
  BatchSplitPlan plan;
  std::vector<Tensor> outputs;  // the whole batch's outputs, allocated before any share runs
};

}  // namespace tutti
