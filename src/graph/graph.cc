#include "graph/graph.h"

#include <algorithm>
#include <cstring>
#include <set>

namespace tutti {

SymbolicShape ToSymbolic(const Shape& shape) {
  SymbolicShape s;
  s.reserve(shape.size());
  for (int64_t d : shape) s.push_back(Dim::Known(d));
  return s;
}

std::optional<Shape> ToConcrete(const SymbolicShape& shape) {
  Shape s;
  s.reserve(shape.size());
  for (const Dim& d : shape) {
    if (!d.known()) return std::nullopt;
    s.push_back(d.value);
  }
  return s;
}

std::string SymbolicShapeToString(const SymbolicShape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += shape[i].known() ? std::to_string(shape[i].value) : (shape[i].symbol.empty() ? "?" : shape[i].symbol);
  }
  return s + "]";
}

// ---- Node ---------------------------------------------------------------------------------------

int64_t Node::GetInt(const std::string& key, int64_t dflt) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return dflt;
  if (auto* v = std::get_if<int64_t>(&it->second)) return *v;
  if (auto* f = std::get_if<float>(&it->second)) return static_cast<int64_t>(*f);
  return dflt;
}

float Node::GetFloat(const std::string& key, float dflt) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return dflt;
  if (auto* v = std::get_if<float>(&it->second)) return *v;
  if (auto* i = std::get_if<int64_t>(&it->second)) return static_cast<float>(*i);
  return dflt;
}

std::string Node::GetString(const std::string& key, const std::string& dflt) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return dflt;
  if (auto* v = std::get_if<std::string>(&it->second)) return *v;
  return dflt;
}

std::vector<int64_t> Node::GetInts(const std::string& key, std::vector<int64_t> dflt) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return dflt;
  if (auto* v = std::get_if<std::vector<int64_t>>(&it->second)) return *v;
  if (auto* i = std::get_if<int64_t>(&it->second)) return {*i};
  return dflt;
}

std::vector<float> Node::GetFloats(const std::string& key, std::vector<float> dflt) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return dflt;
  if (auto* v = std::get_if<std::vector<float>>(&it->second)) return *v;
  if (auto* f = std::get_if<float>(&it->second)) return {*f};
  return dflt;
}

const Tensor* Node::GetTensor(const std::string& key) const {
  auto it = attrs.find(key);
  if (it == attrs.end()) return nullptr;
  return std::get_if<Tensor>(&it->second);
}

std::string NodeLabel(const Node& n) {
  return n.name.empty() ? n.op_type + " node" : n.op_type + " '" + n.name + "'";
}

// ---- Graph: building ----------------------------------------------------------------------------

ValueId Graph::AddValue(std::string name, TensorInfo info) {
  ValueId id = static_cast<ValueId>(values_.size());
  if (name.empty()) name = UniqueValueName("v");
  by_name_[name] = id;
  values_.push_back(Value{std::move(name), std::move(info), Tensor(), kNoNode, {}});
  return id;
}

ValueId Graph::AddConstant(std::string name, Tensor tensor) {
  TensorInfo info{tensor.dtype(), ToSymbolic(tensor.shape())};
  ValueId id = AddValue(std::move(name), std::move(info));
  values_[static_cast<size_t>(id)].constant = std::move(tensor);
  return id;
}

ValueId Graph::AddInput(std::string name, TensorInfo info) {
  ValueId id = AddValue(std::move(name), std::move(info));
  inputs_.push_back(id);
  return id;
}

NodeId Graph::AddNode(std::string op_type, std::vector<ValueId> inputs, std::vector<ValueId> outputs,
                      std::map<std::string, AttrValue> attrs, std::string name, std::string domain) {
  NodeId id = static_cast<NodeId>(nodes_.size());
  for (ValueId v : inputs)
    if (v != kNoValue) values_[static_cast<size_t>(v)].consumers.push_back(id);
  for (ValueId v : outputs)
    if (v != kNoValue) values_[static_cast<size_t>(v)].producer = id;
  nodes_.push_back(Node{std::move(name), std::move(op_type), std::move(domain), std::move(inputs),
                        std::move(outputs), std::move(attrs), false});
  return id;
}

std::string Graph::UniqueValueName(const std::string& base) const {
  if (!by_name_.count(base)) return base;
  for (size_t i = values_.size();; ++i) {
    std::string n = base + "_" + std::to_string(i);
    if (!by_name_.count(n)) return n;
  }
}

// ---- Graph: access ------------------------------------------------------------------------------

size_t Graph::live_node_count() const {
  return static_cast<size_t>(std::count_if(nodes_.begin(), nodes_.end(), [](const Node& n) { return !n.removed; }));
}

std::optional<ValueId> Graph::FindValue(const std::string& name) const {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return std::nullopt;
  return it->second;
}

bool Graph::IsGraphOutput(ValueId v) const {
  return std::find(outputs_.begin(), outputs_.end(), v) != outputs_.end();
}

int64_t Graph::opset(const std::string& domain) const {
  auto it = opsets_.find(domain);
  return it == opsets_.end() ? 0 : it->second;
}

// ---- Graph: editing -----------------------------------------------------------------------------

void Graph::RemoveNode(NodeId id) {
  Node& n = nodes_[static_cast<size_t>(id)];
  if (n.removed) return;
  for (ValueId v : n.inputs) {
    if (v == kNoValue) continue;
    auto& c = values_[static_cast<size_t>(v)].consumers;
    auto it = std::find(c.begin(), c.end(), id);
    if (it != c.end()) c.erase(it);
  }
  for (ValueId v : n.outputs)
    if (v != kNoValue && values_[static_cast<size_t>(v)].producer == id) values_[static_cast<size_t>(v)].producer = kNoNode;
  n.removed = true;
}

void Graph::ReplaceAllUses(ValueId from, ValueId to) {
  if (from == to) return;
  std::vector<NodeId> users = values_[static_cast<size_t>(from)].consumers;
  for (NodeId u : users) {
    Node& n = nodes_[static_cast<size_t>(u)];
    for (size_t i = 0; i < n.inputs.size(); ++i)
      if (n.inputs[i] == from) SetNodeInput(u, i, to);
  }
  for (ValueId& o : outputs_)
    if (o == from) o = to;
}

void Graph::SetNodeInput(NodeId node, size_t index, ValueId v) {
  Node& n = nodes_[static_cast<size_t>(node)];
  ValueId old = n.inputs[index];
  if (old != kNoValue) {
    auto& c = values_[static_cast<size_t>(old)].consumers;
    auto it = std::find(c.begin(), c.end(), node);
    if (it != c.end()) c.erase(it);
  }
  n.inputs[index] = v;
  if (v != kNoValue) values_[static_cast<size_t>(v)].consumers.push_back(node);
}

std::vector<ValueId> Graph::Compact() {
  std::vector<char> used(values_.size(), 0);
  for (const Node& n : nodes_) {
    if (n.removed) continue;
    for (ValueId v : n.inputs) if (v != kNoValue) used[static_cast<size_t>(v)] = 1;
    for (ValueId v : n.outputs) if (v != kNoValue) used[static_cast<size_t>(v)] = 1;
  }
  for (ValueId v : inputs_) used[static_cast<size_t>(v)] = 1;
  for (ValueId v : outputs_) used[static_cast<size_t>(v)] = 1;

  std::vector<ValueId> remap(values_.size(), kNoValue);
  std::vector<Value> values;
  for (size_t i = 0; i < values_.size(); ++i) {
    if (!used[i]) continue;
    remap[i] = static_cast<ValueId>(values.size());
    values.push_back(std::move(values_[i]));
  }
  std::vector<NodeId> node_remap(nodes_.size(), kNoNode);
  std::vector<Node> nodes;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].removed) continue;
    node_remap[i] = static_cast<NodeId>(nodes.size());
    nodes.push_back(std::move(nodes_[i]));
  }
  auto map_value = [&](ValueId v) { return v == kNoValue ? kNoValue : remap[static_cast<size_t>(v)]; };
  for (Node& n : nodes) {
    for (ValueId& v : n.inputs) v = map_value(v);
    for (ValueId& v : n.outputs) v = map_value(v);
  }
  for (Value& v : values) {
    v.producer = v.producer == kNoNode ? kNoNode : node_remap[static_cast<size_t>(v.producer)];
    std::vector<NodeId> c;
    for (NodeId u : v.consumers)
      if (node_remap[static_cast<size_t>(u)] != kNoNode) c.push_back(node_remap[static_cast<size_t>(u)]);
    v.consumers = std::move(c);
  }
  for (ValueId& v : inputs_) v = map_value(v);
  for (ValueId& v : outputs_) v = map_value(v);
  nodes_ = std::move(nodes);
  values_ = std::move(values);
  by_name_.clear();
  for (size_t i = 0; i < values_.size(); ++i) by_name_[values_[i].name] = static_cast<ValueId>(i);
  return remap;
}

// ---- Graph: analysis ----------------------------------------------------------------------------

Result<std::vector<NodeId>> Graph::TopologicalOrder() const {
  // Kahn's algorithm; ties broken by node id so the order is stable and close to the file's.
  std::vector<int> pending(nodes_.size(), 0);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].removed) continue;
    for (ValueId v : nodes_[i].inputs) {
      if (v == kNoValue) continue;
      NodeId p = values_[static_cast<size_t>(v)].producer;
      if (p != kNoNode && !nodes_[static_cast<size_t>(p)].removed) ++pending[i];
    }
  }
  std::set<NodeId> ready;
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (!nodes_[i].removed && pending[i] == 0) ready.insert(static_cast<NodeId>(i));
  std::vector<NodeId> order;
  while (!ready.empty()) {
    NodeId n = *ready.begin();
    ready.erase(ready.begin());
    order.push_back(n);
    for (ValueId v : nodes_[static_cast<size_t>(n)].outputs) {
      if (v == kNoValue) continue;
      for (NodeId c : values_[static_cast<size_t>(v)].consumers)
        if (--pending[static_cast<size_t>(c)] == 0) ready.insert(c);
    }
  }
  if (order.size() != live_node_count()) return InvalidArgument("graph '", name, "' has a cycle");
  return order;
}

Status Graph::Validate() const {
  std::vector<int> produced(values_.size(), 0);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    if (n.removed) continue;
    for (ValueId v : n.inputs)
      if (v != kNoValue && (v < 0 || static_cast<size_t>(v) >= values_.size()))
        return Internal(NodeLabel(n), ": input id out of range");
    for (ValueId v : n.outputs) {
      if (v == kNoValue) continue;
      if (v < 0 || static_cast<size_t>(v) >= values_.size()) return Internal(NodeLabel(n), ": output id out of range");
      if (++produced[static_cast<size_t>(v)] > 1)
        return InvalidArgument(NodeLabel(n), ": tensor '", values_[static_cast<size_t>(v)].name, "' is produced twice");
      if (values_[static_cast<size_t>(v)].is_constant())
        return InvalidArgument(NodeLabel(n), ": output '", values_[static_cast<size_t>(v)].name, "' is also an initializer");
    }
  }
  std::vector<char> is_input(values_.size(), 0);
  for (ValueId v : inputs_) is_input[static_cast<size_t>(v)] = 1;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    if (n.removed) continue;
    for (ValueId v : n.inputs) {
      if (v == kNoValue) continue;
      const Value& val = values_[static_cast<size_t>(v)];
      if (!produced[static_cast<size_t>(v)] && !val.is_constant() && !is_input[static_cast<size_t>(v)])
        return InvalidArgument(NodeLabel(n), ": input '", val.name, "' is not produced by any node, initializer or graph input");
    }
  }
  for (ValueId v : outputs_) {
    const Value& val = values_[static_cast<size_t>(v)];
    if (!produced[static_cast<size_t>(v)] && !val.is_constant() && !is_input[static_cast<size_t>(v)])
      return InvalidArgument("graph output '", val.name, "' is not produced by any node");
  }
  auto order = TopologicalOrder();
  if (!order.ok()) return order.status();
  return Status::Ok();
}

Result<Graph> Graph::ExtractSubgraph(std::span<const NodeId> node_ids) const {
  std::vector<char> in_set(nodes_.size(), 0);
  for (NodeId n : node_ids) {
    if (n < 0 || static_cast<size_t>(n) >= nodes_.size() || nodes_[static_cast<size_t>(n)].removed)
      return InvalidArgument("ExtractSubgraph: node id ", n, " is not a live node");
    in_set[static_cast<size_t>(n)] = 1;
  }
  Graph sub;
  sub.name = name;
  sub.opsets_ = opsets_;
  std::vector<ValueId> map(values_.size(), kNoValue);
  std::set<ValueId> boundary_inputs, boundary_outputs;
  for (NodeId n : node_ids) {
    for (ValueId v : nodes_[static_cast<size_t>(n)].inputs) {
      if (v == kNoValue) continue;
      const Value& val = values_[static_cast<size_t>(v)];
      bool inside = val.producer != kNoNode && in_set[static_cast<size_t>(val.producer)];
      if (!inside && !val.is_constant()) boundary_inputs.insert(v);
    }
    for (ValueId v : nodes_[static_cast<size_t>(n)].outputs) {
      if (v == kNoValue) continue;
      const Value& val = values_[static_cast<size_t>(v)];
      bool used_outside = IsGraphOutput(v);
      for (NodeId c : val.consumers)
        if (!in_set[static_cast<size_t>(c)]) used_outside = true;
      if (used_outside) boundary_outputs.insert(v);
    }
  }
  for (ValueId v : boundary_inputs) map[static_cast<size_t>(v)] = sub.AddInput(values_[static_cast<size_t>(v)].name, values_[static_cast<size_t>(v)].info);
  auto mapped = [&](ValueId v) -> ValueId {
    if (v == kNoValue) return kNoValue;
    ValueId& m = map[static_cast<size_t>(v)];
    if (m == kNoValue) {
      const Value& val = values_[static_cast<size_t>(v)];
      m = val.is_constant() ? sub.AddConstant(val.name, val.constant) : sub.AddValue(val.name, val.info);
    }
    return m;
  };
  std::vector<NodeId> ordered(node_ids.begin(), node_ids.end());
  std::sort(ordered.begin(), ordered.end());
  for (NodeId n : ordered) {
    const Node& src = nodes_[static_cast<size_t>(n)];
    std::vector<ValueId> ins, outs;
    for (ValueId v : src.inputs) ins.push_back(mapped(v));
    for (ValueId v : src.outputs) outs.push_back(mapped(v));
    sub.AddNode(src.op_type, std::move(ins), std::move(outs), src.attrs, src.name, src.domain);
  }
  for (ValueId v : boundary_outputs) sub.AddOutput(map[static_cast<size_t>(v)]);
  TUTTI_RETURN_IF_ERROR(sub.Validate().WithContext("extracted subgraph"));
  return sub;
}

namespace {
struct Fnv {
  uint64_t h = 1469598103934665603ull;
  void Bytes(const void* p, size_t n) {
    auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) { h ^= b[i]; h *= 1099511628211ull; }
  }
  void Str(const std::string& s) { Bytes(s.data(), s.size()); Int(static_cast<int64_t>(s.size())); }
  void Int(int64_t v) { Bytes(&v, sizeof v); }
};
}  // namespace

uint64_t Graph::Fingerprint() const {
  Fnv f;
  for (const Value& v : values_) {
    f.Str(v.name);
    f.Int(static_cast<int64_t>(v.info.dtype));
    if (v.info.shape)
      for (const Dim& d : *v.info.shape) { f.Int(d.value); f.Str(d.symbol); }
    if (v.is_constant()) f.Bytes(v.constant.raw_data(), v.constant.nbytes());
  }
  for (const Node& n : nodes_) {
    if (n.removed) continue;
    f.Str(n.op_type);
    f.Str(n.domain);
    for (ValueId v : n.inputs) f.Int(v);
    for (ValueId v : n.outputs) f.Int(v);
    for (const auto& [k, a] : n.attrs) {
      f.Str(k);
      std::visit([&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, float>) f.Bytes(&x, sizeof x);
        else if constexpr (std::is_same_v<T, std::string>) f.Str(x);
        else if constexpr (std::is_same_v<T, std::vector<int64_t>> || std::is_same_v<T, std::vector<float>>) f.Bytes(x.data(), x.size() * sizeof(x[0]));
        else if constexpr (std::is_same_v<T, std::vector<std::string>>) { for (auto& s : x) f.Str(s); }
        else if constexpr (std::is_same_v<T, Tensor>) { if (x.defined()) f.Bytes(x.raw_data(), x.nbytes()); }
        else if constexpr (std::is_same_v<T, std::shared_ptr<Graph>>) { if (x) f.Int(static_cast<int64_t>(x->Fingerprint())); }
      }, a);
    }
  }
  for (ValueId v : inputs_) f.Int(v);
  for (ValueId v : outputs_) f.Int(v);
  return f.h;
}

}  // namespace tutti
