#include "graph/passes/passes.h"

namespace tutti::passes {

// Reverse topological order, so a chain that only fed a removed node goes in one sweep.
int EliminateDeadNodes(Graph& g, const std::set<std::string>& protected_names) {
  auto order = g.TopologicalOrder();
  if (!order.ok()) return 0;
  int removed = 0;
  for (auto it = order->rbegin(); it != order->rend(); ++it) {
    const Node& n = g.node(*it);
    bool used = false;
    for (ValueId v : n.outputs) {
      if (v == kNoValue) continue;
      const Value& val = g.value(v);
      if (!val.consumers.empty() || g.IsGraphOutput(v) || protected_names.count(val.name)) used = true;
    }
    if (used) continue;
    g.RemoveNode(*it);
    ++removed;
  }
  return removed;
}

}  // namespace tutti::passes
