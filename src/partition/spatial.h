// Spatial partitioning with fused layers (issue 7, after Legion, ICCD'21).
//
// A model is cut into *units* at values every path goes through: a plain layer is a unit, and so
// is a residual or concatenation block as a whole (the seed's weak spot: its layer chain could not
// hold a skip connection; a block as a unit can, and its inner values get their own row ranges).
// Consecutive row-splittable units are fused into *groups*; each group's output rows are shared
// among devices in proportion to their speed, each device computes its rows from the input rows
// plus the halo the group's receptive field needs, and the coordinator gathers the group's output
// before re-splitting it for the next group. The first unit that cannot run on row bands starts
// the *head* (global pooling, classifier), which runs whole on one device.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "backends/backend.h"
#include "graph/graph.h"
#include "graph/receptive_field.h"

namespace tutti::spatial {

struct Unit {
  std::vector<NodeId> nodes;  // topological order
  ValueId input = kNoValue;   // the one non-constant value the unit reads from outside
  ValueId output = kNoValue;  // the one value it hands on
  bool splittable = false;
  int64_t in_h = 0, out_h = 0;  // rows (splittable units)
  std::string label;            // "conv1..relu1" for plans and logs
};

// Units of a shape-specialised graph with one non-constant 4-D input and one output. Units up to
// the first non-splittable one are splittable; the rest form the head.
Result<std::vector<Unit>> FindUnits(const Graph& g);

// Runs the splittable units once, whole, on `backend` and records the shape of every unit's input
// and output in `g`: profiling and remote tiles need them, and a model whose intermediate shapes
// were not inferred gets them this way.
Status AnnotateUnitShapes(Graph& g, Backend& backend);

// Units [first, last) fused into one group; rows[d] output rows for device d (0: d sits out).
struct Group {
  size_t first = 0, last = 0;
  std::vector<int64_t> rows;
};

struct SpatialPlan {
  std::vector<Group> groups;   // cover the splittable units in order
  size_t head_first = 0;       // units [head_first, end) run whole on head_device
  int head_device = 0;
  double predicted_us = 0;     // from the cost predictor, 0 when not predicted
};

// The device that runs everything in `plan` (every group's rows and the head), or -1 when the plan
// uses several. The executor runs such a plan as one call of the whole model on that device.
int SoleDevice(const SpatialPlan& plan);

// `rows` split into contiguous shares proportional to `speeds` (largest remainders; a device of
// speed 0 gets 0 rows). Every share may be as small as one row.
std::vector<int64_t> ProportionalShares(int64_t rows, std::span<const double> speeds);
// Row range of device d's share.
RowRange ShareRange(std::span<const int64_t> rows, size_t d);

// Output rows `out_rows` of units [first, last) as a standalone graph: its input is the rows of
// units[first].input that the receptive field needs (`in_rows` on return), window layers get pads
// adjusted to the band (0 inside the tensor, the original pads at its real borders), and values
// read by several layers are cropped per reader. Shapes are set on the tile's input and output.
struct Tile {
  Graph graph;
  RowRange in_rows;
  RowRange out_rows;
};
Result<Tile> BuildTile(const Graph& g, std::span<const Unit> units, size_t first, size_t last, RowRange out_rows);

// The head (units [first, end)) as a standalone graph.
Result<Graph> BuildHead(const Graph& g, std::span<const Unit> units, size_t first);

// Rows [r.begin, r.end) of an NCHW tensor (a copy: rows are not outermost).
Result<Tensor> SliceRows(const Tensor& t, RowRange r);
// Writes `part` into rows starting at `row` of `whole` (same N, C, W).
Status PasteRows(const Tensor& part, int64_t row, Tensor& whole);

std::string DescribePlan(const SpatialPlan& plan, std::span<const Unit> units,
                         std::span<const std::string> device_names);

}  // namespace tutti::spatial
