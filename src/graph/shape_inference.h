// tutti's own shape and dtype inference over the Graph IR.
//
// Why our own, beside ONNX's: a backend compiles only graphs whose every shape is concrete, and a
// model is compiled once per batch size. SpecializeShapes binds the symbolic dims ("batch") to
// numbers, propagates shapes through every node, and folds the shape computations exporters emit
// (Shape -> Gather -> Unsqueeze -> Concat -> Reshape) into constants, so each value ends up with a
// concrete shape whenever the inputs are concrete.
//
// Small integer tensors (shape tensors) have their *contents* tracked too, symbolically: Shape of
// an input [batch,3,224,224] is the vector {batch,3,224,224}, which Gather/Concat/Slice/arithmetic
// carry along, so a Reshape fed by such a chain gets an exact (still symbolic) output shape.
//
// Operators without a rule leave their outputs as they were (unknown or declared); that is not
// an error. A clear inconsistency (MatMul inner dims 3 vs 4, broadcasting 3 against 5) is an
// InvalidArgument naming the node.
#pragma once

#include <map>
#include <string>

#include "core/status.h"
#include "graph/graph.h"
#include "graph/node_evaluator.h"

namespace tutti {

// Fills in dtype and shape of every value it can, in place. Shapes computed here replace declared
// ones where they are more precise; nothing is folded or removed.
Status InferShapes(Graph& g);

// A copy of `g` specialised to concrete input shapes: `input_shapes` maps input names to shapes
// (inputs not named keep their declared shapes; a symbol bound by one input, e.g. batch=8, binds
// it everywhere). Shape computations and other small all-constant nodes (at most
// kSpecializeFoldLimit elements out) are folded into constants; `eval` is used for the nodes the
// built-in shape arithmetic does not cover (may be empty). Larger constant subgraphs are left to
// the optimizer, which works on the shared, unspecialised graph. The result is compacted.
inline constexpr int64_t kSpecializeFoldLimit = 4096;
Result<Graph> SpecializeShapes(const Graph& g, const std::map<std::string, Shape>& input_shapes,
                               const NodeEvaluator& eval);

// How much constant folding may produce. A node is folded only when its outputs hold at most
// `max_output_elements` elements -- or, with `allow_input_size`, at most as many as its constant
// inputs hold (Transpose/Cast of a weight folds whatever its size; ConstantOfShape does not turn a
// few shape numbers into megabytes of stored constant).
// With `require_known_size`, a node is evaluated only when inference knows its output shapes, so
// the limit is checked before computing (a hostile Tile or Expand cannot make folding allocate).
struct FoldPolicy {
  int64_t max_output_elements = kSpecializeFoldLimit;
  bool allow_input_size = false;
  bool require_known_size = false;
};

// InferShapes, and every all-constant node (and every shape computation whose result is known
// numbers) within `policy` is evaluated with `eval` and becomes a constant. Nodes are tombstoned,
// not compacted. Returns how many nodes were folded. Used by the optimizer (graph/optimizer.h).
Result<int> InferShapesAndFold(Graph& g, const NodeEvaluator& eval, FoldPolicy policy);

// Binds symbolic input dims to `batch` where the input's leading dim is symbolic: a convenience for
// the common "batch N" call. Returns the map SpecializeShapes takes.
Result<std::map<std::string, Shape>> BatchInputShapes(const Graph& g, int64_t batch);

}  // namespace tutti
