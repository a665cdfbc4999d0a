#include "backends/cpu/constant_evaluator.h"

#include "backends/cpu/cpu_backend.h"

namespace tutti::cpu {
namespace {

// A one-node graph whose inputs are constants: compiled and run like any other graph, so the
// kernel sees constant inputs (and may pre-pack them) exactly as it would in a model.
Result<std::vector<Tensor>> EvaluateNode(const Graph& graph, const Node& node, std::span<const Tensor> inputs) {
  if (inputs.size() != node.inputs.size())
    return InvalidArgument(NodeLabel(node), ": ", inputs.size(), " input tensors for ", node.inputs.size(), " inputs");
  Graph g;
  for (const auto& [domain, version] : graph.opsets()) g.set_opset(domain, version);
  std::vector<ValueId> ins, outs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (node.inputs[i] == kNoValue || !inputs[i].defined()) { ins.push_back(kNoValue); continue; }
    ins.push_back(g.AddConstant(g.UniqueValueName(graph.value(node.inputs[i]).name), inputs[i]));
  }
  for (ValueId v : node.outputs) {
    if (v == kNoValue) { outs.push_back(kNoValue); continue; }
    ValueId o = g.AddValue(g.UniqueValueName(graph.value(v).name), graph.value(v).info);
    outs.push_back(o);
    g.AddOutput(o);
  }
  g.AddNode(node.op_type, ins, outs, node.attrs, node.name, node.domain);
  CpuBackend backend;
  if (!backend.SupportsNode(g, g.node(0)))
    return Unimplemented(NodeLabel(node), ": ", backend.UnsupportedReason(g, g.node(0)));
  CompileOptions options;
  options.threads = 1;
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<Executable> exe, backend.Compile(g, options));
  std::vector<Tensor> produced;
  TUTTI_RETURN_IF_ERROR(exe->Run({}, produced));
  std::vector<Tensor> results(node.outputs.size());
  size_t k = 0;
  for (size_t o = 0; o < node.outputs.size(); ++o)
    if (node.outputs[o] != kNoValue) results[o] = std::move(produced.at(k++));
  return results;
}

}  // namespace

NodeEvaluator CpuNodeEvaluator() { return &EvaluateNode; }

}  // namespace tutti::cpu
