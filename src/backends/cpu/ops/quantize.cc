// Linear (de)quantisation, the boundary ops of quantised models (QDQ format):
// QuantizeLinear, DequantizeLinear (per-tensor or per-axis scale/zero point) and
// DynamicQuantizeLinear. Rounding is half to even and results saturate, as the ONNX spec states.
#include <cmath>
#include <limits>

#include "backends/cpu/ops/layout.h"

namespace tutti::cpu {
namespace {

// Per-element parameter index: scale/zero point are scalars or 1-D along `axis`.
struct ParamView {
  int64_t n = 1, inner = 1;  // parameter count; elements per parameter step
  int64_t at(int64_t i) const { return n == 1 ? 0 : (i / inner) % n; }
};

Result<ParamView> ViewParams(const Tensor& x, const Tensor& scale, int64_t axis_attr) {
  ParamView v;
  if (scale.rank() == 0 || scale.num_elements() == 1) return v;
  if (scale.rank() != 1) return InvalidArgument("scale must be a scalar or 1-D, got ", scale.DebugString());
  TUTTI_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(axis_attr, x.rank()));
  if (x.dim(axis) != scale.num_elements())
    return InvalidArgument("scale has ", scale.num_elements(), " entries, axis ", axis, " of ", x.DebugString(), " has ",
                           x.dim(axis));
  v.n = scale.num_elements();
  v.inner = DimProduct(x.shape(), static_cast<size_t>(axis) + 1, x.shape().size());
  return v;
}

Status RunQuantize(int64_t axis, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "x"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* scale, RequiredInput(ctx, 1, "y_scale"));
  if (scale->num_elements() == 0) return InvalidArgument("y_scale is empty");
  const Tensor* zp = ctx.input(2);
  const DataType out_dt = zp ? zp->dtype() : DataType::kUInt8;
  TUTTI_ASSIGN_OR_RETURN(ParamView pv, ViewParams(*x, *scale, axis));
  if (zp && zp->num_elements() != scale->num_elements())
    return InvalidArgument("zero point ", zp->DebugString(), " does not match scale ", scale->DebugString());
  TUTTI_ASSIGN_OR_RETURN(Tensor xf, CastTensor(*x, DataType::kFloat32));
  TUTTI_ASSIGN_OR_RETURN(Tensor sf, CastTensor(*scale, DataType::kFloat32));
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, x->shape(), out_dt));
  bool known = DispatchType(TypeList<uint8_t, int8_t>{}, out_dt, [&](auto tag) {
    using T = decltype(tag);
    const float* in = xf.data<float>();
    const float* s = sf.data<float>();
    const T* z = zp ? zp->data<T>() : nullptr;
    T* out = y->data<T>();
    constexpr float lo = std::numeric_limits<T>::min(), hi = std::numeric_limits<T>::max();
    for (int64_t i = 0; i < x->num_elements(); ++i) {
      const int64_t p = pv.at(i);
      const float q = std::nearbyint(in[i] / s[p]) + (z ? static_cast<float>(z[p]) : 0.f);
      out[i] = static_cast<T>(std::clamp(q, lo, hi));
    }
  });
  if (!known) return Unimplemented("QuantizeLinear to ", DataTypeName(out_dt));
  return Status::Ok();
}

Status RunDequantize(int64_t axis, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "x"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* scale, RequiredInput(ctx, 1, "x_scale"));
  if (scale->num_elements() == 0) return InvalidArgument("x_scale is empty");
  const Tensor* zp = ctx.input(2);
  TUTTI_ASSIGN_OR_RETURN(ParamView pv, ViewParams(*x, *scale, axis));
  if (zp && zp->num_elements() != scale->num_elements())
    return InvalidArgument("zero point ", zp->DebugString(), " does not match scale ", scale->DebugString());
  if (zp && zp->dtype() != x->dtype())
    return InvalidArgument("zero point type ", DataTypeName(zp->dtype()), " differs from x's ", DataTypeName(x->dtype()));
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, x->shape(), scale->dtype()));
  TUTTI_ASSIGN_OR_RETURN(Tensor xd, CastTensor(*x, DataType::kFloat64));
  Tensor zd;
  if (zp) {
    TUTTI_ASSIGN_OR_RETURN(zd, CastTensor(*zp, DataType::kFloat64));
  }
  bool known = DispatchType(FloatTypes{}, scale->dtype(), [&](auto tag) {
    using T = decltype(tag);
    const double* in = xd.data<double>();
    const T* s = scale->data<T>();
    T* out = y->data<T>();
    for (int64_t i = 0; i < x->num_elements(); ++i) {
      const int64_t p = pv.at(i);
      // (x - zero_point) is exact in int32, then one rounding into the scale's type.
      out[i] = static_cast<T>(in[i] - (zp ? zd.data<double>()[p] : 0.0)) * s[p];
    }
  });
  if (!known) return Unimplemented("DequantizeLinear with a ", DataTypeName(scale->dtype()), " scale");
  return Status::Ok();
}

// DynamicQuantizeLinear(x) -> (uint8 y, scale, zero point) from x's range extended to include 0.
Status RunDynamicQuantize(KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "x"));
  if (x->dtype() != DataType::kFloat32) return Unimplemented("DynamicQuantizeLinear on ", DataTypeName(x->dtype()));
  const float* in = x->data<float>();
  float mn = 0, mx = 0;
  for (int64_t i = 0; i < x->num_elements(); ++i) {
    mn = std::min(mn, in[i]);
    mx = std::max(mx, in[i]);
  }
  const float scale = (mx - mn) / 255.f;
  const float zpf = scale == 0 ? 0.f : std::clamp(std::nearbyint(0.f - mn / scale), 0.f, 255.f);
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, x->shape(), DataType::kUInt8));
  for (int64_t i = 0; i < x->num_elements(); ++i)
    y->data<uint8_t>()[i] =
        static_cast<uint8_t>(scale == 0 ? zpf : std::clamp(std::nearbyint(in[i] / scale) + zpf, 0.f, 255.f));
  if (ctx.output_wanted(1)) {
    TUTTI_ASSIGN_OR_RETURN(Tensor * s, ctx.AllocateOutput(1, {}, DataType::kFloat32));
    s->data<float>()[0] = scale;
  }
  if (ctx.output_wanted(2)) {
    TUTTI_ASSIGN_OR_RETURN(Tensor * z, ctx.AllocateOutput(2, {}, DataType::kUInt8));
    z->data<uint8_t>()[0] = static_cast<uint8_t>(zpf);
  }
  return Status::Ok();
}

TUTTI_REGISTER_CPU_KERNEL(
    "QuantizeLinear", "",
    [](const KernelBuildInfo& info) {
      const int64_t axis = info.node.GetInt("axis", 1);
      return MakeKernel([axis](KernelContext& ctx) { return RunQuantize(axis, ctx); });
    },
    [](const Graph& g, const Node& n) -> Status {
      TUTTI_RETURN_IF_ERROR(RequireInputType(g, n, 0, TypeList<float, int32_t>{}));
      if (n.HasInput(2)) return RequireInputType(g, n, 2, TypeList<uint8_t, int8_t>{});
      return Status::Ok();
    });
TUTTI_REGISTER_CPU_KERNEL(
    "DequantizeLinear", "",
    [](const KernelBuildInfo& info) {
      const int64_t axis = info.node.GetInt("axis", 1);
      return MakeKernel([axis](KernelContext& ctx) { return RunDequantize(axis, ctx); });
    },
    [](const Graph& g, const Node& n) -> Status {
      TUTTI_RETURN_IF_ERROR(RequireInputType(g, n, 0, TypeList<uint8_t, int8_t, int32_t>{}));
      return RequireInputType(g, n, 1, FloatTypes{});
    });
TUTTI_REGISTER_CPU_KERNEL(
    "DynamicQuantizeLinear", "", [](const KernelBuildInfo&) { return MakeKernel(RunDynamicQuantize); },
    [](const Graph& g, const Node& n) { return RequireInputType(g, n, 0, TypeList<float>{}); });

}  // namespace
}  // namespace tutti::cpu
