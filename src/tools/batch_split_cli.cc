// `tutti plan --split batch`, `tutti run --split batch`, `tutti bench --split batch`: one batch
// shared by several processors, each share sized from batch profile tables (issue 5, seed 003).
#include "tools/batch_split_cli.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "core/compare.h"
#include "core/npy.h"
#include "partition/batch_split_executor.h"
#include "tools/cli_util.h"

namespace tutti::cli {
namespace {

// "cpu" (every core this process may use), "cpu:N" / "cpu:0-3" (those cores, one thread each),
// "cuda" / "cuda:N". The processor is named by its token.
Result<std::vector<ProcessorSpec>> ParseProcessors(const std::string& list) {
  std::vector<ProcessorSpec> out;
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    std::string item = list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? list.size() + 1 : comma + 1;
    if (item.empty()) continue;
    ProcessorSpec s;
    s.name = item;
    if (item == "cpu" || item.rfind("cpu:", 0) == 0) {
      if (item == "cpu") {
        s.cpu_cores = AllowedCpuCores();
      } else {
        auto cores = ParseCoreList(item.substr(4));
        if (!cores.ok()) return cores.status().WithContext("--processors " + item);
        s.cpu_cores = *cores;
      }
      s.threads = static_cast<int>(s.cpu_cores.size());
    } else if (item == "cuda" || item.rfind("cuda:", 0) == 0) {
      s.device = item;
    } else {
      return InvalidArgument("--processors: unknown processor '", item, "' (expected cpu, cpu:CORES, cuda or cuda:N)");
    }
    for (const auto& o : out)
      if (o.name == item) return InvalidArgument("--processors: '", item, "' is listed twice");
    out.push_back(std::move(s));
  }
  if (out.empty()) return InvalidArgument("--processors LIST is required (e.g. cpu:0,cpu:1,cuda:0)");
  return out;
}

Json PlanJson(const BatchSplitPlan& plan, const std::vector<BatchSplitProcessor>& procs) {
  Json shares = Json::array();
  for (const BatchShare& s : plan.shares)
    shares.push_back({{"processor", procs[static_cast<size_t>(s.processor)].name}, {"offset", s.offset},
                      {"items", s.items}, {"predicted_ms", s.us() / 1000}, {"transfer_ms", s.transfer_us / 1000}});
  Json left = Json::array();
  for (int p : plan.left_out) left.push_back(procs[static_cast<size_t>(p)].name);
  return {{"search", plan.search}, {"predicted_ms", plan.predicted_us / 1000}, {"shares", shares}, {"left_out", left}};
}

double IdealUs(const std::vector<BatchSplitProcessor>& procs, int64_t batch) {
  double items_per_us = 0;
  for (const auto& p : procs) items_per_us += p.table->BestItemsPerUs();
  return items_per_us > 0 ? static_cast<double>(batch) / items_per_us : 0;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// What every --split batch command starts from: flags, the model, the executor with its tables.
struct SplitSetup {
  std::string model;
  std::unique_ptr<BatchSplitExecutor> executor;
  std::vector<InputTensor> inputs;
  std::vector<Tensor> tensors;
  int64_t batch = 1;
  BatchSplitSearch search = BatchSplitSearch::kGreedy;
  double profile_ms = 0;
};

struct SplitFlags {
  std::string model, processors, profile_file, search = "greedy";
  InputFlags inputs;
  int64_t max_profile_batch = 0, profile_runs = 3;
  bool optimize = true;
};

Result<SplitFlags> ParseSplitFlags(Args& args) {
  SplitFlags f;
  TUTTI_ASSIGN_OR_RETURN(f.model, ModelPathArg(args));
  auto procs = args.Get("processors");
  if (!procs) return InvalidArgument("--split batch needs --processors LIST (e.g. cpu:0,cpu:1,cuda:0)");
  f.processors = *procs;
  TUTTI_ASSIGN_OR_RETURN(f.inputs, ParseInputFlags(args));
  TUTTI_ASSIGN_OR_RETURN(f.max_profile_batch, args.GetInt("max-profile-batch", 0, 0, kMaxExactBatch));
  TUTTI_ASSIGN_OR_RETURN(f.profile_runs, args.GetInt("profile-runs", 3, 1, 1000));
  f.profile_file = args.GetOr("profile", "");
  f.search = args.GetOr("search", "greedy");
  f.optimize = !args.Has("no-optimize");
  return f;
}

Result<SplitSetup> Setup(const SplitFlags& f) {
  SplitSetup s;
  s.model = f.model;
  TUTTI_ASSIGN_OR_RETURN(s.search, ParseBatchSplitSearch(f.search));
  TUTTI_ASSIGN_OR_RETURN(std::vector<ProcessorSpec> specs, ParseProcessors(f.processors));
  TUTTI_ASSIGN_OR_RETURN(Graph graph, LoadModelGraph(f.model));
  BatchSplitOptions options;
  options.profile_file = f.profile_file;
  options.profiler = {1, static_cast<int>(f.profile_runs)};
  options.optimize = f.optimize;
  auto executor = BatchSplitExecutor::Create(std::move(graph), std::move(specs), options);
  if (!executor.ok()) return executor.status().WithContext(f.model);
  s.executor = std::move(executor).value();
  TUTTI_ASSIGN_OR_RETURN(s.inputs, MakeInputs(s.executor->graph(), f.inputs, &s.batch));
  for (const InputTensor& in : s.inputs) s.tensors.push_back(in.tensor);
  Stopwatch sw;
  TUTTI_RETURN_IF_ERROR(s.executor->Profile(std::max(s.batch, f.max_profile_batch)));
  s.profile_ms = sw.ms();
  return s;
}

Json TablesJson(const BatchSplitExecutor& x) {
  Json out = Json::array();
  for (int p = 0; p < x.processor_count(); ++p) {
    const BatchProfileTable& t = x.table(p);
    Json points = Json::array();
    for (const auto& [b, us] : t.points()) points.push_back({{"batch", b}, {"ms", us / 1000}});
    out.push_back({{"processor", x.processor(p).name()}, {"describe", x.processor(p).spec().Describe()},
                   {"best_items_per_s", t.BestItemsPerUs() * 1e6},
                   {"oom_batch", t.oom_batch() ? Json(t.oom_batch()) : Json(nullptr)}, {"table", points}});
  }
  return out;
}

}  // namespace

int RunPlanBatch(Args& args) {
  auto fail = [](const Status& s) { return ReportError(s); };
  auto flags = ParseSplitFlags(args);
  if (!flags.ok()) return fail(flags.status());
  const bool json = args.Has("json");
  if (Status s = args.CheckAllUsed(); !s.ok()) return fail(s);
  auto setup = Setup(*flags);
  if (!setup.ok()) return fail(setup.status());
  BatchSplitExecutor& x = *setup->executor;
  const int64_t batch = setup->batch;
  auto procs = x.PlannerProcessors();
  auto greedy = PlanBatchSplitGreedy(procs, batch);
  if (!greedy.ok()) return fail(greedy.status());
  Result<BatchSplitPlan> exact = InvalidArgument("batch above the exact search's limit");
  if (batch <= kMaxExactBatch) exact = PlanBatchSplitExact(procs, batch);
  auto single = PlanBatchSingle(procs, batch);
  auto equal = PlanBatchEqual(procs, batch);
  const double ideal_us = IdealUs(procs, batch);
  if (json) {
    Json j;
    j["model"] = setup->model;
    j["batch"] = batch;
    j["profile_ms"] = setup->profile_ms;
    j["processors"] = TablesJson(x);
    j["ideal_ms"] = ideal_us / 1000;
    j["greedy"] = PlanJson(*greedy, procs);
    j["exact"] = exact.ok() ? PlanJson(*exact, procs) : Json(nullptr);
    j["single"] = single.ok() ? PlanJson(*single, procs) : Json(nullptr);
    j["equal"] = equal.ok() ? PlanJson(*equal, procs) : Json(nullptr);
    std::printf("%s\n", DumpJson(j).c_str());
    return 0;
  }
  std::printf("batch split of %s, batch %lld over %d processors\n", setup->model.c_str(), static_cast<long long>(batch),
              x.processor_count());
  for (int p = 0; p < x.processor_count(); ++p) {
    const BatchProfileTable& t = x.table(p);
    std::printf("  %-10s best %.1f items/s; ms at batch:", x.processor(p).name().c_str(), t.BestItemsPerUs() * 1e6);
    for (const auto& [b, us] : t.points()) std::printf(" %lld:%.1f", static_cast<long long>(b), us / 1000);
    if (t.oom_batch()) std::printf(" (out of memory at %lld)", static_cast<long long>(t.oom_batch()));
    std::printf("\n");
  }
  std::printf("%s", DescribeBatchSplitPlan(*greedy, procs).c_str());
  if (exact.ok()) std::printf("%s", DescribeBatchSplitPlan(*exact, procs).c_str());
  if (single.ok()) std::printf("%s", DescribeBatchSplitPlan(*single, procs).c_str());
  if (equal.ok()) std::printf("%s", DescribeBatchSplitPlan(*equal, procs).c_str());
  std::printf("ideal (batch / sum of best throughputs): %.3f ms; greedy predicted at %.0f%% of ideal\n", ideal_us / 1000,
              greedy->predicted_us > 0 ? 100 * ideal_us / greedy->predicted_us : 0);
  return 0;
}

int RunSplitBatch(Args& args, bool bench) {
  auto fail = [](const Status& s) { return ReportError(s); };
  std::string split = args.GetOr("split", "");
  if (split != "batch") return fail(InvalidArgument("--split for run/bench must be batch, got '", split, "'"));
  auto flags = ParseSplitFlags(args);
  if (!flags.ok()) return fail(flags.status());
  const bool json = args.Has("json");
  std::string output_dir;
  std::vector<std::pair<std::string, std::string>> expect;
  double tolerance = 1e-4;
  int64_t iters = 1, warmup = 0;
  bool baselines = false;
  if (bench) {
    auto it = args.GetInt("iterations", 10, 1, 1000000);
    auto wu = args.GetInt("warmup", 2, 0, 1000000);
    if (!it.ok()) return fail(it.status());
    if (!wu.ok()) return fail(wu.status());
    iters = *it, warmup = *wu;
    baselines = args.Has("baselines");
  } else {
    output_dir = args.GetOr("output-dir", "");
    for (const std::string& e : args.GetAll("expect")) {
      size_t eq = e.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == e.size())
        return fail(InvalidArgument("--expect expects OUTPUT=FILE, got '", e, "'"));
      expect.push_back({e.substr(0, eq), e.substr(eq + 1)});
    }
    if (auto t = args.Get("tolerance")) {
      char* end = nullptr;
      tolerance = std::strtod(t->c_str(), &end);
      if (t->empty() || *end != '\0' || !(tolerance >= 0))
        return fail(InvalidArgument("--tolerance expects a non-negative number, got '", *t, "'"));
    }
  }
  if (Status s = args.CheckAllUsed(); !s.ok()) return fail(s);
  auto setup = Setup(*flags);
  if (!setup.ok()) return fail(setup.status());
  BatchSplitExecutor& x = *setup->executor;
  const int64_t batch = setup->batch;
  const std::vector<Tensor>& in = setup->tensors;
  BatchSplitRequest request;
  request.search = setup->search;

  Json j;
  j["model"] = setup->model;
  j["batch"] = batch;
  j["processors"] = TablesJson(x);
  j["profile_ms"] = setup->profile_ms;
  auto procs = x.PlannerProcessors();
  const double ideal_us = IdealUs(procs, batch);
  j["ideal_ms"] = ideal_us / 1000;

  if (!bench) {
    auto r = x.Run(in, request);
    if (!r.ok()) return fail(r.status());
    const Graph& g = x.graph();
    Json outputs = Json::array();
    std::vector<std::string> taken;
    Status expect_status;
    for (size_t i = 0; i < r->outputs.size(); ++i) {
      const std::string name = g.value(g.outputs()[i]).name;
      Json o = {{"name", name}, {"shape", ShapeJson(r->outputs[i].shape())}};
      if (!output_dir.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(output_dir, ec);
        std::string file = (std::filesystem::path(output_dir) / OutputFileName(name, taken)).string();
        if (Status w = WriteNpy(file, r->outputs[i]); !w.ok()) return fail(w);
        o["file"] = file;
      }
      outputs.push_back(o);
    }
    Json expects = Json::array();
    for (const auto& [name, file] : expect) {
      size_t index = r->outputs.size();
      for (size_t i = 0; i < r->outputs.size(); ++i)
        if (g.value(g.outputs()[i]).name == name) index = i;
      if (index == r->outputs.size()) return fail(InvalidArgument("--expect: the model has no output '", name, "'"));
      auto ref = ReadTensorFile(file);
      if (!ref.ok()) return fail(ref.status());
      if (ref->shape() != r->outputs[index].shape())
        return fail(InvalidArgument("--expect ", name, ": output has shape ", ShapeToString(r->outputs[index].shape()),
                                    ", ", file, " has ", ShapeToString(ref->shape())));
      const double err = RelativePeakError(r->outputs[index], *ref);
      expects.push_back({{"output", name}, {"max_rel_error", err}, {"ok", err <= tolerance}});
      if (err > tolerance && expect_status.ok())
        expect_status = InvalidArgument("output '", name, "' differs from ", file, ": max|a-b|/max|b| = ", err,
                                        " > tolerance ", tolerance);
    }
    j["plan"] = PlanJson(r->plan, procs);
    j["measured_share_ms"] = Json::array();
    for (double us : r->measured_us) j["measured_share_ms"].push_back(us / 1000);
    j["run_ms"] = r->wall_us / 1000;
    j["reruns"] = r->reruns;
    j["failures"] = r->failures;
    j["outputs_in_place"] = r->in_place;
    j["outputs"] = outputs;
    j["expect"] = expects;
    if (json) {
      std::printf("%s\n", DumpJson(j).c_str());
    } else {
      std::printf("ran %s split over %d processors, batch %lld, in %.2f ms\n%s", setup->model.c_str(),
                  x.processor_count(), static_cast<long long>(batch), r->wall_us / 1000,
                  DescribeBatchSplitPlan(r->plan, procs).c_str());
      for (size_t i = 0; i < r->plan.shares.size(); ++i)
        std::printf("  measured %-10s %.2f ms\n", procs[static_cast<size_t>(r->plan.shares[i].processor)].name.c_str(),
                    r->measured_us[i] / 1000);
      for (const auto& f : r->failures) std::printf("  failed and re-run: %s\n", f.c_str());
      for (const auto& o : outputs)
        std::printf("  output  %-24s %s\n", o["name"].get<std::string>().c_str(),
                    o.contains("file") ? ("-> " + o["file"].get<std::string>()).c_str() : "");
      for (const auto& e : expects)
        std::printf("  expect  %-24s max|a-b|/max|b| = %.3g %s\n", e["output"].get<std::string>().c_str(),
                    e["max_rel_error"].get<double>(), e["ok"].get<bool>() ? "ok" : "MISMATCH");
    }
    std::fflush(stdout);
    return expect_status.ok() ? 0 : fail(expect_status);
  }

  // bench: the split (and with --baselines each processor alone, the equal split and the other
  // search's plan), interleaved run by run so they share whatever load the machine has.
  auto greedy = PlanBatchSplitGreedy(procs, batch);
  if (!greedy.ok()) return fail(greedy.status());
  Result<BatchSplitPlan> exact = InvalidArgument("batch above the exact search's limit");
  if (batch <= kMaxExactBatch) exact = PlanBatchSplitExact(procs, batch);
  auto equal = PlanBatchEqual(procs, batch);
  struct Variant {
    std::string name;
    BatchSplitRequest request;
    int processor = -1;  // >= 0: whole batch on that processor
    double predicted_us = 0;
    std::vector<double> ms;
    std::vector<std::vector<double>> share_ms;
  };
  std::vector<Variant> variants;
  auto add = [&](std::string name, BatchSplitRequest r, int processor, double predicted_us) {
    Variant v;
    v.name = std::move(name);
    v.request = std::move(r);
    v.processor = processor;
    v.predicted_us = predicted_us;
    variants.push_back(std::move(v));
  };
  // Each split runs the plan made here from the profiled tables, so measured and predicted times
  // are of the same plan (runs rescale tables that drift; re-planning every run would let one
  // noisy run change the plan being measured).
  auto fixed = [&](const BatchSplitPlan& plan) {
    BatchSplitRequest r;
    r.shares.assign(procs.size(), 0);
    for (const BatchShare& s : plan.shares) r.shares[static_cast<size_t>(s.processor)] = s.items;
    return r;
  };
  const BatchSplitPlan& chosen = setup->search == BatchSplitSearch::kExact && exact.ok() ? *exact : *greedy;
  add("split", fixed(chosen), -1, chosen.predicted_us);
  if (baselines) {
    if (exact.ok()) add("exact", fixed(*exact), -1, exact->predicted_us);
    if (equal.ok()) add("equal", fixed(*equal), -1, equal->predicted_us);
    for (int p = 0; p < x.processor_count(); ++p)
      add("single:" + x.processor(p).name(), {}, p, procs[static_cast<size_t>(p)].ShareUs(batch));
  }
  for (int64_t i = 0; i < warmup + iters; ++i) {
    for (Variant& v : variants) {
      Stopwatch sw;
      std::vector<double> shares;
      if (v.processor >= 0) {
        auto r = x.RunOn(v.processor, in);
        if (!r.ok()) return fail(r.status().WithContext(v.name));
      } else {
        auto r = x.Run(in, v.request);
        if (!r.ok()) return fail(r.status().WithContext(v.name));
        for (double us : r->measured_us) shares.push_back(us / 1000);
      }
      if (i >= warmup) {
        v.ms.push_back(sw.ms());
        v.share_ms.push_back(shares);
      }
    }
  }
  Json vj = Json::object();
  double best_single = 0;
  for (const Variant& v : variants)
    if (v.processor >= 0 && (best_single == 0 || Median(v.ms) < best_single)) best_single = Median(v.ms);
  const double split_ms = Median(variants[0].ms);
  for (const Variant& v : variants)
    vj[v.name] = {{"median_ms", Median(v.ms)}, {"predicted_ms", v.predicted_us / 1000},
                  {"measured_over_predicted", v.predicted_us > 0 ? Median(v.ms) * 1000 / v.predicted_us : 0}};
  j["plan"] = PlanJson(setup->search == BatchSplitSearch::kExact && exact.ok() ? *exact : *greedy, procs);
  j["greedy_predicted_ms"] = greedy->predicted_us / 1000;
  j["exact_predicted_ms"] = exact.ok() ? Json(exact->predicted_us / 1000) : Json(nullptr);
  j["iterations"] = iters;
  j["variants"] = vj;
  j["achieved_over_ideal"] = split_ms > 0 ? ideal_us / 1000 / split_ms : 0;
  if (best_single > 0) j["speedup_over_best_single"] = best_single / split_ms;
  if (vj.contains("equal")) j["speedup_over_equal"] = vj["equal"]["median_ms"].get<double>() / split_ms;
  if (json) {
    std::printf("%s\n", DumpJson(j).c_str());
  } else {
    std::printf("bench %s split over %d processors, batch %lld, %lld runs after %lld warm-up\n", setup->model.c_str(),
                x.processor_count(), static_cast<long long>(batch), static_cast<long long>(iters),
                static_cast<long long>(warmup));
    std::printf("%s", DescribeBatchSplitPlan(setup->search == BatchSplitSearch::kExact && exact.ok() ? *exact : *greedy,
                                             procs).c_str());
    for (const Variant& v : variants)
      std::printf("  %-16s median %.2f ms  predicted %.2f ms\n", v.name.c_str(), Median(v.ms), v.predicted_us / 1000);
    std::printf("  ideal %.2f ms: split at %.0f%% of ideal", ideal_us / 1000, 100 * j["achieved_over_ideal"].get<double>());
    if (best_single > 0) std::printf(", %.2fx the best single processor", best_single / split_ms);
    if (j.contains("speedup_over_equal")) std::printf(", %.2fx the equal split", j["speedup_over_equal"].get<double>());
    std::printf("\n");
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace tutti::cli
