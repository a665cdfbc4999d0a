#include "runtime/input_check.h"

namespace tutti {
namespace {

std::string QuotedNames(const Graph& graph, const std::vector<ValueId>& ids) {
  std::string s;
  for (ValueId v : ids) s += (s.empty() ? "'" : ", '") + graph.value(v).name + "'";
  return s.empty() ? "none" : s;
}

}  // namespace

std::string QuotedInputNames(const Graph& graph) { return QuotedNames(graph, graph.inputs()); }
std::string QuotedOutputNames(const Graph& graph) { return QuotedNames(graph, graph.outputs()); }

Result<SymbolBindings> CheckInputs(const Graph& graph, std::span<const Tensor> inputs) {
  const auto& ids = graph.inputs();
  if (inputs.size() != ids.size())
    return InvalidArgument("the model takes ", ids.size(), " input", ids.size() == 1 ? "" : "s", " (",
                           QuotedInputNames(graph), "), got ", inputs.size());
  SymbolBindings bindings;
  std::map<std::string, std::string> bound_by;  // symbol -> input that fixed it, for the message
  for (size_t i = 0; i < ids.size(); ++i) {
    const Value& v = graph.value(ids[i]);
    const Tensor& t = inputs[i];
    if (!t.defined()) return InvalidArgument("input '", v.name, "' is missing");
    if (v.info.dtype != DataType::kUndefined && t.dtype() != v.info.dtype)
      return InvalidArgument("input '", v.name, "' has type ", DataTypeName(t.dtype()), ", the model expects ",
                             DataTypeName(v.info.dtype));
    if (!v.info.shape) continue;
    const SymbolicShape& want = *v.info.shape;
    auto mismatch = [&](const std::string& why) {
      return InvalidArgument("input '", v.name, "' has shape ", ShapeToString(t.shape()), ", the model expects ",
                             SymbolicShapeToString(want), why);
    };
    if (want.size() != t.shape().size())
      return mismatch(StrCat(" (rank ", want.size(), ", got rank ", t.shape().size(), ")"));
    for (size_t d = 0; d < want.size(); ++d) {
      const int64_t got = t.shape()[d];
      if (want[d].known()) {
        if (want[d].value != got) return mismatch(StrCat(" (dim ", d, " must be ", want[d].value, ")"));
      } else if (!want[d].symbol.empty()) {
        auto [it, fresh] = bindings.emplace(want[d].symbol, got);
        if (fresh) {
          bound_by[want[d].symbol] = v.name;
        } else if (it->second != got) {
          return mismatch(StrCat(" ('", want[d].symbol, "' is ", it->second, " in input '", bound_by[want[d].symbol],
                                 "')"));
        }
      }
    }
  }
  return bindings;
}

}  // namespace tutti
