// Host tensors: a dtype, a shape and a reference-counted, 64-byte-aligned buffer in row-major
// (C) order. Views share the buffer, which is what lets a batch split write each share's output
// straight into its slice of one output tensor (Tensor::SliceOuter) with no gather copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace tutti {

// Numbering follows ONNX's TensorProto.DataType so model import maps one-to-one.
enum class DataType : int32_t {
  kUndefined = 0,
  kFloat32 = 1,
  kUInt8 = 2,
  kInt8 = 3,
  kUInt16 = 4,
  kInt16 = 5,
  kInt32 = 6,
  kInt64 = 7,
  kString = 8,  // recognised so errors can name it; no backend computes on strings
  kBool = 9,
  kFloat16 = 10,
  kFloat64 = 11,
  kUInt32 = 12,
  kUInt64 = 13,
  kBFloat16 = 16,
};

size_t DataTypeSize(DataType t);  // bytes per element; 0 for undefined/string
const char* DataTypeName(DataType t);  // "float32", "int64", ... (NumPy's names)
bool IsValidDataType(int32_t onnx_type);

template <typename T> constexpr DataType DataTypeOf();
template <> constexpr DataType DataTypeOf<float>() { return DataType::kFloat32; }
template <> constexpr DataType DataTypeOf<double>() { return DataType::kFloat64; }
template <> constexpr DataType DataTypeOf<int64_t>() { return DataType::kInt64; }
template <> constexpr DataType DataTypeOf<int32_t>() { return DataType::kInt32; }
template <> constexpr DataType DataTypeOf<int16_t>() { return DataType::kInt16; }
template <> constexpr DataType DataTypeOf<int8_t>() { return DataType::kInt8; }
template <> constexpr DataType DataTypeOf<uint8_t>() { return DataType::kUInt8; }
template <> constexpr DataType DataTypeOf<uint16_t>() { return DataType::kUInt16; }
template <> constexpr DataType DataTypeOf<uint32_t>() { return DataType::kUInt32; }
template <> constexpr DataType DataTypeOf<uint64_t>() { return DataType::kUInt64; }
template <> constexpr DataType DataTypeOf<bool>() { return DataType::kBool; }

using Shape = std::vector<int64_t>;

int64_t NumElements(const Shape& shape);  // 1 for a scalar (rank 0)
std::string ShapeToString(const Shape& shape);  // "[1,3,224,224]"

class Tensor {
 public:
  Tensor() = default;  // undefined: !defined()

  // Uninitialised storage. Fails (kOutOfMemory / kInvalidArgument) instead of throwing.
  static Result<Tensor> Allocate(DataType dtype, Shape shape);
  static Result<Tensor> Zeros(DataType dtype, Shape shape);
  // A view over memory someone else owns; `owner` keeps it alive (may be null for static data).
  static Tensor Wrap(DataType dtype, Shape shape, void* data, std::shared_ptr<void> owner);
  // Copies `values` into a new 1-D (or given-shape) tensor; handy in tests and folding.
  template <typename T>
  static Tensor FromVector(const std::vector<T>& values, Shape shape = {});

  bool defined() const { return dtype_ != DataType::kUndefined; }
  DataType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t dim(int64_t i) const { return shape_[static_cast<size_t>(i < 0 ? i + rank() : i)]; }
  int64_t num_elements() const { return NumElements(shape_); }
  size_t nbytes() const { return static_cast<size_t>(num_elements()) * DataTypeSize(dtype_); }

  void* raw_data() { return data_.get(); }
  const void* raw_data() const { return data_.get(); }
  template <typename T> T* data() { return static_cast<T*>(raw_data()); }
  template <typename T> const T* data() const { return static_cast<const T*>(raw_data()); }

  // Deep copy into fresh storage.
  Result<Tensor> Clone() const;
  // Rows [begin, end) of the outermost dimension, sharing storage (writes go through).
  Tensor SliceOuter(int64_t begin, int64_t end) const;
  // Same storage, another shape with the same element count.
  Result<Tensor> Reshaped(Shape shape) const;
  // Element i converted to double / int64 (for shape computations and tests; slow path).
  double ElementAsDouble(int64_t i) const;
  int64_t ElementAsInt64(int64_t i) const;
  // All elements converted to int64 (shape tensors: Reshape, Slice, Expand ...).
  std::vector<int64_t> ToInt64Vector() const;
  // True if both share the same buffer start (views of one another's storage).
  bool SharesStorageWith(const Tensor& other) const { return data_ == other.data_; }

  std::string DebugString() const;  // "float32[1,3,224,224]"

 private:
  DataType dtype_ = DataType::kUndefined;
  Shape shape_;
  std::shared_ptr<std::byte> data_;  // aliasing pointer into the owning allocation
};

template <typename T>
Tensor Tensor::FromVector(const std::vector<T>& values, Shape shape) {
  if (shape.empty() && values.size() != 1) shape = {static_cast<int64_t>(values.size())};
  Tensor t = Allocate(DataTypeOf<T>(), std::move(shape)).value();
  T* out = t.data<T>();
  for (size_t i = 0; i < values.size(); ++i) out[i] = values[i];
  return t;
}

// float16 <-> float32 (IEEE half), used at model import and by fp16 backends.
float HalfToFloat(uint16_t h);
uint16_t FloatToHalf(float f);
float BFloat16ToFloat(uint16_t b);

// Converts a tensor to another dtype (numeric types and bool), as ONNX Cast does.
Result<Tensor> CastTensor(const Tensor& in, DataType to);

}  // namespace tutti
