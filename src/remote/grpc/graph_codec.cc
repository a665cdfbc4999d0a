#include "remote/grpc/graph_codec.h"

#include <cstring>
#include <limits>

namespace tutti::remote {

namespace {

Result<Shape> DecodeDims(const google::protobuf::RepeatedField<int64_t>& dims, bool allow_unknown,
                         const std::string& what) {
  if (dims.size() > kMaxRank) return InvalidArgument(what, ": rank ", dims.size(), " exceeds ", kMaxRank);
  Shape s(dims.begin(), dims.end());
  for (int64_t d : s)
    if (d < (allow_unknown ? -1 : 0)) return InvalidArgument(what, ": negative dimension ", d);
  return s;
}

Result<DataType> DecodeDtype(int32_t v, const std::string& what) {
  if (!IsValidDataType(v)) return InvalidArgument(what, ": unknown data type ", v);
  DataType t = static_cast<DataType>(v);
  if (t == DataType::kUndefined || t == DataType::kString)
    return InvalidArgument(what, ": data type ", DataTypeName(t), " cannot travel");
  return t;
}

// Element count with overflow checks: a message claiming [2^40, 2^40] must be refused, not allocated.
Result<size_t> CheckedBytes(const Shape& s, DataType t, const std::string& what) {
  size_t n = DataTypeSize(t);
  for (int64_t d : s) {
    if (d != 0 && n > std::numeric_limits<size_t>::max() / 2 / static_cast<size_t>(d))
      return InvalidArgument(what, ": shape ", ShapeToString(s), " is too large");
    n *= static_cast<size_t>(d);
  }
  return n;
}

}  // namespace

void EncodeTensor(const Tensor& t, proto::Tensor* msg) {
  msg->set_dtype(static_cast<int32_t>(t.dtype()));
  for (int64_t d : t.shape()) msg->add_dims(d);
  msg->set_data(t.raw_data(), t.nbytes());
}

Result<Tensor> DecodeTensor(const proto::Tensor& msg, const std::string& what) {
  TUTTI_ASSIGN_OR_RETURN(DataType dtype, DecodeDtype(msg.dtype(), what));
  TUTTI_ASSIGN_OR_RETURN(Shape shape, DecodeDims(msg.dims(), false, what));
  TUTTI_ASSIGN_OR_RETURN(size_t bytes, CheckedBytes(shape, dtype, what));
  if (msg.by_blob()) return InvalidArgument(what, ": a blob reference where data was expected");
  if (msg.data().size() != bytes)
    return InvalidArgument(what, ": ", DataTypeName(dtype), ShapeToString(shape), " needs ", bytes, " bytes, got ",
                           msg.data().size());
  TUTTI_ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(dtype, shape));
  if (bytes) std::memcpy(t.raw_data(), msg.data().data(), bytes);
  return t;
}

void EncodeGraph(const Graph& g, proto::Graph* msg, std::vector<BlobRef>* blobs, BlobHashCache* hash_cache) {
  msg->set_name(g.name);
  for (const auto& [domain, version] : g.opsets()) (*msg->mutable_opsets())[domain] = version;
  auto encode_constant = [&](const Tensor& t, proto::Tensor* out) {
    if (t.nbytes() < kBlobMinBytes) return EncodeTensor(t, out);
    uint64_t h;
    auto it = hash_cache->find(t.raw_data());
    if (it != hash_cache->end() && it->second.tensor.nbytes() == t.nbytes()) {
      h = it->second.hash;
    } else {
      h = BlobHash(t.raw_data(), t.nbytes());
      (*hash_cache)[t.raw_data()] = BlobRef{h, t};
    }
    out->set_dtype(static_cast<int32_t>(t.dtype()));
    for (int64_t d : t.shape()) out->add_dims(d);
    out->set_by_blob(true);
    out->set_blob_hash(h);
    blobs->push_back({h, t});
  };
  for (size_t i = 0; i < g.value_count(); ++i) {
    const Value& v = g.value(static_cast<ValueId>(i));
    proto::Value* m = msg->add_values();
    m->set_name(v.name);
    m->set_dtype(static_cast<int32_t>(v.info.dtype));
    if (v.info.shape) {
      m->set_has_shape(true);
      for (const Dim& d : *v.info.shape) m->add_dims(d.known() ? d.value : -1);
    }
    if (v.is_constant()) {
      m->set_is_constant(true);
      encode_constant(v.constant, m->mutable_constant());
    }
  }
  for (size_t i = 0; i < g.node_count(); ++i) {
    const Node& n = g.node(static_cast<NodeId>(i));
    if (n.removed) continue;
    proto::Node* m = msg->add_nodes();
    m->set_name(n.name);
    m->set_op_type(n.op_type);
    m->set_domain(n.domain);
    for (ValueId v : n.inputs) m->add_inputs(v);
    for (ValueId v : n.outputs) m->add_outputs(v);
    for (const auto& [key, attr] : n.attrs) {
      proto::Attribute* a = m->add_attrs();
      a->set_name(key);
      std::visit([&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, int64_t>) a->set_i(x);
        else if constexpr (std::is_same_v<T, float>) a->set_f(x);
        else if constexpr (std::is_same_v<T, std::string>) a->set_s(x);
        else if constexpr (std::is_same_v<T, std::vector<int64_t>>) { for (auto e : x) a->mutable_ints()->add_values(e); }
        else if constexpr (std::is_same_v<T, std::vector<float>>) { for (auto e : x) a->mutable_floats()->add_values(e); }
        else if constexpr (std::is_same_v<T, std::vector<std::string>>) { for (auto& e : x) a->mutable_strings()->add_values(e); }
        else if constexpr (std::is_same_v<T, Tensor>) { if (x.defined()) encode_constant(x, a->mutable_t()); }
        // Subgraph attributes (If/Loop bodies) do not travel: such nodes are never tiled, and a
        // decoder finding an empty attribute rejects the node's compile with its name.
      }, attr);
    }
  }
  for (ValueId v : g.inputs()) msg->add_inputs(v);
  for (ValueId v : g.outputs()) msg->add_outputs(v);
}

namespace {

Result<Tensor> DecodeConstant(const proto::Tensor& msg, const BlobLookup& find_blob, const std::string& what) {
  if (!msg.by_blob()) return DecodeTensor(msg, what);
  TUTTI_ASSIGN_OR_RETURN(DataType dtype, DecodeDtype(msg.dtype(), what));
  TUTTI_ASSIGN_OR_RETURN(Shape shape, DecodeDims(msg.dims(), false, what));
  TUTTI_ASSIGN_OR_RETURN(size_t bytes, CheckedBytes(shape, dtype, what));
  Tensor t = find_blob(msg.blob_hash(), dtype, shape);
  if (!t.defined()) return FailedPrecondition(what, ": blob ", std::hex, msg.blob_hash(), " was never uploaded");
  if (t.nbytes() != bytes) return InvalidArgument(what, ": blob size does not match ", ShapeToString(shape));
  return t;
}

}  // namespace

Result<Graph> DecodeGraph(const proto::Graph& msg, const BlobLookup& find_blob) {
  Graph g;
  g.name = msg.name();
  for (const auto& [domain, version] : msg.opsets()) g.set_opset(domain, version);
  const int nvalues = msg.values_size();
  for (int i = 0; i < nvalues; ++i) {
    const proto::Value& m = msg.values(i);
    std::string what = "value '" + m.name() + "'";
    if (m.name().empty()) return InvalidArgument("value #", i, " has no name");
    if (g.FindValue(m.name())) return InvalidArgument(what, " appears twice");
    if (m.is_constant()) {
      TUTTI_ASSIGN_OR_RETURN(Tensor t, DecodeConstant(m.constant(), find_blob, what));
      g.AddConstant(m.name(), std::move(t));
      continue;
    }
    TensorInfo info;
    if (m.dtype() != 0) { TUTTI_ASSIGN_OR_RETURN(info.dtype, DecodeDtype(m.dtype(), what)); }
    if (m.has_shape()) {
      TUTTI_ASSIGN_OR_RETURN(Shape s, DecodeDims(m.dims(), true, what));
      SymbolicShape sym;
      for (int64_t d : s) sym.push_back(d >= 0 ? Dim::Known(d) : Dim{});
      info.shape = std::move(sym);
    }
    g.AddValue(m.name(), std::move(info));
  }
  auto check_id = [&](int32_t v, bool allow_none, const std::string& what) -> Status {
    if ((v == kNoValue && allow_none) || (v >= 0 && v < nvalues)) return Status::Ok();
    return InvalidArgument(what, ": value index ", v, " out of range (", nvalues, " values)");
  };
  for (const proto::Node& m : msg.nodes()) {
    std::string what = m.op_type() + " '" + m.name() + "'";
    if (m.op_type().empty()) return InvalidArgument("a node without an op_type ('", m.name(), "')");
    std::vector<ValueId> ins, outs;
    for (int32_t v : m.inputs()) { TUTTI_RETURN_IF_ERROR(check_id(v, true, what)); ins.push_back(v); }
    for (int32_t v : m.outputs()) { TUTTI_RETURN_IF_ERROR(check_id(v, true, what)); outs.push_back(v); }
    std::map<std::string, AttrValue> attrs;
    for (const proto::Attribute& a : m.attrs()) {
      std::string attr_what = what + " attribute '" + a.name() + "'";
      switch (a.value_case()) {
        case proto::Attribute::kI: attrs[a.name()] = a.i(); break;
        case proto::Attribute::kF: attrs[a.name()] = a.f(); break;
        case proto::Attribute::kS: attrs[a.name()] = a.s(); break;
        case proto::Attribute::kInts: attrs[a.name()] = std::vector<int64_t>(a.ints().values().begin(), a.ints().values().end()); break;
        case proto::Attribute::kFloats: attrs[a.name()] = std::vector<float>(a.floats().values().begin(), a.floats().values().end()); break;
        case proto::Attribute::kStrings: attrs[a.name()] = std::vector<std::string>(a.strings().values().begin(), a.strings().values().end()); break;
        case proto::Attribute::kT: {
          TUTTI_ASSIGN_OR_RETURN(Tensor t, DecodeConstant(a.t(), find_blob, attr_what));
          attrs[a.name()] = std::move(t);
          break;
        }
        default: return InvalidArgument(attr_what, " has no value");
      }
    }
    g.AddNode(m.op_type(), std::move(ins), std::move(outs), std::move(attrs), m.name(), m.domain());
  }
  for (int32_t v : msg.inputs()) {
    TUTTI_RETURN_IF_ERROR(check_id(v, false, "graph input"));
    g.mutable_inputs().push_back(v);
  }
  for (int32_t v : msg.outputs()) {
    TUTTI_RETURN_IF_ERROR(check_id(v, false, "graph output"));
    g.AddOutput(v);
  }
  TUTTI_RETURN_IF_ERROR(g.Validate().WithContext("graph '" + g.name + "'"));
  return g;
}

}  // namespace tutti::remote
