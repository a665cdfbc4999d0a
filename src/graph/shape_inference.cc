#include "graph/shape_inference.h"

#include <algorithm>
#include <set>

#include "graph/shape_rules.h"

namespace tutti {
namespace {

using shape_rules::KnownValues;

bool IsShapeIntType(DataType t) { return t == DataType::kInt64 || t == DataType::kInt32; }

std::optional<KnownValues> ValuesOfConstant(const Tensor& t) {
  if (!IsShapeIntType(t.dtype()) || t.num_elements() > shape_rules::kMaxTrackedElements) return std::nullopt;
  KnownValues v;
  for (int64_t i = 0; i < t.num_elements(); ++i) v.push_back(shape_rules::SymInt::Of(t.ElementAsInt64(i)));
  return v;
}

// Combines what a rule computed with what was declared: computed known dims win (the declared
// ones may be stale or come from a fixed-batch export); declared knowledge fills the gaps.
std::optional<SymbolicShape> Merge(const std::optional<SymbolicShape>& computed,
                                   const std::optional<SymbolicShape>& declared) {
  if (!computed) return declared;
  if (!declared || declared->size() != computed->size()) return computed;
  SymbolicShape out = *computed;
  for (size_t i = 0; i < out.size(); ++i) {
    const Dim& d = (*declared)[i];
    if (out[i].known()) continue;
    if (d.known() || (out[i].symbol.empty() && !d.symbol.empty())) out[i] = d;
  }
  return out;
}

// Ops whose result is not a function of their inputs, or that hold subgraphs: never folded.
bool Foldable(const Node& n) {
  if (!n.domain.empty()) return false;
  if (n.op_type.rfind("Random", 0) == 0 || n.op_type == "Multinomial" || n.op_type == "Bernoulli") return false;
  if (n.op_type == "If" || n.op_type == "Loop" || n.op_type == "Scan") return false;
  for (const auto& [k, a] : n.attrs)
    if (std::holds_alternative<std::shared_ptr<Graph>>(a)) return false;
  return true;
}

class Propagator {
 public:
  // `eval` null: infer only. Otherwise also fold all-constant nodes within `policy`.
  Propagator(Graph& g, const NodeEvaluator* eval, FoldPolicy policy = {})
      : g_(g), eval_(eval), policy_(policy), known_(g.value_count()) {}

  int folded() const { return folded_; }

  Status Run() {
    for (size_t v = 0; v < g_.value_count(); ++v) {
      const Value& val = g_.value(static_cast<ValueId>(v));
      if (val.is_constant()) known_[v] = ValuesOfConstant(val.constant);
    }
    TUTTI_ASSIGN_OR_RETURN(std::vector<NodeId> order, g_.TopologicalOrder());
    for (NodeId id : order) {
      Status s = Visit(id);
      if (!s.ok()) return s.WithContext(NodeLabel(g_.node(id)));
    }
    return Status::Ok();
  }

 private:
  Status Visit(NodeId id) {
    const Node& n = g_.node(id);
    if (n.domain.empty()) {
      if (const shape_rules::Rule* rule = shape_rules::FindRule(n.op_type)) {
        std::vector<std::optional<KnownValues>> in_values;
        for (ValueId v : n.inputs) in_values.push_back(v == kNoValue ? std::nullopt : known_[static_cast<size_t>(v)]);
        shape_rules::Context ctx(g_, n, in_values);
        TUTTI_RETURN_IF_ERROR((*rule)(ctx));
        for (size_t o = 0; o < n.outputs.size(); ++o) {
          const ValueId v = n.outputs[o];
          if (v == kNoValue) continue;
          TensorInfo& info = g_.value(v).info;
          if (ctx.outputs[o].dtype != DataType::kUndefined) info.dtype = ctx.outputs[o].dtype;
          info.shape = Merge(ctx.outputs[o].shape, info.shape);
          if (ctx.output_values[o] && ctx.output_values[o]->size() <= static_cast<size_t>(shape_rules::kMaxTrackedElements))
            known_[static_cast<size_t>(v)] = std::move(ctx.output_values[o]);
        }
      }
    }
    if (eval_) return TryFold(id);
    return Status::Ok();
  }

  // Folds the node when every present output's contents are known numbers (shape arithmetic), or
  // when all its inputs are constants and the evaluator computes it into a small result.
  Status TryFold(NodeId id) {
    const Node& n = g_.node(id);
    if (!Foldable(n)) return Status::Ok();
    for (ValueId v : n.outputs)
      if (v != kNoValue && g_.IsGraphOutput(v)) return Status::Ok();  // backends expect outputs produced
    std::vector<Tensor> results(n.outputs.size());
    if (FromKnownValues(n, results)) return Replace(id, std::move(results));
    bool all_const = !n.inputs.empty();
    std::vector<Tensor> inputs;
    int64_t in_elems = 0;
    for (ValueId v : n.inputs) {
      if (v == kNoValue) { inputs.emplace_back(); continue; }
      if (!g_.value(v).is_constant()) { all_const = false; break; }
      inputs.push_back(g_.value(v).constant);
      in_elems += inputs.back().num_elements();
    }
    if (!all_const || !*eval_) return Status::Ok();
    const int64_t limit = policy_.allow_input_size ? std::max(policy_.max_output_elements, in_elems)
                                                   : policy_.max_output_elements;
    int64_t out_elems = 0;
    for (ValueId v : n.outputs) {
      if (v == kNoValue) continue;
      const auto& s = g_.value(v).info.shape;
      auto c = s ? ToConcrete(*s) : std::nullopt;
      if (c) out_elems += NumElements(*c);
      else if (policy_.require_known_size) return Status::Ok();
    }
    if (out_elems > limit) return Status::Ok();
    auto r = (*eval_)(g_, n, inputs);
    if (!r.ok() || r->size() != n.outputs.size()) return Status::Ok();  // left in place to run normally
    int64_t total = 0;
    for (size_t o = 0; o < r->size(); ++o) {
      if (n.outputs[o] == kNoValue) continue;
      if (!(*r)[o].defined()) return Status::Ok();
      total += (*r)[o].num_elements();
    }
    if (total > limit) return Status::Ok();
    return Replace(id, std::move(r).value());
  }

  bool FromKnownValues(const Node& n, std::vector<Tensor>& results) {
    for (size_t o = 0; o < n.outputs.size(); ++o) {
      const ValueId v = n.outputs[o];
      if (v == kNoValue) continue;
      const Value& val = g_.value(v);
      const auto& kv = known_[static_cast<size_t>(v)];
      if (!kv || !IsShapeIntType(val.info.dtype) || !val.info.shape) return false;
      auto shape = ToConcrete(*val.info.shape);
      if (!shape || NumElements(*shape) != static_cast<int64_t>(kv->size())) return false;
      auto t = Tensor::Allocate(val.info.dtype, *shape);
      if (!t.ok()) return false;
      for (size_t i = 0; i < kv->size(); ++i) {
        if (!(*kv)[i].known()) return false;
        if (val.info.dtype == DataType::kInt64) t->data<int64_t>()[i] = (*kv)[i].value;
        else t->data<int32_t>()[i] = static_cast<int32_t>((*kv)[i].value);
      }
      results[o] = std::move(t).value();
    }
    return true;
  }

  Status Replace(NodeId id, std::vector<Tensor> results) {
    const std::vector<ValueId> outs = g_.node(id).outputs;
    g_.RemoveNode(id);
    ++folded_;
    for (size_t o = 0; o < outs.size(); ++o) {
      if (outs[o] == kNoValue) continue;
      Value& v = g_.value(outs[o]);
      v.info = TensorInfo{results[o].dtype(), ToSymbolic(results[o].shape())};
      known_[static_cast<size_t>(outs[o])] = ValuesOfConstant(results[o]);
      v.constant = std::move(results[o]);
    }
    return Status::Ok();
  }

  Graph& g_;
  const NodeEvaluator* eval_;
  FoldPolicy policy_;
  int folded_ = 0;
  std::vector<std::optional<KnownValues>> known_;
};

void SubstituteSymbols(Graph& g, const std::map<std::string, int64_t>& bindings) {
  for (size_t id = 0; id < g.value_count(); ++id) {
    auto& shape = g.value(static_cast<ValueId>(id)).info.shape;
    if (!shape) continue;
    for (Dim& d : *shape) {
      auto it = d.symbol.empty() ? bindings.end() : bindings.find(d.symbol);
      if (it != bindings.end()) d = Dim::Known(it->second);
    }
  }
}

}  // namespace

Status InferShapes(Graph& g) { return Propagator(g, nullptr).Run(); }

Result<Graph> SpecializeShapes(const Graph& graph, const std::map<std::string, Shape>& input_shapes,
                               const NodeEvaluator& eval) {
  Graph g = graph;
  std::map<std::string, int64_t> bindings;
  std::set<std::string> seen;
  for (ValueId in : g.inputs()) {
    Value& v = g.value(in);
    auto it = input_shapes.find(v.name);
    if (it == input_shapes.end()) continue;
    seen.insert(v.name);
    const Shape& shape = it->second;
    for (int64_t d : shape)
      if (d < 0) return InvalidArgument("input '", v.name, "': negative dimension in ", ShapeToString(shape));
    if (v.info.shape) {
      const SymbolicShape& decl = *v.info.shape;
      if (decl.size() != shape.size())
        return InvalidArgument("input '", v.name, "' has shape ", ShapeToString(shape), ", the model expects ",
                               SymbolicShapeToString(decl));
      for (size_t d = 0; d < decl.size(); ++d) {
        if (decl[d].known() && decl[d].value != shape[d])
          return InvalidArgument("input '", v.name, "' has shape ", ShapeToString(shape), ", the model expects ",
                                 SymbolicShapeToString(decl));
        if (decl[d].symbol.empty()) continue;
        auto [b, inserted] = bindings.emplace(decl[d].symbol, shape[d]);
        if (!inserted && b->second != shape[d])
          return InvalidArgument("input '", v.name, "' sets '", decl[d].symbol, "' to ", shape[d],
                                 ", another input set it to ", b->second);
      }
    }
    v.info.shape = ToSymbolic(shape);
  }
  for (const auto& [name, shape] : input_shapes)
    if (!seen.count(name)) return InvalidArgument("the model has no input named '", name, "'");
  SubstituteSymbols(g, bindings);
  TUTTI_RETURN_IF_ERROR(Propagator(g, &eval, FoldPolicy{kSpecializeFoldLimit, false}).Run());
  g.Compact();
  return g;
}

Result<int> InferShapesAndFold(Graph& g, const NodeEvaluator& eval, FoldPolicy policy) {
  Propagator p(g, &eval, policy);
  TUTTI_RETURN_IF_ERROR(p.Run());
  return p.folded();
}

Result<std::map<std::string, Shape>> BatchInputShapes(const Graph& g, int64_t batch) {
  if (batch <= 0) return InvalidArgument("batch size must be positive, got ", batch);
  std::map<std::string, Shape> out;
  for (ValueId in : g.inputs()) {
    const Value& v = g.value(in);
    if (!v.info.shape) return InvalidArgument("input '", v.name, "' has no declared shape; give its shape explicitly");
    Shape s;
    for (size_t d = 0; d < v.info.shape->size(); ++d) {
      const Dim& dim = (*v.info.shape)[d];
      if (dim.known()) s.push_back(dim.value);
      else if (d == 0) s.push_back(batch);
      else
        return InvalidArgument("input '", v.name, "' has shape ", SymbolicShapeToString(*v.info.shape),
                               ": only its leading (batch) dim may be unknown to set it by batch size");
    }
    out[v.name] = std::move(s);
  }
  return out;
}

}  // namespace tutti
