#include "backends/cpu/ops/kernel_util.h"

#include <cmath>

namespace tutti::cpu {

Result<Tensor> HalfToFloat32(const Tensor& t) {
  TUTTI_ASSIGN_OR_RETURN(Tensor out, Tensor::Allocate(DataType::kFloat32, t.shape()));
  const uint16_t* in = t.data<uint16_t>();
  float* o = out.data<float>();
  const int64_t n = t.num_elements();
  if (t.dtype() == DataType::kFloat16) {
    for (int64_t i = 0; i < n; ++i) o[i] = HalfToFloat(in[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) o[i] = BFloat16ToFloat(in[i]);
  }
  return out;
}

namespace {
uint16_t FloatToBFloat16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if (std::isnan(f)) return static_cast<uint16_t>((x >> 16) | 0x40);
  x += 0x7fffu + ((x >> 16) & 1);  // round to nearest even
  return static_cast<uint16_t>(x >> 16);
}
}  // namespace

Status Float32IntoHalf(const Tensor& f32, Tensor& out) {
  if (f32.num_elements() != out.num_elements()) return Internal("half conversion size mismatch");
  const float* in = f32.data<float>();
  uint16_t* o = out.data<uint16_t>();
  const int64_t n = f32.num_elements();
  if (out.dtype() == DataType::kFloat16) {
    for (int64_t i = 0; i < n; ++i) o[i] = FloatToHalf(in[i]);
  } else if (out.dtype() == DataType::kBFloat16) {
    for (int64_t i = 0; i < n; ++i) o[i] = FloatToBFloat16(in[i]);
  } else {
    return Internal("Float32IntoHalf into ", DataTypeName(out.dtype()));
  }
  return Status::Ok();
}

Status RequireFixedSizeInput(const Graph& g, const Node& n, size_t i) {
  if (!n.HasInput(i)) return InvalidArgument(n.op_type, " needs input ", i);
  DataType t = InputDType(g, n, i);
  if (t == DataType::kUndefined || DataTypeSize(t) != 0) return Status::Ok();
  return Unimplemented(n.op_type, " on ", DataTypeName(t), " tensors");
}

Status RejectAttr(const Node& n, const std::string& attr, const std::string& why) {
  if (n.HasAttr(attr)) return Unimplemented(n.op_type, " attribute '", attr, "': ", why);
  return Status::Ok();
}

Result<int64_t> NormalizeAxis(int64_t axis, int64_t rank, bool inclusive) {
  const int64_t hi = inclusive ? rank : rank - 1;
  if (axis < -rank || axis > hi)
    return InvalidArgument("axis ", axis, " is out of range for rank ", rank);
  return axis < 0 ? axis + rank : axis;
}

Result<std::vector<int64_t>> NormalizeAxes(const std::vector<int64_t>& axes, int64_t rank) {
  std::vector<int64_t> out;
  out.reserve(axes.size());
  for (int64_t a : axes) {
    TUTTI_ASSIGN_OR_RETURN(int64_t n, NormalizeAxis(a, rank));
    out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end()) return InvalidArgument("repeated axis in axes");
  return out;
}

Result<const Tensor*> RequiredInput(KernelContext& ctx, size_t i, const char* name) {
  const Tensor* t = ctx.input(i);
  if (!t) return InvalidArgument("input ", i, " (", name, ") is missing");
  return t;
}

OptionalInts AttrInts(const Node& n, const std::string& attr) {
  if (!n.HasAttr(attr)) return std::nullopt;
  return n.GetInts(attr);
}

Result<OptionalInts> IntsFromInputOrAttr(KernelContext& ctx, size_t i, const OptionalInts& attr, const char* name) {
  if (const Tensor* t = ctx.input(i)) {
    if (t->dtype() != DataType::kInt64 && t->dtype() != DataType::kInt32)
      return InvalidArgument("input ", i, " (", name, ") must be int64, got ", DataTypeName(t->dtype()));
    if (t->rank() > 1) return InvalidArgument("input ", i, " (", name, ") must be 1-D, got ", t->DebugString());
    return OptionalInts(t->ToInt64Vector());
  }
  return attr;
}

Result<double> ScalarInput(const Tensor& t, const char* name) {
  if (t.num_elements() != 1) return InvalidArgument(name, " must hold one element, got ", t.DebugString());
  return t.ElementAsDouble(0);
}

}  // namespace tutti::cpu
