// Device code of the CUDA backend: one file so the 2-core CI machine compiles nvcc once. Kernels are
// grid-stride loops over output elements (memory-bound: one read and one write per element);
// reductions use one warp-cooperative block per row.
#include <cuda_fp16.h>

#include <cfloat>
#include <cmath>

#include "backends/cuda/kernels.h"

namespace tutti::cuda {
namespace {

__device__ __forceinline__ float Load(const float* p, int64_t i) { return p[i]; }
__device__ __forceinline__ float Load(const __half* p, int64_t i) { return __half2float(p[i]); }
__device__ __forceinline__ void Store(float* p, int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void Store(__half* p, int64_t i, float v) { p[i] = __float2half(v); }

__device__ __forceinline__ float Apply(const FnParams& f, float x) {
  switch (f.fn) {
    case Fn::kIdentity: return x;
    case Fn::kRelu: return x > 0.f ? x : 0.f;
    case Fn::kLeakyRelu: return x >= 0.f ? x : f.alpha * x;
    case Fn::kClip: return fminf(fmaxf(x, f.alpha), f.beta);
    case Fn::kSigmoid: return 1.f / (1.f + expf(-x));
    case Fn::kHardSigmoid: return fminf(fmaxf(f.alpha * x + f.beta, 0.f), 1.f);
    case Fn::kHardSwish: return x * fminf(fmaxf(x / 6.f + 0.5f, 0.f), 1.f);
    case Fn::kTanh: return tanhf(x);
    case Fn::kElu: return x >= 0.f ? x : f.alpha * (expf(x) - 1.f);
    case Fn::kSelu: return x > 0.f ? f.beta * x : f.beta * (f.alpha * expf(x) - f.alpha);
    case Fn::kSoftplus: return x > 20.f ? x : log1pf(expf(x));
    case Fn::kSoftsign: return x / (1.f + fabsf(x));
    case Fn::kAbs: return fabsf(x);
    case Fn::kNeg: return -x;
    case Fn::kExp: return expf(x);
    case Fn::kLog: return logf(x);
    case Fn::kSqrt: return sqrtf(x);
    case Fn::kReciprocal: return 1.f / x;
    case Fn::kFloor: return floorf(x);
    case Fn::kCeil: return ceilf(x);
    case Fn::kErf: return erff(x);
    case Fn::kSin: return sinf(x);
    case Fn::kCos: return cosf(x);
    case Fn::kGelu: return 0.5f * x * (1.f + erff(x * 0.70710678118654752f));
    case Fn::kSign: return x > 0.f ? 1.f : (x < 0.f ? -1.f : 0.f);
    case Fn::kRound: return rintf(x);  // ONNX Round: half to even
    case Fn::kThresholdedRelu: return x > f.alpha ? x : 0.f;
    case Fn::kCelu: return fmaxf(0.f, x) + fminf(0.f, f.alpha * (expf(x / f.alpha) - 1.f));
    case Fn::kMish: return x * tanhf(x > 20.f ? x : log1pf(expf(x)));
    case Fn::kTan: return tanf(x);
    case Fn::kAtan: return atanf(x);
    case Fn::kSinh: return sinhf(x);
    case Fn::kCosh: return coshf(x);
    case Fn::kAsin: return asinf(x);
    case Fn::kAcos: return acosf(x);
  }
  return x;
}

__device__ __forceinline__ float ApplyBin(BinOp op, float a, float b) {
  switch (op) {
    case BinOp::kAdd: return a + b;
    case BinOp::kSub: return a - b;
    case BinOp::kMul: return a * b;
    case BinOp::kDiv: return a / b;
    case BinOp::kPow: return powf(a, b);
    case BinOp::kMax: return (isnan(a) || isnan(b)) ? NAN : fmaxf(a, b);
    case BinOp::kMin: return (isnan(a) || isnan(b)) ? NAN : fminf(a, b);
    case BinOp::kPRelu: return a >= 0.f ? a : a * b;
    case BinOp::kMod: {  // integer-style modulo (sign of the divisor), as ONNX Mod with fmod=0
      float r = fmodf(a, b);
      return (r != 0.f && ((r < 0.f) != (b < 0.f))) ? r + b : r;
    }
    case BinOp::kFmod: return fmodf(a, b);
  }
  return a;
}

constexpr int kThreads = 256;
inline int Blocks(int64_t n) {
  int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<int>(b < 65535 * 32 ? (b > 0 ? b : 1) : 65535 * 32);
}

template <typename T>
__global__ void UnaryKernel(T* y, const T* x, int64_t n, FnParams f) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    Store(y, i, Apply(f, Load(x, i)));
}

template <typename T>
__global__ void ChannelAffineKernel(T* y, const T* x, int64_t n, int64_t inner, int64_t channels, const float* scale,
                                    const float* shift, const T* sum, FnParams f) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t c = (i / inner) % channels;
    float v = Load(x, i);
    if (scale) v *= scale[c];
    if (shift) v += shift[c];
    if (sum) v += Load(sum, i);
    Store(y, i, Apply(f, v));
  }
}

struct Dims {
  int64_t v[kMaxRank];
};

template <typename T>
__global__ void BinaryKernel(BinOp op, T* y, const T* a, const T* b, int rank, Dims dims, Dims as, Dims bs, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    int64_t r = i, ao = 0, bo = 0;
    for (int d = rank - 1; d >= 0; --d) {
      const int64_t idx = r % dims.v[d];
      r /= dims.v[d];
      ao += idx * as.v[d];
      bo += idx * bs.v[d];
    }
    Store(y, i, ApplyBin(op, Load(a, ao), Load(b, bo)));
  }
}

template <typename T>
__global__ void BinarySameKernel(BinOp op, T* y, const T* a, const T* b, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    Store(y, i, ApplyBin(op, Load(a, i), Load(b, i)));
}

template <typename E>
__global__ void StridedCopyKernel(E* y, const E* x, int rank, Dims dims, Dims strides, int64_t base, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    int64_t r = i, off = base;
    for (int d = rank - 1; d >= 0; --d) {
      off += (r % dims.v[d]) * strides.v[d];
      r /= dims.v[d];
    }
    y[i] = x[off];
  }
}

template <typename T>
__global__ void PadKernel(T* y, const T* x, int rank, Dims out, Dims in, Dims begin, PadMode mode, float value,
                          int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    int64_t r = i, off = 0, stride = 1;
    bool inside = true;
    for (int d = rank - 1; d >= 0; --d) {
      int64_t idx = r % out.v[d] - begin.v[d];
      r /= out.v[d];
      const int64_t len = in.v[d];
      if (idx < 0 || idx >= len) {
        if (mode == PadMode::kConstant) {
          inside = false;
        } else if (mode == PadMode::kEdge) {
          idx = idx < 0 ? 0 : len - 1;
        } else {  // reflect, without repeating the edge
          const int64_t period = len > 1 ? 2 * (len - 1) : 1;
          idx = ((idx % period) + period) % period;
          if (idx >= len) idx = period - idx;
        }
      }
      off += idx * stride;
      stride *= len;
    }
    Store(y, i, inside ? Load(x, off) : value);
  }
}

template <typename T>
__global__ void Pool2dKernel(T* y, const T* x, Pool2d p) {
  const int64_t n = p.n * p.c * p.oh * p.ow;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t ox = i % p.ow, oy = (i / p.ow) % p.oh, nc = i / (p.ow * p.oh);
    const T* plane = x + nc * p.h * p.w;
    const int64_t y0 = oy * p.sh - p.ph, x0 = ox * p.sw - p.pw;
    float acc = p.is_max ? -INFINITY : 0.f;
    int64_t count = 0, padded = 0;
    for (int64_t ky = 0; ky < p.kh; ++ky) {
      const int64_t yy = y0 + ky * p.dh;
      for (int64_t kx = 0; kx < p.kw; ++kx) {
        const int64_t xx = x0 + kx * p.dw;
        // Cells in the declared padding count for count_include_pad; ceil-mode overhang never does.
        if (yy < p.h + p.ph_end && xx < p.w + p.pw_end) ++padded;
        if (yy < 0 || yy >= p.h || xx < 0 || xx >= p.w) continue;
        const float v = Load(plane, yy * p.w + xx);
        if (p.is_max) acc = fmaxf(acc, v); else acc += v;
        ++count;
      }
    }
    if (!p.is_max) acc = acc / static_cast<float>(p.count_include_pad ? padded : (count > 0 ? count : 1));
    Store(y, i, acc);
  }
}

// One block per (outer, inner) row; threads stride over the axis.
template <typename T>
__global__ void SoftmaxKernel(T* y, const T* x, int64_t outer, int64_t axis, int64_t inner, bool log) {
  __shared__ float red[kThreads / 32];
  for (int64_t row = blockIdx.x; row < outer * inner; row += gridDim.x) {
    const int64_t o = row / inner, in = row % inner;
    const int64_t base = o * axis * inner + in;
    float m = -INFINITY;
    for (int64_t k = threadIdx.x; k < axis; k += blockDim.x) m = fmaxf(m, Load(x, base + k * inner));
    for (int off = 16; off > 0; off /= 2) m = fmaxf(m, __shfl_xor_sync(0xffffffff, m, off));
    if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = m;
    __syncthreads();
    m = -INFINITY;
    for (int w = 0; w < blockDim.x / 32; ++w) m = fmaxf(m, red[w]);
    __syncthreads();
    float s = 0.f;
    for (int64_t k = threadIdx.x; k < axis; k += blockDim.x) s += expf(Load(x, base + k * inner) - m);
    for (int off = 16; off > 0; off /= 2) s += __shfl_xor_sync(0xffffffff, s, off);
    if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = s;
    __syncthreads();
    s = 0.f;
    for (int w = 0; w < blockDim.x / 32; ++w) s += red[w];
    __syncthreads();
    const float ls = logf(s);
    for (int64_t k = threadIdx.x; k < axis; k += blockDim.x) {
      const float v = Load(x, base + k * inner) - m;
      Store(y, base + k * inner, log ? v - ls : expf(v) / s);
    }
  }
}

template <typename T>
__global__ void ReduceKernel(T* y, const T* x, int64_t outer, int64_t axis, int64_t inner, int op) {
  __shared__ float red[kThreads / 32];
  for (int64_t row = blockIdx.x; row < outer * inner; row += gridDim.x) {
    const int64_t o = row / inner, in = row % inner;
    const int64_t base = o * axis * inner + in;
    const bool is_max = op == 2, is_min = op == 3, is_prod = op == 4;
    float acc = is_max ? -INFINITY : is_min ? INFINITY : is_prod ? 1.f : 0.f;
    float m = -INFINITY;
    if (op == 9) {  // log-sum-exp: find the max first
      for (int64_t k = threadIdx.x; k < axis; k += blockDim.x) m = fmaxf(m, Load(x, base + k * inner));
      for (int off = 16; off > 0; off /= 2) m = fmaxf(m, __shfl_xor_sync(0xffffffff, m, off));
      if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = m;
      __syncthreads();
      m = -INFINITY;
      for (int w = 0; w < blockDim.x / 32; ++w) m = fmaxf(m, red[w]);
      __syncthreads();
    }
    for (int64_t k = threadIdx.x; k < axis; k += blockDim.x) {
      const float v = Load(x, base + k * inner);
      switch (op) {
        case 2: acc = fmaxf(acc, v); break;
        case 3: acc = fminf(acc, v); break;
        case 4: acc *= v; break;
        case 5: case 7: acc += v * v; break;
        case 6: acc += fabsf(v); break;
        case 9: acc += expf(v - m); break;
        default: acc += v;
      }
    }
    for (int off = 16; off > 0; off /= 2) {
      const float o2 = __shfl_xor_sync(0xffffffff, acc, off);
      acc = is_max ? fmaxf(acc, o2) : is_min ? fminf(acc, o2) : is_prod ? acc * o2 : acc + o2;
    }
    if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = acc;
    __syncthreads();
    if (threadIdx.x == 0) {
      float r = red[0];
      for (int w = 1; w < blockDim.x / 32; ++w)
        r = is_max ? fmaxf(r, red[w]) : is_min ? fminf(r, red[w]) : is_prod ? r * red[w] : r + red[w];
      if (op == 1) r /= static_cast<float>(axis);
      if (op == 7) r = sqrtf(r);
      if (op == 8) r = logf(r);
      if (op == 9) r = logf(r) + m;
      Store(y, row / inner * inner + in, r);
    }
    __syncthreads();
  }
}

__global__ void FloatToHalfKernel(__half* y, const float* x, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    y[i] = __float2half(x[i]);
}
__global__ void HalfToFloatKernel(float* y, const __half* x, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x)
    y[i] = __half2float(x[i]);
}

Dims ToDims(int rank, const int64_t* v) {
  Dims d{};
  for (int i = 0; i < rank && i < kMaxRank; ++i) d.v[i] = v[i];
  return d;
}

}  // namespace

#define TUTTI_DISPATCH(half, T, ...)     \
  if (half) {                            \
    using T = __half;                    \
    __VA_ARGS__;                         \
  } else {                               \
    using T = float;                     \
    __VA_ARGS__;                         \
  }

cudaError_t LaunchUnary(bool half, void* y, const void* x, int64_t n, FnParams f, cudaStream_t s) {
  if (n == 0) return cudaSuccess;
  TUTTI_DISPATCH(half, T, UnaryKernel<T><<<Blocks(n), kThreads, 0, s>>>(static_cast<T*>(y), static_cast<const T*>(x), n, f));
  return cudaGetLastError();
}

cudaError_t LaunchChannelAffine(bool half, void* y, const void* x, int64_t n, int64_t inner, int64_t channels,
                                const float* scale, const float* shift, const void* sum, FnParams f, cudaStream_t s) {
  if (n == 0) return cudaSuccess;
  TUTTI_DISPATCH(half, T,
                 ChannelAffineKernel<T><<<Blocks(n), kThreads, 0, s>>>(static_cast<T*>(y), static_cast<const T*>(x), n,
                                                                      inner > 0 ? inner : 1, channels > 0 ? channels : 1,
                                                                      scale, shift, static_cast<const T*>(sum), f));
  return cudaGetLastError();
}

cudaError_t LaunchBinary(bool half, BinOp op, void* y, const void* a, const void* b, int rank, const int64_t* out_dims,
                         const int64_t* a_strides, const int64_t* b_strides, int64_t n, cudaStream_t s) {
  if (n == 0) return cudaSuccess;
  bool same = true;  // both inputs dense over the output shape: no index arithmetic
  int64_t expect = 1;
  for (int d = rank - 1; d >= 0; --d) {
    if (out_dims[d] != 1 && (a_strides[d] != expect || b_strides[d] != expect)) same = false;
    expect *= out_dims[d];
  }
  if (same) {
    TUTTI_DISPATCH(half, T,
                   BinarySameKernel<T><<<Blocks(n), kThreads, 0, s>>>(op, static_cast<T*>(y), static_cast<const T*>(a),
                                                                     static_cast<const T*>(b), n));
  } else {
    TUTTI_DISPATCH(half, T,
                   BinaryKernel<T><<<Blocks(n), kThreads, 0, s>>>(op, static_cast<T*>(y), static_cast<const T*>(a),
                                                                 static_cast<const T*>(b), rank, ToDims(rank, out_dims),
                                                                 ToDims(rank, a_strides), ToDims(rank, b_strides), n));
  }
  return cudaGetLastError();
}

cudaError_t LaunchStridedCopy(int elem_bytes, void* y, const void* x, int rank, const int64_t* out_dims,
                              const int64_t* in_strides, int64_t base, int64_t n, cudaStream_t s) {
  if (n == 0) return cudaSuccess;
  const Dims d = ToDims(rank, out_dims), st = ToDims(rank, in_strides);
  switch (elem_bytes) {
    case 1: StridedCopyKernel<uint8_t><<<Blocks(n), kThreads, 0, s>>>(static_cast<uint8_t*>(y), static_cast<const uint8_t*>(x), rank, d, st, base, n); break;
    case 2: StridedCopyKernel<uint16_t><<<Blocks(n), kThreads, 0, s>>>(static_cast<uint16_t*>(y), static_cast<const uint16_t*>(x), rank, d, st, base, n); break;
    case 4: StridedCopyKernel<uint32_t><<<Blocks(n), kThreads, 0, s>>>(static_cast<uint32_t*>(y), static_cast<const uint32_t*>(x), rank, d, st, base, n); break;
    case 8: StridedCopyKernel<uint64_t><<<Blocks(n), kThreads, 0, s>>>(static_cast<uint64_t*>(y), static_cast<const uint64_t*>(x), rank, d, st, base, n); break;
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

cudaError_t LaunchPad(bool half, void* y, const void* x, int rank, const int64_t* out_dims, const int64_t* in_dims,
                      const int64_t* pad_begin, PadMode mode, float value, int64_t n, cudaStream_t s) {
  if (n == 0) return cudaSuccess;
  TUTTI_DISPATCH(half, T,
                 PadKernel<T><<<Blocks(n), kThreads, 0, s>>>(static_cast<T*>(y), static_cast<const T*>(x), rank,
                                                            ToDims(rank, out_dims), ToDims(rank, in_dims),
                                                            ToDims(rank, pad_begin), mode, value, n));
  return cudaGetLastError();
}

cudaError_t LaunchPool2d(bool half, void* y, const void* x, const Pool2d& p, cudaStream_t s) {
  const int64_t n = p.n * p.c * p.oh * p.ow;
  if (n == 0) return cudaSuccess;
  TUTTI_DISPATCH(half, T, Pool2dKernel<T><<<Blocks(n), kThreads, 0, s>>>(static_cast<T*>(y), static_cast<const T*>(x), p));
  return cudaGetLastError();
}

cudaError_t LaunchSoftmax(bool half, void* y, const void* x, int64_t outer, int64_t axis, int64_t inner, bool log,
                          cudaStream_t s) {
  const int64_t rows = outer * inner;
  if (rows == 0 || axis == 0) return cudaSuccess;
  const int blocks = static_cast<int>(rows < 65535 * 16 ? rows : 65535 * 16);
  TUTTI_DISPATCH(half, T,
                 SoftmaxKernel<T><<<blocks, kThreads, 0, s>>>(static_cast<T*>(y), static_cast<const T*>(x), outer, axis,
                                                             inner, log));
  return cudaGetLastError();
}

cudaError_t LaunchReduce(bool half, void* y, const void* x, int64_t outer, int64_t axis, int64_t inner, int op,
                         cudaStream_t s) {
  const int64_t rows = outer * inner;
  if (rows == 0) return cudaSuccess;
  const int blocks = static_cast<int>(rows < 65535 * 16 ? rows : 65535 * 16);
  TUTTI_DISPATCH(half, T,
                 ReduceKernel<T><<<blocks, kThreads, 0, s>>>(static_cast<T*>(y), static_cast<const T*>(x), outer, axis,
                                                            inner, op));
  return cudaGetLastError();
}

cudaError_t LaunchFloatToHalf(void* y, const float* x, int64_t n, cudaStream_t s) {
  if (n == 0) return cudaSuccess;
  FloatToHalfKernel<<<Blocks(n), kThreads, 0, s>>>(static_cast<__half*>(y), x, n);
  return cudaGetLastError();
}

cudaError_t LaunchHalfToFloat(float* y, const void* x, int64_t n, cudaStream_t s) {
  if (n == 0) return cudaSuccess;
  HalfToFloatKernel<<<Blocks(n), kThreads, 0, s>>>(y, static_cast<const __half*>(x), n);
  return cudaGetLastError();
}

}  // namespace tutti::cuda
