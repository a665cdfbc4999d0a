// Backend-internal fusion (CompileOptions::enable_fusion): folds an activation that follows a
// Conv / ConvTranspose / Gemm / MatMul, and a residual Add that follows a Conv, into that node's
// fused attributes (see ops/onednn_util.h for the convention), so oneDNN applies them as post-ops
// while the result is still in cache. Nodes a graph optimiser already fused are left as they are.
#pragma once

#include "graph/graph.h"

namespace tutti::cpu {

// Rewrites `graph` in place (tombstoning the absorbed nodes); returns how many nodes it absorbed.
int FuseActivationsAndSums(Graph& graph);

}  // namespace tutti::cpu
