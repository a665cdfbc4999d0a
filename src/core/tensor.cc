#include "core/tensor.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

namespace tutti {

size_t DataTypeSize(DataType t) {
  switch (t) {
    case DataType::kFloat32: case DataType::kInt32: case DataType::kUInt32: return 4;
    case DataType::kUInt8: case DataType::kInt8: case DataType::kBool: return 1;
    case DataType::kUInt16: case DataType::kInt16: case DataType::kFloat16: case DataType::kBFloat16: return 2;
    case DataType::kInt64: case DataType::kFloat64: case DataType::kUInt64: return 8;
    case DataType::kString: case DataType::kUndefined: return 0;
  }
  return 0;
}

const char* DataTypeName(DataType t) {
  switch (t) {
    case DataType::kUndefined: return "undefined";
    case DataType::kFloat32: return "float32";
    case DataType::kUInt8: return "uint8";
    case DataType::kInt8: return "int8";
    case DataType::kUInt16: return "uint16";
    case DataType::kInt16: return "int16";
    case DataType::kInt32: return "int32";
    case DataType::kInt64: return "int64";
    case DataType::kString: return "string";
    case DataType::kBool: return "bool";
    case DataType::kFloat16: return "float16";
    case DataType::kFloat64: return "float64";
    case DataType::kUInt32: return "uint32";
    case DataType::kUInt64: return "uint64";
    case DataType::kBFloat16: return "bfloat16";
  }
  return "unknown";
}

bool IsValidDataType(int32_t t) {
  return (t >= 1 && t <= 13) || t == 16;
}

int64_t NumElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string ShapeToString(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

Result<Tensor> Tensor::Allocate(DataType dtype, Shape shape) {
  if (DataTypeSize(dtype) == 0) return InvalidArgument("cannot allocate a tensor of type ", DataTypeName(dtype));
  // Guard against overflow and absurd sizes from malformed inputs before touching the allocator.
  __int128 elems = 1;
  for (int64_t d : shape) {
    if (d < 0) return InvalidArgument("negative dimension in shape ", ShapeToString(shape));
    elems *= d;
    if (elems > (static_cast<__int128>(1) << 40)) return OutOfMemory("tensor of shape ", ShapeToString(shape), " is too large");
  }
  size_t bytes = static_cast<size_t>(elems) * DataTypeSize(dtype);
  size_t alloc = ((bytes + 63) / 64) * 64;
  if (alloc == 0) alloc = 64;
  void* p = std::aligned_alloc(64, alloc);
  if (!p) return OutOfMemory("could not allocate ", bytes, " bytes for a tensor of shape ", ShapeToString(shape));
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.data_ = std::shared_ptr<std::byte>(static_cast<std::byte*>(p), [](std::byte* q) { std::free(q); });
  return t;
}

Result<Tensor> Tensor::Zeros(DataType dtype, Shape shape) {
  TUTTI_ASSIGN_OR_RETURN(Tensor t, Allocate(dtype, std::move(shape)));
  std::memset(t.raw_data(), 0, t.nbytes());
  return t;
}

Tensor Tensor::Wrap(DataType dtype, Shape shape, void* data, std::shared_ptr<void> owner) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.data_ = std::shared_ptr<std::byte>(std::move(owner), static_cast<std::byte*>(data));
  return t;
}

Result<Tensor> Tensor::Clone() const {
  TUTTI_ASSIGN_OR_RETURN(Tensor t, Allocate(dtype_, shape_));
  if (nbytes()) std::memcpy(t.raw_data(), raw_data(), nbytes());
  return t;
}

Tensor Tensor::SliceOuter(int64_t begin, int64_t end) const {
  Tensor t;
  t.dtype_ = dtype_;
  t.shape_ = shape_;
  t.shape_[0] = end - begin;
  size_t row_bytes = nbytes() / static_cast<size_t>(shape_[0] ? shape_[0] : 1);
  t.data_ = std::shared_ptr<std::byte>(data_, data_.get() + static_cast<size_t>(begin) * row_bytes);
  return t;
}

Result<Tensor> Tensor::Reshaped(Shape shape) const {
  if (NumElements(shape) != num_elements())
    return InvalidArgument("cannot reshape ", ShapeToString(shape_), " to ", ShapeToString(shape));
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

namespace {
template <typename F>
auto VisitElement(DataType dtype, const void* p, int64_t i, F f) {
  switch (dtype) {
    case DataType::kFloat32: return f(static_cast<const float*>(p)[i]);
    case DataType::kFloat64: return f(static_cast<const double*>(p)[i]);
    case DataType::kInt64: return f(static_cast<const int64_t*>(p)[i]);
    case DataType::kInt32: return f(static_cast<const int32_t*>(p)[i]);
    case DataType::kInt16: return f(static_cast<const int16_t*>(p)[i]);
    case DataType::kInt8: return f(static_cast<const int8_t*>(p)[i]);
    case DataType::kUInt8: return f(static_cast<const uint8_t*>(p)[i]);
    case DataType::kUInt16: return f(static_cast<const uint16_t*>(p)[i]);
    case DataType::kUInt32: return f(static_cast<const uint32_t*>(p)[i]);
    case DataType::kUInt64: return f(static_cast<const uint64_t*>(p)[i]);
    case DataType::kBool: return f(static_cast<const bool*>(p)[i]);
    case DataType::kFloat16: return f(HalfToFloat(static_cast<const uint16_t*>(p)[i]));
    case DataType::kBFloat16: return f(BFloat16ToFloat(static_cast<const uint16_t*>(p)[i]));
    default: return f(0);
  }
}
}  // namespace

double Tensor::ElementAsDouble(int64_t i) const {
  return VisitElement(dtype_, raw_data(), i, [](auto v) { return static_cast<double>(v); });
}

int64_t Tensor::ElementAsInt64(int64_t i) const {
  return VisitElement(dtype_, raw_data(), i, [](auto v) -> int64_t {
    if constexpr (std::is_floating_point_v<decltype(v)>) {
      if (!std::isfinite(v)) return 0;
      if (v >= 9.2e18) return std::numeric_limits<int64_t>::max();
      if (v <= -9.2e18) return std::numeric_limits<int64_t>::min();
    }
    return static_cast<int64_t>(v);
  });
}

std::vector<int64_t> Tensor::ToInt64Vector() const {
  std::vector<int64_t> v(static_cast<size_t>(num_elements()));
  for (int64_t i = 0; i < num_elements(); ++i) v[static_cast<size_t>(i)] = ElementAsInt64(i);
  return v;
}

std::string Tensor::DebugString() const { return std::string(DataTypeName(dtype_)) + ShapeToString(shape_); }

float HalfToFloat(uint16_t h) {
  uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) { mant <<= 1; --exp; }
      mant &= 0x3ff;
      bits = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t FloatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  int32_t exp = static_cast<int32_t>((x >> 23) & 0xff) - 127 + 15;
  uint32_t mant = x & 0x7fffffu;
  if (((x >> 23) & 0xff) == 0xff) return static_cast<uint16_t>(sign | 0x7c00u | (mant ? 0x200u : 0));
  if (exp >= 31) return static_cast<uint16_t>(sign | 0x7c00u);
  if (exp <= 0) {
    if (exp < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000u;
    uint32_t shift = static_cast<uint32_t>(14 - exp);
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = sign | (static_cast<uint32_t>(exp) << 10) | (mant >> 13);
  uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1))) ++half;  // round to nearest even
  return static_cast<uint16_t>(half);
}

float BFloat16ToFloat(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

namespace {
template <typename To>
void CastInto(const Tensor& in, To* out) {
  const int64_t n = in.num_elements();
  for (int64_t i = 0; i < n; ++i) {
    if constexpr (std::is_same_v<To, bool>) {
      out[i] = in.ElementAsDouble(i) != 0.0;
    } else if constexpr (std::is_floating_point_v<To>) {
      out[i] = static_cast<To>(in.ElementAsDouble(i));
    } else {
      out[i] = static_cast<To>(in.ElementAsInt64(i));
    }
  }
}
}  // namespace

Result<Tensor> CastTensor(const Tensor& in, DataType to) {
  TUTTI_ASSIGN_OR_RETURN(Tensor out, Tensor::Allocate(to, in.shape()));
  switch (to) {
    case DataType::kFloat32: CastInto(in, out.data<float>()); break;
    case DataType::kFloat64: CastInto(in, out.data<double>()); break;
    case DataType::kInt64: CastInto(in, out.data<int64_t>()); break;
    case DataType::kInt32: CastInto(in, out.data<int32_t>()); break;
    case DataType::kInt16: CastInto(in, out.data<int16_t>()); break;
    case DataType::kInt8: CastInto(in, out.data<int8_t>()); break;
    case DataType::kUInt8: CastInto(in, out.data<uint8_t>()); break;
    case DataType::kUInt16: CastInto(in, out.data<uint16_t>()); break;
    case DataType::kUInt32: CastInto(in, out.data<uint32_t>()); break;
    case DataType::kUInt64: CastInto(in, out.data<uint64_t>()); break;
    case DataType::kBool: CastInto(in, out.data<bool>()); break;
    case DataType::kFloat16: {
      uint16_t* o = out.data<uint16_t>();
      for (int64_t i = 0; i < in.num_elements(); ++i) o[i] = FloatToHalf(static_cast<float>(in.ElementAsDouble(i)));
      break;
    }
    default: return Unimplemented("cast from ", DataTypeName(in.dtype()), " to ", DataTypeName(to));
  }
  return out;
}

}  // namespace tutti
