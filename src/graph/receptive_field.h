// Receptive fields along the height of NCHW tensors: which input rows a chain or block of layers
// needs to produce a given range of output rows (issue 7, after Legion's fused-layer tiles).
//
// Spatial partitioning cuts a group of layers' work into row bands, one per device. A band of
// output rows needs a taller band of input rows -- the halo -- and the halo grows with every
// window (conv/pool) layer in the group. This file answers, for any set of layers inside one
// "unit chain" (a chain, or a residual / concatenation block treated as a unit), the row range of
// every value, handling stride, padding and dilation where a band meets the tensor's real border.
//
// Ranges are half-open [begin, end) in the value's own row coordinates. Where a value feeds
// several consumers (a skip connection), it is computed over the hull of what they need; each
// consumer then crops its own rows (see partition/spatial_tile.cc), so no negative pads arise.
#pragma once

#include <map>
#include <span>
#include <string>

#include "core/status.h"
#include "graph/graph.h"

namespace tutti {

struct RowRange {
  int64_t begin = 0;
  int64_t end = 0;  // exclusive
  int64_t size() const { return end - begin; }
  bool empty() const { return end <= begin; }
  bool operator==(const RowRange&) const = default;
};
RowRange Hull(const RowRange& a, const RowRange& b);  // an empty range is the identity
std::string RowRangeToString(const RowRange& r);    // "[3,17)"

// How one layer maps rows. Point-wise layers (activations, BatchNormalization, Add/Concat of
// same-height tensors) are the window kernel=1, stride=1, no pads.
struct HeightWindow {
  int64_t kernel = 1;
  int64_t stride = 1;
  int64_t dilation = 1;
  int64_t pad_top = 0;
  int64_t pad_bottom = 0;
  bool ceil_mode = false;  // pools: the last partial window counts
  bool is_window() const { return kernel != 1 || stride != 1 || pad_top != 0 || pad_bottom != 0; }
  int64_t extent() const { return (kernel - 1) * dilation + 1; }
  // Output height for an input of `in_h` rows (the ONNX formula, with auto_pad already resolved).
  int64_t OutputHeight(int64_t in_h) const;
  // Input rows output rows `out` read (clamped to the real input [0, in_h)).
  RowRange InputRows(const RowRange& out, int64_t in_h) const;
};

// The height window of `node`, whose (first) data input has `in_h` rows; auto_pad is resolved
// against in_h. Fails, naming the node, for layers that cannot run on row bands (Flatten, Gemm,
// GlobalAveragePool, Reshape, ... and constants that vary along the height).
Result<HeightWindow> HeightWindowOf(const Graph& g, const Node& node, int64_t in_h);

// Whether `node` can run on row bands at all (a quick check without heights; HeightWindowOf
// gives the reason when not).
bool IsRowSplittable(const Graph& g, const Node& node);

// Heights of every non-constant value produced by `nodes` (topological order) when `input` has
// `in_h` rows. Fails for nodes that cannot run on row bands, or that read a value other than
// `input` which is not produced inside the set.
Result<std::map<ValueId, int64_t>> PropagateHeights(const Graph& g, std::span<const NodeId> nodes, ValueId input,
                                                    int64_t in_h);

// Row range of every value in the set (input included) needed to compute rows `out_rows` of
// `output`. `heights` comes from PropagateHeights. A value read by several nodes gets the hull.
Result<std::map<ValueId, RowRange>> RequiredRows(const Graph& g, std::span<const NodeId> nodes, ValueId output,
                                                 RowRange out_rows, const std::map<ValueId, int64_t>& heights);

}  // namespace tutti
