// Fixed: each model always runs on one processor (the single-processor frameworks' placement,
// extended to several models): config "fixed": {"model": "processor"}, else models are spread
// over processors by registration order. Unsupported parts fall back along a chain.
#include "sched/scheduler.h"

namespace tutti {
namespace {

class FixedScheduler final : public Scheduler {
 public:
  explicit FixedScheduler(std::map<std::string, std::string> fixed) : fixed_(std::move(fixed)) {}
  std::string name() const override { return "fixed"; }

  void Schedule(ScheduleContext& ctx, std::vector<Decision>& out) override {
    for (size_t i = 0; i < ctx.jobs().size(); ++i) {
      const JobView& job = ctx.jobs()[i];
      int p = job.model % ctx.processor_count();
      auto it = job.model_name ? fixed_.find(*job.model_name) : fixed_.end();
      if (it != fixed_.end())
        for (int q = 0; q < ctx.processor_count(); ++q)
          if (ctx.processors()[static_cast<size_t>(q)].name == it->second) p = q;
      if (!ctx.processors()[static_cast<size_t>(p)].accepting) continue;  // waits for its processor
      ctx.Emit(i, ctx.ChainPreferring(job, p), out);
    }
  }

 private:
  std::map<std::string, std::string> fixed_;
};

TUTTI_REGISTER_SCHEDULER("fixed", [](const SchedulerConfig& c) -> Result<std::unique_ptr<Scheduler>> {
  return std::unique_ptr<Scheduler>(new FixedScheduler(c.fixed));
});

}  // namespace
}  // namespace tutti
