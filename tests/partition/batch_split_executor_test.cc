// Running one batch across two CPU processors (one core each) on real torchvision models (issue 5):
// the split output equals the single-processor run of the same batch for uneven splits, shares of
// one item and batches that are not powers of two; a share whose processor fails is re-run on the
// other; tables persist in the profile file. Small models and batches keep this fast.
#include <gtest/gtest.h>

#include <filesystem>

#include "model/onnx_loader.h"
#include "partition/batch_split_executor.h"
#include "runtime/session.h"
#include "support/test_support.h"

namespace tutti {
namespace {

constexpr double kTolerance = 1e-4;

std::vector<ProcessorSpec> TwoCpuProcessors() {
  std::vector<int> cores = AllowedCpuCores();
  std::vector<ProcessorSpec> specs(2);
  for (int i = 0; i < 2; ++i) {
    specs[static_cast<size_t>(i)].name = "cpu" + std::to_string(i);
    specs[static_cast<size_t>(i)].cpu_cores = {cores[static_cast<size_t>(i) % cores.size()]};
    specs[static_cast<size_t>(i)].threads = 1;
  }
  return specs;
}

std::string ModelPath(const std::string& name) { return testing::TestDataDir() + "/models/" + name + ".onnx"; }

class BatchSplitRun : public ::testing::Test {
 protected:
  // One executor per model, profiled up to batch 3 with one timed run per size (shares are sized
  // from these tables; accuracy does not depend on them).
  void Open(const std::string& model, BatchSplitOptions options = {}) {
    path_ = ModelPath(model);
    auto graph = LoadOnnxModel(path_);
    ASSERT_TRUE(graph.ok()) << graph.status().ToString();
    options.profiler = {0, 1};
    auto x = BatchSplitExecutor::Create(std::move(graph).value(), TwoCpuProcessors(), options);
    ASSERT_TRUE(x.ok()) << x.status().ToString();
    executor_ = std::move(x).value();
    ASSERT_TRUE(executor_->Profile(3).ok());
    SessionOptions so;
    so.compile.threads = 1;
    auto s = Session::Load(path_, so);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    reference_ = std::move(s).value();
  }

  // Splits a random batch of `batch` per `request` and compares with the single-processor run.
  BatchSplitResult ExpectMatchesSingle(int64_t batch, const BatchSplitRequest& request) {
    Tensor x = testing::RandomTensor({batch, 3, 224, 224}, static_cast<uint32_t>(batch));
    auto expected = reference_->Run({&x, 1});
    EXPECT_TRUE(expected.ok()) << expected.status().ToString();
    auto r = executor_->Run({&x, 1}, request);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok() || !expected.ok()) return {};
    EXPECT_EQ(r->outputs.size(), expected->size());
    for (size_t i = 0; i < r->outputs.size() && i < expected->size(); ++i) {
      EXPECT_EQ(r->outputs[i].shape(), (*expected)[i].shape());
      EXPECT_LE(testing::RelativePeakError(r->outputs[i], (*expected)[i]), kTolerance) << "batch " << batch;
    }
    int64_t covered = 0;
    for (const BatchShare& s : r->plan.shares) covered += s.items;
    EXPECT_EQ(covered, batch);
    return std::move(r).value();
  }

  std::string path_;
  std::unique_ptr<BatchSplitExecutor> executor_;
  std::unique_ptr<Session> reference_;
};

TEST_F(BatchSplitRun, SqueezenetUnevenSplitsAndSharesOfOne) {
  TUTTI_REQUIRE_FILE(ModelPath("squeezenet1_1"));
  Open("squeezenet1_1");
  for (std::vector<int64_t> shares : {std::vector<int64_t>{4, 1}, {1, 4}, {2, 3}, {1, 1}}) {
    BatchSplitRequest request;
    request.shares = shares;
    BatchSplitResult r = ExpectMatchesSingle(shares[0] + shares[1], request);
    ASSERT_EQ(r.plan.shares.size(), 2u);
    EXPECT_EQ(r.plan.shares[0].items, shares[0]);
    EXPECT_TRUE(r.in_place) << "shares should land in the output tensor without a gather copy";
    EXPECT_EQ(r.measured_us.size(), 2u);
  }
}

TEST_F(BatchSplitRun, SqueezenetPlannedNonPowerOfTwoBatches) {
  TUTTI_REQUIRE_FILE(ModelPath("squeezenet1_1"));
  Open("squeezenet1_1");
  ExpectMatchesSingle(3, {BatchSplitSearch::kGreedy, {}});
  ExpectMatchesSingle(7, {BatchSplitSearch::kExact, {}});  // beyond the profiled sizes: extrapolated
}

TEST_F(BatchSplitRun, MobilenetUnevenSplit) {
  TUTTI_REQUIRE_FILE(ModelPath("mobilenet_v2"));
  Open("mobilenet_v2");
  BatchSplitRequest request;
  request.shares = {2, 1};
  ExpectMatchesSingle(3, request);
}

TEST_F(BatchSplitRun, AFailedShareIsRerunOnTheOtherProcessor) {
  TUTTI_REQUIRE_FILE(ModelPath("squeezenet1_1"));
  Open("squeezenet1_1");
  executor_->InjectFailure(1, DeviceError("injected: device lost"));
  BatchSplitRequest request;
  request.shares = {2, 2};
  BatchSplitResult r = ExpectMatchesSingle(4, request);
  EXPECT_EQ(r.reruns, 1);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_NE(r.failures[0].find("cpu1: injected"), std::string::npos);
  // With every processor failing the request fails, naming why, instead of hanging.
  executor_->InjectFailure(0, DeviceError("injected too"));
  Tensor x = testing::RandomTensor({2, 3, 224, 224});
  auto failed = executor_->Run({&x, 1});
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("could not be re-run"), std::string::npos) << failed.status().message();
}

TEST_F(BatchSplitRun, BadInputsAndPlansAreErrors) {
  TUTTI_REQUIRE_FILE(ModelPath("squeezenet1_1"));
  Open("squeezenet1_1");
  Tensor wrong = testing::RandomTensor({2, 3, 200, 200});
  auto r = executor_->Run({&wrong, 1});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  Tensor x = testing::RandomTensor({3, 3, 224, 224});
  BatchSplitRequest request;
  request.shares = {1, 1};  // covers 2 of 3
  EXPECT_FALSE(executor_->Run({&x, 1}, request).ok());
}

TEST(BatchSplitProfile, TablesArePersistedAndReused) {
  TUTTI_REQUIRE_FILE(ModelPath("squeezenet1_1"));
  const std::string file = (std::filesystem::temp_directory_path() / "tutti_batch_split_executor_test.json").string();
  std::filesystem::remove(file);
  BatchSplitOptions options;
  options.profile_file = file;
  options.profiler = {0, 1};
  BatchProfileTable first;
  {
    auto graph = LoadOnnxModel(ModelPath("squeezenet1_1"));
    ASSERT_TRUE(graph.ok());
    auto x = BatchSplitExecutor::Create(std::move(graph).value(), TwoCpuProcessors(), options);
    ASSERT_TRUE(x.ok()) << x.status().ToString();
    ASSERT_TRUE((*x)->Profile(2).ok());
    first = (*x)->table(0);
    EXPECT_EQ(first.points().size(), 2u);  // batch 1 and 2
  }
  auto store = ProfileStore::Load(file);
  ASSERT_TRUE(store.ok());
  EXPECT_GE(store->size(), 4u);  // two sizes on two processors
  auto graph = LoadOnnxModel(ModelPath("squeezenet1_1"));
  ASSERT_TRUE(graph.ok());
  auto x = BatchSplitExecutor::Create(std::move(graph).value(), TwoCpuProcessors(), options);
  ASSERT_TRUE(x.ok());
  ASSERT_TRUE((*x)->Profile(2).ok());
  EXPECT_EQ((*x)->table(0).points(), first.points());  // read back, not measured again
  std::filesystem::remove(file);
}

}  // namespace
}  // namespace tutti
