// Operators that make tensors from shapes and scalars -- Shape Size Constant ConstantOfShape Range
// NonZero -- and the mask-style Trilu. Most of them are folded at load time when shapes are
// known; the kernels are here for graphs where they are not (and for the node tests).
#include <cmath>

#include "backends/cpu/ops/layout.h"

namespace tutti::cpu {
namespace {

Status AnyFixedSize(const Graph& g, const Node& n) { return RequireFixedSizeInput(g, n, 0); }

Status RunShape(int64_t start_attr, std::optional<int64_t> end_attr, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "data"));
  const int64_t r = x->rank();
  auto clampi = [r](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + r : v, 0, r); };
  const int64_t b = clampi(start_attr), e = clampi(end_attr.value_or(r));
  const int64_t n = std::max<int64_t>(e - b, 0);
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, {n}, DataType::kInt64));
  for (int64_t i = 0; i < n; ++i) y->data<int64_t>()[i] = x->dim(b + i);
  return Status::Ok();
}

Status RunSize(KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "data"));
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, {}, DataType::kInt64));
  y->data<int64_t>()[0] = x->num_elements();
  return Status::Ok();
}

// The tensor a Constant node holds, from whichever value* attribute it uses.
Result<Tensor> ConstantValue(const Node& n) {
  if (const Tensor* t = n.GetTensor("value")) return *t;
  if (n.HasAttr("value_float")) return Tensor::FromVector<float>({n.GetFloat("value_float", 0)}, {});
  if (n.HasAttr("value_int")) return Tensor::FromVector<int64_t>({n.GetInt("value_int", 0)}, {});
  if (n.HasAttr("value_floats")) {
    const std::vector<float> v = n.GetFloats("value_floats");
    return Tensor::FromVector<float>(v, {static_cast<int64_t>(v.size())});
  }
  if (n.HasAttr("value_ints")) {
    const std::vector<int64_t> v = n.GetInts("value_ints");
    return Tensor::FromVector<int64_t>(v, {static_cast<int64_t>(v.size())});
  }
  return Unimplemented("Constant without a numeric value attribute (sparse or string values are not supported)");
}

Result<std::unique_ptr<CpuKernel>> MakeConstant(const KernelBuildInfo& info) {
  TUTTI_ASSIGN_OR_RETURN(Tensor value, ConstantValue(info.node));
  return MakeKernel([value](KernelContext& ctx) -> Status {
    TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, value.shape(), value.dtype()));
    CopyIfDistinct(value, *y);
    return Status::Ok();
  });
}

Result<std::unique_ptr<CpuKernel>> MakeConstantOfShape(const KernelBuildInfo& info) {
  Tensor value = Tensor::FromVector<float>({0.f}, {});
  if (const Tensor* t = info.node.GetTensor("value")) {
    if (t->num_elements() != 1) return InvalidArgument("ConstantOfShape value must hold one element, got ", t->DebugString());
    value = *t;
  }
  return MakeKernel([value](KernelContext& ctx) -> Status {
    TUTTI_ASSIGN_OR_RETURN(const Tensor* s, RequiredInput(ctx, 0, "input"));
    if (s->dtype() != DataType::kInt64) return InvalidArgument("shape must be int64, got ", DataTypeName(s->dtype()));
    const Shape shape = s->ToInt64Vector();
    for (int64_t d : shape)
      if (d < 0) return InvalidArgument("negative dim in shape ", ShapeToString(shape));
    TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, shape, value.dtype()));
    DispatchBySize(value.dtype(), [&](auto tag) {
      using T = decltype(tag);
      std::fill_n(static_cast<T*>(y->raw_data()), y->num_elements(), *static_cast<const T*>(value.raw_data()));
    });
    return Status::Ok();
  });
}

Status RunRange(KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* start, RequiredInput(ctx, 0, "start"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* limit, RequiredInput(ctx, 1, "limit"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* delta, RequiredInput(ctx, 2, "delta"));
  if (start->dtype() != limit->dtype() || start->dtype() != delta->dtype())
    return InvalidArgument("start, limit and delta must share one type");
  TUTTI_ASSIGN_OR_RETURN(double s, ScalarInput(*start, "start"));
  TUTTI_ASSIGN_OR_RETURN(double l, ScalarInput(*limit, "limit"));
  TUTTI_ASSIGN_OR_RETURN(double d, ScalarInput(*delta, "delta"));
  if (d == 0) return InvalidArgument("Range delta is 0");
  const double count = std::ceil((l - s) / d);
  if (!(count < 1e12)) return InvalidArgument("Range of ", count, " elements is too large");
  const int64_t n = std::max<int64_t>(static_cast<int64_t>(count), 0);
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, {n}, start->dtype()));
  bool known = DispatchType(SignedTypes{}, start->dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T s0 = start->data<T>()[0], dt = delta->data<T>()[0];
    T* o = y->data<T>();
    for (int64_t i = 0; i < n; ++i) o[i] = static_cast<T>(s0 + static_cast<T>(i) * dt);
  });
  if (!known) return Unimplemented("Range on ", DataTypeName(start->dtype()));
  return Status::Ok();
}

Status RunNonZero(KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  std::vector<int64_t> hits;
  bool known = DispatchType(NumericBoolTypes{}, x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* v = x->data<T>();
    for (int64_t i = 0; i < x->num_elements(); ++i)
      if (v[i] != T(0)) hits.push_back(i);
  });
  if (!known) return Unimplemented("NonZero on ", DataTypeName(x->dtype()));
  const int64_t r = x->rank(), n = static_cast<int64_t>(hits.size());
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, {r, n}, DataType::kInt64));
  int64_t* o = y->data<int64_t>();
  for (int64_t j = 0; j < n; ++j) {
    int64_t flat = hits[static_cast<size_t>(j)];
    for (int64_t d = r; d-- > 0;) {
      o[d * n + j] = flat % x->dim(d);
      flat /= x->dim(d);
    }
  }
  return Status::Ok();
}

// Trilu keeps the upper (j - i >= k) or lower (j - i <= k) triangle of the last two dims.
Status RunTrilu(bool upper, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "input"));
  if (x->rank() < 2) return InvalidArgument("Trilu needs rank >= 2, got ", x->DebugString());
  int64_t k = 0;
  if (const Tensor* kt = ctx.input(1)) {
    TUTTI_ASSIGN_OR_RETURN(double kv, ScalarInput(*kt, "k"));
    k = static_cast<int64_t>(kv);
  }
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, x->shape(), x->dtype()));
  const int64_t rows = x->dim(-2), cols = x->dim(-1);
  const int64_t mats = rows * cols == 0 ? 0 : x->num_elements() / (rows * cols);
  DispatchBySize(x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* in = static_cast<const T*>(x->raw_data());
    T* out = static_cast<T*>(y->raw_data());
    for (int64_t m = 0; m < mats; ++m)
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j) {
          const int64_t at = (m * rows + i) * cols + j;
          const bool keep = upper ? j - i >= k : j - i <= k;
          out[at] = keep ? in[at] : T(0);
        }
  });
  return Status::Ok();
}

TUTTI_REGISTER_CPU_KERNEL(
    "Shape", "",
    [](const KernelBuildInfo& info) {
      const int64_t start = info.node.GetInt("start", 0);
      std::optional<int64_t> end;
      if (info.node.HasAttr("end")) end = info.node.GetInt("end", 0);
      return MakeKernel([start, end](KernelContext& ctx) { return RunShape(start, end, ctx); });
    },
    AnyFixedSize);
TUTTI_REGISTER_CPU_KERNEL(
    "Size", "", [](const KernelBuildInfo&) { return MakeKernel(RunSize); }, AnyFixedSize);
TUTTI_REGISTER_CPU_KERNEL("Constant", "", MakeConstant, [](const Graph&, const Node& n) {
  return ConstantValue(n).status();
});
TUTTI_REGISTER_CPU_KERNEL("ConstantOfShape", "", MakeConstantOfShape, [](const Graph&, const Node& n) {
  const Tensor* t = n.GetTensor("value");
  if (t && DataTypeSize(t->dtype()) == 0) return Unimplemented("ConstantOfShape of ", DataTypeName(t->dtype()));
  return Status::Ok();
});
TUTTI_REGISTER_CPU_KERNEL(
    "Range", "", [](const KernelBuildInfo&) { return MakeKernel(RunRange); },
    [](const Graph& g, const Node& n) { return RequireInputType(g, n, 0, SignedTypes{}); });
TUTTI_REGISTER_CPU_KERNEL(
    "NonZero", "", [](const KernelBuildInfo&) { return MakeKernel(RunNonZero); },
    [](const Graph& g, const Node& n) { return RequireInputType(g, n, 0, NumericBoolTypes{}); });
TUTTI_REGISTER_CPU_KERNEL(
    "Trilu", "",
    [](const KernelBuildInfo& info) {
      const bool upper = info.node.GetInt("upper", 1) != 0;
      return MakeKernel([upper](KernelContext& ctx) { return RunTrilu(upper, ctx); });
    },
    AnyFixedSize);

}  // namespace
}  // namespace tutti::cpu
