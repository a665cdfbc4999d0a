// Whole torchvision networks with their convolutions and FC layers cut into blocks on the pinned
// core pool, against PyTorch's own outputs (scripts/export_torchvision.py writes them beside each
// model): max |a-b| / max |b| <= 1e-4, as tests/models holds the default path to.
#include <gtest/gtest.h>

#include "backends/cpu/asymmetric/topology.h"
#include "core/npy.h"
#include "runtime/session.h"
#include "support/test_support.h"

namespace tutti {
namespace {

constexpr double kTolerance = 1e-4;

struct Case {
  const char* model;
  CpuPartition mode;
};

class TorchvisionPartitionTest : public ::testing::TestWithParam<Case> {};

TEST_P(TorchvisionPartitionTest, MatchesPyTorch) {
  const std::string base = testing::TestDataDir() + "/models/" + GetParam().model;
  TUTTI_REQUIRE_FILE(base + ".onnx");
  TUTTI_REQUIRE_FILE(base + ".output.npy");
  auto input = ReadNpy(base + ".input.npy");
  ASSERT_TRUE(input.ok()) << input.status().ToString();
  auto expected = ReadNpy(base + ".output.npy");
  ASSERT_TRUE(expected.ok()) << expected.status().ToString();
  std::vector<int> cores = cpu::asymmetric::AllowedCores();
  if (cores.size() < 2) cores.push_back(cores[0]);  // two workers even on one core
  if (cores.size() > 4) cores.resize(4);
  SessionOptions options;
  options.compile.threads = static_cast<int>(cores.size());
  options.compile.cpu_cores = cores;
  options.compile.cpu_partition = GetParam().mode;
  auto session = Session::Load(base + ".onnx", options);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  auto out = (*session)->Run({&*input, 1});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ((*out)[0].shape(), expected->shape());
  EXPECT_LE(testing::RelativePeakError((*out)[0], *expected), kTolerance);
}

INSTANTIATE_TEST_SUITE_P(Models, TorchvisionPartitionTest,
                         ::testing::Values(Case{"resnet18", CpuPartition::kAsymmetric},
                                           Case{"mobilenet_v2", CpuPartition::kAsymmetric},
                                           Case{"mobilenet_v2", CpuPartition::kEqual}),
                         [](const auto& info) {
                           std::string mode = CpuPartitionName(info.param.mode);
                           return std::string(info.param.model) + "_" + mode;
                         });

}  // namespace
}  // namespace tutti
