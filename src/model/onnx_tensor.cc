#include "model/onnx_tensor.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

namespace tutti::model {
namespace {

namespace fs = std::filesystem;

std::string TensorLabel(const onnx::TensorProto& p) {
  return p.name().empty() ? std::string("unnamed tensor") : "tensor '" + p.name() + "'";
}

// Resolves an external-data location inside `base_dir`, refusing anything that could escape it
// (absolute paths, "..", symlinks pointing elsewhere): a model file must not be able to make tutti
// read arbitrary files.
Result<fs::path> ResolveExternalPath(const std::string& location, const std::string& base_dir,
                                     const std::string& label) {
  if (base_dir.empty())
    return InvalidArgument(label, ": external data '", location, "' needs the model's folder (load the model from a file)");
  if (location.empty()) return InvalidArgument(label, ": external data has no location");
  if (location.find('\0') != std::string::npos) return InvalidArgument(label, ": external data location contains a NUL byte");
  fs::path rel(location);
  if (rel.is_absolute() || rel.has_root_name() || rel.has_root_directory())
    return InvalidArgument(label, ": external data location '", location, "' must be relative to the model's folder");
  for (const fs::path& part : rel)
    if (part == "..") return InvalidArgument(label, ": external data location '", location, "' leaves the model's folder");
  std::error_code ec;
  fs::path base = fs::weakly_canonical(fs::path(base_dir), ec);
  if (ec) return InvalidArgument(label, ": cannot resolve model folder '", base_dir, "': ", ec.message());
  fs::path full = fs::weakly_canonical(base / rel, ec);
  if (ec) return NotFound(label, ": external data file '", (base / rel).string(), "': ", ec.message());
  auto [b_end, f_it] = std::mismatch(base.begin(), base.end(), full.begin(), full.end());
  if (b_end != base.end())
    return InvalidArgument(label, ": external data location '", location, "' resolves outside the model's folder");
  return full;
}

// Where a tensor's external data lies, checked to be there (file, offset, length) before the
// tensor is allocated: its declared shape may be any size.
struct ExternalSlice {
  fs::path path;
  int64_t offset = 0;
};

Result<ExternalSlice> LocateExternal(const onnx::TensorProto& p, const std::string& base_dir, size_t want_bytes) {
  const std::string label = TensorLabel(p);
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& kv : p.external_data()) {
    auto parse_int = [&](const std::string& what) -> Result<int64_t> {
      const std::string& s = kv.value();
      if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos)
        return InvalidArgument(label, ": external data ", what, " '", s, "' is not a non-negative integer");
      return static_cast<int64_t>(std::stoll(s));
    };
    if (kv.key() == "location") location = kv.value();
    else if (kv.key() == "offset") { TUTTI_ASSIGN_OR_RETURN(offset, parse_int("offset")); }
    else if (kv.key() == "length") { TUTTI_ASSIGN_OR_RETURN(length, parse_int("length")); }
  }
  TUTTI_ASSIGN_OR_RETURN(fs::path path, ResolveExternalPath(location, base_dir, label));
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    return NotFound(label, ": external data file '", path.string(), "' does not exist");
  uintmax_t file_size = fs::file_size(path, ec);
  if (ec) return NotFound(label, ": cannot stat external data file '", path.string(), "': ", ec.message());
  if (length >= 0 && static_cast<uint64_t>(length) != want_bytes)
    return InvalidArgument(label, ": external data length ", length, " does not match the ", want_bytes,
                           " bytes its shape and type need");
  if (static_cast<uintmax_t>(offset) > file_size || want_bytes > file_size - static_cast<uintmax_t>(offset))
    return InvalidArgument(label, ": external data [", offset, ", ", offset + static_cast<int64_t>(want_bytes),
                           ") lies beyond the end of '", path.string(), "' (", file_size, " bytes)");
  return ExternalSlice{std::move(path), offset};
}

Status ReadExternal(const ExternalSlice& slice, const std::string& label, size_t want_bytes, void* dst) {
  const fs::path& path = slice.path;
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(label, ": cannot open external data file '", path.string(), "'");
  in.seekg(static_cast<std::streamoff>(slice.offset));
  in.read(static_cast<char*>(dst), static_cast<std::streamsize>(want_bytes));
  if (!in || static_cast<size_t>(in.gcount()) != want_bytes)
    return InvalidArgument(label, ": short read from external data file '", path.string(), "'");
  return Status::Ok();
}

template <typename To, typename Field>
Status CopyTyped(const Field& field, int64_t n, Tensor& t, const std::string& label, const char* field_name) {
  if (static_cast<int64_t>(field.size()) != n)
    return InvalidArgument(label, ": ", field_name, " holds ", field.size(), " values, its shape needs ", n);
  To* out = t.data<To>();
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<To>(field.Get(static_cast<int>(i)));
  return Status::Ok();
}

}  // namespace

DataType DataTypeFromOnnx(int32_t elem_type) {
  return IsValidDataType(elem_type) ? static_cast<DataType>(elem_type) : DataType::kUndefined;
}

namespace {

// What a TensorProto declares, checked against the data it holds inline.
struct Declared {
  DataType dtype = DataType::kUndefined;
  Shape shape;
  int64_t elements = 0;
  size_t bytes = 0;
  bool external = false;
};

Result<Declared> CheckDeclared(const onnx::TensorProto& p) {
  const std::string label = TensorLabel(p);
  if (p.has_segment()) return Unimplemented(label, ": segmented tensors are not supported");
  Declared d;
  d.dtype = DataTypeFromOnnx(p.data_type());
  if (d.dtype == DataType::kUndefined)
    return InvalidArgument(label, ": unsupported data type ", p.data_type());
  if (d.dtype == DataType::kString) return Unimplemented(label, ": string tensors are not supported");
  __int128 elems = 1;
  for (int64_t dim : p.dims()) {
    if (dim < 0) return InvalidArgument(label, ": negative dimension ", dim);
    d.shape.push_back(dim);
    elems *= dim;
    if (elems > (static_cast<__int128>(1) << 40)) return InvalidArgument(label, ": declared shape is impossibly large");
  }
  d.elements = static_cast<int64_t>(elems);
  d.bytes = static_cast<size_t>(d.elements) * DataTypeSize(d.dtype);

  // Check that the data is there before allocating: a proto may declare any shape.
  d.external = p.data_location() == onnx::TensorProto::EXTERNAL;
  if (!d.external && p.has_raw_data() && p.raw_data().size() != d.bytes)
    return InvalidArgument(label, ": raw_data holds ", p.raw_data().size(), " bytes, its shape ", ShapeToString(d.shape),
                           " of ", DataTypeName(d.dtype), " needs ", d.bytes);
  if (!d.external && !p.has_raw_data()) {
    int64_t have = 0;
    switch (d.dtype) {
      case DataType::kFloat32: have = p.float_data_size(); break;
      case DataType::kFloat64: have = p.double_data_size(); break;
      case DataType::kInt64: have = p.int64_data_size(); break;
      case DataType::kUInt32: case DataType::kUInt64: have = p.uint64_data_size(); break;
      default: have = p.int32_data_size(); break;
    }
    if (have != d.elements)
      return InvalidArgument(label, ": holds ", have, " values, its shape ", ShapeToString(d.shape), " needs ", d.elements);
  }
  return d;
}

}  // namespace

Status CheckTensorProto(const onnx::TensorProto& proto) { return CheckDeclared(proto).status(); }

Result<Tensor> TensorFromProto(const onnx::TensorProto& p, const std::string& base_dir) {
  const std::string label = TensorLabel(p);
  TUTTI_ASSIGN_OR_RETURN(const Declared declared, CheckDeclared(p));
  const auto& [dtype, shape, n, bytes, external] = declared;
  if (external) {
    TUTTI_ASSIGN_OR_RETURN(const ExternalSlice slice, LocateExternal(p, base_dir, bytes));
    TUTTI_ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(dtype, shape));
    TUTTI_RETURN_IF_ERROR(ReadExternal(slice, label, bytes, t.raw_data()));
    return t;
  }
  TUTTI_ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(dtype, shape));
  if (p.has_raw_data()) {
    if (bytes) std::memcpy(t.raw_data(), p.raw_data().data(), bytes);  // ONNX raw_data is little-endian, as is the host
    return t;
  }
  switch (dtype) {
    case DataType::kFloat32: TUTTI_RETURN_IF_ERROR(CopyTyped<float>(p.float_data(), n, t, label, "float_data")); break;
    case DataType::kFloat64: TUTTI_RETURN_IF_ERROR(CopyTyped<double>(p.double_data(), n, t, label, "double_data")); break;
    case DataType::kInt64: TUTTI_RETURN_IF_ERROR(CopyTyped<int64_t>(p.int64_data(), n, t, label, "int64_data")); break;
    case DataType::kUInt64: TUTTI_RETURN_IF_ERROR(CopyTyped<uint64_t>(p.uint64_data(), n, t, label, "uint64_data")); break;
    case DataType::kUInt32: TUTTI_RETURN_IF_ERROR(CopyTyped<uint32_t>(p.uint64_data(), n, t, label, "uint64_data")); break;
    case DataType::kInt32: TUTTI_RETURN_IF_ERROR(CopyTyped<int32_t>(p.int32_data(), n, t, label, "int32_data")); break;
    case DataType::kInt16: TUTTI_RETURN_IF_ERROR(CopyTyped<int16_t>(p.int32_data(), n, t, label, "int32_data")); break;
    case DataType::kInt8: TUTTI_RETURN_IF_ERROR(CopyTyped<int8_t>(p.int32_data(), n, t, label, "int32_data")); break;
    case DataType::kUInt16: TUTTI_RETURN_IF_ERROR(CopyTyped<uint16_t>(p.int32_data(), n, t, label, "int32_data")); break;
    case DataType::kUInt8: TUTTI_RETURN_IF_ERROR(CopyTyped<uint8_t>(p.int32_data(), n, t, label, "int32_data")); break;
    // float16 / bfloat16 keep their 16 bits in the low half of each int32 entry.
    case DataType::kFloat16: case DataType::kBFloat16:
      TUTTI_RETURN_IF_ERROR(CopyTyped<uint16_t>(p.int32_data(), n, t, label, "int32_data")); break;
    case DataType::kBool: {
      if (p.int32_data_size() != n) return InvalidArgument(label, ": int32_data holds ", p.int32_data_size(), " values, needs ", n);
      bool* out = t.data<bool>();
      for (int64_t i = 0; i < n; ++i) out[i] = p.int32_data(static_cast<int>(i)) != 0;
      break;
    }
    default: return InvalidArgument(label, ": unsupported data type ", DataTypeName(dtype));
  }
  return t;
}

}  // namespace tutti::model
