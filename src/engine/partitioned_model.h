// A registered model as the engine runs it: the graph, the model analyzer's units and candidate
// subgraphs, and each candidate compiled lazily per processor (and per input-shape signature, by
// CompiledModel). Candidate graphs are extracted once and shared by every processor.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "engine/processor.h"
#include "graph/graph.h"
#include "partition/batch_shares.h"
#include "partition/batch_split.h"
#include "partition/model_analyzer.h"
#include "runtime/compiled_model.h"

namespace tutti {

class PartitionedModel {
 public:
  // `processors` must outlive the model.
  static Result<std::unique_ptr<PartitionedModel>> Create(std::string name, Graph graph,
                                                          std::vector<const Processor*> processors,
                                                          const AnalyzerOptions& options);

  const std::string& name() const { return name_; }
  const Graph& graph() const { return *graph_; }
  const ModelAnalysis& analysis() const { return analysis_; }
  uint64_t fingerprint() const { return fingerprint_; }
  int id = -1;  // engine model id (and latency-estimator table)
  // Split requests: the whole model's batch table per processor (empty: none yet), guarded by the
  // engine's mutex; and the output shapes per input-shape signature.
  std::vector<BatchProfileTable> batch_tables;
  BatchOutputShapes output_shapes;

  // A candidate as a standalone graph, with where its inputs come from and its outputs go in the
  // full graph. The whole-model candidate is the model's own graph (same input/output order).
  struct CandidateGraph {
    std::shared_ptr<const Graph> graph;
    std::vector<ValueId> inputs;   // full-graph value per candidate input
    std::vector<ValueId> outputs;  // full-graph value per candidate output
  };
  Result<const CandidateGraph*> Candidate(int candidate);

  // Runs `candidate` on `processor`. Not re-entrant per (candidate, processor): the engine runs a
  // processor's stages on its one worker thread.
  Status Run(int candidate, int processor, std::span<const Tensor> inputs, std::vector<Tensor>& outputs);

  // Inputs for profiling: zeros with every symbolic dim bound to 1 (batch 1).
  Result<std::vector<Tensor>> ExampleInputs() const;

 private:
  PartitionedModel() = default;
  Result<CompiledModel*> Compiled(int candidate, int processor);

  std::string name_;
  std::shared_ptr<const Graph> graph_;
  ModelAnalysis analysis_;
  uint64_t fingerprint_ = 0;
  std::vector<const Processor*> processors_;
  std::mutex mu_;  // guards the two lazily filled maps
  std::map<int, std::unique_ptr<CandidateGraph>> candidates_;
  std::map<std::pair<int, int>, std::unique_ptr<CompiledModel>> compiled_;
};

}  // namespace tutti
