// How long one block of a matrix-multiply-like operator takes on one core, and from that, how big
// the blocks of an operator should be (AsyMo, seed 001 §4.1 "cost-model-directed block partitioning").
//
// The seed's observation: DNN operators' input, filter and output sizes fall in predictable ranges,
// so a linear regression over them, trained once offline, predicts a block's time well enough to
// choose block sizes. A block must be small enough that the last one does not leave the other
// cores waiting (balance) and large enough that per-block costs -- the call and re-reading the
// shared operand for every block -- stay small (the "thrashing" side). ChooseBlockExtent weighs the
// two with the model's predictions.
//
// Features (all per block): 1, input elements read, filter (weight) elements read, output elements
// written, and flops. The time is seconds on one core of the calibration machine running alone.
// The model is persisted as JSON:
//   {"format": "tutti-asymo-cost-model", "version": 1,
//    "features": ["bias", "input_elems", "filter_elems", "output_elems", "flops"],
//    "coefficients_s": [...5 numbers...], "samples": 48, "mean_rel_error": 0.08}
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"

namespace tutti::cpu::asymmetric {

struct BlockShape {
  double input_elems = 0;   // elements of the operand every block reads whole (feature map, A rows)
  double filter_elems = 0;  // elements of this block's weights
  double output_elems = 0;  // elements this block writes
  double flops = 0;         // 2 x multiply-adds
};

struct BlockSample {
  BlockShape shape;
  double seconds = 0;
};

class BlockCostModel {
 public:
  static constexpr size_t kFeatures = 5;
  using Coefficients = std::array<double, kFeatures>;

  // Used until a calibration exists: a core of ~40 GFLOP/s, 4 us per block, memory terms of a few
  // GB/s. Good enough to pick sensible block sizes; calibrate for the machine's own numbers.
  static BlockCostModel Default();
  // Least squares on relative error (each sample weighted by 1/time, so small blocks count as much
  // as big ones), coefficients kept >= 0 so no shape predicts a negative time. Needs at least
  // kFeatures samples with positive times.
  static Result<BlockCostModel> Fit(const std::vector<BlockSample>& samples);

  explicit BlockCostModel(Coefficients c, int samples = 0, double mean_rel_error = 0)
      : c_(c), samples_(samples), mean_rel_error_(mean_rel_error) {}

  // Predicted seconds on the calibration core; never below 1 ns.
  double PredictSeconds(const BlockShape& b) const;
  const Coefficients& coefficients() const { return c_; }
  int samples() const { return samples_; }
  double mean_rel_error() const { return mean_rel_error_; }
  // Mean |predicted - measured| / measured over `samples`.
  double MeanRelativeError(const std::vector<BlockSample>& samples) const;

  std::string ToJson() const;
  static Result<BlockCostModel> FromJson(const std::string& text);  // errors name the bad field
  Status Save(const std::string& path) const;
  static Result<BlockCostModel> Load(const std::string& path);

 private:
  Coefficients c_;
  int samples_ = 0;
  double mean_rel_error_ = 0;
};

// Where the calibrated model lives: $TUTTI_ASYMO_COST_MODEL, else $XDG_CACHE_HOME/tutti/ or
// ~/.cache/tutti/asymo_cost_model.json.
std::string DefaultCostModelPath();
// The calibrated model at DefaultCostModelPath(), or Default() when there is none (or it is bad).
// Loaded once per process.
const BlockCostModel& ProcessCostModel();

// Times single-core sgemm blocks over a grid of shapes typical of CNN layers and FC layers (conv
// lowered to GEMM: M = output pixels, N = output channels, K = input channels x kernel), on the
// calling thread, about `budget_s` in all.
std::vector<BlockSample> MeasureBlockSamples(double budget_s = 1.0);

// The extent (a multiple of `granule`, except that it never exceeds `extent`) to cut an operator's
// split dimension into. shape_of(b) describes a block of extent b. relative_speeds: the cores that
// will share the operator (any positive scale). Chooses the b that minimises the predicted
// makespan: all blocks' time spread over the cores' summed speed, plus one block's time as the tail
// (a list schedule ends at most one block after the average).
int64_t ChooseBlockExtent(const BlockCostModel& model, int64_t extent, int64_t granule,
                          const std::function<BlockShape(int64_t)>& shape_of,
                          const std::vector<double>& relative_speeds);

}  // namespace tutti::cpu::asymmetric
