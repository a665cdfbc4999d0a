// Schedulers on hand-built analyses and estimates. HEFT's chain is checked against a brute-force
// search over every split of the units into runs and every processor per run.
#include "sched/scheduler.h"

#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <random>
#include <set>

namespace tutti {
namespace {

Graph Chain(const std::vector<std::string>& ops) {
  Graph g;
  SymbolicShape shape{Dim::Known(1), Dim::Known(4)};
  ValueId x = g.AddInput("x", {DataType::kFloat32, shape});
  for (size_t i = 0; i < ops.size(); ++i) {
    ValueId y = g.AddValue("v" + std::to_string(i), {DataType::kFloat32, shape});
    g.AddNode(ops[i], {x}, {y}, {}, "n" + std::to_string(i));
    x = y;
  }
  g.AddOutput(x);
  return g;
}

NodeSupport Supports(std::set<std::string> ops) {
  return [ops](const Graph&, const Node& n) { return ops.count(n.op_type) > 0; };
}

struct Fixture {
  ModelAnalysis analysis;
  LatencyEstimator estimator;
  TransferModel transfer;
  std::string name = "m";
  int model = 0;
  std::vector<ProcessorView> views;

  Fixture(const std::vector<std::string>& ops, const std::vector<std::set<std::string>>& support) {
    std::vector<NodeSupport> procs;
    for (const auto& s : support) procs.push_back(Supports(s));
    analysis = AnalyzeModel(Chain(ops), procs).value();
    model = estimator.AddModel(static_cast<int>(analysis.candidates().size()), static_cast<int>(support.size()));
    for (size_t p = 0; p < support.size(); ++p) views.push_back({"p" + std::to_string(p), 0, 0, true});
  }
  JobView Job(uint64_t id = 1, int64_t deadline = 0) const {
    return {id, model, &name, &analysis, 0, 0, 0, deadline};
  }
  void SetWhole(int p, double us) { estimator.Set(model, analysis.whole_model_candidate(), p, us); }
};

std::unique_ptr<Scheduler> Make(const std::string& name, SchedulerConfig c = {}) {
  c.name = name;
  auto s = CreateScheduler(c);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return std::move(s).value();
}

TEST(Heft, PicksTheProcessorThatFinishesFirst) {
  Fixture f({"A", "A"}, {{"A"}, {"A"}});
  f.SetWhole(0, 100);
  f.SetWhole(1, 50);
  std::vector<JobView> jobs = {f.Job()};
  {
    ScheduleContext ctx(0, jobs, f.views, f.estimator, f.transfer);
    std::vector<Decision> out;
    Make("heft")->Schedule(ctx, out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].plan.size(), 1u);
    EXPECT_EQ(out[0].plan[0].processor, 1);
  }
  f.views[1].available_us = 200;  // the fast one is busy for a while: the slow one finishes first
  ScheduleContext ctx(0, jobs, f.views, f.estimator, f.transfer);
  std::vector<Decision> out;
  Make("heft")->Schedule(ctx, out);
  EXPECT_EQ(out[0].plan[0].processor, 0);
}

// Brute force: every split into consecutive runs, every processor per run.
double BestByBruteForce(const Fixture& f, const ScheduleContext& ctx, const JobView& job) {
  const int units = f.analysis.unit_count(), procs = static_cast<int>(f.views.size());
  double best = std::numeric_limits<double>::infinity();
  std::function<void(int, Plan&)> rec = [&](int at, Plan& plan) {
    if (at == units) {
      best = std::min(best, ctx.FinishUs(job, plan));
      return;
    }
    for (int end = at + 1; end <= units; ++end) {
      int c = f.analysis.CandidateIndex(at, end);
      if (c < 0) continue;
      for (int p = 0; p < procs; ++p) {
        if (!(f.analysis.candidates()[static_cast<size_t>(c)].processors & ProcessorBit(p))) continue;
        plan.push_back({c, p});
        rec(end, plan);
        plan.pop_back();
      }
    }
  };
  Plan plan;
  rec(0, plan);
  return best;
}

TEST(Heft, ChainMatchesBruteForceOnRandomEstimates) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 40; ++trial) {
    // p0 runs everything (the CPU), p1 lacks B, p2 lacks C.
    std::vector<std::string> ops;
    for (int i = 0; i < 6; ++i) ops.push_back(std::string(1, static_cast<char>('A' + rng() % 3)));
    Fixture f(ops, {{"A", "B", "C"}, {"A", "C"}, {"A", "B"}});
    for (size_t p = 0; p < f.views.size(); ++p) {
      f.views[p].available_us = static_cast<double>(rng() % 300);
      f.views[p].domain = static_cast<int>(p);  // every hand-over costs a transfer
    }
    for (int c = 0; c < static_cast<int>(f.analysis.candidates().size()); ++c)
      for (int p = 0; p < 3; ++p) f.estimator.Set(f.model, c, p, 10.0 + static_cast<double>(rng() % 200));
    std::vector<JobView> jobs = {f.Job()};
    ScheduleContext ctx(0, jobs, f.views, f.estimator, f.transfer);
    Plan plan = ctx.EarliestFinishChain(jobs[0]);
    ASSERT_FALSE(plan.empty());
    EXPECT_NEAR(ctx.FinishUs(jobs[0], plan), BestByBruteForce(f, ctx, jobs[0]), 1e-6) << "trial " << trial;
  }
}

TEST(ChainPreferring, FallsBackOnlyForWhatThePreferredProcessorLacks) {
  Fixture f({"A", "A", "B", "A"}, {{"A", "B"}, {"A"}});
  std::vector<JobView> jobs = {f.Job()};
  ScheduleContext ctx(0, jobs, f.views, f.estimator, f.transfer);
  Plan plan = ctx.ChainPreferring(jobs[0], 1);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0].processor, 1);
  EXPECT_EQ(f.analysis.candidates()[static_cast<size_t>(plan[0].candidate)].node_count, 2u);
  EXPECT_EQ(plan[1].processor, 0);
  EXPECT_EQ(plan[2].processor, 1);
  EXPECT_EQ(ctx.ChainPreferring(jobs[0], 0).size(), 1u) << "p0 runs it whole";
}

TEST(LeastSlackTimeFirst, ServesTightestFirstAndDropsTheHopeless) {
  Fixture f({"A"}, {{"A"}});
  f.SetWhole(0, 100);
  // Job 0: loose deadline; job 1: tight but feasible; job 2: impossible.
  std::vector<JobView> jobs = {f.Job(1, 10000), f.Job(2, 150), f.Job(3, 50)};
  ScheduleContext ctx(0, jobs, f.views, f.estimator, f.transfer);
  std::vector<Decision> out;
  Make("least_slack_time_first")->Schedule(ctx, out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].job, 2u);
  EXPECT_EQ(out[0].kind, Decision::kDrop);
  EXPECT_EQ(out[1].job, 1u);
  EXPECT_EQ(out[1].kind, Decision::kAssign);
  EXPECT_EQ(out[2].job, 0u);
  EXPECT_EQ(out[2].kind, Decision::kAssign);
}

TEST(RoundRobin, AlternatesAndSkipsBusyProcessorsInGlobalMode) {
  Fixture f({"A"}, {{"A"}, {"A"}, {"A"}});
  std::vector<JobView> jobs = {f.Job(1), f.Job(2), f.Job(3), f.Job(4)};
  f.views[1].accepting = false;
  ScheduleContext ctx(0, jobs, f.views, f.estimator, f.transfer);
  std::vector<Decision> out;
  Make("round_robin")->Schedule(ctx, out);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].plan[0].processor, 0);
  EXPECT_EQ(out[1].plan[0].processor, 2);
  EXPECT_EQ(out[2].plan[0].processor, 0);
}

TEST(Fixed, FollowsTheConfiguredMapping) {
  Fixture f({"A"}, {{"A"}, {"A"}});
  SchedulerConfig c;
  c.fixed = {{"m", "p1"}};
  std::vector<JobView> jobs = {f.Job(1), f.Job(2)};
  ScheduleContext ctx(0, jobs, f.views, f.estimator, f.transfer);
  std::vector<Decision> out;
  Make("fixed", c)->Schedule(ctx, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].plan[0].processor, 1);
  EXPECT_EQ(out[1].plan[0].processor, 1);
}

TEST(Schedulers, JobWithEveryCapableProcessorExcludedFailsWithReason) {
  Fixture f({"A", "B"}, {{"A", "B"}, {"A"}});
  JobView j = f.Job();
  j.excluded = 0b01;  // p0, the only one that runs B, failed it
  std::vector<JobView> jobs = {j};
  for (const std::string& name : SchedulerNames()) {
    ScheduleContext ctx(0, jobs, f.views, f.estimator, f.transfer);
    std::vector<Decision> out;
    Make(name)->Schedule(ctx, out);
    ASSERT_EQ(out.size(), 1u) << name;
    EXPECT_EQ(out[0].kind, Decision::kFail) << name;
    EXPECT_NE(out[0].reason.find("no processor"), std::string::npos) << out[0].reason;
  }
}

TEST(Schedulers, UnknownNameListsKnownOnes) {
  SchedulerConfig c;
  c.name = "fastest";
  auto s = CreateScheduler(c);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("heft"), std::string::npos);
  EXPECT_EQ(SchedulerNames().size(), 5u);
}

}  // namespace
}  // namespace tutti
