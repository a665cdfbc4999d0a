// LayerNormalization, InstanceNormalization and MeanVarianceNormalization: per-group mean and
// variance (two passes, double accumulation) then an affine map. Scale and bias of LayerNorm may
// be any shape that broadcasts to the normalised dims.
#include <cmath>

#include "backends/cpu/ops/broadcast.h"
#include "backends/cpu/ops/layout.h"

namespace tutti::cpu {
namespace {

// Mean and 1/sqrt(var + eps) of n contiguous values.
template <typename T>
std::pair<double, double> Moments(const T* x, int64_t n, double eps) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  const double mean = n ? sum / static_cast<double>(n) : 0;
  double sq = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = x[i] - mean;
    sq += d * d;
  }
  return {mean, 1.0 / std::sqrt((n ? sq / static_cast<double>(n) : 0) + eps)};
}

// `t` broadcast to `shape` (a copy only when it is not already that shape).
Result<Tensor> BroadcastTo(const Tensor& t, const Shape& shape, const char* name) {
  if (t.shape() == shape) return t;
  const Shape both[] = {t.shape(), shape};
  auto b = BroadcastShapes(both);
  if (!b.ok() || *b != shape)
    return InvalidArgument(name, " of shape ", ShapeToString(t.shape()), " does not broadcast to ", ShapeToString(shape));
  TUTTI_ASSIGN_OR_RETURN(Tensor out, Tensor::Allocate(t.dtype(), shape));
  BroadcastCopy(t, out);
  return out;
}

Status RunLayerNorm(int64_t axis_attr, double eps, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* scale_in, RequiredInput(ctx, 1, "Scale"));
  TUTTI_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(axis_attr, x->rank()));
  const size_t a = static_cast<size_t>(axis);
  const Shape norm_shape(x->shape().begin() + axis, x->shape().end());
  const int64_t rows = DimProduct(x->shape(), 0, a), n = NumElements(norm_shape);
  for (size_t i = 1; i < 3; ++i)
    if (ctx.input(i) && ctx.input(i)->dtype() != x->dtype()) return InvalidArgument("Scale and B must have X's type");
  TUTTI_ASSIGN_OR_RETURN(Tensor scale, BroadcastTo(*scale_in, norm_shape, "Scale"));
  Tensor bias;
  if (const Tensor* b = ctx.input(2)) {
    TUTTI_ASSIGN_OR_RETURN(bias, BroadcastTo(*b, norm_shape, "B"));
  }
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, x->shape(), x->dtype()));
  Shape stat_shape = x->shape();
  for (size_t d = a; d < stat_shape.size(); ++d) stat_shape[d] = 1;
  float* mean_out = nullptr;
  float* inv_out = nullptr;
  if (ctx.output_count() > 1 && ctx.output_wanted(1)) {
    TUTTI_ASSIGN_OR_RETURN(Tensor * m, ctx.AllocateOutput(1, stat_shape, DataType::kFloat32));
    mean_out = m->data<float>();
  }
  if (ctx.output_count() > 2 && ctx.output_wanted(2)) {
    TUTTI_ASSIGN_OR_RETURN(Tensor * s, ctx.AllocateOutput(2, stat_shape, DataType::kFloat32));
    inv_out = s->data<float>();
  }
  bool known = DispatchType(FloatTypes{}, x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = x->data<T>();
    const T* g = scale.data<T>();
    const T* bb = bias.defined() ? bias.data<T>() : nullptr;
    T* out = y->data<T>();
    ParallelRanges(rows, n * 4, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const auto [mean, inv] = Moments(in + r * n, n, eps);
        if (mean_out) mean_out[r] = static_cast<float>(mean);
        if (inv_out) inv_out[r] = static_cast<float>(inv);
        const T* src = in + r * n;
        T* dst = out + r * n;
        const T m = static_cast<T>(mean), s = static_cast<T>(inv);
        if (bb) {
          for (int64_t i = 0; i < n; ++i) dst[i] = (src[i] - m) * s * g[i] + bb[i];
        } else {
          for (int64_t i = 0; i < n; ++i) dst[i] = (src[i] - m) * s * g[i];
        }
      }
    });
  });
  if (!known) return Unimplemented("LayerNormalization on ", DataTypeName(x->dtype()));
  return Status::Ok();
}

Status RunInstanceNorm(double eps, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "input"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* scale, RequiredInput(ctx, 1, "scale"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* bias, RequiredInput(ctx, 2, "B"));
  if (x->rank() < 2) return InvalidArgument("input must be [N, C, ...], got ", x->DebugString());
  const int64_t c = x->dim(1);
  if (scale->num_elements() != c || bias->num_elements() != c || scale->dtype() != x->dtype() || bias->dtype() != x->dtype())
    return InvalidArgument("scale and B must hold ", c, " values of X's type");
  const int64_t groups = x->dim(0) * c, n = DimProduct(x->shape(), 2, x->shape().size());
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, x->shape(), x->dtype()));
  bool known = DispatchType(FloatTypes{}, x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = x->data<T>();
    T* out = y->data<T>();
    ParallelRanges(groups, n * 4, [&](int64_t b, int64_t e) {
      for (int64_t gi = b; gi < e; ++gi) {
        const auto [mean, inv] = Moments(in + gi * n, n, eps);
        const T s = static_cast<T>(inv * static_cast<double>(scale->data<T>()[gi % c]));
        const T sh = static_cast<T>(bias->data<T>()[gi % c] - mean * s);
        const T* src = in + gi * n;
        T* dst = out + gi * n;
        for (int64_t i = 0; i < n; ++i) dst[i] = src[i] * s + sh;
      }
    });
  });
  if (!known) return Unimplemented("InstanceNormalization on ", DataTypeName(x->dtype()));
  return Status::Ok();
}

// MeanVarianceNormalization: (x - mean) / sqrt(var) over `axes` (default N, H, W), epsilon 1e-9.
Status RunMvn(const std::vector<int64_t>& axes_attr, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  TUTTI_ASSIGN_OR_RETURN(std::vector<int64_t> axes, NormalizeAxes(axes_attr, x->rank()));
  std::vector<int64_t> perm;
  for (int64_t d = 0; d < x->rank(); ++d)
    if (!std::binary_search(axes.begin(), axes.end(), d)) perm.push_back(d);
  perm.insert(perm.end(), axes.begin(), axes.end());
  Shape ps;
  for (int64_t d : perm) ps.push_back(x->dim(d));
  TUTTI_ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(x->dtype(), ps));
  TransposeInto(*x, perm, t);
  const int64_t n = DimProduct(ps, perm.size() - axes.size(), ps.size());
  const int64_t groups = n ? t.num_elements() / n : 0;
  bool known = DispatchType(FloatTypes{}, x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* v = t.data<T>();
    for (int64_t gi = 0; gi < groups; ++gi) {
      const auto [mean, inv] = Moments(v + gi * n, n, 1e-9);
      for (int64_t i = 0; i < n; ++i) v[gi * n + i] = static_cast<T>((v[gi * n + i] - mean) * inv);
    }
  });
  if (!known) return Unimplemented("MeanVarianceNormalization on ", DataTypeName(x->dtype()));
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, x->shape(), x->dtype()));
  std::vector<int64_t> inverse(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) inverse[static_cast<size_t>(perm[i])] = static_cast<int64_t>(i);
  TransposeInto(t, inverse, *y);
  return Status::Ok();
}

Result<std::unique_ptr<CpuKernel>> MakeLayerNorm(const KernelBuildInfo& info) {
  const int64_t axis = info.node.GetInt("axis", -1);
  const double eps = info.node.GetFloat("epsilon", 1e-5f);
  return MakeKernel([=](KernelContext& ctx) { return RunLayerNorm(axis, eps, ctx); });
}
Result<std::unique_ptr<CpuKernel>> MakeInstanceNorm(const KernelBuildInfo& info) {
  const double eps = info.node.GetFloat("epsilon", 1e-5f);
  return MakeKernel([=](KernelContext& ctx) { return RunInstanceNorm(eps, ctx); });
}
Result<std::unique_ptr<CpuKernel>> MakeMvn(const KernelBuildInfo& info) {
  const std::vector<int64_t> axes = info.node.GetInts("axes", {0, 2, 3});
  return MakeKernel([=](KernelContext& ctx) { return RunMvn(axes, ctx); });
}
Status FloatInput(const Graph& g, const Node& n) { return RequireInputType(g, n, 0, FloatTypes{}); }
Status SupportsLayerNorm(const Graph& g, const Node& n) {
  if (n.GetInt("stash_type", 1) != 1) return Unimplemented("LayerNormalization stash_type other than float");
  return FloatInput(g, n);
}

TUTTI_REGISTER_CPU_KERNEL("LayerNormalization", "", MakeLayerNorm, SupportsLayerNorm);
TUTTI_REGISTER_CPU_KERNEL("InstanceNormalization", "", MakeInstanceNorm, FloatInput);
TUTTI_REGISTER_CPU_KERNEL("MeanVarianceNormalization", "", MakeMvn, FloatInput);

}  // namespace
}  // namespace tutti::cpu
