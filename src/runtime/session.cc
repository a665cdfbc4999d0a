#include "runtime/session.h"

#include "backends/cpu/constant_evaluator.h"
#include "backends/cpu/cpu_backend.h"
#include "graph/optimizer.h"
#include "model/onnx_loader.h"
#include "runtime/input_check.h"

namespace tutti {
namespace {

std::vector<TensorSpec> Specs(const Graph& g, const std::vector<ValueId>& ids) {
  std::vector<TensorSpec> specs;
  for (ValueId id : ids) {
    const Value& v = g.value(id);
    specs.push_back({v.name, v.info.dtype, v.info.shape});
  }
  return specs;
}

}  // namespace

Status PrepareGraph(Graph& graph, bool optimize) {
  TUTTI_RETURN_IF_ERROR(graph.Validate());
  if (!optimize) return Status::Ok();
  // Folding computes with the CPU kernels whatever the target backend: a folded constant is data,
  // and one implementation of each operator keeps every backend's results identical.
  OptimizerOptions options;
  options.evaluator = cpu::CpuNodeEvaluator();
  return OptimizeGraph(graph, options).status();
}

Status CheckBackendSupports(const Graph& graph, const Backend& backend) {
  TUTTI_ASSIGN_OR_RETURN(std::vector<NodeId> order, graph.TopologicalOrder());
  for (NodeId id : order) {
    const Node& n = graph.node(id);
    if (backend.SupportsNode(graph, n)) continue;
    std::string why = backend.UnsupportedReason(graph, n);
    if (why.empty()) why = "operator " + n.op_type + " is not supported";
    return Unimplemented("node ", NodeLabel(n), ": ", why, " (", backend.name(), " backend)");
  }
  return Status::Ok();
}

Session::Session(std::shared_ptr<const Graph> graph, std::unique_ptr<Backend> backend, SessionOptions options)
    : graph_(std::move(graph)), backend_(std::move(backend)), options_(std::move(options)) {
  compiled_ = std::make_unique<CompiledModel>(graph_, *backend_, options_.compile);
}

Result<std::unique_ptr<Session>> Session::FromGraph(Graph graph, SessionOptions options) {
  TUTTI_RETURN_IF_ERROR(PrepareGraph(graph, options.optimize));
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<Backend> backend, CreateBackend(options.device));
  TUTTI_RETURN_IF_ERROR(CheckBackendSupports(graph, *backend));
  auto shared = std::make_shared<const Graph>(std::move(graph));
  return std::unique_ptr<Session>(new Session(std::move(shared), std::move(backend), std::move(options)));
}

Result<std::unique_ptr<Session>> Session::Load(const std::string& model_path, SessionOptions options) {
  TUTTI_ASSIGN_OR_RETURN(Graph graph, LoadOnnxModel(model_path));
  return FromGraph(std::move(graph), std::move(options));
}

std::vector<TensorSpec> Session::input_specs() const { return Specs(graph(), graph().inputs()); }
std::vector<TensorSpec> Session::output_specs() const { return Specs(graph(), graph().outputs()); }

Status Session::Run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs) {
  TUTTI_RETURN_IF_ERROR(CheckInputs(graph(), inputs).status());
  std::vector<Shape> shapes;
  for (const Tensor& t : inputs) shapes.push_back(t.shape());
  TUTTI_ASSIGN_OR_RETURN(Executable * exe, compiled_->Get(shapes));
  std::lock_guard<std::mutex> lock(run_mu_);
  return exe->Run(inputs, outputs);
}

Result<std::vector<Tensor>> Session::Run(std::span<const Tensor> inputs) {
  std::vector<Tensor> outputs;
  TUTTI_RETURN_IF_ERROR(Run(inputs, outputs));
  return outputs;
}

Status Session::Prepare(std::span<const Shape> input_shapes) { return compiled_->Get(input_shapes).status(); }

ExecutableStats Session::stats(std::span<const Shape> input_shapes) const {
  auto exe = compiled_->Get(input_shapes);
  return exe.ok() ? (*exe)->stats() : ExecutableStats{};
}

}  // namespace tutti
