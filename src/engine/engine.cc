// Engine set-up, admission, scheduling and completion. Worker threads are in worker.cc.
#include "engine/engine.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "engine/job.h"
#include "engine/partitioned_model.h"
#include "engine/worker.h"
#include "profile/profiler.h"
#include "runtime/input_check.h"

#if __has_include("model/onnx_loader.h")
#include "model/onnx_loader.h"
#define TUTTI_ENGINE_HAS_LOADER 1
#endif

namespace tutti {
namespace {

// Set while user callbacks run, so Shutdown from inside one fails instead of joining itself.
thread_local bool tls_in_callback = false;

}  // namespace

const char* RequestOutcome(const Status& s) {
  if (s.ok()) return "completed";
  if (s.code() == StatusCode::kDeadlineExceeded || s.code() == StatusCode::kCancelled) return "dropped";
  return "failed";
}

Engine::Engine(EngineConfig config)
    : config_(std::move(config)), start_(std::chrono::steady_clock::now()), estimator_(config_.smoothing_alpha) {}

Engine::~Engine() { (void)Shutdown(ShutdownMode::kCancel); }

int64_t Engine::NowUs() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start_).count();
}

Result<std::unique_ptr<Engine>> Engine::Create(EngineConfig config) {
  if (config.processors.empty()) config.processors = DiscoverProcessors();
  if (config.schedule_window < 1) return InvalidArgument("engine config: schedule window must be >= 1");
  if (config.queue_capacity < 1) return InvalidArgument("engine config: queue capacity must be >= 1");
  if (config.processors.size() > static_cast<size_t>(kMaxProcessors))
    return InvalidArgument("engine config: at most ", kMaxProcessors, " processors");
  std::unique_ptr<Engine> e(new Engine(std::move(config)));
  TUTTI_RETURN_IF_ERROR(e->Start());
  return e;
}

Status Engine::Start() {
  std::map<std::string, int> domains{{"host", 0}};
  for (const ProcessorSpec& spec : config_.processors) {
    for (const auto& p : processors_)
      if (p->name() == spec.name) return InvalidArgument("engine config: two processors are named '", spec.name, "'");
    TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<Processor> p, Processor::Create(spec));
    processors_.push_back(std::move(p));
    domains_.push_back(domains.emplace(spec.MemoryDomain(), static_cast<int>(domains.size())).first->second);
  }
  auto sched = CreateScheduler(config_.scheduler);
  if (!sched.ok()) return sched.status().WithContext("engine config");
  scheduler_ = std::move(sched).value();
  if (!config_.profile_file.empty()) {
    TUTTI_ASSIGN_OR_RETURN(profile_store_, ProfileStore::Load(config_.profile_file));
  }
  stats_.processors.resize(processors_.size());
  for (size_t i = 0; i < processors_.size(); ++i) stats_.processors[i].name = processors_[i]->name();
  for (size_t i = 0; i < processors_.size(); ++i) workers_.push_back(std::make_unique<Worker>());
  for (size_t i = 0; i < processors_.size(); ++i)
    workers_[i]->thread = std::thread([this, i] { WorkerLoop(static_cast<int>(i)); });
  return Status::Ok();
}

Result<ModelId> Engine::RegisterModelFile(const std::string& path, std::string name) {
#ifdef TUTTI_ENGINE_HAS_LOADER
  auto graph = LoadOnnxModel(path);
  if (!graph.ok()) return graph.status();
  if (name.empty()) {
    name = path.substr(path.find_last_of('/') + 1);
    if (name.size() > 5 && name.substr(name.size() - 5) == ".onnx") name.resize(name.size() - 5);
  }
  return RegisterModel(std::move(graph).value(), std::move(name));
#else
  return Unimplemented("cannot load '", path, "': this build has no ONNX loader");
#endif
}

Result<ModelId> Engine::RegisterModel(Graph graph, std::string name) {
  if (name.empty()) name = graph.name.empty() ? StrCat("model", models_.size()) : graph.name;
  std::vector<const Processor*> procs;
  for (const auto& p : processors_) procs.push_back(p.get());
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<PartitionedModel> model,
                         PartitionedModel::Create(name, std::move(graph), std::move(procs), config_.analyzer));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!accepting_) return FailedPrecondition("cannot register model '", name, "': the engine is shut down");
    for (const auto& m : models_)
      if (m && m->name() == name) return InvalidArgument("a model named '", name, "' is already registered");
    // The slot is reserved now (ids stay dense under concurrent registration), filled when ready.
    model->id = estimator_.AddModel(static_cast<int>(model->analysis().candidates().size()),
                                    static_cast<int>(processors_.size()));
    models_.push_back(nullptr);
  }
  Status profiled = ProfileModel(*model);
  if (profiled.ok()) ProfileBatchTables(*model);
  std::lock_guard<std::mutex> lock(mu_);
  if (!profiled.ok()) {
    // Leaves a null slot: a model that cannot run even once is not servable.
    return profiled.WithContext("profiling model '" + name + "'");
  }
  ModelId id = model->id;
  models_[static_cast<size_t>(id)] = std::move(model);
  return id;
}

Status Engine::ProfileModel(PartitionedModel& model) {
  const ModelAnalysis& a = model.analysis();
  const int procs = static_cast<int>(processors_.size());
  const int whole = a.whole_model_candidate();
  // Which (candidate, processor) pairs to measure: all of them for small models; otherwise the
  // units and the whole model (wider candidates are estimated as the sum of their units).
  const bool all = a.candidates().size() * static_cast<size_t>(procs) <= 64;
  std::vector<std::pair<int, int>> todo;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int c = 0; c < static_cast<int>(a.candidates().size()); ++c) {
      const CandidateSubgraph& cand = a.candidates()[static_cast<size_t>(c)];
      for (int p = 0; p < procs; ++p) {
        if (!(cand.processors & ProcessorBit(p))) continue;
        const ProfileEntry* e = profile_store_.Find({ProfileStore::ModelKey(model.fingerprint()),
                                                     ProfileStore::SubgraphKey(cand.first_unit, cand.end_unit),
                                                     processors_[static_cast<size_t>(p)]->spec().ProfileKey()});
        if (e) estimator_.Set(model.id, c, p, e->latency_us, e->samples);
        else if (all || c == whole || cand.end_unit - cand.first_unit == 1) todo.push_back({c, p});
      }
    }
  }
  if (!config_.offline_profile || todo.empty()) return Status::Ok();

  TUTTI_ASSIGN_OR_RETURN(std::vector<Tensor> example, model.ExampleInputs());
  // Intermediate values for the candidates that start mid-model: one pass unit by unit, each on
  // the first processor that supports it.
  std::vector<Tensor> values(model.graph().value_count());
  for (size_t i = 0; i < example.size(); ++i) values[static_cast<size_t>(model.graph().inputs()[i])] = example[i];
  if (a.unit_count() > 1) {
    for (int u = 0; u < a.unit_count(); ++u) {
      int c = a.CandidateIndex(u, u + 1);
      TUTTI_ASSIGN_OR_RETURN(const PartitionedModel::CandidateGraph* cg, model.Candidate(c));
      int p = 0;
      while (!(a.candidates()[static_cast<size_t>(c)].processors & ProcessorBit(p))) ++p;
      std::vector<Tensor> ins, outs;
      for (ValueId v : cg->inputs) ins.push_back(values[static_cast<size_t>(v)]);
      TUTTI_RETURN_IF_ERROR(model.Run(c, p, ins, outs));
      for (size_t i = 0; i < outs.size(); ++i) values[static_cast<size_t>(cg->outputs[i])] = outs[i];
    }
  }
  for (const auto& [c, p] : todo) {
    TUTTI_ASSIGN_OR_RETURN(const PartitionedModel::CandidateGraph* cg, model.Candidate(c));
    std::vector<Tensor> ins;
    for (ValueId v : cg->inputs) ins.push_back(values[static_cast<size_t>(v)]);
    std::vector<Tensor> outs;
    // Bindings copied into the capture: clang before 16 cannot capture structured bindings.
    auto us = ProfileMedianUs([&, c = c, p = p] { return model.Run(c, p, ins, outs); }, config_.profiler);
    // A pair that fails here is left unmeasured; if it fails when serving, the job is retried.
    if (!us.ok()) continue;
    std::lock_guard<std::mutex> lock(mu_);
    estimator_.Set(model.id, c, p, *us, config_.profiler.timed_runs);
  }
  return Status::Ok();
}

std::future<Result<Outputs>> Engine::Submit(ModelId model, std::vector<Tensor> inputs, RequestOptions options) {
  auto job = std::make_shared<Job>();
  std::future<Result<Outputs>> future = job->promise.get_future();
  job->id = next_request_id_.fetch_add(1, std::memory_order_relaxed);
  job->callback = std::move(options.callback);
  job->inputs = std::move(inputs);
  // A split request is planned and its outputs allocated before taking the lock (the planner and
  // shape inference can take a while); its errors count only if the checks below pass.
  const bool split = options.split == RequestSplit::kBatch;
  Result<SplitSetup> split_setup = split ? PlanSplit(model, job->inputs, options.batch_split) : SplitSetup{};
  Completions done;
  std::unique_lock<std::mutex> lock(mu_);
  job->submitted_us = NowUs();
  job->deadline_us = options.slo_us > 0 ? job->submitted_us + options.slo_us : 0;
  ++stats_.submitted;
  ++outstanding_;
  if (model < 0 || static_cast<size_t>(model) >= models_.size() || !models_[static_cast<size_t>(model)]) {
    FinishLocked(job, NotFound("no model with id ", model, " is registered"), done);
  } else if (!accepting_) {
    job->model = models_[static_cast<size_t>(model)];
    FinishLocked(job, FailedPrecondition("the engine is shut down"), done);
  } else {
    job->model = models_[static_cast<size_t>(model)];
    Status input_ok = CheckInputs(job->model->graph(), job->inputs).status();
    if (!input_ok.ok()) {
      FinishLocked(job, input_ok.WithContext("model '" + job->model->name() + "'"), done);
    } else if (outstanding_ > config_.queue_capacity) {
      FinishLocked(job, ResourceExhausted("queue full: ", config_.queue_capacity,
                                          " requests are already waiting or running (queue.capacity)"), done);
    } else if (split && !split_setup.ok()) {
      FinishLocked(job, split_setup.status().WithContext("model '" + job->model->name() + "'"), done);
    } else if (split) {
      StartSplitLocked(job, std::move(split_setup).value());
    } else {
      pending_.push_back(job);
      ScheduleLocked(done);
    }
  }
  FireCompletions(lock, done);
  return future;
}

void Engine::ScheduleLocked(Completions& done) {
  const int procs = static_cast<int>(processors_.size());
  const bool global = config_.queue_mode == QueueMode::kGlobal;
  while (!pending_.empty()) {
    const int64_t now = NowUs();
    std::vector<ProcessorView> views(static_cast<size_t>(procs));
    bool any_accepting = false, all_idle = true;
    for (int p = 0; p < procs; ++p) {
      const Worker& w = *workers_[static_cast<size_t>(p)];
      ProcessorView& v = views[static_cast<size_t>(p)];
      v.name = processors_[static_cast<size_t>(p)]->name();
      v.domain = domains_[static_cast<size_t>(p)];
      double free_at = w.busy ? std::max(static_cast<double>(now), w.running_end_us) : static_cast<double>(now);
      v.available_us = free_at + w.queued_us;
      const bool idle = !w.busy && w.queue.empty();
      v.accepting = !global || idle;
      any_accepting |= v.accepting;
      all_idle &= idle;
    }
    if (!any_accepting) return;
    const size_t n = std::min(pending_.size(), static_cast<size_t>(config_.schedule_window));
    job_views_.clear();
    for (size_t i = 0; i < n; ++i) {
      const Job& j = *pending_[i];
      job_views_.push_back({j.id, j.model->id, &j.model->name(), &j.model->analysis(), j.next_unit, j.excluded,
                            j.submitted_us, j.deadline_us});
    }
    decisions_.clear();
    ScheduleContext ctx(now, job_views_, std::move(views), estimator_, config_.transfer);
    scheduler_->Schedule(ctx, decisions_);
    std::vector<char> taken(n, 0);
    bool progress = false;
    for (Decision& d : decisions_) {
      if (d.job >= n || taken[d.job]) continue;  // a confused scheduler must not end a job twice
      std::shared_ptr<Job> job = pending_[d.job];
      if (d.kind == Decision::kAssign) {
        Status valid = ValidatePlan(*job, d.plan);
        if (!valid.ok()) {
          FinishLocked(job, valid.WithContext("scheduler " + scheduler_->name()), done);
        } else {
          const Worker& first = *workers_[static_cast<size_t>(d.plan[0].processor)];
          if (global && (first.busy || !first.queue.empty())) continue;  // taken this round; wait
          job->plan = std::move(d.plan);
          job->stage = 0;
          DispatchLocked(job);
        }
      } else if (d.kind == Decision::kDrop) {
        FinishLocked(job, DeadlineExceeded(d.reason), done);
      } else {
        FinishLocked(job, Unavailable(d.reason), done);
      }
      taken[d.job] = 1;
      progress = true;
    }
    if (!progress) {
      // Nothing will wake the scheduler again if every processor is idle: end those jobs
      // explicitly rather than leave them (and a Shutdown waiting on them) hanging.
      if (!all_idle) return;
      for (size_t i = 0; i < n; ++i)
        FinishLocked(pending_[i], Internal("scheduler ", scheduler_->name(), " left the request unplaced"), done);
      taken.assign(n, 1);
    }
    std::deque<std::shared_ptr<Job>> rest;
    for (size_t i = 0; i < pending_.size(); ++i)
      if (i >= n || !taken[i]) rest.push_back(std::move(pending_[i]));
    pending_.swap(rest);
  }
}

Status Engine::ValidatePlan(const Job& job, const Plan& plan) const {
  const ModelAnalysis& a = job.model->analysis();
  int unit = job.next_unit;
  for (const Stage& s : plan) {
    if (s.candidate < 0 || s.candidate >= static_cast<int>(a.candidates().size()) || s.processor < 0 ||
        s.processor >= static_cast<int>(processors_.size()))
      return Internal("plan names a candidate or processor that does not exist");
    const CandidateSubgraph& c = a.candidates()[static_cast<size_t>(s.candidate)];
    if (c.first_unit != unit || !(c.processors & ProcessorBit(s.processor)))
      return Internal("plan stage ", c.Label(), " on ", processors_[static_cast<size_t>(s.processor)]->name(),
                      " does not continue at unit ", unit, " on a capable processor");
    unit = c.end_unit;
  }
  if (plan.empty() || unit != a.unit_count()) return Internal("plan does not cover the model");
  return Status::Ok();
}

double Engine::StageEstimateLocked(const Job& job, const Stage& stage) const {
  // A batch share costs what its processor's batch table says for its rows, not a whole request.
  if (job.parent && stage.candidate == job.model->analysis().whole_model_candidate()) {
    const double us = job.model->batch_tables[static_cast<size_t>(stage.processor)].LatencyUs(job.share_items);
    if (std::isfinite(us)) return us;
  }
  return ExpectedLatencyUs(estimator_, job.model->id, job.model->analysis(), stage.candidate, stage.processor);
}

void Engine::DispatchLocked(const std::shared_ptr<Job>& job) {
  const Stage& s = job->plan[job->stage];
  Worker& w = *workers_[static_cast<size_t>(s.processor)];
  job->stage_est_us = StageEstimateLocked(*job, s);
  w.queued_us += job->stage_est_us;
  // A job already under way goes first: it holds intermediate tensors and is closer to done.
  if (job->stage > 0) w.queue.push_front(job);
  else w.queue.push_back(job);
  w.cv.notify_one();
  if (config_.work_stealing)
    for (auto& other : workers_)
      if (other.get() != &w && !other->busy) other->cv.notify_one();
}

void Engine::FinishLocked(const std::shared_ptr<Job>& job, Result<Outputs> result, Completions& done) {
  if (job->parent) return ShareEndedLocked(job, std::move(result), done);  // a share is not a request
  const Status& s = result.status();
  const std::string outcome = RequestOutcome(s);
  if (s.ok()) ++stats_.completed;
  else if (outcome == "dropped") ++stats_.dropped;
  else ++stats_.failed;
  if (!s.ok()) ++stats_.reasons[outcome + ": " + StatusCodeName(s.code())];
  done.emplace_back(job, std::move(result));
}

void Engine::FireCompletions(std::unique_lock<std::mutex>& lock, Completions& done) {
  if (done.empty()) return;
  const size_t n = done.size();
  lock.unlock();
  tls_in_callback = true;
  for (auto& [job, result] : done) {
    if (job->callback) {
      try {
        job->callback(result);
      } catch (...) {
        // A throwing callback must not take a worker down; the future still gets the result.
      }
    }
    job->promise.set_value(std::move(result));
    job->values.clear();
    job->inputs.clear();
  }
  tls_in_callback = false;
  done.clear();
  lock.lock();
  outstanding_ -= n;
  if (outstanding_ == 0) idle_cv_.notify_all();
}

void Engine::WaitIdle() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_cv_.wait(lock, [&] { return outstanding_ == 0; });
}

Status Engine::Shutdown(ShutdownMode mode) {
  if (tls_in_callback) return FailedPrecondition("Engine::Shutdown called from a request callback");
  std::lock_guard<std::mutex> serial(shutdown_mu_);
  Completions done;
  std::unique_lock<std::mutex> lock(mu_);
  if (stopped_) return Status::Ok();
  accepting_ = false;
  if (mode == ShutdownMode::kCancel) {
    cancelling_ = true;
    for (auto& job : pending_) FinishLocked(job, Cancelled("the engine shut down before the request ran"), done);
    pending_.clear();
    for (auto& w : workers_) {
      for (auto& job : w->queue) FinishLocked(job, Cancelled("the engine shut down before the request ran"), done);
      w->queue.clear();
      w->queued_us = 0;
    }
    FireCompletions(lock, done);
  }
  idle_cv_.wait(lock, [&] { return outstanding_ == 0; });
  stopping_ = true;
  for (auto& w : workers_) w->cv.notify_all();
  lock.unlock();
  for (auto& w : workers_)
    if (w->thread.joinable()) w->thread.join();
  lock.lock();
  stopped_ = true;
  return StoreProfileLocked();
}

Status Engine::StoreProfileLocked() {
  if (config_.profile_file.empty()) return Status::Ok();
  for (const auto& m : models_) {
    if (!m) continue;
    for (size_t p = 0; p < m->batch_tables.size(); ++p)
      if (!m->batch_tables[p].empty())
        PutBatchTable(profile_store_, ProfileStore::ModelKey(m->fingerprint()), processors_[p]->spec().ProfileKey(),
                      m->batch_tables[p]);
    for (int c = 0; c < static_cast<int>(m->analysis().candidates().size()); ++c) {
      const CandidateSubgraph& cand = m->analysis().candidates()[static_cast<size_t>(c)];
      for (int p = 0; p < static_cast<int>(processors_.size()); ++p) {
        if (estimator_.samples(m->id, c, p) == 0) continue;
        profile_store_.Put({ProfileStore::ModelKey(m->fingerprint()), ProfileStore::SubgraphKey(cand.first_unit, cand.end_unit),
                            processors_[static_cast<size_t>(p)]->spec().ProfileKey()},
                           {estimator_.Get(m->id, c, p), estimator_.samples(m->id, c, p)});
      }
    }
  }
  return profile_store_.Save(config_.profile_file);
}

Status Engine::SaveProfile() {
  std::lock_guard<std::mutex> lock(mu_);
  return StoreProfileLocked();
}

EngineStats Engine::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

std::vector<double> Engine::WholeModelEstimatesUs(ModelId model) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<double> out(processors_.size(), -1);
  if (model < 0 || static_cast<size_t>(model) >= models_.size() || !models_[static_cast<size_t>(model)]) return out;
  const PartitionedModel& m = *models_[static_cast<size_t>(model)];
  int whole = m.analysis().whole_model_candidate();
  if (whole < 0) return out;
  for (size_t p = 0; p < processors_.size(); ++p)
    if (m.analysis().candidates()[static_cast<size_t>(whole)].processors & ProcessorBit(static_cast<int>(p)))
      out[p] = estimator_.Get(m.id, whole, static_cast<int>(p));
  return out;
}

std::vector<TraceEvent> Engine::TakeTrace() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<TraceEvent> out;
  out.swap(trace_);
  return out;
}

}  // namespace tutti
