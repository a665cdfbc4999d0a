// The worker threads: take the next stage of this processor's queue (or steal one), run it without
// the engine lock, then route the job on -- next stage, retry elsewhere, or the end.
#include <algorithm>
#include <cmath>
#include <exception>
#include <new>
#include <span>

#include "engine/engine.h"
#include "engine/job.h"
#include "engine/worker.h"

namespace tutti {
namespace {

// Failures of the processor rather than of the request: worth another processor.
bool Retryable(const Status& s) {
  return s.code() == StatusCode::kOutOfMemory || s.code() == StatusCode::kDeviceError ||
         s.code() == StatusCode::kUnavailable;
}

}  // namespace

bool Engine::CanStealLocked(int worker) const {
  for (size_t v = 0; v < workers_.size(); ++v) {
    const Worker& victim = *workers_[v];
    if (static_cast<int>(v) == worker || !victim.busy) continue;  // an idle victim runs its own queue
    for (const auto& job : victim.queue) {
      const CandidateSubgraph& c = job->model->analysis().candidates()[static_cast<size_t>(job->plan[job->stage].candidate)];
      if ((c.processors & ProcessorBit(worker)) && !(job->excluded & ProcessorBit(worker))) return true;
    }
  }
  return false;
}

bool Engine::TryStealLocked(int worker) {
  // Take the newest stage this processor can run from the busiest other queue: the oldest ones
  // are closest to running where they were planned.
  int best = -1;
  double best_queued = 0;
  for (size_t v = 0; v < workers_.size(); ++v) {
    const Worker& victim = *workers_[v];
    if (static_cast<int>(v) == worker || !victim.busy || victim.queue.empty()) continue;
    if (victim.queued_us >= best_queued) best_queued = victim.queued_us, best = static_cast<int>(v);
  }
  if (best < 0) return false;
  Worker& victim = *workers_[static_cast<size_t>(best)];
  for (auto it = victim.queue.rbegin(); it != victim.queue.rend(); ++it) {
    Job& job = **it;
    Stage& s = job.plan[job.stage];
    const CandidateSubgraph& c = job.model->analysis().candidates()[static_cast<size_t>(s.candidate)];
    if (!(c.processors & ProcessorBit(worker)) || (job.excluded & ProcessorBit(worker))) continue;
    std::shared_ptr<Job> taken = *it;
    victim.queue.erase(std::next(it).base());
    victim.queued_us = std::max(0.0, victim.queued_us - job.stage_est_us);
    s.processor = worker;
    taken->stage_est_us = StageEstimateLocked(*taken, s);
    workers_[static_cast<size_t>(worker)]->queue.push_back(std::move(taken));
    workers_[static_cast<size_t>(worker)]->queued_us += job.stage_est_us;
    ++stats_.stolen;
    return true;
  }
  return false;
}

Status Engine::RunStage(Job& job, int processor) {
  PartitionedModel& model = *job.model;
  const Stage& s = job.plan[job.stage];
  auto bytes = [](std::span<const Tensor> ts) {
    int64_t n = 0;
    for (const Tensor& t : ts) n += t.defined() ? static_cast<int64_t>(t.nbytes()) : 0;
    return n;
  };
  if (s.candidate == model.analysis().whole_model_candidate()) {
    Status st = model.Run(s.candidate, processor, job.inputs, job.outputs);
    job.stage_in_bytes = bytes(job.inputs), job.stage_out_bytes = bytes(job.outputs);
    return st;
  }
  TUTTI_ASSIGN_OR_RETURN(const PartitionedModel::CandidateGraph* cg, model.Candidate(s.candidate));
  const Graph& g = model.graph();
  if (job.values.empty()) {
    job.values.resize(g.value_count());
    for (size_t i = 0; i < job.inputs.size(); ++i) job.values[static_cast<size_t>(g.inputs()[i])] = job.inputs[i];
  }
  std::vector<Tensor> ins;
  ins.reserve(cg->inputs.size());
  for (ValueId v : cg->inputs) {
    const Tensor& t = job.values[static_cast<size_t>(v)];
    if (!t.defined()) return Internal("value '", g.value(v).name, "' was not produced before it is needed");
    ins.push_back(t);
  }
  std::vector<Tensor> outs;
  TUTTI_RETURN_IF_ERROR(model.Run(s.candidate, processor, ins, outs));
  job.stage_in_bytes = bytes(ins), job.stage_out_bytes = bytes(outs);
  for (size_t i = 0; i < outs.size() && i < cg->outputs.size(); ++i) job.values[static_cast<size_t>(cg->outputs[i])] = outs[i];
  return Status::Ok();
}

namespace {

Outputs CollectOutputs(Job& job, int64_t now_us) {
  Outputs out;
  out.submitted_us = job.submitted_us;
  out.finished_us = now_us;
  out.stages = job.stages_run;
  const PartitionedModel& m = *job.model;
  if (job.plan.back().candidate == m.analysis().whole_model_candidate()) {
    out.tensors = std::move(job.outputs);
  } else {
    for (ValueId v : m.graph().outputs()) {
      const Tensor& t = job.values[static_cast<size_t>(v)];
      out.tensors.push_back(t.defined() ? t : m.graph().value(v).constant);
    }
  }
  return out;
}

}  // namespace

void Engine::WorkerLoop(int index) {
  const Processor& processor = *processors_[static_cast<size_t>(index)];
  Status pinned = processor.PinCurrentThread();
  Completions done;
  std::unique_lock<std::mutex> lock(mu_);
  Worker& me = *workers_[static_cast<size_t>(index)];
  if (!pinned.ok()) ++stats_.reasons["warning: " + pinned.message()];
  for (;;) {
    me.cv.wait(lock, [&] {
      return stopping_ || !me.queue.empty() || (config_.work_stealing && CanStealLocked(index));
    });
    if (me.queue.empty() && config_.work_stealing) TryStealLocked(index);
    if (me.queue.empty()) {
      if (stopping_) return;
      continue;
    }
    std::shared_ptr<Job> job = std::move(me.queue.front());
    me.queue.pop_front();
    me.queued_us = me.queue.empty() ? 0 : std::max(0.0, me.queued_us - job->stage_est_us);
    me.busy = true;
    const int64_t start = NowUs();
    me.running_end_us = static_cast<double>(start) + job->stage_est_us;
    if (config_.work_stealing && !me.queue.empty())
      for (auto& other : workers_)
        if (!other->busy) other->cv.notify_one();
    lock.unlock();

    Status status;
    try {
      status = RunStage(*job, index);
    } catch (const std::bad_alloc&) {
      status = OutOfMemory("host allocation failed");
    } catch (const std::exception& e) {
      status = Internal("exception: ", e.what());
    }
    const int64_t end = NowUs();

    lock.lock();
    me.busy = false;
    const Stage stage = job->plan[job->stage];
    ProcessorStats& ps = stats_.processors[static_cast<size_t>(index)];
    ++ps.stages;
    ps.busy_us += end - start;
    const CandidateSubgraph& cand = job->model->analysis().candidates()[static_cast<size_t>(stage.candidate)];
    const bool whole = stage.candidate == job->model->analysis().whole_model_candidate();
    // A batch share's time belongs to the batch table (it ran `share_items` items), not to the
    // request-latency estimate.
    if (status.ok() && job->parent && whole) {
      BatchProfileTable& table = job->model->batch_tables[static_cast<size_t>(index)];
      if (!table.empty()) table.Observe(job->share_items, static_cast<double>(end - start));
    } else if (status.ok()) {
      estimator_.Observe(job->model->id, stage.candidate, index, static_cast<double>(end - start));
    }
    if (config_.record_trace) {
      std::string what = !whole       ? cand.Label()
                         : job->parent ? StrCat("batch share, items ", job->share_offset, "-",
                                                job->share_offset + job->share_items - 1)
                                       : "whole model";
      trace_.push_back({TraceEvent::kStage, index, job->id, job->model->name(), std::move(what), start, end, status.ok()});
      // Outside host memory the stage copied its inputs in and outputs out (inside Run).
      if (domains_[static_cast<size_t>(index)] != 0 && status.ok()) {
        const int64_t half = (end - start) / 2;
        const auto in = std::min<int64_t>(half, std::llround(config_.transfer.CostUs(job->stage_in_bytes, false)));
        const auto out = std::min<int64_t>(half, std::llround(config_.transfer.CostUs(job->stage_out_bytes, false)));
        trace_.push_back({TraceEvent::kCopyIn, index, job->id, job->model->name(), "", start, start + in, true,
                          job->stage_in_bytes});
        trace_.push_back({TraceEvent::kCopyOut, index, job->id, job->model->name(), "", end - out, end, true,
                          job->stage_out_bytes});
      }
    }
    if (cancelling_) {
      FinishLocked(job, Cancelled("the engine shut down while the request was under way"), done);
    } else if (status.ok()) {
      ++job->stages_run;
      if (++job->stage == job->plan.size()) FinishLocked(job, CollectOutputs(*job, end), done);
      else DispatchLocked(job);
    } else if (Retryable(status) && job->retries < config_.max_retries) {
      // Re-plan from the failed stage on the other processors (Band: a job is never lost).
      ++job->retries;
      ++stats_.retried;
      job->excluded |= ProcessorBit(index);
      job->next_unit = cand.first_unit;
      job->plan.clear();
      job->stage = 0;
      pending_.push_front(job);
    } else {
      FinishLocked(job, status.WithContext(StrCat("model '", job->model->name(), "' ", cand.Label(), " on processor '",
                                                  processor.name(), "'")), done);
    }
    ScheduleLocked(done);
    FireCompletions(lock, done);
  }
}

}  // namespace tutti
