// Relu: the first kernel, and the pattern the others follow (build-time checks, Run computes).
#include <algorithm>

#include "backends/cpu/kernel.h"

namespace tutti::cpu {
namespace {

class ReluKernel final : public CpuKernel {
 public:
  Status Run(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, x->shape(), x->dtype()));
    const float* in = x->data<float>();
    float* out = y->data<float>();
    const int64_t n = x->num_elements();
#pragma omp parallel for schedule(static) if (n > 1 << 16)
    for (int64_t i = 0; i < n; ++i) out[i] = std::max(in[i], 0.f);
    return Status::Ok();
  }
};

Status SupportsRelu(const Graph& g, const Node& n) {
  if (!n.HasInput(0)) return InvalidArgument("Relu needs an input");
  DataType t = g.value(n.inputs[0]).info.dtype;
  if (t != DataType::kFloat32) return Unimplemented("Relu on ", DataTypeName(t));
  return Status::Ok();
}

TUTTI_REGISTER_CPU_KERNEL("Relu", "", [](const KernelBuildInfo&) -> Result<std::unique_ptr<CpuKernel>> {
  return std::unique_ptr<CpuKernel>(new ReluKernel());
}, SupportsRelu);

}  // namespace
}  // namespace tutti::cpu
