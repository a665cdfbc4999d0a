// Cast and CastLike between every numeric dtype, bool and the 16-bit floats. Float -> integer
// conversions saturate (and NaN becomes 0) instead of hitting C++'s undefined behaviour; ONNX leaves
// out-of-range values undefined, so any answer is conformant and this one is safe under UBSan.
#include <cmath>
#include <limits>

#include "backends/cpu/ops/kernel_util.h"

namespace tutti::cpu {
namespace {

template <typename To, typename From>
inline To Convert(From v) {
  if constexpr (std::is_same_v<To, bool>) {
    return v != From(0);
  } else if constexpr (std::is_floating_point_v<From> && std::is_integral_v<To>) {
    if (!(v == v)) return To(0);
    constexpr double lo = static_cast<double>(std::numeric_limits<To>::lowest());
    constexpr double hi = static_cast<double>(std::numeric_limits<To>::max());
    const double d = static_cast<double>(v);
    if (d <= lo) return std::numeric_limits<To>::lowest();
    if (d >= hi) return std::numeric_limits<To>::max();
    return static_cast<To>(d);
  } else {
    return static_cast<To>(v);
  }
}

// bfloat16 is computed correctly but not claimed yet: the node tests' bfloat16 data does not
// load as bfloat16 (model/tensor_proto_io.h reads it as uint16), so the claim cannot be verified.
bool Castable(DataType t) {
  return TypeListContains(NumericBoolTypes{}, t) || t == DataType::kFloat16;
}

// Casts `in` (no 16-bit floats) into `out` (no 16-bit floats) of the same shape.
Status CastPlain(const Tensor& in, Tensor& out) {
  bool known = false;
  DispatchType(NumericBoolTypes{}, in.dtype(), [&](auto from_tag) {
    using From = decltype(from_tag);
    known = DispatchType(NumericBoolTypes{}, out.dtype(), [&](auto to_tag) {
      using To = decltype(to_tag);
      const From* src = in.data<From>();
      To* dst = out.data<To>();
      ParallelRanges(in.num_elements(), 1, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) dst[i] = Convert<To>(src[i]);
      });
    });
  });
  if (!known) return Unimplemented("cast from ", DataTypeName(in.dtype()), " to ", DataTypeName(out.dtype()));
  return Status::Ok();
}

Status CastInto(const Tensor& x, Tensor& y) {
  if (x.dtype() == y.dtype()) {
    CopyIfDistinct(x, y);
    return Status::Ok();
  }
  Tensor src = x;
  if (IsHalfType(x.dtype())) {
    TUTTI_ASSIGN_OR_RETURN(src, HalfToFloat32(x));
  }
  if (!IsHalfType(y.dtype())) return CastPlain(src, y);
  Tensor f32 = src;
  if (src.dtype() != DataType::kFloat32) {
    TUTTI_ASSIGN_OR_RETURN(f32, Tensor::Allocate(DataType::kFloat32, src.shape()));
    TUTTI_RETURN_IF_ERROR(CastPlain(src, f32));
  }
  return Float32IntoHalf(f32, y);
}

Status SupportsCast(const Graph& g, const Node& n) {
  const int64_t to = n.GetInt("to", 0);
  if (!IsValidDataType(static_cast<int32_t>(to)) || !Castable(static_cast<DataType>(to)))
    return Unimplemented("Cast to ONNX type ", to);
  const DataType from = InputDType(g, n, 0);
  if (from != DataType::kUndefined && !Castable(from)) return Unimplemented("Cast from ", DataTypeName(from));
  return Status::Ok();
}

Status SupportsCastLike(const Graph& g, const Node& n) {
  for (size_t i = 0; i < 2; ++i) {
    const DataType t = InputDType(g, n, i);
    if (!n.HasInput(i)) return InvalidArgument("CastLike needs two inputs");
    if (t != DataType::kUndefined && !Castable(t)) return Unimplemented("CastLike on ", DataTypeName(t));
  }
  return Status::Ok();
}

TUTTI_REGISTER_CPU_KERNEL(
    "Cast", "",
    [](const KernelBuildInfo& info) {
      const DataType to = static_cast<DataType>(info.node.GetInt("to", 0));
      return MakeKernel([to](KernelContext& ctx) -> Status {
        TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "input"));
        TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, x->shape(), to));
        return CastInto(*x, *y);
      });
    },
    SupportsCast);
TUTTI_REGISTER_CPU_KERNEL(
    "CastLike", "",
    [](const KernelBuildInfo&) {
      return MakeKernel([](KernelContext& ctx) -> Status {
        TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "input"));
        TUTTI_ASSIGN_OR_RETURN(const Tensor* like, RequiredInput(ctx, 1, "target_type"));
        TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, x->shape(), like->dtype()));
        return CastInto(*x, *y);
      });
    },
    SupportsCastLike);

}  // namespace
}  // namespace tutti::cpu
