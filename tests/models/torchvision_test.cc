// The ten seed networks, exported from torchvision, against PyTorch's own outputs (written beside
// each model by scripts/export_torchvision.py): max |a-b| / max |b| <= 1e-4 in float32, at the batch
// they were exported with, one run each (the suite must stay fast on a 2-core CI machine).
//
// A model whose operators the CPU backend does not all have yet skips, naming the first missing one
// (Session::Load reports it as Unimplemented); any other failure -- loading, compiling, running,
// or a wrong answer -- fails. TUTTI_TEST_MODELS_MAX_MB skips models larger than that (the sanitizer
// runs use it: VGG under ASan takes minutes and the release run already checks it).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "core/npy.h"
#include "runtime/session.h"
#include "support/test_support.h"

namespace tutti {
namespace {

constexpr double kTolerance = 1e-4;

class TorchvisionTest : public ::testing::TestWithParam<const char*> {};

TEST_P(TorchvisionTest, MatchesPyTorch) {
  const std::string base = testing::TestDataDir() + "/models/" + GetParam();
  TUTTI_REQUIRE_FILE(base + ".onnx");
  TUTTI_REQUIRE_FILE(base + ".input.npy");
  TUTTI_REQUIRE_FILE(base + ".output.npy");
  if (const char* max_mb = std::getenv("TUTTI_TEST_MODELS_MAX_MB")) {
    const auto size_mb = std::filesystem::file_size(base + ".onnx") >> 20;
    if (size_mb > std::strtoull(max_mb, nullptr, 10))
      GTEST_SKIP() << GetParam() << " is " << size_mb << " MB > TUTTI_TEST_MODELS_MAX_MB=" << max_mb;
  }
  auto input = ReadNpy(base + ".input.npy");
  ASSERT_TRUE(input.ok()) << input.status().ToString();
  auto expected = ReadNpy(base + ".output.npy");
  ASSERT_TRUE(expected.ok()) << expected.status().ToString();

  SessionOptions options;
  options.compile.threads = 2;
  auto session = Session::Load(base + ".onnx", options);
  if (!session.ok() && session.status().code() == StatusCode::kUnimplemented)
    GTEST_SKIP() << "the cpu backend cannot run " << GetParam() << " yet: " << session.status().message();
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  ASSERT_EQ((*session)->input_specs().size(), 1u);
  ASSERT_EQ((*session)->output_specs().size(), 1u);

  auto out = (*session)->Run({&*input, 1});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->size(), 1u);
  ASSERT_EQ((*out)[0].shape(), expected->shape());
  const double err = testing::RelativePeakError((*out)[0], *expected);
  RecordProperty("max_rel_error", std::to_string(err));
  EXPECT_LE(err, kTolerance) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Seeds, TorchvisionTest,
                         ::testing::Values("squeezenet1_0", "squeezenet1_1", "mobilenet_v2", "resnet18", "resnet34",
                                           "resnet50", "inception_v3", "densenet121", "vgg16", "vgg19"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace tutti
