#include "backends/cpu/ops/broadcast.h"

namespace tutti::cpu {

Result<Shape> BroadcastShapes(std::span<const Shape> shapes) {
  size_t rank = 0;
  for (const Shape& s : shapes) rank = std::max(rank, s.size());
  Shape out(rank, 1);
  for (const Shape& s : shapes) {
    for (size_t j = 0; j < s.size(); ++j) {
      int64_t& o = out[rank - 1 - j];
      const int64_t d = s[s.size() - 1 - j];
      if (d == o || d == 1) continue;
      if (o == 1) {
        o = d;
        continue;
      }
      std::string all;
      for (const Shape& t : shapes) all += (all.empty() ? "" : " and ") + ShapeToString(t);
      return InvalidArgument("shapes ", all, " cannot be broadcast together");
    }
  }
  return out;
}

void BroadcastCopy(const Tensor& in, Tensor& out) {
  const BroadcastPlan<1> p = PlanBroadcast<1>(out.shape(), {&in.shape()});
  DispatchBySize(in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = static_cast<const T*>(in.raw_data());
    T* dst = static_cast<T*>(out.raw_data());
    ForEachSpan(p, [&](int64_t oo, const std::array<int64_t, 1>& off, const std::array<int64_t, 1>& st, int64_t n) {
      if (st[0]) {
        std::memcpy(dst + oo, src + off[0], static_cast<size_t>(n) * sizeof(T));
      } else {
        std::fill(dst + oo, dst + oo + n, src[off[0]]);
      }
    });
  });
}

}  // namespace tutti::cpu
