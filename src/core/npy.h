// NumPy .npy files (format versions 1.0, 2.0 and 3.0): how tensors enter and leave `tutti run`
// and how the reference outputs of the correctness tests are stored.
//
// Reading is strict because the files come from users: the header dict must hold exactly
// 'descr', 'fortran_order' and 'shape'; only little-endian (or byte-order-free) dtypes that map to
// a tutti DataType are accepted; fortran_order True is refused rather than silently transposed; and
// the data length must equal what the header promises. Sizes are checked against the file size
// before anything is allocated, so a header that lies cannot make us allocate terabytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "core/status.h"
#include "core/tensor.h"

namespace tutti {

struct NpyHeader {
  DataType dtype = DataType::kUndefined;
  Shape shape;
  size_t data_offset = 0;  // bytes from the start of the file to the first element
  size_t data_bytes = 0;   // num_elements * element size
};

// Parses the preamble and header dict from the first bytes of a file whose total size is
// `file_size`; `prefix` must hold at least the whole header (ReadNpy reads it in two steps).
// Checks that file_size == data_offset + data_bytes.
Result<NpyHeader> ParseNpyHeader(std::span<const std::byte> prefix, uint64_t file_size);

// A whole .npy file held in memory (the fuzz target and tests use this). `name` is used in errors.
Result<Tensor> DecodeNpy(std::span<const std::byte> bytes, const std::string& name = "<memory>");
// Reads `path`; every error names the file.
Result<Tensor> ReadNpy(const std::string& path);

// The file image NumPy itself would write for this tensor (format 1.0, or 2.0 for huge headers).
Result<std::string> EncodeNpy(const Tensor& tensor);
Status WriteNpy(const std::string& path, const Tensor& tensor);

// "<f4", "|u1", ... for a dtype, or "" when NumPy has no equivalent (bfloat16, string).
std::string NpyDescr(DataType dtype);

}  // namespace tutti
