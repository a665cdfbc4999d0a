// Layout helpers for the kernels that only move elements (Transpose, Slice, DepthToSpace, Tile,
// Pad, reductions over non-trailing axes): every one of them is "read the input through some
// strides into a contiguous output", so that loop is written once here, collapsed and parallel.
#pragma once

#include <cstddef>
#include <vector>

#include "backends/cpu/ops/kernel_util.h"

namespace tutti::cpu {

// Row-major element strides of `shape`.
std::vector<int64_t> ContiguousStrides(const Shape& shape);

// out[i_0, ..., i_{r-1}] = in[offset + sum_d i_d * strides[d]] for the contiguous output of shape
// `dims`; elements are `elem_size` bytes. Strides may be negative (Slice with negative steps) or
// zero (broadcast). Adjacent dims that walk the input contiguously are merged first, so a copy
// that is really a memcpy of long rows runs as one.
void StridedCopy(const void* in, int64_t offset, const Shape& dims, const std::vector<int64_t>& strides, void* out,
                 size_t elem_size);

// Transposes `in` into `out` (already allocated with the permuted shape): out dim d is in dim perm[d].
void TransposeInto(const Tensor& in, const std::vector<int64_t>& perm, Tensor& out);

// Product of dims [begin, end).
int64_t DimProduct(const Shape& s, size_t begin, size_t end);

}  // namespace tutti::cpu
