#include "runtime/compiled_model.h"

#include "runtime/input_check.h"

namespace tutti {

CompiledModel::CompiledModel(std::shared_ptr<const Graph> graph, Backend& backend, CompileOptions options)
    : graph_(std::move(graph)), backend_(backend), options_(std::move(options)) {}

Result<Executable*> CompiledModel::Get(std::span<const Shape> input_shapes) {
  std::vector<Shape> key(input_shapes.begin(), input_shapes.end());
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second.get();
  TUTTI_ASSIGN_OR_RETURN(Graph specialised, SpecializeForInputs(*graph_, input_shapes));
  auto exe = backend_.Compile(specialised, options_);
  if (!exe.ok()) return exe.status().WithContext(StrCat("compiling for ", backend_.name()));
  Executable* raw = exe->get();
  cache_.emplace(std::move(key), std::move(exe).value());
  return raw;
}

size_t CompiledModel::compiled_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cache_.size();
}

Result<Graph> SpecializeForInputs(const Graph& graph, std::span<const Shape> input_shapes) {
  if (input_shapes.size() != graph.inputs().size())
    return InvalidArgument("the model takes ", graph.inputs().size(), " inputs (", QuotedInputNames(graph), "), got ",
                           input_shapes.size(), " shapes");
  // TEMPORARY until graph/shape_inference.h lands: bind symbols from the inputs and substitute
  // them everywhere. Enough for graphs whose intermediate shapes are already declared.
  SymbolBindings bindings;
  Graph g = graph;
  for (size_t i = 0; i < input_shapes.size(); ++i) {
    Value& v = g.value(graph.inputs()[i]);
    if (v.info.shape) {
      for (size_t d = 0; d < v.info.shape->size() && d < input_shapes[i].size(); ++d)
        if (!(*v.info.shape)[d].symbol.empty()) bindings[(*v.info.shape)[d].symbol] = input_shapes[i][d];
    }
    v.info.shape = ToSymbolic(input_shapes[i]);
  }
  for (size_t id = 0; id < g.value_count(); ++id) {
    Value& v = g.value(static_cast<ValueId>(id));
    if (!v.info.shape) continue;
    for (Dim& d : *v.info.shape) {
      auto it = d.symbol.empty() ? bindings.end() : bindings.find(d.symbol);
      if (it != bindings.end()) d = Dim::Known(it->second);
    }
  }
  return g;
}

}  // namespace tutti
