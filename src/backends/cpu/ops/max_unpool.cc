// MaxUnpool: scatters X back to the positions MaxPool's Indices output recorded (flat indices into
// the whole output tensor); everything else is zero. The output size is output_shape when given,
// else the inverse of the pooling geometry.
#include "backends/cpu/ops/layout.h"

namespace tutti::cpu {
namespace {

Status RunMaxUnpool(const std::vector<int64_t>& kernel, const std::vector<int64_t>& strides,
                    const std::vector<int64_t>& pads, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* ind, RequiredInput(ctx, 1, "I"));
  const size_t r = kernel.size();
  if (!pads.empty() && pads.size() != 2 * r) return InvalidArgument("pads has ", pads.size(), " values, expected ", 2 * r);
  if (x->rank() != static_cast<int64_t>(r) + 2 || ind->shape() != x->shape())
    return InvalidArgument("X ", x->DebugString(), " and I ", ind->DebugString(), " do not fit a ", r, "-D unpool");
  // Indices address the pooling's input, whose size the geometry gives back; an output_shape
  // input only makes the output larger (ONNX's reference keeps each value's coordinates).
  Shape pooled_in{x->dim(0), x->dim(1)};
  for (size_t d = 0; d < r; ++d) {
    const int64_t s = d < strides.size() ? strides[d] : 1;
    const int64_t pb = d < pads.size() / 2 ? pads[d] : 0, pe = d < pads.size() / 2 ? pads[d + r] : 0;
    pooled_in.push_back((x->dim(static_cast<int64_t>(d) + 2) - 1) * s + kernel[d] - pb - pe);
  }
  Shape out = pooled_in;
  if (const Tensor* os = ctx.input(2)) {
    out = os->ToInt64Vector();
    if (out.size() != x->shape().size()) return InvalidArgument("output_shape ", os->DebugString(), " has the wrong rank");
    for (size_t d = 0; d < out.size(); ++d)
      if (out[d] < pooled_in[d])
        return InvalidArgument("output_shape ", os->DebugString(), " is smaller than the pooled input ",
                               ShapeToString(pooled_in));
  }
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, out, x->dtype()));
  std::memset(y->raw_data(), 0, y->nbytes());
  const std::vector<int64_t> idx = ind->ToInt64Vector();
  const int64_t total = NumElements(pooled_in);
  const size_t es = DataTypeSize(x->dtype());
  for (size_t i = 0; i < idx.size(); ++i) {
    if (idx[i] < 0 || idx[i] >= total) return InvalidArgument("index ", idx[i], " is outside an input of ", total, " elements");
    int64_t rest = idx[i], flat = 0, stride = 1;
    for (size_t d = out.size(); d-- > 0;) {  // same coordinates, re-flattened in the output's shape
      flat += (rest % pooled_in[d]) * stride;
      rest /= pooled_in[d];
      stride *= out[d];
    }
    std::memcpy(static_cast<std::byte*>(y->raw_data()) + static_cast<size_t>(flat) * es,
                static_cast<const std::byte*>(x->raw_data()) + i * es, es);
  }
  return Status::Ok();
}

TUTTI_REGISTER_CPU_KERNEL(
    "MaxUnpool", "",
    [](const KernelBuildInfo& info) {
      const std::vector<int64_t> k = info.node.GetInts("kernel_shape");
      const std::vector<int64_t> s = info.node.GetInts("strides");
      const std::vector<int64_t> p = info.node.GetInts("pads");
      return MakeKernel([k, s, p](KernelContext& ctx) { return RunMaxUnpool(k, s, p, ctx); });
    },
    [](const Graph& g, const Node& n) -> Status {
      if (n.GetInts("kernel_shape").empty()) return InvalidArgument("MaxUnpool needs kernel_shape");
      TUTTI_RETURN_IF_ERROR(RequireFixedSizeInput(g, n, 0));
      return RequireInputType(g, n, 1, TypeList<int64_t>{});
    });

}  // namespace
}  // namespace tutti::cpu
