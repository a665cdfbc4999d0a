#include "backends/cpu/ops/layout.h"

namespace tutti::cpu {

std::vector<int64_t> ContiguousStrides(const Shape& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (size_t d = shape.size(); d-- > 1;) s[d - 1] = s[d] * shape[d];
  return s;
}

int64_t DimProduct(const Shape& s, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t d = begin; d < end && d < s.size(); ++d) p *= s[d];
  return p;
}

namespace {

template <typename T>
void CopyRows(const T* in, int64_t offset, const Shape& dims, const std::vector<int64_t>& strides, T* out) {
  const size_t nd = dims.size();
  const int64_t inner = dims.back(), step = strides.back();
  const int64_t rows = NumElements(dims) / inner;
  ParallelRanges(rows, inner, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      int64_t off = offset, rest = row;
      for (size_t d = nd - 1; d-- > 0;) {
        off += (rest % dims[d]) * strides[d];
        rest /= dims[d];
      }
      const T* src = in + off;
      T* dst = out + row * inner;
      if (step == 1) {
        std::memcpy(dst, src, static_cast<size_t>(inner) * sizeof(T));
      } else {
        for (int64_t i = 0; i < inner; ++i) dst[i] = src[i * step];
      }
    }
  });
}

}  // namespace

void StridedCopy(const void* in, int64_t offset, const Shape& dims, const std::vector<int64_t>& strides, void* out,
                 size_t elem_size) {
  if (NumElements(dims) == 0) return;
  Shape cd;
  std::vector<int64_t> cs;
  for (size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] == 1) continue;
    if (!cd.empty() && cs.back() == strides[d] * dims[d]) {
      cd.back() *= dims[d];
      cs.back() = strides[d];
    } else {
      cd.push_back(dims[d]);
      cs.push_back(strides[d]);
    }
  }
  if (cd.empty()) {
    cd.push_back(1);
    cs.push_back(1);
  }
  switch (elem_size) {
    case 1: return CopyRows(static_cast<const uint8_t*>(in), offset, cd, cs, static_cast<uint8_t*>(out));
    case 2: return CopyRows(static_cast<const uint16_t*>(in), offset, cd, cs, static_cast<uint16_t*>(out));
    case 4: return CopyRows(static_cast<const uint32_t*>(in), offset, cd, cs, static_cast<uint32_t*>(out));
    case 8: return CopyRows(static_cast<const uint64_t*>(in), offset, cd, cs, static_cast<uint64_t*>(out));
    default: return;
  }
}

void TransposeInto(const Tensor& in, const std::vector<int64_t>& perm, Tensor& out) {
  const std::vector<int64_t> src = ContiguousStrides(in.shape());
  std::vector<int64_t> strides(perm.size());
  for (size_t d = 0; d < perm.size(); ++d) strides[d] = src[static_cast<size_t>(perm[d])];
  StridedCopy(in.raw_data(), 0, out.shape(), strides, out.raw_data(), DataTypeSize(in.dtype()));
}

}  // namespace tutti::cpu
