// Broadcasting arithmetic: Add Sub Mul Div Pow Mod Max Min Sum Mean PRelu BitShift.
//
// One kernel class covers them all: an operator tag picks the scalar function, broadcast.h turns
// the shapes into vectorisable spans, and variadic ops (Sum/Max/Min/Mean) fold input by input into
// the output. 16-bit floats are computed in float32 and rounded once at the end, as NumPy does.
#include <cmath>
#include <limits>

#include "backends/cpu/ops/broadcast.h"

namespace tutti::cpu {
namespace {

enum class Arith { kAdd, kSub, kMul, kDiv, kPow, kMod, kFmod, kMax, kMin, kSum, kMean, kPRelu, kShiftLeft, kShiftRight };

bool IsVariadic(Arith op) { return op == Arith::kMax || op == Arith::kMin || op == Arith::kSum || op == Arith::kMean; }

template <typename T>
T FloatMax(T x, T y) {  // NaN-propagating, like numpy.maximum
  return x != x ? x : (x > y ? x : y);
}
template <typename T>
T FloatMin(T x, T y) {
  return x != x ? x : (x < y ? x : y);
}

// Integer division and modulo must not trap: x/0 and INT_MIN/-1 raise SIGFPE on x86.
template <typename T>
T IntDiv(T x, T y) {
  if (y == 0) return 0;
  if constexpr (std::is_signed_v<T>) {
    if (y == -1) return WrapSub(T(0), x);
  }
  return static_cast<T>(x / y);
}
template <typename T>
T IntFmod(T x, T y) {  // C semantics: the result has the sign of the dividend
  if (y == 0) return 0;
  if constexpr (std::is_signed_v<T>) {
    if (y == -1) return 0;
  }
  return static_cast<T>(x % y);
}
template <typename T>
T IntMod(T x, T y) {  // Python semantics: the result has the sign of the divisor
  T r = IntFmod(x, y);
  if constexpr (std::is_signed_v<T>) {
    if (r != 0 && ((r < 0) != (y < 0))) r = static_cast<T>(r + y);
  }
  return r;
}
template <typename T>
T FloatMod(T x, T y) {
  T r = std::fmod(x, y);
  if (r != 0 && ((r < 0) != (y < 0))) r += y;
  return r;
}

template <typename T>
void ApplyBinary(Arith op, const BroadcastPlan<2>& p, const T* a, const T* b, T* o) {
  constexpr bool kFloat = std::is_floating_point_v<T>;
  switch (op) {
    case Arith::kAdd: case Arith::kSum: case Arith::kMean:
      return BroadcastBinary(p, a, b, o, [](T x, T y) { return WrapAdd(x, y); });
    case Arith::kSub: return BroadcastBinary(p, a, b, o, [](T x, T y) { return WrapSub(x, y); });
    case Arith::kMul: return BroadcastBinary(p, a, b, o, [](T x, T y) { return WrapMul(x, y); });
    case Arith::kDiv:
      if constexpr (kFloat) return BroadcastBinary(p, a, b, o, [](T x, T y) { return x / y; });
      else return BroadcastBinary(p, a, b, o, [](T x, T y) { return IntDiv(x, y); });
    case Arith::kMod:
      if constexpr (kFloat) return BroadcastBinary(p, a, b, o, [](T x, T y) { return FloatMod(x, y); });
      else return BroadcastBinary(p, a, b, o, [](T x, T y) { return IntMod(x, y); });
    case Arith::kFmod:
      if constexpr (kFloat) return BroadcastBinary(p, a, b, o, [](T x, T y) { return std::fmod(x, y); });
      else return BroadcastBinary(p, a, b, o, [](T x, T y) { return IntFmod(x, y); });
    case Arith::kMax:
      if constexpr (kFloat) return BroadcastBinary(p, a, b, o, [](T x, T y) { return FloatMax(x, y); });
      else return BroadcastBinary(p, a, b, o, [](T x, T y) { return x > y ? x : y; });
    case Arith::kMin:
      if constexpr (kFloat) return BroadcastBinary(p, a, b, o, [](T x, T y) { return FloatMin(x, y); });
      else return BroadcastBinary(p, a, b, o, [](T x, T y) { return x < y ? x : y; });
    case Arith::kPRelu:
      return BroadcastBinary(p, a, b, o, [](T x, T s) { return x < T(0) ? WrapMul(x, s) : x; });
    case Arith::kShiftLeft: case Arith::kShiftRight:
      if constexpr (std::is_unsigned_v<T>) {
        constexpr T kBits = sizeof(T) * 8;
        if (op == Arith::kShiftLeft)
          return BroadcastBinary(p, a, b, o, [](T x, T y) { return y >= kBits ? T(0) : static_cast<T>(x << y); });
        return BroadcastBinary(p, a, b, o, [](T x, T y) { return y >= kBits ? T(0) : static_cast<T>(x >> y); });
      }
      return;
    case Arith::kPow: return;  // ApplyPow: the exponent may have another dtype
  }
}

// Pow: float bases use powf/pow (what NumPy uses), with the exponents real models use (2, 0.5,
// 3) turned into multiplications/sqrt; other combinations compute in double and convert.
template <typename T>
void ApplyPow(const BroadcastPlan<2>& p, const T* a, const Tensor& exponent, T* o) {
  if (exponent.dtype() == DataTypeOf<T>()) {
    const T* b = exponent.data<T>();
    if constexpr (std::is_floating_point_v<T>) {
      if (exponent.num_elements() == 1) {
        const T e = b[0];
        if (e == T(2)) return BroadcastBinary(p, a, b, o, [](T x, T) { return x * x; });
        if (e == T(3)) return BroadcastBinary(p, a, b, o, [](T x, T) { return x * x * x; });
        if (e == T(0.5)) return BroadcastBinary(p, a, b, o, [](T x, T) { return std::sqrt(x); });
        if (e == T(1)) return BroadcastBinary(p, a, b, o, [](T x, T) { return x; });
      }
      return BroadcastBinary(p, a, b, o, [](T x, T y) { return std::pow(x, y); });
    }
  }
  Result<Tensor> e = CastTensor(exponent, DataType::kFloat64);
  const double* b = e->data<double>();
  BroadcastBinary(p, a, b, o, [](T x, double y) { return static_cast<T>(std::pow(static_cast<double>(x), y)); });
}

class ArithmeticKernel final : public CpuKernel {
 public:
  ArithmeticKernel(Arith op, bool alias) : op_(op), alias_(alias) {}
  bool output0_may_alias_input0() const override { return alias_; }

  Status Run(KernelContext& ctx) override {
    std::vector<const Tensor*> in;
    for (size_t i = 0; i < ctx.input_count(); ++i)
      if (ctx.input(i)) in.push_back(ctx.input(i));
    if (in.empty() || (!IsVariadic(op_) && in.size() != 2)) return InvalidArgument("wrong number of inputs");
    std::vector<Shape> shapes;
    for (const Tensor* t : in) shapes.push_back(t->shape());
    TUTTI_ASSIGN_OR_RETURN(Shape out_shape, BroadcastShapes(shapes));
    if (op_ == Arith::kPRelu && out_shape != in[0]->shape())
      return InvalidArgument("slope of shape ", ShapeToString(in[1]->shape()), " does not broadcast to X ",
                             ShapeToString(in[0]->shape()));
    const DataType dt = in[0]->dtype();
    for (size_t i = 1; i < in.size(); ++i)
      if (in[i]->dtype() != dt && op_ != Arith::kPow)
        return InvalidArgument("inputs have different types: ", DataTypeName(dt), " and ", DataTypeName(in[i]->dtype()));
    TUTTI_ASSIGN_OR_RETURN(Tensor * out, ctx.AllocateOutput(0, out_shape, dt));
    if (!IsHalfType(dt)) return Compute(in, *out);

    std::vector<Tensor> f32(in.size());
    std::vector<const Tensor*> f32p;
    for (size_t i = 0; i < in.size(); ++i) {
      if (IsHalfType(in[i]->dtype())) {
        TUTTI_ASSIGN_OR_RETURN(f32[i], HalfToFloat32(*in[i]));
      } else {
        f32[i] = *in[i];
      }
      f32p.push_back(&f32[i]);
    }
    TUTTI_ASSIGN_OR_RETURN(Tensor tmp, Tensor::Allocate(DataType::kFloat32, out_shape));
    TUTTI_RETURN_IF_ERROR(Compute(f32p, tmp));
    return Float32IntoHalf(tmp, *out);
  }

 private:
  Status Compute(const std::vector<const Tensor*>& in, Tensor& out) const {
    const Shape& os = out.shape();
    Status st = Status::Ok();
    bool known = DispatchType(NumericTypes{}, out.dtype(), [&](auto tag) {
      using T = decltype(tag);
      T* o = out.data<T>();
      if (in.size() == 1) {
        BroadcastCopy(*in[0], out);
      } else if (op_ == Arith::kPow) {
        if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, int32_t> ||
                      std::is_same_v<T, int64_t>) {
          ApplyPow<T>(PlanBroadcast<2>(os, {&in[0]->shape(), &in[1]->shape()}), in[0]->data<T>(), *in[1], o);
        } else {
          st = Unimplemented("Pow on ", DataTypeName(out.dtype()));
        }
      } else {
        ApplyBinary<T>(op_, PlanBroadcast<2>(os, {&in[0]->shape(), &in[1]->shape()}), in[0]->data<T>(),
                       in[1]->data<T>(), o);
        for (size_t k = 2; k < in.size(); ++k)
          ApplyBinary<T>(op_, PlanBroadcast<2>(os, {&os, &in[k]->shape()}), o, in[k]->data<T>(), o);
      }
      if constexpr (std::is_floating_point_v<T>) {
        if (op_ == Arith::kMean) {
          const T scale = T(1) / static_cast<T>(in.size());
          const int64_t n = out.num_elements();
          for (int64_t i = 0; i < n; ++i) o[i] *= scale;
        }
      }
    });
    if (!known) return Unimplemented("operator on ", DataTypeName(out.dtype()));
    return st;
  }

  Arith op_;
  bool alias_;
};

Status SupportsArith(Arith op, const Graph& g, const Node& n) {
  const DataType t = InputDType(g, n, 0);
  if (!n.HasInput(0)) return InvalidArgument(n.op_type, " needs an input");
  switch (op) {
    case Arith::kMean:
      return RequireInputType(g, n, 0, FloatTypes{}, true);
    case Arith::kPow: {
      TUTTI_RETURN_IF_ERROR(RequireInputType(g, n, 0, TypeList<float, double, int32_t, int64_t>{}, true));
      return RequireInputType(g, n, 1, NumericTypes{}, true);
    }
    case Arith::kPRelu:
      return RequireInputType(g, n, 0, SignedTypes{}, true);
    case Arith::kShiftLeft: case Arith::kShiftRight:
      return RequireInputType(g, n, 0, UnsignedTypes{});
    case Arith::kMod: case Arith::kFmod:
      if (n.GetInt("fmod", 0) == 0 && (t == DataType::kFloat32 || t == DataType::kFloat64 || IsHalfType(t)))
        return InvalidArgument("Mod on floating-point inputs requires fmod=1");
      return RequireInputType(g, n, 0, NumericTypes{}, true);
    default:
      return RequireInputType(g, n, 0, NumericTypes{}, true);
  }
}

Result<std::unique_ptr<CpuKernel>> MakeArith(Arith op, const KernelBuildInfo& info) {
  const Node& n = info.node;
  if (op == Arith::kMod && n.GetInt("fmod", 0) != 0) op = Arith::kFmod;
  if (op == Arith::kShiftLeft) {
    const std::string dir = n.GetString("direction", "");
    if (dir == "RIGHT") op = Arith::kShiftRight;
    else if (dir != "LEFT") return InvalidArgument("BitShift direction must be LEFT or RIGHT, got '", dir, "'");
  }
  // In place only when input 0 already has the output's shape and type (no broadcast of input 0).
  auto in0 = info.input_shape(0);
  auto out0 = info.output_shape(0);
  const Value* x = info.input(0);
  const Value* y = info.output(0);
  const bool alias = in0 && out0 && *in0 == *out0 && x && y && x->info.dtype == y->info.dtype && op != Arith::kPow;
  return std::unique_ptr<CpuKernel>(new ArithmeticKernel(op, alias));
}

#define TUTTI_ARITH_KERNEL(NAME, OP)                                                                  \
  TUTTI_REGISTER_CPU_KERNEL(                                                                          \
      NAME, "", [](const KernelBuildInfo& info) { return MakeArith(OP, info); },                       \
      [](const Graph& g, const Node& n) { return SupportsArith(OP, g, n); })

TUTTI_ARITH_KERNEL("Add", Arith::kAdd);
TUTTI_ARITH_KERNEL("Sub", Arith::kSub);
TUTTI_ARITH_KERNEL("Mul", Arith::kMul);
TUTTI_ARITH_KERNEL("Div", Arith::kDiv);
TUTTI_ARITH_KERNEL("Pow", Arith::kPow);
TUTTI_ARITH_KERNEL("Mod", Arith::kMod);
TUTTI_ARITH_KERNEL("Max", Arith::kMax);
TUTTI_ARITH_KERNEL("Min", Arith::kMin);
TUTTI_ARITH_KERNEL("Sum", Arith::kSum);
TUTTI_ARITH_KERNEL("Mean", Arith::kMean);
TUTTI_ARITH_KERNEL("PRelu", Arith::kPRelu);
TUTTI_ARITH_KERNEL("BitShift", Arith::kShiftLeft);

}  // namespace
}  // namespace tutti::cpu
