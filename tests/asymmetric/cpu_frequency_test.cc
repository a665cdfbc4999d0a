// Energy-first mode against a fake cpufreq tree: the data-reuse rule picks the frequency, the writes
// land in the files a real kernel would read, the original caps come back, and a tree that cannot
// be written means latency-first with the same answers.
#include "backends/cpu/asymmetric/cpu_frequency.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "backends/backend.h"
#include "graph/shape_inference.h"
#include "support/test_support.h"

namespace tutti::cpu::asymmetric {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  std::string s;
  std::getline(in, s);
  return s;
}

void WriteFile(const fs::path& p, const std::string& v) {
  std::ofstream out(p);
  out << v << "\n";
}

// <tmp>/cpuN/cpufreq with an acpi-cpufreq-like table (1.2, 1.8, 2.4, 3.0 GHz).
class FakeSysfs {
 public:
  explicit FakeSysfs(const std::string& governor = "schedutil", bool table = true) {
    root_ = fs::temp_directory_path() / ("tutti_fake_cpufreq_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    for (int c = 0; c < 2; ++c) {
      const fs::path d = dir(c);
      fs::create_directories(d);
      WriteFile(d / "cpuinfo_min_freq", "1200000");
      WriteFile(d / "cpuinfo_max_freq", "3000000");
      if (table) WriteFile(d / "scaling_available_frequencies", "3000000 2400000 1800000 1200000 ");
      WriteFile(d / "scaling_governor", governor);
      WriteFile(d / "scaling_max_freq", "3000000");
      WriteFile(d / "scaling_setspeed", governor == "userspace" ? "2400000" : "<unsupported>");
    }
  }
  ~FakeSysfs() { fs::remove_all(root_); }
  std::string root() const { return root_.string(); }
  fs::path dir(int core) const { return root_ / ("cpu" + std::to_string(core)) / "cpufreq"; }

 private:
  static inline int counter_ = 0;
  fs::path root_;
};

TEST(DataReuseTest, TheSeedsFormula) {
  // Square products: 2n^3 / 4n^2 = n/2; GEMV (M = 1) never reaches 2.
  for (double n : {8.0, 64.0, 1024.0}) EXPECT_DOUBLE_EQ(DataReuse(n, n, n), n / 2);
  for (double n : {16.0, 1000.0, 4096.0})
    for (double k : {64.0, 4096.0, 25088.0}) EXPECT_LT(DataReuse(1, n, k), 2.0);
  EXPECT_EQ(DataReuse(0, 10, 10), 0.0);
}

TEST(DataReuseTest, ConvolutionsAreComputeBoundAndBatchOneFcIsNot) {
  Graph g;
  const ValueId x = g.AddInput("x", {DataType::kFloat32, ToSymbolic(Shape{1, 64, 56, 56})});
  const ValueId w = g.AddConstant("w", testing::RandomTensor({64, 64, 3, 3}, 1));
  const ValueId y = g.AddValue("y");
  g.AddNode("Conv", {x, w}, {y}, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}});
  const ValueId f = g.AddInput("f", {DataType::kFloat32, ToSymbolic(Shape{1, 4096})});
  const ValueId fw = g.AddConstant("fw", testing::RandomTensor({1000, 4096}, 2));
  const ValueId fy = g.AddValue("fy");
  g.AddNode("Gemm", {f, fw}, {fy}, {{"transB", int64_t{1}}});
  const ValueId r = g.AddValue("r");
  g.AddNode("Relu", {fy}, {r});
  g.AddOutput(y);
  g.AddOutput(r);
  ASSERT_TRUE(InferShapes(g).ok());
  const EnergyPolicy policy;
  EXPECT_GE(OperatorDataReuse(g, g.node(0)), policy.compute_bound_reuse);
  EXPECT_GE(OperatorDataReuse(g, g.node(1)), 0.0);
  EXPECT_LT(OperatorDataReuse(g, g.node(1)), policy.compute_bound_reuse);
  EXPECT_LT(OperatorDataReuse(g, g.node(2)), 0.0);  // not a matrix product
}

TEST(CpuFrequencyTest, ChoosesFromTheTableAndWritesTheCaps) {
  FakeSysfs sys;
  {
    auto c = CpuFrequencyController::Open(sys.root(), {0, 1});
    ASSERT_TRUE(c->can_set()) << c->reason();
    EXPECT_EQ(c->max_khz(), 3000000);
    EXPECT_EQ(c->FrequencyFor(1000), 3000000);  // compute-bound
    EXPECT_EQ(c->FrequencyFor(-1), 3000000);    // unknown: latency first
    const int64_t low = c->FrequencyFor(1.5);   // memory-bound: lowest table entry >= 60% of max
    EXPECT_EQ(low, 1800000);
    ASSERT_TRUE(c->Apply(low).ok());
    for (int core : {0, 1}) EXPECT_EQ(ReadFile(sys.dir(core) / "scaling_max_freq"), "1800000");
    EXPECT_EQ(ReadFile(sys.dir(0) / "scaling_setspeed"), "<unsupported>");  // not userspace: untouched
    EXPECT_EQ(c->current_khz(), 1800000);
  }
  for (int core : {0, 1}) EXPECT_EQ(ReadFile(sys.dir(core) / "scaling_max_freq"), "3000000") << "restored";
}

TEST(CpuFrequencyTest, UserspaceGovernorAlsoGetsTheSpeedAndWithoutATableAnyValueInRange) {
  FakeSysfs sys("userspace", /*table=*/false);
  {
    auto c = CpuFrequencyController::Open(sys.root(), {1});
    ASSERT_TRUE(c->can_set()) << c->reason();
    const int64_t low = c->FrequencyFor(0.9);
    EXPECT_EQ(low, 1800000);  // 0.6 x 3.0 GHz, inside [min, max]
    ASSERT_TRUE(c->Apply(low).ok());
    EXPECT_EQ(ReadFile(sys.dir(1) / "scaling_setspeed"), "1800000");
    EXPECT_EQ(ReadFile(sys.dir(1) / "scaling_max_freq"), "1800000");
    EXPECT_EQ(ReadFile(sys.dir(0) / "scaling_max_freq"), "3000000") << "core 0 is not this controller's";
  }
  EXPECT_EQ(ReadFile(sys.dir(1) / "scaling_setspeed"), "2400000");
}

TEST(CpuFrequencyTest, TreesThatCannotBeSetSayWhy) {
  auto none = CpuFrequencyController::Open("/nonexistent/cpu", {0});
  EXPECT_FALSE(none->can_set());
  EXPECT_NE(none->reason().find("/nonexistent/cpu/cpu0/cpufreq"), std::string::npos) << none->reason();
  EXPECT_FALSE(none->Apply(1000).ok());

  FakeSysfs sys;
  // A scaling_max_freq that cannot be opened for writing (a directory: works even as root).
  fs::remove(sys.dir(1) / "scaling_max_freq");
  fs::create_directory(sys.dir(1) / "scaling_max_freq");
  auto ro = CpuFrequencyController::Open(sys.root(), {0, 1});
  EXPECT_FALSE(ro->can_set());
  EXPECT_NE(ro->reason().find("scaling_max_freq"), std::string::npos) << ro->reason();
}

// Conv (compute-bound) then a batch-1 FC (memory-bound), compiled in energy-first mode.
struct ConvThenFc {
  Graph g;
  std::vector<Tensor> feeds;
  ConvThenFc() {
    const ValueId x = g.AddInput("x", {DataType::kFloat32, ToSymbolic(Shape{1, 16, 12, 12})});
    feeds.push_back(testing::RandomTensor({1, 16, 12, 12}, 3));
    const ValueId w = g.AddConstant("w", testing::RandomTensor({32, 16, 3, 3}, 4));
    const ValueId c = g.AddValue("c");
    g.AddNode("Conv", {x, w}, {c}, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}});
    const ValueId flat = g.AddValue("flat");
    g.AddNode("Flatten", {c}, {flat});
    const ValueId fw = g.AddConstant("fw", testing::RandomTensor({100, 32 * 12 * 12}, 5));
    const ValueId y = g.AddValue("y");
    g.AddNode("Gemm", {flat, fw}, {y}, {{"transB", int64_t{1}}});
    g.AddOutput(y);
    EXPECT_TRUE(InferShapes(g).ok());
  }
  Result<std::vector<Tensor>> Run(const std::string& root, bool energy, std::string* cap_after_run = nullptr) {
    TUTTI_ASSIGN_OR_RETURN(auto backend, CreateBackend("cpu"));
    CompileOptions o;
    o.threads = 2;
    o.cpu_cores = {0, 1};
    o.cpu_partition = CpuPartition::kOneDnn;
    o.cpu_energy_first = energy;
    o.cpufreq_root = root;
    TUTTI_ASSIGN_OR_RETURN(auto exe, backend->Compile(g, o));
    std::vector<Tensor> out;
    TUTTI_RETURN_IF_ERROR(exe->Run(feeds, out));
    if (cap_after_run) *cap_after_run = ReadFile(fs::path(root) / "cpu0" / "cpufreq" / "scaling_max_freq");
    return out;
  }
};

TEST(CpuFrequencyTest, EnergyFirstExecutableSetsPerOperatorFrequencies) {
  FakeSysfs sys;
  ConvThenFc model;
  std::string cap;
  auto energy = model.Run(sys.root(), true, &cap);
  ASSERT_TRUE(energy.ok()) << energy.status().ToString();
  EXPECT_EQ(cap, "1800000") << "the last operator, a batch-1 FC, runs at the memory-bound frequency";
  EXPECT_EQ(ReadFile(sys.dir(0) / "scaling_max_freq"), "3000000") << "caps restored with the executable";
  auto latency = model.Run(sys.root(), false);
  ASSERT_TRUE(latency.ok());
  EXPECT_LE(testing::RelativePeakError((*energy)[0], (*latency)[0]), 1e-6);
}

TEST(CpuFrequencyTest, UnsettableFrequenciesRunLatencyFirst) {
  ConvThenFc model;
  auto energy = model.Run("/nonexistent/cpu", true);
  ASSERT_TRUE(energy.ok()) << energy.status().ToString();
  auto latency = model.Run("/nonexistent/cpu", false);
  ASSERT_TRUE(latency.ok());
  EXPECT_LE(testing::RelativePeakError((*energy)[0], (*latency)[0]), 1e-6);
}

}  // namespace
}  // namespace tutti::cpu::asymmetric
