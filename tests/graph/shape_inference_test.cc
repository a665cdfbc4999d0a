#include "graph/shape_inference.h"

#include <gtest/gtest.h>

namespace tutti {
namespace {

Tensor Ints(std::vector<int64_t> v) { return Tensor::FromVector<int64_t>(v, Shape{static_cast<int64_t>(v.size())}); }

// The exporter's flatten idiom: Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1])).
Graph FlattenIdiom() {
  Graph g;
  ValueId x = g.AddInput("x", {DataType::kFloat32, SymbolicShape{Dim::Symbol("batch"), Dim::Known(8), Dim::Known(2),
                                                                  Dim::Known(2)}});
  ValueId shape = g.AddValue("shape"), b = g.AddValue("b"), b1 = g.AddValue("b1"), target = g.AddValue("target");
  ValueId y = g.AddValue("y");
  ValueId zero = g.AddConstant("zero", Tensor::FromVector<int64_t>({0}, Shape{}));
  ValueId axes = g.AddConstant("axes", Ints({0}));
  ValueId minus1 = g.AddConstant("minus1", Ints({-1}));
  g.AddNode("Shape", {x}, {shape}, {}, "shape");
  g.AddNode("Gather", {shape, zero}, {b}, {{"axis", int64_t{0}}}, "gather");
  g.AddNode("Unsqueeze", {b, axes}, {b1}, {}, "unsqueeze");
  g.AddNode("Concat", {b1, minus1}, {target}, {{"axis", int64_t{0}}}, "concat");
  g.AddNode("Reshape", {x, target}, {y}, {}, "reshape");
  g.AddOutput(y);
  return g;
}

TEST(ShapeInferenceTest, SymbolicBatchFlowsThroughShapeArithmetic) {
  Graph g = FlattenIdiom();
  ASSERT_TRUE(InferShapes(g).ok());
  EXPECT_EQ(SymbolicShapeToString(*g.value(*g.FindValue("y")).info.shape), "[batch,32]");
}

TEST(ShapeInferenceTest, SpecializeFoldsShapeComputations) {
  Graph g = FlattenIdiom();
  auto sg = SpecializeShapes(g, {{"x", Shape{5, 8, 2, 2}}}, NodeEvaluator());
  ASSERT_TRUE(sg.ok()) << sg.status().ToString();
  EXPECT_EQ(sg->live_node_count(), 1u);  // only the Reshape is left, its target a constant
  const Value& target = sg->value(*sg->FindValue("target"));
  ASSERT_TRUE(target.is_constant());
  EXPECT_EQ(target.constant.ToInt64Vector(), (std::vector<int64_t>{5, -1}));
  EXPECT_EQ(SymbolicShapeToString(*sg->value(sg->outputs()[0]).info.shape), "[5,32]");
  // The original keeps its symbolic form (specialisation copies).
  EXPECT_EQ(g.live_node_count(), 5u);
}

TEST(ShapeInferenceTest, SpecializeRejectsWrongInputs) {
  Graph g = FlattenIdiom();
  auto rank = SpecializeShapes(g, {{"x", Shape{5, 8, 2}}}, NodeEvaluator());
  ASSERT_FALSE(rank.ok());
  EXPECT_NE(rank.status().message().find("'x'"), std::string::npos);
  auto dim = SpecializeShapes(g, {{"x", Shape{5, 7, 2, 2}}}, NodeEvaluator());
  ASSERT_FALSE(dim.ok());
  auto name = SpecializeShapes(g, {{"nope", Shape{1}}}, NodeEvaluator());
  ASSERT_FALSE(name.ok());
  EXPECT_NE(name.status().message().find("nope"), std::string::npos);
}

TEST(ShapeInferenceTest, InconsistenciesNameTheNode) {
  Graph g;
  ValueId a = g.AddInput("a", {DataType::kFloat32, SymbolicShape{Dim::Known(2), Dim::Known(3)}});
  ValueId b = g.AddInput("b", {DataType::kFloat32, SymbolicShape{Dim::Known(4), Dim::Known(5)}});
  ValueId y = g.AddValue("y");
  g.AddNode("MatMul", {a, b}, {y}, {}, "mm");
  g.AddOutput(y);
  Status s = InferShapes(g);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("MatMul 'mm'"), std::string::npos) << s.message();
}

// Resize scales that give no int64 size (1e30, or not positive) are refused by name; converting
// such a size was undefined behaviour (found by fuzz/loader_fuzz.cc).
TEST(ShapeInferenceTest, ResizeRefusesScalesWithNoSize) {
  for (float bad : {1e30f, -2.f, 0.f}) {
    SCOPED_TRACE(bad);
    Graph g;
    ValueId x = g.AddInput("x", {DataType::kFloat32, SymbolicShape{Dim::Known(1), Dim::Known(3)}});
    ValueId scales = g.AddConstant("scales", Tensor::FromVector<float>({1.f, bad}, Shape{2}));
    ValueId y = g.AddValue("y");
    g.AddNode("Resize", {x, kNoValue, scales}, {y}, {{"mode", std::string("nearest")}}, "up");
    g.AddOutput(y);
    Status s = InferShapes(g);
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("scale"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("up"), std::string::npos) << s.message();
  }
}

TEST(ShapeInferenceTest, BatchInputShapes) {
  Graph g = FlattenIdiom();
  auto m = BatchInputShapes(g, 4);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->at("x"), (Shape{4, 8, 2, 2}));
  EXPECT_FALSE(BatchInputShapes(g, 0).ok());
}

// Folding through an evaluator: a node the built-in arithmetic does not cover.
TEST(ShapeInferenceTest, SpecializeUsesTheEvaluatorForConstantNodes) {
  Graph g;
  ValueId x = g.AddInput("x", {DataType::kFloat32, SymbolicShape{Dim::Known(3)}});
  ValueId c = g.AddConstant("c", Tensor::FromVector<float>({1, 2, 3}));
  ValueId n = g.AddValue("neg"), y = g.AddValue("y");
  g.AddNode("Neg", {c}, {n}, {}, "neg");
  g.AddNode("Add", {x, n}, {y}, {}, "add");
  g.AddOutput(y);
  int calls = 0;
  NodeEvaluator eval = [&](const Graph&, const Node& node, std::span<const Tensor> in) -> Result<std::vector<Tensor>> {
    ++calls;
    if (node.op_type != "Neg") return Unimplemented("only Neg");
    std::vector<float> v;
    for (int64_t i = 0; i < in[0].num_elements(); ++i) v.push_back(-in[0].data<float>()[i]);
    return std::vector<Tensor>{Tensor::FromVector<float>(v)};
  };
  auto sg = SpecializeShapes(g, {}, eval);
  ASSERT_TRUE(sg.ok()) << sg.status().ToString();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(sg->live_node_count(), 1u);
  const Value& neg = sg->value(*sg->FindValue("neg"));
  ASSERT_TRUE(neg.is_constant());
  EXPECT_EQ(neg.constant.data<float>()[2], -3.f);
}

}  // namespace
}  // namespace tutti
