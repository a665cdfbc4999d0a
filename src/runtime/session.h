// A Session runs one model on one processor: the path `tutti run`/`tutti bench` and library users
// take, and the unit the multi-processor engine builds on (one Session-like CompiledModel per
// processor over one shared Graph).
//
//   auto s = Session::Load("resnet50.onnx", {.device = "cpu"});
//   auto outputs = (*s)->Run(inputs);   // compiled for these input shapes on first use
//
// Thread-safety: Run may be called from several threads; calls are serialised by an internal
// mutex (an Executable holds per-run state). For parallel runs, use one Session per processor
// or thread: they may share a Graph through FromGraph(shared_ptr).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "core/status.h"
#include "core/tensor.h"
#include "graph/graph.h"
#include "runtime/compiled_model.h"

namespace tutti {

struct SessionOptions {
  std::string device = "cpu";  // as CreateBackend takes it: "cpu", "cuda", "cuda:1"
  CompileOptions compile;
  bool optimize = true;  // run graph/optimizer.h passes (constant folding, Conv+BN folding, identities, dead nodes)
};

// What a graph input or output looks like, for users and tools.
struct TensorSpec {
  std::string name;
  DataType dtype = DataType::kUndefined;
  std::optional<SymbolicShape> shape;  // nullopt: the model does not say
};

class Session {
 public:
  // Loads an ONNX model (model/onnx_loader.h); errors name the file and what is wrong with it.
  static Result<std::unique_ptr<Session>> Load(const std::string& model_path, SessionOptions options = {});
  // Takes a graph built or loaded elsewhere. Optimises it (if asked) and checks that the backend
  // supports every node, so an unknown operator is reported here, not at the first Run.
  static Result<std::unique_ptr<Session>> FromGraph(Graph graph, SessionOptions options = {});

  const Graph& graph() const { return compiled_->graph(); }  // after optimisation
  std::shared_ptr<const Graph> shared_graph() const { return graph_; }
  Backend& backend() const { return *backend_; }
  const SessionOptions& options() const { return options_; }
  std::vector<TensorSpec> input_specs() const;
  std::vector<TensorSpec> output_specs() const;

  // One tensor per graph input, in graph-input order; returns the graph outputs in order.
  // Input errors name the input, expected and actual dtype/shape.
  Result<std::vector<Tensor>> Run(std::span<const Tensor> inputs);
  // As above, writing into `outputs` in place where entries already have the right shape/dtype.
  Status Run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs);

  // Compiles for these input shapes now (so a benchmark's first timed run does not compile).
  Status Prepare(std::span<const Shape> input_shapes);
  // Statistics of the executable for these input shapes (compiling it if needed; zeroes on error).
  ExecutableStats stats(std::span<const Shape> input_shapes) const;
  size_t compiled_count() const { return compiled_->compiled_count(); }

 private:
  Session(std::shared_ptr<const Graph> graph, std::unique_ptr<Backend> backend, SessionOptions options);

  std::shared_ptr<const Graph> graph_;
  std::unique_ptr<Backend> backend_;
  SessionOptions options_;
  std::unique_ptr<CompiledModel> compiled_;
  mutable std::mutex run_mu_;  // one Run at a time: Executables keep per-run state
};

// The graph preparation a Session does: validate, then optimise when `optimize` is set.
Status PrepareGraph(Graph& graph, bool optimize);

// The first node `backend` cannot run, as "Conv 'conv1' (op Conv) is not supported by the cpu
// backend"; Ok when it can run them all.
Status CheckBackendSupports(const Graph& graph, const Backend& backend);

}  // namespace tutti
