// The optimizer's passes on small graphs. Each test checks what a pass removed or rewrote, and that
// the optimised graph computes what the graph as written computes (both run on the CPU backend;
// the unoptimised run executes every node, BatchNormalization included, as the ONNX node tests
// check it).
#include "graph/optimizer.h"

#include <gtest/gtest.h>

#include <map>

#include "backends/cpu/constant_evaluator.h"
#include "runtime/session.h"
#include "support/test_support.h"

namespace tutti {
namespace {

Tensor Ints(std::vector<int64_t> v) { return Tensor::FromVector<int64_t>(v, Shape{static_cast<int64_t>(v.size())}); }
TensorInfo Float(std::vector<int64_t> dims) {
  SymbolicShape s;
  for (int64_t d : dims) s.push_back(d < 0 ? Dim::Symbol("batch") : Dim::Known(d));
  return {DataType::kFloat32, s};
}
Tensor Positive(const Shape& shape, uint32_t seed) {
  Tensor t = testing::RandomTensor(shape, seed);
  for (int64_t i = 0; i < t.num_elements(); ++i) t.data<float>()[i] = 0.5f + std::abs(t.data<float>()[i]);
  return t;
}

std::map<std::string, int> OpCounts(const Graph& g) {
  std::map<std::string, int> counts;
  for (size_t i = 0; i < g.node_count(); ++i)
    if (!g.node(static_cast<NodeId>(i)).removed) ++counts[g.node(static_cast<NodeId>(i)).op_type];
  return counts;
}

OptimizerStats Optimize(Graph& g) {
  OptimizerOptions options;
  options.evaluator = cpu::CpuNodeEvaluator();
  auto stats = OptimizeGraph(g, options);
  EXPECT_TRUE(stats.ok()) << stats.status().ToString();
  return stats.ok() ? *stats : OptimizerStats{};
}

std::vector<Tensor> RunGraph(const Graph& g, std::vector<Tensor> inputs, bool optimize) {
  SessionOptions options;
  options.optimize = optimize;
  options.compile.threads = 1;
  auto s = Session::FromGraph(g, options);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  if (!s.ok()) return {};
  auto out = (*s)->Run(inputs);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? *out : std::vector<Tensor>{};
}

// Runs `g` as written and optimised; every output must agree within `tol` (relative to peak).
void ExpectSameResults(const Graph& g, std::vector<Tensor> inputs, double tol = 1e-6) {
  auto plain = RunGraph(g, inputs, false);
  auto optimized = RunGraph(g, inputs, true);
  ASSERT_EQ(plain.size(), g.outputs().size());
  ASSERT_EQ(optimized.size(), plain.size());
  for (size_t i = 0; i < plain.size(); ++i) {
    ASSERT_EQ(optimized[i].shape(), plain[i].shape()) << "output " << i;
    EXPECT_LE(testing::RelativePeakError(optimized[i], plain[i]), tol) << "output " << i;
  }
}

Graph NewGraph() {
  Graph g;
  g.set_opset("", 17);
  g.name = "test";
  return g;
}

// Transpose of a weight and a Shape -> Gather -> Reshape chain over a fixed-shape input fold away.
TEST(OptimizerTest, FoldsConstantSubgraphsAndKnownShapes) {
  Graph g = NewGraph();
  ValueId x = g.AddInput("x", Float({2, 3, 4}));
  ValueId wt = g.AddConstant("wt", testing::RandomTensor({5, 4}, 3));
  ValueId w = g.AddValue("w"), shape = g.AddValue("shape"), dims = g.AddValue("dims"), target = g.AddValue("target");
  ValueId flat = g.AddValue("flat"), y = g.AddValue("y");
  g.AddNode("Transpose", {wt}, {w}, {{"perm", std::vector<int64_t>{1, 0}}}, "transpose_w");
  g.AddNode("Shape", {x}, {shape}, {}, "shape");
  g.AddNode("Gather", {shape, g.AddConstant("idx", Ints({0, 1}))}, {dims}, {{"axis", int64_t{0}}}, "gather");
  g.AddNode("Concat", {dims, g.AddConstant("minus1", Ints({-1}))}, {target}, {{"axis", int64_t{0}}}, "concat");
  g.AddNode("Reshape", {x, target}, {flat}, {}, "reshape");
  g.AddNode("MatMul", {flat, w}, {y}, {}, "matmul");
  g.AddOutput(y);
  ExpectSameResults(g, {testing::RandomTensor({2, 3, 4}, 1)});

  Graph opt = g;
  OptimizerStats stats = Optimize(opt);
  EXPECT_EQ(stats.folded_nodes, 4);
  EXPECT_EQ(OpCounts(opt), (std::map<std::string, int>{{"MatMul", 1}, {"Reshape", 1}}));
  const Value& t = opt.value(*opt.FindValue("target"));
  ASSERT_TRUE(t.is_constant());
  EXPECT_EQ(t.constant.ToInt64Vector(), (std::vector<int64_t>{2, 3, -1}));
  // The unused original weight is gone; the folded one is there once.
  EXPECT_FALSE(opt.FindValue("wt").has_value());
  ASSERT_TRUE(opt.value(*opt.FindValue("w")).is_constant());
}

// With a symbolic batch only what does not depend on it folds: Shape(x)[1] does, Shape(x)[0] not.
TEST(OptimizerTest, LeavesBatchDependentShapeArithmetic) {
  Graph g = NewGraph();
  ValueId x = g.AddInput("x", Float({-1, 6}));
  ValueId shape = g.AddValue("shape"), b = g.AddValue("b"), c = g.AddValue("c"), b1 = g.AddValue("b1");
  ValueId c1 = g.AddValue("c1"), target = g.AddValue("target"), y = g.AddValue("y");
  ValueId axes = g.AddConstant("axes", Ints({0}));
  g.AddNode("Shape", {x}, {shape}, {}, "shape");
  g.AddNode("Gather", {shape, g.AddConstant("i0", Tensor::FromVector<int64_t>({0}, Shape{}))}, {b}, {{"axis", int64_t{0}}}, "g0");
  g.AddNode("Gather", {shape, g.AddConstant("i1", Tensor::FromVector<int64_t>({1}, Shape{}))}, {c}, {{"axis", int64_t{0}}}, "g1");
  g.AddNode("Unsqueeze", {b, axes}, {b1}, {}, "u0");
  g.AddNode("Unsqueeze", {c, axes}, {c1}, {}, "u1");
  ValueId half = g.AddValue("half");
  g.AddNode("Div", {c1, g.AddConstant("two", Ints({2}))}, {half}, {}, "div");
  g.AddNode("Concat", {b1, g.AddConstant("two2", Ints({2})), half}, {target}, {{"axis", int64_t{0}}}, "concat");
  g.AddNode("Reshape", {x, target}, {y}, {}, "reshape");
  g.AddOutput(y);
  ExpectSameResults(g, {testing::RandomTensor({3, 6}, 2)});

  Graph opt = g;
  Optimize(opt);
  EXPECT_EQ(OpCounts(opt), (std::map<std::string, int>{{"Shape", 1}, {"Gather", 1}, {"Unsqueeze", 1}, {"Concat", 1}, {"Reshape", 1}}));
  ASSERT_TRUE(opt.value(*opt.FindValue("half")).is_constant());
  EXPECT_EQ(opt.value(*opt.FindValue("half")).constant.ToInt64Vector(), (std::vector<int64_t>{3}));
}

// ConstantOfShape and Range over constants fold; a ConstantOfShape that would store far more than
// its inputs hold stays a node (it costs nothing to compute and would bloat the model).
TEST(OptimizerTest, FoldsGeneratorsWithinTheSizeLimit) {
  Graph g = NewGraph();
  ValueId x = g.AddInput("x", Float({4}));
  ValueId r = g.AddValue("r"), rf = g.AddValue("rf"), ones = g.AddValue("ones"), a = g.AddValue("a"), y = g.AddValue("y");
  g.AddNode("Range", {g.AddConstant("start", Tensor::FromVector<float>({0.f}, Shape{})),
                      g.AddConstant("limit", Tensor::FromVector<float>({2.f}, Shape{})),
                      g.AddConstant("delta", Tensor::FromVector<float>({0.5f}, Shape{}))}, {r}, {}, "range");
  g.AddNode("Mul", {r, r}, {rf}, {}, "square");
  g.AddNode("ConstantOfShape", {g.AddConstant("four", Ints({4}))}, {ones},
            {{"value", Tensor::FromVector<float>({1.f}, Shape{1})}}, "ones");
  g.AddNode("Add", {rf, ones}, {a}, {}, "add1");
  g.AddNode("Add", {x, a}, {y}, {}, "add2");
  ValueId big = g.AddValue("big"), z = g.AddValue("z"), s = g.AddValue("s");
  g.AddNode("ConstantOfShape", {g.AddConstant("bigshape", Ints({1000, 1000}))}, {big},
            {{"value", Tensor::FromVector<float>({2.f}, Shape{1})}}, "big");
  g.AddNode("ReduceSum", {big}, {s}, {{"keepdims", int64_t{0}}}, "sum");
  g.AddNode("Add", {x, s}, {z}, {}, "add3");
  g.AddOutput(y);
  g.AddOutput(z);
  ExpectSameResults(g, {testing::RandomTensor({4}, 4)});

  Graph opt = g;
  Optimize(opt);
  EXPECT_EQ(OpCounts(opt), (std::map<std::string, int>{{"Add", 2}, {"ConstantOfShape", 1}, {"ReduceSum", 1}}));
  EXPECT_TRUE(opt.value(*opt.FindValue("a")).is_constant());
}

// Identity, Dropout (which loads as Identity) and a Cast to the same type are bypassed; a graph
// output keeps its name.
TEST(OptimizerTest, RemovesIdentitiesKeepingOutputNames) {
  Graph g = NewGraph();
  ValueId x = g.AddInput("x", Float({2, 3}));
  ValueId a = g.AddValue("a", Float({2, 3})), b = g.AddValue("b", Float({2, 3})), c = g.AddValue("c", Float({2, 3}));
  ValueId y = g.AddValue("y", Float({2, 3}));
  g.AddNode("Identity", {x}, {a}, {}, "id1");
  g.AddNode("Relu", {a}, {b}, {}, "relu");
  g.AddNode("Cast", {b}, {c}, {{"to", int64_t{1}}}, "cast_same");
  g.AddNode("Identity", {c}, {y}, {}, "id2");
  g.AddOutput(y);
  ExpectSameResults(g, {testing::RandomTensor({2, 3}, 5)});

  Graph opt = g;
  OptimizerStats stats = Optimize(opt);
  EXPECT_EQ(stats.removed_identities, 3);
  EXPECT_EQ(OpCounts(opt), (std::map<std::string, int>{{"Relu", 1}}));
  ASSERT_EQ(opt.outputs().size(), 1u);
  EXPECT_EQ(opt.value(opt.outputs()[0]).name, "y");
  EXPECT_EQ(opt.value(opt.inputs()[0]).name, "x");
}

// An Identity from a graph input straight to a graph output has nothing to bypass into.
TEST(OptimizerTest, KeepsIdentityBetweenInputAndOutput) {
  Graph g = NewGraph();
  ValueId x = g.AddInput("x", Float({3}));
  ValueId y = g.AddValue("y"), z = g.AddValue("z");
  g.AddNode("Identity", {x}, {y}, {}, "id");
  g.AddNode("Neg", {x}, {z}, {}, "neg");
  g.AddOutput(y);
  g.AddOutput(z);
  Graph opt = g;
  Optimize(opt);
  EXPECT_EQ(OpCounts(opt), (std::map<std::string, int>{{"Identity", 1}, {"Neg", 1}}));
  ExpectSameResults(g, {testing::RandomTensor({3}, 6)});
}

TEST(OptimizerTest, RemovesDeadNodes) {
  Graph g = NewGraph();
  ValueId x = g.AddInput("x", Float({4}));
  ValueId a = g.AddValue("a"), b = g.AddValue("b"), y = g.AddValue("y");
  g.AddNode("Exp", {x}, {a}, {}, "unused_exp");
  g.AddNode("Log", {a}, {b}, {}, "unused_log");
  g.AddNode("Relu", {x}, {y}, {}, "relu");
  g.AddOutput(y);
  Graph opt = g;
  OptimizerStats stats = Optimize(opt);
  EXPECT_EQ(stats.removed_dead_nodes, 2);
  EXPECT_EQ(OpCounts(opt), (std::map<std::string, int>{{"Relu", 1}}));
  EXPECT_FALSE(opt.FindValue("a").has_value());
}

struct ConvBnCase {
  const char* name;
  const char* op;
  int64_t group;
  bool conv_bias;
};

class ConvBatchNormTest : public ::testing::TestWithParam<ConvBnCase> {};

// Conv (grouped or not, with or without bias) or ConvTranspose, then BatchNormalization: one node
// with rewritten weights, computing what the pair computed.
TEST_P(ConvBatchNormTest, FoldsIntoTheConvolution) {
  const ConvBnCase& p = GetParam();
  const bool transpose = std::string(p.op) == "ConvTranspose";
  const int64_t cin = 4, cout = 6;
  Graph g = NewGraph();
  ValueId x = g.AddInput("x", Float({2, cin, 7, 7}));
  const Shape wshape = transpose ? Shape{cin, cout / p.group, 3, 3} : Shape{cout, cin / p.group, 3, 3};
  std::vector<ValueId> conv_in = {x, g.AddConstant("w", testing::RandomTensor(wshape, 11))};
  if (p.conv_bias) conv_in.push_back(g.AddConstant("bias", testing::RandomTensor({cout}, 12)));
  ValueId c = g.AddValue("c"), y = g.AddValue("y");
  g.AddNode(p.op, conv_in, {c},
            {{"pads", std::vector<int64_t>{1, 1, 1, 1}}, {"group", p.group}, {"kernel_shape", std::vector<int64_t>{3, 3}}},
            "conv");
  g.AddNode("BatchNormalization",
            {c, g.AddConstant("scale", testing::RandomTensor({cout}, 13)), g.AddConstant("shift", testing::RandomTensor({cout}, 14)),
             g.AddConstant("mean", testing::RandomTensor({cout}, 15)), g.AddConstant("var", Positive({cout}, 16))},
            {y}, {{"epsilon", 1e-3f}}, "bn");
  g.AddOutput(y);
  ExpectSameResults(g, {testing::RandomTensor({2, cin, 7, 7}, 17)}, 1e-5);

  Graph opt = g;
  OptimizerStats stats = Optimize(opt);
  EXPECT_EQ(stats.folded_batchnorms, 1);
  EXPECT_EQ(OpCounts(opt), (std::map<std::string, int>{{p.op, 1}}));
  EXPECT_EQ(opt.value(opt.outputs()[0]).name, "y");
  // The weight the model held is left unchanged for anyone else sharing it.
  EXPECT_FALSE(opt.FindValue("w").has_value());
}

INSTANTIATE_TEST_SUITE_P(Variants, ConvBatchNormTest,
                         ::testing::Values(ConvBnCase{"conv", "Conv", 1, true}, ConvBnCase{"conv_nobias", "Conv", 1, false},
                                           ConvBnCase{"grouped", "Conv", 2, true},
                                           ConvBnCase{"transpose", "ConvTranspose", 1, true},
                                           ConvBnCase{"transpose_grouped", "ConvTranspose", 2, false}),
                         [](const auto& info) { return std::string(info.param.name); });

// A Conv whose output is also read elsewhere cannot absorb the BN: the other reader needs the
// un-normalised values.
TEST(OptimizerTest, KeepsBatchNormWhenTheConvOutputIsShared) {
  Graph g = NewGraph();
  ValueId x = g.AddInput("x", Float({1, 2, 5, 5}));
  ValueId c = g.AddValue("c"), y = g.AddValue("y"), z = g.AddValue("z");
  g.AddNode("Conv", {x, g.AddConstant("w", testing::RandomTensor({2, 2, 1, 1}, 21))}, {c}, {}, "conv");
  g.AddNode("BatchNormalization",
            {c, g.AddConstant("scale", testing::RandomTensor({2}, 22)), g.AddConstant("shift", testing::RandomTensor({2}, 23)),
             g.AddConstant("mean", testing::RandomTensor({2}, 24)), g.AddConstant("var", Positive({2}, 25))},
            {y}, {}, "bn");
  g.AddNode("Relu", {c}, {z}, {}, "relu");
  g.AddOutput(y);
  g.AddOutput(z);
  Graph opt = g;
  OptimizerStats stats = Optimize(opt);
  EXPECT_EQ(stats.folded_batchnorms, 0);
  EXPECT_EQ(OpCounts(opt), (std::map<std::string, int>{{"Conv", 1}, {"BatchNormalization", 1}, {"Relu", 1}}));
}

// A convolution with no output channels (empty weight) followed by a BatchNormalization over zero
// channels is left alone; folding it divided by the weight's zero row count (found by review
// beside the loader fuzz target, fuzz/loader_fuzz.cc).
TEST(OptimizerTest, LeavesEmptyWeightConvolutionsUnfolded) {
  for (const char* op : {"Conv", "ConvTranspose"}) {
    SCOPED_TRACE(op);
    const bool transpose = std::string(op) == "ConvTranspose";
    Graph g = NewGraph();
    ValueId x = g.AddInput("x", Float({1, 2, 3, 3}));
    ValueId c = g.AddValue("c"), y = g.AddValue("y");
    const Shape wshape = transpose ? Shape{2, 0, 1, 1} : Shape{0, 2, 1, 1};
    g.AddNode(op, {x, g.AddConstant("w", Tensor::Zeros(DataType::kFloat32, wshape).value())}, {c}, {}, "conv");
    auto empty = [&](const char* name) { return g.AddConstant(name, Tensor::Zeros(DataType::kFloat32, {0}).value()); };
    g.AddNode("BatchNormalization", {c, empty("scale"), empty("shift"), empty("mean"), empty("var")}, {y}, {}, "bn");
    g.AddOutput(y);
    OptimizerStats stats = Optimize(g);
    EXPECT_EQ(stats.folded_batchnorms, 0);
  }
}

// Values a subgraph attribute reads by name are neither bypassed nor removed.
TEST(OptimizerTest, ProtectsValuesReadBySubgraphs) {
  Graph g = NewGraph();
  ValueId x = g.AddInput("x", Float({3}));
  ValueId captured = g.AddValue("captured"), y = g.AddValue("y");
  g.AddNode("Identity", {x}, {captured}, {}, "id");
  auto body = std::make_shared<Graph>();
  ValueId outer = body->AddValue("captured"), bo = body->AddValue("bo");
  body->AddNode("Relu", {outer}, {bo}, {}, "inner");
  body->AddOutput(bo);
  g.AddNode("Neg", {x}, {y}, {{"body", body}}, "holder");
  g.AddOutput(y);
  Graph opt = g;
  Optimize(opt);
  EXPECT_EQ(OpCounts(opt), (std::map<std::string, int>{{"Identity", 1}, {"Neg", 1}}));
}

TEST(OptimizerTest, WithoutEvaluatorFoldsNothing) {
  Graph g = NewGraph();
  ValueId x = g.AddInput("x", Float({2}));
  ValueId n = g.AddValue("n"), y = g.AddValue("y");
  g.AddNode("Neg", {g.AddConstant("k", testing::RandomTensor({2}, 31))}, {n}, {}, "neg");
  g.AddNode("Add", {x, n}, {y}, {}, "add");
  g.AddOutput(y);
  auto stats = OptimizeGraph(g, OptimizerOptions{});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->folded_nodes, 0);
  EXPECT_EQ(g.live_node_count(), 2u);
}

}  // namespace
}  // namespace tutti
