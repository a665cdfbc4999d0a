// LpPool and GlobalLpPool: (sum over the window of |x|^p)^(1/p), any number of spatial dims.
// oneDNN has no Lp pooling; these are rare and small, so a direct loop over the window geometry
// shared with Conv and the other poolings (window_geometry.h) is enough. Padding counts as zeros.
#include <cmath>

#include "backends/cpu/ops/layout.h"
#include "backends/cpu/ops/window_geometry.h"

namespace tutti::cpu {
namespace {

Status RunLpPool(const WindowGeometry& g, const Shape& out_shape, float p, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, out_shape, x->dtype()));
  const size_t r = g.kernel.size();
  const Shape in_sp(x->shape().begin() + 2, x->shape().end());
  const int64_t planes = x->dim(0) * x->dim(1);
  const int64_t in_plane = DimProduct(x->shape(), 2, x->shape().size());
  const int64_t out_plane = DimProduct(out_shape, 2, out_shape.size());
  const int64_t window = DimProduct(g.kernel, 0, r);
  bool known = DispatchType(FloatTypes{}, x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = x->data<T>();
    T* out = y->data<T>();
    ParallelRanges(planes, out_plane * window, [&](int64_t b, int64_t e) {
      std::vector<int64_t> oc(r), kc(r);
      for (int64_t pl = b; pl < e; ++pl)
        for (int64_t o = 0; o < out_plane; ++o) {
          for (size_t d = r, rest = static_cast<size_t>(o); d-- > 0;) {
            oc[d] = static_cast<int64_t>(rest % static_cast<size_t>(g.out[d]));
            rest /= static_cast<size_t>(g.out[d]);
          }
          double sum = 0;
          for (int64_t k = 0; k < window; ++k) {
            int64_t off = 0;
            bool inside = true;
            for (size_t d = r, rest = static_cast<size_t>(k); d-- > 0;) {
              kc[d] = static_cast<int64_t>(rest % static_cast<size_t>(g.kernel[d]));
              rest /= static_cast<size_t>(g.kernel[d]);
            }
            for (size_t d = 0; d < r && inside; ++d) {
              const int64_t pos = oc[d] * g.strides[d] - g.pad_begin[d] + kc[d] * g.dilations[d];
              inside = pos >= 0 && pos < in_sp[d];
              off = off * in_sp[d] + pos;
            }
            if (inside) sum += std::pow(std::abs(static_cast<double>(in[pl * in_plane + off])), p);
          }
          out[pl * out_plane + o] = static_cast<T>(std::pow(sum, 1.0 / p));
        }
    });
  });
  if (!known) return Unimplemented("LpPool on ", DataTypeName(x->dtype()));
  return Status::Ok();
}

Result<std::unique_ptr<CpuKernel>> MakeLpPool(const KernelBuildInfo& info) {
  const Node& n = info.node;
  auto xs = info.input_shape(0);
  if (!xs) return InvalidArgument("input shape must be known at compile time");
  const Shape& x = *xs;
  if (x.size() < 3) return InvalidArgument("input must be [N, C, spatial...], got ", ShapeToString(x));
  const float p = static_cast<float>(n.GetInt("p", 2));
  WindowGeometry g;
  if (n.op_type == "GlobalLpPool") {
    g = GlobalWindow(x);
  } else {
    std::vector<int64_t> expected;
    if (auto ys = info.output_shape(0)) expected.assign(ys->begin() + 2, ys->end());
    TUTTI_ASSIGN_OR_RETURN(g, ForwardWindow(n, x, n.GetInts("kernel_shape", {}), n.GetInt("ceil_mode", 0) != 0, expected));
  }
  Shape out_shape{x[0], x[1]};
  out_shape.insert(out_shape.end(), g.out.begin(), g.out.end());
  return MakeKernel([g, out_shape, p](KernelContext& ctx) { return RunLpPool(g, out_shape, p, ctx); });
}

Status SupportsLpPool(const Graph& g, const Node& n) {
  if (n.op_type == "LpPool" && n.GetInts("kernel_shape", {}).empty()) return InvalidArgument("LpPool needs kernel_shape");
  return RequireInputType(g, n, 0, FloatTypes{});
}

TUTTI_REGISTER_CPU_KERNEL("LpPool", "", MakeLpPool, SupportsLpPool);
TUTTI_REGISTER_CPU_KERNEL("GlobalLpPool", "", MakeLpPool, SupportsLpPool);

}  // namespace
}  // namespace tutti::cpu
