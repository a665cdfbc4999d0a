// Fused-layer configuration (FLC) search, after Legion (ICCD'21).
//
// OptimizePlan searches groupings on *predicted* costs: the best split of units [0, j) is the best
// split of [0, i) plus group [i, j), over all i (an exact dynamic programme over the predictor's
// costs, O(units^2) predictions and no measurement). Each group gets shares proportional to device
// speed, or goes whole to the fastest device when that is predicted cheaper. Then three candidates
// are compared: the searched plan, the seed's wild card (the adjacent pair of groups whose merge
// costs least, merged once more) and the whole model on the device predicted cheapest alone, which
// runs as one call. With a measure, those predicted within a margin (1.5x) of the best prediction
// are *measured*, and the device alone whenever anything else is, and the fastest is kept -- so a
// split is never kept unless measured faster than that device alone; a candidate predicted far off
// the best is not worth the measurement, and a lone survivor is kept unmeasured. Without a
// measure, the lowest prediction wins.
//
// FullSearchPlan is the comparison the seed calls the full searching scheme: the same search, but
// every candidate group is measured for real, and then the plan and every device alone, measured.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "partition/spatial_cost.h"

namespace tutti::spatial {

struct SearchResult {
  SpatialPlan plan;
  double search_s = 0;          // wall time of the search and its measurements (profiling excluded)
  double predict_s = 0;         // of which the search on predictions (and the wild card)
  double measure_s = 0;         // of which measuring candidates
  int measurements = 0;         // candidate plans (or groups) the search measured
  bool wild_card_kept = false;  // the merged plan won
  std::string log;              // one line per decision worth reporting
};

// Measures a whole plan (all groups and the head) for real; median microseconds.
using PlanMeasure = std::function<Result<double>(const SpatialPlan&)>;
PlanMeasure MeasureWith(const Graph& g, const std::vector<SpatialDevice>& devices, int warmup, int iters);

// `measure` may be empty: the candidates are then judged on predictions.
Result<SearchResult> OptimizePlan(const CostPredictor& predictor, const PlanMeasure& measure);

Result<SearchResult> FullSearchPlan(const Graph& g, const std::vector<SpatialDevice>& devices,
                                    const std::vector<double>& speeds, int warmup, int iters);

// The whole model on `device`, as a plan; the executor runs it as one call there.
SpatialPlan SingleDevicePlan(const std::vector<Unit>& units, size_t devices, int device);
// Every unit its own group (Legion's "layer-by-layer split", no fusion).
SpatialPlan LayerByLayerPlan(const std::vector<Unit>& units, const std::vector<double>& speeds, int head_device);

}  // namespace tutti::spatial
