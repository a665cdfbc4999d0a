// Computing one node on constant inputs, for constant folding and shape specialisation. The graph
// layer only declares the signature; a backend provides it (backends/cpu/constant_evaluator.h), so
// graph/ does not depend on any backend.
#pragma once

#include <functional>
#include <span>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "graph/graph.h"

namespace tutti {

// Evaluates `node` of `graph` on `inputs` (one per node input, undefined for an omitted optional
// input) and returns one tensor per node output (undefined for omitted outputs). An error means
// "cannot evaluate this node here" and callers simply leave the node in place.
using NodeEvaluator =
    std::function<Result<std::vector<Tensor>>(const Graph& graph, const Node& node, std::span<const Tensor> inputs)>;

}  // namespace tutti
