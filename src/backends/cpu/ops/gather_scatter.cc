// Indexed element moves: Gather GatherElements ScatterElements OneHot. Indices may be int32 or
// int64 and negative (counted from the end); an index out of range is an error naming it, never a
// read outside the buffer.
#include "backends/cpu/ops/layout.h"

namespace tutti::cpu {
namespace {

Status SupportsIndexed(const Graph& g, const Node& n) {
  TUTTI_RETURN_IF_ERROR(RequireFixedSizeInput(g, n, 0));
  return RequireInputType(g, n, 1, TypeList<int32_t, int64_t>{});
}

// Reads index i of an int32/int64 tensor, normalised against `dim`; error when out of range.
Result<std::vector<int64_t>> ReadIndices(const Tensor& t, int64_t dim) {
  if (t.dtype() != DataType::kInt64 && t.dtype() != DataType::kInt32)
    return InvalidArgument("indices must be int32 or int64, got ", DataTypeName(t.dtype()));
  std::vector<int64_t> v = t.ToInt64Vector();
  for (int64_t& i : v) {
    const int64_t orig = i;
    if (i < 0) i += dim;
    if (i < 0 || i >= dim) return InvalidArgument("index ", orig, " is out of range for a dim of size ", dim);
  }
  return v;
}

Status RunGather(int64_t axis_attr, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "data"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* ind, RequiredInput(ctx, 1, "indices"));
  TUTTI_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(axis_attr, x->rank()));
  const size_t a = static_cast<size_t>(axis);
  TUTTI_ASSIGN_OR_RETURN(std::vector<int64_t> idx, ReadIndices(*ind, x->dim(axis)));
  Shape out_shape(x->shape().begin(), x->shape().begin() + static_cast<std::ptrdiff_t>(a));
  out_shape.insert(out_shape.end(), ind->shape().begin(), ind->shape().end());
  out_shape.insert(out_shape.end(), x->shape().begin() + static_cast<std::ptrdiff_t>(a) + 1, x->shape().end());
  TUTTI_ASSIGN_OR_RETURN(Tensor * out, ctx.AllocateOutput(0, out_shape, x->dtype()));
  const int64_t outer = DimProduct(x->shape(), 0, a), dim = x->dim(axis);
  const int64_t inner = DimProduct(x->shape(), a + 1, x->shape().size());
  const int64_t n = static_cast<int64_t>(idx.size());
  const size_t row = static_cast<size_t>(inner) * DataTypeSize(x->dtype());
  const std::byte* src = static_cast<const std::byte*>(x->raw_data());
  std::byte* dst = static_cast<std::byte*>(out->raw_data());
  if (row == 0) return Status::Ok();
  ParallelRanges(outer * n, inner, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      const int64_t o = k / n, j = k % n;
      std::memcpy(dst + static_cast<size_t>(k) * row, src + static_cast<size_t>(o * dim + idx[static_cast<size_t>(j)]) * row, row);
    }
  });
  return Status::Ok();
}

// Walks every element of `shape` in row-major order, calling f(flat, coords).
template <typename F>
void ForEachIndex(const Shape& shape, F&& f) {
  const int64_t total = NumElements(shape);
  std::vector<int64_t> c(shape.size(), 0);
  for (int64_t i = 0; i < total; ++i) {
    f(i, c);
    for (size_t d = shape.size(); d-- > 0;) {
      if (++c[d] < shape[d]) break;
      c[d] = 0;
    }
  }
}

// Offset in a tensor of `strides` for `coords` with the axis coordinate replaced by `at`.
int64_t OffsetWithAxis(const std::vector<int64_t>& coords, const std::vector<int64_t>& strides, size_t axis, int64_t at) {
  int64_t off = 0;
  for (size_t d = 0; d < coords.size(); ++d) off += (d == axis ? at : coords[d]) * strides[d];
  return off;
}

Status CheckIndexShape(const Tensor& data, const Tensor& ind, size_t axis) {
  bool ok = ind.rank() == data.rank();
  for (size_t d = 0; ok && d < data.shape().size(); ++d) ok = d == axis || ind.shape()[d] <= data.shape()[d];
  if (!ok) return InvalidArgument("indices ", ind.DebugString(), " do not fit data ", data.DebugString());
  return Status::Ok();
}

Status RunGatherElements(int64_t axis_attr, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "data"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* ind, RequiredInput(ctx, 1, "indices"));
  TUTTI_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(axis_attr, x->rank()));
  const size_t a = static_cast<size_t>(axis);
  TUTTI_RETURN_IF_ERROR(CheckIndexShape(*x, *ind, a));
  TUTTI_ASSIGN_OR_RETURN(std::vector<int64_t> idx, ReadIndices(*ind, x->dim(axis)));
  TUTTI_ASSIGN_OR_RETURN(Tensor * out, ctx.AllocateOutput(0, ind->shape(), x->dtype()));
  const std::vector<int64_t> strides = ContiguousStrides(x->shape());
  DispatchBySize(x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = static_cast<const T*>(x->raw_data());
    T* dst = static_cast<T*>(out->raw_data());
    ForEachIndex(ind->shape(), [&](int64_t i, const std::vector<int64_t>& c) {
      dst[i] = src[OffsetWithAxis(c, strides, a, idx[static_cast<size_t>(i)])];
    });
  });
  return Status::Ok();
}

enum class Reduction { kNone, kAdd, kMul, kMax, kMin };

Result<Reduction> ParseReduction(const std::string& r) {
  if (r == "none") return Reduction::kNone;
  if (r == "add") return Reduction::kAdd;
  if (r == "mul") return Reduction::kMul;
  if (r == "max") return Reduction::kMax;
  if (r == "min") return Reduction::kMin;
  return InvalidArgument("unknown reduction '", r, "'");
}

Status RunScatterElements(int64_t axis_attr, Reduction red, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "data"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* ind, RequiredInput(ctx, 1, "indices"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* upd, RequiredInput(ctx, 2, "updates"));
  TUTTI_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(axis_attr, x->rank()));
  const size_t a = static_cast<size_t>(axis);
  if (upd->shape() != ind->shape() || upd->dtype() != x->dtype())
    return InvalidArgument("updates ", upd->DebugString(), " must match indices ", ind->DebugString(), " and data's type");
  TUTTI_RETURN_IF_ERROR(CheckIndexShape(*x, *ind, a));
  TUTTI_ASSIGN_OR_RETURN(std::vector<int64_t> idx, ReadIndices(*ind, x->dim(axis)));
  TUTTI_ASSIGN_OR_RETURN(Tensor * out, ctx.AllocateOutput(0, x->shape(), x->dtype()));
  CopyIfDistinct(*x, *out);
  const std::vector<int64_t> strides = ContiguousStrides(x->shape());
  auto scatter = [&](auto tag, auto combine) {
    using T = decltype(tag);
    const T* u = upd->data<T>();
    T* dst = out->data<T>();
    ForEachIndex(ind->shape(), [&](int64_t i, const std::vector<int64_t>& c) {
      T& slot = dst[OffsetWithAxis(c, strides, a, idx[static_cast<size_t>(i)])];
      slot = combine(slot, u[i]);
    });
  };
  bool known;
  if (red == Reduction::kNone) {
    known = DispatchBySize(x->dtype(), [&](auto tag) {
      using T = decltype(tag);
      scatter(tag, [](T, T v) { return v; });
    });
  } else {
    known = DispatchType(NumericTypes{}, x->dtype(), [&](auto tag) {
      using T = decltype(tag);
      switch (red) {
        case Reduction::kAdd: return scatter(tag, [](T s, T v) { return WrapAdd(s, v); });
        case Reduction::kMul: return scatter(tag, [](T s, T v) { return WrapMul(s, v); });
        case Reduction::kMax: return scatter(tag, [](T s, T v) { return std::max(s, v); });
        default: return scatter(tag, [](T s, T v) { return std::min(s, v); });
      }
    });
  }
  if (!known) return Unimplemented("ScatterElements reduction on ", DataTypeName(x->dtype()));
  return Status::Ok();
}

Status SupportsScatter(const Graph& g, const Node& n) {
  TUTTI_RETURN_IF_ERROR(SupportsIndexed(g, n));
  TUTTI_ASSIGN_OR_RETURN(Reduction r, ParseReduction(n.GetString("reduction", "none")));
  if (r != Reduction::kNone) return RequireInputType(g, n, 0, NumericTypes{});
  return Status::Ok();
}

// OneHot(indices, depth, values=[off, on]): a new axis of size depth.
Status RunOneHot(int64_t axis_attr, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* ind, RequiredInput(ctx, 0, "indices"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* dep, RequiredInput(ctx, 1, "depth"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* val, RequiredInput(ctx, 2, "values"));
  TUTTI_ASSIGN_OR_RETURN(double depth_f, ScalarInput(*dep, "depth"));
  const int64_t depth = static_cast<int64_t>(depth_f);
  if (depth <= 0) return InvalidArgument("depth must be positive, got ", depth_f);
  if (val->num_elements() != 2) return InvalidArgument("values must hold [off, on], got ", val->DebugString());
  TUTTI_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(axis_attr, ind->rank() + 1));
  Shape out_shape = ind->shape();
  out_shape.insert(out_shape.begin() + axis, depth);
  TUTTI_ASSIGN_OR_RETURN(Tensor * out, ctx.AllocateOutput(0, out_shape, val->dtype()));
  const int64_t outer = DimProduct(ind->shape(), 0, static_cast<size_t>(axis));
  const int64_t inner = DimProduct(ind->shape(), static_cast<size_t>(axis), ind->shape().size());
  bool known = DispatchBySize(val->dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T off = static_cast<const T*>(val->raw_data())[0], on = static_cast<const T*>(val->raw_data())[1];
    T* o = static_cast<T*>(out->raw_data());
    std::fill_n(o, out->num_elements(), off);
    for (int64_t i = 0; i < outer; ++i)
      for (int64_t j = 0; j < inner; ++j) {
        int64_t k = static_cast<int64_t>(ind->ElementAsDouble(i * inner + j));
        if (k < 0) k += depth;
        if (k >= 0 && k < depth) o[(i * depth + k) * inner + j] = on;
      }
  });
  if (!known) return Unimplemented("OneHot values of ", DataTypeName(val->dtype()));
  return Status::Ok();
}

TUTTI_REGISTER_CPU_KERNEL(
    "Gather", "",
    [](const KernelBuildInfo& info) {
      const int64_t axis = info.node.GetInt("axis", 0);
      return MakeKernel([axis](KernelContext& ctx) { return RunGather(axis, ctx); });
    },
    SupportsIndexed);
TUTTI_REGISTER_CPU_KERNEL(
    "GatherElements", "",
    [](const KernelBuildInfo& info) {
      const int64_t axis = info.node.GetInt("axis", 0);
      return MakeKernel([axis](KernelContext& ctx) { return RunGatherElements(axis, ctx); });
    },
    SupportsIndexed);
TUTTI_REGISTER_CPU_KERNEL(
    "ScatterElements", "",
    [](const KernelBuildInfo& info) -> Result<std::unique_ptr<CpuKernel>> {
      const int64_t axis = info.node.GetInt("axis", 0);
      TUTTI_ASSIGN_OR_RETURN(Reduction red, ParseReduction(info.node.GetString("reduction", "none")));
      return MakeKernel([axis, red](KernelContext& ctx) { return RunScatterElements(axis, red, ctx); });
    },
    SupportsScatter);
// Scatter (opsets 9-10, deprecated) is ScatterElements without a reduction.
TUTTI_REGISTER_CPU_KERNEL(
    "Scatter", "",
    [](const KernelBuildInfo& info) {
      const int64_t axis = info.node.GetInt("axis", 0);
      return MakeKernel([axis](KernelContext& ctx) { return RunScatterElements(axis, Reduction::kNone, ctx); });
    },
    SupportsIndexed);
TUTTI_REGISTER_CPU_KERNEL(
    "OneHot", "",
    [](const KernelBuildInfo& info) {
      const int64_t axis = info.node.GetInt("axis", -1);
      return MakeKernel([axis](KernelContext& ctx) { return RunOneHot(axis, ctx); });
    },
    [](const Graph& g, const Node& n) {
      TUTTI_RETURN_IF_ERROR(RequireInputType(g, n, 0, NumericTypes{}));
      return RequireFixedSizeInput(g, n, 2);
    });

}  // namespace
}  // namespace tutti::cpu
