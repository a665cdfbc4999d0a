// Pieces every CPU kernel in this folder shares: dtype dispatch, capability checks on a node's
// dtypes, axis normalisation, parallel loops, and a kernel built from a lambda (most kernels are a
// Run body over attributes parsed once at build time).
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "backends/cpu/kernel.h"

namespace tutti::cpu {

// ---- dtype dispatch ----------------------------------------------------------------------------
template <typename... Ts> struct TypeList {};
using FloatTypes = TypeList<float, double>;
using SignedTypes = TypeList<float, double, int8_t, int16_t, int32_t, int64_t>;
using IntTypes = TypeList<int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t>;
using UnsignedTypes = TypeList<uint8_t, uint16_t, uint32_t, uint64_t>;
using NumericTypes = TypeList<float, double, int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t>;
using NumericBoolTypes =
    TypeList<float, double, int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t, bool>;
using BoolTypes = TypeList<bool>;

template <typename... Ts>
constexpr bool TypeListContains(TypeList<Ts...>, DataType t) {
  return ((DataTypeOf<Ts>() == t) || ...);
}

// Calls f(T{}) with the C++ type of `t` when `t` is in the list. Returns false (calls nothing) when
// it is not, so callers turn that into an error naming the dtype.
template <typename... Ts, typename F>
bool DispatchType(TypeList<Ts...>, DataType t, F&& f) {
  return ((DataTypeOf<Ts>() == t ? (f(Ts{}), true) : false) || ...);
}

// Kernels that only move elements (Reshape, Transpose, Concat, Gather ...) work on every dtype by
// element size; f receives an unsigned integer of that size.
template <typename F>
bool DispatchBySize(DataType t, F&& f) {
  switch (DataTypeSize(t)) {
    case 1: f(uint8_t{}); return true;
    case 2: f(uint16_t{}); return true;
    case 4: f(uint32_t{}); return true;
    case 8: f(uint64_t{}); return true;
    default: return false;
  }
}

// 16-bit floats are computed through float32 (as NumPy does); see WithFloat16AsFloat32.
inline bool IsHalfType(DataType t) { return t == DataType::kFloat16 || t == DataType::kBFloat16; }
Result<Tensor> HalfToFloat32(const Tensor& t);
Status Float32IntoHalf(const Tensor& f32, Tensor& out);  // out has the half dtype and f32's shape

// ---- node inspection (for `supports` predicates) -----------------------------------------------
inline DataType InputDType(const Graph& g, const Node& n, size_t i) {
  return n.HasInput(i) ? g.value(n.inputs[i]).info.dtype : DataType::kUndefined;
}
inline DataType OutputDType(const Graph& g, const Node& n, size_t i) {
  return i < n.outputs.size() && n.outputs[i] != kNoValue ? g.value(n.outputs[i]).info.dtype : DataType::kUndefined;
}
// Ok when input i's dtype is in `types` (an unknown dtype is checked again at run time).
template <typename... Ts>
Status RequireInputType(const Graph& g, const Node& n, size_t i, TypeList<Ts...> types, bool allow_half = false) {
  if (!n.HasInput(i)) return InvalidArgument(n.op_type, " needs input ", i);
  DataType t = InputDType(g, n, i);
  if (t == DataType::kUndefined || TypeListContains(types, t) || (allow_half && IsHalfType(t))) return Status::Ok();
  return Unimplemented(n.op_type, " on ", DataTypeName(t), " input ", i);
}
// Ok when the element moves of a data-movement op can handle input i (any fixed-size dtype).
Status RequireFixedSizeInput(const Graph& g, const Node& n, size_t i);
// Error when the node carries an attribute the kernel does not implement.
Status RejectAttr(const Node& n, const std::string& attr, const std::string& why);

// ---- run-time helpers --------------------------------------------------------------------------
// axis in [-rank, rank) (or [-rank, rank] with `inclusive`) to [0, rank).
Result<int64_t> NormalizeAxis(int64_t axis, int64_t rank, bool inclusive = false);
// Sorted, de-duplicated, normalised axes; error on repeats or out of range.
Result<std::vector<int64_t>> NormalizeAxes(const std::vector<int64_t>& axes, int64_t rank);
// A required input, or an error naming it.
Result<const Tensor*> RequiredInput(KernelContext& ctx, size_t i, const char* name);
// An int64/int32 list that the newest opset passes as input `i` and older opsets as an attribute
// (read at build time into `attr`: kernels keep no reference to the node); nullopt when neither.
using OptionalInts = std::optional<std::vector<int64_t>>;
OptionalInts AttrInts(const Node& n, const std::string& attr);  // nullopt when absent
Result<OptionalInts> IntsFromInputOrAttr(KernelContext& ctx, size_t i, const OptionalInts& attr, const char* name);
// A scalar (or one-element) input converted to double.
Result<double> ScalarInput(const Tensor& t, const char* name);
// Copies src into dst unless they already share storage (kernels whose output may alias input 0).
inline void CopyIfDistinct(const Tensor& src, Tensor& dst) {
  if (dst.raw_data() != src.raw_data() && src.nbytes()) std::memcpy(dst.raw_data(), src.raw_data(), src.nbytes());
}

// Loops below this many elements (or element-operations) run on one thread: a parallel region
// costs a few microseconds, more than a small loop.
inline constexpr int64_t kParallelThreshold = 1 << 15;

// f(begin, end) over [0, n) in chunks, in parallel when n * cost_per_item is large.
template <typename F>
void ParallelRanges(int64_t n, int64_t cost_per_item, F&& f) {
  if (n <= 0) return;
  const int64_t work = n * std::max<int64_t>(cost_per_item, 1);
  int threads = omp_get_max_threads();
  if (work < kParallelThreshold || threads <= 1 || n == 1) {
    f(int64_t{0}, n);
    return;
  }
  const int64_t chunks = std::min<int64_t>(n, static_cast<int64_t>(threads));
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) f(n * c / chunks, n * (c + 1) / chunks);
}

// ---- lambda kernels ----------------------------------------------------------------------------
template <typename Fn>
class LambdaKernel final : public CpuKernel {
 public:
  LambdaKernel(Fn fn, bool alias) : fn_(std::move(fn)), alias_(alias) {}
  Status Run(KernelContext& ctx) override { return fn_(ctx); }
  bool output0_may_alias_input0() const override { return alias_; }

 private:
  Fn fn_;
  bool alias_;
};

// `alias`: output 0 may share storage with input 0 (the body must then tolerate in == out).
template <typename Fn>
Result<std::unique_ptr<CpuKernel>> MakeKernel(Fn fn, bool alias = false) {
  return std::unique_ptr<CpuKernel>(new LambdaKernel<Fn>(std::move(fn), alias));
}

// Integer arithmetic that wraps instead of overflowing (signed overflow is undefined behaviour,
// and ONNX integer arithmetic wraps like NumPy's).
template <typename T>
inline T WrapAdd(T a, T b) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(static_cast<U>(a) + static_cast<U>(b)));
  } else {
    return a + b;
  }
}
template <typename T>
inline T WrapSub(T a, T b) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(static_cast<U>(a) - static_cast<U>(b)));
  } else {
    return a - b;
  }
}
template <typename T>
inline T WrapMul(T a, T b) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    using U = std::make_unsigned_t<T>;
    // uint16*uint16 promotes to int and can overflow it; multiply in a wide unsigned type.
    using W = std::conditional_t<(sizeof(T) < sizeof(unsigned)), unsigned, U>;
    return static_cast<T>(static_cast<U>(static_cast<W>(static_cast<U>(a)) * static_cast<W>(static_cast<U>(b))));
  } else {
    return a * b;
  }
}

}  // namespace tutti::cpu
