// Bypasses nodes that copy their input: Identity (Dropout in inference becomes Identity at load,
// model/opset_normalize.h) and Cast to the dtype the input already has.
#include <algorithm>

#include "graph/passes/passes.h"

namespace tutti::passes {
namespace {

bool CopiesInput(const Graph& g, const Node& n) {
  if (!n.domain.empty() || !n.HasInput(0) || n.outputs.size() != 1 || n.outputs[0] == kNoValue) return false;
  if (n.op_type == "Identity") return true;
  if (n.op_type == "Cast") {
    const DataType in = g.value(n.inputs[0]).info.dtype;
    return in != DataType::kUndefined && n.HasAttr("to") && n.GetInt("to", 0) == static_cast<int64_t>(in);
  }
  return false;
}

bool IsGraphInput(const Graph& g, ValueId v) {
  return std::find(g.inputs().begin(), g.inputs().end(), v) != g.inputs().end();
}

}  // namespace

int EliminateIdentities(Graph& g, const std::set<std::string>& protected_names) {
  int removed = 0;
  for (size_t i = 0; i < g.node_count(); ++i) {
    const NodeId id = static_cast<NodeId>(i);
    const Node& n = g.node(id);
    if (n.removed || !CopiesInput(g, n)) continue;
    const ValueId in = n.inputs[0], out = n.outputs[0];
    if (protected_names.count(g.value(out).name) || protected_names.count(g.value(in).name)) continue;
    if (!g.IsGraphOutput(out)) {
      g.RemoveNode(id);
      g.ReplaceAllUses(out, in);
      ++removed;
      continue;
    }
    // The copy names a graph output: the output's name must survive, so the producer of the input
    // writes the output directly -- possible only when nothing else reads the input under its name.
    const Value& src = g.value(in);
    const NodeId producer = src.producer;
    if (producer == kNoNode || src.is_constant() || IsGraphInput(g, in) || g.IsGraphOutput(in) ||
        src.consumers.size() != 1)
      continue;
    g.RemoveNode(id);
    Node& p = g.node(producer);
    for (ValueId& o : p.outputs)
      if (o == in) o = out;
    g.value(in).producer = kNoNode;
    g.value(out).producer = producer;
    if (g.value(out).info.dtype == DataType::kUndefined) g.value(out).info = g.value(in).info;
    ++removed;
  }
  return removed;
}

}  // namespace tutti::passes
