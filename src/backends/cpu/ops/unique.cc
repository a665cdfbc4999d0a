// Unique: the distinct elements (or, with an axis, the distinct slices along it), sorted or in
// order of first occurrence, with the index of each one's first occurrence, the inverse mapping
// and the counts -- the four outputs of the ONNX operator.
#include <map>
#include <numeric>

#include "backends/cpu/ops/layout.h"

namespace tutti::cpu {
namespace {

template <typename T>
Status ComputeUnique(const Tensor& x, std::optional<int64_t> axis_attr, bool sorted, KernelContext& ctx) {
  Shape xs = x.shape();
  int64_t axis = 0;
  if (axis_attr) {
    TUTTI_ASSIGN_OR_RETURN(axis, NormalizeAxis(*axis_attr, x.rank()));
  } else {
    xs = {x.num_elements()};
  }
  const size_t a = static_cast<size_t>(axis);
  const int64_t outer = DimProduct(xs, 0, a), n = xs[a], inner = DimProduct(xs, a + 1, xs.size());
  const T* in = x.data<T>();
  // Slice k as a vector of its elements (outer-major), compared lexicographically.
  auto slice = [&](int64_t k) {
    std::vector<T> v;
    v.reserve(static_cast<size_t>(outer * inner));
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) v.push_back(in[(o * n + k) * inner + i]);
    return v;
  };
  std::map<std::vector<T>, int64_t> first;  // slice -> first occurrence
  std::vector<int64_t> order;                // first occurrences in input order
  std::vector<std::vector<T>> slices(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) {
    slices[static_cast<size_t>(k)] = slice(k);
    if (first.emplace(slices[static_cast<size_t>(k)], k).second) order.push_back(k);
  }
  if (sorted) {
    order.clear();
    for (const auto& [v, k] : first) order.push_back(k);
  }
  std::map<std::vector<T>, int64_t> pos;
  for (size_t j = 0; j < order.size(); ++j) pos[slices[static_cast<size_t>(order[j])]] = static_cast<int64_t>(j);
  const int64_t u = static_cast<int64_t>(order.size());
  Shape ys = xs;
  ys[a] = u;
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, ys, x.dtype()));
  T* out = y->data<T>();
  for (int64_t j = 0; j < u; ++j)
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) out[(o * u + j) * inner + i] = in[(o * n + order[static_cast<size_t>(j)]) * inner + i];
  std::vector<int64_t> counts(static_cast<size_t>(u), 0), inverse(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) {
    const int64_t j = pos[slices[static_cast<size_t>(k)]];
    inverse[static_cast<size_t>(k)] = j;
    ++counts[static_cast<size_t>(j)];
  }
  auto put = [&](size_t slot, const std::vector<int64_t>& v) -> Status {
    if (!ctx.output_wanted(slot)) return Status::Ok();
    TUTTI_ASSIGN_OR_RETURN(Tensor * t, ctx.AllocateOutput(slot, {static_cast<int64_t>(v.size())}, DataType::kInt64));
    std::copy(v.begin(), v.end(), t->data<int64_t>());
    return Status::Ok();
  };
  TUTTI_RETURN_IF_ERROR(put(1, order));
  TUTTI_RETURN_IF_ERROR(put(2, inverse));
  return put(3, counts);
}

TUTTI_REGISTER_CPU_KERNEL(
    "Unique", "",
    [](const KernelBuildInfo& info) {
      std::optional<int64_t> axis;
      if (info.node.HasAttr("axis")) axis = info.node.GetInt("axis", 0);
      const bool sorted = info.node.GetInt("sorted", 1) != 0;
      return MakeKernel([axis, sorted](KernelContext& ctx) -> Status {
        TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
        Status st = Status::Ok();
        bool known = DispatchType(NumericBoolTypes{}, x->dtype(),
                                  [&](auto tag) { st = ComputeUnique<decltype(tag)>(*x, axis, sorted, ctx); });
        if (!known) return Unimplemented("Unique on ", DataTypeName(x->dtype()));
        return st;
      });
    },
    [](const Graph& g, const Node& n) { return RequireInputType(g, n, 0, NumericBoolTypes{}); });

}  // namespace
}  // namespace tutti::cpu
