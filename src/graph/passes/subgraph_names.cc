#include "graph/passes/passes.h"

namespace tutti::passes {
namespace {

void Collect(const Graph& g, std::set<std::string>& names) {
  for (size_t v = 0; v < g.value_count(); ++v) names.insert(g.value(static_cast<ValueId>(v)).name);
  for (size_t i = 0; i < g.node_count(); ++i)
    for (const auto& [key, attr] : g.node(static_cast<NodeId>(i)).attrs)
      if (const auto* sub = std::get_if<std::shared_ptr<Graph>>(&attr); sub && *sub) Collect(**sub, names);
}

}  // namespace

// Over-approximates (every name a subgraph mentions, not only those it reads from outside): the
// loader does not record outer-scope reads as node inputs, and protecting a few extra values only
// forgoes an optimisation.
std::set<std::string> NamesReadBySubgraphs(const Graph& g) {
  std::set<std::string> names;
  for (size_t i = 0; i < g.node_count(); ++i) {
    const Node& n = g.node(static_cast<NodeId>(i));
    if (n.removed) continue;
    for (const auto& [key, attr] : n.attrs)
      if (const auto* sub = std::get_if<std::shared_ptr<Graph>>(&attr); sub && *sub) Collect(**sub, names);
  }
  return names;
}

}  // namespace tutti::passes
