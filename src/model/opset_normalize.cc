#include "model/opset_normalize.h"

#include <limits>
#include <set>

namespace tutti {
namespace {

const std::set<std::string> kReduceOps = {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
                                          "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp",
                                          "ReduceSumSquare"};

class Normalizer {
 public:
  explicit Normalizer(Graph& g) : g_(g), opset_(g.opset("")) {}

  Status Run() {
    const size_t n = g_.node_count();  // nodes added while rewriting are already in normal form
    for (size_t i = 0; i < n; ++i) {
      NodeId id = static_cast<NodeId>(i);
      if (g_.node(id).removed || !g_.node(id).domain.empty()) continue;
      Status s = Rewrite(id);
      if (!s.ok()) return s.WithContext(NodeLabel(g_.node(id)));
    }
    return Status::Ok();
  }

 private:
  Status Rewrite(NodeId id) {
    Node& n = g_.node(id);
    const std::string& op = n.op_type;
    if (op == "Squeeze" || op == "Unsqueeze") return AttrToInput(id, "axes", 1);
    if (kReduceOps.count(op)) return AttrToInput(id, "axes", 1);
    if (op == "Split") {
      n.attrs.erase("num_outputs");
      return AttrToInput(id, "split", 1);
    }
    if (op == "Slice") return SliceAttrsToInputs(id);
    if (op == "Clip") return ClipAttrsToInputs(id);
    if (op == "Pad") return NormalizePad(id);
    if (op == "TopK") return AttrToInput(id, "k", 1, /*as_1d=*/true);
    if (op == "Upsample" || (op == "Resize" && opset_ < 11)) return ToResize11(id);
    if (op == "Resize") return DropEmptyConstInputs(id, {1, 2, 3});
    if (op == "BatchNormalization") {
      const bool per_activation = n.GetInt("spatial", 1) == 0;
      for (const char* a : {"spatial", "is_test", "consumed_inputs"}) n.attrs.erase(a);
      return per_activation ? PerActivationBatchNorm(id) : Status::Ok();
    }
    if ((op == "Softmax" || op == "LogSoftmax" || op == "Hardmax") && opset_ < 13) return SoftmaxTo13(id);
    if (op == "Dropout") return DropoutToIdentity(id);
    return Status::Ok();
  }

  // Adds `t` as input `index` of node `id` (padding skipped optional inputs with kNoValue).
  void SetConstInput(NodeId id, size_t index, Tensor t, const std::string& what) {
    Node& n = g_.node(id);
    std::string base = (n.name.empty() ? n.op_type : n.name) + "_" + what;
    ValueId v = g_.AddConstant(g_.UniqueValueName(base), std::move(t));
    Node& node = g_.node(id);  // AddConstant may not move nodes, but stay safe
    if (node.inputs.size() <= index) node.inputs.resize(index + 1, kNoValue);
    g_.SetNodeInput(id, index, v);
  }

  Status AttrToInput(NodeId id, const std::string& attr, size_t index, bool as_1d = false) {
    Node& n = g_.node(id);
    if (!n.HasAttr(attr)) return Status::Ok();
    if (n.HasInput(index)) return InvalidArgument("has both a '", attr, "' attribute and input ", index);
    std::vector<int64_t> v = n.GetInts(attr);
    n.attrs.erase(attr);
    SetConstInput(id, index, Tensor::FromVector<int64_t>(v, Shape{static_cast<int64_t>(v.size())}), attr);
    (void)as_1d;
    return Status::Ok();
  }

  Status SliceAttrsToInputs(NodeId id) {
    Node& n = g_.node(id);
    if (!n.HasAttr("starts") && !n.HasAttr("ends")) return Status::Ok();
    if (!n.HasAttr("starts") || !n.HasAttr("ends")) return InvalidArgument("needs both 'starts' and 'ends'");
    const bool has_axes = n.HasAttr("axes");
    std::vector<int64_t> starts = n.GetInts("starts"), ends = n.GetInts("ends"), axes = n.GetInts("axes");
    for (const char* a : {"starts", "ends", "axes"}) n.attrs.erase(a);
    auto vec = [](const std::vector<int64_t>& v) { return Tensor::FromVector<int64_t>(v, Shape{static_cast<int64_t>(v.size())}); };
    SetConstInput(id, 1, vec(starts), "starts");
    SetConstInput(id, 2, vec(ends), "ends");
    if (has_axes) SetConstInput(id, 3, vec(axes), "axes");
    return Status::Ok();
  }

  Status ClipAttrsToInputs(NodeId id) {
    Node& n = g_.node(id);
    if (!n.HasAttr("min") && !n.HasAttr("max")) return Status::Ok();
    const bool has_min = n.HasAttr("min"), has_max = n.HasAttr("max");
    float lo = n.GetFloat("min", std::numeric_limits<float>::lowest());
    float hi = n.GetFloat("max", std::numeric_limits<float>::max());
    n.attrs.erase("min");
    n.attrs.erase("max");
    if (has_min) SetConstInput(id, 1, Tensor::FromVector<float>({lo}, Shape{}), "min");
    if (has_max) SetConstInput(id, 2, Tensor::FromVector<float>({hi}, Shape{}), "max");
    return Status::Ok();
  }

  Status NormalizePad(NodeId id) {
    Node& n = g_.node(id);
    const char* pads_attr = n.HasAttr("pads") ? "pads" : n.HasAttr("paddings") ? "paddings" : nullptr;
    if (pads_attr) {
      std::vector<int64_t> pads = n.GetInts(pads_attr);
      const bool has_value = n.HasAttr("value");
      float value = n.GetFloat("value", 0.f);
      n.attrs.erase("pads");
      n.attrs.erase("paddings");
      n.attrs.erase("value");
      SetConstInput(id, 1, Tensor::FromVector<int64_t>(pads, Shape{static_cast<int64_t>(pads.size())}), "pads");
      if (has_value && value != 0.f) {
        DataType dt = g_.value(g_.node(id).inputs[0]).info.dtype;
        Tensor v = Tensor::FromVector<float>({value}, Shape{});
        if (dt != DataType::kUndefined && dt != DataType::kFloat32) {
          auto cast = CastTensor(v, dt);
          if (!cast.ok()) return cast.status();
          v = std::move(cast).value();
        }
        SetConstInput(id, 2, std::move(v), "value");
      }
      return Status::Ok();
    }
    // Opset 18 axes: expand to full-rank pads when everything needed is known.
    if (!n.HasInput(3) || !n.HasInput(1)) return Status::Ok();
    const Value& x = g_.value(n.inputs[0]);
    const Value& pads_v = g_.value(n.inputs[1]);
    const Value& axes_v = g_.value(n.inputs[3]);
    if (!x.info.shape || !pads_v.is_constant() || !axes_v.is_constant()) return Status::Ok();
    const int64_t rank = static_cast<int64_t>(x.info.shape->size());
    std::vector<int64_t> axes = axes_v.constant.ToInt64Vector(), pads = pads_v.constant.ToInt64Vector();
    const size_t k = axes.size();
    if (pads.size() != 2 * k) return InvalidArgument("pads has ", pads.size(), " values for ", k, " axes");
    std::vector<int64_t> full(static_cast<size_t>(2 * rank), 0);
    for (size_t i = 0; i < k; ++i) {
      int64_t a = axes[i] < 0 ? axes[i] + rank : axes[i];
      if (a < 0 || a >= rank) return InvalidArgument("axis ", axes[i], " is out of range for rank ", rank);
      full[static_cast<size_t>(a)] = pads[i];
      full[static_cast<size_t>(a + rank)] = pads[i + k];
    }
    g_.SetNodeInput(id, 3, kNoValue);
    g_.node(id).inputs.resize(3);
    g_.SetNodeInput(id, 1, kNoValue);
    SetConstInput(id, 1, Tensor::FromVector<int64_t>(full, Shape{2 * rank}), "pads");
    return Status::Ok();
  }

  // Upsample (7-9) and Resize-10: (X, scales) with asymmetric coordinates -> Resize-11 form.
  Status ToResize11(NodeId id) {
    Node& n = g_.node(id);
    std::string mode = n.GetString("mode", "nearest");
    if (mode == "bilinear") mode = "linear";
    std::vector<float> scales_attr = n.GetFloats("scales");
    const bool attr_scales = n.HasAttr("scales");
    ValueId scales = n.HasInput(1) ? n.inputs[1] : kNoValue;
    if (!attr_scales && scales == kNoValue) return InvalidArgument("has no scales");
    n.attrs.clear();
    n.attrs["mode"] = mode;
    n.attrs["coordinate_transformation_mode"] = std::string("asymmetric");
    n.attrs["nearest_mode"] = std::string("floor");
    n.op_type = "Resize";
    if (n.inputs.size() > 1) g_.SetNodeInput(id, 1, kNoValue);
    g_.node(id).inputs.resize(3, kNoValue);
    if (attr_scales)
      SetConstInput(id, 2, Tensor::FromVector<float>(scales_attr, Shape{static_cast<int64_t>(scales_attr.size())}), "scales");
    else
      g_.SetNodeInput(id, 2, scales);
    return Status::Ok();
  }

  // Resize-11/13 exports pass empty constant tensors for "not given"; the normal form omits them.
  Status DropEmptyConstInputs(NodeId id, std::initializer_list<size_t> indices) {
    for (size_t i : indices) {
      const Node& n = g_.node(id);
      if (!n.HasInput(i)) continue;
      const Value& v = g_.value(n.inputs[i]);
      if (v.is_constant() && v.constant.num_elements() == 0) g_.SetNodeInput(id, i, kNoValue);
    }
    Node& n = g_.node(id);
    while (!n.inputs.empty() && n.inputs.back() == kNoValue) n.inputs.pop_back();
    return Status::Ok();
  }

  // Before opset 13 these ops flattened the input to 2-D at `axis` (default 1) and normalised rows.
  Status SoftmaxTo13(NodeId id) {
    Node& n = g_.node(id);
    int64_t axis = n.GetInt("axis", 1);
    const Value& x = g_.value(n.inputs.at(0));
    if (x.info.shape) {
      const int64_t rank = static_cast<int64_t>(x.info.shape->size());
      const int64_t a = axis < 0 ? axis + rank : axis;
      if (a == rank - 1) {
        n.attrs["axis"] = int64_t{-1};
        return Status::Ok();
      }
    }
    // Flatten(X, axis) -> op(axis=1) -> Reshape(., Shape(X)).
    const ValueId x_id = n.inputs[0], y_id = n.outputs.at(0);
    const std::string base = n.name.empty() ? n.op_type : n.name;
    // Copied out: AddValue below may reallocate the value table and leave `x` dangling.
    const DataType dtype = x.info.dtype;
    ValueId flat = g_.AddValue(g_.UniqueValueName(base + "_2d"), {dtype, std::nullopt});
    ValueId out2d = g_.AddValue(g_.UniqueValueName(base + "_2d_out"), {dtype, std::nullopt});
    ValueId shape = g_.AddValue(g_.UniqueValueName(base + "_shape"), {DataType::kInt64, std::nullopt});
    g_.AddNode("Flatten", {x_id}, {flat}, {{"axis", axis}}, base + "_flatten");
    g_.AddNode("Shape", {x_id}, {shape}, {}, base + "_shape");
    Node& node = g_.node(id);
    g_.SetNodeInput(id, 0, flat);
    node.outputs[0] = out2d;
    g_.value(out2d).producer = id;
    node.attrs["axis"] = int64_t{1};
    g_.AddNode("Reshape", {out2d, shape}, {y_id}, {}, base + "_reshape");
    return Status::Ok();
  }

  // BatchNormalization-7 with spatial=0 keeps one statistic per activation: scale/B/mean/var are
  // [C, D1, ...] and broadcast against X [N, C, D1, ...] -- which is exactly the elementwise
  // formula Y = (X - mean) / sqrt(var + epsilon) * scale + B, so it becomes those five nodes.
  Status PerActivationBatchNorm(NodeId id) {
    Node& n = g_.node(id);
    if (n.inputs.size() < 5) return InvalidArgument("needs 5 inputs, has ", n.inputs.size());
    for (size_t i = 1; i < n.outputs.size(); ++i)
      if (n.outputs[i] != kNoValue && (!g_.value(n.outputs[i]).consumers.empty() || g_.IsGraphOutput(n.outputs[i])))
        return Unimplemented("training-mode outputs (running mean/variance) are not supported");
    const float epsilon = n.GetFloat("epsilon", 1e-5f);
    const std::vector<ValueId> in = n.inputs;
    const ValueId y = n.outputs.at(0);
    const std::string base = n.name.empty() ? "batchnorm" : n.name;
    const DataType dt = g_.value(in[0]).info.dtype;
    g_.RemoveNode(id);
    auto value = [&](const std::string& what) { return g_.AddValue(g_.UniqueValueName(base + "_" + what), {dt, std::nullopt}); };
    Tensor eps = Tensor::FromVector<float>({epsilon}, Shape{});
    if (dt != DataType::kUndefined && dt != DataType::kFloat32) {
      auto cast = CastTensor(eps, dt);
      if (!cast.ok()) return cast.status();
      eps = std::move(cast).value();
    }
    const ValueId eps_v = g_.AddConstant(g_.UniqueValueName(base + "_epsilon"), std::move(eps));
    const ValueId centered = value("centered"), var_eps = value("var_eps"), stddev = value("stddev");
    const ValueId normalized = value("normalized"), scaled = value("scaled");
    g_.AddNode("Sub", {in[0], in[3]}, {centered}, {}, base + "_sub");
    g_.AddNode("Add", {in[4], eps_v}, {var_eps}, {}, base + "_add_eps");
    g_.AddNode("Sqrt", {var_eps}, {stddev}, {}, base + "_sqrt");
    g_.AddNode("Div", {centered, stddev}, {normalized}, {}, base + "_div");
    g_.AddNode("Mul", {normalized, in[1]}, {scaled}, {}, base + "_mul");
    g_.AddNode("Add", {scaled, in[2]}, {y}, {}, base + "_add");
    return Status::Ok();
  }

  Status DropoutToIdentity(NodeId id) {
    Node& n = g_.node(id);
    if (n.outputs.size() > 1 && n.outputs[1] != kNoValue) {
      const ValueId mask = n.outputs[1];
      if (!g_.value(mask).consumers.empty() || g_.IsGraphOutput(mask)) return Status::Ok();
    }
    if (n.HasInput(2)) {
      const Value& tm = g_.value(n.inputs[2]);
      if (!tm.is_constant() || tm.constant.num_elements() != 1 || tm.constant.ElementAsInt64(0) != 0) return Status::Ok();
    }
    for (size_t i = n.inputs.size(); i-- > 1;) g_.SetNodeInput(id, i, kNoValue);
    Node& node = g_.node(id);
    node.inputs.resize(1);
    if (node.outputs.size() > 1 && node.outputs[1] != kNoValue) g_.value(node.outputs[1]).producer = kNoNode;
    node.outputs.resize(1);
    node.attrs.clear();
    node.op_type = "Identity";
    return Status::Ok();
  }

  Graph& g_;
  int64_t opset_;
};

}  // namespace

Status NormalizeOpsets(Graph& g) { return Normalizer(g).Run(); }

}  // namespace tutti
