// Integer convolutions of quantised models: ConvInteger (int32 output) and QLinearConv
// (requantised uint8/int8 output, optional int32 bias), any number of spatial dims, groups,
// strides, dilations and pads from the geometry Conv shares (window_geometry.h). Accumulation is
// exact in int32; padding contributes the zero point (i.e. nothing after the subtraction).
#include <cmath>
#include <limits>

#include "backends/cpu/ops/layout.h"
#include "backends/cpu/ops/window_geometry.h"

namespace tutti::cpu {
namespace {

// acc[n, m, out...] = sum over c in m's group, kernel k of (x - zx) * (w[m] - zw[m]).
Result<std::vector<int32_t>> IntegerConv(const Node& node, const Tensor& x, const Tensor& w, const Tensor* zx_t,
                                         const Tensor* zw_t, Shape& out_shape) {
  if (x.rank() < 3 || w.rank() != x.rank())
    return InvalidArgument("x ", x.DebugString(), " and w ", w.DebugString(), " must be [N,C,...] and [M,C/group,...]");
  const int64_t group = node.GetInt("group", 1);
  const int64_t N = x.dim(0), C = x.dim(1), M = w.dim(0), Cg = w.dim(1);
  if (group < 1 || C != Cg * group || M % group != 0)
    return InvalidArgument("channels ", C, " / weights ", w.DebugString(), " do not fit group ", group);
  std::vector<int64_t> kernel(w.shape().begin() + 2, w.shape().end());
  TUTTI_ASSIGN_OR_RETURN(WindowGeometry g, ForwardWindow(node, x.shape(), kernel, false, {}));
  const size_t r = kernel.size();
  out_shape = {N, M};
  out_shape.insert(out_shape.end(), g.out.begin(), g.out.end());
  if (zx_t && zx_t->num_elements() != 1) return InvalidArgument("x zero point must be a scalar, got ", zx_t->DebugString());
  const int32_t zx = zx_t ? static_cast<int32_t>(zx_t->ElementAsInt64(0)) : 0;
  std::vector<int64_t> zw(static_cast<size_t>(M), 0);
  if (zw_t) {
    const std::vector<int64_t> v = zw_t->ToInt64Vector();
    if (v.size() != 1 && static_cast<int64_t>(v.size()) != M)
      return InvalidArgument("w zero point must be a scalar or have ", M, " entries");
    for (int64_t m = 0; m < M; ++m) zw[static_cast<size_t>(m)] = v[v.size() == 1 ? 0 : static_cast<size_t>(m)];
  }
  const std::vector<int64_t> xv = x.ToInt64Vector(), wv = w.ToInt64Vector();
  const Shape in_sp(x.shape().begin() + 2, x.shape().end());
  const int64_t in_plane = NumElements(in_sp), out_plane = NumElements(g.out), window = NumElements(kernel);
  const int64_t Mg = M / group;
  std::vector<int32_t> acc(static_cast<size_t>(N * M * out_plane), 0);
  std::vector<int64_t> oc(r), kc(r);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t m = 0; m < M; ++m) {
      const int64_t grp = m / Mg;
      for (int64_t o = 0; o < out_plane; ++o) {
        for (size_t d = r, rest = static_cast<size_t>(o); d-- > 0;) {
          oc[d] = static_cast<int64_t>(rest % static_cast<size_t>(g.out[d]));
          rest /= static_cast<size_t>(g.out[d]);
        }
        int32_t sum = 0;
        for (int64_t k = 0; k < window; ++k) {
          for (size_t d = r, rest = static_cast<size_t>(k); d-- > 0;) {
            kc[d] = static_cast<int64_t>(rest % static_cast<size_t>(kernel[d]));
            rest /= static_cast<size_t>(kernel[d]);
          }
          int64_t off = 0;
          bool inside = true;
          for (size_t d = 0; d < r && inside; ++d) {
            const int64_t pos = oc[d] * g.strides[d] - g.pad_begin[d] + kc[d] * g.dilations[d];
            inside = pos >= 0 && pos < in_sp[d];
            off = off * in_sp[d] + pos;
          }
          if (!inside) continue;
          for (int64_t c = 0; c < Cg; ++c) {
            const int64_t xi = (n * C + grp * Cg + c) * in_plane + off;
            const int64_t wi = (m * Cg + c) * window + k;
            sum += static_cast<int32_t>(xv[static_cast<size_t>(xi)] - zx) *
                   static_cast<int32_t>(wv[static_cast<size_t>(wi)] - zw[static_cast<size_t>(m)]);
          }
        }
        acc[static_cast<size_t>((n * M + m) * out_plane + o)] = sum;
      }
    }
  return acc;
}

Status RunConvInteger(const Node& node, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "x"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* w, RequiredInput(ctx, 1, "w"));
  Shape out_shape;
  TUTTI_ASSIGN_OR_RETURN(std::vector<int32_t> acc, IntegerConv(node, *x, *w, ctx.input(2), ctx.input(3), out_shape));
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, out_shape, DataType::kInt32));
  std::copy(acc.begin(), acc.end(), y->data<int32_t>());
  return Status::Ok();
}

// QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B?).
Status RunQLinearConv(const Node& node, KernelContext& ctx) {
  const char* names[] = {"x", "x_scale", "x_zero_point", "w", "w_scale", "w_zero_point", "y_scale", "y_zero_point"};
  const Tensor* in[8];
  for (size_t i = 0; i < 8; ++i) {
    TUTTI_ASSIGN_OR_RETURN(in[i], RequiredInput(ctx, i, names[i]));
  }
  Shape out_shape;
  TUTTI_ASSIGN_OR_RETURN(std::vector<int32_t> acc, IntegerConv(node, *in[0], *in[3], in[2], in[5], out_shape));
  const int64_t M = out_shape[1], plane = NumElements(Shape(out_shape.begin() + 2, out_shape.end()));
  TUTTI_ASSIGN_OR_RETURN(Tensor sx, CastTensor(*in[1], DataType::kFloat32));
  TUTTI_ASSIGN_OR_RETURN(Tensor sw, CastTensor(*in[4], DataType::kFloat32));
  TUTTI_ASSIGN_OR_RETURN(Tensor sy, CastTensor(*in[6], DataType::kFloat32));
  if (sw.num_elements() != 1 && sw.num_elements() != M) return InvalidArgument("w_scale must be a scalar or have ", M, " entries");
  if (sx.num_elements() != 1 || sy.num_elements() != 1 || in[7]->num_elements() != 1)
    return InvalidArgument("x_scale, y_scale and y_zero_point must be scalars");
  std::vector<int64_t> bias;
  if (const Tensor* b = ctx.input(8)) {
    bias = b->ToInt64Vector();
    if (static_cast<int64_t>(bias.size()) != M) return InvalidArgument("B must have ", M, " entries");
  }
  const DataType out_dt = in[7]->dtype();
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, out_shape, out_dt));
  const float yz = static_cast<float>(in[7]->ElementAsInt64(0));
  bool known = DispatchType(TypeList<uint8_t, int8_t>{}, out_dt, [&](auto tag) {
    using T = decltype(tag);
    constexpr float lo = std::numeric_limits<T>::min(), hi = std::numeric_limits<T>::max();
    T* o = y->data<T>();
    for (size_t i = 0; i < acc.size(); ++i) {
      const int64_t m = (static_cast<int64_t>(i) / plane) % M;
      const int32_t a = acc[i] + (bias.empty() ? 0 : static_cast<int32_t>(bias[static_cast<size_t>(m)]));
      const float scale = sx.data<float>()[0] * sw.data<float>()[sw.num_elements() == 1 ? 0 : m] / sy.data<float>()[0];
      o[i] = static_cast<T>(std::clamp(std::nearbyint(static_cast<float>(a) * scale) + yz, lo, hi));
    }
  });
  if (!known) return Unimplemented("QLinearConv to ", DataTypeName(out_dt));
  return Status::Ok();
}

using Int8Types = TypeList<uint8_t, int8_t>;

TUTTI_REGISTER_CPU_KERNEL(
    "ConvInteger", "",
    [](const KernelBuildInfo& info) {
      const Node node = info.node;
      return MakeKernel([node](KernelContext& ctx) { return RunConvInteger(node, ctx); });
    },
    [](const Graph& g, const Node& n) -> Status {
      TUTTI_RETURN_IF_ERROR(RequireInputType(g, n, 0, Int8Types{}));
      return RequireInputType(g, n, 1, Int8Types{});
    });
TUTTI_REGISTER_CPU_KERNEL(
    "QLinearConv", "",
    [](const KernelBuildInfo& info) {
      const Node node = info.node;
      return MakeKernel([node](KernelContext& ctx) { return RunQLinearConv(node, ctx); });
    },
    [](const Graph& g, const Node& n) -> Status {
      TUTTI_RETURN_IF_ERROR(RequireInputType(g, n, 0, Int8Types{}));
      TUTTI_RETURN_IF_ERROR(RequireInputType(g, n, 3, Int8Types{}));
      return RequireInputType(g, n, 7, Int8Types{});
    });

}  // namespace
}  // namespace tutti::cpu
