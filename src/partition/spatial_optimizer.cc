#include "partition/spatial_optimizer.h"

#include <algorithm>
#include <chrono>
#include <limits>

namespace tutti::spatial {

namespace {

using Clock = std::chrono::steady_clock;
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

Result<SearchResult> OptimizePlan(const CostPredictor& p, const PlanMeasure& measure) {
  auto t0 = Clock::now();
  SearchResult r;
  const size_t n = SplittableCount(p.units());
  if (n == 0) return InvalidArgument("no unit can be split by rows");
  TUTTI_ASSIGN_OR_RETURN(r.plan, BestGrouping(n, [&](size_t i, size_t j, std::vector<int64_t>* rows) -> Result<double> {
    double us = 0;
    *rows = p.BestShares(i, j, &us);
    return us;
  }));
  r.plan.head_device = p.FastestDevice();
  if (n < p.units().size()) r.plan.predicted_us += p.HeadUs(r.plan.head_device);

  // Wild card: the adjacent pair whose merge is predicted to cost least extra.
  if (r.plan.groups.size() >= 2) {
    size_t pick = 0;
    double pick_delta = std::numeric_limits<double>::infinity();
    std::vector<int64_t> pick_rows;
    for (size_t k = 0; k + 1 < r.plan.groups.size(); ++k) {
      const Group &a = r.plan.groups[k], &b = r.plan.groups[k + 1];
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
    SpatialPlan wild = r.plan;
    wild.groups[pick] = {wild.groups[pick].first, wild.groups[pick + 1].last, pick_rows};
    wild.groups.erase(wild.groups.begin() + static_cast<ptrdiff_t>(pick) + 1);
    wild.predicted_us = r.plan.predicted_us + pick_delta;
    bool keep = false;
    if (measure) {
      TUTTI_ASSIGN_OR_RETURN(double base_us, measure(r.plan));
      TUTTI_ASSIGN_OR_RETURN(double wild_us, measure(wild));
      r.measurements += 2;
      keep = wild_us < base_us;
      r.log += StrCat("wild card: merging groups ", pick, " and ", pick + 1, " measured ", wild_us / 1000, " ms vs ",
                      base_us / 1000, " ms: ", keep ? "kept" : "dropped", "\n");
    } else {
      keep = pick_delta < 0;
      r.log += StrCat("wild card: merging groups ", pick, " and ", pick + 1, " predicted ", pick_delta / 1000,
                      " ms change: ", keep ? "kept" : "dropped", "\n");
    }
    if (keep) {
      r.plan = std::move(wild);
      r.wild_card_kept = true;
    }
  }
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
  TUTTI_ASSIGN_OR_RETURN(r.plan, BestGrouping(n, [&](size_t i, size_t j, std::vector<int64_t>* rows) -> Result<double> {
    const int64_t out_h = units[j - 1].out_h;
    std::vector<int64_t> split = ProportionalShares(out_h, speeds), alone(speeds.size(), 0);
    alone[static_cast<size_t>(fastest)] = out_h;
    TUTTI_ASSIGN_OR_RETURN(double a, MeasureGroupUs(g, devices, i, j, split, warmup, iters));
    TUTTI_ASSIGN_OR_RETURN(double b, MeasureGroupUs(g, devices, i, j, alone, warmup, iters));
    r.measurements += 2;
    *rows = a <= b ? split : alone;
    return std::min(a, b);
  }));
  r.plan.head_device = fastest;
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
