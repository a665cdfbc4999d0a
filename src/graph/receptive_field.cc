#include "graph/receptive_field.h"

#include <algorithm>
#include <set>

namespace tutti {

namespace {

// Layers that map each output row to the same input row (channel-wise or element-wise).
const std::set<std::string>& PointwiseOps() {
  static const std::set<std::string> ops = {
      "Relu", "LeakyRelu", "PRelu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Elu", "Selu", "Softplus",
      "Exp", "Neg", "Abs", "Sqrt", "Identity", "Dropout", "BatchNormalization", "Add", "Sub", "Mul", "Div", "Max",
      "Min", "Sum", "Mean", "Concat", "LRN", "Erf", "Gelu", "Mish"};
  return ops;
}
const std::set<std::string>& WindowOps() {
  static const std::set<std::string> ops = {"Conv", "MaxPool", "AveragePool"};
  return ops;
}

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The height is axis 2 of NCHW; a constant of rank r broadcast against it meets the height at
// axis r-2 (when r >= 2). Per-channel constants ([C,1,1], [C]) do not vary along the height.
Status CheckConstantIsRowInvariant(const Graph& g, const Node& node, ValueId v) {
  const Tensor& t = g.value(v).constant;
  if (t.rank() >= 2 && t.dim(t.rank() - 2) != 1)
    return InvalidArgument(NodeLabel(node), ": constant '", g.value(v).name, "' ", ShapeToString(t.shape()),
                           " varies along the height, so the layer cannot run on row bands");
  return Status::Ok();
}

}  // namespace

RowRange Hull(const RowRange& a, const RowRange& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return {std::min(a.begin, b.begin), std::max(a.end, b.end)};
}

std::string RowRangeToString(const RowRange& r) { return StrCat("[", r.begin, ",", r.end, ")"); }

int64_t HeightWindow::OutputHeight(int64_t in_h) const {
  int64_t span = in_h + pad_top + pad_bottom - extent();
  if (span < 0) return 0;
  if (!ceil_mode) return span / stride + 1;
  int64_t out = CeilDiv(span, stride) + 1;
  // As in PyTorch and ONNX Runtime: the last window must start inside the input or the top pad.
  if ((out - 1) * stride >= in_h + pad_top) --out;
  return out;
}

RowRange HeightWindow::InputRows(const RowRange& out, int64_t in_h) const {
  if (out.empty()) return {};
  int64_t first = out.begin * stride - pad_top;
  int64_t last = (out.end - 1) * stride - pad_top + extent();  // exclusive
  return {std::clamp<int64_t>(first, 0, in_h), std::clamp<int64_t>(last, 0, in_h)};
}

bool IsRowSplittable(const Graph& g, const Node& node) {
  if (node.domain != "") return false;
  if (WindowOps().count(node.op_type)) return true;
  if (!PointwiseOps().count(node.op_type)) return false;
  if (node.op_type == "Concat") {
    int64_t axis = node.GetInt("axis", 1);
    return axis == 1 || axis == -3;
  }
  return true;
}

Result<HeightWindow> HeightWindowOf(const Graph& g, const Node& node, int64_t in_h) {
  if (!IsRowSplittable(g, node))
    return InvalidArgument(NodeLabel(node), " cannot run on row bands (only convolutions, pools, point-wise "
                           "layers and channel concatenations can)");
  HeightWindow w;
  if (!WindowOps().count(node.op_type)) {
    for (size_t i = 0; i < node.inputs.size(); ++i)
      if (node.HasInput(i) && g.value(node.inputs[i]).is_constant())
        TUTTI_RETURN_IF_ERROR(CheckConstantIsRowInvariant(g, node, node.inputs[i]));
    return w;
  }
  std::vector<int64_t> kernel = node.GetInts("kernel_shape");
  if (kernel.empty() && node.op_type == "Conv" && node.HasInput(1)) {
    const Value& weight = g.value(node.inputs[1]);
    if (weight.is_constant() && weight.constant.rank() == 4) kernel = {weight.constant.dim(2), weight.constant.dim(3)};
    else if (weight.info.shape && weight.info.shape->size() == 4 && (*weight.info.shape)[2].known())
      kernel = {(*weight.info.shape)[2].value, (*weight.info.shape)[3].value};
  }
  if (kernel.size() != 2)
    return InvalidArgument(NodeLabel(node), ": row bands need a 2-D window, kernel_shape has ", kernel.size(), " dims");
  std::vector<int64_t> strides = node.GetInts("strides", {1, 1});
  std::vector<int64_t> dilations = node.GetInts("dilations", {1, 1});
  std::vector<int64_t> pads = node.GetInts("pads", {0, 0, 0, 0});
  if (strides.size() != 2 || dilations.size() != 2 || pads.size() != 4)
    return InvalidArgument(NodeLabel(node), ": strides/dilations/pads do not describe a 2-D window");
  w.kernel = kernel[0];
  w.stride = strides[0];
  w.dilation = dilations[0];
  w.pad_top = pads[0];
  w.pad_bottom = pads[2];
  w.ceil_mode = node.GetInt("ceil_mode", 0) != 0;
  if (w.kernel < 1 || w.stride < 1 || w.dilation < 1 || w.pad_top < 0 || w.pad_bottom < 0)
    return InvalidArgument(NodeLabel(node), ": kernel, stride and dilation must be positive and pads non-negative");
  std::string auto_pad = node.GetString("auto_pad", "NOTSET");
  if (auto_pad == "VALID") {
    w.pad_top = w.pad_bottom = 0;
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    int64_t out = CeilDiv(in_h, w.stride);
    int64_t total = std::max<int64_t>(0, (out - 1) * w.stride + w.extent() - in_h);
    w.pad_top = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
    w.pad_bottom = total - w.pad_top;
  } else if (auto_pad != "NOTSET") {
    return InvalidArgument(NodeLabel(node), ": unknown auto_pad '", auto_pad, "'");
  }
  // An average over a partial last window divides by a count that depends on where the band
  // ends; such pools stay whole.
  if (node.op_type == "AveragePool" && w.ceil_mode && node.GetInt("count_include_pad", 0) != 0)
    return InvalidArgument(NodeLabel(node), ": AveragePool with ceil_mode and count_include_pad cannot run on row bands");
  return w;
}

Result<std::map<ValueId, int64_t>> PropagateHeights(const Graph& g, std::span<const NodeId> nodes, ValueId input,
                                                    int64_t in_h) {
  std::map<ValueId, int64_t> h{{input, in_h}};
  for (NodeId id : nodes) {
    const Node& n = g.node(id);
    int64_t node_h = -1;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      if (!n.HasInput(i)) continue;
      ValueId v = n.inputs[i];
      if (g.value(v).is_constant()) continue;
      auto it = h.find(v);
      if (it == h.end())
        return InvalidArgument(NodeLabel(n), " reads '", g.value(v).name,
                               "', which comes from outside the layer group (a group has one input)");
      if (WindowOps().count(n.op_type) && i > 0)
        return InvalidArgument(NodeLabel(n), ": computed weights ('", g.value(v).name, "') cannot be split by rows");
      if (node_h >= 0 && it->second != node_h)
        return InvalidArgument(NodeLabel(n), ": inputs of different heights (", node_h, " and ", it->second, ")");
      node_h = it->second;
    }
    if (node_h < 0) return InvalidArgument(NodeLabel(n), " has no input that varies along the height");
    TUTTI_ASSIGN_OR_RETURN(HeightWindow w, HeightWindowOf(g, n, node_h));
    int64_t out_h = w.OutputHeight(node_h);
    if (out_h < 1) return InvalidArgument(NodeLabel(n), ": an input of ", node_h, " rows gives no output rows");
    for (ValueId out : n.outputs) {
      if (out == kNoValue) continue;
      const Value& v = g.value(out);
      if (v.info.shape && v.info.shape->size() != 4)
        return InvalidArgument(NodeLabel(n), ": output '", v.name, "' is not 4-D (NCHW)");
      if (v.info.shape && (*v.info.shape)[2].known() && (*v.info.shape)[2].value != out_h && out == n.outputs[0])
        return InvalidArgument(NodeLabel(n), ": output '", v.name, "' is declared with ", (*v.info.shape)[2].value,
                               " rows, the window gives ", out_h);
      h[out] = out_h;
    }
  }
  return h;
}

Result<std::map<ValueId, RowRange>> RequiredRows(const Graph& g, std::span<const NodeId> nodes, ValueId output,
                                                 RowRange out_rows, const std::map<ValueId, int64_t>& heights) {
  auto height = [&](ValueId v) -> Result<int64_t> {
    auto it = heights.find(v);
    if (it == heights.end()) return InvalidArgument("value '", g.value(v).name, "' has no known height");
    return it->second;
  };
  TUTTI_ASSIGN_OR_RETURN(int64_t out_h, height(output));
  if (out_rows.begin < 0 || out_rows.end > out_h || out_rows.empty())
    return InvalidArgument("rows ", RowRangeToString(out_rows), " are outside '", g.value(output).name, "' (",
                           out_h, " rows)");
  std::map<ValueId, RowRange> need{{output, out_rows}};
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    const Node& n = g.node(*it);
    if (n.outputs.empty() || n.outputs[0] == kNoValue) continue;
    auto wanted = need.find(n.outputs[0]);
    if (wanted == need.end()) continue;  // nothing downstream reads this node within the rows asked
    RowRange out = wanted->second;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      if (!n.HasInput(i) || g.value(n.inputs[i]).is_constant()) continue;
      ValueId v = n.inputs[i];
      TUTTI_ASSIGN_OR_RETURN(int64_t in_h, height(v));
      TUTTI_ASSIGN_OR_RETURN(HeightWindow w, HeightWindowOf(g, n, in_h));
      need[v] = Hull(need[v], w.InputRows(out, in_h));
    }
  }
  return need;
}

}  // namespace tutti
