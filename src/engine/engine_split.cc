// Split requests (RequestSplit::kBatch, issue 5): one batch across every processor that runs the
// whole model, each taking a share sized to its speed (seed 003's batch distribution).
//
// Why parent and child jobs: the engine's unit of work is a job that one worker runs stage by
// stage and that ends exactly once. A split request fans out to several workers at once and joins,
// so it becomes a parent (the request: promise, callback, counts, the whole output) and one child
// per share (a plain whole-model job over views of its rows). The children go through the same
// queues as every other request -- they interleave with other models, can be stolen, are retried
// on another processor when theirs fails, and appear in the trace and per-processor statistics --
// while only the parent is a request: it is admitted once, counted once and ended by its last share.
//
// Planning is BatchSplitExecutor's (partition/batch_split.h, batch_shares.h): a plan over the
// batch tables, outputs allocated first so each share writes its rows in place, then joined.
#include <algorithm>
#include <optional>

#include "engine/engine.h"
#include "engine/job.h"
#include "engine/partitioned_model.h"

namespace tutti {

// Before the model is published, so it runs alone (as ProfileModel does): the profile file's
// tables, else (config batch_split.max_batch) a sweep of the whole model over batch sizes.
void Engine::ProfileBatchTables(PartitionedModel& model) {
  model.batch_tables.assign(processors_.size(), {});
  const int whole = model.analysis().whole_model_candidate();
  if (whole < 0) return;
  const ProcessorMask capable = model.analysis().candidates()[static_cast<size_t>(whole)].processors;
  const int64_t max_batch = config_.batch_split_max_batch;
  const std::string model_key = ProfileStore::ModelKey(model.fingerprint());
  for (size_t p = 0; p < processors_.size(); ++p) {
    if (!(capable & ProcessorBit(static_cast<int>(p)))) continue;
    std::optional<BatchProfileTable> stored;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stored = FindBatchTable(profile_store_, model_key, processors_[p]->spec().ProfileKey());
    }
    if (stored && (max_batch == 0 || stored->Covers(max_batch))) {
      model.batch_tables[p] = std::move(*stored);
      continue;
    }
    if (max_batch == 0) continue;
    auto table = ProfileBatchTableWithZeros(
        model.graph(),
        [&](std::span<const Tensor> in, std::vector<Tensor>& out) {
          return model.Run(whole, static_cast<int>(p), in, out);
        },
        max_batch, config_.profiler);
    // A processor that cannot be swept is seeded at the first split request, like one never swept.
    if (table.ok()) model.batch_tables[p] = std::move(table).value();
  }
}

Result<Engine::SplitSetup> Engine::PlanSplit(ModelId model, const std::vector<Tensor>& inputs,
                                             const BatchSplitRequest& request) {
  std::shared_ptr<PartitionedModel> m;
  // The planner works on a copy of the tables: shares that end meanwhile rescale them.
  std::vector<BatchProfileTable> tables;
  std::vector<BatchSplitProcessor> procs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (model < 0 || static_cast<size_t>(model) >= models_.size() || !models_[static_cast<size_t>(model)])
      return NotFound("no model with id ", model, " is registered");
    m = models_[static_cast<size_t>(model)];
    const int whole = m->analysis().whole_model_candidate();
    if (whole < 0) return FailedPrecondition("no processor runs the whole model, so its batch cannot be split");
    const ProcessorMask capable = m->analysis().candidates()[static_cast<size_t>(whole)].processors;
    // Processors without a table yet get one point, batch 1 at the whole-model estimate (items
    // cost alike until shares are measured); an unmeasured processor is taken to be the slowest.
    double slowest_us = 0;
    for (size_t p = 0; p < processors_.size(); ++p)
      if (capable & ProcessorBit(static_cast<int>(p)))
        slowest_us = std::max(slowest_us, estimator_.Get(m->id, whole, static_cast<int>(p)));
    for (size_t p = 0; p < processors_.size(); ++p) {
      BatchProfileTable& t = m->batch_tables[p];
      if (!(capable & ProcessorBit(static_cast<int>(p))) || !t.empty()) continue;
      const double us = estimator_.Get(m->id, whole, static_cast<int>(p));
      t.Record(1, us > 0 ? us : slowest_us > 0 ? slowest_us : 1);
    }
    tables = m->batch_tables;
    for (size_t p = 0; p < processors_.size(); ++p) {
      BatchSplitProcessor bp;
      bp.name = processors_[p]->name();
      bp.usable = capable & ProcessorBit(static_cast<int>(p));
      procs.push_back(std::move(bp));
    }
  }
  for (size_t p = 0; p < procs.size(); ++p) procs[p].table = &tables[p];
  TUTTI_ASSIGN_OR_RETURN(const int64_t batch, CommonBatch(m->graph(), inputs));
  SplitSetup setup;
  TUTTI_ASSIGN_OR_RETURN(setup.plan, PlanBatchSplit(procs, batch, request));
  TUTTI_ASSIGN_OR_RETURN(setup.outputs, m->output_shapes.Allocate(m->graph(), inputs, batch));
  return setup;
}

void Engine::StartSplitLocked(const std::shared_ptr<Job>& job, SplitSetup setup) {
  const int whole = job->model->analysis().whole_model_candidate();
  job->split_plan = std::move(setup.plan);
  job->outputs = std::move(setup.outputs);
  job->shares_left = job->split_plan.shares.size();
  for (const BatchShare& s : job->split_plan.shares) {
    auto share = std::make_shared<Job>();
    share->id = job->id;  // the trace follows a request's shares by its id
    share->model = job->model;
    share->inputs = SliceRows(job->inputs, s.offset, s.items);
    share->outputs = SliceRows(job->outputs, s.offset, s.items);
    share->submitted_us = job->submitted_us;
    share->deadline_us = job->deadline_us;
    share->parent = job;
    share->share_offset = s.offset;
    share->share_items = s.items;
    // Straight to the planned processor's queue: the plan already chose where (a scheduler sees a
    // share only if its processor fails it and it is re-placed).
    share->plan = {Stage{whole, s.processor}};
    DispatchLocked(share);
  }
}

void Engine::ShareEndedLocked(const std::shared_ptr<Job>& share, Result<Outputs> result, Completions& done) {
  std::shared_ptr<Job> parent = std::move(share->parent);
  const int processor = share->plan.empty() ? -1 : share->plan.back().processor;
  const std::string name = processor < 0 ? "?" : processors_[static_cast<size_t>(processor)]->name();
  if (result.ok()) {
    // A re-placed share that ran as a chain returns tensors of its own: copied into its rows here.
    auto stored = StoreShareRows(parent->outputs, result->tensors, share->share_offset, share->share_items, name);
    if (stored.ok()) parent->stages_run += result->stages;
    else result = stored.status();
  }
  if (!result.ok() && parent->split_status.ok())
    parent->split_status = result.status().WithContext(
        StrCat("batch split share of items ", share->share_offset, "-", share->share_offset + share->share_items - 1));
  if (--parent->shares_left > 0) return;
  if (!parent->split_status.ok()) {
    FinishLocked(parent, parent->split_status, done);
    return;
  }
  Outputs out;
  out.tensors = std::move(parent->outputs);
  out.submitted_us = parent->submitted_us;
  out.finished_us = NowUs();
  out.stages = parent->stages_run;
  out.split = std::move(parent->split_plan);
  FinishLocked(parent, std::move(out), done);
}

}  // namespace tutti
