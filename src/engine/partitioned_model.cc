#include "engine/partitioned_model.h"

namespace tutti {

Result<std::unique_ptr<PartitionedModel>> PartitionedModel::Create(std::string name, Graph graph,
                                                                   std::vector<const Processor*> processors,
                                                                   const AnalyzerOptions& options) {
  TUTTI_RETURN_IF_ERROR(graph.Validate().WithContext("model '" + name + "'"));
  std::vector<NodeSupport> support;
  for (const Processor* p : processors)
    support.push_back([p](const Graph& g, const Node& n) { return p->SupportsNode(g, n); });
  auto analysis = AnalyzeModel(graph, support, options);
  if (!analysis.ok()) return analysis.status().WithContext("model '" + name + "'");
  std::unique_ptr<PartitionedModel> m(new PartitionedModel());
  m->name_ = std::move(name);
  m->fingerprint_ = graph.Fingerprint();
  m->graph_ = std::make_shared<const Graph>(std::move(graph));
  m->analysis_ = std::move(analysis).value();
  m->processors_ = std::move(processors);
  return m;
}

Result<const PartitionedModel::CandidateGraph*> PartitionedModel::Candidate(int candidate) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = candidates_.find(candidate);
  if (it != candidates_.end()) return it->second.get();
  auto cg = std::make_unique<CandidateGraph>();
  if (candidate == analysis_.whole_model_candidate()) {
    cg->graph = graph_;
    cg->inputs = graph_->inputs();
    cg->outputs = graph_->outputs();
  } else {
    const CandidateSubgraph& c = analysis_.candidates()[static_cast<size_t>(candidate)];
    auto sub = graph_->ExtractSubgraph(analysis_.NodesOf(c.first_unit, c.end_unit));
    if (!sub.ok()) return sub.status().WithContext(StrCat("model '", name_, "' ", c.Label()));
    // ExtractSubgraph keeps value names, which are unique in the source graph.
    for (ValueId v : sub->inputs()) cg->inputs.push_back(*graph_->FindValue(sub->value(v).name));
    for (ValueId v : sub->outputs()) cg->outputs.push_back(*graph_->FindValue(sub->value(v).name));
    cg->graph = std::make_shared<const Graph>(std::move(sub).value());
  }
  const CandidateGraph* raw = cg.get();
  candidates_.emplace(candidate, std::move(cg));
  return raw;
}

Result<CompiledModel*> PartitionedModel::Compiled(int candidate, int processor) {
  TUTTI_ASSIGN_OR_RETURN(const CandidateGraph* cg, Candidate(candidate));
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = compiled_[{candidate, processor}];
  if (!slot) {
    const Processor& p = *processors_[static_cast<size_t>(processor)];
    slot = std::make_unique<CompiledModel>(cg->graph, p.backend(), p.compile_options());
  }
  return slot.get();
}

Status PartitionedModel::Run(int candidate, int processor, std::span<const Tensor> inputs,
                             std::vector<Tensor>& outputs) {
  TUTTI_ASSIGN_OR_RETURN(CompiledModel * compiled, Compiled(candidate, processor));
  std::vector<Shape> shapes;
  shapes.reserve(inputs.size());
  for (const Tensor& t : inputs) shapes.push_back(t.shape());
  TUTTI_ASSIGN_OR_RETURN(Executable * exe, compiled->Get(shapes));
  return exe->Run(inputs, outputs);
}

Result<std::vector<Tensor>> PartitionedModel::ExampleInputs() const {
  std::vector<Tensor> inputs;
  for (ValueId id : graph_->inputs()) {
    const Value& v = graph_->value(id);
    if (!v.info.shape) return InvalidArgument("model '", name_, "': input '", v.name, "' has no declared shape to profile with");
    Shape shape;
    for (const Dim& d : *v.info.shape) shape.push_back(d.known() ? d.value : 1);
    TUTTI_ASSIGN_OR_RETURN(Tensor t, Tensor::Zeros(v.info.dtype, shape));
    inputs.push_back(std::move(t));
  }
  return inputs;
}

}  // namespace tutti
