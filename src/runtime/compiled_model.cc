#include "runtime/compiled_model.h"

#include "backends/cpu/constant_evaluator.h"
#include "graph/shape_inference.h"
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
  std::map<std::string, Shape> by_name;
  for (size_t i = 0; i < input_shapes.size(); ++i) by_name[graph.value(graph.inputs()[i]).name] = input_shapes[i];
  return SpecializeShapes(graph, by_name, cpu::CpuNodeEvaluator());
}

}  // namespace tutti
