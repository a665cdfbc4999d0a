#include "backends/cpu/cpu_backend.h"

#include <gtest/gtest.h>

#include "support/test_support.h"

namespace tutti {
namespace {

TEST(CpuBackendTest, RunsReluAndRejectsWrongShape) {
  Graph g;
  ValueId x = g.AddInput("x", {DataType::kFloat32, ToSymbolic({2, 3})});
  ValueId y = g.AddValue("y", {DataType::kFloat32, ToSymbolic({2, 3})});
  g.AddNode("Relu", {x}, {y}, {}, "relu");
  g.AddOutput(y);
  auto backend = CreateBackend("cpu");
  ASSERT_TRUE(backend.ok());
  auto exe = (*backend)->Compile(g, {});
  ASSERT_TRUE(exe.ok()) << exe.status().ToString();
  Tensor in = Tensor::FromVector<float>({-1, 2, -3, 4, 0, -0.5f}, {2, 3});
  std::vector<Tensor> out;
  ASSERT_TRUE((*exe)->Run({&in, 1}, out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].data<float>()[1], 2.f);
  EXPECT_EQ(out[0].data<float>()[0], 0.f);

  Tensor bad = Tensor::Zeros(DataType::kFloat32, {3, 2}).value();
  Status s = (*exe)->Run({&bad, 1}, out);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("input 'x' has shape [3,2]"), std::string::npos) << s.message();
}

TEST(CpuBackendTest, UnknownDeviceIsOneLineError) {
  auto b = CreateBackend("tpu:0");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().message().find('\n'), std::string::npos);
}

}  // namespace
}  // namespace tutti
