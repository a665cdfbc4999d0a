// The engine end to end on small graphs: every request's outputs equal the single-model Session
// run of the same input (bit-identical: every processor here is a CPU), counts add up, and every
// fault (full queue, bad input, shutdown, SLO, failing processor) ends each request explicitly.
#include "engine/engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <thread>

#include "runtime/session.h"
#include "support/test_support.h"
#include "engine_test_support.h"
#include "test_graphs.h"

namespace tutti {
namespace {

using testing::BitEqual;
using testing::ChainGraph;
using testing::Cpu;
using testing::ExpectCountsAddUp;
using testing::MakeFaulty;
using testing::RandomTensor;
using testing::Reference;

EngineConfig TwoCpus(const std::string& scheduler, QueueMode mode = QueueMode::kPerProcessor) {
  EngineConfig c;
  c.processors = {Cpu("cpu0"), Cpu("npu", {"AddScalar"})};  // npu lacks AddScalar: fallback chains
  c.scheduler.name = scheduler;
  c.queue_mode = mode;
  c.profiler.timed_runs = 1;
  c.profiler.warmup_runs = 0;
  return c;
}

struct SchedulerCase {
  std::string scheduler;
  QueueMode mode;
  friend void PrintTo(const SchedulerCase& c, std::ostream* os) {
    *os << c.scheduler << (c.mode == QueueMode::kGlobal ? " (global queue)" : " (per-processor queues)");
  }
};

class EverySchedulerTest : public ::testing::TestWithParam<SchedulerCase> {};

TEST_P(EverySchedulerTest, OutputsEqualSessionRunFromConcurrentSubmitters) {
  auto engine = Engine::Create(TwoCpus(GetParam().scheduler, GetParam().mode));
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  Graph a = ChainGraph({"Relu", "AddScalar:0.5", "Relu", "AddScalar:-0.75", "Relu"}, 16, "a");
  Graph b = ChainGraph({"AddScalar:2", "Relu"}, 8, "b");
  auto ma = (*engine)->RegisterModel(a, "a");
  auto mb = (*engine)->RegisterModel(b, "b");
  ASSERT_TRUE(ma.ok() && mb.ok()) << ma.status().ToString() << mb.status().ToString();

  testing::ExpectConcurrentRequestsMatch(**engine, 4, 12, [&](int t, int i) {
    const bool use_a = (i + t) % 2 == 0;
    return testing::ConcurrentRequest{use_a ? *ma : *mb,
                                      RandomTensor({1 + (i % 3), use_a ? 16 : 8}, static_cast<uint32_t>(t * 100 + i)),
                                      use_a ? &a : &b, {}};
  });
}

INSTANTIATE_TEST_SUITE_P(
    Schedulers, EverySchedulerTest,
    ::testing::Values(SchedulerCase{"fixed", QueueMode::kPerProcessor}, SchedulerCase{"round_robin", QueueMode::kPerProcessor},
                      SchedulerCase{"shortest_expected_latency", QueueMode::kPerProcessor},
                      SchedulerCase{"least_slack_time_first", QueueMode::kPerProcessor},
                      SchedulerCase{"heft", QueueMode::kPerProcessor}, SchedulerCase{"heft", QueueMode::kGlobal},
                      SchedulerCase{"round_robin", QueueMode::kGlobal}, SchedulerCase{"fixed", QueueMode::kGlobal}),
    [](const auto& info) {
      return info.param.scheduler + (info.param.mode == QueueMode::kGlobal ? "_global" : "_per_processor");
    });

TEST(Engine, FallbackChainRunsUnsupportedOpsElsewhere) {
  // The model is pinned to "npu", which lacks AddScalar: the chain runs the Relu units there and
  // falls back to cpu0 for the AddScalar units.
  EngineConfig c = TwoCpus("fixed");
  c.scheduler.fixed = {{"m", "npu"}};
  c.record_trace = true;
  auto engine = Engine::Create(c);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  Graph g = ChainGraph({"Relu", "AddScalar:1", "Relu", "AddScalar:-2", "Relu"}, 16, "m");
  auto m = (*engine)->RegisterModel(g, "m");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  Tensor x = RandomTensor({2, 16}, 3);
  auto r = (*engine)->Submit(*m, {x}).get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(BitEqual(r->tensors[0], Reference(g, x)));
  EXPECT_EQ(r->stages, 5);  // Relu | AddScalar | Relu | AddScalar | Relu
  std::vector<TraceEvent> trace = (*engine)->TakeTrace();
  int on_npu = 0, on_cpu = 0;
  for (const TraceEvent& e : trace) (e.processor == 1 ? on_npu : on_cpu)++;
  EXPECT_EQ(on_npu, 3);
  EXPECT_EQ(on_cpu, 2);
}

TEST(Engine, DenyListedEverywhereIsARegistrationError) {
  EngineConfig c;
  c.processors = {Cpu("a", {"Relu"}), Cpu("b", {}, {"AddScalar"})};
  auto engine = Engine::Create(c);
  ASSERT_TRUE(engine.ok());
  auto m = (*engine)->RegisterModel(ChainGraph({"AddScalar:1", "Relu"}), "m");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("chain_1"), std::string::npos) << m.status().message();
}

TEST(Engine, WrongInputShapeFailsThatRequestAlone) {
  auto engine = Engine::Create(TwoCpus("heft"));
  ASSERT_TRUE(engine.ok());
  Graph g = ChainGraph({"Relu", "AddScalar:1"}, 16, "m");
  auto m = (*engine)->RegisterModel(g, "m");
  ASSERT_TRUE(m.ok());
  Tensor good = RandomTensor({1, 16}, 1);
  auto f1 = (*engine)->Submit(*m, {good});
  auto f2 = (*engine)->Submit(*m, {RandomTensor({1, 15}, 2)});
  auto f3 = (*engine)->Submit(*m, {});
  auto f4 = (*engine)->Submit(*m, {good});
  auto f5 = (*engine)->Submit(42, {good});
  auto r2 = f2.get(), r3 = f3.get(), r5 = f5.get();
  EXPECT_EQ(r2.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r2.status().message().find("'x'"), std::string::npos) << r2.status().message();
  EXPECT_EQ(r3.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r5.status().code(), StatusCode::kNotFound);
  auto r1 = f1.get(), r4 = f4.get();
  ASSERT_TRUE(r1.ok() && r4.ok());
  EXPECT_TRUE(BitEqual(r1->tensors[0], Reference(g, good)));
  EngineStats s = (*engine)->stats();
  EXPECT_EQ(s.completed, 2u);
  EXPECT_EQ(s.failed, 3u);
  ExpectCountsAddUp(s);
}

TEST(Engine, FullQueueRejectsWithReason) {
  EngineConfig c = TwoCpus("heft");
  c.queue_capacity = 3;
  c.offline_profile = false;
  auto engine = Engine::Create(c);
  ASSERT_TRUE(engine.ok());
  auto m = (*engine)->RegisterModel(ChainGraph({"SpinAdd:20000:1"}), "slow");
  ASSERT_TRUE(m.ok());
  std::vector<std::future<Result<Outputs>>> futures;
  for (int i = 0; i < 10; ++i) futures.push_back((*engine)->Submit(*m, {RandomTensor({1, 16}, i)}));
  int rejected = 0, completed = 0;
  for (auto& f : futures) {
    auto r = f.get();
    if (r.ok()) ++completed;
    else {
      EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
      EXPECT_NE(r.status().message().find("queue"), std::string::npos);
      ++rejected;
    }
  }
  EXPECT_GE(rejected, 6);
  EXPECT_GE(completed, 3);
  EngineStats s = (*engine)->stats();
  EXPECT_EQ(s.reasons["failed: resource exhausted"], static_cast<uint64_t>(rejected));
  ExpectCountsAddUp(s);
}

TEST(Engine, ShutdownCancelEndsEveryQueuedRequest) {
  EngineConfig c = TwoCpus("round_robin");
  c.offline_profile = false;
  auto engine = Engine::Create(c);
  ASSERT_TRUE(engine.ok());
  auto m = (*engine)->RegisterModel(ChainGraph({"SpinAdd:5000:1"}), "slow");
  ASSERT_TRUE(m.ok());
  std::vector<std::future<Result<Outputs>>> futures;
  for (int i = 0; i < 30; ++i) futures.push_back((*engine)->Submit(*m, {RandomTensor({1, 16}, i)}));
  ASSERT_TRUE((*engine)->Shutdown(ShutdownMode::kCancel).ok());
  int cancelled = 0;
  for (auto& f : futures) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
    auto r = f.get();
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kCancelled) << r.status().ToString();
      ++cancelled;
    }
  }
  EXPECT_GT(cancelled, 0);
  ExpectCountsAddUp((*engine)->stats());
  // After shutdown: rejected with a reason, not hung.
  auto late = (*engine)->Submit(*m, {RandomTensor({1, 16}, 1)}).get();
  EXPECT_EQ(late.status().code(), StatusCode::kFailedPrecondition);
}

TEST(Engine, ShutdownFinishRunsEveryQueuedRequest) {
  EngineConfig c = TwoCpus("heft", QueueMode::kGlobal);
  c.offline_profile = false;
  auto engine = Engine::Create(c);
  ASSERT_TRUE(engine.ok());
  auto m = (*engine)->RegisterModel(ChainGraph({"SpinAdd:1000:1", "Relu"}), "slow");
  ASSERT_TRUE(m.ok());
  std::vector<std::future<Result<Outputs>>> futures;
  for (int i = 0; i < 20; ++i) futures.push_back((*engine)->Submit(*m, {RandomTensor({1, 16}, i)}));
  ASSERT_TRUE((*engine)->Shutdown(ShutdownMode::kFinish).ok());
  for (auto& f : futures) EXPECT_TRUE(f.get().ok());
  EXPECT_EQ((*engine)->stats().completed, 20u);
}

TEST(Engine, SloAwareSchedulerDropsWhatCannotMeetItsDeadline) {
  for (const char* sched : {"least_slack_time_first", "heft"}) {
    EngineConfig c = TwoCpus(sched);
    c.profiler.timed_runs = 2;
    auto engine = Engine::Create(c);
    ASSERT_TRUE(engine.ok());
    auto m = (*engine)->RegisterModel(ChainGraph({"SpinAdd:2000:1"}), "slow");
    ASSERT_TRUE(m.ok());
    // The deadline is set from the engine's own estimate, not from the nominal 2 ms, so that a
    // loaded machine (profiling slowed too) shifts both sides alike: the first requests are
    // expected to finish in about one estimate, well inside ten; 200 requests over two processors
    // queue about 100 estimates, so the last ones cannot make it.
    double estimate_us = 0;
    for (double e : (*engine)->WholeModelEstimatesUs(*m)) estimate_us = std::max(estimate_us, e);
    ASSERT_GT(estimate_us, 0) << sched;
    std::vector<std::future<Result<Outputs>>> futures;
    RequestOptions o;
    o.slo_us = static_cast<int64_t>(10 * estimate_us);
    for (int i = 0; i < 200; ++i) futures.push_back((*engine)->Submit(*m, {RandomTensor({1, 16}, i)}, o));
    int dropped = 0, completed = 0;
    for (auto& f : futures) {
      auto r = f.get();
      if (r.ok()) ++completed;
      else {
        EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().ToString();
        EXPECT_NE(r.status().message().find("SLO"), std::string::npos);
        ++dropped;
      }
    }
    EXPECT_GT(dropped, 0) << sched;
    EXPECT_GT(completed, 0) << sched;
    ExpectCountsAddUp((*engine)->stats());
  }
}

TEST(Engine, FailedProcessorIsRetriedElsewhereOrFailsWithReason) {
  RegisterBackendFactory("faulty", &MakeFaulty);
  for (int retries : {1, 0}) {
    EngineConfig c;
    ProcessorSpec bad = Cpu("broken");
    bad.device = "faulty";
    c.processors = {bad, Cpu("cpu0")};
    c.scheduler.name = "round_robin";
    c.max_retries = retries;
    auto engine = Engine::Create(c);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    Graph g = ChainGraph({"Relu", "AddScalar:1"}, 16, "m");
    auto m = (*engine)->RegisterModel(g, "m");
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    int ok = 0, failed = 0;
    for (int i = 0; i < 6; ++i) {
      Tensor x = RandomTensor({1, 16}, i);
      auto r = (*engine)->Submit(*m, {x}).get();
      if (r.ok()) {
        ++ok;
        EXPECT_TRUE(BitEqual(r->tensors[0], Reference(g, x)));
      } else {
        ++failed;
        EXPECT_EQ(r.status().code(), StatusCode::kDeviceError);
        EXPECT_NE(r.status().message().find("broken"), std::string::npos) << r.status().message();
      }
    }
    EngineStats s = (*engine)->stats();
    ExpectCountsAddUp(s);
    if (retries == 1) {
      EXPECT_EQ(ok, 6);
      EXPECT_GE(s.retried, 3u);
    } else {
      EXPECT_EQ(failed, 3);  // round robin sends every other request to the broken processor
    }
  }
}

TEST(Engine, IdleProcessorStealsQueuedWork) {
  EngineConfig c = TwoCpus("fixed");
  c.processors = {Cpu("cpu0"), Cpu("cpu1")};
  c.scheduler.fixed = {{"m", "cpu0"}};
  c.work_stealing = true;
  c.offline_profile = false;
  auto engine = Engine::Create(c);
  ASSERT_TRUE(engine.ok());
  Graph g = ChainGraph({"SpinAdd:2000:1"}, 16, "m");
  auto m = (*engine)->RegisterModel(g, "m");
  ASSERT_TRUE(m.ok());
  std::vector<std::pair<Tensor, std::future<Result<Outputs>>>> runs;
  for (int i = 0; i < 12; ++i) {
    Tensor x = RandomTensor({1, 16}, i);
    runs.emplace_back(x, (*engine)->Submit(*m, {x}));
  }
  for (auto& [x, f] : runs) {
    auto r = f.get();
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(BitEqual(r->tensors[0], Reference(g, x)));
  }
  EngineStats s = (*engine)->stats();
  EXPECT_GT(s.stolen, 0u);
  EXPECT_GT(s.processors[1].stages, 0u);
}

TEST(Engine, ProfileFileIsWrittenAndReused) {
  std::string path = ::testing::TempDir() + "/tutti_engine_profile.json";
  std::remove(path.c_str());
  Graph g = ChainGraph({"Relu", "AddScalar:1"}, 16, "m");
  {
    EngineConfig c = TwoCpus("heft");
    c.profile_file = path;
    auto engine = Engine::Create(c);
    ASSERT_TRUE(engine.ok());
    ASSERT_TRUE((*engine)->RegisterModel(g, "m").ok());
    ASSERT_TRUE((*engine)->Shutdown().ok());
  }
  auto store = ProfileStore::Load(path);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_GT(store->size(), 0u);
  EngineConfig c = TwoCpus("heft");
  c.profile_file = path;
  c.offline_profile = false;  // estimates must come from the file
  auto engine = Engine::Create(c);
  ASSERT_TRUE(engine.ok());
  auto m = (*engine)->RegisterModel(g, "m");
  ASSERT_TRUE(m.ok());
  std::vector<double> est = (*engine)->WholeModelEstimatesUs(*m);
  EXPECT_GE(est[0], 0) << "cpu0 supports the whole model and was profiled";
  EXPECT_LT(est[1], 0) << "npu lacks AddScalar";
}

TEST(Engine, CallbackMayNotShutDownButMaySubmit) {
  auto engine = Engine::Create(TwoCpus("heft"));
  ASSERT_TRUE(engine.ok());
  auto m = (*engine)->RegisterModel(ChainGraph({"Relu"}), "m");
  ASSERT_TRUE(m.ok());
  Status from_callback;
  std::promise<void> chained;
  RequestOptions o;
  o.callback = [&](const Result<Outputs>&) {
    from_callback = (*engine)->Shutdown();
    RequestOptions inner;
    inner.callback = [&](const Result<Outputs>& r) { if (r.ok()) chained.set_value(); };
    (void)(*engine)->Submit(*m, {RandomTensor({1, 16}, 2)}, inner);
  };
  ASSERT_TRUE((*engine)->Submit(*m, {RandomTensor({1, 16}, 1)}, o).get().ok());
  chained.get_future().get();
  EXPECT_EQ(from_callback.code(), StatusCode::kFailedPrecondition);
  (*engine)->WaitIdle();
  EXPECT_EQ((*engine)->stats().completed, 2u);
}

}  // namespace
}  // namespace tutti
