// The graph-level optimizer: rewrites a loaded Graph into an equivalent, cheaper one before any
// backend sees it, so every backend (CPU, CUDA, remote) runs the same simplified graph. It works on
// the shared, unspecialised graph (symbolic batch); what depends on the batch size is folded later,
// per batch, by SpecializeShapes (graph/shape_inference.h).
//
// Passes, in order, repeated until nothing changes (graph/passes/passes.h has one entry each):
//   constant folding      every node whose inputs are all constants, and every shape computation
//                         whose result is already known (Shape of a value with a fixed shape,
//                         Gather/Concat/Range/ConstantOfShape over such numbers), becomes a constant,
//                         computed by the NodeEvaluator (the CPU kernels: one implementation);
//   identity elimination  Identity (and Dropout in inference, which the loader turns into
//                         Identity) and Cast to the type it already has are bypassed;
//   Conv+BatchNorm        a BatchNormalization that alone reads a Conv's output is folded into the
//                         Conv's weights and bias;
//   dead-node elimination nodes none of whose outputs is read or is a graph output are removed.
// Activation / residual-sum fusion is not here: which activations a kernel can apply as a post-op
// is a property of the kernel library, so each backend fuses what it can (backends/cpu/fusion.h).
//
// Graph outputs keep their names; nodes and values not touched keep their names. Values read by
// name from inside subgraph attributes (If/Loop bodies) are never renamed or removed.
#pragma once

#include "core/status.h"
#include "graph/graph.h"
#include "graph/node_evaluator.h"

namespace tutti {

struct OptimizerOptions {
  NodeEvaluator evaluator;        // computes folded nodes; empty: no constant folding
  bool fold_constants = true;
  bool eliminate_identities = true;
  bool fold_conv_batchnorm = true;
  bool eliminate_dead_nodes = true;
  // Folding never stores a constant bigger than this many elements unless the node's constant
  // inputs were already that big (see FoldPolicy).
  int64_t fold_max_new_elements = int64_t{1} << 16;
};

// What the optimizer did, for `tutti info` and tests.
struct OptimizerStats {
  int folded_nodes = 0;
  int removed_identities = 0;
  int folded_batchnorms = 0;
  int removed_dead_nodes = 0;
  int total() const { return folded_nodes + removed_identities + folded_batchnorms + removed_dead_nodes; }
};

// Optimises `g` in place and compacts it (value and node ids change). Errors name the node.
Result<OptimizerStats> OptimizeGraph(Graph& g, const OptimizerOptions& options);

}  // namespace tutti
