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
  // Never predicted slower than the best device alone (judged on predictions only).
  auto predicted = OptimizePlan(p, PlanMeasure());
  ASSERT_TRUE(predicted.ok()) << predicted.status().ToString();
  EXPECT_EQ(predicted->measurements, 0);
  auto alone = p.BestSingleDevice();
  ASSERT_TRUE(alone.ok()) << alone.status().ToString();
  EXPECT_LE(predicted->plan.predicted_us, alone->second * 1.0001);

  auto opt = OptimizePlan(p, MeasureWith(g, devices, 0, 1));
  ASSERT_TRUE(opt.ok()) << opt.status().ToString();
  EXPECT_LE(opt->measurements, 3);  // the searched plan, the wild card and the best device alone

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
  // Two share options per candidate group, then the plan and each of the three devices alone (the
  // plan is not measured twice when it is one of them).
  EXPECT_GE(full->measurements, static_cast<int>(n * (n + 1)) + 3);
  EXPECT_LE(full->measurements, static_cast<int>(n * (n + 1)) + 4);
  auto full_exec = SpatialExecutor::Create(g, devices, full->plan);
  ASSERT_TRUE(full_exec.ok()) << full_exec.status().ToString();
  ASSERT_TRUE((*full_exec)->Run(x, out).ok());
  EXPECT_LE(testing::RelativePeakError(out, want[0]), 1e-5);
}

// Cost tables written by hand for ChainNet's nine splittable units and two devices: device d
// computes a row of any unit in run_per_row[d] us, sending or fetching any band costs
// transfer_us[d] (0: a local device), the head computes in head_run_us[d]. Bands are sized as
// ProfileUnits sizes them (shares proportional to `speeds`; one row where the share is empty).
CostTables HandTables(const Graph& g, const std::vector<Unit>& units, std::vector<double> speeds,
                      std::vector<double> run_per_row, std::vector<double> transfer_us,
                      std::vector<double> head_run_us) {
  CostTables t;
  t.model_fingerprint = g.Fingerprint();
  const size_t n = 9, nd = speeds.size();
  for (size_t d = 0; d < nd; ++d) t.devices.push_back("dev" + std::to_string(d));
  t.speeds = speeds;
  t.ZeroMatrices(nd, n);
  for (size_t u = 0; u < n; ++u) {
    std::vector<int64_t> rows = ProportionalShares(units[u].out_h, speeds);
    for (size_t d = 0; d < nd; ++d) {
      t.out_rows[d][u] = std::max<int64_t>(1, rows[d]);
      t.run_us[d][u] = run_per_row[d] * static_cast<double>(t.out_rows[d][u]);
      t.set_us[d][u] = t.get_us[d][u] = transfer_us[d];
    }
  }
  t.head_run_us = head_run_us;
  t.output_get_us = transfer_us;
  for (size_t d = 0; d < nd; ++d) t.head_us.push_back(2 * transfer_us[d] + head_run_us[d]);
  return t;
}

// The whole model on local device d by hand: every unit's full height at run_per_row[d] a row, and
// the head.
double WholeOnLocalDeviceUs(const std::vector<Unit>& units, double run_per_row, double head_run_us) {
  double rows = 0;
  for (size_t u = 0; u < 9; ++u) rows += static_cast<double>(units[u].out_h);
  return run_per_row * rows + head_run_us;
}

class HandTablesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto u = FindUnits(g_);
    ASSERT_TRUE(u.ok()) << u.status().ToString();
    units_ = *u;
    ASSERT_EQ(units_.size(), 10u);  // nine splittable units and the head
    ASSERT_FALSE(units_[9].splittable);
  }
  Result<SearchResult> Optimize(const CostTables& t, const PlanMeasure& measure = PlanMeasure()) {
    CostPredictor p(g_, units_, t);
    return OptimizePlan(p, measure);
  }
  // The optimizer keeps the whole model on local device `device`, predicted as computed by hand.
  void ExpectWholeModelOn(const CostTables& t, int device, double run_per_row, double head_run_us) {
    auto r = Optimize(t);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(SoleDevice(r->plan), device) << r->log;
    EXPECT_NEAR(r->plan.predicted_us, WholeOnLocalDeviceUs(units_, run_per_row, head_run_us), 1e-6);
  }
  Graph g_ = testing::ChainNet();
  std::vector<Unit> units_;
};

TEST_F(HandTablesTest, HeavilyAsymmetricDevicesGiveTheFastOneTheWholeModel) {
  // Both local; device 1 takes 10 ms a row, device 0 10 us: one row on device 1 costs more than
  // the whole model on device 0.
  ExpectWholeModelOn(HandTables(g_, units_, {8, 1}, {10, 10000}, {0, 0}, {100, 100}), 0, 10, 100);
}

TEST_F(HandTablesTest, ACandidateFarFromTheBestPredictionIsNotMeasured) {
  // As above, every plan touching device 1 is predicted at least 10x the whole model on device 0:
  // the search settles on device 0 alone, the baseline is the same plan, and with nothing else
  // within the margin no measurement is made.
  CostTables t = HandTables(g_, units_, {8, 1}, {10, 10000}, {0, 0}, {100, 100});
  int calls = 0;
  auto r = Optimize(t, [&](const SpatialPlan&) -> Result<double> {
    ++calls;
    return 1000.0;
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(SoleDevice(r->plan), 0) << r->log;
  EXPECT_EQ(calls, 0) << r->log;
  EXPECT_EQ(r->measurements, 0);
}

TEST_F(HandTablesTest, SlowNetworkKeepsTheModelOnTheLocalDevice) {
  // Equal compute; device 1 sits behind a link that takes a second per transfer.
  ExpectWholeModelOn(HandTables(g_, units_, {1, 1}, {100, 100}, {0, 1e6}, {50, 50}), 0, 100, 50);
}

TEST_F(HandTablesTest, FastDeviceBehindASlowLinkLosesToTheSlowLocalOne) {
  // Device 0 computes 10x faster (and so is the "fastest device") but every transfer to it takes
  // 10 s; device 1 is local. The whole model on device 1 (~12 ms) beats anything touching device 0.
  ExpectWholeModelOn(HandTables(g_, units_, {10, 1}, {10, 100}, {1e7, 0}, {50, 500}), 1, 100, 500);
}

TEST_F(HandTablesTest, EqualLocalDevicesSplitAndMeasurementsOverrulePredictions) {
  // Two equal local devices and free transfers: halving every unit's rows is predicted cheaper
  // than either device alone.
  CostTables t = HandTables(g_, units_, {1, 1}, {1000, 1000}, {0, 0}, {10, 10});
  auto predicted = Optimize(t);
  ASSERT_TRUE(predicted.ok()) << predicted.status().ToString();
  EXPECT_LT(SoleDevice(predicted->plan), 0) << predicted->log;
  EXPECT_LT(predicted->plan.predicted_us, WholeOnLocalDeviceUs(units_, 1000, 10));

  // Measured, a device alone turns out faster: it is kept.
  int calls = 0;
  auto alone_fast = Optimize(t, [&](const SpatialPlan& plan) -> Result<double> {
    ++calls;
    return SoleDevice(plan) >= 0 ? 1000.0 : 5000.0;
  });
  ASSERT_TRUE(alone_fast.ok()) << alone_fast.status().ToString();
  EXPECT_GE(SoleDevice(alone_fast->plan), 0) << alone_fast->log;
  EXPECT_EQ(alone_fast->measurements, calls);
  EXPECT_GE(calls, 2);  // the split is within the margin, so it and the baseline are measured
  EXPECT_LE(calls, 3);

  // Measured, the split is faster: it stays.
  auto split_fast = Optimize(t, [](const SpatialPlan& plan) -> Result<double> {
    return SoleDevice(plan) >= 0 ? 5000.0 : 1000.0;
  });
  ASSERT_TRUE(split_fast.ok()) << split_fast.status().ToString();
  EXPECT_LT(SoleDevice(split_fast->plan), 0) << split_fast->log;
}

// The naive reference, counting compiles and runs; runs fail as an unreachable device's would
// while `down` is set.
class CountingBackend final : public Backend {
 public:
  std::string name() const override { return "counting"; }
  bool SupportsNode(const Graph& g, const Node& n) const override { return inner_.SupportsNode(g, n); }
  std::vector<std::string> SupportedOps() const override { return inner_.SupportedOps(); }
  Result<std::unique_ptr<Executable>> Compile(const Graph& g, const CompileOptions& o) override {
    ++compiles;
    compiled_nodes.push_back(g.node_count());
    TUTTI_ASSIGN_OR_RETURN(auto exe, inner_.Compile(g, o));
    return std::unique_ptr<Executable>(new Counted(std::move(exe), this));
  }
  int compiles = 0, runs = 0;
  bool down = false;
  std::vector<size_t> compiled_nodes;

 private:
  class Counted final : public Executable {
   public:
    Counted(std::unique_ptr<Executable> inner, CountingBackend* owner) : inner_(std::move(inner)), owner_(owner) {}
    Status Run(std::span<const Tensor> in, std::vector<Tensor>& out) override {
      ++owner_->runs;
      if (owner_->down) return Unavailable("device unreachable");
      return inner_->Run(in, out);
    }

   private:
    std::unique_ptr<Executable> inner_;
    CountingBackend* owner_;
  };
  testing::NaiveBackend inner_;
};

// ChainNet over two counting devices, an input and the naive reference's output for it.
class OneDevicePlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto u = FindUnits(g_);
    ASSERT_TRUE(u.ok()) << u.status().ToString();
    units_ = *u;
    testing::NaiveExecutable whole(g_);
    std::vector<Tensor> want;
    ASSERT_TRUE(whole.Run({&x_, 1}, want).ok());
    want_ = want.at(0);
  }
  std::unique_ptr<SpatialExecutor> Executor(const SpatialPlan& plan, double b_speed = 1.0) {
    auto exec = SpatialExecutor::Create(g_, {{"a", a_, 1.0, {}}, {"b", b_, b_speed, {}}}, plan);
    EXPECT_TRUE(exec.ok()) << exec.status().ToString();
    return exec.ok() ? std::move(exec).value() : nullptr;
  }
  Graph g_ = testing::ChainNet();
  std::vector<Unit> units_;
  std::shared_ptr<CountingBackend> a_ = std::make_shared<CountingBackend>(), b_ = std::make_shared<CountingBackend>();
  Tensor x_ = testing::RandomTensor({1, 3, 37, 29}, 5), want_;
};

TEST_F(OneDevicePlanTest, RunsAsOneCallOfTheWholeModel) {
  auto exec = Executor(SingleDevicePlan(units_, 2, 1));
  ASSERT_TRUE(exec);
  Tensor out;
  ASSERT_TRUE(exec->Run(x_, out).ok());
  EXPECT_EQ(testing::RelativePeakError(out, want_), 0.0);  // the same graph, the same loops
  EXPECT_EQ(a_->compiles + a_->runs, 0);
  EXPECT_EQ(b_->compiles, 1);
  EXPECT_EQ(b_->runs, 1);
  ASSERT_EQ(b_->compiled_nodes.size(), 1u);
  EXPECT_EQ(b_->compiled_nodes[0], g_.node_count()) << "the model itself, not a tile";
  ASSERT_TRUE(exec->Run(x_, out).ok());
  EXPECT_EQ(b_->compiles, 1) << "compiled once";
  EXPECT_EQ(b_->runs, 2);

  // The same group with the head on device a: a group call on b and a head call on a.
  SpatialPlan staged = SingleDevicePlan(units_, 2, 1);
  staged.head_device = 0;
  auto split = Executor(staged);
  ASSERT_TRUE(split);
  ASSERT_TRUE(split->Run(x_, out).ok());
  EXPECT_EQ(b_->runs, 3);
  EXPECT_EQ(a_->runs, 1);
  EXPECT_LE(testing::RelativePeakError(out, want_), 1e-5);
}

TEST_F(OneDevicePlanTest, WhoseDeviceFailsMovesToTheOther) {
  b_->down = true;
  auto exec = Executor(SingleDevicePlan(units_, 2, 1), /*b_speed=*/2.0);
  ASSERT_TRUE(exec);
  Tensor out;
  ASSERT_TRUE(exec->Run(x_, out).ok());
  EXPECT_EQ(testing::RelativePeakError(out, want_), 0.0);
  EXPECT_FALSE(exec->alive(1));
  EXPECT_EQ(exec->events().size(), 1u);
  EXPECT_EQ(a_->runs, 1) << "the whole model, one call, on the device left";
}

}  // namespace
}  // namespace tutti
