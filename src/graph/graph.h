// The graph IR every layer of tutti shares.
//
// Designed for what comes after loading:
//  * subgraphs: ExtractSubgraph() turns any connected set of nodes into a standalone Graph with its
//    own inputs (values produced outside the set) and outputs (values used outside it or graph
//    outputs), so the engine can place pieces of one model on different processors;
//  * several batch sizes at once: the loaded Graph keeps symbolic dims ("batch"); a backend compiles
//    a shape-specialised copy per batch size (see graph/shape_inference.h), the original is shared;
//  * spatial tiles: nodes keep attributes as plain data that a partitioner may rewrite (pads of the
//    first/last conv in a tile), and graph/receptive_field.h maps output rows to input rows.
// Nodes and values live in vectors addressed by integer ids; removed nodes are tombstoned until
// Compact(), so ids stay stable while passes run.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"

namespace tutti {

using ValueId = int32_t;
using NodeId = int32_t;
inline constexpr ValueId kNoValue = -1;  // an omitted optional input/output ("" in ONNX)
inline constexpr NodeId kNoNode = -1;

// One dimension: a known size, or a named symbol (ONNX dim_param, e.g. "batch"), or unknown.
struct Dim {
  int64_t value = -1;  // >= 0 when known
  std::string symbol;  // non-empty for a named symbolic dim
  bool known() const { return value >= 0; }
  static Dim Known(int64_t v) { return Dim{v, {}}; }
  static Dim Symbol(std::string s) { return Dim{-1, std::move(s)}; }
  bool operator==(const Dim&) const = default;
};
using SymbolicShape = std::vector<Dim>;

SymbolicShape ToSymbolic(const Shape& shape);
// The concrete shape if every dim is known.
std::optional<Shape> ToConcrete(const SymbolicShape& shape);
std::string SymbolicShapeToString(const SymbolicShape& shape);  // "[batch,3,224,224]"

struct TensorInfo {
  DataType dtype = DataType::kUndefined;
  std::optional<SymbolicShape> shape;  // nullopt: rank unknown
};

struct Value {
  std::string name;
  TensorInfo info;
  Tensor constant;  // defined() for initializers and folded constants
  NodeId producer = kNoNode;
  std::vector<NodeId> consumers;  // one entry per use (a node using it twice appears twice)

  bool is_constant() const { return constant.defined(); }
};

class Graph;
using AttrValue = std::variant<int64_t, float, std::string, std::vector<int64_t>, std::vector<float>,
                               std::vector<std::string>, Tensor, std::shared_ptr<Graph>>;

struct Node {
  std::string name;
  std::string op_type;
  std::string domain;  // "" for the default ONNX domain
  std::vector<ValueId> inputs;   // kNoValue for omitted optional inputs
  std::vector<ValueId> outputs;  // kNoValue for omitted optional outputs
  std::map<std::string, AttrValue> attrs;
  bool removed = false;  // tombstone, cleared by Graph::Compact()

  bool HasAttr(const std::string& key) const { return attrs.count(key) != 0; }
  int64_t GetInt(const std::string& key, int64_t dflt) const;
  float GetFloat(const std::string& key, float dflt) const;
  std::string GetString(const std::string& key, const std::string& dflt) const;
  std::vector<int64_t> GetInts(const std::string& key, std::vector<int64_t> dflt = {}) const;
  std::vector<float> GetFloats(const std::string& key, std::vector<float> dflt = {}) const;
  const Tensor* GetTensor(const std::string& key) const;  // null when absent
  // Present inputs (skipping kNoValue) count, and the i-th input if present.
  bool HasInput(size_t i) const { return i < inputs.size() && inputs[i] != kNoValue; }
};

class Graph {
 public:
  Graph() = default;

  // ---- building -------------------------------------------------------------------------------
  ValueId AddValue(std::string name, TensorInfo info = {});
  ValueId AddConstant(std::string name, Tensor tensor);
  ValueId AddInput(std::string name, TensorInfo info);
  void AddOutput(ValueId v) { outputs_.push_back(v); }
  NodeId AddNode(std::string op_type, std::vector<ValueId> inputs, std::vector<ValueId> outputs,
                 std::map<std::string, AttrValue> attrs = {}, std::string name = {}, std::string domain = {});
  // A name not yet used by any value, derived from `base`.
  std::string UniqueValueName(const std::string& base) const;

  // ---- access ---------------------------------------------------------------------------------
  const Node& node(NodeId id) const { return nodes_[static_cast<size_t>(id)]; }
  Node& node(NodeId id) { return nodes_[static_cast<size_t>(id)]; }
  const Value& value(ValueId id) const { return values_[static_cast<size_t>(id)]; }
  Value& value(ValueId id) { return values_[static_cast<size_t>(id)]; }
  size_t node_count() const { return nodes_.size(); }  // includes tombstones
  size_t value_count() const { return values_.size(); }
  size_t live_node_count() const;
  const std::vector<ValueId>& inputs() const { return inputs_; }    // non-constant graph inputs
  const std::vector<ValueId>& outputs() const { return outputs_; }
  std::vector<ValueId>& mutable_inputs() { return inputs_; }
  std::vector<ValueId>& mutable_outputs() { return outputs_; }
  std::optional<ValueId> FindValue(const std::string& name) const;
  bool IsGraphOutput(ValueId v) const;

  // Operator-set version per domain ("" = ai.onnx), from the model's opset_import.
  int64_t opset(const std::string& domain = "") const;
  void set_opset(const std::string& domain, int64_t version) { opsets_[domain] = version; }
  const std::map<std::string, int64_t>& opsets() const { return opsets_; }
  std::string name;  // model/graph name, for messages

  // ---- editing --------------------------------------------------------------------------------
  void RemoveNode(NodeId id);  // tombstones the node and unlinks it from its inputs' consumers
  // Every use of `from` (node inputs and graph outputs) now reads `to`.
  void ReplaceAllUses(ValueId from, ValueId to);
  void SetNodeInput(NodeId node, size_t index, ValueId v);
  // Drops tombstones and values nothing refers to; renumbers ids. Returns old->new value id map.
  std::vector<ValueId> Compact();

  // ---- analysis -------------------------------------------------------------------------------
  // Live nodes in an order where producers come before consumers. Fails on a cycle.
  Result<std::vector<NodeId>> TopologicalOrder() const;
  // Structural checks: ids in range, each value produced once, no cycles, outputs produced.
  Status Validate() const;

  // A standalone graph of the given nodes: values they read but do not produce become inputs
  // (constants stay constants, sharing storage), values they produce that are read by other nodes
  // or are graph outputs become outputs. Input/output order is deterministic (by value id).
  Result<Graph> ExtractSubgraph(std::span<const NodeId> nodes) const;

  // Content hash of structure, attributes and constant bytes (the profile-file key for a model).
  uint64_t Fingerprint() const;

 private:
  std::vector<Node> nodes_;
  std::vector<Value> values_;
  std::vector<ValueId> inputs_;
  std::vector<ValueId> outputs_;
  std::map<std::string, int64_t> opsets_;
  std::map<std::string, ValueId> by_name_;
};

// "Conv 'node_name'" -- how errors refer to a node.
std::string NodeLabel(const Node& n);

}  // namespace tutti
