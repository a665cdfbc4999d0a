// Operators along one axis, on the [outer, n, inner] view of their input: ArgMax ArgMin CumSum TopK
// Hardmax LpNormalization.
#include <cmath>
#include <numeric>

#include "backends/cpu/ops/layout.h"

namespace tutti::cpu {
namespace {

struct AxisView {
  int64_t outer, n, inner;
};

Result<AxisView> ViewAt(const Tensor& x, int64_t axis_attr, int64_t* axis_out) {
  TUTTI_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(axis_attr, std::max<int64_t>(x.rank(), 1)));
  if (x.rank() == 0) return InvalidArgument("needs a tensor of rank >= 1, got a scalar");
  const size_t a = static_cast<size_t>(axis);
  *axis_out = axis;
  return AxisView{DimProduct(x.shape(), 0, a), x.dim(axis), DimProduct(x.shape(), a + 1, x.shape().size())};
}

// ---- ArgMax / ArgMin -----------------------------------------------------------------------------
Status RunArg(bool is_max, int64_t axis_attr, bool keepdims, bool last, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "data"));
  int64_t axis;
  TUTTI_ASSIGN_OR_RETURN(AxisView v, ViewAt(*x, axis_attr, &axis));
  if (v.n == 0) return InvalidArgument("cannot take the arg", is_max ? "max" : "min", " of an empty axis");
  Shape out_shape = x->shape();
  if (keepdims) out_shape[static_cast<size_t>(axis)] = 1;
  else out_shape.erase(out_shape.begin() + axis);
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, out_shape, DataType::kInt64));
  int64_t* out = y->data<int64_t>();
  bool known = DispatchType(NumericTypes{}, x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = x->data<T>();
    ParallelRanges(v.outer * v.inner, v.n, [&](int64_t b, int64_t e) {
      for (int64_t item = b; item < e; ++item) {
        const int64_t o = item / v.inner, i = item % v.inner;
        const T* p = in + o * v.n * v.inner + i;
        int64_t best = 0;
        T bv = p[0];
        for (int64_t k = 1; k < v.n; ++k) {
          const T c = p[k * v.inner];
          const bool better = is_max ? (last ? c >= bv : c > bv) : (last ? c <= bv : c < bv);
          if (better) {
            bv = c;
            best = k;
          }
        }
        out[item] = best;
      }
    });
  });
  if (!known) return Unimplemented("arg reduction on ", DataTypeName(x->dtype()));
  return Status::Ok();
}

Result<std::unique_ptr<CpuKernel>> MakeArg(bool is_max, const KernelBuildInfo& info) {
  const int64_t axis = info.node.GetInt("axis", 0);
  const bool keepdims = info.node.GetInt("keepdims", 1) != 0, last = info.node.GetInt("select_last_index", 0) != 0;
  return MakeKernel([=](KernelContext& ctx) { return RunArg(is_max, axis, keepdims, last, ctx); });
}

// ---- CumSum --------------------------------------------------------------------------------------
Status RunCumSum(bool exclusive, bool reverse, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "x"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* at, RequiredInput(ctx, 1, "axis"));
  TUTTI_ASSIGN_OR_RETURN(double axis_f, ScalarInput(*at, "axis"));
  int64_t axis;
  TUTTI_ASSIGN_OR_RETURN(AxisView v, ViewAt(*x, static_cast<int64_t>(axis_f), &axis));
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, x->shape(), x->dtype()));
  bool known = DispatchType(NumericTypes{}, x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = x->data<T>();
    T* out = y->data<T>();
    ParallelRanges(v.outer, v.n * v.inner, [&](int64_t b, int64_t e) {
      std::vector<T> acc(static_cast<size_t>(v.inner));
      for (int64_t o = b; o < e; ++o) {
        std::fill(acc.begin(), acc.end(), T(0));
        for (int64_t s = 0; s < v.n; ++s) {
          const int64_t k = reverse ? v.n - 1 - s : s;
          const T* src = in + (o * v.n + k) * v.inner;
          T* dst = out + (o * v.n + k) * v.inner;
          for (int64_t i = 0; i < v.inner; ++i) {
            const T before = acc[static_cast<size_t>(i)];
            acc[static_cast<size_t>(i)] = WrapAdd(before, src[i]);
            dst[i] = exclusive ? before : acc[static_cast<size_t>(i)];
          }
        }
      }
    });
  });
  if (!known) return Unimplemented("CumSum on ", DataTypeName(x->dtype()));
  return Status::Ok();
}

// ---- TopK: ties keep the lower index first, as ONNX specifies ----------------------------------
Status RunTopK(int64_t axis_attr, bool largest, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* kt, RequiredInput(ctx, 1, "K"));
  TUTTI_ASSIGN_OR_RETURN(double kf, ScalarInput(*kt, "K"));
  int64_t axis;
  TUTTI_ASSIGN_OR_RETURN(AxisView v, ViewAt(*x, axis_attr, &axis));
  const int64_t k = static_cast<int64_t>(kf);
  if (k < 0 || k > v.n) return InvalidArgument("K = ", k, " is out of range for an axis of ", v.n);
  Shape out_shape = x->shape();
  out_shape[static_cast<size_t>(axis)] = k;
  TUTTI_ASSIGN_OR_RETURN(Tensor * vals, ctx.AllocateOutput(0, out_shape, x->dtype()));
  TUTTI_ASSIGN_OR_RETURN(Tensor * idxs, ctx.AllocateOutput(1, out_shape, DataType::kInt64));
  bool known = DispatchType(NumericTypes{}, x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = x->data<T>();
    T* ov = vals->data<T>();
    int64_t* oi = idxs->data<int64_t>();
    ParallelRanges(v.outer * v.inner, v.n * 8, [&](int64_t b, int64_t e) {
      std::vector<int64_t> order(static_cast<size_t>(v.n));
      for (int64_t item = b; item < e; ++item) {
        const int64_t o = item / v.inner, i = item % v.inner;
        const T* p = in + o * v.n * v.inner + i;
        std::iota(order.begin(), order.end(), int64_t{0});
        auto before = [&](int64_t a, int64_t c) {
          const T va = p[a * v.inner], vc = p[c * v.inner];
          if (va != vc) return largest ? va > vc : va < vc;
          return a < c;
        };
        std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
        for (int64_t j = 0; j < k; ++j) {
          const int64_t at = (o * k + j) * v.inner + i;
          oi[at] = order[static_cast<size_t>(j)];
          ov[at] = p[order[static_cast<size_t>(j)] * v.inner];
        }
      }
    });
  });
  if (!known) return Unimplemented("TopK on ", DataTypeName(x->dtype()));
  return Status::Ok();
}

TUTTI_REGISTER_CPU_KERNEL(
    "ArgMax", "", [](const KernelBuildInfo& info) { return MakeArg(true, info); },
    [](const Graph& g, const Node& n) { return RequireInputType(g, n, 0, NumericTypes{}); });
TUTTI_REGISTER_CPU_KERNEL(
    "ArgMin", "", [](const KernelBuildInfo& info) { return MakeArg(false, info); },
    [](const Graph& g, const Node& n) { return RequireInputType(g, n, 0, NumericTypes{}); });
// ---- Hardmax / LpNormalization ---------------------------------------------------------------------
// Hardmax: 1 at the first maximum along the axis, 0 elsewhere (opset-13 form; older opsets'
// coerce-to-2D form is rewritten by the loader).
Status RunHardmax(int64_t axis_attr, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "input"));
  int64_t axis;
  TUTTI_ASSIGN_OR_RETURN(AxisView v, ViewAt(*x, axis_attr, &axis));
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, x->shape(), x->dtype()));
  bool known = DispatchType(FloatTypes{}, x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = x->data<T>();
    T* out = y->data<T>();
    std::fill_n(out, y->num_elements(), T(0));
    if (v.n == 0) return;
    for (int64_t item = 0; item < v.outer * v.inner; ++item) {
      const int64_t o = item / v.inner, i = item % v.inner;
      const int64_t base = o * v.n * v.inner + i;
      int64_t best = 0;
      for (int64_t k = 1; k < v.n; ++k)
        if (in[base + k * v.inner] > in[base + best * v.inner]) best = k;
      out[base + best * v.inner] = T(1);
    }
  });
  if (!known) return Unimplemented("Hardmax on ", DataTypeName(x->dtype()));
  return Status::Ok();
}

// LpNormalization: x / ||x||_p along the axis, p in {1, 2}; a zero norm leaves zeros.
Status RunLpNorm(int64_t axis_attr, int64_t p, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "input"));
  int64_t axis;
  TUTTI_ASSIGN_OR_RETURN(AxisView v, ViewAt(*x, axis_attr, &axis));
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, x->shape(), x->dtype()));
  bool known = DispatchType(FloatTypes{}, x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = x->data<T>();
    T* out = y->data<T>();
    ParallelRanges(v.outer * v.inner, v.n, [&](int64_t b, int64_t e) {
      for (int64_t item = b; item < e; ++item) {
        const int64_t o = item / v.inner, i = item % v.inner;
        const int64_t base = o * v.n * v.inner + i;
        double norm = 0;
        for (int64_t k = 0; k < v.n; ++k) {
          const double c = in[base + k * v.inner];
          norm += p == 1 ? std::abs(c) : c * c;
        }
        if (p == 2) norm = std::sqrt(norm);
        for (int64_t k = 0; k < v.n; ++k)
          out[base + k * v.inner] = norm == 0 ? T(0) : static_cast<T>(in[base + k * v.inner] / norm);
      }
    });
  });
  if (!known) return Unimplemented("LpNormalization on ", DataTypeName(x->dtype()));
  return Status::Ok();
}

Result<std::unique_ptr<CpuKernel>> MakeCumSum(const KernelBuildInfo& info) {
  const bool exclusive = info.node.GetInt("exclusive", 0) != 0, reverse = info.node.GetInt("reverse", 0) != 0;
  return MakeKernel([=](KernelContext& ctx) { return RunCumSum(exclusive, reverse, ctx); });
}
Result<std::unique_ptr<CpuKernel>> MakeTopK(const KernelBuildInfo& info) {
  const int64_t axis = info.node.GetInt("axis", -1);
  const bool largest = info.node.GetInt("largest", 1) != 0;
  return MakeKernel([=](KernelContext& ctx) { return RunTopK(axis, largest, ctx); });
}
Status NumericInput(const Graph& g, const Node& n) { return RequireInputType(g, n, 0, NumericTypes{}); }

TUTTI_REGISTER_CPU_KERNEL("CumSum", "", MakeCumSum, NumericInput);
// sorted=0 leaves the order to the implementation; ours is always sorted, which is allowed.
TUTTI_REGISTER_CPU_KERNEL("TopK", "", MakeTopK, NumericInput);

TUTTI_REGISTER_CPU_KERNEL(
    "Hardmax", "",
    [](const KernelBuildInfo& info) {
      const int64_t axis = info.node.GetInt("axis", -1);
      return MakeKernel([axis](KernelContext& ctx) { return RunHardmax(axis, ctx); });
    },
    [](const Graph& g, const Node& n) { return RequireInputType(g, n, 0, FloatTypes{}); });
TUTTI_REGISTER_CPU_KERNEL(
    "LpNormalization", "",
    [](const KernelBuildInfo& info) {
      const int64_t axis = info.node.GetInt("axis", -1);
      const int64_t p = info.node.GetInt("p", 2);
      return MakeKernel([=](KernelContext& ctx) { return RunLpNorm(axis, p, ctx); });
    },
    [](const Graph& g, const Node& n) -> Status {
      const int64_t p = n.GetInt("p", 2);
      if (p != 1 && p != 2) return InvalidArgument("LpNormalization p must be 1 or 2, got ", p);
      return RequireInputType(g, n, 0, FloatTypes{});
    });

}  // namespace
}  // namespace tutti::cpu
