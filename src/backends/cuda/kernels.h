// The CUDA backend's own kernels (kernels.cu), as plain launch functions the host code calls.
// Everything is templated over the storage type of float tensors (float, or __half in fp16 mode,
// passed here as `bool half`); arithmetic is float in both. Each launcher enqueues on `stream` and
// returns the launch error (cudaGetLastError), which the caller turns into a Status naming the node.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace tutti::cuda {

inline constexpr int kMaxRank = 8;

// Point-wise functions: the unary operators and the activations fused into Conv/Gemm epilogues.
enum class Fn : int32_t {
  kIdentity, kRelu, kLeakyRelu, kClip, kSigmoid, kHardSigmoid, kHardSwish, kTanh, kElu, kSelu, kSoftplus,
  kSoftsign, kAbs, kNeg, kExp, kLog, kSqrt, kReciprocal, kFloor, kCeil, kErf, kSin, kCos, kGelu, kSign,
  kRound, kThresholdedRelu, kCelu, kMish, kTan, kAtan, kSinh, kCosh, kAsin, kAcos
};
struct FnParams {
  Fn fn = Fn::kIdentity;
  float alpha = 0.f, beta = 0.f, gamma = 0.f;
};

enum class BinOp : int32_t { kAdd, kSub, kMul, kDiv, kPow, kMax, kMin, kPRelu, kMod, kFmod };

// y[i] = fn(x[i]); x and y may be the same buffer.
cudaError_t LaunchUnary(bool half, void* y, const void* x, int64_t n, FnParams f, cudaStream_t s);

// y[i] = fn(x[i] * scale[c] + shift[c] + sum[i]) with c = (i / inner) % channels. scale/shift are
// float (may be null: 1 / 0), sum is storage type (may be null). The Conv/Gemm epilogue and BN.
cudaError_t LaunchChannelAffine(bool half, void* y, const void* x, int64_t n, int64_t inner, int64_t channels,
                                const float* scale, const float* shift, const void* sum, FnParams f, cudaStream_t s);

// Broadcast binary op over `rank` dims of `out_dims`; a_strides/b_strides are element strides of
// each input per output dim (0 where the input broadcasts).
struct Strides {
  int64_t v[kMaxRank];
};
cudaError_t LaunchBinary(bool half, BinOp op, void* y, const void* a, const void* b, int rank, const int64_t* out_dims,
                         const int64_t* a_strides, const int64_t* b_strides, int64_t n, cudaStream_t s);

// y[out index] = x[base + sum_d idx_d * in_strides[d]]: Transpose, Slice, Expand, broadcast copies.
// elem_bytes picks the element width (2, 4 or 8), so it moves any dtype.
cudaError_t LaunchStridedCopy(int elem_bytes, void* y, const void* x, int rank, const int64_t* out_dims,
                              const int64_t* in_strides, int64_t base, int64_t n, cudaStream_t s);

// Pad (constant/reflect/edge), any rank: out index minus pad_begin, mapped back into the input.
enum class PadMode : int32_t { kConstant, kReflect, kEdge };
cudaError_t LaunchPad(bool half, void* y, const void* x, int rank, const int64_t* out_dims, const int64_t* in_dims,
                      const int64_t* pad_begin, PadMode mode, float value, int64_t n, cudaStream_t s);

// 2-D pooling over NCHW (1-D is H = 1). Average counts padding when count_include_pad, else only
// the cells inside the input. Windows read only cells inside the input; ceil-mode overhang counts
// like padding beyond pad_end never does.
struct Pool2d {
  int64_t n, c, h, w, oh, ow;
  int64_t kh, kw, sh, sw, dh, dw, ph, pw, ph_end, pw_end;
  bool is_max, count_include_pad;
};
cudaError_t LaunchPool2d(bool half, void* y, const void* x, const Pool2d& p, cudaStream_t s);

// Softmax / LogSoftmax over the middle axis of [outer, axis, inner].
cudaError_t LaunchSoftmax(bool half, void* y, const void* x, int64_t outer, int64_t axis, int64_t inner, bool log,
                          cudaStream_t s);

// Reduce the middle axis of [outer, axis, inner]: 0 sum, 1 mean, 2 max, 3 min, 4 prod, 5 sum of squares, 6 L1, 7 L2,
// 8 log-sum, 9 log-sum-exp.
cudaError_t LaunchReduce(bool half, void* y, const void* x, int64_t outer, int64_t axis, int64_t inner, int op,
                         cudaStream_t s);

// float32 <-> storage conversions at the edges of an fp16 executable and for uploaded weights.
cudaError_t LaunchFloatToHalf(void* y, const float* x, int64_t n, cudaStream_t s);
cudaError_t LaunchHalfToFloat(float* y, const void* x, int64_t n, cudaStream_t s);

}  // namespace tutti::cuda
