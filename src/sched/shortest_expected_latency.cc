// Shortest expected latency (Band's SEL baseline): in arrival order, each job goes to the
// processor on which it is expected to finish first, counting the work already queued there.
// Each option keeps the job on one processor where it can (chain fallback otherwise).
#include <limits>

#include "sched/scheduler.h"

namespace tutti {
namespace {

class ShortestExpectedLatencyScheduler final : public Scheduler {
 public:
  std::string name() const override { return "shortest_expected_latency"; }

  void Schedule(ScheduleContext& ctx, std::vector<Decision>& out) override {
    for (size_t i = 0; i < ctx.jobs().size(); ++i) {
      const JobView& job = ctx.jobs()[i];
      Plan best;
      double best_finish = std::numeric_limits<double>::infinity();
      for (int p = 0; p < ctx.processor_count(); ++p) {
        if (!ctx.processors()[static_cast<size_t>(p)].accepting) continue;
        Plan plan = ctx.ChainPreferring(job, p);
        if (plan.empty()) continue;
        double finish = ctx.FinishUs(job, plan);
        if (finish < best_finish) best_finish = finish, best = std::move(plan);
      }
      ctx.Emit(i, std::move(best), out);
    }
  }
};

TUTTI_REGISTER_SCHEDULER("shortest_expected_latency", [](const SchedulerConfig&) -> Result<std::unique_ptr<Scheduler>> {
  return std::unique_ptr<Scheduler>(new ShortestExpectedLatencyScheduler());
});

}  // namespace
}  // namespace tutti
