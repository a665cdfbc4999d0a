// The block cost model: least-squares fit, persistence, and the block-size choice it directs.
#include "backends/cpu/asymmetric/block_cost_model.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

namespace tutti::cpu::asymmetric {
namespace {

// Samples drawn from a known linear model with multiplicative noise: the fit must recover it.
std::vector<BlockSample> SamplesOf(const BlockCostModel& truth, double noise, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> jitter(1 - noise, 1 + noise);
  std::vector<BlockSample> out;
  for (int m : {1, 7, 49, 196, 784})
    for (int n : {16, 48, 128, 512})
      for (int k : {27, 256, 1152, 4608}) {
        BlockSample s;
        s.shape = {double(m) * k, double(k) * n, double(m) * n, 2.0 * m * n * k};
        s.seconds = truth.PredictSeconds(s.shape) * jitter(rng);
        out.push_back(s);
      }
  return out;
}

TEST(BlockCostModelTest, FitRecoversTheGeneratingModel) {
  const BlockCostModel truth({3e-6, 1e-9, 0.4e-9, 2e-9, 1.0 / 55e9});
  auto fit = BlockCostModel::Fit(SamplesOf(truth, 0.0, 1));
  ASSERT_TRUE(fit.ok()) << fit.status().ToString();
  for (size_t i = 0; i < BlockCostModel::kFeatures; ++i)
    EXPECT_NEAR(fit->coefficients()[i], truth.coefficients()[i], 1e-3 * truth.coefficients()[i]) << "coefficient " << i;
  EXPECT_LT(fit->mean_rel_error(), 1e-6);
}

TEST(BlockCostModelTest, NoisySamplesGiveSmallRelativeErrorAndNoNegativeCoefficient) {
  const BlockCostModel truth({5e-6, 0.0, 1e-9, 0.0, 1.0 / 30e9});  // two terms truly absent
  const auto samples = SamplesOf(truth, 0.2, 2);
  auto fit = BlockCostModel::Fit(samples);
  ASSERT_TRUE(fit.ok()) << fit.status().ToString();
  for (double c : fit->coefficients()) EXPECT_GE(c, 0.0);
  EXPECT_LT(fit->MeanRelativeError(samples), 0.15);
  // Held-out shapes (a different noise draw) predicted as well as the training ones.
  EXPECT_LT(fit->MeanRelativeError(SamplesOf(truth, 0.2, 3)), 0.15);
}

TEST(BlockCostModelTest, TooFewSamplesIsAnError) {
  std::vector<BlockSample> few(3, BlockSample{{1, 1, 1, 2}, 1e-6});
  auto fit = BlockCostModel::Fit(few);
  ASSERT_FALSE(fit.ok());
  EXPECT_NE(fit.status().message().find("samples"), std::string::npos);
}

TEST(BlockCostModelTest, CalibrationOnThisMachineFitsItsOwnMeasurements) {
  const auto samples = MeasureBlockSamples(0.2);
  ASSERT_GE(samples.size(), BlockCostModel::kFeatures);
  for (const BlockSample& s : samples) EXPECT_GT(s.seconds, 0);
  auto fit = BlockCostModel::Fit(samples);
  ASSERT_TRUE(fit.ok()) << fit.status().ToString();
  // More work, more time: a block with 4x the flops and operands is predicted slower.
  const BlockShape small{784.0 * 576, 576.0 * 64, 784.0 * 64, 2.0 * 784 * 64 * 576};
  const BlockShape big{small.input_elems, small.filter_elems * 4, small.output_elems * 4, small.flops * 4};
  EXPECT_GT(fit->PredictSeconds(big), fit->PredictSeconds(small));
  // The fit is at least as good on its samples as the built-in default (it minimises that error).
  EXPECT_LE(fit->MeanRelativeError(samples), BlockCostModel::Default().MeanRelativeError(samples) + 1e-9);
}

TEST(BlockCostModelTest, SaveLoadRoundTrip) {
  const BlockCostModel m({1e-6, 2e-10, 3e-10, 4e-10, 5e-11}, 42, 0.07);
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("tutti_cost_model_" + std::to_string(::getpid()) + "/m.json")).string();
  ASSERT_TRUE(m.Save(path).ok());
  auto back = BlockCostModel::Load(path);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->coefficients(), m.coefficients());
  EXPECT_EQ(back->samples(), 42);
  EXPECT_DOUBLE_EQ(back->mean_rel_error(), 0.07);
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}

TEST(BlockCostModelTest, BadFilesAreOneLineErrorsNamingTheField) {
  EXPECT_FALSE(BlockCostModel::Load("/nonexistent/dir/m.json").ok());
  auto not_json = BlockCostModel::FromJson("{{");
  ASSERT_FALSE(not_json.ok());
  const std::string head =
      R"({"format": "tutti-asymo-cost-model", "version": 1,
          "features": ["bias", "input_elems", "filter_elems", "output_elems", "flops"], )";
  auto short_coef = BlockCostModel::FromJson(head + R"("coefficients_s": [1, 2]})");
  ASSERT_FALSE(short_coef.ok());
  EXPECT_NE(short_coef.status().message().find("coefficients_s"), std::string::npos);
  auto negative = BlockCostModel::FromJson(head + R"("coefficients_s": [1, 2, -3, 4, 5]})");
  ASSERT_FALSE(negative.ok());
  EXPECT_NE(negative.status().message().find("coefficients_s[2]"), std::string::npos);
  auto wrong_format = BlockCostModel::FromJson(R"({"format": "x", "version": 1})");
  ASSERT_FALSE(wrong_format.ok());
  EXPECT_NE(wrong_format.status().message().find("format"), std::string::npos);
  auto wrong_features = BlockCostModel::FromJson(
      R"({"format": "tutti-asymo-cost-model", "version": 1, "features": ["a"], "coefficients_s": [1,1,1,1,1]})");
  ASSERT_FALSE(wrong_features.ok());
  EXPECT_NE(wrong_features.status().message().find("features"), std::string::npos);
}

// A conv block of `oc` output channels of a 3x3 conv on a 256x14x14 map.
BlockShape ConvBlock(int64_t oc) {
  const double c = 256, hw = 14 * 14, k = c * 9;
  return {c * hw, double(oc) * k, double(oc) * hw, 2.0 * double(oc) * hw * k};
}

TEST(BlockCostModelTest, BlockExtentIsAGranuleMultipleWithinTheExtent) {
  const BlockCostModel m = BlockCostModel::Default();
  for (int64_t extent : {1, 5, 16, 17, 100, 256, 1000, 4096})
    for (size_t cores : {1u, 2u, 3u, 8u, 16u}) {
      const int64_t b = ChooseBlockExtent(m, extent, 16, ConvBlock, std::vector<double>(cores, 1.0));
      EXPECT_GE(b, 1);
      EXPECT_LE(b, extent);
      if (b < extent) {
        EXPECT_EQ(b % 16, 0) << "extent " << extent << " cores " << cores;
        EXPECT_LE((extent + b - 1) / b, 16 * static_cast<int64_t>(cores));
      }
      if (cores == 1 || extent <= 16) {
        EXPECT_EQ(b, extent);  // nothing to balance, or below one granule
      }
    }
}

TEST(BlockCostModelTest, MoreCoresNeverGetBiggerBlocksAndOverheadMakesBlocksBigger) {
  const BlockCostModel m = BlockCostModel::Default();
  int64_t prev = 1 << 30;
  for (size_t cores : {2u, 4u, 8u, 16u}) {
    const int64_t b = ChooseBlockExtent(m, 512, 16, ConvBlock, std::vector<double>(cores, 1.0));
    EXPECT_LE(b, prev) << cores << " cores";
    EXPECT_LT(b, 512) << "512 channels on " << cores << " cores should be split";
    prev = b;
  }
  // A model where every block costs a millisecond of fixed overhead prefers few, large blocks.
  auto c = m.coefficients();
  c[0] = 1e-3;
  const BlockCostModel costly(c);
  EXPECT_GE(ChooseBlockExtent(costly, 512, 16, ConvBlock, std::vector<double>(4, 1.0)),
            ChooseBlockExtent(m, 512, 16, ConvBlock, std::vector<double>(4, 1.0)));
}

TEST(BlockCostModelTest, ChosenExtentMinimisesThePredictedMakespan) {
  // The choice against every other legal extent, scored by the makespan the header defines.
  const BlockCostModel m = BlockCostModel::Default();
  const std::vector<double> speeds = {1.0, 1.0, 0.5};
  const double sum = 2.5, mean = sum / 3;
  auto makespan = [&](int64_t extent, int64_t b) {
    const double tb = m.PredictSeconds(ConvBlock(b));
    const double rest = extent % b ? m.PredictSeconds(ConvBlock(extent % b)) : 0;
    return (static_cast<double>(extent / b) * tb + rest) / sum + tb / mean;
  };
  for (int64_t extent : {64, 200, 512}) {
    const int64_t chosen = ChooseBlockExtent(m, extent, 16, ConvBlock, speeds);
    for (int64_t b = 16; b <= extent; b += 16)
      if ((extent + b - 1) / b <= 48) {
        EXPECT_LE(makespan(extent, chosen), makespan(extent, b) * (1 + 1e-9)) << b;
      }
  }
}

}  // namespace
}  // namespace tutti::cpu::asymmetric
