// Least slack time first (SLO-aware; Band's LST): the window's jobs are served in order of slack,
// deadline - now - best expected latency, so the job closest to missing its SLO goes first, to
// its earliest-finish chain. A job whose SLO can no longer be met is dropped and reported, rather
// than run late and delay the jobs that can still make it.
#include <algorithm>
#include <limits>

#include "sched/scheduler.h"

namespace tutti {
namespace {

class LeastSlackTimeFirstScheduler final : public Scheduler {
 public:
  explicit LeastSlackTimeFirstScheduler(bool drop_late) : drop_late_(drop_late) {}
  std::string name() const override { return "least_slack_time_first"; }

  void Schedule(ScheduleContext& ctx, std::vector<Decision>& out) override {
    order_.clear();
    for (size_t i = 0; i < ctx.jobs().size(); ++i) {
      const JobView& job = ctx.jobs()[i];
      double slack = std::numeric_limits<double>::infinity();
      if (job.deadline_us > 0) {
        Plan plan = ctx.EarliestFinishChain(job);
        double best = plan.empty() ? 0 : ctx.FinishUs(job, plan) - static_cast<double>(ctx.now_us());
        slack = static_cast<double>(job.deadline_us - ctx.now_us()) - best;
      }
      order_.push_back({slack, i});
    }
    std::stable_sort(order_.begin(), order_.end());
    for (const auto& [slack, i] : order_) {
      Plan plan = ctx.EarliestFinishChain(ctx.jobs()[i]);
      if (!plan.empty() && drop_late_ && ctx.DropIfLate(i, ctx.FinishUs(ctx.jobs()[i], plan), out)) continue;
      ctx.Emit(i, std::move(plan), out);
    }
  }

 private:
  bool drop_late_;
  std::vector<std::pair<double, size_t>> order_;
};

TUTTI_REGISTER_SCHEDULER("least_slack_time_first", [](const SchedulerConfig& c) -> Result<std::unique_ptr<Scheduler>> {
  return std::unique_ptr<Scheduler>(new LeastSlackTimeFirstScheduler(c.drop_late));
});

}  // namespace
}  // namespace tutti
