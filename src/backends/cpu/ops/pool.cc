// MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool through oneDNN's pooling (1-D to 3-D,
// ceil_mode, count_include_pad, dilations), in whatever layout the producer wrote.
#include "backends/cpu/ops/max_pool_reference.h"
#include "backends/cpu/ops/onednn_util.h"
#include "backends/cpu/ops/window_geometry.h"

namespace tutti::cpu {
namespace {

using dnnl::memory;

class PoolKernel final : public LayoutAwareKernel {
 public:
  static Result<std::unique_ptr<LayoutAwareKernel>> Make(const KernelBuildInfo& info, const LayoutRequest& req);

  Status Run(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    if (!x) return InvalidArgument("missing input");
    TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, out_shape_, DataType::kFloat32));
    return DnnlTry("pooling", [&] {
      src_mem_.set_data_handle(const_cast<void*>(x->raw_data()));
      dst_mem_.set_data_handle(dst_.needed() ? dst_tmp_.get() : y->raw_data());
      prim_.execute(DnnlStream(), {{DNNL_ARG_SRC, src_mem_}, {DNNL_ARG_DST, dst_mem_},
                                   {DNNL_ARG_SCRATCHPAD, DnnlScratchpad(pd_)}});
      DnnlStream().wait();
      if (dst_.needed()) dst_.ConvertInto(dst_tmp_.get(), y->raw_data());
    });
  }

  memory::desc output_desc() const override { return dst_.needed() ? memory::desc() : pd_.dst_desc(); }
  size_t output_bytes() const override { return dst_.needed() ? 0 : pd_.dst_desc().get_size(); }

 private:
  dnnl::pooling_v2_forward::primitive_desc pd_;
  dnnl::pooling_v2_forward prim_;
  memory src_mem_, dst_mem_;
  LayoutConverter dst_;  // blocked dst -> plain output when the output must be plain
  std::shared_ptr<void> dst_tmp_;
  Shape out_shape_;
};

Result<std::unique_ptr<LayoutAwareKernel>> PoolKernel::Make(const KernelBuildInfo& info, const LayoutRequest& req) {
  const Node& n = info.node;
  auto xs = info.input_shape(0);
  if (!xs) return InvalidArgument("input shape must be known at compile time");
  const Shape& x = *xs;
  if (x.size() < 3 || x.size() > 5) return Unimplemented("rank-", x.size(), " input (1-D to 3-D pooling)");
  const bool global = n.op_type.rfind("Global", 0) == 0;
  const bool is_max = n.op_type.find("Max") != std::string::npos;
  WindowGeometry g;
  if (global) {
    g = GlobalWindow(x);
  } else {
    std::vector<int64_t> kernel = n.GetInts("kernel_shape", {});
    std::vector<int64_t> expected;
    if (auto os = info.output_shape(0); os && os->size() == x.size()) expected.assign(os->begin() + 2, os->end());
    TUTTI_ASSIGN_OR_RETURN(g, ForwardWindow(n, x, kernel, n.GetInt("ceil_mode", 0) != 0, expected));
  }
  dnnl::algorithm alg = dnnl::algorithm::pooling_max;
  if (!is_max) {
    const bool include_pad = n.GetInt("count_include_pad", 0) != 0;
    if (include_pad && g.end_pad_grown)
      return Unimplemented("AveragePool with ceil_mode and count_include_pad whose last window passes the pads");
    alg = include_pad ? dnnl::algorithm::pooling_avg_include_padding : dnnl::algorithm::pooling_avg_exclude_padding;
  }

  auto k = std::make_unique<PoolKernel>();
  k->out_shape_ = {x[0], x[1]};
  k->out_shape_.insert(k->out_shape_.end(), g.out.begin(), g.out.end());
  const memory::desc in_md = req.input(0) ? *req.input(0) : PlainDesc(x);
  const memory::desc out_plain = PlainDesc(k->out_shape_);
  Status st = DnnlTry("creating the pooling", [&] {
    // dst follows the src layout (oneDNN's choice for `any`), so pooling adds no reorder.
    memory::desc dst_any(ToDnnlDims(k->out_shape_), memory::data_type::f32, memory::format_tag::any);
    dnnl::pooling_v2_forward::desc d(dnnl::prop_kind::forward_inference, alg, in_md, dst_any, ToDnnlDims(g.strides),
                                     ToDnnlDims(g.kernel), ToDnnlDims(g.dnnl_dilations()), ToDnnlDims(g.pad_begin),
                                     ToDnnlDims(g.pad_end));
    k->pd_ = dnnl::pooling_v2_forward::primitive_desc(d, MakeAttr(), DnnlEngine());
    k->prim_ = dnnl::pooling_v2_forward(k->pd_);
    k->src_mem_ = memory(in_md, DnnlEngine(), nullptr);
    k->dst_mem_ = memory(k->pd_.dst_desc(), DnnlEngine(), nullptr);
    if (!req.output_may_block && !(k->pd_.dst_desc() == out_plain)) {
      k->dst_ = LayoutConverter(k->pd_.dst_desc(), out_plain);
      k->dst_tmp_ = AlignedBuffer(k->pd_.dst_desc().get_size());
    }
  });
  if (!st.ok()) return st;
  return std::unique_ptr<LayoutAwareKernel>(std::move(k));
}

Status SupportsPool(const Graph& g, const Node& n) {
  if (!n.HasInput(0)) return InvalidArgument(n.op_type, " needs an input");
  DataType t = g.value(n.inputs[0]).info.dtype;
  if (NeedsReferenceMaxPool(g, n)) {  // Indices output or integer input: max_pool_reference.h
    if (!n.HasAttr("kernel_shape")) return InvalidArgument(n.op_type, " needs kernel_shape");
    return RequireInputType(g, n, 0, NumericTypes{});
  }
  if (t != DataType::kFloat32 && t != DataType::kUndefined) return Unimplemented(n.op_type, " on ", DataTypeName(t));
  const auto& xs = g.value(n.inputs[0]).info.shape;
  if (xs && (xs->size() < 3 || xs->size() > 5)) return Unimplemented(n.op_type, " on rank-", xs->size(), " input");
  if (n.op_type.rfind("Global", 0) != 0 && !n.HasAttr("kernel_shape"))
    return InvalidArgument(n.op_type, " needs kernel_shape");
  return Status::Ok();
}

Result<std::unique_ptr<LayoutAwareKernel>> MakePool(const KernelBuildInfo& info, const LayoutRequest& req) {
  if (NeedsReferenceMaxPool(info.graph, info.node)) return MakeReferenceMaxPool(info, req);
  return PoolKernel::Make(info, req);
}

TUTTI_REGISTER_LAYOUT_AWARE_KERNEL("MaxPool", MakePool, SupportsPool);
TUTTI_REGISTER_LAYOUT_AWARE_KERNEL("AveragePool", MakePool, SupportsPool);
TUTTI_REGISTER_LAYOUT_AWARE_KERNEL("GlobalAveragePool", MakePool, SupportsPool);
TUTTI_REGISTER_LAYOUT_AWARE_KERNEL("GlobalMaxPool", MakePool, SupportsPool);

}  // namespace
}  // namespace tutti::cpu
