#include "graph/optimizer.h"

#include "graph/passes/passes.h"
#include "graph/shape_inference.h"

namespace tutti {

Result<OptimizerStats> OptimizeGraph(Graph& g, const OptimizerOptions& options) {
  OptimizerStats stats;
  const std::set<std::string> protected_names = passes::NamesReadBySubgraphs(g);
  const bool fold = options.fold_constants && options.evaluator;
  // Each pass can expose work for another (a bypassed Identity leaves a constant chain to fold, a
  // folded Shape leaves its producer dead); a few rounds reach the fixed point on real models.
  constexpr int kMaxRounds = 4;
  for (int round = 0; round < kMaxRounds; ++round) {
    const int before = stats.total();
    if (options.eliminate_identities) stats.removed_identities += passes::EliminateIdentities(g, protected_names);
    if (fold) {
      auto folded = InferShapesAndFold(g, options.evaluator, FoldPolicy{options.fold_max_new_elements, true, true});
      if (!folded.ok()) return folded.status().WithContext("constant folding");
      stats.folded_nodes += *folded;
    }
    if (options.fold_conv_batchnorm) stats.folded_batchnorms += passes::FoldConvBatchNorm(g);
    if (options.eliminate_dead_nodes) stats.removed_dead_nodes += passes::EliminateDeadNodes(g, protected_names);
    if (stats.total() == before) break;
  }
  g.Compact();
  TUTTI_RETURN_IF_ERROR(g.Validate().WithContext("after optimisation"));
  return stats;
}

}  // namespace tutti
