#include "partition/spatial_optimizer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

namespace tutti::spatial {

namespace {

using Clock = std::chrono::steady_clock;

// Candidates predicted more than this factor slower than the best prediction are not measured. The
// predictor's median error on the test bed is 11-35% per group (docs/benchmarks.md), less on whole
// plans where group errors partly cancel: a candidate 1.5x off is not going to win.
constexpr double kMeasureMargin = 1.5;
double SecondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

size_t SplittableCount(const std::vector<Unit>& units) {
  size_t n = 0;
  while (n < units.size() && units[n].splittable) ++n;
  return n;
}

// The DP shared by both searches: cost(i, j, &rows) gives group [i, j)'s cost and shares.
using GroupCost = std::function<Result<double>(size_t, size_t, std::vector<int64_t>*)>;

Result<SpatialPlan> BestGrouping(size_t n, const GroupCost& cost) {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> best(n + 1, inf);
  std::vector<size_t> from(n + 1, 0);
  std::vector<std::vector<std::vector<int64_t>>> rows(n + 1, std::vector<std::vector<int64_t>>(n + 1));
  best[0] = 0;
  for (size_t j = 1; j <= n; ++j)
    for (size_t i = 0; i < j; ++i) {
      std::vector<int64_t> r;
      TUTTI_ASSIGN_OR_RETURN(double c, cost(i, j, &r));
      if (best[i] + c < best[j]) {
        best[j] = best[i] + c;
        from[j] = i;
        rows[i][j] = std::move(r);
      }
    }
  SpatialPlan plan;
  for (size_t j = n; j > 0; j = from[j]) plan.groups.push_back({from[j], j, rows[from[j]][j]});
  std::reverse(plan.groups.begin(), plan.groups.end());
  plan.head_first = n;
  plan.predicted_us = best[n];
  return plan;
}

}  // namespace

PlanMeasure MeasureWith(const Graph& g, const std::vector<SpatialDevice>& devices, int warmup, int iters) {
  return [&g, devices, warmup, iters](const SpatialPlan& plan) -> Result<double> {
    TUTTI_ASSIGN_OR_RETURN(auto exec, SpatialExecutor::Create(g, devices, plan));
    TUTTI_ASSIGN_OR_RETURN(Tensor x, UnitInput(g, exec->units().at(0)));
    std::vector<double> times;
    for (int i = 0; i < warmup + iters; ++i) {
      Tensor out;
      auto t0 = Clock::now();
      TUTTI_RETURN_IF_ERROR(exec->Run(x, out));
      if (i >= warmup) times.push_back(SecondsSince(t0) * 1e6);
    }
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
  };
}

namespace {

// Keeps the fastest of `candidates` (the first is the search's own plan, the last the baseline a
// split must beat); returns its index. Without `measure` the lowest prediction wins. With one, the
// candidates predicted within `margin` times the best prediction are measured, and the baseline
// whenever anything else is -- so a split is only kept after it was measured faster than the
// baseline; a candidate predicted more than `margin` off the best is not worth a measurement, and
// when only one candidate is left it is kept unmeasured. A candidate equal to one before it is not
// measured twice.
Result<size_t> KeepFastest(const std::vector<std::pair<std::string, SpatialPlan>>& candidates,
                           const PlanMeasure& measure, double margin, SearchResult& r) {
  auto same = [](const SpatialPlan& a, const SpatialPlan& b) {
    if (SoleDevice(a) >= 0 || SoleDevice(b) >= 0) return SoleDevice(a) == SoleDevice(b);
    if (a.head_device != b.head_device || a.groups.size() != b.groups.size()) return false;
    for (size_t i = 0; i < a.groups.size(); ++i)
      if (a.groups[i].first != b.groups[i].first || a.groups[i].last != b.groups[i].last ||
          a.groups[i].rows != b.groups[i].rows)
        return false;
    return true;
  };
  std::vector<size_t> distinct;
  double best_predicted = std::numeric_limits<double>::infinity();
  for (size_t c = 0; c < candidates.size(); ++c) {
    bool repeat = false;
    for (size_t e : distinct) repeat = repeat || same(candidates[e].second, candidates[c].second);
    if (repeat) continue;
    distinct.push_back(c);
    best_predicted = std::min(best_predicted, candidates[c].second.predicted_us);
  }
  const size_t baseline = distinct.back();
  std::vector<size_t> measured;
  for (size_t c : distinct) {
    const double predicted = candidates[c].second.predicted_us;
    const bool within = std::isinf(margin) || predicted <= best_predicted * margin;  // inf * 0 is NaN
    if (!measure || within || c == baseline) measured.push_back(c);
    else r.log += StrCat(candidates[c].first, ": predicted ", predicted / 1000, " ms, not measured\n");
  }
  // Only the baseline is within the margin: the predictions decide.
  const bool decide_on_predictions = !measure || measured.size() == 1;
  size_t best = 0;
  double best_us = std::numeric_limits<double>::infinity();
  for (size_t c : measured) {
    const auto& [name, plan] = candidates[c];
    double us = plan.predicted_us;
    if (!decide_on_predictions) {
      TUTTI_ASSIGN_OR_RETURN(us, measure(plan));
      ++r.measurements;
    }
    r.log += StrCat(name, ": ", decide_on_predictions ? "predicted " : "measured ", us / 1000, " ms\n");
    if (us < best_us) best = c, best_us = us;
  }
  r.plan = candidates[best].second;
  r.log += StrCat("kept: ", candidates[best].first, "\n");
  return best;
}

}  // namespace

Result<SearchResult> OptimizePlan(const CostPredictor& p, const PlanMeasure& measure) {
  auto t0 = Clock::now();
  SearchResult r;
  const size_t n = SplittableCount(p.units());
  if (n == 0) return InvalidArgument("no unit can be split by rows");
  const size_t nd = p.tables().devices.size();
  TUTTI_ASSIGN_OR_RETURN(SpatialPlan searched, BestGrouping(n, [&](size_t i, size_t j, std::vector<int64_t>* rows) -> Result<double> {
    double us = 0;
    *rows = p.BestShares(i, j, &us);
    return us;
  }));
  searched.head_device = p.FastestDevice();
  if (n < p.units().size()) searched.predicted_us += p.HeadUs(searched.head_device);
  // A plan that ends up on one device runs as one call: its cost is that call's, with no band
  // fetched between the groups and the head.
  auto settle = [&](SpatialPlan& plan) -> Status {
    if (int d = SoleDevice(plan); d >= 0) {
      TUTTI_ASSIGN_OR_RETURN(double us, p.SingleDeviceUs(d));
      plan = SingleDevicePlan(p.units(), nd, d);
      plan.predicted_us = us;
    }
    return Status::Ok();
  };
  TUTTI_RETURN_IF_ERROR(settle(searched));
  std::vector<std::pair<std::string, SpatialPlan>> candidates = {{"searched plan", searched}};

  // Wild card: the adjacent pair whose merge is predicted to cost least extra.
  if (searched.groups.size() >= 2) {
    size_t pick = 0;
    double pick_delta = std::numeric_limits<double>::infinity();
    std::vector<int64_t> pick_rows;
    for (size_t k = 0; k + 1 < searched.groups.size(); ++k) {
      const Group &a = searched.groups[k], &b = searched.groups[k + 1];
      double merged = 0, ca = 0, cb = 0;
      auto rows = p.BestShares(a.first, b.last, &merged);
      p.BestShares(a.first, a.last, &ca);
      p.BestShares(b.first, b.last, &cb);
      if (merged - ca - cb < pick_delta) {
        pick_delta = merged - ca - cb;
        pick = k;
        pick_rows = std::move(rows);
      }
    }
    SpatialPlan wild = searched;
    wild.groups[pick] = {wild.groups[pick].first, wild.groups[pick + 1].last, pick_rows};
    wild.groups.erase(wild.groups.begin() + static_cast<ptrdiff_t>(pick) + 1);
    wild.predicted_us = searched.predicted_us + pick_delta;
    TUTTI_RETURN_IF_ERROR(settle(wild));
    candidates.push_back({StrCat("wild card (groups ", pick, " and ", pick + 1, " merged)"), wild});
  }

  // The whole model on the device predicted cheapest alone: a split must beat it to be chosen.
  TUTTI_ASSIGN_OR_RETURN(auto alone, p.BestSingleDevice());
  SpatialPlan single = SingleDevicePlan(p.units(), nd, alone.first);
  single.predicted_us = alone.second;
  candidates.push_back({StrCat("whole model on ", p.tables().devices[static_cast<size_t>(alone.first)]), single});

  r.predict_s = SecondsSince(t0);
  auto t_measure = Clock::now();
  TUTTI_ASSIGN_OR_RETURN(size_t kept, KeepFastest(candidates, measure, kMeasureMargin, r));
  r.measure_s = SecondsSince(t_measure);
  r.wild_card_kept = candidates.size() == 3 && kept == 1;
  r.search_s = SecondsSince(t0);
  return r;
}

Result<SearchResult> FullSearchPlan(const Graph& g, const std::vector<SpatialDevice>& devices,
                                    const std::vector<double>& speeds, int warmup, int iters) {
  auto t0 = Clock::now();
  TUTTI_ASSIGN_OR_RETURN(std::vector<Unit> units, FindUnits(g));
  const size_t n = SplittableCount(units);
  if (n == 0) return InvalidArgument("no unit can be split by rows");
  int fastest = static_cast<int>(std::max_element(speeds.begin(), speeds.end()) - speeds.begin());
  SearchResult r;
  TUTTI_ASSIGN_OR_RETURN(SpatialPlan searched, BestGrouping(n, [&](size_t i, size_t j, std::vector<int64_t>* rows) -> Result<double> {
    const int64_t out_h = units[j - 1].out_h;
    std::vector<int64_t> split = ProportionalShares(out_h, speeds), alone(speeds.size(), 0);
    alone[static_cast<size_t>(fastest)] = out_h;
    TUTTI_ASSIGN_OR_RETURN(double a, MeasureGroupUs(g, devices, i, j, split, warmup, iters));
    TUTTI_ASSIGN_OR_RETURN(double b, MeasureGroupUs(g, devices, i, j, alone, warmup, iters));
    r.measurements += 2;
    *rows = a <= b ? split : alone;
    return std::min(a, b);
  }));
  searched.head_device = fastest;
  // As the optimizer does, the plan must beat every device alone -- here all measured.
  std::vector<std::pair<std::string, SpatialPlan>> candidates = {{"searched plan", searched}};
  for (size_t d = 0; d < devices.size(); ++d)
    candidates.push_back({"whole model on " + devices[d].name, SingleDevicePlan(units, devices.size(), static_cast<int>(d))});
  TUTTI_RETURN_IF_ERROR(KeepFastest(candidates, MeasureWith(g, devices, warmup, iters),
                                    std::numeric_limits<double>::infinity(), r)
                            .status());
  r.search_s = SecondsSince(t0);
  return r;
}

SpatialPlan SingleDevicePlan(const std::vector<Unit>& units, size_t devices, int device) {
  SpatialPlan plan;
  size_t n = SplittableCount(units);
  if (n > 0) {
    std::vector<int64_t> rows(devices, 0);
    rows[static_cast<size_t>(device)] = units[n - 1].out_h;
    plan.groups.push_back({0, n, rows});
  }
  plan.head_first = n;
  plan.head_device = device;
  return plan;
}

SpatialPlan LayerByLayerPlan(const std::vector<Unit>& units, const std::vector<double>& speeds, int head_device) {
  SpatialPlan plan;
  size_t n = SplittableCount(units);
  for (size_t u = 0; u < n; ++u) plan.groups.push_back({u, u + 1, ProportionalShares(units[u].out_h, speeds)});
  plan.head_first = n;
  plan.head_device = head_device;
  return plan;
}

}  // namespace tutti::spatial
