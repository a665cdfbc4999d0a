#include "model/tensor_proto_io.h"

#include <climits>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "model/onnx_tensor.h"

namespace tutti {
namespace {

Result<Tensor> ParseIn(std::string_view bytes, const std::string& base_dir, const std::string& what, std::string* name) {
  if (bytes.empty()) return InvalidArgument(what, ": empty input, expected a serialized ONNX TensorProto");
  if (bytes.size() > static_cast<size_t>(INT_MAX)) return InvalidArgument(what, ": larger than 2 GiB, not a TensorProto");
  onnx::TensorProto proto;
  if (!proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return InvalidArgument(what, ": not a valid serialized ONNX TensorProto");
  if (name) *name = proto.name();
  auto t = model::TensorFromProto(proto, base_dir);
  if (!t.ok()) return t.status().WithContext(what);
  return t;
}

}  // namespace

Result<Tensor> ReadTensorProtoFile(const std::string& path, std::string* name) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return NotFound("tensor file '", path, "' does not exist");
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open tensor file '", path, "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string bytes = std::move(ss).str();
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  return ParseIn(bytes, dir, "'" + path + "'", name);
}

Result<Tensor> ParseTensorProto(std::string_view bytes, std::string* name) {
  return ParseIn(bytes, "", "tensor proto", name);
}

}  // namespace tutti
