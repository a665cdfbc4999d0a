// Softmax and LogSoftmax through oneDNN, with opset-13 semantics (one axis; the loader rewrites
// older opsets' flatten-to-2-D meaning into this form).
#include "backends/cpu/ops/onednn_util.h"

namespace tutti::cpu {
namespace {

using dnnl::memory;

class SoftmaxKernel final : public LayoutAwareKernel {
 public:
  static Result<std::unique_ptr<CpuKernel>> Make(const KernelBuildInfo& info) {
    const Node& n = info.node;
    auto xs = info.input_shape(0);
    if (!xs) return InvalidArgument("input shape must be known at compile time");
    auto k = std::make_unique<SoftmaxKernel>();
    k->shape_ = *xs;
    const int64_t rank = static_cast<int64_t>(xs->size());
    int64_t axis = n.GetInt("axis", -1);
    if (rank == 0) return InvalidArgument("Softmax needs an input of rank >= 1");
    if (axis < -rank || axis >= rank) return InvalidArgument("axis ", axis, " is out of range for rank ", rank);
    if (axis < 0) axis += rank;
    if (NumElements(*xs) == 0) return std::unique_ptr<CpuKernel>(std::move(k));
    const bool log = n.op_type == "LogSoftmax";
    Status st = DnnlTry("creating the softmax", [&] {
      k->md_ = PlainDesc(*xs);
      if (log) {
        dnnl::logsoftmax_forward::desc d(dnnl::prop_kind::forward_inference, k->md_, static_cast<int>(axis));
        dnnl::logsoftmax_forward::primitive_desc pd(d, MakeAttr(), DnnlEngine());
        k->pd_ = pd;
        k->prim_ = dnnl::logsoftmax_forward(pd);
      } else {
        dnnl::softmax_forward::desc d(dnnl::prop_kind::forward_inference, k->md_, static_cast<int>(axis));
        dnnl::softmax_forward::primitive_desc pd(d, MakeAttr(), DnnlEngine());
        k->pd_ = pd;
        k->prim_ = dnnl::softmax_forward(pd);
      }
      k->src_ = memory(k->md_, DnnlEngine(), nullptr);
      k->dst_ = memory(k->md_, DnnlEngine(), nullptr);
    });
    if (!st.ok()) return st;
    return std::unique_ptr<CpuKernel>(std::move(k));
  }

  Status Run(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, shape_, DataType::kFloat32));
    if (NumElements(shape_) == 0) return Status::Ok();
    return DnnlTry("softmax", [&] {
      src_.set_data_handle(const_cast<void*>(x->raw_data()));
      dst_.set_data_handle(y->raw_data());
      prim_.execute(DnnlStream(), {{DNNL_ARG_SRC, src_}, {DNNL_ARG_DST, dst_}, {DNNL_ARG_SCRATCHPAD, DnnlScratchpad(pd_)}});
      DnnlStream().wait();
    });
  }
  bool output0_may_alias_input0() const override { return true; }

 private:
  dnnl::primitive_desc pd_;
  dnnl::primitive prim_;
  memory::desc md_;
  memory src_, dst_;
  Shape shape_;
};

Status SupportsSoftmax(const Graph& g, const Node& n) {
  if (!n.HasInput(0)) return InvalidArgument(n.op_type, " needs an input");
  DataType t = g.value(n.inputs[0]).info.dtype;
  if (t != DataType::kFloat32 && t != DataType::kUndefined) return Unimplemented(n.op_type, " on ", DataTypeName(t));
  return Status::Ok();
}

TUTTI_REGISTER_CPU_KERNEL("Softmax", "", SoftmaxKernel::Make, SupportsSoftmax);
TUTTI_REGISTER_CPU_KERNEL("LogSoftmax", "", SoftmaxKernel::Make, SupportsSoftmax);

}  // namespace
}  // namespace tutti::cpu
