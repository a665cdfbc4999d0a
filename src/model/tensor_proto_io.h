// Reading tensors stored as serialized ONNX TensorProto (the ONNX node-test suite keeps every test
// input and expected output as test_data_set_N/{input,output}_K.pb).
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "core/tensor.h"

namespace tutti {

// Reads one serialized TensorProto file; `name`, when given, receives the tensor's stored name
// ("" when unnamed). External data is resolved relative to the file's folder. A malformed file is a
// one-line InvalidArgument naming the file.
Result<Tensor> ReadTensorProtoFile(const std::string& path, std::string* name = nullptr);
// The same from bytes in memory; external data is refused.
Result<Tensor> ParseTensorProto(std::string_view bytes, std::string* name = nullptr);

}  // namespace tutti
