// Engine overhead (issue 4 goals): one scheduling decision with 100 queued jobs and 5 processors
// (<= 10 us median), and a request's end-to-end cost through the engine over calling the backend
// directly (<= 50 us). bench/engine.py --micro runs this and records the medians.
//
//   build/release/bin/engine_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <random>
#include <set>

#include "engine/engine.h"
#include "runtime/session.h"
#include "sched/scheduler.h"

namespace tutti {
namespace {

// x[1, n] -> ops... -> y, with every value's shape known.
Graph Chain(const std::vector<std::string>& ops, int64_t n) {
  Graph g;
  g.name = "chain";
  SymbolicShape shape{Dim::Known(1), Dim::Known(n)};
  ValueId x = g.AddInput("x", {DataType::kFloat32, shape});
  for (size_t i = 0; i < ops.size(); ++i) {
    ValueId y = g.AddValue("v" + std::to_string(i), {DataType::kFloat32, shape});
    g.AddNode(ops[i], {x}, {y}, {}, "n" + std::to_string(i));
    x = y;
  }
  g.AddOutput(x);
  return g;
}

// 5 processors, two of which lack Sigmoid (so plans include fallback chains), 100 queued jobs of 4
// models with random estimates and deadlines; one Schedule call over the first `window` jobs.
void BM_ScheduleDecision(benchmark::State& state, const std::string& scheduler) {
  constexpr int kProcessors = 5, kJobs = 100, kModels = 4;
  const size_t window = static_cast<size_t>(state.range(0));
  std::vector<NodeSupport> support;
  for (int p = 0; p < kProcessors; ++p)
    support.push_back([p](const Graph&, const Node& n) { return p < 3 || n.op_type != "Sigmoid"; });
  std::vector<ModelAnalysis> analyses;
  std::vector<std::string> names;
  LatencyEstimator estimator;
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> us(200, 20000);
  for (int m = 0; m < kModels; ++m) {
    std::vector<std::string> ops;
    for (int i = 0; i < 6 + 2 * m; ++i) ops.push_back(i % 3 == 2 ? "Sigmoid" : "Relu");
    analyses.push_back(AnalyzeModel(Chain(ops, 16), support).value());
    names.push_back("model" + std::to_string(m));
    const int id = estimator.AddModel(static_cast<int>(analyses.back().candidates().size()), kProcessors);
    for (int c = 0; c < static_cast<int>(analyses.back().candidates().size()); ++c)
      for (int p = 0; p < kProcessors; ++p) estimator.Set(id, c, p, us(rng));
  }
  std::vector<JobView> jobs;
  for (int j = 0; j < kJobs; ++j) {
    const int m = j % kModels;
    jobs.push_back({static_cast<uint64_t>(j + 1), m, &names[static_cast<size_t>(m)], &analyses[static_cast<size_t>(m)],
                    0, 0, j * 100, j % 2 ? 1000000 + j * 1000 : 0});
  }
  SchedulerConfig config;
  config.name = scheduler;
  config.fixed = {{"model0", "p0"}, {"model1", "p1"}, {"model2", "p3"}, {"model3", "p4"}};
  std::unique_ptr<Scheduler> sched = CreateScheduler(config).value();
  TransferModel transfer;
  std::vector<Decision> decisions;
  std::span<const JobView> seen(jobs.data(), std::min(window, jobs.size()));
  for (auto _ : state) {
    std::vector<ProcessorView> views;
    for (int p = 0; p < kProcessors; ++p) views.push_back({"p" + std::to_string(p), p < 3 ? 0 : 1, 1000.0 * p, true});
    ScheduleContext ctx(0, seen, std::move(views), estimator, transfer);
    decisions.clear();
    sched->Schedule(ctx, decisions);
    benchmark::DoNotOptimize(decisions.data());
  }
  state.counters["decisions_per_call"] = static_cast<double>(decisions.size());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(decisions.size()));
}

Graph RequestModel() { return Chain({"Relu", "Relu", "Relu", "Relu"}, 1024); }

// The same small model called directly through a Session on one thread...
void BM_DirectBackendRun(benchmark::State& state) {
  SessionOptions o;
  o.compile.threads = 1;
  auto session = Session::FromGraph(RequestModel(), o).value();
  std::vector<Tensor> in{Tensor::Zeros(DataType::kFloat32, {1, 1024}).value()};
  std::vector<Tensor> out;
  for (auto _ : state) {
    out.clear();
    if (!session->Run(in, out).ok()) state.SkipWithError("run failed");
  }
}

// ... and as an engine request (submit, schedule, worker hand-off, future), one at a time.
void BM_EngineRequest(benchmark::State& state, const std::string& scheduler) {
  EngineConfig c;
  ProcessorSpec p;
  p.name = "cpu0";
  p.threads = 1;
  c.processors = {p};
  c.scheduler.name = scheduler;
  c.profiler.warmup_runs = 1;
  auto engine = Engine::Create(c).value();
  const ModelId m = engine->RegisterModel(RequestModel(), "chain").value();
  Tensor x = Tensor::Zeros(DataType::kFloat32, {1, 1024}).value();
  for (auto _ : state) {
    auto r = engine->Submit(m, {x}).get();
    if (!r.ok()) state.SkipWithError("request failed");
  }
  (void)engine->Shutdown();
}

BENCHMARK_CAPTURE(BM_ScheduleDecision, heft, std::string("heft"))->Arg(1)->Arg(16)->Arg(100);
BENCHMARK_CAPTURE(BM_ScheduleDecision, least_slack_time_first, std::string("least_slack_time_first"))->Arg(1)->Arg(16)->Arg(100);
BENCHMARK_CAPTURE(BM_ScheduleDecision, shortest_expected_latency, std::string("shortest_expected_latency"))->Arg(1)->Arg(16)->Arg(100);
BENCHMARK_CAPTURE(BM_ScheduleDecision, round_robin, std::string("round_robin"))->Arg(1)->Arg(16)->Arg(100);
BENCHMARK_CAPTURE(BM_ScheduleDecision, fixed, std::string("fixed"))->Arg(1)->Arg(16)->Arg(100);
BENCHMARK(BM_DirectBackendRun)->UseRealTime();
BENCHMARK_CAPTURE(BM_EngineRequest, heft, std::string("heft"))->UseRealTime();

}  // namespace
}  // namespace tutti
