// Spatial split correctness (issue 7): receptive fields against brute force, and row-banded runs of
// every fused-layer configuration against the single-device run of the same network, including
// uneven shares, one-row shares, strided / padded / dilated / ceil-mode windows at band edges,
// residual and concatenation blocks.
#include <gtest/gtest.h>

#include <random>

#include "graph/receptive_field.h"
#include "partition/spatial.h"
#include "partition/spatial_executor.h"
#include "spatial_nets.h"

namespace tutti {
namespace {

using spatial::FindUnits;
using spatial::Group;
using spatial::SpatialPlan;
using spatial::Unit;

// Brute force over every tap of every output row in `out`: `touched` is the tightest range of real
// rows read, `span` the rows from the first tap to the last, clipped to the tensor. A band must
// hold at least `touched`, and InputRows promises exactly `span` (rows between dilated taps and
// at the clipped edges are carried so that band positions stay aligned with the windows).
void BruteForceRows(const HeightWindow& w, RowRange out, int64_t in_h, RowRange* touched, RowRange* span) {
  int64_t lo = in_h, hi = -1, first = INT64_MAX, last = INT64_MIN;
  for (int64_t o = out.begin; o < out.end; ++o)
    for (int64_t k = 0; k < w.kernel; ++k) {
      int64_t r = o * w.stride - w.pad_top + k * w.dilation;
      first = std::min(first, r);
      last = std::max(last, r);
      if (r < 0 || r >= in_h) continue;
      lo = std::min(lo, r);
      hi = std::max(hi, r);
    }
  *touched = hi < 0 ? RowRange{} : RowRange{lo, hi + 1};
  *span = {std::clamp<int64_t>(first, 0, in_h), std::clamp<int64_t>(last + 1, 0, in_h)};
}

TEST(SpatialReceptiveFieldTest, InputRowsMatchBruteForce) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 3000; ++trial) {
    HeightWindow w;
    w.kernel = 1 + rng() % 7;
    w.stride = 1 + rng() % 4;
    w.dilation = 1 + rng() % 3;
    w.pad_top = rng() % w.extent();
    w.pad_bottom = rng() % w.extent();
    w.ceil_mode = rng() % 2;
    int64_t in_h = w.extent() + rng() % 40;
    int64_t out_h = w.OutputHeight(in_h);
    ASSERT_GE(out_h, 1);
    int64_t b = rng() % out_h, e = b + 1 + rng() % (out_h - b);
    RowRange got = w.InputRows({b, e}, in_h), touched, span;
    BruteForceRows(w, {b, e}, in_h, &touched, &span);
    ASSERT_TRUE(touched.empty() || (got.begin <= touched.begin && got.end >= touched.end));
    ASSERT_EQ(got, span) << "k" << w.kernel << " s" << w.stride << " d" << w.dilation << " pads " << w.pad_top << ","
                         << w.pad_bottom << " in_h " << in_h << " rows " << RowRangeToString({b, e});
  }
}

TEST(SpatialReceptiveFieldTest, UnitsTreatBlocksAsOneAndStopAtTheHead) {
  Graph g = testing::BlockNet();
  auto units = FindUnits(g);
  ASSERT_TRUE(units.ok()) << units.status().ToString();
  // stem, residual block 1 (+relu after the add is its own unit), block 2, inception block, dw conv,
  // clip, head
  size_t splittable = 0;
  for (const Unit& u : *units) splittable += u.splittable;
  ASSERT_EQ(units->size(), splittable + 1) << "only GlobalAveragePool is head";
  EXPECT_FALSE(units->back().splittable);
  bool has_block = false;
  for (const Unit& u : *units) has_block |= u.nodes.size() >= 4;
  EXPECT_TRUE(has_block);
  EXPECT_EQ(units->front().in_h, 31);
}

TEST(SpatialReceptiveFieldTest, RefusesLayersThatCannotBeBanded) {
  Graph g;
  g.set_opset("", 13);
  ValueId x = g.AddInput("x", {DataType::kFloat32, ToSymbolic({1, 2, 8, 8})});
  ValueId y = g.AddValue("y");
  NodeId n = g.AddNode("Flatten", {x}, {y}, {}, "flat");
  g.AddOutput(y);
  auto w = HeightWindowOf(g, g.node(n), 8);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("Flatten 'flat'"), std::string::npos) << w.status().ToString();
}

// Every grouping of the splittable units (bit i set: a group ends after unit i), run group by group
// with the given shares, must reproduce each group's output of the whole run.
void CheckAllGroupings(const Graph& g, const std::vector<std::vector<double>>& speed_sets, size_t max_groupings) {
  auto units = FindUnits(g);
  ASSERT_TRUE(units.ok()) << units.status().ToString();
  size_t n = 0;
  while (n < units->size() && (*units)[n].splittable) ++n;
  ASSERT_GE(n, 2u);
  Tensor x = testing::RandomTensor(*ToConcrete(*g.value(g.inputs()[0]).info.shape), 3);
  testing::NaiveExecutable whole(g);
  auto ref = whole.RunAll(x);
  ASSERT_FALSE(ref.empty());
  std::vector<Tensor> ref_out;
  ASSERT_TRUE(whole.Run({&x, 1}, ref_out).ok());

  std::mt19937 rng(11);
  size_t total = size_t{1} << (n - 1), tried = 0;
  for (size_t mask = 0; mask < total && tried < max_groupings; ++mask) {
    if (total > max_groupings && mask != 0 && mask != total - 1 && rng() % (total / max_groupings + 1) != 0) continue;
    ++tried;
    for (const auto& speeds : speed_sets) {
      SpatialPlan plan;
      size_t first = 0;
      for (size_t u = 0; u < n; ++u) {
        if (u + 1 < n && !(mask >> u & 1)) continue;
        plan.groups.push_back(Group{first, u + 1, spatial::ProportionalShares((*units)[u].out_h, speeds)});
        first = u + 1;
      }
      plan.head_first = n;
      std::vector<spatial::SpatialDevice> devices;
      for (size_t d = 0; d < speeds.size(); ++d)
        devices.push_back({"naive" + std::to_string(d), std::make_shared<testing::NaiveBackend>(), speeds[d], {}});
      auto exec = spatial::SpatialExecutor::Create(g, devices, plan);
      ASSERT_TRUE(exec.ok()) << exec.status().ToString();
      Tensor cur = x;
      for (size_t gi = 0; gi < plan.groups.size(); ++gi) {
        Tensor next;
        Status s = (*exec)->RunGroups(gi, gi + 1, cur, next);
        ASSERT_TRUE(s.ok()) << "mask " << mask << " group " << gi << ": " << s.ToString();
        const Tensor& want = ref.at((*units)[plan.groups[gi].last - 1].output);
        ASSERT_EQ(next.shape(), want.shape()) << "mask " << mask << " group " << gi;
        ASSERT_LE(testing::RelativePeakError(next, want), 1e-5) << "mask " << mask << " group " << gi;
        cur = next;
      }
      Tensor out;
      ASSERT_TRUE((*exec)->Run(x, out).ok());
      ASSERT_LE(testing::RelativePeakError(out, ref_out[0]), 1e-5) << "mask " << mask;
    }
  }
}

TEST(SpatialSplitTest, ChainOfStridedPaddedDilatedWindowsEveryGrouping) {
  // Uneven shares, a one-row share at the top edge and one at the bottom edge, many devices.
  CheckAllGroupings(testing::ChainNet(), {{1, 1}, {3, 1, 2}, {0.02, 1, 0.02}, {1, 1, 1, 1, 1, 1, 1}}, 64);
}

TEST(SpatialSplitTest, ResidualConcatAndDepthwiseBlocks) {
  CheckAllGroupings(testing::BlockNet(), {{2, 1}, {0.01, 5, 3}, {1, 1, 1, 0.01}}, 24);
}

TEST(SpatialSplitTest, OneRowSharesEverywhere) {
  // As many devices as the narrowest group output has rows: every device gets one row there.
  Graph g = testing::ChainNet();
  auto units = FindUnits(g);
  ASSERT_TRUE(units.ok());
  std::vector<double> speeds(static_cast<size_t>((*units)[0].out_h), 1.0);
  CheckAllGroupings(g, {speeds}, 1);
}

TEST(SpatialSplitTest, BadPlansAreRefusedWithReasons) {
  Graph g = testing::ChainNet();
  auto units = FindUnits(g);
  ASSERT_TRUE(units.ok());
  std::vector<spatial::SpatialDevice> devices = {{"a", std::make_shared<testing::NaiveBackend>(), 1, {}}};
  SpatialPlan plan;
  plan.groups.push_back({0, 1, {(*units)[0].out_h + 1}});
  plan.head_first = 1;
  auto e = spatial::SpatialExecutor::Create(g, devices, plan);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("add up to"), std::string::npos) << e.status().ToString();
  Tensor t = testing::RandomTensor({1, 2, 5, 3});
  EXPECT_FALSE(spatial::SliceRows(t, {4, 6}).ok());
}

TEST(SpatialSplitTest, SharesAreProportionalAndComplete) {
  std::vector<double> speeds = {1, 2, 0, 1};
  auto s = spatial::ProportionalShares(10, speeds);
  EXPECT_EQ(s[2], 0);
  EXPECT_EQ(s[0] + s[1] + s[2] + s[3], 10);
  EXPECT_GE(s[1], 4);
  EXPECT_LE(s[1], 6);
}

}  // namespace
}  // namespace tutti

namespace tutti {
namespace {

// The same networks on the CPU backend's real kernels (oneDNN convolutions and pools, which see
// the band's asymmetric edge pads), split over several CPU "devices", against the naive reference
// run of the whole network.
TEST(SpatialSplitTest, CpuBackendBandsMatchTheWholeRun) {
  for (Graph g : {testing::ChainNet(), testing::BlockNet()}) {
    auto cpu = CreateBackend("cpu");
    ASSERT_TRUE(cpu.ok());
    std::shared_ptr<Backend> shared(std::move(cpu).value());
    bool supported = true;
    for (size_t i = 0; i < g.node_count(); ++i) supported &= shared->SupportsNode(g, g.node(static_cast<NodeId>(i)));
    if (!supported) GTEST_SKIP() << "the CPU backend lacks an operator of '" << g.name << "'";
    auto units = FindUnits(g);
    ASSERT_TRUE(units.ok());
    size_t n = 0;
    while (n < units->size() && (*units)[n].splittable) ++n;
    std::vector<double> speeds = {1, 0.05, 2};  // uneven, with a one-row-ish share
    SpatialPlan plan;
    for (size_t u = 0; u < n; u += 2) {
      size_t last = std::min(n, u + 2);
      plan.groups.push_back({u, last, spatial::ProportionalShares((*units)[last - 1].out_h, speeds)});
    }
    plan.head_first = n;
    plan.head_device = 2;
    std::vector<spatial::SpatialDevice> devices;
    CompileOptions one_thread;
    one_thread.threads = 1;
    for (size_t d = 0; d < speeds.size(); ++d) devices.push_back({"cpu", shared, speeds[d], one_thread});
    auto exec = spatial::SpatialExecutor::Create(g, devices, plan);
    ASSERT_TRUE(exec.ok()) << exec.status().ToString();
    Tensor x = testing::RandomTensor(*ToConcrete(*g.value(g.inputs()[0]).info.shape), 21), out;
    Status s = (*exec)->Run(x, out);
    ASSERT_TRUE(s.ok()) << g.name << ": " << s.ToString();
    testing::NaiveExecutable whole(g);
    std::vector<Tensor> want;
    ASSERT_TRUE(whole.Run({&x, 1}, want).ok());
    ASSERT_EQ(out.shape(), want[0].shape());
    EXPECT_LE(testing::RelativePeakError(out, want[0]), 1e-4) << g.name;
  }
}

}  // namespace
}  // namespace tutti
