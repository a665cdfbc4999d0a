#include <algorithm>
#include <limits>

#include "sched/scheduler.h"

namespace tutti {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Job inputs live in host memory: the first stage on another domain receives them by copy.
constexpr int kHostDomain = 0;

}  // namespace

double ExpectedLatencyUs(const LatencyEstimator& estimator, int model, const ModelAnalysis& analysis, int candidate,
                         int processor) {
  double us = estimator.Get(model, candidate, processor);
  if (us >= 0) return us;
  const CandidateSubgraph& c = analysis.candidates()[static_cast<size_t>(candidate)];
  double sum = 0;
  for (int u = c.first_unit; u < c.end_unit; ++u) {
    int unit = analysis.CandidateIndex(u, u + 1);
    double part = unit >= 0 && unit != candidate ? estimator.Get(model, unit, processor) : -1;
    if (part > 0) sum += part;
  }
  return sum;
}

double ScheduleContext::LatencyUs(const JobView& job, int candidate, int processor) const {
  return ExpectedLatencyUs(estimator_, job.model, *job.analysis, candidate, processor);
}

ProcessorMask ScheduleContext::Usable(const JobView& job, int candidate) const {
  ProcessorMask m = job.analysis->candidates()[static_cast<size_t>(candidate)].processors & ~job.excluded;
  for (int p = 0; p < processor_count(); ++p)
    if (!processors_[static_cast<size_t>(p)].accepting) m &= ~ProcessorBit(p);
  return m;
}

Plan ScheduleContext::ChainPreferring(const JobView& job, int preferred) const {
  const ModelAnalysis& a = *job.analysis;
  const int units = a.unit_count();
  auto preferred_can = [&](int first, int end) {
    int c = a.CandidateIndex(first, end);
    return c >= 0 && (Usable(job, c) & ProcessorBit(preferred)) ? c : -1;
  };
  Plan plan;
  for (int i = job.next_unit; i < units;) {
    int taken = -1, end = units;
    for (; end > i && taken < 0; --end) taken = preferred_can(i, end);
    if (taken >= 0) {
      plan.push_back({taken, preferred});
      i = end + 1;
      continue;
    }
    // Fallback: the units up to where the preferred processor can take over again, on the
    // fastest processor that can run them.
    int resume = i + 1;
    while (resume < units && preferred_can(resume, resume + 1) < 0) ++resume;
    int best_c = -1, best_p = -1;
    for (int e = resume; e > i && best_c < 0; --e) {
      int c = a.CandidateIndex(i, e);
      if (c < 0) continue;
      double best_us = kInf;
      ProcessorMask m = Usable(job, c);
      for (int p = 0; p < processor_count(); ++p) {
        if (!(m & ProcessorBit(p))) continue;
        double us = LatencyUs(job, c, p);
        if (us < best_us) best_us = us, best_c = c, best_p = p;
      }
    }
    if (best_c < 0) return {};
    plan.push_back({best_c, best_p});
    i = a.candidates()[static_cast<size_t>(best_c)].end_unit;
  }
  return plan;
}

double ScheduleContext::FinishUs(const JobView& job, const Plan& plan) const {
  double avail[kMaxProcessors];
  for (int p = 0; p < processor_count(); ++p) avail[p] = processors_[static_cast<size_t>(p)].available_us;
  double t = static_cast<double>(now_us_);
  int prev_domain = kHostDomain;
  for (const Stage& s : plan) {
    const CandidateSubgraph& c = job.analysis->candidates()[static_cast<size_t>(s.candidate)];
    int domain = processors_[static_cast<size_t>(s.processor)].domain;
    double start = std::max(t + transfer_.CostUs(c.input_bytes, domain == prev_domain), avail[s.processor]);
    t = start + LatencyUs(job, s.candidate, s.processor);
    avail[s.processor] = t;
    prev_domain = domain;
  }
  return t;
}

void ScheduleContext::Commit(const JobView& job, const Plan& plan) {
  double t = static_cast<double>(now_us_);
  int prev_domain = kHostDomain;
  for (const Stage& s : plan) {
    const CandidateSubgraph& c = job.analysis->candidates()[static_cast<size_t>(s.candidate)];
    ProcessorView& pv = processors_[static_cast<size_t>(s.processor)];
    double start = std::max(t + transfer_.CostUs(c.input_bytes, pv.domain == prev_domain), pv.available_us);
    t = start + LatencyUs(job, s.candidate, s.processor);
    pv.available_us = t;
    prev_domain = pv.domain;
  }
}

void ScheduleContext::Emit(size_t job, Plan plan, std::vector<Decision>& out) {
  if (plan.empty()) {
    for (const ProcessorView& p : processors_)
      if (!p.accepting) return;  // a busy processor may be the one it needs: wait
    const JobView& j = jobs_[job];
    out.push_back({Decision::kFail, job, {},
                   StrCat("no processor is left to run model '", j.model_name ? *j.model_name : "?", "' from unit ",
                          j.next_unit, j.excluded ? " (the processors that could failed it)" : "")});
    return;
  }
  Commit(jobs_[job], plan);
  out.push_back({Decision::kAssign, job, std::move(plan), {}});
}

bool ScheduleContext::DropIfLate(size_t job, double finish_us, std::vector<Decision>& out) const {
  const JobView& j = jobs_[job];
  if (j.deadline_us <= 0 || finish_us <= static_cast<double>(j.deadline_us)) return false;
  out.push_back({Decision::kDrop, job, {},
                 StrCat("SLO cannot be met: expected to finish ", static_cast<int64_t>(finish_us - j.enqueued_us),
                        " us after submission, deadline ", j.deadline_us - j.enqueued_us, " us")});
  return true;
}

Plan ScheduleContext::EarliestFinishChain(const JobView& job) const {
  const ModelAnalysis& a = *job.analysis;
  const int units = a.unit_count(), procs = processor_count();
  const int first = job.next_unit;
  // finish[i][p]: earliest expected time units [first, i) are done with the last stage on p.
  const size_t width = static_cast<size_t>(procs);
  std::vector<double> finish(static_cast<size_t>(units + 1) * width, kInf);
  struct Parent {
    Stage stage;    // the stage ending at (i, p)
    int prev = -1;  // the processor of the stage before it (-1: it is the first)
  };
  std::vector<Parent> parent(finish.size());
  auto relax = [&](int from, double t, int from_domain, int from_p) {
    for (int end = from + 1; end <= units; ++end) {
      int c = a.CandidateIndex(from, end);
      if (c < 0) continue;
      ProcessorMask m = Usable(job, c);
      const CandidateSubgraph& cand = a.candidates()[static_cast<size_t>(c)];
      for (int p = 0; p < procs; ++p) {
        if (!(m & ProcessorBit(p))) continue;
        const ProcessorView& pv = processors_[static_cast<size_t>(p)];
        double start = std::max(t + transfer_.CostUs(cand.input_bytes, pv.domain == from_domain), pv.available_us);
        double done = start + LatencyUs(job, c, p);
        size_t at = static_cast<size_t>(end) * width + static_cast<size_t>(p);
        if (done < finish[at]) finish[at] = done, parent[at] = {{c, p}, from_p};
      }
    }
  };
  relax(first, static_cast<double>(now_us_), kHostDomain, -1);
  for (int i = first + 1; i < units; ++i)
    for (int p = 0; p < procs; ++p) {
      double t = finish[static_cast<size_t>(i) * width + static_cast<size_t>(p)];
      if (t < kInf) relax(i, t, processors_[static_cast<size_t>(p)].domain, p);
    }
  int best_p = -1;
  double best = kInf;
  for (int p = 0; p < procs; ++p) {
    double t = finish[static_cast<size_t>(units) * width + static_cast<size_t>(p)];
    if (t < best) best = t, best_p = p;
  }
  if (best_p < 0) return {};
  Plan plan;
  for (int i = units, p = best_p; i > first;) {
    const Parent& at = parent[static_cast<size_t>(i) * width + static_cast<size_t>(p)];
    plan.push_back(at.stage);
    i = a.candidates()[static_cast<size_t>(at.stage.candidate)].first_unit;
    p = at.prev;
  }
  std::reverse(plan.begin(), plan.end());
  return plan;
}

namespace {
std::map<std::string, SchedulerFactory>& Registry() {
  static std::map<std::string, SchedulerFactory> registry;
  return registry;
}
}  // namespace

void RegisterScheduler(const std::string& name, SchedulerFactory factory) { Registry()[name] = std::move(factory); }

std::vector<std::string> SchedulerNames() {
  std::vector<std::string> names;
  for (const auto& [name, f] : Registry()) names.push_back(name);
  return names;
}

Result<std::unique_ptr<Scheduler>> CreateScheduler(const SchedulerConfig& config) {
  auto it = Registry().find(config.name);
  if (it == Registry().end()) {
    std::string known;
    for (const std::string& n : SchedulerNames()) known += (known.empty() ? "" : ", ") + n;
    return InvalidArgument("unknown scheduler '", config.name, "' (known: ", known, ")");
  }
  return it->second(config);
}

}  // namespace tutti
