// Round robin: jobs go to processors in turn, ignoring estimates -- the baseline that shows what
// latency-aware policies gain. Unsupported parts fall back along a chain.
#include "sched/scheduler.h"

namespace tutti {
namespace {

class RoundRobinScheduler final : public Scheduler {
 public:
  std::string name() const override { return "round_robin"; }

  void Schedule(ScheduleContext& ctx, std::vector<Decision>& out) override {
    const int n = ctx.processor_count();
    for (size_t i = 0; i < ctx.jobs().size(); ++i) {
      int p = -1;
      for (int k = 0; k < n && p < 0; ++k)
        if (ctx.processors()[static_cast<size_t>((next_ + k) % n)].accepting) p = (next_ + k) % n;
      if (p < 0) return;  // global-queue mode and every processor busy
      next_ = (p + 1) % n;
      ctx.Emit(i, ctx.ChainPreferring(ctx.jobs()[i], p), out);
    }
  }

 private:
  int next_ = 0;
};

TUTTI_REGISTER_SCHEDULER("round_robin", [](const SchedulerConfig&) -> Result<std::unique_ptr<Scheduler>> {
  return std::unique_ptr<Scheduler>(new RoundRobinScheduler());
});

}  // namespace
}  // namespace tutti
