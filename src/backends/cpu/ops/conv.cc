// Conv and ConvTranspose through oneDNN: grouped/depthwise, dilated, padded (auto_pad), strided,
// 1-D/2-D/3-D, with the fused activation and residual sum as post-ops. Weights are reordered once
// into the layout the primitive prefers; activations stay blocked when the executable allows.
#include <cstring>

#include "backends/cpu/ops/conv_blocks.h"
#include "backends/cpu/ops/onednn_util.h"
#include "backends/cpu/ops/window_geometry.h"

namespace tutti::cpu {
namespace {

using dnnl::memory;
using tag = memory::format_tag;

class ConvKernel final : public LayoutAwareKernel {
 public:
  bool runs_whole_on_thread_team() const override { return !blocks_; }
  static Result<std::unique_ptr<LayoutAwareKernel>> Make(const KernelBuildInfo& info, const LayoutRequest& req,
                                                         bool transposed);

  Status Run(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    const Tensor* w = ctx.input(1);
    if (!x || !w) return InvalidArgument("missing input or weights");
    void* src = src_.Convert(x->raw_data());
    void* wei = weights_ ? weights_.get() : wei_.Convert(w->raw_data());
    void* bias = nullptr;
    if (has_bias_) bias = bias_ ? bias_.get() : const_cast<void*>(ctx.input(2)->raw_data());
    TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, out_shape_, DataType::kFloat32));
    void* dst = y->raw_data();
    if (dst_.needed()) {
      if (!dst_tmp_) dst_tmp_ = AlignedBuffer(pd_dst_.get_size());
      dst = dst_tmp_.get();
    }
    if (sum_input_ >= 0) {
      const Tensor* s = ctx.input(static_cast<size_t>(sum_input_));
      if (!s || s->num_elements() != NumElements(out_shape_))
        return InvalidArgument("fused sum input must have the output's shape ", ShapeToString(out_shape_));
      sum_.ConvertInto(s->raw_data(), dst);
    }
    if (blocks_) {  // cut into blocks on the pinned core pool (asymmetric/block_partition.h)
      TUTTI_RETURN_IF_ERROR(blocks_->Run(src, dst, bias));
      return DnnlTry("convolution", [&] {
        if (dst_.needed()) dst_.ConvertInto(dst, y->raw_data());
      });
    }
    std::unordered_map<int, memory> args = {
        {DNNL_ARG_SRC, memory(pd_src_, DnnlEngine(), src)},
        {DNNL_ARG_WEIGHTS, memory(pd_wei_, DnnlEngine(), wei)},
        {DNNL_ARG_DST, memory(pd_dst_, DnnlEngine(), dst)},
        {DNNL_ARG_SCRATCHPAD, DnnlScratchpad(pd_)}};
    if (bias) args[DNNL_ARG_BIAS] = memory(bias_md_, DnnlEngine(), bias);
    Status st = DnnlTry("convolution", [&] {
      prim_.execute(DnnlStream(), args);
      DnnlStream().wait();
      if (dst_.needed()) dst_.ConvertInto(dst, y->raw_data());
    });
    return st;
  }

  memory::desc output_desc() const override { return dst_.needed() ? memory::desc() : pd_dst_; }
  size_t output_bytes() const override { return dst_.needed() ? 0 : pd_dst_.get_size(); }
  size_t weight_bytes() const override { return weight_bytes_; }
  int inplace_input() const override { return sum_input_ >= 0 && !sum_.needed() && !dst_.needed() ? sum_input_ : -1; }

 private:
  bool transposed_ = false;
  dnnl::primitive prim_;
  dnnl::primitive_desc pd_;
  memory::desc pd_src_, pd_dst_, pd_wei_, bias_md_;
  LayoutConverter src_, wei_, sum_, dst_;  // input -> primitive src, weights, sum -> dst, dst -> plain
  std::shared_ptr<void> weights_, bias_, dst_tmp_;
  size_t weight_bytes_ = 0;
  bool has_bias_ = false;
  int sum_input_ = -1;
  Shape out_shape_;
  std::unique_ptr<ConvBlocks> blocks_;
};

Result<std::unique_ptr<LayoutAwareKernel>> ConvKernel::Make(const KernelBuildInfo& info, const LayoutRequest& req,
                                                            bool transposed) {
  const Node& n = info.node;
  auto xs = info.input_shape(0);
  auto ws = info.input_shape(1);
  if (!xs || !ws) return InvalidArgument("input and weight shapes must be known at compile time");
  const Shape& x = *xs;
  const Shape& w = *ws;
  if (x.size() < 3 || x.size() > 5) return Unimplemented("rank-", x.size(), " input (1-D to 3-D convolutions)");
  if (w.size() != x.size()) return InvalidArgument("weights rank ", w.size(), " differs from input rank ", x.size());
  const int64_t groups = n.GetInt("group", 1);
  const int64_t c_in = x[1];
  if (groups < 1 || c_in % groups != 0) return InvalidArgument("group ", groups, " does not divide ", c_in, " channels");
  // ONNX weights: Conv [Cout, Cin/g, k...]; ConvTranspose [Cin, Cout/g, k...].
  const int64_t c_out = transposed ? w[1] * groups : w[0];
  if (!transposed && w[1] * groups != c_in)
    return InvalidArgument("weights expect ", w[1] * groups, " input channels, input has ", c_in);
  if (transposed && w[0] != c_in) return InvalidArgument("weights expect ", w[0], " input channels, input has ", c_in);
  if (c_out % groups != 0) return InvalidArgument("group ", groups, " does not divide ", c_out, " output channels");
  std::vector<int64_t> kernel = n.GetInts("kernel_shape", std::vector<int64_t>(w.begin() + 2, w.end()));
  if (kernel != std::vector<int64_t>(w.begin() + 2, w.end()))
    return InvalidArgument("kernel_shape ", ShapeToString(kernel), " differs from the weights' ", ShapeToString(w));
  std::vector<int64_t> expected;
  if (auto os = info.output_shape(0); os && os->size() == x.size()) expected.assign(os->begin() + 2, os->end());
  WindowGeometry g;
  if (transposed) {
    TUTTI_ASSIGN_OR_RETURN(g, TransposedWindow(n, x, kernel));
  } else {
    TUTTI_ASSIGN_OR_RETURN(g, ForwardWindow(n, x, kernel, /*ceil_mode=*/false, expected));
  }
  TUTTI_ASSIGN_OR_RETURN(FusedActivation act, ParseFusedActivation(n));

  auto k = std::make_unique<ConvKernel>();
  k->transposed_ = transposed;
  k->out_shape_ = {x[0], c_out};
  k->out_shape_.insert(k->out_shape_.end(), g.out.begin(), g.out.end());
  k->has_bias_ = n.HasInput(2);
  if (HasFusedSum(n)) {
    if (!n.HasInput(3)) return InvalidArgument("_fused_sum is set but input 3 is absent");
    k->sum_input_ = 3;
  }

  // Weights as oneDNN sees them: [g, Cout/g, Cin/g, k...] (or without g), expressed as strides over
  // the ONNX buffer, so no transposition is needed before the one reorder.
  const int64_t ksize = NumElements(kernel);
  memory::dims wdims, wstrides;
  const int64_t ocg = c_out / groups, icg = c_in / groups;
  if (groups > 1) wdims = {groups, ocg, icg};
  else wdims = {c_out, c_in};
  if (!transposed) {  // ONNX [Cout, Cin/g, k] = [g, Cout/g, Cin/g, k] row-major
    wstrides = groups > 1 ? memory::dims{ocg * icg * ksize, icg * ksize, ksize} : memory::dims{c_in * ksize, ksize};
  } else {  // ONNX [Cin, Cout/g, k] = [g, Cin/g, Cout/g, k]: oc and ic strides swap
    wstrides = groups > 1 ? memory::dims{icg * ocg * ksize, ksize, ocg * ksize} : memory::dims{ksize, c_out * ksize};
  }
  int64_t s = 1;
  std::vector<int64_t> kstrides(kernel.size());
  for (size_t i = kernel.size(); i-- > 0;) {
    kstrides[i] = s;
    s *= kernel[i];
  }
  wdims.insert(wdims.end(), kernel.begin(), kernel.end());
  wstrides.insert(wstrides.end(), kstrides.begin(), kstrides.end());
  const memory::desc user_w(wdims, memory::data_type::f32, wstrides);

  auto any_md = [](const Shape& s) { return memory::desc(ToDnnlDims(s), memory::data_type::f32, tag::any); };
  const memory::desc src_any = any_md(x), dst_any = any_md(k->out_shape_);
  const memory::desc w_any(wdims, memory::data_type::f32, tag::any);
  k->bias_md_ = memory::desc({c_out}, memory::data_type::f32, tag::a);
  const memory::dims strides = ToDnnlDims(g.strides), dil = ToDnnlDims(g.dnnl_dilations()),
                     pl = ToDnnlDims(g.pad_begin), pr = ToDnnlDims(g.pad_end);
  const memory::desc in_md = req.input(0) ? *req.input(0) : PlainDesc(x);
  const memory::desc out_plain = PlainDesc(k->out_shape_);

  dnnl::post_ops conv_ops;
  Status st = DnnlTry("creating the convolution", [&] {
    dnnl::post_ops ops;
    if (k->sum_input_ >= 0) ops.append_sum(1.f);
    AppendActivation(act, ops);
    conv_ops = ops;
    dnnl::primitive_attr attr = MakeAttr(ops);
    const memory::desc bias = k->has_bias_ ? k->bias_md_ : memory::desc();
    memory::desc wmd;
    // A convolution that writes a plain output keeps a plain dst when oneDNN can do that well
    // (1x1 as GEMM); otherwise it computes blocked and reorders.
    if (!transposed) {
      dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                        src_any, w_any, bias, dst_any, strides, dil, pl, pr);
      dnnl::convolution_forward::primitive_desc pd(d, attr, DnnlEngine());
      k->pd_ = pd;
      k->prim_ = dnnl::convolution_forward(pd);
      k->pd_src_ = pd.src_desc();
      k->pd_dst_ = pd.dst_desc();
      wmd = pd.weights_desc();
    } else {
      dnnl::deconvolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::deconvolution_direct,
                                          src_any, w_any, bias, dst_any, strides, dil, pl, pr);
      dnnl::deconvolution_forward::primitive_desc pd(d, attr, DnnlEngine());
      k->pd_ = pd;
      k->prim_ = dnnl::deconvolution_forward(pd);
      k->pd_src_ = pd.src_desc();
      k->pd_dst_ = pd.dst_desc();
      wmd = pd.weights_desc();
    }
    k->pd_wei_ = wmd;
    k->src_ = LayoutConverter(in_md, k->pd_src_);
    if (req.output_may_block || k->pd_dst_ == out_plain) {
      k->dst_ = LayoutConverter();
    } else {
      k->dst_ = LayoutConverter(k->pd_dst_, out_plain);
    }
    if (k->sum_input_ >= 0) {
      const memory::desc sum_md = req.input(3) ? *req.input(3) : PlainDesc(k->out_shape_);
      k->sum_ = LayoutConverter(sum_md, k->pd_dst_);
    }
    if (const Tensor* wt = info.constant_input(1)) {
      k->weights_ = ReorderConstant(wt->raw_data(), user_w, wmd);
      k->weight_bytes_ += wmd.get_size();
    } else {
      k->wei_ = LayoutConverter(user_w, wmd);
    }
  });
  if (!st.ok()) return st;
  if (const Tensor* b = info.constant_input(2)) {
    if (b->num_elements() != c_out) return InvalidArgument("bias has ", b->num_elements(), " values, expected ", c_out);
    k->bias_ = AlignedBuffer(b->nbytes());
    std::memcpy(k->bias_.get(), b->raw_data(), b->nbytes());
    k->weight_bytes_ += b->nbytes();
  }
  if (info.pool && !transposed && k->weights_) {
    ConvBlockSetup cut{x, k->out_shape_, groups, kernel, strides, dil, pl, pr, k->pd_src_, k->pd_dst_,
                       info.constant_input(1)->data<float>(), k->has_bias_, conv_ops, k->sum_input_ >= 0};
    TUTTI_ASSIGN_OR_RETURN(k->blocks_, ConvBlocks::Make(cut, *info.pool, info.partition));
    if (k->blocks_) {  // the blocks hold the weights now
      k->weight_bytes_ += k->blocks_->weight_bytes() - k->pd_wei_.get_size();
      k->weights_.reset();
    }
  }
  return std::unique_ptr<LayoutAwareKernel>(std::move(k));
}

Status SupportsConv(const Graph& g, const Node& n) {
  for (size_t i = 0; i < 3; ++i) {
    if (!n.HasInput(i)) {
      if (i < 2) return InvalidArgument(n.op_type, " needs input ", i);
      continue;
    }
    DataType t = g.value(n.inputs[i]).info.dtype;
    if (t != DataType::kFloat32 && t != DataType::kUndefined) return Unimplemented(n.op_type, " on ", DataTypeName(t));
  }
  const auto& xs = g.value(n.inputs[0]).info.shape;
  if (xs && (xs->size() < 3 || xs->size() > 5)) return Unimplemented(n.op_type, " on rank-", xs->size(), " input");
  auto act = ParseFusedActivation(n);
  if (!act.ok()) return act.status();
  if (HasFusedSum(n) && !n.HasInput(3)) return InvalidArgument("_fused_sum is set but input 3 is absent");
  return Status::Ok();
}

TUTTI_REGISTER_LAYOUT_AWARE_KERNEL("Conv", [](const KernelBuildInfo& info, const LayoutRequest& req) {
  return ConvKernel::Make(info, req, false);
}, SupportsConv);
TUTTI_REGISTER_LAYOUT_AWARE_KERNEL("ConvTranspose", [](const KernelBuildInfo& info, const LayoutRequest& req) {
  return ConvKernel::Make(info, req, true);
}, SupportsConv);

}  // namespace
}  // namespace tutti::cpu
