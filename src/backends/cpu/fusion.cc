#include "backends/cpu/fusion.h"

#include <cmath>
#include <optional>
#include <set>

namespace tutti::cpu {
namespace {

bool IsFloat(const Graph& g, ValueId v) { return g.value(v).info.dtype == DataType::kFloat32; }

// The only consumer of `v` (one use), or kNoNode. Graph outputs have an outside consumer.
NodeId SoleConsumer(const Graph& g, ValueId v) {
  const Value& val = g.value(v);
  if (val.consumers.size() != 1 || g.IsGraphOutput(v)) return kNoNode;
  return val.consumers[0];
}

std::optional<float> ConstantScalar(const Graph& g, const Node& n, size_t i) {
  if (!n.HasInput(i)) return std::nullopt;
  const Value& v = g.value(n.inputs[i]);
  if (!v.is_constant() || v.constant.num_elements() != 1) return std::nullopt;
  return static_cast<float>(v.constant.ElementAsDouble(0));
}

// The activation `n` computes as (name, alpha, beta), if it is one oneDNN can apply as a post-op.
struct Activation {
  std::string op;
  float alpha = 0.f, beta = 0.f;
};
std::optional<Activation> AsActivation(const Graph& g, const Node& n) {
  if (!n.domain.empty() || n.inputs.empty() || !n.HasInput(0) || n.outputs.size() != 1) return std::nullopt;
  const std::string& op = n.op_type;
  if (op == "Relu" || op == "Sigmoid" || op == "Tanh" || op == "HardSwish") return Activation{op};
  if (op == "LeakyRelu") return Activation{op, n.GetFloat("alpha", 0.01f)};
  if (op == "Elu") return Activation{op, n.GetFloat("alpha", 1.f)};
  if (op == "HardSigmoid") return Activation{op, n.GetFloat("alpha", 0.2f), n.GetFloat("beta", 0.5f)};
  if (op == "Clip") {
    // Opset >= 11 passes min/max as (optional) inputs; they must be constants to fuse.
    Activation a{op, n.GetFloat("min", -INFINITY), n.GetFloat("max", INFINITY)};
    for (size_t i = 1; i <= 2; ++i) {
      if (!n.HasInput(i)) continue;
      std::optional<float> v = ConstantScalar(g, n, i);
      if (!v) return std::nullopt;
      (i == 1 ? a.alpha : a.beta) = *v;
    }
    return a;
  }
  return std::nullopt;
}

// Moves `absorbed`'s output onto `host` and tombstones `absorbed`.
void Absorb(Graph& g, NodeId host, NodeId absorbed) {
  const ValueId out = g.node(absorbed).outputs[0];
  g.RemoveNode(absorbed);
  g.node(host).outputs[0] = out;
  g.value(out).producer = host;
}

bool FuseActivation(Graph& g, NodeId id) {
  Node& host = g.node(id);
  if (host.HasAttr("_fused_activation")) return false;
  NodeId next = SoleConsumer(g, host.outputs[0]);
  if (next == kNoNode) return false;
  std::optional<Activation> act = AsActivation(g, g.node(next));
  if (!act || g.node(next).inputs[0] != host.outputs[0]) return false;
  Absorb(g, id, next);
  Node& h = g.node(id);
  h.attrs["_fused_activation"] = act->op;
  h.attrs["_fused_alpha"] = act->alpha;
  h.attrs["_fused_beta"] = act->beta;
  return true;
}

// Conv -> Add(conv, other) with `other` of the same shape: other becomes input 3, summed in place.
bool FuseSum(Graph& g, NodeId id) {
  Node& host = g.node(id);
  if (host.op_type != "Conv" || host.HasAttr("_fused_sum") || host.HasAttr("_fused_activation")) return false;
  const ValueId y = host.outputs[0];
  NodeId next = SoleConsumer(g, y);
  if (next == kNoNode) return false;
  const Node& add = g.node(next);
  if (add.op_type != "Add" || !add.domain.empty() || add.inputs.size() != 2 || !add.HasInput(0) || !add.HasInput(1))
    return false;
  const ValueId other = add.inputs[0] == y ? add.inputs[1] : add.inputs[0];
  if (other == y || !IsFloat(g, other) || g.value(other).is_constant()) return false;
  const auto& ys = g.value(y).info.shape;
  const auto& os = g.value(other).info.shape;
  if (!ys || !os || !ToConcrete(*ys) || *ys != *os) return false;  // no broadcasting in a sum post-op
  Absorb(g, id, next);
  Node& h = g.node(id);
  if (h.inputs.size() < 4) h.inputs.resize(4, kNoValue);
  g.SetNodeInput(id, 3, other);
  g.node(id).attrs["_fused_sum"] = int64_t{1};
  return true;
}

}  // namespace

int FuseActivationsAndSums(Graph& g) {
  auto order = g.TopologicalOrder();
  if (!order.ok()) return 0;
  int fused = 0;
  for (NodeId id : *order) {
    const Node& n = g.node(id);
    if (n.removed || !n.domain.empty() || n.outputs.size() != 1 || n.outputs[0] == kNoValue) continue;
    const bool conv = n.op_type == "Conv" || n.op_type == "ConvTranspose";
    if (!conv && n.op_type != "Gemm" && n.op_type != "MatMul") continue;
    if (!IsFloat(g, n.outputs[0])) continue;
    if (n.op_type == "Conv" && FuseSum(g, id)) ++fused;
    if (FuseActivation(g, id)) ++fused;
  }
  return fused;
}

}  // namespace tutti::cpu
