#include "model/onnx_loader.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <algorithm>
#include <climits>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <unordered_map>

#include "graph/shape_inference.h"
#include "model/onnx_tensor.h"
#include "model/opset_normalize.h"

namespace tutti {
namespace {

// Subgraphs nest (If inside Loop ...); a bound keeps a hostile file from exhausting the stack.
constexpr int kMaxSubgraphDepth = 32;

std::string OneLine(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  // Collapse the runs of spaces the replacement leaves behind.
  std::string out;
  for (char c : s)
    if (!(c == ' ' && !out.empty() && out.back() == ' ')) out += c;
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string ProtoNodeLabel(const onnx::NodeProto& n, int index) {
  Node tmp;
  tmp.op_type = n.op_type().empty() ? "(no op_type)" : n.op_type();
  tmp.name = n.name().empty() ? "#" + std::to_string(index) : n.name();
  return NodeLabel(tmp);
}

TensorInfo InfoFromType(const onnx::TypeProto& type) {
  TensorInfo info;
  if (!type.has_tensor_type()) return info;  // sequences, maps, optionals: left undescribed
  const auto& tt = type.tensor_type();
  info.dtype = model::DataTypeFromOnnx(tt.elem_type());
  if (!tt.has_shape()) return info;
  SymbolicShape shape;
  for (const auto& d : tt.shape().dim()) {
    if (d.has_dim_value() && d.dim_value() >= 0) shape.push_back(Dim::Known(d.dim_value()));
    else if (d.has_dim_param() && !d.dim_param().empty()) shape.push_back(Dim::Symbol(d.dim_param()));
    else shape.push_back(Dim{});
  }
  info.shape = std::move(shape);
  return info;
}

class GraphConverter {
 public:
  GraphConverter(const std::string& base_dir, const std::map<std::string, int64_t>& opsets)
      : base_dir_(base_dir), opsets_(opsets) {}

  // `outer` is true for subgraphs: names they read from enclosing scopes become producer-less values.
  Result<Graph> Convert(const onnx::GraphProto& gp, int depth, bool subgraph) {
    if (depth > kMaxSubgraphDepth) return InvalidArgument("subgraphs nested deeper than ", kMaxSubgraphDepth);
    Graph g;
    g.name = gp.name();
    for (const auto& [d, v] : opsets_) g.set_opset(d, v);

    for (const auto& init : gp.initializer()) {
      if (init.name().empty()) return InvalidArgument("an initializer has no name");
      if (g.FindValue(init.name())) return InvalidArgument("initializer '", init.name(), "' is defined twice");
      TUTTI_ASSIGN_OR_RETURN(Tensor t, model::TensorFromProto(init, base_dir_));
      g.AddConstant(init.name(), std::move(t));
    }
    std::set<std::string> input_names;
    for (const auto& in : gp.input()) {
      if (in.name().empty()) return InvalidArgument("a graph input has no name");
      if (!input_names.insert(in.name()).second) return InvalidArgument("graph input '", in.name(), "' is declared twice");
      if (auto v = g.FindValue(in.name())) {
        // An input that is also an initializer: a default the caller could override. Inference
        // treats it as the constant it is (as ONNX Runtime does for non-overridable initializers).
        continue;
      }
      g.AddInput(in.name(), InfoFromType(in.type()));
    }
    std::map<std::string, const onnx::ValueInfoProto*> value_info;
    for (const auto& vi : gp.value_info()) value_info[vi.name()] = &vi;
    for (const auto& vi : gp.output()) value_info.emplace(vi.name(), &vi);

    // Pass 1: every produced name gets a value (constants for Constant nodes), so nodes may be read
    // before the node producing them appears; Graph::Validate then rejects real cycles.
    std::vector<char> is_constant_node(static_cast<size_t>(gp.node_size()), 0);
    for (int i = 0; i < gp.node_size(); ++i) {
      const auto& np = gp.node(i);
      if (np.op_type().empty()) return InvalidArgument("node ", ProtoNodeLabel(np, i), " has no op_type");
      const bool is_const = np.op_type() == "Constant" && (np.domain().empty() || np.domain() == "ai.onnx");
      if (is_const) {
        auto t = ConstantNodeValue(np);
        if (!t.ok()) return t.status().WithContext(ProtoNodeLabel(np, i));
        if (np.output_size() != 1 || np.output(0).empty())
          return InvalidArgument(ProtoNodeLabel(np, i), ": a Constant needs exactly one output");
        if (g.FindValue(np.output(0)))
          return InvalidArgument(ProtoNodeLabel(np, i), ": tensor '", np.output(0), "' is produced twice");
        g.AddConstant(np.output(0), std::move(t).value());
        is_constant_node[static_cast<size_t>(i)] = 1;
        continue;
      }
      for (const std::string& out : np.output()) {
        if (out.empty()) continue;
        if (g.FindValue(out)) return InvalidArgument(ProtoNodeLabel(np, i), ": tensor '", out, "' is produced twice");
        auto it = value_info.find(out);
        g.AddValue(out, it == value_info.end() ? TensorInfo{} : InfoFromType(it->second->type()));
      }
    }
    // Pass 2: nodes.
    for (int i = 0; i < gp.node_size(); ++i) {
      if (is_constant_node[static_cast<size_t>(i)]) continue;
      const auto& np = gp.node(i);
      std::vector<ValueId> ins, outs;
      for (const std::string& in : np.input()) {
        if (in.empty()) { ins.push_back(kNoValue); continue; }
        auto v = g.FindValue(in);
        if (!v) {
          if (!subgraph)
            return InvalidArgument(ProtoNodeLabel(np, i), ": input '", in,
                                   "' is not produced by any node, initializer or graph input");
          v = g.AddValue(in);  // read from an enclosing graph
        }
        ins.push_back(*v);
      }
      for (const std::string& out : np.output()) outs.push_back(out.empty() ? kNoValue : *g.FindValue(out));
      std::map<std::string, AttrValue> attrs;
      for (const auto& a : np.attribute()) {
        auto converted = ConvertAttr(a, depth);
        if (!converted.ok()) return converted.status().WithContext(ProtoNodeLabel(np, i) + ", attribute '" + a.name() + "'");
        if (converted->has_value()) attrs[a.name()] = std::move(**converted);
      }
      std::string domain = np.domain() == "ai.onnx" ? "" : np.domain();
      g.AddNode(np.op_type(), std::move(ins), std::move(outs), std::move(attrs), np.name(), std::move(domain));
    }
    for (const auto& out : gp.output()) {
      auto v = g.FindValue(out.name());
      if (!v) {
        if (!subgraph) return InvalidArgument("graph output '", out.name(), "' is not produced by any node");
        v = g.AddValue(out.name());
      }
      Value& val = g.value(*v);
      TensorInfo declared = InfoFromType(out.type());
      if (val.info.dtype == DataType::kUndefined) val.info.dtype = declared.dtype;
      if (!val.info.shape) val.info.shape = declared.shape;
      g.AddOutput(*v);
    }
    return g;
  }

 private:
  Result<Tensor> ConstantNodeValue(const onnx::NodeProto& np) {
    if (np.attribute_size() != 1) return InvalidArgument("a Constant needs exactly one value attribute");
    const auto& a = np.attribute(0);
    if (a.name() == "value") return model::TensorFromProto(a.t(), base_dir_);
    if (a.name() == "value_float") return Tensor::FromVector<float>({a.f()}, Shape{});
    if (a.name() == "value_int") return Tensor::FromVector<int64_t>({a.i()}, Shape{});
    if (a.name() == "value_floats")
      return Tensor::FromVector<float>(std::vector<float>(a.floats().begin(), a.floats().end()),
                                       Shape{static_cast<int64_t>(a.floats_size())});
    if (a.name() == "value_ints")
      return Tensor::FromVector<int64_t>(std::vector<int64_t>(a.ints().begin(), a.ints().end()),
                                         Shape{static_cast<int64_t>(a.ints_size())});
    return Unimplemented("Constant attribute '", a.name(), "' is not supported");
  }

  // nullopt for attribute kinds no tutti operator uses (they are dropped, not an error).
  Result<std::optional<AttrValue>> ConvertAttr(const onnx::AttributeProto& a, int depth) {
    using A = onnx::AttributeProto;
    A::AttributeType type = a.type();
    if (type == A::UNDEFINED) {  // IR < 0.0.2 files leave the type out; infer it from the field set
      if (a.has_f()) type = A::FLOAT;
      else if (a.has_i()) type = A::INT;
      else if (a.has_s()) type = A::STRING;
      else if (a.has_t()) type = A::TENSOR;
      else if (a.has_g()) type = A::GRAPH;
      else if (a.floats_size()) type = A::FLOATS;
      else if (a.ints_size()) type = A::INTS;
      else if (a.strings_size()) type = A::STRINGS;
    }
    switch (type) {
      case A::FLOAT: return std::optional<AttrValue>(a.f());
      case A::INT: return std::optional<AttrValue>(static_cast<int64_t>(a.i()));
      case A::STRING: return std::optional<AttrValue>(a.s());
      case A::FLOATS: return std::optional<AttrValue>(std::vector<float>(a.floats().begin(), a.floats().end()));
      case A::INTS: return std::optional<AttrValue>(std::vector<int64_t>(a.ints().begin(), a.ints().end()));
      case A::STRINGS: return std::optional<AttrValue>(std::vector<std::string>(a.strings().begin(), a.strings().end()));
      case A::TENSOR: {
        TUTTI_ASSIGN_OR_RETURN(Tensor t, model::TensorFromProto(a.t(), base_dir_));
        return std::optional<AttrValue>(std::move(t));
      }
      case A::GRAPH: {
        TUTTI_ASSIGN_OR_RETURN(Graph sub, Convert(a.g(), depth + 1, true));
        return std::optional<AttrValue>(std::make_shared<Graph>(std::move(sub)));
      }
      default: return std::optional<AttrValue>();
    }
  }

  const std::string& base_dir_;
  const std::map<std::string, int64_t>& opsets_;
};

Result<std::map<std::string, int64_t>> ReadOpsets(const onnx::ModelProto& m) {
  std::map<std::string, int64_t> opsets;
  for (const auto& o : m.opset_import()) {
    std::string d = o.domain() == "ai.onnx" ? "" : o.domain();
    opsets[d] = o.version();
  }
  auto it = opsets.find("");
  if (it == opsets.end()) {
    if (m.ir_version() < 3) return InvalidArgument("IR version ", m.ir_version(), " predates opset imports; re-export the model with opset ", kMinOpset, " or newer");
    // Models made only of other domains' operators (training ops, vendor ops) need no ai.onnx opset.
    for (const auto& n : m.graph().node())
      if (n.domain().empty() || n.domain() == "ai.onnx")
        return InvalidArgument("node ", n.op_type(), " '", n.name(), "' is an ai.onnx operator but the model imports no ai.onnx opset");
    return opsets;
  }
  if (it->second > kMaxOpset || it->second < 1)
    return InvalidArgument("ai.onnx opset ", it->second, " is not supported (supported: ", kMinOpset, " to ", kMaxOpset, ")");
  if (it->second < kMinOpset) {
    // An older opset is read as opset 7 when every operator the model uses has the same definition
    // in both (Elu-6, GlobalAveragePool-1 ... are unchanged in 7); otherwise it is refused.
    for (int i = 0; i < m.graph().node_size(); ++i) {
      const auto& n = m.graph().node(i);
      if (!n.domain().empty() && n.domain() != "ai.onnx") continue;
      const auto* old_schema = onnx::OpSchemaRegistry::Schema(n.op_type(), static_cast<int>(it->second), "");
      const auto* new_schema = onnx::OpSchemaRegistry::Schema(n.op_type(), static_cast<int>(kMinOpset), "");
      if (!old_schema || old_schema != new_schema)
        return InvalidArgument("ai.onnx opset ", it->second, " is not supported (supported: ", kMinOpset, " to ",
                               kMaxOpset, "): ", ProtoNodeLabel(n, i), " differs in opset ", kMinOpset);
    }
    it->second = kMinOpset;
  }
  return opsets;
}

// ONNX's per-node checker (attribute types, input/output counts against the operator schema), run
// on each node whose schema this libonnx knows: an unknown operator still loads (backends refuse
// it by name), and a model newer than this libonnx is not rejected for being newer. Tensors are
// not checked here (TensorFromProto does that, external data included).
Status RunOnnxChecker(const onnx::ModelProto& m) {
  if (m.ir_version() > onnx::IR_VERSION) return Status::Ok();
  const auto& ranges = onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
  std::unordered_map<std::string, int> imports;
  for (const auto& o : m.opset_import()) imports[o.domain() == "ai.onnx" ? "" : o.domain()] = static_cast<int>(o.version());
  onnx::checker::CheckerContext ctx;
  ctx.set_ir_version(static_cast<int>(m.ir_version()));
  ctx.set_opset_imports(imports);
  onnx::checker::LexicalScopeContext lex;
  const auto& g = m.graph();
  for (const auto& v : g.input()) lex.add(v.name());
  for (const auto& t : g.initializer()) lex.add(t.name());
  for (const auto& n : g.node())
    for (const auto& o : n.output()) lex.add(o);
  for (int i = 0; i < g.node_size(); ++i) {
    const auto& n = g.node(i);
    const std::string domain = n.domain() == "ai.onnx" ? "" : n.domain();
    auto imp = imports.find(domain);
    auto range = ranges.find(domain);
    if (imp == imports.end() || range == ranges.end() || imp->second > range->second.second) continue;
    if (!onnx::OpSchemaRegistry::Schema(n.op_type(), imp->second, domain)) continue;
    try {
      onnx::checker::check_node(n, ctx, lex);
    } catch (const std::exception& e) {
      return InvalidArgument(ProtoNodeLabel(n, i), ": ", OneLine(e.what()));
    } catch (...) {
      return InvalidArgument(ProtoNodeLabel(n, i), ": rejected by the ONNX checker");
    }
  }
  return Status::Ok();
}

// ONNX's shape inference (below) reads initializers and Constant values as data, trusting each to
// hold as many values as its shape says: ONNX 1.12's Range inference reads element 0 of an empty
// `start` and crashes. So every tensor in the model, subgraphs included, is checked first -- the
// checks TensorFromProto makes anyway before allocating -- and sparse tensors, which tutti does not
// support, are refused before that inference sees them.
Status CheckTensorsBeforeInference(const onnx::GraphProto& g, int depth) {
  if (depth > kMaxSubgraphDepth) return InvalidArgument("subgraphs nested deeper than ", kMaxSubgraphDepth);
  if (g.sparse_initializer_size() > 0)
    return Unimplemented("sparse initializer '", g.sparse_initializer(0).values().name(), "' is not supported");
  for (const auto& t : g.initializer()) TUTTI_RETURN_IF_ERROR(model::CheckTensorProto(t));
  for (int i = 0; i < g.node_size(); ++i) {
    for (const auto& a : g.node(i).attribute()) {
      Status s = Status::Ok();
      if (a.has_sparse_tensor() || a.sparse_tensors_size() > 0) s = Unimplemented("sparse tensors are not supported");
      if (s.ok() && a.has_t()) s = model::CheckTensorProto(a.t());
      for (int k = 0; s.ok() && k < a.tensors_size(); ++k) s = model::CheckTensorProto(a.tensors(k));
      if (s.ok() && a.has_g()) s = CheckTensorsBeforeInference(a.g(), depth + 1);
      for (int k = 0; s.ok() && k < a.graphs_size(); ++k) s = CheckTensorsBeforeInference(a.graphs(k), depth + 1);
      if (!s.ok()) return s.WithContext(ProtoNodeLabel(g.node(i), i) + ", attribute '" + a.name() + "'");
    }
  }
  return Status::Ok();
}

// Nodes ONNX 1.12's inference cannot be trusted with: Conv and its variants without a kernel_shape
// attribute take the kernel's rank from W, then index per-axis vectors sized by X's rank, reading
// past their end when X and W differ in rank. They are hidden from that inference behind a domain
// it does not know (tutti's own rules, which check ranks, infer them afterwards); with kernel_shape
// present ONNX checks it against X itself. Returns each hidden node with its domain, to restore.
constexpr const char* kHiddenDomain = "tutti.hidden_from_onnx_inference";

std::vector<std::pair<onnx::NodeProto*, std::string>> HideFromOnnxInference(onnx::GraphProto& g) {
  static const std::set<std::string> kKernelFromWeight = {"Conv", "ConvTranspose", "ConvInteger", "QLinearConv"};
  std::vector<std::pair<onnx::NodeProto*, std::string>> hidden;
  for (auto& n : *g.mutable_node()) {
    for (auto& a : *n.mutable_attribute()) {
      if (a.has_g()) for (auto& h : HideFromOnnxInference(*a.mutable_g())) hidden.push_back(std::move(h));
      for (auto& sub : *a.mutable_graphs())
        for (auto& h : HideFromOnnxInference(sub)) hidden.push_back(std::move(h));
    }
    const bool onnx_domain = n.domain().empty() || n.domain() == "ai.onnx";
    const bool has_kernel_shape = std::any_of(n.attribute().begin(), n.attribute().end(),
                                              [](const onnx::AttributeProto& a) { return a.name() == "kernel_shape"; });
    if (!onnx_domain || has_kernel_shape || !kKernelFromWeight.count(n.op_type())) continue;
    hidden.emplace_back(&n, n.domain());
    n.set_domain(kHiddenDomain);
  }
  return hidden;
}

// ONNX's shape inference fills value_info for intermediates; per-node failures are ignored here
// (error_mode 0) because our own inference runs afterwards and decides.
Status RunOnnxShapeInference(onnx::ModelProto& m) {
  const auto hidden = HideFromOnnxInference(*m.mutable_graph());
  if (!hidden.empty()) {  // imported, so ONNX skips the nodes as unknown operators instead of refusing the model
    auto* import = m.add_opset_import();
    import->set_domain(kHiddenDomain);
    import->set_version(1);
  }
  Status status = Status::Ok();
  try {
    onnx::ShapeInferenceOptions opts;
    opts.check_type = false;
    opts.error_mode = 0;
    opts.enable_data_propagation = false;
    onnx::shape_inference::InferShapes(m, onnx::OpSchemaRegistry::Instance(), opts);
  } catch (const std::exception& e) {
    status = InvalidArgument("shape inference: ", OneLine(e.what()));
  }
  for (const auto& [node, domain] : hidden) node->set_domain(domain);
  if (!hidden.empty()) m.mutable_opset_import()->RemoveLast();
  return status;
}

Status ParseModel(std::string_view bytes, onnx::ModelProto& model) {
  if (bytes.empty()) return InvalidArgument("empty file, not an ONNX model");
  if (bytes.size() > static_cast<size_t>(INT_MAX))
    return InvalidArgument("model file is larger than 2 GiB; ONNX keeps such weights in external data files");
  if (!model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return InvalidArgument("not an ONNX model (the protobuf does not parse; truncated or another kind of file?)");
  return Status::Ok();
}

Result<Graph> GraphFromModel(onnx::ModelProto& model, const std::string& base_dir) {
  if (!model.has_graph() || model.ir_version() <= 0)
    return InvalidArgument("not an ONNX model (no ", model.has_graph() ? "ir_version" : "graph", ")");
  TUTTI_ASSIGN_OR_RETURN(auto opsets, ReadOpsets(model));
  TUTTI_RETURN_IF_ERROR(CheckTensorsBeforeInference(model.graph(), 0));
  TUTTI_RETURN_IF_ERROR(RunOnnxChecker(model));
  TUTTI_RETURN_IF_ERROR(RunOnnxShapeInference(model));
  GraphConverter conv(base_dir, opsets);
  TUTTI_ASSIGN_OR_RETURN(Graph g, conv.Convert(model.graph(), 0, false));
  model.Clear();  // the weights now live in the Graph; do not hold them twice
  if (g.name.empty()) g.name = "model";
  TUTTI_RETURN_IF_ERROR(g.Validate());
  TUTTI_RETURN_IF_ERROR(NormalizeOpsets(g));
  TUTTI_RETURN_IF_ERROR(InferShapes(g));
  TUTTI_RETURN_IF_ERROR(g.Validate());
  return g;
}

}  // namespace

Result<Graph> LoadOnnxModelFromBytes(std::string_view bytes, const std::string& base_dir) {
  onnx::ModelProto model;
  TUTTI_RETURN_IF_ERROR(ParseModel(bytes, model));
  return GraphFromModel(model, base_dir);
}

Result<Graph> LoadOnnxModel(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) return NotFound("model file '", path, "' does not exist");
  if (!fs::is_regular_file(path, ec)) return InvalidArgument("'", path, "' is not a file");
  uintmax_t size = fs::file_size(path, ec);
  if (ec) return NotFound("cannot read '", path, "': ", ec.message());
  if (size > static_cast<uintmax_t>(INT_MAX))
    return InvalidArgument("'", path, "' is larger than 2 GiB; ONNX keeps such weights in external data files");
  std::string bytes(static_cast<size_t>(size), '\0');
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) return NotFound("cannot open '", path, "'");
    in.read(bytes.data(), static_cast<std::streamsize>(size));
    if (static_cast<uintmax_t>(in.gcount()) != size) return InvalidArgument("'", path, "': short read");
  }
  onnx::ModelProto model;
  Status parsed = ParseModel(bytes, model);
  if (!parsed.ok()) return parsed.WithContext(path);
  std::string().swap(bytes);  // the file's bytes are no longer needed; keep peak memory down
  std::string dir = fs::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  auto g = GraphFromModel(model, dir);
  if (!g.ok()) return g.status().WithContext(path);
  return g;
}

}  // namespace tutti
