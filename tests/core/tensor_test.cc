#include "core/tensor.h"

#include <gtest/gtest.h>

#include <cmath>

namespace tutti {
namespace {

TEST(TensorTest, AllocateRejectsNegativeAndHugeShapes) {
  EXPECT_FALSE(Tensor::Allocate(DataType::kFloat32, {2, -1}).ok());
  auto huge = Tensor::Allocate(DataType::kFloat32, {1 << 20, 1 << 20, 1 << 20});
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.status().code(), StatusCode::kOutOfMemory);
}

TEST(TensorTest, SliceOuterSharesStorage) {
  Tensor t = Tensor::Zeros(DataType::kFloat32, {4, 3}).value();
  Tensor rows = t.SliceOuter(1, 3);
  EXPECT_EQ(rows.shape(), (Shape{2, 3}));
  rows.data<float>()[0] = 7.f;
  EXPECT_EQ(t.data<float>()[3], 7.f);
}

TEST(TensorTest, HalfRoundTripMatchesIeee) {
  // Values exactly representable in half precision survive the round trip; 65504 is half's max.
  for (float f : {0.f, -0.f, 1.f, -2.5f, 0.000061035156f, 65504.f, 0.33325195f})
    EXPECT_EQ(HalfToFloat(FloatToHalf(f)), f) << f;
  EXPECT_TRUE(std::isinf(HalfToFloat(FloatToHalf(1e6f))));
  EXPECT_EQ(FloatToHalf(1.0f), 0x3c00);
}

TEST(TensorTest, CastTruncatesTowardZeroLikeOnnx) {
  Tensor f = Tensor::FromVector<float>({1.7f, -1.7f, 0.f});
  Tensor i = CastTensor(f, DataType::kInt64).value();
  EXPECT_EQ(i.ToInt64Vector(), (std::vector<int64_t>{1, -1, 0}));
  Tensor b = CastTensor(f, DataType::kBool).value();
  EXPECT_TRUE(b.data<bool>()[0]);
  EXPECT_FALSE(b.data<bool>()[2]);
}

TEST(StatusTest, ContextPrefixesMessage) {
  Status s = InvalidArgument("bad shape").WithContext("node 'conv1'");
  EXPECT_EQ(s.message(), "node 'conv1': bad shape");
  EXPECT_TRUE(Status::Ok().WithContext("x").ok());
  Result<int> r = NotFound("nope");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace tutti
