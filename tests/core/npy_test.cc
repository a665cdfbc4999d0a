// .npy reading and writing against files NumPy itself wrote (embedded below as hex), plus the
// malformed files a user might hand us: each must be a clear error, never a crash or a huge
// allocation.
#include "core/npy.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "support/test_support.h"

namespace tutti {
namespace {

struct NumpyCase {
  DataType dtype;
  Shape shape;
  std::vector<double> values;
  const char* hex;  // the bytes numpy.save wrote
};

// Generated once with numpy 1.24.2: numpy.save(np.array(values, dtype).reshape(shape)).
const NumpyCase kNumpyCases[] = {
    {DataType::kFloat32, {2,3}, {-1.0,-0.5,0.0,0.5,1.0,1.5},
     "934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2033292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a000080bf000000bf000000000000003f0000803f0000c03f"},
    {DataType::kFloat64, {}, {3.25},
     "934e554d5059010076007b276465736372273a20273c6638272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028292c207d20202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a0000000000000a40"},
    {DataType::kFloat16, {3}, {1.0,-2.5,65504.0},
     "934e554d5059010076007b276465736372273a20273c6632272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028332c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a003c00c1ff7b"},
    {DataType::kInt8, {4}, {-128.0,-1.0,0.0,127.0},
     "934e554d5059010076007b276465736372273a20277c6931272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028342c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a80ff007f"},
    {DataType::kInt16, {2}, {-32768.0,32767.0},
     "934e554d5059010076007b276465736372273a20273c6932272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a0080ff7f"},
    {DataType::kInt32, {1,2}, {-2147483648.0,7.0},
     "934e554d5059010076007b276465736372273a20273c6934272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028312c2032292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a0000008007000000"},
    {DataType::kInt64, {2,1}, {-9000000000.0,42.0},
     "934e554d5059010076007b276465736372273a20273c6938272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c2031292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a00e68ee7fdffffff2a00000000000000"},
    {DataType::kUInt8, {0}, {},
     "934e554d5059010076007b276465736372273a20277c7531272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028302c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a"},
    {DataType::kUInt16, {2}, {0.0,65535.0},
     "934e554d5059010076007b276465736372273a20273c7532272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a0000ffff"},
    {DataType::kUInt32, {1}, {4294967295.0},
     "934e554d5059010076007b276465736372273a20273c7534272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028312c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200affffffff"},
    {DataType::kUInt64, {1,1,1}, {9007199254740992.0},
     "934e554d5059010076007b276465736372273a20273c7538272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028312c20312c2031292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a0000000000002000"},
    {DataType::kBool, {2}, {1.0,0.0},
     "934e554d5059010076007b276465736372273a20277c6231272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028322c292c207d2020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a0100"},
};
// numpy.lib.format.write_array(np.arange(4, dtype="<i4"), version=(2, 0))
const char kNumpyV2Hex[] = "934e554d50590200740000007b276465736372273a20273c6934272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028342c292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a00000000010000000200000003000000";
// numpy.lib.format.write_array(np.arange(4, dtype="<i4"), version=(3, 0))
const char kNumpyV3Hex[] = "934e554d50590300740000007b276465736372273a20273c6934272c2027666f727472616e5f6f72646572273a2046616c73652c20277368617065273a2028342c292c207d202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020202020200a00000000010000000200000003000000";

std::string FromHex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

Result<Tensor> Decode(const std::string& bytes) { return DecodeNpy(std::as_bytes(std::span(bytes)), "t.npy"); }

// The message of a failed decode ("" if it unexpectedly succeeded).
std::string DecodeError(const std::string& bytes) {
  auto t = Decode(bytes);
  return t.ok() ? "" : t.status().message();
}

TEST(NpyTest, ReadsWhatNumpyWrote) {
  for (const NumpyCase& c : kNumpyCases) {
    SCOPED_TRACE(DataTypeName(c.dtype));
    auto t = Decode(FromHex(c.hex));
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    EXPECT_EQ(t->dtype(), c.dtype);
    EXPECT_EQ(t->shape(), c.shape);
    ASSERT_EQ(t->num_elements(), static_cast<int64_t>(c.values.size()));
    for (size_t i = 0; i < c.values.size(); ++i) EXPECT_EQ(t->ElementAsDouble(static_cast<int64_t>(i)), c.values[i]) << i;
  }
}

TEST(NpyTest, WritesExactlyWhatNumpyWrites) {
  for (const NumpyCase& c : kNumpyCases) {
    SCOPED_TRACE(DataTypeName(c.dtype));
    std::string want = FromHex(c.hex);
    auto t = Decode(want);
    ASSERT_TRUE(t.ok());
    auto bytes = EncodeNpy(*t);
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    EXPECT_EQ(*bytes, want);
  }
}

TEST(NpyTest, ReadsFormatVersions2And3) {
  for (const char* hex : {kNumpyV2Hex, kNumpyV3Hex}) {
    auto t = Decode(FromHex(hex));
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    EXPECT_EQ(t->dtype(), DataType::kInt32);
    EXPECT_EQ(t->shape(), Shape({4}));
    EXPECT_EQ(t->ElementAsInt64(3), 3);
  }
}

TEST(NpyTest, FileRoundTripAndErrorsNameTheFile) {
  auto dir = std::filesystem::temp_directory_path() / ("tutti_npy_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / "x.npy").string();
  Tensor x = testing::RandomTensor({2, 3, 5}, 7);
  ASSERT_TRUE(WriteNpy(path, x).ok());
  auto y = ReadNpy(path);
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_EQ(testing::RelativePeakError(*y, x), 0.0);

  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 4);
  auto bad = ReadNpy(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(path), std::string::npos) << bad.status().message();

  auto missing = ReadNpy((dir / "nope.npy").string());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  auto directory = ReadNpy(dir.string());
  EXPECT_FALSE(directory.ok());
  std::filesystem::remove_all(dir);
}

TEST(NpyTest, ReadsTheModelInputsNumpyWrote) {
  std::string path = testing::TestDataDir() + "/models/resnet18.input.npy";
  TUTTI_REQUIRE_FILE(path);
  auto t = ReadNpy(path);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->dtype(), DataType::kFloat32);
  EXPECT_EQ(t->shape(), Shape({1, 3, 224, 224}));
}

// A valid file of float32[2,3] whose header text we can tamper with.
std::string WithHeader(const std::string& dict, size_t data_bytes = 24, int major = 1) {
  std::string h = dict;
  while ((10 + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  out += static_cast<char>(h.size() & 0xff);
  out += static_cast<char>(h.size() >> 8);
  if (major > 1) out += std::string(2, '\0');
  return out + h + std::string(data_bytes, '\0');
}

TEST(NpyTest, RejectsLiesAndMalformedHeaders) {
  const std::string good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  ASSERT_TRUE(Decode(WithHeader(good)).ok());
  // Data shorter or longer than promised.
  EXPECT_NE(DecodeError(WithHeader(good, 20)).find("promises float32[2,3]"), std::string::npos);
  EXPECT_NE(DecodeError(WithHeader(good, 28)).find("holds 28 bytes"), std::string::npos);
  // A header promising 4 PB over 24 bytes: an error, not an allocation.
  std::string huge = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000, 1000000), }";
  EXPECT_NE(DecodeError(WithHeader(huge)).find("truncated or lying"), std::string::npos);
  std::string overflow = "{'descr': '<f8', 'fortran_order': False, 'shape': (999999999999999, 999999999999999, "
                         "999999999999999, 999999999999999, 999999999999999), }";
  EXPECT_NE(DecodeError(WithHeader(overflow)), "");
  EXPECT_NE(DecodeError(WithHeader("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }")).find("Fortran"),
            std::string::npos);
  EXPECT_NE(DecodeError(WithHeader("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }")).find("big-endian"),
            std::string::npos);
  EXPECT_NE(DecodeError(WithHeader("{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }")).find("'<c8'"),
            std::string::npos);
  EXPECT_NE(DecodeError(WithHeader("{'descr': '|O', 'fortran_order': False, 'shape': (3,), }")), "");
  EXPECT_NE(DecodeError(WithHeader("{'descr': '<f4', 'shape': (2, 3), }")).find("must contain"), std::string::npos);
  EXPECT_NE(DecodeError(WithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}")), "");
  EXPECT_NE(DecodeError(WithHeader("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}")), "");
  EXPECT_NE(DecodeError(WithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (6)}")), "");
  EXPECT_NE(DecodeError(WithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (-6,)}")), "");
  EXPECT_NE(DecodeError(WithHeader("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,)}")), "");
  EXPECT_NE(DecodeError(WithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } junk")), "");
  EXPECT_NE(DecodeError(WithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)")), "");
  // Preamble problems.
  EXPECT_NE(DecodeError("").find("not a .npy"), std::string::npos);
  EXPECT_NE(DecodeError("\x93NUMPY").find("not a .npy"), std::string::npos);
  EXPECT_NE(DecodeError(std::string("\x93NUMPY\x09\x00\x10\x00", 10)).find("version"), std::string::npos);
  EXPECT_NE(DecodeError(std::string("\x93NUMPY\x01\x00\xff\xff{", 11)).find("truncated"), std::string::npos);
  EXPECT_NE(DecodeError(std::string("\x93NUMPY\x02\x00\xff\xff\xff\x7f", 12)).find("limit"), std::string::npos);
  // Every truncation of a valid file is an error, not a crash.
  std::string v = FromHex(kNumpyCases[0].hex);
  for (size_t n = 0; n < v.size(); ++n) EXPECT_FALSE(Decode(v.substr(0, n)).ok()) << n;
}

TEST(NpyTest, RefusesTypesNumpyLacks) {
  Tensor t = Tensor::Zeros(DataType::kBFloat16, {2}).value();
  EXPECT_FALSE(EncodeNpy(t).ok());
}

}  // namespace
}  // namespace tutti
