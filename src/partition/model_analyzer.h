// The model analyzer of Band (seed 000, "Subgraph Partitioning"): split a model into unit
// subgraphs -- maximal runs of nodes, in topological order, that the same set of processors can
// run -- and offer every contiguous run of units that some processor supports as a merged
// candidate subgraph. A job then runs as one candidate on a capable processor, or as a chain of
// candidates across processors with the unsupported part on a fallback processor.
//
// Candidates are contiguous in one fixed topological order, so each is a valid standalone graph:
// its inputs come from earlier units (or the model's inputs) and its outputs feed later ones.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "graph/graph.h"

namespace tutti {

using ProcessorMask = uint64_t;  // bit p set: processor p; at most 64 processors per engine
inline constexpr int kMaxProcessors = 64;
inline ProcessorMask ProcessorBit(int p) { return ProcessorMask{1} << p; }

struct UnitSubgraph {
  std::vector<NodeId> nodes;   // in topological order
  ProcessorMask processors = 0;  // which processors can run every node of the unit
};

struct CandidateSubgraph {
  int first_unit = 0;
  int end_unit = 0;              // exclusive
  ProcessorMask processors = 0;  // where this candidate may run
  size_t node_count = 0;
  // Bytes of non-constant tensors read from outside the candidate (symbolic dims counted as 1):
  // what a processor in another memory domain must receive before it starts.
  int64_t input_bytes = 0;
  std::string Label() const;   // "units 0-2" / "unit 3"
};

struct AnalyzerOptions {
  // Candidates with fewer nodes run only on processors that support the whole model (Band's
  // minimum subgraph size: a tiny piece on an accelerator costs more in hand-over than it saves).
  int min_subgraph_nodes = 1;
};

// Whether processor p can run a node.
using NodeSupport = std::function<bool(const Graph&, const Node&)>;

class ModelAnalysis {
 public:
  const std::vector<UnitSubgraph>& units() const { return units_; }
  const std::vector<CandidateSubgraph>& candidates() const { return candidates_; }
  int unit_count() const { return static_cast<int>(units_.size()); }
  int processor_count() const { return processor_count_; }
  // Index of the candidate covering units [first, end), or -1 when no processor may run it.
  int CandidateIndex(int first, int end) const {
    return candidate_index_[static_cast<size_t>(first) * (units_.size() + 1) + static_cast<size_t>(end)];
  }
  int whole_model_candidate() const { return CandidateIndex(0, unit_count()); }
  // Processors that can run the whole model alone (the fallback processors).
  ProcessorMask full_support() const { return full_support_; }
  // Nodes of units [first, end), in topological order.
  std::vector<NodeId> NodesOf(int first, int end) const;

 private:
  friend Result<ModelAnalysis> AnalyzeModel(const Graph&, const std::vector<NodeSupport>&, const AnalyzerOptions&);
  std::vector<UnitSubgraph> units_;
  std::vector<CandidateSubgraph> candidates_;
  std::vector<int> candidate_index_;  // (unit_count+1)^2, -1 = none
  ProcessorMask full_support_ = 0;
  int processor_count_ = 0;
};

// Fails, naming the node, when some node runs on no processor.
Result<ModelAnalysis> AnalyzeModel(const Graph& graph, const std::vector<NodeSupport>& processors,
                                   const AnalyzerOptions& options = {});

// Cost of handing a tensor of `bytes` between memory domains (host <-> a GPU, host <-> remote).
// Processors in one domain share memory: no copy, no cost.
struct TransferModel {
  double bytes_per_us = 10e3;  // ~10 GB/s, a PCIe 3/4 x16 copy of host memory
  double fixed_us = 10;        // launch/synchronisation per hand-over
  double CostUs(int64_t bytes, bool same_domain) const {
    return same_domain || bytes <= 0 ? 0.0 : fixed_us + static_cast<double>(bytes) / bytes_per_us;
  }
};

}  // namespace tutti
