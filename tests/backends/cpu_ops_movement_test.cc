// Data-movement kernels against naive index-arithmetic references written here (one output
// coordinate at a time, nothing shared with backends/cpu/ops/layout.cc).
#include "backends/cpu_ops_test_util.h"

namespace tutti::testing {
namespace {

std::vector<int64_t> Coords(const Shape& s, int64_t flat) {
  std::vector<int64_t> c(s.size());
  for (size_t d = s.size(); d-- > 0;) {
    c[d] = flat % s[d];
    flat /= s[d];
  }
  return c;
}
int64_t Flat(const Shape& s, const std::vector<int64_t>& c) {
  int64_t f = 0;
  for (size_t d = 0; d < s.size(); ++d) f = f * s[d] + c[d];
  return f;
}

TEST(CpuMovement, TransposeMatchesNaive) {
  for (DataType dt : {DataType::kFloat32, DataType::kInt64, DataType::kUInt8}) {
    const Tensor x = RandomOf(dt, {2, 3, 4, 5}, 7, -100, 100);
    const std::vector<int64_t> perm = {2, 0, 3, 1};
    auto out = RunNode(NodeRun("Transpose", {x}, {{"perm", perm}}));
    ASSERT_TRUE(out.ok()) << out.status().message();
    Shape os;
    for (int64_t p : perm) os.push_back(x.shape()[static_cast<size_t>(p)]);
    Tensor ref = Tensor::Allocate(dt, os).value();
    for (int64_t i = 0; i < ref.num_elements(); ++i) {
      const auto oc = Coords(os, i);
      std::vector<int64_t> ic(4);
      for (size_t d = 0; d < 4; ++d) ic[static_cast<size_t>(perm[d])] = oc[d];
      SetElement(ref, i, x.ElementAsDouble(Flat(x.shape(), ic)));
    }
    EXPECT_TRUE(TensorsClose((*out)[0], ref, 0, 0));
  }
}

TEST(CpuMovement, SliceWithNegativeStepsMatchesNaive) {
  const Tensor x = RandomOf(DataType::kFloat32, {5, 6, 7}, 3);
  auto i64 = [](std::vector<int64_t> v) { return Tensor::FromVector<int64_t>(v, {static_cast<int64_t>(v.size())}); };
  // axis 2: 6 down to 1 step -2 -> {6,4,2}; axis 0: 1..100 clamps to 1..5 step 1.
  auto out = RunNode(NodeRun("Slice", {x, i64({-1, 1}), i64({0, 100}), i64({2, 0}), i64({-2, 1})}));
  ASSERT_TRUE(out.ok()) << out.status().message();
  const Shape os = {4, 6, 3};
  Tensor ref = Tensor::Allocate(DataType::kFloat32, os).value();
  for (int64_t i = 0; i < ref.num_elements(); ++i) {
    const auto c = Coords(os, i);
    SetElement(ref, i, x.ElementAsDouble(Flat(x.shape(), {1 + c[0], c[1], 6 - 2 * c[2]})));
  }
  EXPECT_TRUE(TensorsClose((*out)[0], ref, 0, 0));
}

TEST(CpuMovement, ConcatThenSplitRoundTrips) {
  const Tensor a = RandomOf(DataType::kInt32, {2, 3, 4}, 1, -50, 50);
  const Tensor b = RandomOf(DataType::kInt32, {2, 5, 4}, 2, -50, 50);
  auto cat = RunNode(NodeRun("Concat", {a, b}, {{"axis", int64_t{-2}}}));
  ASSERT_TRUE(cat.ok()) << cat.status().message();
  const Tensor& c = (*cat)[0];
  ASSERT_EQ(c.shape(), (Shape{2, 8, 4}));
  for (int64_t i = 0; i < c.num_elements(); ++i) {
    const auto k = Coords(c.shape(), i);
    const double want = k[1] < 3 ? a.ElementAsDouble(Flat(a.shape(), k))
                                 : b.ElementAsDouble(Flat(b.shape(), {k[0], k[1] - 3, k[2]}));
    ASSERT_EQ(c.ElementAsDouble(i), want) << i;
  }
  auto parts = RunNode(NodeRun("Split", {c, Tensor::FromVector<int64_t>({3, 5}, {2})}, {{"axis", int64_t{1}}}, 2));
  ASSERT_TRUE(parts.ok()) << parts.status().message();
  EXPECT_TRUE(TensorsClose((*parts)[0], a, 0, 0));
  EXPECT_TRUE(TensorsClose((*parts)[1], b, 0, 0));
}

TEST(CpuMovement, GatherMatchesNaiveAndRejectsOutOfRange) {
  const Tensor x = RandomOf(DataType::kFloat32, {3, 4, 2}, 5);
  const Tensor idx = Tensor::FromVector<int64_t>({3, -1, 0, 2, 1, 1}, {2, 3});
  auto out = RunNode(NodeRun("Gather", {x, idx}, {{"axis", int64_t{1}}}));
  ASSERT_TRUE(out.ok()) << out.status().message();
  const Shape os = {3, 2, 3, 2};
  Tensor ref = Tensor::Allocate(DataType::kFloat32, os).value();
  for (int64_t i = 0; i < ref.num_elements(); ++i) {
    const auto c = Coords(os, i);
    int64_t j = idx.ElementAsInt64(c[1] * 3 + c[2]);
    if (j < 0) j += 4;
    SetElement(ref, i, x.ElementAsDouble(Flat(x.shape(), {c[0], j, c[3]})));
  }
  EXPECT_TRUE(TensorsClose((*out)[0], ref, 0, 0));
  auto bad = RunNode(NodeRun("Gather", {x, Tensor::FromVector<int64_t>({4}, {1})}, {{"axis", int64_t{1}}}));
  EXPECT_FALSE(bad.ok());
}

TEST(CpuMovement, TileAndExpandMatchNaive) {
  const Tensor x = RandomOf(DataType::kFloat32, {2, 1, 3}, 9);
  auto tiled = RunNode(NodeRun("Tile", {x, Tensor::FromVector<int64_t>({2, 3, 1}, {3})}));
  ASSERT_TRUE(tiled.ok()) << tiled.status().message();
  const Tensor& t = (*tiled)[0];
  ASSERT_EQ(t.shape(), (Shape{4, 3, 3}));
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    const auto c = Coords(t.shape(), i);
    ASSERT_EQ(t.ElementAsDouble(i), x.ElementAsDouble(Flat(x.shape(), {c[0] % 2, 0, c[2]})));
  }
  auto expanded = RunNode(NodeRun("Expand", {x, Tensor::FromVector<int64_t>({4, 2, 5, 1}, {4})}));
  ASSERT_TRUE(expanded.ok()) << expanded.status().message();
  EXPECT_TRUE(TensorsClose((*expanded)[0],
                           RefElementwise({x, Tensor::Allocate(DataType::kFloat32, {4, 2, 5, 1}).value()},
                                          DataType::kFloat32, [](const std::vector<double>& v) { return v[0]; }),
                           0, 0));
}

}  // namespace
}  // namespace tutti::testing
