// The heavy operators cut into blocks on the pinned core pool give oneDNN's whole-operator answer,
// in every partition mode: odd sizes, sizes smaller than a block, grouped and depthwise convolutions,
// batches, fused activations and residual sums, and more workers than blocks. Runs under TSan in CI.
#include <gtest/gtest.h>

#include <cstdlib>

#include "backends/backend.h"
#include "backends/cpu/asymmetric/block_partition.h"
#include "backends/cpu/asymmetric/core_pool_registry.h"
#include "backends/cpu/asymmetric/topology.h"
#include "graph/shape_inference.h"
#include "support/test_support.h"

namespace tutti {
namespace {

using cpu::asymmetric::AllowedCores;
using cpu::asymmetric::SharedCorePool;

// Float32 sums in another order (blocks vs one primitive, one thread vs several): relative to the
// output's peak, differences stay at a few ulps of the largest partial sums.
constexpr double kTolerance = 1e-5;

// The shapes here are small: with no fixed cost per block to amortise, the asymmetric partition
// cuts them too (block_partition.h), so its cut is exercised like the other modes'. Set before main,
// before any thread reads the environment.
const bool kCutSmallShapes = setenv("TUTTI_ASYMO_BLOCK_OVERHEAD_US", "0", 1) == 0;

struct Model {
  Graph graph;
  std::vector<Tensor> feeds;
};

// The pool's cores for a test: the first two allowed cores, `workers` times round-robin.
std::vector<int> TestCores(size_t workers) {
  std::vector<int> allowed = AllowedCores();
  if (allowed.size() > 2) allowed.resize(2);
  std::vector<int> cores;
  for (size_t i = 0; i < workers; ++i) cores.push_back(allowed[i % allowed.size()]);
  return cores;
}

Result<std::vector<Tensor>> RunModel(const Model& m, CpuPartition mode, const std::vector<int>& cores) {
  TUTTI_ASSIGN_OR_RETURN(auto backend, CreateBackend("cpu"));
  CompileOptions o;
  o.threads = static_cast<int>(cores.size());
  o.cpu_cores = cores;
  o.cpu_partition = mode;
  TUTTI_ASSIGN_OR_RETURN(auto exe, backend->Compile(m.graph, o));
  std::vector<Tensor> out;
  TUTTI_RETURN_IF_ERROR(exe->Run(m.feeds, out));
  return out;
}

struct ConvCase {
  const char* name;
  int64_t n, c, h, w, oc, k, stride, pad, group;
  bool relu, residual;
  bool expect_cut;  // whether the convolution is big enough to be cut
};

Model ConvModel(const ConvCase& p) {
  Model m;
  Graph& g = m.graph;
  const Shape xs = {p.n, p.c, p.h, p.w};
  const ValueId x = g.AddInput("x", {DataType::kFloat32, ToSymbolic(xs)});
  m.feeds.push_back(testing::RandomTensor(xs, 11));
  const ValueId w = g.AddConstant("w", testing::RandomTensor({p.oc, p.c / p.group, p.k, p.k}, 12));
  const ValueId b = g.AddConstant("b", testing::RandomTensor({p.oc}, 13));
  ValueId y = g.AddValue("conv");
  g.AddNode("Conv", {x, w, b}, {y},
            {{"kernel_shape", std::vector<int64_t>{p.k, p.k}}, {"strides", std::vector<int64_t>{p.stride, p.stride}},
             {"pads", std::vector<int64_t>{p.pad, p.pad, p.pad, p.pad}}, {"group", p.group}});
  if (p.residual) {
    const int64_t oh = (p.h + 2 * p.pad - p.k) / p.stride + 1, ow = (p.w + 2 * p.pad - p.k) / p.stride + 1;
    const Shape rs = {p.n, p.oc, oh, ow};
    const ValueId r = g.AddInput("r", {DataType::kFloat32, ToSymbolic(rs)});
    m.feeds.push_back(testing::RandomTensor(rs, 14));
    const ValueId sum = g.AddValue("sum");
    g.AddNode("Add", {y, r}, {sum});
    y = sum;
  }
  if (p.relu) {
    const ValueId a = g.AddValue("relu");
    g.AddNode("Relu", {y}, {a});
    y = a;
  }
  g.AddOutput(y);
  EXPECT_TRUE(InferShapes(g).ok());
  return m;
}

class ConvPartitionTest : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvPartitionTest, EveryModeMatchesTheWholeOperator) {
  const ConvCase& p = GetParam();
  const Model m = ConvModel(p);
  const std::vector<int> cores = TestCores(2);
  auto pool = SharedCorePool(cores);
  ASSERT_TRUE(pool.ok()) << pool.status().ToString();
  auto reference = RunModel(m, CpuPartition::kOneDnn, cores);
  ASSERT_TRUE(reference.ok()) << reference.status().ToString();
  std::vector<Tensor> equal;
  for (CpuPartition mode : {CpuPartition::kEqual, CpuPartition::kAsymmetric, CpuPartition::kBlocksOnly,
                            CpuPartition::kScheduleOnly}) {
    const uint64_t phases = (*pool)->phases();
    auto out = RunModel(m, mode, cores);
    ASSERT_TRUE(out.ok()) << CpuPartitionName(mode) << ": " << out.status().ToString();
    EXPECT_LE(testing::RelativePeakError((*out)[0], (*reference)[0]), kTolerance) << CpuPartitionName(mode);
    EXPECT_EQ((*pool)->phases() > phases, p.expect_cut) << CpuPartitionName(mode) << " ran on the pool";
    if (mode == CpuPartition::kEqual) equal = *out;
    else EXPECT_LE(testing::RelativePeakError((*out)[0], equal[0]), kTolerance) << CpuPartitionName(mode) << " vs equal";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, ConvPartitionTest,
    ::testing::Values(ConvCase{"first_layer_odd", 1, 3, 17, 13, 40, 3, 1, 1, 1, true, false, true},
                      ConvCase{"strided_residual", 1, 32, 15, 15, 72, 3, 2, 1, 1, true, true, true},
                      ConvCase{"depthwise", 1, 48, 9, 9, 48, 3, 1, 1, 48, true, false, true},
                      ConvCase{"grouped", 1, 64, 5, 5, 64, 3, 1, 1, 4, false, false, true},
                      ConvCase{"batch2_pointwise_odd", 2, 16, 8, 8, 33, 1, 1, 0, 1, false, false, true},
                      ConvCase{"smaller_than_a_block", 1, 16, 7, 7, 8, 3, 1, 1, 1, true, false, false}),
    [](const auto& info) { return std::string(info.param.name); });

struct GemmCase {
  const char* name;
  int64_t m, k, n;
  bool trans_b;
  Shape c;  // empty: no C
  float alpha, beta;
  bool relu;
  size_t workers;
};

Model GemmModel(const GemmCase& p) {
  Model m;
  Graph& g = m.graph;
  const Shape as = {p.m, p.k};
  const ValueId a = g.AddInput("a", {DataType::kFloat32, ToSymbolic(as)});
  m.feeds.push_back(testing::RandomTensor(as, 21));
  const ValueId b = g.AddConstant("b", testing::RandomTensor(p.trans_b ? Shape{p.n, p.k} : Shape{p.k, p.n}, 22));
  std::vector<ValueId> ins = {a, b};
  if (!p.c.empty()) ins.push_back(g.AddConstant("c", testing::RandomTensor(p.c, 23)));
  ValueId y = g.AddValue("gemm");
  g.AddNode("Gemm", ins, {y}, {{"transB", int64_t{p.trans_b}}, {"alpha", p.alpha}, {"beta", p.beta}});
  if (p.relu) {
    const ValueId r = g.AddValue("relu");
    g.AddNode("Relu", {y}, {r});
    y = r;
  }
  g.AddOutput(y);
  EXPECT_TRUE(InferShapes(g).ok());
  return m;
}

class GemmPartitionTest : public ::testing::TestWithParam<GemmCase> {};

TEST_P(GemmPartitionTest, EveryModeMatchesTheWholeOperator) {
  const GemmCase& p = GetParam();
  const Model m = GemmModel(p);
  const std::vector<int> cores = TestCores(p.workers);
  auto pool = SharedCorePool(cores);
  ASSERT_TRUE(pool.ok()) << pool.status().ToString();
  auto reference = RunModel(m, CpuPartition::kOneDnn, cores);
  ASSERT_TRUE(reference.ok()) << reference.status().ToString();
  std::vector<Tensor> equal;
  for (CpuPartition mode : {CpuPartition::kEqual, CpuPartition::kAsymmetric, CpuPartition::kBlocksOnly,
                            CpuPartition::kScheduleOnly}) {
    const uint64_t phases = (*pool)->phases();
    auto out = RunModel(m, mode, cores);
    ASSERT_TRUE(out.ok()) << CpuPartitionName(mode) << ": " << out.status().ToString();
    EXPECT_LE(testing::RelativePeakError((*out)[0], (*reference)[0]), kTolerance) << CpuPartitionName(mode);
    EXPECT_GT((*pool)->phases(), phases) << CpuPartitionName(mode) << " ran on the pool";
    if (mode == CpuPartition::kEqual) equal = *out;
    else EXPECT_LE(testing::RelativePeakError((*out)[0], equal[0]), kTolerance) << CpuPartitionName(mode) << " vs equal";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, GemmPartitionTest,
    ::testing::Values(GemmCase{"fc_batch1_odd", 1, 300, 1000, true, {1000}, 1.f, 1.f, true, 2},
                      GemmCase{"scaled_full_c", 3, 37, 45, false, {3, 45}, 0.5f, 2.f, false, 2},
                      GemmCase{"column_c", 4, 64, 50, true, {4, 1}, 1.f, 1.f, false, 2},
                      GemmCase{"more_workers_than_blocks", 1, 64, 40, true, {}, 1.f, 1.f, true, 8}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(MatMulPartitionTest, TwoDimensionalMatMulWithConstantB) {
  Model m;
  Graph& g = m.graph;
  const ValueId a = g.AddInput("a", {DataType::kFloat32, ToSymbolic(Shape{5, 64})});
  m.feeds.push_back(testing::RandomTensor({5, 64}, 31));
  const ValueId b = g.AddConstant("b", testing::RandomTensor({64, 50}, 32));
  const ValueId y = g.AddValue("y");
  g.AddNode("MatMul", {a, b}, {y});
  g.AddOutput(y);
  ASSERT_TRUE(InferShapes(g).ok());
  const std::vector<int> cores = TestCores(3);
  auto reference = RunModel(m, CpuPartition::kOneDnn, cores);
  ASSERT_TRUE(reference.ok()) << reference.status().ToString();
  auto eq = RunModel(m, CpuPartition::kEqual, cores);
  auto asym = RunModel(m, CpuPartition::kAsymmetric, cores);
  ASSERT_TRUE(eq.ok() && asym.ok());
  EXPECT_LE(testing::RelativePeakError((*eq)[0], (*reference)[0]), kTolerance);
  EXPECT_LE(testing::RelativePeakError((*asym)[0], (*eq)[0]), kTolerance);
}

TEST(CpuPartitionTest, NamesRoundTripAndUnknownIsAnError) {
  for (CpuPartition p : {CpuPartition::kAuto, CpuPartition::kAsymmetric, CpuPartition::kEqual,
                         CpuPartition::kBlocksOnly, CpuPartition::kScheduleOnly, CpuPartition::kOneDnn}) {
    auto back = ParseCpuPartition(CpuPartitionName(p));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, p);
  }
  auto bad = ParseCpuPartition("fastest");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("fastest"), std::string::npos);
}

TEST(CpuPartitionTest, AnUnpinnableCoreIsAnErrorForAnExplicitMode) {
  const Model m = GemmModel(GemmCase{"x", 1, 64, 64, true, {}, 1.f, 1.f, false, 2});
  auto out = RunModel(m, CpuPartition::kAsymmetric, {0, 100000});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("100000"), std::string::npos) << out.status().ToString();
}

}  // namespace
}  // namespace tutti
