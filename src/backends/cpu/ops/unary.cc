// Element-wise unary operators: activations (Relu LeakyRelu Elu Selu Celu ThresholdedRelu Sigmoid
// HardSigmoid HardSwish Tanh Erf Gelu Mish Softplus Softsign Shrink Clip), math (Exp Log Sqrt
// Reciprocal Neg Abs Floor Ceil Round Sign, trigonometric and hyperbolic functions) and the
// float -> bool tests IsNaN/IsInf. Formulas are the ONNX operator definitions; 16-bit floats are
// computed through float32.
#include <cmath>
#include <limits>

#include "backends/cpu/ops/kernel_util.h"

namespace tutti::cpu {
namespace {

enum class Un {
  kRelu, kLeakyRelu, kElu, kSelu, kCelu, kThresholdedRelu, kSigmoid, kHardSigmoid, kHardSwish, kTanh, kErf,
  kGelu, kGeluTanh, kMish, kSoftplus, kSoftsign, kShrink, kExp, kLog, kSqrt, kReciprocal, kNeg, kAbs, kFloor, kCeil,
  kRound, kSign, kSin, kCos, kTan, kAsin, kAcos, kAtan, kSinh, kCosh, kAsinh, kAcosh, kAtanh, kIsNaN, kIsInf,
};

struct UnaryAttrs {
  float alpha = 0, beta = 0, gamma = 0;
  bool detect_positive = true, detect_negative = true;
};

// Which dtypes an operator is defined on.
enum class Domain { kFloat, kSigned, kNumeric };
Domain DomainOf(Un op) {
  switch (op) {
    case Un::kRelu: case Un::kNeg: case Un::kLeakyRelu: return Domain::kSigned;
    case Un::kAbs: case Un::kSign: return Domain::kNumeric;
    default: return Domain::kFloat;
  }
}

template <typename TI, typename TO, typename F>
void Map(const TI* in, TO* out, int64_t n, int64_t cost, F f) {
  ParallelRanges(n, cost, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[i] = f(in[i]);
  });
}

template <typename T>
void ApplyUnary(Un op, const UnaryAttrs& at, const T* x, T* y, int64_t n) {
  constexpr int64_t kCheap = 1, kCostly = 16;
  const T alpha = static_cast<T>(at.alpha), beta = static_cast<T>(at.beta), gamma = static_cast<T>(at.gamma);
  if constexpr (std::is_floating_point_v<T>) {
    switch (op) {
      case Un::kElu: return Map(x, y, n, kCostly, [=](T v) { return v < 0 ? alpha * (std::exp(v) - 1) : v; });
      case Un::kSelu:
        return Map(x, y, n, kCostly, [=](T v) { return v <= 0 ? gamma * (alpha * std::exp(v) - alpha) : gamma * v; });
      case Un::kCelu:
        return Map(x, y, n, kCostly, [=](T v) { return std::max(T(0), v) + std::min(T(0), alpha * (std::exp(v / alpha) - 1)); });
      case Un::kThresholdedRelu: return Map(x, y, n, kCheap, [=](T v) { return v > alpha ? v : T(0); });
      case Un::kSigmoid:
        // Two branches so exp never overflows: 1/(1+e^-v) for v >= 0, e^v/(1+e^v) below.
        return Map(x, y, n, kCostly, [](T v) {
          if (v >= 0) return T(1) / (T(1) + std::exp(-v));
          const T e = std::exp(v);
          return e / (T(1) + e);
        });
      case Un::kHardSigmoid:
        return Map(x, y, n, kCheap, [=](T v) { return std::max(T(0), std::min(T(1), alpha * v + beta)); });
      case Un::kHardSwish:
        return Map(x, y, n, kCheap, [](T v) { return v * std::max(T(0), std::min(T(1), v / T(6) + T(0.5))); });
      case Un::kTanh: return Map(x, y, n, kCostly, [](T v) { return std::tanh(v); });
      case Un::kErf: return Map(x, y, n, kCostly, [](T v) { return std::erf(v); });
      case Un::kGelu:
        return Map(x, y, n, kCostly, [](T v) { return T(0.5) * v * (T(1) + std::erf(v * T(M_SQRT1_2))); });
      case Un::kGeluTanh:
        return Map(x, y, n, kCostly, [](T v) {
          const T k = std::sqrt(T(2) / T(M_PI));
          return T(0.5) * v * (T(1) + std::tanh(k * (v + T(0.044715) * v * v * v)));
        });
      case Un::kSoftplus:
        return Map(x, y, n, kCostly, [](T v) { return v > 0 ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v)); });
      case Un::kMish:  // x * tanh(softplus(x)), softplus computed without overflow
        return Map(x, y, n, kCostly, [](T v) {
          return v * std::tanh(v > 0 ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v)));
        });
      case Un::kSoftsign: return Map(x, y, n, kCheap, [](T v) { return v / (T(1) + std::abs(v)); });
      case Un::kShrink:
        return Map(x, y, n, kCheap, [=](T v) { return v < -gamma ? v + beta : (v > gamma ? v - beta : T(0)); });
      case Un::kExp: return Map(x, y, n, kCostly, [](T v) { return std::exp(v); });
      case Un::kLog: return Map(x, y, n, kCostly, [](T v) { return std::log(v); });
      case Un::kSqrt: return Map(x, y, n, kCheap, [](T v) { return std::sqrt(v); });
      case Un::kReciprocal: return Map(x, y, n, kCheap, [](T v) { return T(1) / v; });
      case Un::kFloor: return Map(x, y, n, kCheap, [](T v) { return std::floor(v); });
      case Un::kCeil: return Map(x, y, n, kCheap, [](T v) { return std::ceil(v); });
      case Un::kRound: return Map(x, y, n, kCheap, [](T v) { return std::nearbyint(v); });  // half to even
      case Un::kSin: return Map(x, y, n, kCostly, [](T v) { return std::sin(v); });
      case Un::kCos: return Map(x, y, n, kCostly, [](T v) { return std::cos(v); });
      case Un::kTan: return Map(x, y, n, kCostly, [](T v) { return std::tan(v); });
      case Un::kAsin: return Map(x, y, n, kCostly, [](T v) { return std::asin(v); });
      case Un::kAcos: return Map(x, y, n, kCostly, [](T v) { return std::acos(v); });
      case Un::kAtan: return Map(x, y, n, kCostly, [](T v) { return std::atan(v); });
      case Un::kSinh: return Map(x, y, n, kCostly, [](T v) { return std::sinh(v); });
      case Un::kCosh: return Map(x, y, n, kCostly, [](T v) { return std::cosh(v); });
      case Un::kAsinh: return Map(x, y, n, kCostly, [](T v) { return std::asinh(v); });
      case Un::kAcosh: return Map(x, y, n, kCostly, [](T v) { return std::acosh(v); });
      case Un::kAtanh: return Map(x, y, n, kCostly, [](T v) { return std::atanh(v); });
      default: break;
    }
  }
  switch (op) {
    case Un::kRelu: return Map(x, y, n, kCheap, [](T v) { return v > T(0) ? v : T(0); });
    case Un::kLeakyRelu: return Map(x, y, n, kCheap, [=](T v) { return v < T(0) ? static_cast<T>(alpha * v) : v; });
    case Un::kNeg: return Map(x, y, n, kCheap, [](T v) { return WrapSub(T(0), v); });
    case Un::kAbs:
      if constexpr (std::is_signed_v<T>) return Map(x, y, n, kCheap, [](T v) { return v < T(0) ? WrapSub(T(0), v) : v; });
      else return Map(x, y, n, kCheap, [](T v) { return v; });
    case Un::kSign:
      return Map(x, y, n, kCheap, [](T v) { return v > T(0) ? T(1) : (v < T(0) ? static_cast<T>(-1) : v); });
    default: return;
  }
}

class UnaryKernel final : public CpuKernel {
 public:
  UnaryKernel(Un op, UnaryAttrs attrs) : op_(op), attrs_(attrs) {}
  bool output0_may_alias_input0() const override { return op_ != Un::kIsNaN && op_ != Un::kIsInf; }

  Status Run(KernelContext& ctx) override {
    TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
    if (op_ == Un::kIsNaN || op_ == Un::kIsInf) return RunTest(*x, ctx);
    TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, x->shape(), x->dtype()));
    if (IsHalfType(x->dtype())) {
      TUTTI_ASSIGN_OR_RETURN(Tensor f, HalfToFloat32(*x));
      ApplyUnary<float>(op_, attrs_, f.data<float>(), f.data<float>(), f.num_elements());
      return Float32IntoHalf(f, *y);
    }
    const Domain d = DomainOf(op_);
    auto body = [&](auto tag) {
      using T = decltype(tag);
      ApplyUnary<T>(op_, attrs_, x->data<T>(), y->data<T>(), x->num_elements());
    };
    bool known = d == Domain::kFloat    ? DispatchType(FloatTypes{}, x->dtype(), body)
                 : d == Domain::kSigned ? DispatchType(SignedTypes{}, x->dtype(), body)
                                        : DispatchType(NumericTypes{}, x->dtype(), body);
    if (!known) return Unimplemented("unary operator on ", DataTypeName(x->dtype()));
    return Status::Ok();
  }

 private:
  Status RunTest(const Tensor& x, KernelContext& ctx) const {
    TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, x.shape(), DataType::kBool));
    Tensor f = x;
    if (IsHalfType(x.dtype())) {
      TUTTI_ASSIGN_OR_RETURN(f, HalfToFloat32(x));
    }
    const bool pos = attrs_.detect_positive, neg = attrs_.detect_negative;
    const bool nan = op_ == Un::kIsNaN;
    bool known = DispatchType(FloatTypes{}, f.dtype(), [&](auto tag) {
      using T = decltype(tag);
      Map(f.data<T>(), y->data<bool>(), f.num_elements(), 1, [=](T v) {
        if (nan) return std::isnan(v);
        return std::isinf(v) && ((v > 0 && pos) || (v < 0 && neg));
      });
    });
    if (!known) return Unimplemented("test on ", DataTypeName(x.dtype()));
    return Status::Ok();
  }

  Un op_;
  UnaryAttrs attrs_;
};

UnaryAttrs ReadAttrs(Un op, const Node& n) {
  UnaryAttrs a;
  switch (op) {
    case Un::kLeakyRelu: a.alpha = n.GetFloat("alpha", 0.01f); break;
    case Un::kElu: case Un::kCelu: case Un::kThresholdedRelu: a.alpha = n.GetFloat("alpha", 1.f); break;
    case Un::kSelu:
      a.alpha = n.GetFloat("alpha", 1.67326319217681884765625f);
      a.gamma = n.GetFloat("gamma", 1.05070102214813232421875f);
      break;
    case Un::kHardSigmoid:
      a.alpha = n.GetFloat("alpha", 0.2f);
      a.beta = n.GetFloat("beta", 0.5f);
      break;
    case Un::kShrink:
      a.beta = n.GetFloat("bias", 0.f);
      a.gamma = n.GetFloat("lambd", 0.5f);
      break;
    case Un::kIsInf:
      a.detect_positive = n.GetInt("detect_positive", 1) != 0;
      a.detect_negative = n.GetInt("detect_negative", 1) != 0;
      break;
    default: break;
  }
  return a;
}

Un ResolveGelu(Un op, const Node& n) {
  return op == Un::kGelu && n.GetString("approximate", "none") == "tanh" ? Un::kGeluTanh : op;
}

Status SupportsUnary(Un op, const Graph& g, const Node& n) {
  if (op == Un::kGelu) {
    const std::string approx = n.GetString("approximate", "none");
    if (approx != "none" && approx != "tanh") return InvalidArgument("Gelu approximate='", approx, "'");
  }
  switch (DomainOf(op)) {
    case Domain::kFloat: return RequireInputType(g, n, 0, FloatTypes{}, true);
    case Domain::kSigned: return RequireInputType(g, n, 0, SignedTypes{}, true);
    case Domain::kNumeric: return RequireInputType(g, n, 0, NumericTypes{}, true);
  }
  return Status::Ok();
}

#define TUTTI_UNARY_KERNEL_IN(NAME, DOMAIN, OP)                                                          \
  TUTTI_REGISTER_CPU_KERNEL(                                                                            \
      NAME, DOMAIN,                                                                                     \
      [](const KernelBuildInfo& info) -> Result<std::unique_ptr<CpuKernel>> {                            \
        return std::unique_ptr<CpuKernel>(new UnaryKernel(ResolveGelu(OP, info.node), ReadAttrs(OP, info.node))); \
      },                                                                                                \
      [](const Graph& g, const Node& n) { return SupportsUnary(OP, g, n); })
#define TUTTI_UNARY_KERNEL(NAME, OP) TUTTI_UNARY_KERNEL_IN(NAME, "", OP)

TUTTI_UNARY_KERNEL("Relu", Un::kRelu);
TUTTI_UNARY_KERNEL("LeakyRelu", Un::kLeakyRelu);
TUTTI_UNARY_KERNEL("Elu", Un::kElu);
TUTTI_UNARY_KERNEL("Selu", Un::kSelu);
TUTTI_UNARY_KERNEL("Celu", Un::kCelu);
TUTTI_UNARY_KERNEL("ThresholdedRelu", Un::kThresholdedRelu);
TUTTI_UNARY_KERNEL("Sigmoid", Un::kSigmoid);
TUTTI_UNARY_KERNEL("HardSigmoid", Un::kHardSigmoid);
TUTTI_UNARY_KERNEL("HardSwish", Un::kHardSwish);
TUTTI_UNARY_KERNEL("Tanh", Un::kTanh);
TUTTI_UNARY_KERNEL("Erf", Un::kErf);
TUTTI_UNARY_KERNEL("Gelu", Un::kGelu);
TUTTI_UNARY_KERNEL_IN("Gelu", "com.microsoft", Un::kGelu);
TUTTI_UNARY_KERNEL("Mish", Un::kMish);
TUTTI_UNARY_KERNEL("Softplus", Un::kSoftplus);
TUTTI_UNARY_KERNEL("Softsign", Un::kSoftsign);
TUTTI_UNARY_KERNEL("Shrink", Un::kShrink);
TUTTI_UNARY_KERNEL("Exp", Un::kExp);
TUTTI_UNARY_KERNEL("Log", Un::kLog);
TUTTI_UNARY_KERNEL("Sqrt", Un::kSqrt);
TUTTI_UNARY_KERNEL("Reciprocal", Un::kReciprocal);
TUTTI_UNARY_KERNEL("Neg", Un::kNeg);
TUTTI_UNARY_KERNEL("Abs", Un::kAbs);
TUTTI_UNARY_KERNEL("Floor", Un::kFloor);
TUTTI_UNARY_KERNEL("Ceil", Un::kCeil);
TUTTI_UNARY_KERNEL("Round", Un::kRound);
TUTTI_UNARY_KERNEL("Sign", Un::kSign);
TUTTI_UNARY_KERNEL("Sin", Un::kSin);
TUTTI_UNARY_KERNEL("Cos", Un::kCos);
TUTTI_UNARY_KERNEL("Tan", Un::kTan);
TUTTI_UNARY_KERNEL("Asin", Un::kAsin);
TUTTI_UNARY_KERNEL("Acos", Un::kAcos);
TUTTI_UNARY_KERNEL("Atan", Un::kAtan);
TUTTI_UNARY_KERNEL("Sinh", Un::kSinh);
TUTTI_UNARY_KERNEL("Cosh", Un::kCosh);
TUTTI_UNARY_KERNEL("Asinh", Un::kAsinh);
TUTTI_UNARY_KERNEL("Acosh", Un::kAcosh);
TUTTI_UNARY_KERNEL("Atanh", Un::kAtanh);
TUTTI_UNARY_KERNEL("IsNaN", Un::kIsNaN);
TUTTI_UNARY_KERNEL("IsInf", Un::kIsInf);

// Clip(X, min?, max?): bounds are optional scalar inputs (attributes before opset 11).
class ClipKernel final : public CpuKernel {
 public:
  ClipKernel(std::optional<float> min_attr, std::optional<float> max_attr) : min_attr_(min_attr), max_attr_(max_attr) {}
  bool output0_may_alias_input0() const override { return true; }

  Status Run(KernelContext& ctx) override {
    TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
    TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, x->shape(), x->dtype()));
    Tensor xf = *x;
    Tensor* yf = y;
    Tensor tmp;
    if (IsHalfType(x->dtype())) {
      TUTTI_ASSIGN_OR_RETURN(xf, HalfToFloat32(*x));
      tmp = xf;
      yf = &tmp;
    }
    Status st = Status::Ok();
    bool known = DispatchType(NumericTypes{}, xf.dtype(), [&](auto tag) {
      using T = decltype(tag);
      T lo = std::numeric_limits<T>::lowest(), hi = std::numeric_limits<T>::max();
      auto bound = [&](size_t i, const std::optional<float>& attr, T& v) {
        if (const Tensor* b = ctx.input(i)) {
          if (b->num_elements() != 1) {
            st = InvalidArgument("Clip bound ", i, " must be a scalar, got ", b->DebugString());
            return;
          }
          v = static_cast<T>(b->ElementAsDouble(0));
          if constexpr (std::is_integral_v<T>) {
            if (b->dtype() == DataType::kInt64 || b->dtype() == DataType::kUInt64)
              v = static_cast<T>(b->ElementAsInt64(0));
          }
        } else if (attr) {
          v = static_cast<T>(*attr);
        }
      };
      bound(1, min_attr_, lo);
      bound(2, max_attr_, hi);
      if (!st.ok()) return;
      Map(xf.data<T>(), yf->data<T>(), xf.num_elements(), 1, [=](T v) { return std::min(std::max(v, lo), hi); });
    });
    if (!known) return Unimplemented("Clip on ", DataTypeName(x->dtype()));
    TUTTI_RETURN_IF_ERROR(st);
    if (yf != y) return Float32IntoHalf(*yf, *y);
    return Status::Ok();
  }

 private:
  std::optional<float> min_attr_, max_attr_;
};

Result<std::unique_ptr<CpuKernel>> MakeClip(const KernelBuildInfo& info) {
  const Node& n = info.node;
  std::optional<float> lo, hi;
  if (n.HasAttr("min")) lo = n.GetFloat("min", 0);
  if (n.HasAttr("max")) hi = n.GetFloat("max", 0);
  return std::unique_ptr<CpuKernel>(new ClipKernel(lo, hi));
}

TUTTI_REGISTER_CPU_KERNEL("Clip", "", MakeClip, [](const Graph& g, const Node& n) {
  return RequireInputType(g, n, 0, NumericTypes{}, true);
});

}  // namespace
}  // namespace tutti::cpu
