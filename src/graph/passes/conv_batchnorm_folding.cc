// Conv / ConvTranspose followed by an inference BatchNormalization: BN is a per-output-channel
// affine map y = s*x + t with s = scale/sqrt(var+eps), t = bias - mean*s, so it folds into the
// convolution as W'[o,...] = s[o]*W[o,...] and B'[o] = s[o]*B[o] + t[o] (computed in double).
// New constants are added rather than the old ones rewritten: a weight may be shared.
#include <cmath>

#include "graph/passes/passes.h"

namespace tutti::passes {
namespace {

// The constant float32 vector of `n_elems` elements at input i, or null.
const Tensor* ConstVector(const Graph& g, const Node& n, size_t i, int64_t n_elems) {
  if (!n.HasInput(i)) return nullptr;
  const Value& v = g.value(n.inputs[i]);
  if (!v.is_constant() || v.constant.dtype() != DataType::kFloat32 || v.constant.num_elements() != n_elems) return nullptr;
  return &v.constant;
}

bool OnlyFirstOutputUsed(const Graph& g, const Node& n) {
  for (size_t o = 1; o < n.outputs.size(); ++o) {
    const ValueId v = n.outputs[o];
    if (v != kNoValue && (!g.value(v).consumers.empty() || g.IsGraphOutput(v))) return false;
  }
  return true;
}

bool TryFold(Graph& g, NodeId conv_id) {
  const Node& conv = g.node(conv_id);
  const bool transpose = conv.op_type == "ConvTranspose";
  if (conv.removed || !conv.domain.empty() || (conv.op_type != "Conv" && !transpose)) return false;
  if (conv.outputs.size() != 1 || conv.outputs[0] == kNoValue || !conv.HasInput(1) || conv.inputs.size() > 3) return false;
  for (const auto& [key, attr] : conv.attrs)
    if (key.rfind("_fused", 0) == 0) return false;  // a backend's fused form: not a plain Conv any more
  const ValueId y = conv.outputs[0];
  const Value& yv = g.value(y);
  if (g.IsGraphOutput(y) || yv.consumers.size() != 1) return false;
  const NodeId bn_id = yv.consumers[0];
  const Node& bn = g.node(bn_id);
  if (bn.op_type != "BatchNormalization" || !bn.domain.empty() || bn.inputs.size() < 5 || bn.inputs[0] != y ||
      bn.outputs.empty() || bn.outputs[0] == kNoValue || !OnlyFirstOutputUsed(g, bn) || bn.GetInt("training_mode", 0) != 0)
    return false;

  const Value& wv = g.value(conv.inputs[1]);
  if (!wv.is_constant() || wv.constant.dtype() != DataType::kFloat32 || wv.constant.rank() < 3) return false;
  const Tensor& w = wv.constant;
  // An empty weight has nothing to fold, and the row sizes below would divide by zero.
  if (w.num_elements() == 0) return false;
  const int64_t group = conv.GetInt("group", 1);
  if (group <= 0) return false;
  // Output channels: Conv W is [M, C/group, k...]; ConvTranspose W is [C, M/group, k...]. Checking
  // divisibility first bounds group by W's size, so M cannot overflow.
  if (transpose && w.dim(0) % group != 0) return false;
  const int64_t m = transpose ? w.dim(1) * group : w.dim(0);
  const Tensor* bias = conv.HasInput(2) ? ConstVector(g, conv, 2, m) : nullptr;
  if (conv.HasInput(2) && !bias) return false;
  const Tensor* scale = ConstVector(g, bn, 1, m);
  const Tensor* shift = ConstVector(g, bn, 2, m);
  const Tensor* mean = ConstVector(g, bn, 3, m);
  const Tensor* var = ConstVector(g, bn, 4, m);
  if (!scale || !shift || !mean || !var) return false;

  const double eps = bn.GetFloat("epsilon", 1e-5f);
  std::vector<double> s(static_cast<size_t>(m));
  std::vector<float> new_bias(static_cast<size_t>(m));
  for (int64_t o = 0; o < m; ++o) {
    const double var_o = var->data<float>()[o];
    if (!(var_o + eps > 0)) return false;  // a malformed BN (negative variance) is left to fail at run time
    s[static_cast<size_t>(o)] = scale->data<float>()[o] / std::sqrt(var_o + eps);
    const double b = bias ? bias->data<float>()[o] : 0.0;
    new_bias[static_cast<size_t>(o)] =
        static_cast<float>((b - mean->data<float>()[o]) * s[static_cast<size_t>(o)] + shift->data<float>()[o]);
  }
  auto folded = Tensor::Allocate(DataType::kFloat32, w.shape());
  if (!folded.ok()) return false;
  const int64_t per_row = w.num_elements() / w.dim(0);  // elements per W[i, ...]
  const int64_t inner = per_row / w.dim(1);             // elements per W[i, j, ...]
  const int64_t in_per_group = w.dim(0) / group;
  const float* src = w.data<float>();
  float* dst = folded->data<float>();
  for (int64_t i = 0; i < w.dim(0); ++i) {
    for (int64_t j = 0; j < w.dim(1); ++j) {
      const int64_t o = transpose ? (i / in_per_group) * w.dim(1) + j : i;
      const double so = s[static_cast<size_t>(o)];
      const int64_t base = i * per_row + j * inner;
      for (int64_t k = 0; k < inner; ++k) dst[base + k] = static_cast<float>(src[base + k] * so);
    }
  }

  const std::string base = conv.name.empty() ? g.value(y).name : conv.name;
  const ValueId new_w = g.AddConstant(g.UniqueValueName(base + "_bn_weight"), std::move(folded).value());
  const ValueId new_b = g.AddConstant(g.UniqueValueName(base + "_bn_bias"), Tensor::FromVector<float>(new_bias, Shape{m}));
  const ValueId bn_out = g.node(bn_id).outputs[0];
  g.RemoveNode(bn_id);
  g.SetNodeInput(conv_id, 1, new_w);
  Node& c = g.node(conv_id);
  if (c.inputs.size() < 3) c.inputs.resize(3, kNoValue);
  g.SetNodeInput(conv_id, 2, new_b);
  g.node(conv_id).outputs[0] = bn_out;
  g.value(bn_out).producer = conv_id;
  g.value(y).producer = kNoNode;
  return true;
}

}  // namespace

int FoldConvBatchNorm(Graph& g) {
  int folded = 0;
  for (size_t i = 0; i < g.node_count(); ++i)
    if (TryFold(g, static_cast<NodeId>(i))) ++folded;
  return folded;
}

}  // namespace tutti::passes
