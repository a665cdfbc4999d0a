// Schedulers decide where queued jobs run. One small class per file behind this interface, each
// registering itself with TUTTI_REGISTER_SCHEDULER, so adding a scheduler is one new file (Band's
// IScheduler::Schedule(JobQueue&), one file per policy).
//
// A decision covers a job's remaining units as a chain of stages -- each a candidate subgraph of
// the model analyzer on one processor -- so fallback chains (the unsupported part on the CPU) are
// ordinary plans. The ScheduleContext offers the shared planning steps: a chain preferring one
// processor, and HEFT's earliest-finish chain, both using the latency estimates, each processor's
// expected availability, and cross-domain transfer costs.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "partition/model_analyzer.h"
#include "profile/latency_estimator.h"

namespace tutti {

struct Stage {
  int candidate = -1;  // index into ModelAnalysis::candidates()
  int processor = -1;
};
using Plan = std::vector<Stage>;

// Expected latency of a candidate on a processor: the estimate, else the sum of its units'
// estimates, else 0 (never measured: optimistic, so it gets tried and measured).
double ExpectedLatencyUs(const LatencyEstimator& estimator, int model, const ModelAnalysis& analysis, int candidate,
                         int processor);

// What a scheduler sees of one queued job.
struct JobView {
  uint64_t request_id = 0;
  int model = 0;                 // estimator table / engine model id
  const std::string* model_name = nullptr;
  const ModelAnalysis* analysis = nullptr;
  int next_unit = 0;             // > 0 when a retried job resumes mid-model
  ProcessorMask excluded = 0;    // processors that already failed this job
  int64_t enqueued_us = 0;
  int64_t deadline_us = 0;       // absolute, engine clock; 0 = no SLO
};

struct ProcessorView {
  std::string name;
  int domain = 0;                // processors with equal domain share memory (no transfer cost)
  double available_us = 0;       // when its queue is expected to drain (engine clock)
  bool accepting = true;         // false: global-queue mode and busy; plans must avoid it
};

struct Decision {
  enum Kind { kAssign, kDrop, kFail } kind = kAssign;
  size_t job = 0;                // index into ScheduleContext::jobs()
  Plan plan;                     // kAssign
  std::string reason;            // kDrop / kFail
};

class ScheduleContext {
 public:
  ScheduleContext(int64_t now_us, std::span<const JobView> jobs, std::vector<ProcessorView> processors,
                  const LatencyEstimator& estimator, const TransferModel& transfer)
      : now_us_(now_us), jobs_(jobs), processors_(std::move(processors)), estimator_(estimator), transfer_(transfer) {}

  int64_t now_us() const { return now_us_; }
  std::span<const JobView> jobs() const { return jobs_; }
  const std::vector<ProcessorView>& processors() const { return processors_; }
  int processor_count() const { return static_cast<int>(processors_.size()); }

  // ExpectedLatencyUs for this job.
  double LatencyUs(const JobView& job, int candidate, int processor) const;
  // Processors a job may use for a candidate (supported, not excluded, accepting).
  ProcessorMask Usable(const JobView& job, int candidate) const;

  // Chain for the job's remaining units that keeps as much as possible on `preferred`: the longest
  // candidate it can run at each point, the rest on the fastest usable fallback. Empty when some
  // unit has no usable processor.
  Plan ChainPreferring(const JobView& job, int preferred) const;
  // Heterogeneous earliest finish time (Topcuoglu et al. 2002, as Band applies it to subgraphs):
  // the chain minimising expected finish, by dynamic programming over (unit boundary, processor).
  Plan EarliestFinishChain(const JobView& job) const;
  // Expected finish time of a plan given current availability (engine clock, us).
  double FinishUs(const JobView& job, const Plan& plan) const;
  // Books a plan: each stage's processor becomes available when that stage is expected to end.
  void Commit(const JobView& job, const Plan& plan);

  // The common ending of every policy: an assignment (booked with Commit); or, for an empty plan,
  // nothing while some processor is busy in global-queue mode (the job waits), else a failure
  // naming why no processor is left.
  void Emit(size_t job, Plan plan, std::vector<Decision>& out);
  // SLO check for SLO-aware policies: appends a drop and returns true when the job has a deadline
  // and `finish_us` is past it.
  bool DropIfLate(size_t job, double finish_us, std::vector<Decision>& out) const;

 private:
  int64_t now_us_;
  std::span<const JobView> jobs_;
  std::vector<ProcessorView> processors_;
  const LatencyEstimator& estimator_;
  const TransferModel& transfer_;
};

struct SchedulerConfig {
  std::string name = "heft";
  // SLO-aware schedulers drop a job that can no longer meet its deadline (reported as dropped).
  bool drop_late = true;
  std::map<std::string, std::string> fixed;  // fixed scheduler: model name -> processor name
};

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  virtual std::string name() const = 0;
  // Appends decisions for some of ctx.jobs() (those left out stay queued). Must not block.
  virtual void Schedule(ScheduleContext& ctx, std::vector<Decision>& out) = 0;
};

using SchedulerFactory = std::function<Result<std::unique_ptr<Scheduler>>(const SchedulerConfig&)>;
void RegisterScheduler(const std::string& name, SchedulerFactory factory);
Result<std::unique_ptr<Scheduler>> CreateScheduler(const SchedulerConfig& config);
std::vector<std::string> SchedulerNames();

struct SchedulerRegistrar {
  SchedulerRegistrar(const std::string& name, SchedulerFactory f) { RegisterScheduler(name, std::move(f)); }
};

}  // namespace tutti

#define TUTTI_REGISTER_SCHEDULER(name, factory) \
  static ::tutti::SchedulerRegistrar TUTTI_CONCAT(tutti_scheduler_, __COUNTER__)(name, factory)
