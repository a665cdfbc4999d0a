// Comparisons (Equal Less Greater LessOrEqual GreaterOrEqual -> bool), logic (And Or Xor Not) and
// Where: the broadcasting ops whose outputs or conditions are bool.
#include "backends/cpu/ops/broadcast.h"

namespace tutti::cpu {
namespace {

enum class Cmp { kEqual, kLess, kGreater, kLessOrEqual, kGreaterOrEqual, kAnd, kOr, kXor };

template <typename T>
void ApplyCompare(Cmp op, const BroadcastPlan<2>& p, const T* a, const T* b, bool* o) {
  switch (op) {
    case Cmp::kEqual: return BroadcastBinary(p, a, b, o, [](T x, T y) { return x == y; });
    case Cmp::kLess: return BroadcastBinary(p, a, b, o, [](T x, T y) { return x < y; });
    case Cmp::kGreater: return BroadcastBinary(p, a, b, o, [](T x, T y) { return x > y; });
    case Cmp::kLessOrEqual: return BroadcastBinary(p, a, b, o, [](T x, T y) { return x <= y; });
    case Cmp::kGreaterOrEqual: return BroadcastBinary(p, a, b, o, [](T x, T y) { return x >= y; });
    case Cmp::kAnd: return BroadcastBinary(p, a, b, o, [](T x, T y) { return x && y; });
    case Cmp::kOr: return BroadcastBinary(p, a, b, o, [](T x, T y) { return x || y; });
    case Cmp::kXor: return BroadcastBinary(p, a, b, o, [](T x, T y) { return (x != 0) != (y != 0); });
  }
}

bool IsLogic(Cmp op) { return op == Cmp::kAnd || op == Cmp::kOr || op == Cmp::kXor; }

Status RunCompare(Cmp op, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* a, RequiredInput(ctx, 0, "A"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* b, RequiredInput(ctx, 1, "B"));
  if (a->dtype() != b->dtype())
    return InvalidArgument("inputs have different types: ", DataTypeName(a->dtype()), " and ", DataTypeName(b->dtype()));
  const Shape shapes[] = {a->shape(), b->shape()};
  TUTTI_ASSIGN_OR_RETURN(Shape out_shape, BroadcastShapes(shapes));
  TUTTI_ASSIGN_OR_RETURN(Tensor * out, ctx.AllocateOutput(0, out_shape, DataType::kBool));
  Tensor fa = *a, fb = *b;
  if (IsHalfType(a->dtype())) {
    TUTTI_ASSIGN_OR_RETURN(fa, HalfToFloat32(*a));
    TUTTI_ASSIGN_OR_RETURN(fb, HalfToFloat32(*b));
  }
  const BroadcastPlan<2> plan = PlanBroadcast<2>(out_shape, {&fa.shape(), &fb.shape()});
  bool known = IsLogic(op) ? DispatchType(BoolTypes{}, fa.dtype(), [&](auto tag) {
    using T = decltype(tag);
    ApplyCompare<T>(op, plan, fa.data<T>(), fb.data<T>(), out->data<bool>());
  }) : DispatchType(NumericBoolTypes{}, fa.dtype(), [&](auto tag) {
    using T = decltype(tag);
    ApplyCompare<T>(op, plan, fa.data<T>(), fb.data<T>(), out->data<bool>());
  });
  if (!known) return Unimplemented("comparison on ", DataTypeName(a->dtype()));
  return Status::Ok();
}

Status SupportsCompare(Cmp op, const Graph& g, const Node& n) {
  if (IsLogic(op)) return RequireInputType(g, n, 0, BoolTypes{});
  if (op == Cmp::kEqual) return RequireInputType(g, n, 0, NumericBoolTypes{}, true);
  return RequireInputType(g, n, 0, NumericTypes{}, true);
}

#define TUTTI_COMPARE_KERNEL(NAME, OP)                                                                   \
  TUTTI_REGISTER_CPU_KERNEL(                                                                             \
      NAME, "",                                                                                          \
      [](const KernelBuildInfo&) { return MakeKernel([](KernelContext& ctx) { return RunCompare(OP, ctx); }); }, \
      [](const Graph& g, const Node& n) { return SupportsCompare(OP, g, n); })

TUTTI_COMPARE_KERNEL("Equal", Cmp::kEqual);
TUTTI_COMPARE_KERNEL("Less", Cmp::kLess);
TUTTI_COMPARE_KERNEL("Greater", Cmp::kGreater);
TUTTI_COMPARE_KERNEL("LessOrEqual", Cmp::kLessOrEqual);
TUTTI_COMPARE_KERNEL("GreaterOrEqual", Cmp::kGreaterOrEqual);
TUTTI_COMPARE_KERNEL("And", Cmp::kAnd);
TUTTI_COMPARE_KERNEL("Or", Cmp::kOr);
TUTTI_COMPARE_KERNEL("Xor", Cmp::kXor);

Status RunNot(KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  if (x->dtype() != DataType::kBool) return Unimplemented("Not on ", DataTypeName(x->dtype()));
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, x->shape(), DataType::kBool));
  const bool* in = x->data<bool>();
  bool* out = y->data<bool>();
  ParallelRanges(x->num_elements(), 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[i] = !in[i];
  });
  return Status::Ok();
}

TUTTI_REGISTER_CPU_KERNEL(
    "Not", "", [](const KernelBuildInfo&) { return MakeKernel(RunNot, true); },
    [](const Graph& g, const Node& n) { return RequireInputType(g, n, 0, BoolTypes{}); });

// Where(cond, X, Y): three-way broadcast; moves elements, so any fixed-size dtype works.
Status RunWhere(KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* c, RequiredInput(ctx, 0, "condition"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 1, "X"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* y, RequiredInput(ctx, 2, "Y"));
  if (c->dtype() != DataType::kBool) return InvalidArgument("condition must be bool, got ", DataTypeName(c->dtype()));
  if (x->dtype() != y->dtype())
    return InvalidArgument("X and Y have different types: ", DataTypeName(x->dtype()), " and ", DataTypeName(y->dtype()));
  const Shape shapes[] = {c->shape(), x->shape(), y->shape()};
  TUTTI_ASSIGN_OR_RETURN(Shape out_shape, BroadcastShapes(shapes));
  TUTTI_ASSIGN_OR_RETURN(Tensor * out, ctx.AllocateOutput(0, out_shape, x->dtype()));
  const BroadcastPlan<3> p = PlanBroadcast<3>(out_shape, {&c->shape(), &x->shape(), &y->shape()});
  const bool* cond = c->data<bool>();
  bool known = DispatchBySize(x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* xs = static_cast<const T*>(x->raw_data());
    const T* ys = static_cast<const T*>(y->raw_data());
    T* o = static_cast<T*>(out->raw_data());
    ForEachSpan(p, [&](int64_t oo, const std::array<int64_t, 3>& off, const std::array<int64_t, 3>& st, int64_t n) {
      const bool* pc = cond + off[0];
      const T* px = xs + off[1];
      const T* py = ys + off[2];
      T* po = o + oo;
      if (st[0] && st[1] && st[2]) {
        for (int64_t i = 0; i < n; ++i) po[i] = pc[i] ? px[i] : py[i];
      } else {
        for (int64_t i = 0; i < n; ++i) po[i] = pc[i * st[0]] ? px[i * st[1]] : py[i * st[2]];
      }
    });
  });
  if (!known) return Unimplemented("Where on ", DataTypeName(x->dtype()));
  return Status::Ok();
}

TUTTI_REGISTER_CPU_KERNEL(
    "Where", "", [](const KernelBuildInfo&) { return MakeKernel(RunWhere); },
    [](const Graph& g, const Node& n) {
      TUTTI_RETURN_IF_ERROR(RequireInputType(g, n, 0, BoolTypes{}));
      return RequireFixedSizeInput(g, n, 1);
    });

}  // namespace
}  // namespace tutti::cpu
