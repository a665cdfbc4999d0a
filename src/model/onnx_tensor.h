// Conversion of ONNX TensorProto (initializers, Constant values, node-test .pb files) into host
// Tensors. Internal to model/: it exposes the protobuf types, which only model/ and tests link.
#pragma once

#include <onnx/onnx_pb.h>

#include <string>

#include "core/status.h"
#include "core/tensor.h"

namespace tutti::model {

// Converts `proto` into a Tensor, reading external data relative to `base_dir` (empty: external
// data is refused). Every declared size is checked against the bytes actually present before
// anything is allocated, so a malformed proto gives an error, never a huge allocation or a read
// past the end. Errors name the tensor.
Result<Tensor> TensorFromProto(const onnx::TensorProto& proto, const std::string& base_dir);

// The checks TensorFromProto makes before allocating (type, shape, and the inline data's size
// against the shape; external data is not read). The loader runs them on every tensor before
// ONNX's own shape inference, which reads initializers and Constant values trusting their size.
Status CheckTensorProto(const onnx::TensorProto& proto);

// Maps an ONNX elem_type to ours; kUndefined for types tutti has no number for.
DataType DataTypeFromOnnx(int32_t elem_type);

}  // namespace tutti::model
