// The cost predictor of Legion (ICCD'21, the seed's "Efficient Fused-layer Cost Estimation"):
// profile every unit alone, once per device, at the input size that device's share gives it, and
// predict any fused group from those tables instead of measuring it.
//
//   Set[d][u]  time to send device d its input band of unit u (un-fused)
//   Get[d][u]  time to fetch its output band back
//   Run[d][u]  time to compute unit u on that band
//
// Run is compute only: a remote worker times the band on inputs it makes itself (no activations
// cross the network while profiling). Set and Get follow from the band's bytes and the device's
// link, measured once with a few echo round trips (latency + time per byte each way); a local
// device has no transfer.
//   Alpha      how much fusing grows a band: rows a unit computes inside a fused group over the rows
//              it computes alone. Not measured -- the receptive field gives it exactly, per group.
//
// A group [i, j) on device d costs  Set[d][i]*alpha_in + sum_k Run[d][k]*alpha_k + Get[d][j-1]
// (the output band of a group is the same with or without fusion), and the group as a whole the
// slowest device's cost. The whole model on one device d, which runs as one call, costs
// Set[d][0]*alpha_in + sum_k Run[d][k]*alpha_k + HeadRun[d] + OutputGet[d]: no band is fetched
// between the body and the head. Tables are JSON, keyed by the model's fingerprint and the device
// list.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "partition/spatial.h"
#include "partition/spatial_executor.h"

namespace tutti::spatial {

struct CostTables {
  uint64_t model_fingerprint = 0;
  std::vector<std::string> devices;
  std::vector<double> speeds;                   // relative device speeds the shares came from
  std::vector<std::string> units;               // labels, for humans reading the file
  std::vector<std::vector<double>> set_us;      // [device][unit]
  std::vector<std::vector<double>> get_us;
  std::vector<std::vector<double>> run_us;
  std::vector<std::vector<int64_t>> out_rows;   // the profiled band per [device][unit]
  std::vector<double> head_us;                  // [device]: the head whole, transfers included
  std::vector<double> head_run_us;              // [device]: the head's compute alone (0: no head)
  std::vector<double> output_get_us;            // [device]: fetching the model's output
  std::vector<double> link_up_mbit_s;           // [device]: the link as measured (0: local device)
  std::vector<double> link_down_mbit_s;
  double profile_s = 0;                         // wall time spent profiling
  // Where profile_s went: shipping the model's weights to the remote devices (any plan needs them
  // there; the full search finds them there already), link echoes, the equal-share pass that finds
  // the speeds (0 when they were given), the pass at those speeds' shares, the head.
  struct Phases {
    double upload_s = 0, link_s = 0, speed_pass_s = 0, share_pass_s = 0, head_s = 0;
  } phases;

  // Zeroed Set/Get/Run/out_rows matrices for `devices` x `units`.
  void ZeroMatrices(size_t devices, size_t units);
  std::string ToJson() const;
  static Result<CostTables> FromJson(const std::string& text);
  Status Save(const std::string& path) const;
  static Result<CostTables> Load(const std::string& path);
};

struct ProfileOptions {
  int warmup = 1;
  int iters = 3;
  // Device speeds to size the profiled bands; empty: found by a first pass with equal shares.
  std::vector<double> speeds;
};

// Profiles every splittable unit alone on every device (and the head on every device).
// `g` has concrete shapes on the units' inputs.
Result<CostTables> ProfileUnits(const Graph& g, const std::vector<SpatialDevice>& devices,
                                const ProfileOptions& options);

class CostPredictor {
 public:
  CostPredictor(const Graph& g, std::vector<Unit> units, CostTables tables);
  // Predicted time of units [first, last) fused, with output rows `rows` per device (0: sits out).
  Result<double> GroupUs(size_t first, size_t last, const std::vector<int64_t>& rows) const;
  // Shares proportional to the tables' speeds, and the cheaper of that and "fastest device alone".
  std::vector<int64_t> BestShares(size_t first, size_t last, double* us) const;
  double HeadUs(int device) const;
  int FastestDevice() const;
  // The whole model on `device` as one call (see the formula above).
  Result<double> SingleDeviceUs(int device) const;
  // The device whose SingleDeviceUs is least, and that cost.
  Result<std::pair<int, double>> BestSingleDevice() const;
  const CostTables& tables() const { return tables_; }
  const std::vector<Unit>& units() const { return units_; }

 private:
  // Device d's time for its band `rows[d]` of units [first, last): Set, Run and (with `fetch`) Get.
  Result<double> BandUs(size_t first, size_t last, const std::vector<int64_t>& rows, size_t d, bool fetch) const;
  // Run[d][u] scaled to `rows` output rows.
  double RunUs(size_t d, size_t u, int64_t rows) const;
  // Input rows of unit u's profiled band on device d.
  Result<int64_t> ProfiledInputRows(size_t u, size_t d) const;

  const Graph& g_;
  std::vector<Unit> units_;
  CostTables tables_;
};

// Measures a group for real: median wall time of running units [first, last) with `rows` on the
// devices (bands sent, computed in parallel, gathered).
Result<double> MeasureGroupUs(const Graph& g, const std::vector<SpatialDevice>& devices, size_t first, size_t last,
                              const std::vector<int64_t>& rows, int warmup, int iters);

// A random input for unit `u`'s input value (its shape must be concrete).
Result<Tensor> UnitInput(const Graph& g, const Unit& u);

}  // namespace tutti::spatial
