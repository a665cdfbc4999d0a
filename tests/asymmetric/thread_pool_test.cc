// The pinned core pool: every task runs exactly once, placement follows expected finish time,
// idle workers steal, concurrent phases stay separate, and measured rates move the speed estimates.
// Run under ThreadSanitizer by the tsan preset.
#include "backends/cpu/asymmetric/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "backends/cpu/asymmetric/topology.h"

namespace tutti::cpu::asymmetric {
namespace {

std::shared_ptr<CorePool> MakePool(size_t n, std::vector<double> speeds = {}, double smoothing = 0.3) {
  std::vector<int> cores(n, 0);  // unpinned: the test machine may have fewer cores than workers
  auto pool = CorePool::Create(cores, {}, std::move(speeds), smoothing, /*pin=*/false);
  EXPECT_TRUE(pool.ok()) << pool.status().ToString();
  return pool.ok() ? *pool : nullptr;
}

TEST(CorePoolTest, EveryTaskRunsExactlyOnce) {
  auto pool = MakePool(3);
  ASSERT_TRUE(pool);
  for (size_t n : {0u, 1u, 2u, 7u, 200u}) {
    std::vector<std::atomic<int>> hits(n);
    std::vector<PhaseTask> tasks(n, PhaseTask{.flops = 1e3});
    pool->Run(tasks, [&](size_t t, size_t w) {
      ASSERT_LT(w, pool->size());
      hits[t].fetch_add(1);
    });
    for (size_t t = 0; t < n; ++t) EXPECT_EQ(hits[t].load(), 1) << "task " << t << " of " << n;
  }
}

TEST(CorePoolTest, TasksRunWithOneOpenMpThread) {
  auto pool = MakePool(2);
  ASSERT_TRUE(pool);
  std::atomic<int> max_threads{0};
  std::vector<PhaseTask> tasks(8, PhaseTask{.flops = 1});
  pool->Run(tasks, [&](size_t, size_t) {
    int prev = max_threads.load();
    while (prev < OpenMpThreadsOfCaller() && !max_threads.compare_exchange_weak(prev, OpenMpThreadsOfCaller())) {
    }
  });
  EXPECT_EQ(max_threads.load(), 1);
}

// Holds every worker inside a task of a first phase until released, so the placement of a second
// phase can be inspected before any of it runs.
class BlockedWorkers {
 public:
  explicit BlockedWorkers(CorePool& pool) : pool_(pool) {
    std::vector<PhaseTask> hold;
    for (size_t w = 0; w < pool.size(); ++w) hold.push_back(PhaseTask{.flops = 0, .worker = static_cast<int>(w)});
    runner_ = std::thread([this, hold] {
      pool_.Run(hold, [this](size_t, size_t) {
        entered_.fetch_add(1);
        while (!release_.load()) std::this_thread::sleep_for(std::chrono::microseconds(50));
      }, {.steal = false, .learn_speeds = false});
    });
    while (entered_.load() < pool.size()) std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  void Release() {
    release_.store(true);
    if (runner_.joinable()) runner_.join();
  }
  ~BlockedWorkers() { Release(); }

 private:
  CorePool& pool_;
  std::atomic<size_t> entered_{0};
  std::atomic<bool> release_{false};
  std::thread runner_;
};

TEST(CorePoolTest, ShortestExpectedQueueGetsTheTask) {
  // Worker 0 is four times as fast: of 10 equal tasks it should get 8 (finish 8 * 0.25 = 2 units
  // against worker 1's 2 * 1), the placement that makes both queues finish together.
  auto pool = MakePool(2, {4.0, 1.0});
  ASSERT_TRUE(pool);
  BlockedWorkers blocked(*pool);
  std::vector<size_t> ran_on(10, 99);
  std::thread phase([&] {
    pool->Run(std::vector<PhaseTask>(10, PhaseTask{.flops = 1e6}), [&](size_t t, size_t w) { ran_on[t] = w; },
              {.steal = false, .learn_speeds = false});
  });
  while (pool->queued(0) + pool->queued(1) < 10) std::this_thread::sleep_for(std::chrono::microseconds(50));
  EXPECT_EQ(pool->queued(0), 8u);
  EXPECT_EQ(pool->queued(1), 2u);
  blocked.Release();
  phase.join();
  EXPECT_EQ(std::count(ran_on.begin(), ran_on.end(), 0u), 8);
  EXPECT_EQ(std::count(ran_on.begin(), ran_on.end(), 1u), 2);
}

TEST(CorePoolTest, ClusterRestrictsPlacement) {
  auto made = CorePool::Create({0, 0, 0}, {0, 0, 1}, {1.0, 1.0, 100.0}, 0.3, /*pin=*/false);
  ASSERT_TRUE(made.ok());
  auto pool = *made;
  EXPECT_EQ(pool->cluster_count(), 2);
  std::vector<size_t> ran_on(12, 99);
  pool->Run(std::vector<PhaseTask>(12, PhaseTask{.flops = 1e6, .cluster = 0}),
            [&](size_t t, size_t w) { ran_on[t] = w; }, {.steal = false, .learn_speeds = false});
  for (size_t w : ran_on) EXPECT_LT(w, 2u);  // the fast worker 2 is in another cluster
}

TEST(CorePoolTest, IdleWorkersStealAndPinnedPhasesAreNotStolen) {
  auto pool = MakePool(3);
  ASSERT_TRUE(pool);
  auto slow = [](std::vector<size_t>& ran_on) {
    return [&ran_on](size_t t, size_t w) {
      ran_on[t] = w;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    };
  };
  std::vector<size_t> ran_on(12, 99);
  pool->Run(std::vector<PhaseTask>(12, PhaseTask{.flops = 1e6, .worker = 0}), slow(ran_on),
            {.steal = true, .learn_speeds = false});
  EXPECT_GT(pool->steals(), 0u);
  EXPECT_GT(std::count_if(ran_on.begin(), ran_on.end(), [](size_t w) { return w != 0; }), 0);

  const uint64_t before = pool->steals();
  std::vector<size_t> pinned(6, 99);
  pool->Run(std::vector<PhaseTask>(6, PhaseTask{.flops = 1e6, .worker = 1}), slow(pinned),
            {.steal = false, .learn_speeds = false});
  EXPECT_EQ(pool->steals(), before);
  for (size_t w : pinned) EXPECT_EQ(w, 1u);
}

TEST(CorePoolTest, ConcurrentPhasesFromSeveralThreads) {
  auto pool = MakePool(3);
  ASSERT_TRUE(pool);
  std::vector<std::thread> callers;
  std::atomic<int> wrong{0};
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&, c] {
      for (int rep = 0; rep < 30; ++rep) {
        std::vector<int> out(17, 0);
        std::vector<PhaseTask> tasks(out.size(), PhaseTask{.flops = 1e3});
        if (rep % 3 == 0) tasks[0].worker = c % 3;
        pool->Run(tasks, [&](size_t t, size_t) { out[t] += static_cast<int>(t) + c; });
        for (size_t t = 0; t < out.size(); ++t)
          if (out[t] != static_cast<int>(t) + c) wrong.fetch_add(1);
      }
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(CorePoolTest, CreateRejectsBadArguments) {
  EXPECT_FALSE(CorePool::Create({}, {}, {}, 0.3, false).ok());
  auto mismatch = CorePool::Create({0, 0}, {0}, {}, 0.3, false);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.status().message().find("2 cores"), std::string::npos) << mismatch.status().message();
  EXPECT_FALSE(CorePool::Create({0}, {-1}, {}, 0.3, false).ok());
  auto unpinnable = CorePool::Create({100000}, {}, {}, 0.3, /*pin=*/true);
  ASSERT_FALSE(unpinnable.ok());
  EXPECT_NE(unpinnable.status().message().find("100000"), std::string::npos);
}

TEST(CorePoolTest, PinnedWorkersRunOnTheirCore) {
  const std::vector<int> allowed = AllowedCores();
  auto made = CorePool::Create(allowed, {}, {}, 0.3, /*pin=*/true);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  auto pool = *made;
  std::vector<int> seen(allowed.size(), -1);
  std::vector<PhaseTask> tasks;
  for (size_t w = 0; w < allowed.size(); ++w) tasks.push_back({.flops = 1, .worker = static_cast<int>(w)});
  pool->Run(tasks, [&](size_t t, size_t w) { seen[t] = sched_getcpu(); }, {.steal = false});
  for (size_t w = 0; w < allowed.size(); ++w) EXPECT_EQ(seen[w], allowed[w]);
}

TEST(CoreSpeedsTest, ObserveLearnsRatiosNotScale) {
  CoreSpeeds s({2.0, 1.0}, 0.5);
  // Equal rates observed: the estimates move halfway to equal, and keep their mean (1.5).
  s.Observe({1.0, 1.0}, {1.0, 1.0});
  EXPECT_DOUBLE_EQ(s.gflops(0), 1.75);
  EXPECT_DOUBLE_EQ(s.gflops(1), 1.25);
  // Core 1 gets busier (takes three times as long for the same work): it falls well behind.
  for (int i = 0; i < 30; ++i) s.Observe({1.0, 1.0}, {1.0, 3.0});
  EXPECT_NEAR(s.gflops(0) / s.gflops(1), 3.0, 1e-6);
  // A memory-bound phase (every core slow alike) does not change the ratio.
  const double ratio = s.gflops(0) / s.gflops(1);
  s.Observe({1.0, 1.0}, {10.0, 30.0});
  EXPECT_NEAR(s.gflops(0) / s.gflops(1), ratio, 1e-6);
  // One core, or timings too short to trust, teach nothing.
  const auto before = s.Snapshot();
  s.Observe({1.0, 0.0}, {1.0, 1.0});
  s.Observe({1.0, 1.0}, {1e-9, 1e-9});
  EXPECT_EQ(s.Snapshot(), before);
  EXPECT_NEAR(SpeedSpread({2.0, 1.0}), 1.0, 1e-12);
}

TEST(CoreSpeedsTest, MeasureGivesPositiveSpeedPerCore) {
  const std::vector<int> allowed = AllowedCores();
  auto speeds = MeasureCoreSpeeds(allowed, 0.01);
  ASSERT_TRUE(speeds.ok()) << speeds.status().ToString();
  ASSERT_EQ(speeds->size(), allowed.size());
  for (double g : *speeds) EXPECT_GT(g, 0.01);
  EXPECT_FALSE(MeasureCoreSpeeds({100000}, 0.001).ok());
}

}  // namespace
}  // namespace tutti::cpu::asymmetric
