// BatchNormalization (inference, layout-aware) and LRN through oneDNN.
#include <cmath>
#include <cstring>

#include "backends/cpu/ops/onednn_util.h"

namespace tutti::cpu {
namespace {

using dnnl::memory;

class BatchNormKernel final : public LayoutAwareKernel {
 public:
  static Result<std::unique_ptr<LayoutAwareKernel>> Make(const KernelBuildInfo& info, const LayoutRequest& req) {
    const Node& n = info.node;
    if (n.GetInt("training_mode", 0) != 0) return Unimplemented("BatchNormalization in training mode");
    auto xs = info.input_shape(0);
    if (!xs || xs->size() < 2) return InvalidArgument("input must have a known shape of rank >= 2");
    auto k = std::make_unique<BatchNormKernel>();
    k->shape_ = *xs;
    const int64_t c = (*xs)[1];
    for (size_t i = 1; i <= 4; ++i) {
      auto s = info.input_shape(i);
      if (!s || NumElements(*s) != c)
        return InvalidArgument("input ", i, " must have ", c, " values (one per channel)");
      if (const Tensor* t = info.constant_input(i)) {
        k->params_[i - 1] = AlignedBuffer(t->nbytes());
        std::memcpy(k->params_[i - 1].get(), t->raw_data(), t->nbytes());
      }
    }
    const float eps = n.GetFloat("epsilon", 1e-5f);
    const memory::desc in_md = req.input(0) ? *req.input(0) : PlainDesc(*xs);
    Status st = DnnlTry("creating the batch normalization", [&] {
      using F = dnnl::normalization_flags;
      // The output keeps the input's layout (oneDNN's BN has one data desc).
      dnnl::batch_normalization_forward::desc d(dnnl::prop_kind::forward_inference, in_md, eps,
                                                F::use_global_stats | F::use_scale | F::use_shift);
      k->pd_ = dnnl::batch_normalization_forward::primitive_desc(d, MakeAttr(), DnnlEngine());
      k->prim_ = dnnl::batch_normalization_forward(k->pd_);
      k->data_md_ = in_md;
      k->param_md_ = memory::desc({c}, memory::data_type::f32, memory::format_tag::a);
      if (!req.output_may_block && !IsPlain(in_md)) {
        k->to_plain_ = LayoutConverter(in_md, PlainDesc(*xs));
        k->tmp_ = AlignedBuffer(in_md.get_size());
      }
    });
    if (!st.ok()) return st;
    return std::unique_ptr<LayoutAwareKernel>(std::move(k));
  }

  Status Run(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    const void* p[4];
    for (size_t i = 0; i < 4; ++i) {
      const Tensor* t = ctx.input(i + 1);
      if (!params_[i] && !t) return InvalidArgument("missing input ", i + 1);
      p[i] = params_[i] ? params_[i].get() : t->raw_data();
    }
    TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, shape_, DataType::kFloat32));
    void* dst = to_plain_.needed() ? tmp_.get() : y->raw_data();
    auto mem = [&](const memory::desc& md, const void* ptr) { return memory(md, DnnlEngine(), const_cast<void*>(ptr)); };
    return DnnlTry("batch normalization", [&] {
      prim_.execute(DnnlStream(), {{DNNL_ARG_SRC, mem(data_md_, x->raw_data())},
                                   {DNNL_ARG_DST, mem(data_md_, dst)},
                                   {DNNL_ARG_SCALE, mem(param_md_, p[0])},
                                   {DNNL_ARG_SHIFT, mem(param_md_, p[1])},
                                   {DNNL_ARG_MEAN, mem(param_md_, p[2])},
                                   {DNNL_ARG_VARIANCE, mem(param_md_, p[3])},
                                   {DNNL_ARG_SCRATCHPAD, DnnlScratchpad(pd_)}});
      DnnlStream().wait();
      if (to_plain_.needed()) to_plain_.ConvertInto(dst, y->raw_data());
    });
  }
  bool output0_may_alias_input0() const override { return !to_plain_.needed(); }
  memory::desc output_desc() const override { return to_plain_.needed() ? memory::desc() : data_md_; }
  size_t output_bytes() const override { return to_plain_.needed() ? 0 : data_md_.get_size(); }

 private:
  dnnl::batch_normalization_forward::primitive_desc pd_;
  dnnl::batch_normalization_forward prim_;
  memory::desc data_md_, param_md_;
  std::shared_ptr<void> params_[4];  // scale, shift, mean, variance when constant
  LayoutConverter to_plain_;
  std::shared_ptr<void> tmp_;
  Shape shape_;
};

// ONNX LRN: y = x / (bias + alpha/size * sum of x^2 over channels [c - (size-1)/2, c + size/2])^beta.
// oneDNN's across-channel LRN centres odd windows the same way; even windows use this loop.
class LrnKernel final : public LayoutAwareKernel {
 public:
  static Result<std::unique_ptr<LayoutAwareKernel>> Make(const KernelBuildInfo& info, const LayoutRequest&) {
    const Node& n = info.node;
    auto xs = info.input_shape(0);
    if (!xs || xs->size() < 3) return InvalidArgument("input must have a known shape of rank >= 3");
    auto k = std::make_unique<LrnKernel>();
    k->shape_ = *xs;
    k->size_ = n.GetInt("size", 0);
    if (k->size_ < 1) return InvalidArgument("size must be positive");
    k->alpha_ = n.GetFloat("alpha", 1e-4f);
    k->beta_ = n.GetFloat("beta", 0.75f);
    k->bias_ = n.GetFloat("bias", 1.f);
    if (k->size_ % 2 == 1) {
      Status st = DnnlTry("creating the LRN", [&] {
        k->md_ = PlainDesc(*xs);
        dnnl::lrn_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::lrn_across_channels, k->md_,
                                  k->size_, k->alpha_, k->beta_, k->bias_);
        k->pd_ = dnnl::lrn_forward::primitive_desc(d, MakeAttr(), DnnlEngine());
        k->prim_ = dnnl::lrn_forward(k->pd_);
      });
      if (!st.ok()) return st;
    }
    return std::unique_ptr<LayoutAwareKernel>(std::move(k));
  }

  Status Run(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, shape_, DataType::kFloat32));
    if (size_ % 2 == 1) {
      return DnnlTry("LRN", [&] {
        prim_.execute(DnnlStream(), {{DNNL_ARG_SRC, memory(md_, DnnlEngine(), const_cast<void*>(x->raw_data()))},
                                     {DNNL_ARG_DST, memory(md_, DnnlEngine(), y->raw_data())},
                                     {DNNL_ARG_SCRATCHPAD, DnnlScratchpad(pd_)}});
        DnnlStream().wait();
      });
    }
    const int64_t n = shape_[0], c = shape_[1], inner = NumElements(shape_) / std::max<int64_t>(n * c, 1);
    const float* in = x->data<float>();
    float* out = y->data<float>();
    const int64_t lo = (size_ - 1) / 2, hi = size_ / 2;
#pragma omp parallel for collapse(2) schedule(static) if (n * c * inner > (1 << 15))
    for (int64_t b = 0; b < n; ++b)
      for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t i = 0; i < inner; ++i) {
          double sq = 0;
          for (int64_t j = std::max<int64_t>(0, ch - lo); j <= std::min(c - 1, ch + hi); ++j) {
            const double v = in[(b * c + j) * inner + i];
            sq += v * v;
          }
          const int64_t at = (b * c + ch) * inner + i;
          out[at] = static_cast<float>(in[at] / std::pow(bias_ + alpha_ / static_cast<double>(size_) * sq, beta_));
        }
    return Status::Ok();
  }

 private:
  dnnl::lrn_forward::primitive_desc pd_;
  dnnl::lrn_forward prim_;
  memory::desc md_;
  Shape shape_;
  int64_t size_ = 0;
  float alpha_ = 0, beta_ = 0, bias_ = 0;
};

Status SupportsFloatInputs(const Graph& g, const Node& n) {
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    if (!n.HasInput(i)) return InvalidArgument(n.op_type, " needs input ", i);
    DataType t = g.value(n.inputs[i]).info.dtype;
    if (t != DataType::kFloat32 && t != DataType::kUndefined) return Unimplemented(n.op_type, " on ", DataTypeName(t));
  }
  if (n.op_type == "BatchNormalization") {
    if (n.inputs.size() != 5) return InvalidArgument("BatchNormalization needs 5 inputs");
    if (n.GetInt("training_mode", 0) != 0) return Unimplemented("BatchNormalization in training mode");
    if (n.GetInt("spatial", 1) != 1) return Unimplemented("BatchNormalization with spatial=0");
    for (size_t i = 1; i < n.outputs.size(); ++i)
      if (n.outputs[i] != kNoValue) return Unimplemented("BatchNormalization's training outputs");
  }
  return Status::Ok();
}

TUTTI_REGISTER_LAYOUT_AWARE_KERNEL("BatchNormalization", BatchNormKernel::Make, SupportsFloatInputs);
TUTTI_REGISTER_CPU_KERNEL("LRN", "", [](const KernelBuildInfo& info) -> Result<std::unique_ptr<CpuKernel>> {
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<LayoutAwareKernel> k, LrnKernel::Make(info, LayoutRequest{}));
  return std::unique_ptr<CpuKernel>(std::move(k));
}, SupportsFloatInputs);

}  // namespace
}  // namespace tutti::cpu
