// Runs one batch across several processors (issue 5): the shares of a BatchSplitPlan run
// concurrently, one per processor, each on that processor's own pinned worker thread, and every
// share writes its rows straight into its slice of one output tensor (Tensor::SliceOuter; the
// Executable contract writes a defined output in place), so there is no gather copy afterwards.
// A share whose processor fails is re-planned over the processors that have not failed and run
// again: a request fails only when no processor is left that can run it.
//
//   auto x = BatchSplitExecutor::Create(graph, {cpu0, cpu1}, {});
//   (*x)->Profile(64);                          // batch tables, from the profile file or measured
//   auto r = (*x)->Run({input});                // input [B, ...]: planned, split, run, joined
//
// The engine runs the same split as a request option (RequestOptions::split = RequestSplit::kBatch),
// with the shares as child jobs on its workers among other models' requests; this executor is the
// standalone form -- one model, its own pinned worker per Processor (a processor's model runs only
// on its worker), nothing else sharing them -- that `tutti run|bench --split batch` measures. Both
// plan with batch_split.h and slice, allocate and join with batch_shares.h.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "engine/processor.h"
#include "graph/graph.h"
#include "partition/batch_shares.h"
#include "partition/batch_split.h"
#include "profile/profile_store.h"
#include "profile/profiler.h"
#include "runtime/compiled_model.h"

namespace tutti {

struct BatchSplitOptions {
  ProfilerOptions profiler{1, 3};
  std::string profile_file;  // "" = tables are not persisted
  bool optimize = true;      // graph preparation, as Session does
};

struct BatchSplitResult {
  std::vector<Tensor> outputs;     // graph outputs, batch-major, in order
  BatchSplitPlan plan;             // the plan the request started with
  std::vector<double> measured_us; // per share of `plan`, as run (first attempt)
  double wall_us = 0;              // plan + run + join
  int reruns = 0;                  // shares re-planned after a processor failed
  std::vector<std::string> failures;  // "cpu1: <why>" for every failed attempt
  bool in_place = true;            // every share's outputs landed in the output tensor directly
};

class BatchSplitExecutor {
 public:
  // Every graph input and output must be batch-major (leading dim = the batch).
  static Result<std::unique_ptr<BatchSplitExecutor>> Create(Graph graph, std::vector<ProcessorSpec> processors,
                                                            BatchSplitOptions options = {});
  ~BatchSplitExecutor();  // stops the workers
  BatchSplitExecutor(const BatchSplitExecutor&) = delete;
  BatchSplitExecutor& operator=(const BatchSplitExecutor&) = delete;

  const Graph& graph() const { return *graph_; }
  int processor_count() const { return static_cast<int>(processors_.size()); }
  const Processor& processor(int p) const { return *processors_[static_cast<size_t>(p)]; }

  // Batch tables up to `max_batch` for every processor: the profile file's when it covers
  // max_batch (or ran out of memory below it), else measured on the processor's worker and saved.
  Status Profile(int64_t max_batch);
  const BatchProfileTable& table(int p) const { return tables_[static_cast<size_t>(p)]; }
  // The planner's view (pointing into this executor's tables: use it while no request runs, as
  // runs rescale tables that drift). Tables measured from host tensors already include each share's transfers
  // (backends copy inside Executable::Run), so no transfer term is added on top.
  std::vector<BatchSplitProcessor> PlannerProcessors() const;
  Result<BatchSplitPlan> Plan(int64_t batch, BatchSplitSearch search) const;

  // Plans (Profile first: tables are needed), splits, runs and joins. Thread-safe; concurrent
  // requests queue on the workers.
  Result<BatchSplitResult> Run(std::span<const Tensor> inputs, const BatchSplitRequest& request = {});
  // The whole batch on one processor (the baseline a split must beat), on its worker.
  Result<std::vector<Tensor>> RunOn(int processor, std::span<const Tensor> inputs);

  // Testing: make a processor's runs fail (a dying device) so re-runs can be checked.
  void InjectFailure(int processor, Status status);

 private:
  struct Worker;
  BatchSplitExecutor(std::shared_ptr<const Graph> graph, BatchSplitOptions options);
  // Runs `task` on processor p's worker; the future is ready when it has run.
  std::future<Status> Post(int p, std::function<Status()> task);
  Status RunShare(int p, std::span<const Tensor> inputs, std::vector<Tensor>& outputs);
  Status SaveTables();

  std::shared_ptr<const Graph> graph_;
  BatchSplitOptions options_;
  std::string model_key_;
  std::vector<std::unique_ptr<Processor>> processors_;
  std::vector<std::unique_ptr<CompiledModel>> compiled_;  // one per processor, run only on its worker
  std::vector<std::unique_ptr<Worker>> workers_;

  BatchOutputShapes output_shapes_;

  mutable std::mutex mu_;  // guards tables_, injected_, store_
  std::vector<BatchProfileTable> tables_;
  std::map<int, Status> injected_;
  ProfileStore store_;
};

}  // namespace tutti
