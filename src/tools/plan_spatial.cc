// `tutti plan-spatial` / `tutti plan --split spatial`: profile the model's layers on the given
// processors, search fused-layer groups and shares (Legion), print the plan and its predicted time;
// optionally measure it against the fastest single device, the layer-by-layer split and the full
// search (bench/legion.sh reads --json).
#include "tools/plan_spatial.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/compare.h"
#include "core/npy.h"
#include "partition/spatial_cost.h"
#include "partition/spatial_optimizer.h"
#include "runtime/compiled_model.h"
#include "tools/cli_util.h"

namespace tutti::cli {
namespace {

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    std::string item = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

nlohmann::json PlanJson(const spatial::SpatialPlan& p) {
  nlohmann::json groups = nlohmann::json::array();
  for (const auto& g : p.groups) groups.push_back({{"first", g.first}, {"last", g.last}, {"rows", g.rows}});
  return {{"groups", groups}, {"head_first", p.head_first}, {"head_device", p.head_device},
          {"sole_device", spatial::SoleDevice(p)}, {"predicted_ms", p.predicted_us / 1000}};
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The whole model on one device, transfers included: the baseline a split must beat.
Result<double> MeasureWholeUs(const Graph& g, const spatial::SpatialDevice& dev, const Tensor& x, int iters) {
  TUTTI_ASSIGN_OR_RETURN(auto exe, dev.backend->Compile(g, dev.options));
  std::vector<double> times;
  for (int i = 0; i < iters + 1; ++i) {
    std::vector<Tensor> out;
    Stopwatch sw;
    TUTTI_RETURN_IF_ERROR(exe->Run({&x, 1}, out));
    if (i > 0) times.push_back(sw.ms() * 1000);
  }
  return Median(times);
}

// The whole model on one device: the single-device output a split run must reproduce.
Result<Tensor> RunWhole(const Graph& g, Backend& backend, const Tensor& x) {
  TUTTI_ASSIGN_OR_RETURN(auto exe, backend.Compile(g, {}));
  std::vector<Tensor> out;
  TUTTI_RETURN_IF_ERROR(exe->Run({&x, 1}, out));
  if (out.size() != 1) return InvalidArgument("a spatial split needs a model with one output, this one has ", out.size());
  return out[0];
}

// --input FILE|random: runs the chosen plan over the devices on that input -- and, so that every
// layer's halo is exercised even when the chosen plan keeps the model whole, the layer-by-layer
// split and all splittable units fused into one group -- and compares each output with the whole
// model run on the local CPU (and the chosen plan's with --expect, e.g. PyTorch's output). Fills
// `report`; fails when an error exceeds the tolerance.
struct SplitCheck {
  std::string input, expect, output;
  double tolerance = 1e-4;
};
Status CheckSplitRun(const Graph& g, const std::vector<spatial::SpatialDevice>& devices,
                     const std::vector<std::pair<std::string, spatial::SpatialPlan>>& plans, Backend& local,
                     const SplitCheck& check, nlohmann::json& report, std::string& text) {
  const Value& in = g.value(g.inputs()[0]);
  Shape shape = *ToConcrete(*in.info.shape);
  Tensor x;
  if (check.input == "random") {
    TUTTI_ASSIGN_OR_RETURN(x, RandomTensorOf(in.info.dtype, shape, 1));
  } else {
    TUTTI_ASSIGN_OR_RETURN(x, ReadTensorFile(check.input));
    if (x.shape() != shape || x.dtype() != in.info.dtype)
      return InvalidArgument("--input ", check.input, " is ", x.DebugString(), ", the model takes ",
                             DataTypeName(in.info.dtype), ShapeToString(shape));
  }
  TUTTI_ASSIGN_OR_RETURN(Tensor whole, RunWhole(g, local, x));
  report = {{"input", check.input}, {"tolerance", check.tolerance}};
  Status verdict;
  double worst = 0;
  for (const auto& [name, plan] : plans) {
    TUTTI_ASSIGN_OR_RETURN(auto exec, spatial::SpatialExecutor::Create(g, devices, plan));
    Tensor split;
    TUTTI_RETURN_IF_ERROR(exec->Run(x, split).WithContext(name + " split run"));
    const double err = RelativePeakError(split, whole);
    worst = std::max(worst, err);
    report["plans"][name] = {{"groups", plan.groups.size()}, {"max_rel_error_vs_single_device", err},
                             {"events", exec->events()}};
    text += StrCat("split run (", name, ", ", plan.groups.size(), " groups) on ", check.input, ": ",
                   split.DebugString(), ", max|a-b|/max|b| vs the whole model on the local CPU = ", err, "\n");
    if (!(err <= check.tolerance) && verdict.ok())
      verdict = Internal("the ", name, " split differs from the single-device run: max|a-b|/max|b| = ", err,
                         " > tolerance ", check.tolerance);
    if (&plan != &plans.front().second) continue;
    // The chosen plan's output: the reference comparison and the file.
    if (!check.expect.empty()) {
      TUTTI_ASSIGN_OR_RETURN(Tensor ref, ReadTensorFile(check.expect));
      const double vs_ref = RelativePeakError(split, ref);
      report["expect"] = check.expect;
      report["max_rel_error_vs_expect"] = vs_ref;
      text += StrCat("  vs ", check.expect, ": max|a-b|/max|b| = ", vs_ref, "\n");
      if (!(vs_ref <= check.tolerance) && verdict.ok())
        verdict = InvalidArgument("the split output differs from ", check.expect, ": max|a-b|/max|b| = ", vs_ref,
                                  " > tolerance ", check.tolerance);
    }
    if (!check.output.empty()) TUTTI_RETURN_IF_ERROR(WriteNpy(check.output, split));
  }
  report["max_rel_error_vs_single_device"] = worst;
  report["ok"] = verdict.ok();
  return verdict;
}

Result<Graph> SpecializedModel(const std::string& path, int64_t batch) {
  TUTTI_ASSIGN_OR_RETURN(Graph graph, LoadModelGraph(path));
  if (graph.inputs().size() != 1) return InvalidArgument(path, ": a spatial split needs a model with one input");
  const Value& in = graph.value(graph.inputs()[0]);
  if (!in.info.shape) return InvalidArgument(path, ": input '", in.name, "' has no shape");
  Shape shape;
  for (size_t d = 0; d < in.info.shape->size(); ++d) {
    const Dim& dim = (*in.info.shape)[d];
    if (dim.known()) shape.push_back(dim.value);
    else if (d == 0) shape.push_back(batch);
    else return InvalidArgument(path, ": input '", in.name, "' dim ", d, " is symbolic; only the batch may be");
  }
  std::vector<Shape> shapes = {shape};
  return SpecializeForInputs(graph, shapes);
}

}  // namespace

int RunPlanSpatial(Args& args) {
  auto fail = [](const Status& s) { return ReportError(s); };
  auto model = ModelPathArg(args);
  if (!model.ok()) return fail(model.status());
  auto procs = args.Get("processors");
  if (!procs || SplitList(*procs).empty())
    return fail(InvalidArgument("--processors LIST is required (e.g. remote:10.0.0.2:7000,cpu)"));
  auto batch = args.GetInt("batch", 1, 1, 1 << 16);
  auto iters = args.GetInt("iters", 3, 1, 1000);
  auto measure = args.GetInt("measure", 0, 0, 1000);
  if (!batch.ok()) return fail(batch.status());
  if (!iters.ok()) return fail(iters.status());
  if (!measure.ok()) return fail(measure.status());
  std::string search = args.GetOr("search", "optimizer");
  if (search != "optimizer" && search != "full" && search != "both")
    return fail(InvalidArgument("--search expects optimizer, full or both, got '", search, "'"));
  std::string tables_path = args.GetOr("tables", "");
  SplitCheck check;
  check.input = args.GetOr("input", "");
  check.expect = args.GetOr("expect", "");
  check.output = args.GetOr("output", "");
  if (auto t = args.Get("tolerance")) {
    char* end = nullptr;
    check.tolerance = std::strtod(t->c_str(), &end);
    if (t->empty() || *end != '\0' || !(check.tolerance >= 0))
      return fail(InvalidArgument("--tolerance expects a non-negative number, got '", *t, "'"));
  }
  if (check.input.empty() && (!check.expect.empty() || !check.output.empty()))
    return fail(InvalidArgument("--expect and --output need --input FILE (or --input random)"));
  const bool json = args.Has("json");
  if (Status s = args.CheckAllUsed(); !s.ok()) return fail(s);

  std::vector<std::string> warnings;
  auto devices = spatial::OpenDevices(SplitList(*procs), &warnings);
  if (!devices.ok()) return fail(devices.status());
  auto g = SpecializedModel(*model, *batch);
  if (!g.ok()) return fail(g.status());
  auto local = CreateBackend("cpu");
  if (!local.ok()) return fail(local.status());
  if (Status s = spatial::AnnotateUnitShapes(*g, **local); !s.ok()) return fail(s.WithContext(*model));
  auto units = spatial::FindUnits(*g);
  if (!units.ok()) return fail(units.status());

  // Tables: reuse a file made for this model and these devices, else profile (and save).
  Result<spatial::CostTables> tables = NotFound("no tables");
  std::vector<std::string> names;
  for (const auto& d : *devices) names.push_back(d.name);
  if (!tables_path.empty() && std::filesystem::exists(tables_path)) {
    tables = spatial::CostTables::Load(tables_path);
    if (tables.ok() && (tables->model_fingerprint != g->Fingerprint() || tables->devices != names)) {
      std::fprintf(stderr, "tutti: note: %s was made for another model or device list; profiling again\n",
                   tables_path.c_str());
      tables = NotFound("stale");
    }
  }
  if (!tables.ok()) {
    spatial::ProfileOptions po;
    po.iters = static_cast<int>(*iters);
    tables = spatial::ProfileUnits(*g, *devices, po);
    if (!tables.ok()) return fail(tables.status());
    if (!tables_path.empty()) {
      if (Status s = tables->Save(tables_path); !s.ok()) return fail(s);
    }
  }
  for (size_t d = 0; d < devices->size(); ++d) (*devices)[d].speed = tables->speeds[d];
  spatial::CostPredictor predictor(*g, *units, *tables);
  const int m = static_cast<int>(*measure);
  spatial::PlanMeasure measure_plan = m > 0 ? spatial::MeasureWith(*g, *devices, 1, m) : spatial::PlanMeasure();

  nlohmann::json out;
  out["model"] = *model;
  out["devices"] = names;
  out["warnings"] = warnings;
  out["speeds"] = tables->speeds;
  out["units"] = units->size();
  out["profile_s"] = tables->profile_s;
  out["link_mbit_s"] = {{"up", tables->link_up_mbit_s}, {"down", tables->link_down_mbit_s}};
  std::string text;
  for (size_t d = 0; d < tables->link_up_mbit_s.size() && d < tables->link_down_mbit_s.size(); ++d)
    if (tables->link_up_mbit_s[d] > 0)
      text += StrCat("link to ", names[d], ": ", tables->link_up_mbit_s[d], " Mbit/s up, ",
                     tables->link_down_mbit_s[d], " Mbit/s down (measured)\n");
  spatial::SpatialPlan chosen;
  if (search != "full") {
    auto opt = spatial::OptimizePlan(predictor, measure_plan);
    if (!opt.ok()) return fail(opt.status());
    out["optimizer"] = PlanJson(opt->plan);
    out["optimizer"]["search_s"] = tables->profile_s + opt->search_s;
    out["optimizer"]["wild_card_kept"] = opt->wild_card_kept;
    // Where the optimizer's time went (s): profiling's phases, the search on predictions, measuring
    // candidates.
    const auto& ph = tables->phases;
    out["optimizer"]["phases_s"] = {{"profile", tables->profile_s},       {"upload", ph.upload_s}, {"link", ph.link_s},
                                    {"speed_pass", ph.speed_pass_s},      {"share_pass", ph.share_pass_s},
                                    {"head", ph.head_s},                  {"predict", opt->predict_s},
                                    {"measure", opt->measure_s},          {"measurements", opt->measurements}};
    chosen = opt->plan;
    text += spatial::DescribePlan(opt->plan, *units, names) + opt->log;
    if (m > 0) {
      auto us = measure_plan(opt->plan);
      if (!us.ok()) return fail(us.status());
      out["optimizer"]["measured_ms"] = *us / 1000;
      text += StrCat("measured: ", *us / 1000, " ms\n");
      // Predictor fidelity: each group of the plan and of the layer-by-layer split, predicted vs real.
      std::vector<double> abs_err, rel_err;
      auto lbl = spatial::LayerByLayerPlan(*units, tables->speeds, predictor.FastestDevice());
      for (const auto* plan : {&opt->plan, &lbl})
        for (const auto& gr : plan->groups) {
          auto p = predictor.GroupUs(gr.first, gr.last, gr.rows);
          auto r = spatial::MeasureGroupUs(*g, *devices, gr.first, gr.last, gr.rows, 1, m);
          if (!p.ok() || !r.ok()) continue;
          abs_err.push_back(std::abs(*p - *r) / 1000);
          rel_err.push_back(std::abs(*p - *r) / std::max(1.0, *r));
        }
      out["predictor"] = {{"groups", abs_err.size()}, {"median_abs_error_ms", Median(abs_err)},
                          {"median_rel_error", Median(rel_err)}};
      auto lbl_us = measure_plan(lbl);
      if (lbl_us.ok()) out["layer_by_layer"] = {{"measured_ms", *lbl_us / 1000}};
      // The baseline: the whole model on each device, as one call; the fastest measured is the
      // one a split must beat.
      auto x = spatial::UnitInput(*g, (*units)[0]);
      if (x.ok()) {
        nlohmann::json single = {{"all", nlohmann::json::object()}};
        double best = 0;
        for (size_t d = 0; d < devices->size(); ++d) {
          auto us = MeasureWholeUs(*g, (*devices)[d], *x, m);
          if (!us.ok()) {
            single["all"][names[d]] = us.status().message();
            continue;
          }
          single["all"][names[d]] = *us / 1000;
          if (best == 0 || *us < best) {
            best = *us;
            single["device"] = names[d];
            single["measured_ms"] = *us / 1000;
          }
        }
        out["single"] = single;
      }
    }
  }
  if (search != "optimizer") {
    auto full = spatial::FullSearchPlan(*g, *devices, tables->speeds, 1, static_cast<int>(*iters));
    if (!full.ok()) return fail(full.status());
    out["full"] = PlanJson(full->plan);
    out["full"]["search_s"] = full->search_s;
    out["full"]["measurements"] = full->measurements;
    if (search == "full") chosen = full->plan;
    text += "full search:\n" + spatial::DescribePlan(full->plan, *units, names) +
            StrCat("full search took ", full->search_s, " s\n");
    if (m > 0) {
      auto us = measure_plan(full->plan);
      if (us.ok()) out["full"]["measured_ms"] = *us / 1000;
    }
  }
  Status verdict;
  if (!check.input.empty()) {
    nlohmann::json report;
    std::vector<std::pair<std::string, spatial::SpatialPlan>> plans = {{"chosen", chosen}};
    plans.push_back({"layer-by-layer", spatial::LayerByLayerPlan(*units, tables->speeds, predictor.FastestDevice())});
    spatial::SpatialPlan fused = spatial::LayerByLayerPlan(*units, tables->speeds, predictor.FastestDevice());
    if (!fused.groups.empty()) {
      fused.groups.front().last = fused.groups.back().last;
      fused.groups.front().rows = fused.groups.back().rows;
      fused.groups.resize(1);
      plans.push_back({"all fused", fused});
    }
    verdict = CheckSplitRun(*g, *devices, plans, **local, check, report, text);
    if (!report.is_null()) out["check"] = report;
    else if (!verdict.ok()) return fail(verdict);
  }
  if (json) std::printf("%s\n", out.dump(1).c_str());
  else std::printf("%s", text.c_str());
  std::fflush(stdout);
  return verdict.ok() ? 0 : fail(verdict);
}

namespace {
TUTTI_REGISTER_COMMAND(
    "plan-spatial", "split one image over several devices by rows, with fused layer groups (Legion)",
    "usage: tutti plan-spatial MODEL --processors LIST [options]   (also: tutti plan --split spatial)\n"
    "  --processors LIST   devices, e.g. remote:10.0.0.2:7000,remote:10.0.0.3:7000,cpu\n"
    "                      (unreachable ones are left out with a warning; TUTTI_REMOTE_TOKEN sets the token)\n"
    "  --batch N           batch size (default 1)\n"
    "  --tables FILE       cost tables (JSON): reused when made for this model and devices, else written\n"
    "  --iters N           runs per profiled layer (default 3)\n"
    "  --search S          optimizer (default), full (measure every candidate group) or both\n"
    "  --measure N         also run the plan, the fastest single device and the layer-by-layer split N times\n"
    "  --input FILE|random run the chosen plan, the layer-by-layer split and all units fused on this input\n"
    "                      (.npy/.pb); compare each output with the whole model on the local CPU; fails\n"
    "                      above --tolerance\n"
    "  --expect FILE       also compare the split output with this reference (e.g. PyTorch's output)\n"
    "  --output FILE       write the split output (.npy)\n"
    "  --tolerance T       max |a-b|/max|b| allowed (default 1e-4)\n"
    "  --json              machine-readable output",
    RunPlanSpatial);
}  // namespace

}  // namespace tutti::cli
