// Element-moving operators: Concat Split Slice Transpose Tile DepthToSpace SpaceToDepth. Every
// one works on any fixed-size dtype by element size; the strided ones are a view description
// handed to StridedCopy (layout.h), so they share one collapsed, parallel copy loop.
#include "backends/cpu/ops/layout.h"

namespace tutti::cpu {
namespace {

Status AnyFixedSize(const Graph& g, const Node& n) { return RequireFixedSizeInput(g, n, 0); }

// ---- Concat / Split: [outer, axis * inner] row blocks ----------------------------------------------
Status RunConcat(int64_t axis_attr, KernelContext& ctx) {
  std::vector<const Tensor*> in;
  for (size_t i = 0; i < ctx.input_count(); ++i)
    if (ctx.input(i)) in.push_back(ctx.input(i));
  if (in.empty()) return InvalidArgument("Concat needs at least one input");
  const Tensor& first = *in[0];
  TUTTI_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(axis_attr, first.rank()));
  Shape out_shape = first.shape();
  out_shape[static_cast<size_t>(axis)] = 0;
  for (const Tensor* t : in) {
    bool ok = t->dtype() == first.dtype() && t->rank() == first.rank();
    for (int64_t d = 0; ok && d < t->rank(); ++d) ok = d == axis || t->dim(d) == first.dim(d);
    if (!ok) return InvalidArgument("cannot concatenate ", t->DebugString(), " with ", first.DebugString(), " on axis ", axis);
    out_shape[static_cast<size_t>(axis)] += t->dim(axis);
  }
  TUTTI_ASSIGN_OR_RETURN(Tensor * out, ctx.AllocateOutput(0, out_shape, first.dtype()));
  const size_t esize = DataTypeSize(first.dtype());
  const int64_t outer = DimProduct(out_shape, 0, static_cast<size_t>(axis));
  const int64_t out_row = out->num_elements() / std::max<int64_t>(outer, 1);
  std::byte* dst = static_cast<std::byte*>(out->raw_data());
  ParallelRanges(outer, out_row, [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      int64_t col = 0;
      for (const Tensor* t : in) {
        const int64_t row = t->num_elements() / std::max<int64_t>(outer, 1);
        if (row == 0) continue;
        std::memcpy(dst + (o * out_row + col) * esize, static_cast<const std::byte*>(t->raw_data()) + o * row * esize,
                    static_cast<size_t>(row) * esize);
        col += row;
      }
    }
  });
  return Status::Ok();
}

Status RunSplit(int64_t axis_attr, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "input"));
  TUTTI_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(axis_attr, x->rank()));
  const int64_t dim = x->dim(axis);
  const int64_t n = static_cast<int64_t>(ctx.output_count());
  TUTTI_ASSIGN_OR_RETURN(OptionalInts split, IntsFromInputOrAttr(ctx, 1, std::nullopt, "split"));
  std::vector<int64_t> sizes;
  if (split) {
    sizes = *split;
    if (static_cast<int64_t>(sizes.size()) != n)
      return InvalidArgument("split has ", sizes.size(), " sizes for ", n, " outputs");
    int64_t sum = 0;
    for (int64_t s : sizes) {
      if (s < 0) return InvalidArgument("negative split size ", s);
      sum += s;
    }
    if (sum != dim) return InvalidArgument("split sizes sum to ", sum, ", the axis has ", dim);
  } else {
    const int64_t chunk = (dim + n - 1) / n;  // opset 18 num_outputs rule; the last one may be smaller
    for (int64_t i = 0, left = dim; i < n; ++i, left -= chunk) sizes.push_back(std::clamp<int64_t>(left, 0, chunk));
  }
  const size_t esize = DataTypeSize(x->dtype());
  const int64_t outer = DimProduct(x->shape(), 0, static_cast<size_t>(axis));
  const int64_t inner = DimProduct(x->shape(), static_cast<size_t>(axis) + 1, x->shape().size());
  const std::byte* src = static_cast<const std::byte*>(x->raw_data());
  int64_t col = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t row = sizes[static_cast<size_t>(i)] * inner;
    if (ctx.output_wanted(static_cast<size_t>(i))) {
      Shape s = x->shape();
      s[static_cast<size_t>(axis)] = sizes[static_cast<size_t>(i)];
      TUTTI_ASSIGN_OR_RETURN(Tensor * out, ctx.AllocateOutput(static_cast<size_t>(i), s, x->dtype()));
      std::byte* dst = static_cast<std::byte*>(out->raw_data());
      if (row > 0) {
        ParallelRanges(outer, row, [&](int64_t b, int64_t e) {
          for (int64_t o = b; o < e; ++o)
            std::memcpy(dst + o * row * esize, src + (o * dim * inner + col) * esize, static_cast<size_t>(row) * esize);
        });
      }
    }
    col += row;
  }
  return Status::Ok();
}

// ---- Slice ---------------------------------------------------------------------------------------
Status RunSlice(KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "data"));
  TUTTI_ASSIGN_OR_RETURN(OptionalInts starts, IntsFromInputOrAttr(ctx, 1, std::nullopt, "starts"));
  TUTTI_ASSIGN_OR_RETURN(OptionalInts ends, IntsFromInputOrAttr(ctx, 2, std::nullopt, "ends"));
  TUTTI_ASSIGN_OR_RETURN(OptionalInts axes, IntsFromInputOrAttr(ctx, 3, std::nullopt, "axes"));
  TUTTI_ASSIGN_OR_RETURN(OptionalInts steps, IntsFromInputOrAttr(ctx, 4, std::nullopt, "steps"));
  if (!starts || !ends || starts->size() != ends->size())
    return InvalidArgument("Slice needs starts and ends of one length");
  const size_t k = starts->size();
  if ((axes && axes->size() != k) || (steps && steps->size() != k))
    return InvalidArgument("Slice axes/steps must have ", k, " entries like starts");
  const int64_t rank = x->rank();
  Shape out_shape = x->shape();
  std::vector<int64_t> begin(static_cast<size_t>(rank), 0), step(static_cast<size_t>(rank), 1);
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (size_t i = 0; i < k; ++i) {
    TUTTI_ASSIGN_OR_RETURN(int64_t a, NormalizeAxis(axes ? (*axes)[i] : static_cast<int64_t>(i), rank));
    const size_t au = static_cast<size_t>(a);
    if (seen[au]) return InvalidArgument("Slice axis ", a, " is repeated");
    seen[au] = true;
    const int64_t dim = x->dim(a), st = steps ? (*steps)[i] : 1;
    if (st == 0) return InvalidArgument("Slice step is 0 on axis ", a);
    int64_t s = (*starts)[i], e = (*ends)[i];
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    int64_t count;
    if (st > 0) {
      s = std::clamp<int64_t>(s, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
      count = e > s ? (e - s + st - 1) / st : 0;
    } else {
      s = std::clamp<int64_t>(s, 0, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
      count = s > e ? (s - e + (-st) - 1) / (-st) : 0;
    }
    begin[au] = s;
    step[au] = st;
    out_shape[au] = count;
  }
  TUTTI_ASSIGN_OR_RETURN(Tensor * out, ctx.AllocateOutput(0, out_shape, x->dtype()));
  const std::vector<int64_t> src = ContiguousStrides(x->shape());
  std::vector<int64_t> strides(static_cast<size_t>(rank));
  int64_t offset = 0;
  for (size_t d = 0; d < static_cast<size_t>(rank); ++d) {
    if (out_shape[d] == 0) return Status::Ok();
    offset += begin[d] * src[d];
    strides[d] = step[d] * src[d];
  }
  StridedCopy(x->raw_data(), offset, out_shape, strides, out->raw_data(), DataTypeSize(x->dtype()));
  return Status::Ok();
}

// ---- Transpose -----------------------------------------------------------------------------------
Status RunTranspose(const OptionalInts& perm_attr, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "data"));
  const size_t r = static_cast<size_t>(x->rank());
  std::vector<int64_t> perm(r);
  if (perm_attr) {
    perm = *perm_attr;
    std::vector<int64_t> sorted = perm;
    std::sort(sorted.begin(), sorted.end());
    bool ok = perm.size() == r;
    for (size_t i = 0; ok && i < r; ++i) ok = sorted[i] == static_cast<int64_t>(i);
    if (!ok) return InvalidArgument("perm ", ShapeToString(perm), " is not a permutation of rank ", r);
  } else {
    for (size_t i = 0; i < r; ++i) perm[i] = static_cast<int64_t>(r - 1 - i);
  }
  Shape out_shape(r);
  for (size_t d = 0; d < r; ++d) out_shape[d] = x->shape()[static_cast<size_t>(perm[d])];
  TUTTI_ASSIGN_OR_RETURN(Tensor * out, ctx.AllocateOutput(0, out_shape, x->dtype()));
  TransposeInto(*x, perm, *out);
  return Status::Ok();
}

// ---- Tile: the output as [rep0, in0, rep1, in1, ...] read with stride 0 over the repeats ---------
Status RunTile(KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "input"));
  TUTTI_ASSIGN_OR_RETURN(OptionalInts reps, IntsFromInputOrAttr(ctx, 1, std::nullopt, "repeats"));
  if (!reps || static_cast<int64_t>(reps->size()) != x->rank())
    return InvalidArgument("Tile repeats must have one entry per dim of ", x->DebugString());
  const std::vector<int64_t> src = ContiguousStrides(x->shape());
  Shape out_shape, view;
  std::vector<int64_t> strides;
  for (size_t d = 0; d < x->shape().size(); ++d) {
    if ((*reps)[d] < 0) return InvalidArgument("negative repeat ", (*reps)[d]);
    out_shape.push_back(x->shape()[d] * (*reps)[d]);
    view.insert(view.end(), {(*reps)[d], x->shape()[d]});
    strides.insert(strides.end(), {0, src[d]});
  }
  TUTTI_ASSIGN_OR_RETURN(Tensor * out, ctx.AllocateOutput(0, out_shape, x->dtype()));
  StridedCopy(x->raw_data(), 0, view, strides, out->raw_data(), DataTypeSize(x->dtype()));
  return Status::Ok();
}

// ---- DepthToSpace / SpaceToDepth: a 6-D reshape-transpose-reshape ------------------------------
Status RunDepthSpace(bool to_space, int64_t b, bool crd, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "input"));
  if (x->rank() != 4 || b <= 0) return InvalidArgument("expects a 4-D input and blocksize > 0, got ", x->DebugString());
  const int64_t n = x->dim(0), c = x->dim(1), h = x->dim(2), w = x->dim(3);
  Shape in6, out_shape;
  std::vector<int64_t> perm;
  if (to_space) {
    if (c % (b * b) != 0) return InvalidArgument("channels ", c, " are not divisible by blocksize^2 ", b * b);
    const int64_t oc = c / (b * b);
    in6 = crd ? Shape{n, oc, b, b, h, w} : Shape{n, b, b, oc, h, w};
    perm = crd ? std::vector<int64_t>{0, 1, 4, 2, 5, 3} : std::vector<int64_t>{0, 3, 4, 1, 5, 2};
    out_shape = {n, oc, h * b, w * b};
  } else {
    if (h % b != 0 || w % b != 0) return InvalidArgument("spatial dims ", h, "x", w, " are not divisible by ", b);
    in6 = {n, c, h / b, b, w / b, b};
    perm = {0, 3, 5, 1, 2, 4};
    out_shape = {n, c * b * b, h / b, w / b};
  }
  TUTTI_ASSIGN_OR_RETURN(Tensor * out, ctx.AllocateOutput(0, out_shape, x->dtype()));
  const std::vector<int64_t> src = ContiguousStrides(in6);
  Shape view(6);
  std::vector<int64_t> strides(6);
  for (size_t d = 0; d < 6; ++d) {
    view[d] = in6[static_cast<size_t>(perm[d])];
    strides[d] = src[static_cast<size_t>(perm[d])];
  }
  StridedCopy(x->raw_data(), 0, view, strides, out->raw_data(), DataTypeSize(x->dtype()));
  return Status::Ok();
}

Status SupportsDepthToSpace(const Graph& g, const Node& n) {
  const std::string mode = n.GetString("mode", "DCR");
  if (mode != "DCR" && mode != "CRD") return InvalidArgument("DepthToSpace mode '", mode, "'");
  return RequireFixedSizeInput(g, n, 0);
}

TUTTI_REGISTER_CPU_KERNEL(
    "Concat", "",
    [](const KernelBuildInfo& info) {
      const int64_t axis = info.node.GetInt("axis", 0);
      return MakeKernel([axis](KernelContext& ctx) { return RunConcat(axis, ctx); });
    },
    AnyFixedSize);
TUTTI_REGISTER_CPU_KERNEL(
    "Split", "",
    [](const KernelBuildInfo& info) {
      const int64_t axis = info.node.GetInt("axis", 0);
      return MakeKernel([axis](KernelContext& ctx) { return RunSplit(axis, ctx); });
    },
    AnyFixedSize);
TUTTI_REGISTER_CPU_KERNEL(
    "Slice", "", [](const KernelBuildInfo&) { return MakeKernel(RunSlice); }, AnyFixedSize);
TUTTI_REGISTER_CPU_KERNEL(
    "Transpose", "",
    [](const KernelBuildInfo& info) {
      OptionalInts perm = AttrInts(info.node, "perm");
      return MakeKernel([perm](KernelContext& ctx) { return RunTranspose(perm, ctx); });
    },
    AnyFixedSize);
TUTTI_REGISTER_CPU_KERNEL(
    "Tile", "", [](const KernelBuildInfo&) { return MakeKernel(RunTile); }, AnyFixedSize);
TUTTI_REGISTER_CPU_KERNEL(
    "DepthToSpace", "",
    [](const KernelBuildInfo& info) {
      const int64_t b = info.node.GetInt("blocksize", 0);
      const bool crd = info.node.GetString("mode", "DCR") == "CRD";
      return MakeKernel([b, crd](KernelContext& ctx) { return RunDepthSpace(true, b, crd, ctx); });
    },
    SupportsDepthToSpace);
TUTTI_REGISTER_CPU_KERNEL(
    "SpaceToDepth", "",
    [](const KernelBuildInfo& info) {
      const int64_t b = info.node.GetInt("blocksize", 0);
      return MakeKernel([b](KernelContext& ctx) { return RunDepthSpace(false, b, false, ctx); });
    },
    AnyFixedSize);

}  // namespace
}  // namespace tutti::cpu
