// Reductions: ReduceSum ReduceMean ReduceMax ReduceMin ReduceProd ReduceL1 ReduceL2 ReduceLogSum
// ReduceLogSumExp ReduceSumSquare, in the loader's normal form (axes as optional input 1,
// keepdims and noop_with_empty_axes attributes).
//
// The reduced axes are brought into one [outer, R, inner] block: after dropping size-1 dims and
// merging neighbours, kept-reduced-kept patterns (the common ones: last axis, spatial axes of NCHW,
// the channel axis) are read in place; any other pattern is first transposed into kept-then-reduced
// order. Rows (inner == 1) accumulate along contiguous memory, columns (inner > 1) accumulate whole
// vectors of `inner`, so both compile to vector loops. Floats accumulate in double.
#include <cmath>
#include <limits>

#include "backends/cpu/ops/layout.h"

namespace tutti::cpu {
namespace {

enum class Red { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

bool FloatOnly(Red r) { return r == Red::kMean || r == Red::kL2 || r == Red::kLogSum || r == Red::kLogSumExp; }

struct Plan {
  Shape out_shape;
  int64_t outer = 1, r = 1, inner = 1;
  std::vector<int64_t> perm;  // non-empty: transpose the input by this first, then reduce [outer, r]
};

Plan MakePlan(const Shape& in, const std::vector<bool>& reduced, bool keepdims) {
  Plan p;
  struct Group { int64_t size; bool red; };
  std::vector<Group> groups;
  for (size_t d = 0; d < in.size(); ++d) {
    if (reduced[d]) {
      if (keepdims) p.out_shape.push_back(1);
    } else {
      p.out_shape.push_back(in[d]);
    }
    if (in[d] == 1) continue;
    if (!groups.empty() && groups.back().red == reduced[d]) {
      groups.back().size *= in[d];
    } else {
      groups.push_back({in[d], reduced[d]});
    }
  }
  size_t reduced_groups = 0;
  for (const Group& g : groups) reduced_groups += g.red;
  if (reduced_groups <= 1) {
    bool seen = false;
    for (const Group& g : groups) {
      if (g.red) {
        p.r = g.size;
        seen = true;
      } else {
        (seen ? p.inner : p.outer) *= g.size;
      }
    }
    return p;
  }
  for (size_t d = 0; d < in.size(); ++d)
    if (!reduced[d]) p.perm.push_back(static_cast<int64_t>(d));
  for (size_t d = 0; d < in.size(); ++d)
    if (reduced[d]) p.perm.push_back(static_cast<int64_t>(d));
  for (size_t d = 0; d < in.size(); ++d) (reduced[d] ? p.r : p.outer) *= in[d];
  return p;
}

// acc = fold(acc, map(x)) over r, then y = fin(acc, r); on the [outer, r, inner] block.
template <typename T, typename Acc, typename MapF, typename FoldF, typename FinF>
void ReduceBlock(const T* x, T* y, const Plan& p, Acc init, MapF map, FoldF fold, FinF fin) {
  const int64_t outer = p.outer, r = p.r, inner = p.inner;
  if (inner == 1) {
    ParallelRanges(outer, r, [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        const T* row = x + o * r;
        Acc acc = init;
        for (int64_t k = 0; k < r; ++k) acc = fold(acc, map(row[k]));
        y[o] = fin(acc, r);
      }
    });
    return;
  }
  constexpr int64_t kBlock = 512;
  const int64_t blocks = (inner + kBlock - 1) / kBlock;
  ParallelRanges(outer * blocks, r * std::min(inner, kBlock), [&](int64_t b, int64_t e) {
    Acc acc[kBlock];
    for (int64_t item = b; item < e; ++item) {
      const int64_t o = item / blocks, i0 = (item % blocks) * kBlock, n = std::min(kBlock, inner - i0);
      for (int64_t i = 0; i < n; ++i) acc[i] = init;
      for (int64_t k = 0; k < r; ++k) {
        const T* src = x + (o * r + k) * inner + i0;
        for (int64_t i = 0; i < n; ++i) acc[i] = fold(acc[i], map(src[i]));
      }
      T* dst = y + o * inner + i0;
      for (int64_t i = 0; i < n; ++i) dst[i] = fin(acc[i], r);
    }
  });
}

template <typename T>
void Reduce(Red op, const T* x, T* y, const Plan& p) {
  constexpr bool kFloat = std::is_floating_point_v<T>;
  using Acc = std::conditional_t<kFloat, double, T>;
  auto id = [](auto v) { return v; };
  auto keep = [](Acc a, int64_t) { return static_cast<T>(a); };
  auto add = [](Acc a, Acc v) { return WrapAdd(a, v); };
  auto to_acc = [](T v) { return static_cast<Acc>(v); };
  switch (op) {
    case Red::kSum: return ReduceBlock(x, y, p, Acc(0), to_acc, add, keep);
    case Red::kProd: return ReduceBlock(x, y, p, Acc(1), to_acc, [](Acc a, Acc v) { return WrapMul(a, v); }, keep);
    case Red::kSumSquare:
      return ReduceBlock(x, y, p, Acc(0), [](T v) { return WrapMul(static_cast<Acc>(v), static_cast<Acc>(v)); }, add, keep);
    case Red::kL1:
      return ReduceBlock(x, y, p, Acc(0), [](T v) {
        if constexpr (std::is_signed_v<T>) return static_cast<Acc>(v < T(0) ? WrapSub(T(0), v) : v);
        else return static_cast<Acc>(v);
      }, add, keep);
    case Red::kMax: {
      const T lo = kFloat ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::lowest();
      return ReduceBlock(x, y, p, lo, id, [](T a, T v) { return v > a || v != v ? v : a; }, [](T a, int64_t) { return a; });
    }
    case Red::kMin: {
      const T hi = kFloat ? std::numeric_limits<T>::infinity() : std::numeric_limits<T>::max();
      return ReduceBlock(x, y, p, hi, id, [](T a, T v) { return v < a || v != v ? v : a; }, [](T a, int64_t) { return a; });
    }
    default: break;
  }
  if constexpr (kFloat) {
    switch (op) {
      case Red::kMean:
        return ReduceBlock(x, y, p, 0.0, to_acc, add, [](double a, int64_t r) { return static_cast<T>(a / static_cast<double>(r)); });
      case Red::kL2:
        return ReduceBlock(x, y, p, 0.0, [](T v) { return static_cast<double>(v) * v; }, add,
                           [](double a, int64_t) { return static_cast<T>(std::sqrt(a)); });
      case Red::kLogSum:
        return ReduceBlock(x, y, p, 0.0, to_acc, add, [](double a, int64_t) { return static_cast<T>(std::log(a)); });
      case Red::kLogSumExp: {
        // Subtract the max first so exp never overflows: log(sum e^(x-m)) + m.
        std::vector<T> m(static_cast<size_t>(p.outer * p.inner));
        Reduce(Red::kMax, x, m.data(), p);
        ParallelRanges(p.outer, p.r * p.inner, [&](int64_t b, int64_t e) {
          std::vector<double> acc(static_cast<size_t>(p.inner));
          for (int64_t o = b; o < e; ++o) {
            const T* mo = m.data() + o * p.inner;
            std::fill(acc.begin(), acc.end(), 0.0);
            for (int64_t k = 0; k < p.r; ++k) {
              const T* src = x + (o * p.r + k) * p.inner;
              for (int64_t i = 0; i < p.inner; ++i) acc[static_cast<size_t>(i)] += std::exp(static_cast<double>(src[i]) - mo[i]);
            }
            for (int64_t i = 0; i < p.inner; ++i) {
              const double mi = mo[i];
              y[o * p.inner + i] = std::isinf(mi) ? static_cast<T>(mi) : static_cast<T>(std::log(acc[static_cast<size_t>(i)]) + mi);
            }
          }
        });
        return;
      }
      default: break;
    }
  }
}

class ReduceKernel final : public CpuKernel {
 public:
  ReduceKernel(Red op, bool keepdims, bool noop_empty) : op_(op), keepdims_(keepdims), noop_empty_(noop_empty) {}

  Status Run(KernelContext& ctx) override {
    TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "data"));
    TUTTI_ASSIGN_OR_RETURN(OptionalInts axes, IntsFromInputOrAttr(ctx, 1, std::nullopt, "axes"));
    const int64_t rank = x->rank();
    std::vector<bool> reduced(static_cast<size_t>(rank), false);
    if (!axes || axes->empty()) {
      if (noop_empty_) {
        TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, x->shape(), x->dtype()));
        CopyIfDistinct(*x, *y);
        return Status::Ok();
      }
      reduced.assign(static_cast<size_t>(rank), true);
    } else {
      TUTTI_ASSIGN_OR_RETURN(std::vector<int64_t> ax, NormalizeAxes(*axes, rank));
      for (int64_t a : ax) reduced[static_cast<size_t>(a)] = true;
    }
    Plan p = MakePlan(x->shape(), reduced, keepdims_);
    TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, p.out_shape, x->dtype()));
    if (y->num_elements() == 0) return Status::Ok();
    Tensor src = *x;
    if (!p.perm.empty() && x->num_elements() > 0) {
      Shape ps;
      for (int64_t d : p.perm) ps.push_back(x->shape()[static_cast<size_t>(d)]);
      TUTTI_ASSIGN_OR_RETURN(src, Tensor::Allocate(x->dtype(), ps));
      TransposeInto(*x, p.perm, src);
    }
    if (x->num_elements() == 0) p.r = 0;  // an empty reduction: every output is the identity
    auto body = [&](auto tag) {
      using T = decltype(tag);
      Reduce<T>(op_, src.data<T>(), y->data<T>(), p);
    };
    const bool known = FloatOnly(op_) ? DispatchType(FloatTypes{}, x->dtype(), body)
                                      : DispatchType(NumericTypes{}, x->dtype(), body);
    if (!known) return Unimplemented("reduction on ", DataTypeName(x->dtype()));
    return Status::Ok();
  }

 private:
  Red op_;
  bool keepdims_, noop_empty_;
};

#define TUTTI_REDUCE_KERNEL(NAME, OP)                                                                   \
  TUTTI_REGISTER_CPU_KERNEL(                                                                            \
      NAME, "",                                                                                         \
      [](const KernelBuildInfo& info) -> Result<std::unique_ptr<CpuKernel>> {                           \
        return std::unique_ptr<CpuKernel>(new ReduceKernel(OP, info.node.GetInt("keepdims", 1) != 0,   \
                                                           info.node.GetInt("noop_with_empty_axes", 0) != 0)); \
      },                                                                                                \
      [](const Graph& g, const Node& n) {                                                               \
        return FloatOnly(OP) ? RequireInputType(g, n, 0, FloatTypes{}) : RequireInputType(g, n, 0, NumericTypes{}); \
      })

TUTTI_REDUCE_KERNEL("ReduceSum", Red::kSum);
TUTTI_REDUCE_KERNEL("ReduceMean", Red::kMean);
TUTTI_REDUCE_KERNEL("ReduceMax", Red::kMax);
TUTTI_REDUCE_KERNEL("ReduceMin", Red::kMin);
TUTTI_REDUCE_KERNEL("ReduceProd", Red::kProd);
TUTTI_REDUCE_KERNEL("ReduceL1", Red::kL1);
TUTTI_REDUCE_KERNEL("ReduceL2", Red::kL2);
TUTTI_REDUCE_KERNEL("ReduceLogSum", Red::kLogSum);
TUTTI_REDUCE_KERNEL("ReduceLogSumExp", Red::kLogSumExp);
TUTTI_REDUCE_KERNEL("ReduceSumSquare", Red::kSumSquare);

}  // namespace
}  // namespace tutti::cpu
