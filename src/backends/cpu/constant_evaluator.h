// The NodeEvaluator (graph/node_evaluator.h) that constant folding and shape specialisation use:
// it runs one node through the CPU backend's kernels, so folding computes exactly what running the
// node would, with no second implementation of any operator.
#pragma once

#include "graph/node_evaluator.h"

namespace tutti::cpu {

// Evaluates a node on host tensors with the registered CPU kernels (one thread). Nodes the CPU
// backend does not support give an error, which folding callers treat as "leave it in place".
NodeEvaluator CpuNodeEvaluator();

}  // namespace tutti::cpu
