// Batch split planning (issue 5) on synthetic tables: the greedy search stays within 5% of the
// exact search, processors that do not pay are left out, shares of one item and batches that are
// not powers of two are planned, out-of-memory sizes are never given, transfer costs shrink a
// share, tables survive the profile file, and drift rescales a table.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <numeric>
#include <random>
#include <thread>

#include "partition/batch_split.h"

namespace tutti {
namespace {

// A processor whose batch of b takes fixed_us + per_item_us * b, optionally with a throughput
// step above `knee` (the seed's observation: efficiency changes around powers of two).
BatchProfileTable Linear(double fixed_us, double per_item_us, int64_t max_batch = 256, int64_t knee = 0,
                         double knee_factor = 1) {
  BatchProfileTable t;
  for (int64_t b : BatchProfileSizes(max_batch)) {
    double per = per_item_us * (knee && b > knee ? knee_factor : 1);
    t.Record(b, fixed_us + per * static_cast<double>(b));
  }
  return t;
}

std::vector<BatchSplitProcessor> Procs(const std::vector<BatchProfileTable>& tables) {
  std::vector<BatchSplitProcessor> out;
  for (size_t i = 0; i < tables.size(); ++i) out.push_back({StrCat("p", i), &tables[i]});
  return out;
}

void ExpectWellFormed(const BatchSplitPlan& plan, int64_t batch) {
  EXPECT_EQ(plan.batch, batch);
  int64_t next = 0;
  double slowest = 0;
  for (const BatchShare& s : plan.shares) {
    EXPECT_EQ(s.offset, next);
    EXPECT_GE(s.items, 1);
    next += s.items;
    slowest = std::max(slowest, s.us());
  }
  EXPECT_EQ(next, batch);
  EXPECT_DOUBLE_EQ(plan.predicted_us, slowest);
}

TEST(BatchProfileSizes, PowersOfTwoAndNeighboursUpToTheMaximum) {
  EXPECT_EQ(BatchProfileSizes(20), (std::vector<int64_t>{1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 20}));
  EXPECT_EQ(BatchProfileSizes(1), (std::vector<int64_t>{1}));
  EXPECT_TRUE(BatchProfileSizes(0).empty());
}

TEST(BatchProfileTable, InterpolatesExtrapolatesAndRespectsOutOfMemory) {
  BatchProfileTable t;
  t.Record(4, 400);
  t.Record(8, 600);
  EXPECT_DOUBLE_EQ(t.LatencyUs(4), 400);
  EXPECT_DOUBLE_EQ(t.LatencyUs(6), 500);   // linear between measured sizes
  EXPECT_DOUBLE_EQ(t.LatencyUs(2), 400);   // below the smallest: the smallest's time
  EXPECT_DOUBLE_EQ(t.LatencyUs(16), 1200); // above the largest: its time per item
  EXPECT_DOUBLE_EQ(t.BestItemsPerUs(), 8.0 / 600);
  t.RecordOutOfMemory(12);
  EXPECT_TRUE(t.Fits(8));
  EXPECT_FALSE(t.Fits(9));  // between the last size that fit and the one that did not: unknown
  EXPECT_TRUE(std::isinf(t.LatencyUs(12)));
}

TEST(BatchProfileTable, ProfilingRecordsOutOfMemoryAndStops) {
  std::vector<int64_t> ran;
  auto table = ProfileBatchTable(
      [&](int64_t b) {
        ran.push_back(b);
        return b >= 16 ? OutOfMemory("device full") : Status::Ok();
      },
      64, {0, 1});
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  EXPECT_EQ(table->oom_batch(), 16);
  EXPECT_EQ(table->points().rbegin()->first, 15);
  EXPECT_EQ(ran.back(), 16);  // nothing larger was tried
  auto broken = ProfileBatchTable([](int64_t) { return InvalidArgument("bad model"); }, 8, {0, 1});
  EXPECT_FALSE(broken.ok());
}

// A backend's first runs at a new shape are not steady (a compile, then a CUDA-graph capture):
// the table must time neither, whatever warm-up the caller asked for.
TEST(BatchProfileTable, TheFirstRunsAtEachSizeAreNotTimed) {
  std::map<int64_t, int> calls;
  constexpr auto kSettling = std::chrono::milliseconds(40);
  auto table = ProfileBatchTable(
      [&](int64_t b) {
        if (calls[b]++ < kWarmupRunsPerBatchSize) std::this_thread::sleep_for(kSettling);
        return Status::Ok();
      },
      8, {0, 1});
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  for (const auto& [b, n] : calls) EXPECT_EQ(n, kWarmupRunsPerBatchSize + 1) << "batch " << b;
  const double settling_us = std::chrono::duration<double, std::micro>(kSettling).count();
  for (const auto& [b, us] : table->points()) EXPECT_LT(us, settling_us) << "batch " << b << " timed a settling run";
}

TEST(BatchSplit, GreedyWithinFivePercentOfExact) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> fixed(50, 3000), per(20, 2000), knee_factor(0.6, 1.6);
  int cases = 0;
  for (int trial = 0; trial < 40; ++trial) {
    std::vector<BatchProfileTable> tables;
    const int n = 2 + trial % 3;
    for (int p = 0; p < n; ++p) tables.push_back(Linear(fixed(rng), per(rng), 128, 16 << (trial % 3), knee_factor(rng)));
    auto procs = Procs(tables);
    for (int64_t batch : {1, 2, 7, 33, 100, 127}) {
      auto greedy = PlanBatchSplitGreedy(procs, batch);
      auto exact = PlanBatchSplitExact(procs, batch);
      ASSERT_TRUE(greedy.ok() && exact.ok());
      ExpectWellFormed(*greedy, batch);
      ExpectWellFormed(*exact, batch);
      EXPECT_LE(exact->predicted_us, greedy->predicted_us * (1 + 1e-9));
      EXPECT_LE(greedy->predicted_us, exact->predicted_us * 1.05) << "trial " << trial << " batch " << batch;
      auto single = PlanBatchSingle(procs, batch);
      ASSERT_TRUE(single.ok());
      EXPECT_LE(greedy->predicted_us, single->predicted_us * (1 + 1e-9));
      ++cases;
    }
  }
  EXPECT_EQ(cases, 240);
}

TEST(BatchSplit, SharesFollowSpeed) {
  // p0 three times as fast per item: about three quarters of the batch.
  std::vector<BatchProfileTable> tables = {Linear(100, 100), Linear(100, 300)};
  auto procs = Procs(tables);
  for (auto plan : {PlanBatchSplitGreedy(procs, 100), PlanBatchSplitExact(procs, 100)}) {
    ASSERT_TRUE(plan.ok());
    ASSERT_EQ(plan->shares.size(), 2u);
    EXPECT_NEAR(plan->shares[0].items, 75, 1);
    EXPECT_LT(plan->predicted_us, PlanBatchEqual(procs, 100)->predicted_us);
  }
}

TEST(BatchSplit, LeavesOutAProcessorThatDoesNotPay) {
  // p1 has a 50 ms fixed cost per run: any share of a 20-item batch that takes p0 ~20 ms ends later.
  std::vector<BatchProfileTable> tables = {Linear(100, 1000), Linear(50000, 10)};
  auto procs = Procs(tables);
  for (auto plan : {PlanBatchSplitGreedy(procs, 20), PlanBatchSplitExact(procs, 20)}) {
    ASSERT_TRUE(plan.ok());
    ASSERT_EQ(plan->shares.size(), 1u) << plan->search;
    EXPECT_EQ(plan->shares[0].processor, 0);
    EXPECT_EQ(plan->left_out, std::vector<int>{1});
    EXPECT_NE(DescribeBatchSplitPlan(*plan, procs).find("p1  left out"), std::string::npos);
  }
  // Excluded processors are never planned on.
  procs[0].usable = false;
  auto plan = PlanBatchSplitExact(procs, 20);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->shares.size(), 1u);
  EXPECT_EQ(plan->shares[0].processor, 1);
}

TEST(BatchSplit, GreedyDropsAProcessorItemByItemWouldKeep) {
  // p0's table is not monotone (batch 60 runs faster than 55, as a better kernel choice can make
  // it): item by item, p1's first item (60.8 ms) looks better than p0's 55th (62 ms), and p1 ends
  // up with 2 items (61.8 ms), but p0 alone finishes all 60 in 59 ms. The drop pass must find it.
  BatchProfileTable fast;
  fast.Record(1, 1000);
  fast.Record(50, 50000);
  fast.Record(55, 62000);
  fast.Record(60, 59000);
  fast.Record(64, 64000);
  std::vector<BatchProfileTable> tables = {fast, Linear(59800, 1000)};
  auto procs = Procs(tables);
  auto greedy = PlanBatchSplitGreedy(procs, 60);
  auto exact = PlanBatchSplitExact(procs, 60);
  ASSERT_TRUE(greedy.ok() && exact.ok());
  ASSERT_EQ(exact->shares.size(), 1u);
  ASSERT_EQ(greedy->shares.size(), 1u);
  EXPECT_DOUBLE_EQ(greedy->predicted_us, 59000);
  EXPECT_EQ(greedy->left_out, std::vector<int>{1});
}

TEST(BatchSplit, SharesOfOneAndNonPowerOfTwoBatches) {
  std::vector<BatchProfileTable> tables = {Linear(10, 100), Linear(10, 100), Linear(10, 100)};
  auto procs = Procs(tables);
  auto two = PlanBatchSplitExact(procs, 2);
  ASSERT_TRUE(two.ok());
  ASSERT_EQ(two->shares.size(), 2u);
  EXPECT_EQ(two->shares[0].items, 1);
  EXPECT_EQ(two->shares[1].items, 1);
  for (int64_t batch : {3, 5, 13, 97}) {
    auto g = PlanBatchSplitGreedy(procs, batch);
    ASSERT_TRUE(g.ok());
    ExpectWellFormed(*g, batch);
    int64_t lo = batch, hi = 0;
    for (const auto& s : g->shares) lo = std::min(lo, s.items), hi = std::max(hi, s.items);
    EXPECT_LE(hi - lo, 1) << "equal processors get equal shares, batch " << batch;
  }
  auto one = PlanBatchSplitGreedy(procs, 1);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->shares.size(), 1u);
  EXPECT_EQ(one->left_out.size(), 2u);
}

TEST(BatchSplit, TransferCostShrinksAShare) {
  std::vector<BatchProfileTable> tables = {Linear(100, 100), Linear(100, 100)};
  auto procs = Procs(tables);
  auto free = PlanBatchSplitExact(procs, 64);
  procs[1].transfer_fixed_us = 200;
  procs[1].transfer_us_per_item = 100;  // moving an item costs as much as computing it
  auto costly = PlanBatchSplitExact(procs, 64);
  ASSERT_TRUE(free.ok() && costly.ok());
  ASSERT_EQ(costly->shares.size(), 2u);
  EXPECT_EQ(free->shares[1].items, 32);
  EXPECT_NEAR(costly->shares[1].items, 21, 1);  // 100 + 100 (64 - s) = 300 + 200 s
  EXPECT_GT(costly->shares[1].transfer_us, 0);
}

TEST(BatchSplit, OutOfMemorySizesAreNeverPlanned) {
  std::vector<BatchProfileTable> tables = {Linear(10, 10), Linear(10, 100)};
  tables[0].RecordOutOfMemory(9);  // the fast one holds at most 8
  auto procs = Procs(tables);
  for (auto plan : {PlanBatchSplitGreedy(procs, 40), PlanBatchSplitExact(procs, 40)}) {
    ASSERT_TRUE(plan.ok());
    EXPECT_EQ(plan->shares[0].items, 8);
    EXPECT_EQ(plan->shares[1].items, 32);
  }
  tables[1].RecordOutOfMemory(5);
  auto too_big = PlanBatchSplitExact(procs, 40);
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.status().code(), StatusCode::kOutOfMemory);
  EXPECT_NE(too_big.status().message().find("out of memory at 9"), std::string::npos);
  EXPECT_FALSE(PlanBatchSplitGreedy(procs, 40).ok());
}

TEST(BatchSplit, BadRequestsAreErrors) {
  std::vector<BatchProfileTable> tables = {Linear(10, 10)};
  auto procs = Procs(tables);
  EXPECT_EQ(PlanBatchSplitGreedy(procs, 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(PlanBatchSplitExact({}, 4).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(PlanBatchSplitExact(procs, kMaxExactBatch + 1).status().code(), StatusCode::kInvalidArgument);
  std::vector<int64_t> wrong = {3, 4};
  EXPECT_FALSE(PlanFromShares(procs, wrong, "x").ok());
}

TEST(BatchSplit, TablesSurviveTheProfileFile) {
  BatchProfileTable t = Linear(5, 50, 40);
  t.RecordOutOfMemory(33);
  ProfileStore store;
  PutBatchTable(store, "m1", "cpu/threads=1/cores=0", t);
  PutBatchTable(store, "m2", "cpu/threads=1/cores=0", Linear(1, 1, 4));
  const std::string path = (std::filesystem::temp_directory_path() / "tutti_batch_split_test_profile.json").string();
  ASSERT_TRUE(store.Save(path).ok());
  auto loaded = ProfileStore::Load(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  auto back = FindBatchTable(*loaded, "m1", "cpu/threads=1/cores=0");
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->points(), t.points());
  EXPECT_EQ(back->oom_batch(), 33);
  EXPECT_FALSE(FindBatchTable(*loaded, "m1", "cpu/threads=1/cores=1").has_value());
}

TEST(BatchProfileTable, DriftRescalesTheTable) {
  BatchProfileTable t = Linear(0, 100, 16);
  EXPECT_FALSE(t.Observe(8, 820));  // within tolerance: kept
  EXPECT_FALSE(t.Observe(8, 780));
  EXPECT_FALSE(t.Observe(8, 800));
  EXPECT_EQ(t.refreshes(), 0);
  bool refreshed = false;
  for (int i = 0; i < 6 && !refreshed; ++i) refreshed = t.Observe(8, 1600);  // the processor got 2x slower
  EXPECT_TRUE(refreshed);
  EXPECT_EQ(t.refreshes(), 1);
  EXPECT_GT(t.LatencyUs(8), 1.25 * 800);
  EXPECT_GT(t.LatencyUs(16), 1.25 * 1600);  // every size, not only the one observed
}

}  // namespace
}  // namespace tutti
