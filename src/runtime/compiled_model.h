// One model on one backend, compiled lazily once per input-shape signature.
//
// The loaded Graph keeps its symbolic dims ("batch") and is shared read-only; each distinct set of
// input shapes gets a shape-specialised copy (graph/shape_inference.h) compiled by the backend, and
// the Executable is cached. This is how one model serves several batch sizes at once: the engine
// asks for batch 8 on the GPU and batch 3 on the CPU from the same Graph.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "backends/backend.h"
#include "core/status.h"
#include "graph/graph.h"

namespace tutti {

class CompiledModel {
 public:
  // `backend` must outlive this object.
  CompiledModel(std::shared_ptr<const Graph> graph, Backend& backend, CompileOptions options);

  const Graph& graph() const { return *graph_; }
  Backend& backend() const { return backend_; }
  const CompileOptions& options() const { return options_; }

  // The executable for inputs of these shapes (one per graph input, in order), compiling it on
  // first use. Thread-safe: concurrent callers with a new signature compile it once. The returned
  // Executable lives as long as this object; it is not re-entrant, so callers that run it from
  // several threads must serialise those runs (Session does).
  Result<Executable*> Get(std::span<const Shape> input_shapes);

  // How many signatures have been compiled (tests check the cache; tools report it).
  size_t compiled_count() const;

 private:
  std::shared_ptr<const Graph> graph_;
  Backend& backend_;
  CompileOptions options_;
  mutable std::mutex mu_;  // guards cache_
  std::map<std::vector<Shape>, std::unique_ptr<Executable>> cache_;
};

// A copy of `graph` with its inputs fixed to `input_shapes` and every shape inferred from them:
// what a backend's Compile needs. Errors name the input or node whose shape does not work out.
Result<Graph> SpecializeForInputs(const Graph& graph, std::span<const Shape> input_shapes);

}  // namespace tutti
