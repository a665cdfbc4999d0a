#include "core/npy.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>

namespace tutti {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
// NumPy itself refuses headers above 10000 bytes unless told otherwise; a tensor's header (descr,
// order, a shape of any sane rank) fits far below this. Bounds how much ReadNpy reads up front.
constexpr size_t kMaxHeaderBytes = 1 << 16;
constexpr size_t kAlign = 64;  // NumPy aligns the data start to 64 bytes

struct Preamble {
  int major = 0;
  size_t size = 0;        // magic + version + length field
  size_t header_len = 0;  // the dict and its padding
};

Result<Preamble> ParsePreamble(std::span<const std::byte> b) {
  auto u8 = [&](size_t i) { return static_cast<uint8_t>(b[i]); };
  if (b.size() < kMagicLen + 2 || std::memcmp(b.data(), kMagic, kMagicLen) != 0)
    return InvalidArgument("not a .npy file (no \\x93NUMPY magic)");
  Preamble p;
  p.major = u8(6);
  if (p.major < 1 || p.major > 3 || u8(7) != 0)
    return InvalidArgument("unsupported .npy format version ", p.major, ".", int(u8(7)));
  size_t len_bytes = p.major == 1 ? 2 : 4;
  p.size = kMagicLen + 2 + len_bytes;
  if (b.size() < p.size) return InvalidArgument("truncated .npy preamble");
  p.header_len = 0;
  for (size_t i = 0; i < len_bytes; ++i) p.header_len |= static_cast<size_t>(u8(8 + i)) << (8 * i);
  if (p.header_len > kMaxHeaderBytes)
    return InvalidArgument(".npy header length ", p.header_len, " exceeds the limit of ", kMaxHeaderBytes);
  return p;
}

// A strict reader for the Python dict literal NumPy writes, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
 public:
  explicit HeaderParser(std::string_view s) : s_(s) {}

  Status Parse(std::string& descr, bool& fortran, Shape& shape) {
    bool have_descr = false, have_fortran = false, have_shape = false;
    SkipSpace();
    if (!Eat('{')) return Error("expected '{'");
    SkipSpace();
    while (!Eat('}')) {
      TUTTI_ASSIGN_OR_RETURN(std::string key, ParseString());
      SkipSpace();
      if (!Eat(':')) return Error("expected ':' after '" + key + "'");
      SkipSpace();
      if (key == "descr") {
        if (have_descr) return Error("duplicate key 'descr'");
        have_descr = true;
        TUTTI_ASSIGN_OR_RETURN(descr, ParseString());
      } else if (key == "fortran_order") {
        if (have_fortran) return Error("duplicate key 'fortran_order'");
        have_fortran = true;
        TUTTI_ASSIGN_OR_RETURN(fortran, ParseBool());
      } else if (key == "shape") {
        if (have_shape) return Error("duplicate key 'shape'");
        have_shape = true;
        TUTTI_ASSIGN_OR_RETURN(shape, ParseTuple());
      } else {
        return Error("unexpected key '" + key + "'");
      }
      SkipSpace();
      if (Eat(',')) {
        SkipSpace();
      } else if (Peek() != '}') {
        return Error("expected ',' or '}'");
      }
    }
    // After the dict: padding spaces and the terminating newline only.
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c != ' ' && c != '\n' && c != '\t' && c != '\r' && c != '\0') return Error("unexpected text after the header dict");
    }
    if (!have_descr || !have_fortran || !have_shape)
      return InvalidArgument(".npy header must contain 'descr', 'fortran_order' and 'shape'");
    return Status::Ok();
  }

 private:
  char Peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  bool Eat(char c) {
    if (Peek() != c || pos_ >= s_.size()) return false;
    ++pos_;
    return true;
  }
  void SkipSpace() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  Status Error(const std::string& what) const {
    return InvalidArgument("malformed .npy header at byte ", pos_, ": ", what);
  }
  Result<std::string> ParseString() {
    char q = Peek();
    if (q != '\'' && q != '"') return Error("expected a quoted string");
    ++pos_;
    size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] != q) {
      if (s_[pos_] == '\\' || s_[pos_] == '\n') return Error("unsupported character in string");
      ++pos_;
    }
    if (pos_ >= s_.size()) return Error("unterminated string");
    std::string out(s_.substr(start, pos_ - start));
    ++pos_;
    return out;
  }
  Result<bool> ParseBool() {
    if (s_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (s_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    return Error("expected True or False");
  }
  Result<int64_t> ParseInt() {
    size_t start = pos_;
    int64_t v = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      if (pos_ - start >= 15) return Error("dimension too large");
      v = v * 10 + (s_[pos_++] - '0');
    }
    if (pos_ == start) return Error("expected a non-negative integer");
    Eat('L');  // Python 2 era files wrote long literals as 3L
    return v;
  }
  // (), (n,), (n, m), (n, m,)
  Result<Shape> ParseTuple() {
    if (!Eat('(')) return Error("expected '(' for the shape tuple");
    Shape shape;
    SkipSpace();
    if (Eat(')')) return shape;
    while (true) {
      TUTTI_ASSIGN_OR_RETURN(int64_t d, ParseInt());
      shape.push_back(d);
      if (shape.size() > 64) return Error("shape has more than 64 dimensions");
      SkipSpace();
      if (Eat(')')) {
        if (shape.size() == 1) return Error("a 1-element shape needs a trailing comma, as in (3,)");
        return shape;
      }
      if (!Eat(',')) return Error("expected ',' or ')' in the shape tuple");
      SkipSpace();
      if (Eat(')')) return shape;
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
};

struct DescrEntry {
  const char* code;  // kind + size, e.g. "f4"
  DataType dtype;
};
constexpr DescrEntry kDescrs[] = {
    {"f4", DataType::kFloat32}, {"f8", DataType::kFloat64}, {"f2", DataType::kFloat16},
    {"i1", DataType::kInt8},    {"i2", DataType::kInt16},   {"i4", DataType::kInt32},
    {"i8", DataType::kInt64},   {"u1", DataType::kUInt8},   {"u2", DataType::kUInt16},
    {"u4", DataType::kUInt32},  {"u8", DataType::kUInt64},  {"b1", DataType::kBool},
};

Result<DataType> ParseDescr(const std::string& descr) {
  if (descr.size() >= 2) {
    char order = descr[0];
    std::string code = descr.substr(1);
    for (const auto& e : kDescrs) {
      if (code != e.code) continue;
      bool one_byte = DataTypeSize(e.dtype) == 1;
      if (order == '<' || (order == '|' && one_byte)) return e.dtype;
      if (order == '>') return InvalidArgument(".npy dtype '", descr, "' is big-endian; only little-endian data is supported");
    }
  }
  return InvalidArgument("unsupported .npy dtype '", descr,
                         "' (supported: f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1, little-endian)");
}

}  // namespace

std::string NpyDescr(DataType dtype) {
  for (const auto& e : kDescrs)
    if (e.dtype == dtype) return std::string(DataTypeSize(dtype) == 1 ? "|" : "<") + e.code;
  return "";
}

Result<NpyHeader> ParseNpyHeader(std::span<const std::byte> prefix, uint64_t file_size) {
  TUTTI_ASSIGN_OR_RETURN(Preamble p, ParsePreamble(prefix));
  if (file_size < p.size + p.header_len)
    return InvalidArgument("truncated .npy file: the header needs ", p.size + p.header_len, " bytes, the file has ",
                           file_size);
  if (prefix.size() < p.size + p.header_len) return Internal("ParseNpyHeader was given too few bytes");
  std::string_view text(reinterpret_cast<const char*>(prefix.data()) + p.size, p.header_len);
  std::string descr;
  bool fortran = false;
  NpyHeader h;
  TUTTI_RETURN_IF_ERROR(HeaderParser(text).Parse(descr, fortran, h.shape));
  if (fortran)
    return InvalidArgument(".npy data is in Fortran order (fortran_order: True); save it in C order, e.g. "
                           "numpy.ascontiguousarray");
  TUTTI_ASSIGN_OR_RETURN(h.dtype, ParseDescr(descr));
  h.data_offset = p.size + p.header_len;
  // Each dim < 1e15 and the rank <= 64, so check the running product against the file size to
  // keep it from overflowing.
  unsigned __int128 bytes = DataTypeSize(h.dtype);
  const uint64_t available = file_size - h.data_offset;
  bool any_zero = false;
  for (int64_t d : h.shape) any_zero |= d == 0;
  if (!any_zero) {
    for (int64_t d : h.shape) {
      bytes *= static_cast<uint64_t>(d);
      if (bytes > available) break;
    }
  } else {
    bytes = 0;
  }
  std::string what = StrCat(DataTypeName(h.dtype), ShapeToString(h.shape));
  if (bytes != available) {
    if (bytes > available)
      return InvalidArgument(".npy header promises ", what, " but the file holds only ", available,
                             " bytes of data (truncated or lying header)");
    return InvalidArgument(".npy header promises ", what, " (", static_cast<uint64_t>(bytes), " bytes) but the file holds ",
                           available, " bytes of data");
  }
  h.data_bytes = static_cast<size_t>(bytes);
  return h;
}

Result<Tensor> DecodeNpy(std::span<const std::byte> bytes, const std::string& name) {
  auto header = ParseNpyHeader(bytes, bytes.size());
  if (!header.ok()) return header.status().WithContext(name);
  auto t = Tensor::Allocate(header->dtype, header->shape);
  if (!t.ok()) return t.status().WithContext(name);
  if (header->data_bytes) std::memcpy(t->raw_data(), bytes.data() + header->data_offset, header->data_bytes);
  return t;
}

Result<Tensor> ReadNpy(const std::string& path) {
  // Refuse directories and FIFOs up front: reading a FIFO could block forever.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return NotFound(path, ": cannot open (", std::strerror(errno), ")");
  if (!S_ISREG(st.st_mode)) return InvalidArgument(path, ": not a regular file");
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return NotFound(path, ": cannot open (", std::strerror(errno), ")");
  if (std::fseek(f.get(), 0, SEEK_END) != 0) return InvalidArgument(path, ": cannot seek (not a regular file?)");
  long size = std::ftell(f.get());
  if (size < 0) return InvalidArgument(path, ": cannot determine the file size");
  std::rewind(f.get());
  const uint64_t file_size = static_cast<uint64_t>(size);
  std::string prefix(std::min<uint64_t>(file_size, 12 + kMaxHeaderBytes), '\0');
  if (std::fread(prefix.data(), 1, prefix.size(), f.get()) != prefix.size()) return InvalidArgument(path, ": read error");
  auto header = ParseNpyHeader(std::as_bytes(std::span(prefix)), file_size);
  if (!header.ok()) return header.status().WithContext(path);
  auto t = Tensor::Allocate(header->dtype, header->shape);
  if (!t.ok()) return t.status().WithContext(path);
  if (std::fseek(f.get(), static_cast<long>(header->data_offset), SEEK_SET) != 0 ||
      std::fread(t->raw_data(), 1, header->data_bytes, f.get()) != header->data_bytes)
    return InvalidArgument(path, ": could not read ", header->data_bytes, " bytes of data");
  return t;
}

Result<std::string> EncodeNpy(const Tensor& tensor) {
  std::string descr = NpyDescr(tensor.dtype());
  if (descr.empty()) return InvalidArgument("tensor of type ", DataTypeName(tensor.dtype()), " has no NumPy dtype");
  // Byte-for-byte what numpy.save writes (numpy/lib/format.py: sorted keys, repr of the tuple).
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < tensor.shape().size(); ++i) dict += (i ? ", " : "") + std::to_string(tensor.shape()[i]);
  if (tensor.shape().size() == 1) dict += ",";
  dict += "), }";
  int major = 1;
  size_t preamble = kMagicLen + 2 + 2;
  size_t pad = kAlign - (preamble + dict.size() + 1) % kAlign;
  if (dict.size() + 1 + pad > 0xffff) {
    major = 2;
    preamble = kMagicLen + 2 + 4;
    pad = kAlign - (preamble + dict.size() + 1) % kAlign;
  }
  const size_t header_len = dict.size() + pad + 1;
  std::string out(kMagic, kMagicLen);
  out += static_cast<char>(major);
  out += '\0';
  for (size_t i = 0; i < (major == 1 ? 2u : 4u); ++i) out += static_cast<char>((header_len >> (8 * i)) & 0xff);
  out += dict;
  out.append(pad, ' ');
  out += '\n';
  out.append(static_cast<const char*>(tensor.raw_data()), tensor.nbytes());
  return out;
}

Status WriteNpy(const std::string& path, const Tensor& tensor) {
  auto bytes = EncodeNpy(tensor);
  if (!bytes.ok()) return bytes.status().WithContext(path);
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!f) return NotFound(path, ": cannot create (", std::strerror(errno), ")");
  if (std::fwrite(bytes->data(), 1, bytes->size(), f.get()) != bytes->size() || std::fflush(f.get()) != 0)
    return InvalidArgument(path, ": write failed (", std::strerror(errno), ")");
  return Status::Ok();
}

}  // namespace tutti
