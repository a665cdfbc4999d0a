#include "partition/model_analyzer.h"

#include <set>

namespace tutti {
namespace {

int64_t EstimatedBytes(const Value& v) {
  if (!v.info.shape) return 0;
  int64_t n = 1;
  for (const Dim& d : *v.info.shape) n *= d.known() ? d.value : 1;
  return n * static_cast<int64_t>(DataTypeSize(v.info.dtype));
}

}  // namespace

std::string CandidateSubgraph::Label() const {
  return end_unit - first_unit == 1 ? StrCat("unit ", first_unit) : StrCat("units ", first_unit, "-", end_unit - 1);
}

std::vector<NodeId> ModelAnalysis::NodesOf(int first, int end) const {
  std::vector<NodeId> nodes;
  for (int u = first; u < end; ++u)
    nodes.insert(nodes.end(), units_[static_cast<size_t>(u)].nodes.begin(), units_[static_cast<size_t>(u)].nodes.end());
  return nodes;
}

Result<ModelAnalysis> AnalyzeModel(const Graph& graph, const std::vector<NodeSupport>& processors,
                                   const AnalyzerOptions& options) {
  if (processors.empty()) return InvalidArgument("model analyzer: no processors");
  if (processors.size() > static_cast<size_t>(kMaxProcessors))
    return InvalidArgument("model analyzer: at most ", kMaxProcessors, " processors, got ", processors.size());
  TUTTI_ASSIGN_OR_RETURN(std::vector<NodeId> order, graph.TopologicalOrder());
  if (order.empty()) return InvalidArgument("model '", graph.name, "' has no nodes to run");

  ModelAnalysis a;
  a.processor_count_ = static_cast<int>(processors.size());
  a.full_support_ = (processors.size() == 64) ? ~ProcessorMask{0} : ProcessorBit(a.processor_count_) - 1;
  for (NodeId id : order) {
    const Node& n = graph.node(id);
    ProcessorMask mask = 0;
    for (size_t p = 0; p < processors.size(); ++p)
      if (processors[p](graph, n)) mask |= ProcessorBit(static_cast<int>(p));
    if (mask == 0) return Unimplemented("node ", NodeLabel(n), " (op ", n.op_type, ") can run on no processor");
    a.full_support_ &= mask;
    if (a.units_.empty() || a.units_.back().processors != mask) a.units_.push_back({{}, mask});
    a.units_.back().nodes.push_back(id);
  }

  const size_t u_count = a.units_.size();
  a.candidate_index_.assign((u_count + 1) * (u_count + 1), -1);
  for (size_t first = 0; first < u_count; ++first) {
    ProcessorMask mask = ~ProcessorMask{0};
    size_t nodes = 0;
    for (size_t end = first + 1; end <= u_count; ++end) {
      mask &= a.units_[end - 1].processors;
      nodes += a.units_[end - 1].nodes.size();
      if (mask == 0) break;  // wider runs only lose processors
      ProcessorMask allowed = mask;
      if (static_cast<int>(nodes) < options.min_subgraph_nodes && a.full_support_ != 0 && end - first < u_count)
        allowed &= a.full_support_;
      if (allowed == 0) continue;
      CandidateSubgraph c;
      c.first_unit = static_cast<int>(first);
      c.end_unit = static_cast<int>(end);
      c.processors = allowed;
      c.node_count = nodes;
      // Boundary inputs: values read by the run's nodes and produced outside it.
      std::set<ValueId> inside, read;
      for (size_t u = first; u < end; ++u)
        for (NodeId id : a.units_[u].nodes)
          for (ValueId v : graph.node(id).outputs) inside.insert(v);
      for (size_t u = first; u < end; ++u)
        for (NodeId id : a.units_[u].nodes)
          for (ValueId v : graph.node(id).inputs)
            if (v != kNoValue && !inside.count(v) && !graph.value(v).is_constant()) read.insert(v);
      for (ValueId v : read) c.input_bytes += EstimatedBytes(graph.value(v));
      a.candidate_index_[first * (u_count + 1) + end] = static_cast<int>(a.candidates_.size());
      a.candidates_.push_back(c);
    }
  }
  return a;
}

}  // namespace tutti
