#include "backends/cpu/ops/onednn_util.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>

namespace tutti::cpu {

using dnnl::memory;

dnnl::engine& DnnlEngine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& DnnlStream() {
  thread_local dnnl::stream stream(DnnlEngine());
  return stream;
}

memory::dims ToDnnlDims(const Shape& shape) {
  if (shape.empty()) return {1};
  return memory::dims(shape.begin(), shape.end());
}

memory::desc PlainDesc(const Shape& shape) {
  memory::dims dims = ToDnnlDims(shape);
  memory::dims strides(dims.size());
  memory::dim s = 1;
  for (size_t i = dims.size(); i-- > 0;) {
    strides[i] = s;
    s *= std::max<memory::dim>(dims[i], 1);
  }
  return memory::desc(dims, memory::data_type::f32, strides);
}

bool IsPlain(const memory::desc& md) {
  if (md.is_zero()) return true;
  memory::dims dims(md.data.dims, md.data.dims + md.data.ndims);
  return md == PlainDesc(Shape(dims.begin(), dims.end()));
}

dnnl::primitive_attr MakeAttr(const dnnl::post_ops& ops) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (ops.len() > 0) attr.set_post_ops(ops);
  return attr;
}

dnnl::memory DnnlScratchpad(const dnnl::primitive_desc_base& pd) {
  // Grow-only per thread: a run's primitives execute one after another on the calling thread, so
  // they can share one buffer (what oneDNN's own "global scratchpad" does, but accounted by us).
  thread_local std::shared_ptr<void> buffer;
  thread_local size_t capacity = 0;
  memory::desc md = pd.scratchpad_desc();
  size_t need = md.get_size();
  if (need > capacity) {
    buffer = AlignedBuffer(need);
    capacity = need;
  }
  return memory(md, DnnlEngine(), need ? buffer.get() : nullptr);
}

std::shared_ptr<void> AlignedBuffer(size_t bytes) {
  size_t rounded = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded);
  if (!p) throw std::bad_alloc();
  std::memset(p, 0, rounded);
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

// ---- fused attributes --------------------------------------------------------------------------
namespace {
struct ActivationSpec {
  dnnl::algorithm alg;
  float default_alpha, default_beta;
};
const std::map<std::string, ActivationSpec>& Activations() {
  static const std::map<std::string, ActivationSpec> m = {
      {"Relu", {dnnl::algorithm::eltwise_relu, 0.f, 0.f}},
      {"LeakyRelu", {dnnl::algorithm::eltwise_relu, 0.01f, 0.f}},
      {"Clip", {dnnl::algorithm::eltwise_clip_v2, -INFINITY, INFINITY}},
      {"Sigmoid", {dnnl::algorithm::eltwise_logistic, 0.f, 0.f}},
      {"HardSigmoid", {dnnl::algorithm::eltwise_linear, 0.2f, 0.5f}},  // then clip to [0, 1]
      {"HardSwish", {dnnl::algorithm::eltwise_hardswish, 0.f, 0.f}},
      {"Tanh", {dnnl::algorithm::eltwise_tanh, 0.f, 0.f}},
      {"Elu", {dnnl::algorithm::eltwise_elu, 1.f, 0.f}},
      {"Softplus", {dnnl::algorithm::eltwise_soft_relu, 0.f, 0.f}},
      {"Abs", {dnnl::algorithm::eltwise_abs, 0.f, 0.f}},
      {"Sqrt", {dnnl::algorithm::eltwise_sqrt, 0.f, 0.f}},
      {"Exp", {dnnl::algorithm::eltwise_exp, 0.f, 0.f}},
      {"Log", {dnnl::algorithm::eltwise_log, 0.f, 0.f}},
      {"Gelu", {dnnl::algorithm::eltwise_gelu_erf, 0.f, 0.f}},
  };
  return m;
}
}  // namespace

Result<FusedActivation> ParseFusedActivation(const Node& n) {
  FusedActivation act;
  act.op = n.GetString("_fused_activation", "");
  if (act.op.empty()) return act;
  auto it = Activations().find(act.op);
  if (it == Activations().end())
    return Unimplemented(NodeLabel(n), ": fused activation '", act.op, "' is not supported");
  act.alpha = n.GetFloat("_fused_alpha", it->second.default_alpha);
  act.beta = n.GetFloat("_fused_beta", it->second.default_beta);
  return act;
}

bool HasFusedSum(const Node& n) { return n.GetInt("_fused_sum", 0) != 0; }

void AppendActivation(const FusedActivation& act, dnnl::post_ops& ops) {
  if (act.op.empty()) return;
  const ActivationSpec& spec = Activations().at(act.op);
  ops.append_eltwise(1.f, spec.alg, act.alpha, act.beta);
  if (act.op == "HardSigmoid") ops.append_eltwise(1.f, dnnl::algorithm::eltwise_clip_v2, 0.f, 1.f);
}

float ApplyActivation(const FusedActivation& act, float x) {
  const std::string& op = act.op;
  if (op.empty()) return x;
  if (op == "Relu") return x > 0 ? x : 0.f;
  if (op == "LeakyRelu") return x > 0 ? x : act.alpha * x;
  if (op == "Clip") return std::min(std::max(x, act.alpha), act.beta);
  if (op == "Sigmoid") return 1.f / (1.f + std::exp(-x));
  if (op == "HardSigmoid") return std::min(1.f, std::max(0.f, act.alpha * x + act.beta));
  if (op == "HardSwish") return x * std::min(1.f, std::max(0.f, x / 6.f + 0.5f));
  if (op == "Tanh") return std::tanh(x);
  if (op == "Elu") return x > 0 ? x : act.alpha * (std::exp(x) - 1.f);
  if (op == "Softplus") return std::log1p(std::exp(x));
  if (op == "Abs") return std::fabs(x);
  if (op == "Sqrt") return std::sqrt(x);
  if (op == "Exp") return std::exp(x);
  if (op == "Log") return std::log(x);
  if (op == "Gelu") return 0.5f * x * (1.f + std::erf(x / std::sqrt(2.f)));
  return x;
}

// ---- layouts -----------------------------------------------------------------------------------
LayoutConverter::LayoutConverter(const memory::desc& from, const memory::desc& to)
    : needed_(!(from == to)), from_(from), to_(to) {
  if (needed_) reorder_ = dnnl::reorder(dnnl::reorder::primitive_desc(DnnlEngine(), from, DnnlEngine(), to));
}

void* LayoutConverter::Convert(const void* src) {
  if (!needed_) return const_cast<void*>(src);
  if (!buffer_) buffer_ = AlignedBuffer(to_.get_size());
  ConvertInto(src, buffer_.get());
  return buffer_.get();
}

void LayoutConverter::ConvertInto(const void* src, void* dst) {
  if (!needed_) {
    if (src != dst) std::memcpy(dst, src, to_.get_size());
    return;
  }
  memory in(from_, DnnlEngine(), const_cast<void*>(src));
  memory out(to_, DnnlEngine(), dst);
  reorder_.execute(DnnlStream(), in, out);
  DnnlStream().wait();
}

std::shared_ptr<void> ReorderConstant(const void* src, const memory::desc& from, const memory::desc& to) {
  std::shared_ptr<void> out = AlignedBuffer(to.get_size());
  LayoutConverter(from, to).ConvertInto(src, out.get());
  return out;
}

// ---- registry ----------------------------------------------------------------------------------
namespace {
struct LayoutAwareEntry {
  LayoutAwareFactory factory;
  LayoutAwareApplies applies;  // empty: every node of the op
};
std::map<std::string, LayoutAwareEntry>& LayoutAwareFactories() {
  static std::map<std::string, LayoutAwareEntry> m;
  return m;
}
}  // namespace

const LayoutAwareFactory* FindLayoutAwareFactory(const Graph& g, const Node& n) {
  if (!n.domain.empty()) return nullptr;
  auto it = LayoutAwareFactories().find(n.op_type);
  if (it == LayoutAwareFactories().end()) return nullptr;
  if (it->second.applies && !it->second.applies(g, n)) return nullptr;
  return &it->second.factory;
}

LayoutAwareRegistrar::LayoutAwareRegistrar(const std::string& op_type, LayoutAwareFactory factory,
                                           LayoutAwareApplies applies) {
  LayoutAwareFactories()[op_type] = {std::move(factory), std::move(applies)};
}

LayoutAwareRegistrar::LayoutAwareRegistrar(const std::string& op_type, LayoutAwareFactory factory,
                                           KernelSupport supports) {
  LayoutAwareFactories()[op_type] = {factory, nullptr};
  KernelRegistry::Get().Register(KernelRegistration{
      op_type, "",
      [factory](const KernelBuildInfo& info) -> Result<std::unique_ptr<CpuKernel>> {
        TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<LayoutAwareKernel> k, factory(info, LayoutRequest{}));
        return std::unique_ptr<CpuKernel>(std::move(k));
      },
      std::move(supports)});
}

}  // namespace tutti::cpu
