// Cost predictor tables and the fused-layer configuration search (issue 7): tables found from
// unequal devices rank them right and survive a JSON round trip; malformed tables are refused with
// the field named; the optimizer's plan runs and reproduces the single-device output, is never
// predicted slower than the fastest device alone, and costs far fewer measurements than the full
// search.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "partition/spatial_cost.h"
#include "partition/spatial_optimizer.h"
#include "spatial_nets.h"

namespace tutti {
namespace {

using namespace spatial;

// The naive reference plus `factor` x 2 ms of sleep per run: unequal devices on one
// machine without relying on core counts.
class SlowExecutable final : public Executable {
 public:
  SlowExecutable(std::unique_ptr<Executable> inner, double factor) : inner_(std::move(inner)), factor_(factor) {}
  Status Run(std::span<const Tensor> in, std::vector<Tensor>& out) override {
    Status s = inner_->Run(in, out);
    // A fixed cost per run dominates the naive kernels' microseconds, so the ranking survives a
    // loaded machine.
    std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(2000 * factor_)));
    return s;
  }

 private:
  std::unique_ptr<Executable> inner_;
  double factor_;
};

class SlowBackend final : public Backend {
 public:
  explicit SlowBackend(double factor) : factor_(factor) {}
  std::string name() const override { return "slow"; }
  bool SupportsNode(const Graph& g, const Node& n) const override { return inner_.SupportsNode(g, n); }
  std::vector<std::string> SupportedOps() const override { return inner_.SupportedOps(); }
  Result<std::unique_ptr<Executable>> Compile(const Graph& g, const CompileOptions& o) override {
    TUTTI_ASSIGN_OR_RETURN(auto exe, inner_.Compile(g, o));
    return std::unique_ptr<Executable>(new SlowExecutable(std::move(exe), factor_));
  }

 private:
  testing::NaiveBackend inner_;
  double factor_;
};

std::vector<SpatialDevice> Devices(std::vector<double> factors) {
  std::vector<SpatialDevice> d;
  for (size_t i = 0; i < factors.size(); ++i)
    d.push_back({"dev" + std::to_string(i), std::make_shared<SlowBackend>(factors[i]), 1.0, {}});
  return d;
}

TEST(SpatialCostTest, TablesRankUnequalDevicesAndRoundTrip) {
  Graph g = testing::ChainNet();
  auto devices = Devices({1.0, 4.0});
  ProfileOptions po;
  po.warmup = 0;
  po.iters = 3;  // a median, so one run stretched by a loaded machine cannot flip the ranking
  auto t = ProfileUnits(g, devices, po);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_EQ(t->speeds.size(), 2u);
  EXPECT_GT(t->speeds[0], t->speeds[1]) << "dev0 is 4x faster";
  EXPECT_EQ(t->model_fingerprint, g.Fingerprint());
  EXPECT_EQ(t->run_us[0].size(), 9u);  // the nine splittable layers (conv/relu/pool each a unit)
  for (size_t u = 0; u < t->run_us[0].size(); ++u) EXPECT_GT(t->out_rows[0][u], 0);

  auto back = CostTables::FromJson(t->ToJson());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->run_us, t->run_us);
  EXPECT_EQ(back->out_rows, t->out_rows);
  EXPECT_EQ(back->model_fingerprint, t->model_fingerprint);

  std::string broken = t->ToJson();
  broken.replace(broken.find("\"run_us\""), 8, "\"ran_us\"");
  auto bad = CostTables::FromJson(broken);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'run_us'"), std::string::npos) << bad.status().ToString();
  EXPECT_FALSE(CostTables::FromJson("{not json").ok());
  EXPECT_FALSE(CostTables::Load("/nonexistent/tables.json").ok());
}

TEST(SpatialCostTest, FusedGroupPredictionGrowsWithTheHalo) {
  Graph g = testing::ChainNet();
  auto devices = Devices({1.0, 1.0});
  ProfileOptions po;
  po.warmup = 0;
  po.iters = 1;
  po.speeds = {1.0, 1.0};
  auto t = ProfileUnits(g, devices, po);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  auto units = FindUnits(g);
  ASSERT_TRUE(units.ok());
  CostPredictor p(g, *units, *t);
  // Fusing never makes the run part cheaper than the units' own runs (alpha >= 1 for every unit).
  std::vector<int64_t> rows = ProportionalShares((*units)[3].out_h, t->speeds);
  auto fused = p.GroupUs(0, 4, rows);
  ASSERT_TRUE(fused.ok()) << fused.status().ToString();
  double separate_runs = 0;
  for (size_t u = 0; u < 4; ++u) separate_runs += std::max(t->run_us[0][u], t->run_us[1][u]);
  EXPECT_GE(*fused, 0.5 * separate_runs);
  EXPECT_FALSE(p.GroupUs(3, 2, rows).ok());
}

TEST(SpatialOptimizerTest, PlanRunsCorrectlyAndSearchesFarLessThanFullSearch) {
  Graph g = testing::BlockNet();
  auto devices = Devices({1.0, 2.0, 3.0});
  ProfileOptions po;
  po.warmup = 0;
  po.iters = 1;
  auto t = ProfileUnits(g, devices, po);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  auto units = FindUnits(g);
  ASSERT_TRUE(units.ok());
  CostPredictor p(g, *units, *t);
  auto opt = OptimizePlan(p, MeasureWith(g, devices, 0, 1));
  ASSERT_TRUE(opt.ok()) << opt.status().ToString();
  EXPECT_LE(opt->measurements, 2);  // only the wild card measures

  // Never predicted slower than the fastest device alone.
  SpatialPlan single = SingleDevicePlan(*units, devices.size(), p.FastestDevice());
  double single_us = 0;
  auto single_pred = p.GroupUs(0, single.head_first, single.groups[0].rows);
  ASSERT_TRUE(single_pred.ok());
  single_us = *single_pred + p.HeadUs(single.head_device);
  EXPECT_LE(opt->plan.predicted_us, single_us * 1.0001);

  // The plan reproduces the single-device output.
  auto exec = SpatialExecutor::Create(g, devices, opt->plan);
  ASSERT_TRUE(exec.ok()) << exec.status().ToString();
  Tensor x = testing::RandomTensor({2, 3, 31, 22}, 9), out;
  ASSERT_TRUE((*exec)->Run(x, out).ok());
  testing::NaiveExecutable whole(g);
  std::vector<Tensor> want;
  ASSERT_TRUE(whole.Run({&x, 1}, want).ok());
  EXPECT_LE(testing::RelativePeakError(out, want[0]), 1e-5);

  auto full = FullSearchPlan(g, devices, t->speeds, 0, 1);
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  size_t n = opt->plan.head_first;
  EXPECT_EQ(full->measurements, static_cast<int>(n * (n + 1)));  // two share options per candidate group
  auto full_exec = SpatialExecutor::Create(g, devices, full->plan);
  ASSERT_TRUE(full_exec.ok()) << full_exec.status().ToString();
  ASSERT_TRUE((*full_exec)->Run(x, out).ok());
  EXPECT_LE(testing::RelativePeakError(out, want[0]), 1e-5);
}

}  // namespace
}  // namespace tutti
