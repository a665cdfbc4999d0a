// The optimizer's passes (graph/optimizer.h says what each does and in which order they run).
// Each rewrites the graph in place by tombstoning nodes (no Compact) and returns how many nodes it
// removed or rewrote, so the optimizer can repeat them until none changes anything.
#pragma once

#include <set>
#include <string>

#include "graph/graph.h"

namespace tutti::passes {

// Names of outer-graph values that subgraph attributes (If/Loop/Scan bodies) may read by name.
// Passes never rename, bypass or drop these.
std::set<std::string> NamesReadBySubgraphs(const Graph& g);

int EliminateIdentities(Graph& g, const std::set<std::string>& protected_names);
int FoldConvBatchNorm(Graph& g);
int EliminateDeadNodes(Graph& g, const std::set<std::string>& protected_names);

}  // namespace tutti::passes
