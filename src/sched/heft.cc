// HEFT over subgraphs (Band's main policy, after Topcuoglu et al.'s heterogeneous earliest finish
// time): in arrival order, each job takes the chain of candidate subgraphs -- whole model on one
// processor, or pieces across processors with fallbacks -- that is expected to finish first given
// every processor's queue and the cost of handing tensors across memory domains. With SLOs it
// drops a job whose best chain would finish past its deadline.
#include "sched/scheduler.h"

namespace tutti {
namespace {

class HeftScheduler final : public Scheduler {
 public:
  explicit HeftScheduler(bool drop_late) : drop_late_(drop_late) {}
  std::string name() const override { return "heft"; }

  void Schedule(ScheduleContext& ctx, std::vector<Decision>& out) override {
    for (size_t i = 0; i < ctx.jobs().size(); ++i) {
      Plan plan = ctx.EarliestFinishChain(ctx.jobs()[i]);
      if (!plan.empty() && drop_late_ && ctx.DropIfLate(i, ctx.FinishUs(ctx.jobs()[i], plan), out)) continue;
      ctx.Emit(i, std::move(plan), out);
    }
  }

 private:
  bool drop_late_;
};

TUTTI_REGISTER_SCHEDULER("heft", [](const SchedulerConfig& c) -> Result<std::unique_ptr<Scheduler>> {
  return std::unique_ptr<Scheduler>(new HeftScheduler(c.drop_late));
});

}  // namespace
}  // namespace tutti
