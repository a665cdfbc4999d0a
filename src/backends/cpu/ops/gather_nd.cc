// GatherND and ScatterND: indices whose last dim holds a (partial) coordinate into data, so each
// index tuple addresses a whole slice (PyTorch exports advanced indexing and index_put this way).
// Negative coordinates count from the end; one out of range is an error naming it.
#include "backends/cpu/ops/layout.h"

namespace tutti::cpu {
namespace {

// Flat element offsets (in units of `slice` elements' start) of every index tuple in `ind`, each
// tuple of length k addressing data dims [first, first + k). `per_batch` tuples per batch entry.
Result<std::vector<int64_t>> SliceOffsets(const Tensor& ind, const Shape& data, size_t first, int64_t k) {
  if (ind.dtype() != DataType::kInt64 && ind.dtype() != DataType::kInt32)
    return InvalidArgument("indices must be int32 or int64, got ", DataTypeName(ind.dtype()));
  if (first + static_cast<size_t>(k) > data.size())
    return InvalidArgument("index tuples of length ", k, " exceed data of rank ", data.size());
  const std::vector<int64_t> raw = ind.ToInt64Vector();
  const int64_t tuples = k == 0 ? 0 : static_cast<int64_t>(raw.size()) / k;
  const int64_t slice = DimProduct(data, first + static_cast<size_t>(k), data.size());
  std::vector<int64_t> out(static_cast<size_t>(tuples));
  for (int64_t t = 0; t < tuples; ++t) {
    int64_t off = 0;
    for (int64_t j = 0; j < k; ++j) {
      const int64_t dim = data[first + static_cast<size_t>(j)];
      int64_t i = raw[static_cast<size_t>(t * k + j)];
      const int64_t orig = i;
      if (i < 0) i += dim;
      if (i < 0 || i >= dim) return InvalidArgument("index ", orig, " is out of range for a dim of size ", dim);
      off = off * dim + i;
    }
    out[static_cast<size_t>(t)] = off * slice;
  }
  return out;
}

Status RunGatherND(int64_t batch_dims, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "data"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* ind, RequiredInput(ctx, 1, "indices"));
  const size_t b = static_cast<size_t>(batch_dims);
  if (batch_dims < 0 || ind->rank() < 1 || b >= static_cast<size_t>(ind->rank()) || b >= static_cast<size_t>(x->rank()))
    return InvalidArgument("batch_dims ", batch_dims, " does not fit data ", x->DebugString(), " and indices ",
                           ind->DebugString());
  for (size_t d = 0; d < b; ++d)
    if (x->shape()[d] != ind->shape()[d])
      return InvalidArgument("batch dim ", d, " differs: data ", x->DebugString(), ", indices ", ind->DebugString());
  const int64_t k = ind->shape().back();
  if (k < 1 || b + static_cast<size_t>(k) > x->shape().size())
    return InvalidArgument("indices' last dim ", k, " does not fit data ", x->DebugString());
  Shape out_shape(ind->shape().begin(), ind->shape().end() - 1);
  out_shape.insert(out_shape.end(), x->shape().begin() + static_cast<std::ptrdiff_t>(b + static_cast<size_t>(k)),
                   x->shape().end());
  TUTTI_ASSIGN_OR_RETURN(Tensor * out, ctx.AllocateOutput(0, out_shape, x->dtype()));
  TUTTI_ASSIGN_OR_RETURN(std::vector<int64_t> offs, SliceOffsets(*ind, x->shape(), b, k));
  const int64_t batches = DimProduct(x->shape(), 0, b);
  const int64_t per_batch = batches == 0 ? 0 : static_cast<int64_t>(offs.size()) / batches;
  const int64_t batch_stride = DimProduct(x->shape(), b, x->shape().size());
  const size_t es = DataTypeSize(x->dtype());
  const size_t slice_bytes = static_cast<size_t>(DimProduct(x->shape(), b + static_cast<size_t>(k), x->shape().size())) * es;
  const std::byte* src = static_cast<const std::byte*>(x->raw_data());
  std::byte* dst = static_cast<std::byte*>(out->raw_data());
  if (slice_bytes == 0) return Status::Ok();
  for (size_t t = 0; t < offs.size(); ++t) {
    const int64_t batch = per_batch ? static_cast<int64_t>(t) / per_batch : 0;
    std::memcpy(dst + t * slice_bytes, src + static_cast<size_t>(batch * batch_stride + offs[t]) * es, slice_bytes);
  }
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

Status RunScatterND(Reduction red, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "data"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* ind, RequiredInput(ctx, 1, "indices"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* upd, RequiredInput(ctx, 2, "updates"));
  if (ind->rank() < 1) return InvalidArgument("indices must have rank >= 1, got ", ind->DebugString());
  const int64_t k = ind->shape().back();
  if (k < 1 || k > x->rank()) return InvalidArgument("indices' last dim ", k, " does not fit data ", x->DebugString());
  Shape want(ind->shape().begin(), ind->shape().end() - 1);
  want.insert(want.end(), x->shape().begin() + k, x->shape().end());
  if (upd->shape() != want || upd->dtype() != x->dtype())
    return InvalidArgument("updates ", upd->DebugString(), " must be ", ShapeToString(want), " of data's type");
  TUTTI_ASSIGN_OR_RETURN(std::vector<int64_t> offs, SliceOffsets(*ind, x->shape(), 0, k));
  TUTTI_ASSIGN_OR_RETURN(Tensor * out, ctx.AllocateOutput(0, x->shape(), x->dtype()));
  CopyIfDistinct(*x, *out);
  const int64_t slice = DimProduct(x->shape(), static_cast<size_t>(k), x->shape().size());
  auto scatter = [&](auto tag, auto combine) {
    using T = decltype(tag);
    const T* u = static_cast<const T*>(upd->raw_data());
    T* dst = static_cast<T*>(out->raw_data());
    for (size_t t = 0; t < offs.size(); ++t)
      for (int64_t j = 0; j < slice; ++j) {
        T& s = dst[offs[t] + j];
        s = combine(s, u[static_cast<int64_t>(t) * slice + j]);
      }
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
  if (!known) return Unimplemented("ScatterND reduction on ", DataTypeName(x->dtype()));
  return Status::Ok();
}

Status SupportsIndexed(const Graph& g, const Node& n) {
  TUTTI_RETURN_IF_ERROR(RequireFixedSizeInput(g, n, 0));
  return RequireInputType(g, n, 1, TypeList<int32_t, int64_t>{});
}

TUTTI_REGISTER_CPU_KERNEL(
    "GatherND", "",
    [](const KernelBuildInfo& info) {
      const int64_t b = info.node.GetInt("batch_dims", 0);
      return MakeKernel([b](KernelContext& ctx) { return RunGatherND(b, ctx); });
    },
    SupportsIndexed);
TUTTI_REGISTER_CPU_KERNEL(
    "ScatterND", "",
    [](const KernelBuildInfo& info) -> Result<std::unique_ptr<CpuKernel>> {
      TUTTI_ASSIGN_OR_RETURN(Reduction red, ParseReduction(info.node.GetString("reduction", "none")));
      return MakeKernel([red](KernelContext& ctx) { return RunScatterND(red, ctx); }, true);
    },
    [](const Graph& g, const Node& n) -> Status {
      TUTTI_RETURN_IF_ERROR(SupportsIndexed(g, n));
      TUTTI_ASSIGN_OR_RETURN(Reduction r, ParseReduction(n.GetString("reduction", "none")));
      if (r != Reduction::kNone) return RequireInputType(g, n, 0, NumericTypes{});
      return Status::Ok();
    });

}  // namespace
}  // namespace tutti::cpu
