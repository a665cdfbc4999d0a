// Test-only CPU kernels in the "tutti.test" domain (see test_graphs.h), registered into this test
// binary, plus a check that they compute what they claim against a naive loop.
#include <gtest/gtest.h>

#include <chrono>

#include "backends/cpu/kernel.h"
#include "runtime/session.h"
#include "support/test_support.h"
#include "test_graphs.h"

namespace tutti::cpu {
namespace {

class AddScalarKernel final : public CpuKernel {
 public:
  AddScalarKernel(float value, int64_t spin_us) : value_(value), spin_us_(spin_us) {}
  Status Run(KernelContext& ctx) override {
    if (spin_us_ > 0) {
      auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(spin_us_);
      while (std::chrono::steady_clock::now() < until) {
      }
    }
    const Tensor* x = ctx.input(0);
    TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, x->shape(), x->dtype()));
    for (int64_t i = 0; i < x->num_elements(); ++i) y->data<float>()[i] = x->data<float>()[i] + value_;
    return Status::Ok();
  }

 private:
  float value_;
  int64_t spin_us_;
};

Result<std::unique_ptr<CpuKernel>> MakeAddScalar(const KernelBuildInfo& info) {
  return std::unique_ptr<CpuKernel>(new AddScalarKernel(info.node.GetFloat("value", 0), info.node.GetInt("us", 0)));
}

TUTTI_REGISTER_CPU_KERNEL("AddScalar", "tutti.test", MakeAddScalar, nullptr);
TUTTI_REGISTER_CPU_KERNEL("SpinAdd", "tutti.test", MakeAddScalar, nullptr);

TEST(TestKernels, AddScalarAndSpinAddMatchNaiveLoop) {
  Graph g = testing::ChainGraph({"AddScalar:1.5", "Relu", "SpinAdd:100:-0.25"});
  auto s = Session::FromGraph(g);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  Tensor x = testing::RandomTensor({2, 16}, 7);
  auto out = (*s)->Run(std::vector<Tensor>{x});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  for (int64_t i = 0; i < x.num_elements(); ++i) {
    float want = std::max(x.data<float>()[i] + 1.5f, 0.f) - 0.25f;
    EXPECT_EQ((*out)[0].data<float>()[i], want);
  }
}

}  // namespace
}  // namespace tutti::cpu
