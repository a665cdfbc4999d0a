// Multidirectional (NumPy) broadcasting for element-wise kernels.
//
// The output index space is collapsed (dims of size 1 dropped, adjacent dims merged where every
// input walks them contiguously or not at all), then cut into spans along the innermost collapsed
// dim. Within a span each input either advances one element per output element or stays on one
// element, so kernels write plain loops the compiler vectorises: same-shape, scalar and
// per-channel ([N,C,H,W] op [1,C,1,1] -> spans of H*W against one value) cases all become one of
// the four (step, step) combinations.
#pragma once

#include <array>
#include <span>
#include <vector>

#include "backends/cpu/ops/kernel_util.h"

namespace tutti::cpu {

// The broadcast shape of `shapes`, or an error naming the incompatible pair.
Result<Shape> BroadcastShapes(std::span<const Shape> shapes);

template <size_t N>
struct BroadcastPlan {
  Shape dims;                                   // collapsed output dims (at least one)
  std::array<std::vector<int64_t>, N> strides;  // per input, element stride per collapsed dim
  int64_t total = 0;                            // output elements
};

// `out` must be the broadcast of every input shape (checked by the caller via BroadcastShapes or
// by construction).
template <size_t N>
BroadcastPlan<N> PlanBroadcast(const Shape& out, const std::array<const Shape*, N>& in) {
  const size_t r = out.size();
  std::array<std::vector<int64_t>, N> full;
  for (size_t k = 0; k < N; ++k) {
    full[k].assign(r, 0);
    const Shape& s = *in[k];
    int64_t stride = 1;
    for (size_t j = 0; j < s.size(); ++j) {
      const size_t src = s.size() - 1 - j, dst = r - 1 - j;
      full[k][dst] = s[src] == 1 ? 0 : stride;
      stride *= s[src];
    }
  }
  BroadcastPlan<N> p;
  p.total = NumElements(out);
  for (size_t d = 0; d < r; ++d) {
    if (out[d] == 1) continue;
    bool merge = !p.dims.empty();
    for (size_t k = 0; merge && k < N; ++k) merge = p.strides[k].back() == full[k][d] * out[d];
    if (merge) {
      p.dims.back() *= out[d];
      for (size_t k = 0; k < N; ++k) p.strides[k].back() = full[k][d];
    } else {
      p.dims.push_back(out[d]);
      for (size_t k = 0; k < N; ++k) p.strides[k].push_back(full[k][d]);
    }
  }
  if (p.dims.empty()) {
    p.dims.push_back(1);
    for (size_t k = 0; k < N; ++k) p.strides[k].push_back(0);
  }
  return p;
}

// Calls span(out_offset, in_offsets, in_steps, len) so that every output element is covered once;
// in_steps[k] is 1 (input k advances with the output) or 0 (it stays on one element). Runs spans in
// parallel when the output is large.
template <size_t N, typename F>
void ForEachSpan(const BroadcastPlan<N>& p, F&& span) {
  if (p.total == 0) return;
  constexpr int64_t kChunk = 1 << 14;  // long rows are split so one row still spreads over threads
  const size_t nd = p.dims.size();
  const int64_t inner = p.dims.back();
  const int64_t rows = p.total / inner;
  const int64_t pieces = (inner + kChunk - 1) / kChunk;
  std::array<int64_t, N> steps;
  for (size_t k = 0; k < N; ++k) steps[k] = p.strides[k].back();
  ParallelRanges(rows * pieces, std::min(inner, kChunk), [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end; ++item) {
      int64_t row = item / pieces;
      const int64_t b = (item % pieces) * kChunk, e = std::min(inner, b + kChunk);
      const int64_t out_off = row * inner + b;
      std::array<int64_t, N> off{};
      for (size_t d = nd - 1; d-- > 0;) {
        const int64_t idx = row % p.dims[d];
        row /= p.dims[d];
        for (size_t k = 0; k < N; ++k) off[k] += idx * p.strides[k][d];
      }
      for (size_t k = 0; k < N; ++k) off[k] += b * steps[k];
      span(out_off, off, steps, e - b);
    }
  });
}

// out[i] = op(a[.], b[.]) over a broadcast plan, with the four span cases written out so each
// compiles to a vector loop.
template <typename TA, typename TB, typename TO, typename Op>
void BroadcastBinary(const BroadcastPlan<2>& p, const TA* a, const TB* b, TO* o, Op op) {
  ForEachSpan(p, [&](int64_t oo, const std::array<int64_t, 2>& off, const std::array<int64_t, 2>& st, int64_t n) {
    const TA* pa = a + off[0];
    const TB* pb = b + off[1];
    TO* po = o + oo;
    if (st[0] && st[1]) {
      for (int64_t i = 0; i < n; ++i) po[i] = op(pa[i], pb[i]);
    } else if (st[0]) {
      const TB vb = *pb;
      for (int64_t i = 0; i < n; ++i) po[i] = op(pa[i], vb);
    } else if (st[1]) {
      const TA va = *pa;
      for (int64_t i = 0; i < n; ++i) po[i] = op(va, pb[i]);
    } else {
      const TO v = op(*pa, *pb);
      for (int64_t i = 0; i < n; ++i) po[i] = v;
    }
  });
}

// Copies `in` broadcast to `out`'s shape (Expand, and operands of multi-input ops).
void BroadcastCopy(const Tensor& in, Tensor& out);

}  // namespace tutti::cpu
