// Per-operator shape/dtype rules used by graph/shape_inference.cc (internal to graph/).
// One rule per operator (or family), registered by op type in shape_rules*.cc.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "graph/graph.h"

namespace tutti::shape_rules {

// One element of a tracked integer tensor: a number (of any sign: -1 in a Reshape target is a
// number, not an unknown dim), a named symbol ("batch"), or unknown.
struct SymInt {
  int64_t value = 0;
  bool is_known = false;
  std::string symbol;
  bool known() const { return is_known; }
  static SymInt Of(int64_t v) { return SymInt{v, true, {}}; }
  static SymInt FromDim(const Dim& d) { return d.known() ? Of(d.value) : SymInt{0, false, d.symbol}; }
  // As a dimension; a negative number is no dimension (unknown).
  Dim ToDim() const { return is_known ? (value >= 0 ? Dim::Known(value) : Dim{}) : Dim{-1, symbol}; }
  bool operator==(const SymInt&) const = default;
};
// The contents of a small integer tensor, element by element, possibly symbolic ({batch, 3, 224}).
using KnownValues = std::vector<SymInt>;
// Integer tensors up to this many elements have their contents tracked.
inline constexpr int64_t kMaxTrackedElements = 1024;

class Context {
 public:
  Context(const Graph& g, const Node& n, const std::vector<std::optional<KnownValues>>& input_values)
      : graph(g), node(n), input_values_(input_values), outputs(n.outputs.size()), output_values(n.outputs.size()) {}

  const Graph& graph;
  const Node& node;

  size_t input_count() const { return node.inputs.size(); }
  bool has(size_t i) const { return node.HasInput(i); }
  const Value* value(size_t i) const { return has(i) ? &graph.value(node.inputs[i]) : nullptr; }
  DataType dtype(size_t i) const { return has(i) ? value(i)->info.dtype : DataType::kUndefined; }
  // Null when the input is absent or its rank is unknown.
  const SymbolicShape* shape(size_t i) const {
    return has(i) && value(i)->info.shape ? &*value(i)->info.shape : nullptr;
  }
  std::optional<int64_t> rank(size_t i) const {
    const SymbolicShape* s = shape(i);
    return s ? std::optional<int64_t>(static_cast<int64_t>(s->size())) : std::nullopt;
  }
  // Known contents of input i (constants and propagated shape values), possibly symbolic.
  const KnownValues* values(size_t i) const {
    return i < input_values_.size() && input_values_[i] ? &*input_values_[i] : nullptr;
  }
  // Contents of input i when every element is a known number.
  std::optional<std::vector<int64_t>> ints(size_t i) const;
  const Tensor* constant(size_t i) const { return has(i) && value(i)->is_constant() ? &value(i)->constant : nullptr; }

  void Set(size_t o, DataType dt, std::optional<SymbolicShape> s) {
    if (o < outputs.size()) outputs[o] = TensorInfo{dt, std::move(s)};
  }
  void SetValues(size_t o, KnownValues v) {
    if (o < output_values.size()) output_values[o] = std::move(v);
  }

  std::vector<TensorInfo> outputs;                      // filled by the rule
  std::vector<std::optional<KnownValues>> output_values;  // optional, for shape tensors

 private:
  const std::vector<std::optional<KnownValues>>& input_values_;
};

using Rule = std::function<Status(Context&)>;

// Null when no rule exists for this (default-domain) operator.
const Rule* FindRule(const std::string& op_type);

// Helpers shared by the rule files.
// Numpy-style broadcast of two shapes; an error when two known dims differ and neither is 1.
Result<SymbolicShape> Broadcast(const SymbolicShape& a, const SymbolicShape& b);
// Normalises a possibly negative axis into [0, rank); an error naming the axis when out of range.
Result<int64_t> NormalizeAxis(int64_t axis, int64_t rank);
Dim Mul(const Dim& a, const Dim& b);

// Registration: TUTTI_SHAPE_RULE(RuleFunction, "OpA", "OpB", ...)
struct RuleRegistrar {
  RuleRegistrar(Rule rule, std::initializer_list<const char*> ops);
};

}  // namespace tutti::shape_rules

#define TUTTI_SHAPE_RULE_CONCAT_INNER(a, b) a##b
#define TUTTI_SHAPE_RULE_CONCAT(a, b) TUTTI_SHAPE_RULE_CONCAT_INNER(a, b)
#define TUTTI_SHAPE_RULE(fn, ...) \
  static ::tutti::shape_rules::RuleRegistrar TUTTI_SHAPE_RULE_CONCAT(tutti_shape_rule_, __COUNTER__)(fn, {__VA_ARGS__})
