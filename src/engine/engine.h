// The multi-model, multi-processor engine (Band, seed 000): register models -- the model analyzer
// prepares their candidate subgraphs for every processor -- then submit requests from any number
// of threads; a scheduler places each job (whole on one processor, or as a fallback chain) and one
// worker thread per processor runs the stages.
//
//   auto engine = Engine::Create(config);            // processors, scheduler, queue, profile
//   ModelId m = *(*engine)->RegisterModel(std::move(graph), "mobilenet");
//   auto future = (*engine)->Submit(m, {input}, {.slo_us = 20000});
//   Result<Outputs> r = future.get();                  // outputs, or why not (dropped, failed)
//   (*engine)->Submit(m, {batch}, {.split = RequestSplit::kBatch});  // one batch over every processor
//
// Every request ends exactly once: completed, dropped (SLO or shutdown) or failed (bad input, full
// queue, a processor error after retries), with the reason in the Status, and
// stats().submitted == completed + dropped + failed once nothing is in flight. No exceptions escape.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "engine/engine_config.h"
#include "engine/processor.h"
#include "engine/trace.h"
#include "graph/graph.h"
#include "partition/batch_split.h"
#include "profile/latency_estimator.h"
#include "profile/profile_store.h"
#include "sched/scheduler.h"

namespace tutti {

using ModelId = int;
class PartitionedModel;
struct Job;

struct Outputs {
  std::vector<Tensor> tensors;  // graph outputs, in order; this request's own storage
  int64_t submitted_us = 0;     // engine clock (us since Create)
  int64_t finished_us = 0;
  int stages = 0;               // subgraph executions it took (1 = whole model on one processor)
  BatchSplitPlan split;         // RequestSplit::kBatch: the shares it was planned as (processor = engine index)
};

enum class RequestSplit {
  kNone,   // the request runs where the scheduler places it
  // Its batch (the leading dim of every input and output) is split into shares over the processors
  // that run the whole model, sized by their batch tables (partition/batch_split.h, issue 5); the
  // shares run concurrently, each on its processor's worker among other requests, into one output.
  kBatch,
};

struct RequestOptions {
  int64_t slo_us = 0;  // deadline relative to submission; 0 = none
  // Called once with the result, on a worker (or the submitting) thread, before the future is
  // ready. Must not call Shutdown or block on other requests.
  std::function<void(const Result<Outputs>&)> callback;
  RequestSplit split = RequestSplit::kNone;
  // With kBatch: greedy or exact search, or explicit shares, one per engine processor (0 = none).
  BatchSplitRequest batch_split;
};

struct ProcessorStats {
  std::string name;
  uint64_t stages = 0;
  int64_t busy_us = 0;
};

struct EngineStats {
  uint64_t submitted = 0, completed = 0, dropped = 0, failed = 0;
  uint64_t retried = 0, stolen = 0;
  // "dropped: deadline exceeded", "failed: invalid argument", ... -> count
  std::map<std::string, uint64_t> reasons;
  std::vector<ProcessorStats> processors;
};

// How a request ended, from its status: "completed", "dropped" (deadline, cancelled at shutdown)
// or "failed" (anything else). EngineStats counts by the same rule.
const char* RequestOutcome(const Status& status);

enum class ShutdownMode {
  kFinish,  // run every admitted request to its end first
  kCancel,  // drop every queued request (reported as cancelled); running stages end first
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> Create(EngineConfig config);
  ~Engine();  // Shutdown(kCancel)
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Analyses the model for every processor and profiles what the profile file does not know.
  Result<ModelId> RegisterModel(Graph graph, std::string name = "");
  Result<ModelId> RegisterModelFile(const std::string& path, std::string name = "");

  // Thread-safe. Never throws; every failure arrives through the future (and the callback).
  std::future<Result<Outputs>> Submit(ModelId model, std::vector<Tensor> inputs, RequestOptions options = {});
  // Blocks until every request submitted so far has ended (and its callback returned).
  void WaitIdle();
  // Stops admitting requests, ends the admitted ones per `mode`, stops the workers and writes the
  // profile file. Idempotent. Fails only when called from an engine callback.
  Status Shutdown(ShutdownMode mode = ShutdownMode::kFinish);

  EngineStats stats() const;
  const std::vector<std::unique_ptr<Processor>>& processors() const { return processors_; }
  const EngineConfig& config() const { return config_; }
  std::string scheduler_name() const { return scheduler_->name(); }
  int64_t NowUs() const;
  // Expected latency (us) of the whole model on each processor (-1: unknown or unsupported).
  std::vector<double> WholeModelEstimatesUs(ModelId model) const;
  // Stage executions so far (config.record_trace), oldest first; clears the record.
  std::vector<TraceEvent> TakeTrace();
  // Writes the latency estimates to config.profile_file now.
  Status SaveProfile();

 private:
  struct Worker;
  explicit Engine(EngineConfig config);
  Status Start();
  Status ProfileModel(PartitionedModel& model);

  // All *Locked methods run with mu_ held. Finished jobs are collected in `done` and their
  // callbacks/futures fired by FireLocked after releasing the lock (never call user code locked).
  using Completions = std::vector<std::pair<std::shared_ptr<Job>, Result<Outputs>>>;
  void ScheduleLocked(Completions& done);
  void DispatchLocked(const std::shared_ptr<Job>& job);
  void FinishLocked(const std::shared_ptr<Job>& job, Result<Outputs> result, Completions& done);
  // Split requests (RequestSplit::kBatch), in engine_split.cc.
  struct SplitSetup;
  void ProfileBatchTables(PartitionedModel& model);
  Result<SplitSetup> PlanSplit(ModelId model, const std::vector<Tensor>& inputs, const BatchSplitRequest& request);
  void StartSplitLocked(const std::shared_ptr<Job>& job, SplitSetup setup);
  void ShareEndedLocked(const std::shared_ptr<Job>& share, Result<Outputs> result, Completions& done);
  void FireCompletions(std::unique_lock<std::mutex>& lock, Completions& done);
  double StageEstimateLocked(const Job& job, const Stage& stage) const;
  Status ValidatePlan(const Job& job, const Plan& plan) const;
  bool CanStealLocked(int worker) const;
  bool TryStealLocked(int worker);
  void WorkerLoop(int worker);
  Status RunStage(Job& job, int processor);
  Status StoreProfileLocked();

  const EngineConfig config_;
  std::vector<std::unique_ptr<Processor>> processors_;
  std::vector<int> domains_;  // memory domain per processor; 0 = host
  std::unique_ptr<Scheduler> scheduler_;
  const std::chrono::steady_clock::time_point start_;
  std::atomic<uint64_t> next_request_id_{1};

  std::mutex shutdown_mu_;  // one Shutdown at a time (a second waits, then sees stopped_)
  mutable std::mutex mu_;  // guards everything below (and the estimator)
  std::condition_variable idle_cv_;  // outstanding_ fell to 0
  LatencyEstimator estimator_;
  ProfileStore profile_store_;
  std::vector<std::shared_ptr<PartitionedModel>> models_;
  std::deque<std::shared_ptr<Job>> pending_;  // the global queue, oldest first
  std::vector<std::unique_ptr<Worker>> workers_;
  size_t outstanding_ = 0;  // admitted and not yet fired
  bool accepting_ = true, stopping_ = false, cancelling_ = false, stopped_ = false;
  EngineStats stats_;
  std::vector<TraceEvent> trace_;
  std::vector<JobView> job_views_;  // reused by ScheduleLocked
  std::vector<Decision> decisions_;
};

}  // namespace tutti
