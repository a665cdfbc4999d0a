#include "graph/graph.h"

#include <gtest/gtest.h>

namespace tutti {
namespace {

// x -> Relu -> a -> Sigmoid -> b -> Add(b, a) -> y
Graph Chain() {
  Graph g;
  ValueId x = g.AddInput("x", {DataType::kFloat32, SymbolicShape{Dim::Symbol("batch"), Dim::Known(4)}});
  ValueId a = g.AddValue("a"), b = g.AddValue("b"), y = g.AddValue("y");
  g.AddNode("Relu", {x}, {a}, {}, "relu");
  g.AddNode("Sigmoid", {a}, {b}, {}, "sig");
  g.AddNode("Add", {b, a}, {y}, {}, "add");
  g.AddOutput(y);
  return g;
}

TEST(GraphTest, TopologicalOrderAndValidate) {
  Graph g = Chain();
  ASSERT_TRUE(g.Validate().ok());
  auto order = g.TopologicalOrder();
  ASSERT_TRUE(order.ok());
  EXPECT_EQ(*order, (std::vector<NodeId>{0, 1, 2}));
}

TEST(GraphTest, ExtractSubgraphFindsBoundary) {
  Graph g = Chain();
  std::vector<NodeId> tail = {1, 2};
  auto sub = g.ExtractSubgraph(tail);
  ASSERT_TRUE(sub.ok()) << sub.status().ToString();
  ASSERT_EQ(sub->inputs().size(), 1u);
  EXPECT_EQ(sub->value(sub->inputs()[0]).name, "a");
  ASSERT_EQ(sub->outputs().size(), 1u);
  EXPECT_EQ(sub->value(sub->outputs()[0]).name, "y");

  std::vector<NodeId> head = {0};
  auto first = g.ExtractSubgraph(head);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->value(first->outputs()[0]).name, "a");  // read by nodes outside the set
}

TEST(GraphTest, ValidateRejectsUnproducedInput) {
  Graph g;
  ValueId ghost = g.AddValue("ghost"), y = g.AddValue("y");
  g.AddNode("Relu", {ghost}, {y}, {}, "r");
  g.AddOutput(y);
  Status s = g.Validate();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("ghost"), std::string::npos);
  EXPECT_NE(s.message().find("Relu 'r'"), std::string::npos);
}

TEST(GraphTest, RemoveAndCompactRenumbers) {
  Graph g = Chain();
  // Bypass the Sigmoid: Add reads a twice.
  g.ReplaceAllUses(g.FindValue("b").value(), g.FindValue("a").value());
  g.RemoveNode(1);
  g.Compact();
  EXPECT_EQ(g.node_count(), 2u);
  EXPECT_FALSE(g.FindValue("b").has_value());
  ASSERT_TRUE(g.Validate().ok());
  const Node& add = g.node(1);
  EXPECT_EQ(add.inputs[0], add.inputs[1]);
}

TEST(GraphTest, FingerprintChangesWithAttributes) {
  Graph a = Chain(), b = Chain();
  EXPECT_EQ(a.Fingerprint(), b.Fingerprint());
  b.node(0).attrs["alpha"] = 0.5f;
  EXPECT_NE(a.Fingerprint(), b.Fingerprint());
}

}  // namespace
}  // namespace tutti
