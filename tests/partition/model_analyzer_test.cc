// Model analyzer: units and merged candidates checked against a brute-force enumeration of the
// same definition (every contiguous run of topologically ordered nodes that some processor runs
// whole, cut at changes of the supporting set).
#include "partition/model_analyzer.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace tutti {
namespace {

// x -> n0 -> n1 -> ... -> y with op types from `ops`; all shapes [batch, 4] float.
Graph Chain(const std::vector<std::string>& ops) {
  Graph g;
  SymbolicShape shape{Dim::Symbol("batch"), Dim::Known(4)};
  ValueId x = g.AddInput("x", {DataType::kFloat32, shape});
  for (size_t i = 0; i < ops.size(); ++i) {
    ValueId y = g.AddValue("v" + std::to_string(i), {DataType::kFloat32, shape});
    g.AddNode(ops[i], {x}, {y}, {}, "n" + std::to_string(i));
    x = y;
  }
  g.AddOutput(x);
  return g;
}

NodeSupport Supports(std::set<std::string> ops) {
  return [ops](const Graph&, const Node& n) { return ops.count(n.op_type) > 0; };
}
NodeSupport All() { return [](const Graph&, const Node&) { return true; }; }

TEST(ModelAnalyzer, UnitsFollowSupportChangesAndCandidatesMerge) {
  // cpu runs everything, npu lacks Softmax.
  Graph g = Chain({"Conv", "Relu", "Softmax", "Conv", "Relu"});
  auto a = AnalyzeModel(g, {All(), Supports({"Conv", "Relu"})});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_EQ(a->unit_count(), 3);
  EXPECT_EQ(a->units()[0].nodes.size(), 2u);
  EXPECT_EQ(a->units()[0].processors, 0b11u);
  EXPECT_EQ(a->units()[1].processors, 0b01u);
  EXPECT_EQ(a->full_support(), 0b01u);
  // Every contiguous run is a candidate for the cpu; the npu only gets runs without Softmax.
  EXPECT_EQ(a->candidates().size(), 6u);
  EXPECT_EQ(a->candidates()[static_cast<size_t>(a->whole_model_candidate())].processors, 0b01u);
  EXPECT_EQ(a->candidates()[static_cast<size_t>(a->CandidateIndex(2, 3))].processors, 0b11u);
  EXPECT_EQ(a->candidates()[static_cast<size_t>(a->CandidateIndex(0, 1))].input_bytes, 16);  // x: [1,4] float
}

TEST(ModelAnalyzer, MinimumSubgraphSizeKeepsSmallPiecesOnFallbackProcessors) {
  Graph g = Chain({"Conv", "Softmax", "Conv", "Conv", "Conv"});
  AnalyzerOptions o;
  o.min_subgraph_nodes = 2;
  auto a = AnalyzeModel(g, {All(), Supports({"Conv"})}, o);
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->unit_count(), 3);  // [Conv] [Softmax] [Conv Conv Conv]
  EXPECT_EQ(a->candidates()[static_cast<size_t>(a->CandidateIndex(0, 1))].processors, 0b01u) << "1 node: cpu only";
  EXPECT_EQ(a->candidates()[static_cast<size_t>(a->CandidateIndex(2, 3))].processors, 0b11u) << "3 nodes: both";
}

TEST(ModelAnalyzer, NodeNoProcessorRunsIsNamed) {
  Graph g = Chain({"Conv", "Gelu"});
  auto a = AnalyzeModel(g, {Supports({"Conv"})});
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("n1"), std::string::npos) << a.status().message();
  EXPECT_NE(a.status().message().find("Gelu"), std::string::npos);
}

TEST(ModelAnalyzer, MatchesBruteForceOnRandomSupportPatterns) {
  std::mt19937 rng(5);
  const std::vector<std::string> kOps = {"A", "B", "C", "D"};
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<std::string> ops;
    int n = 1 + static_cast<int>(rng() % 9);
    for (int i = 0; i < n; ++i) ops.push_back(kOps[rng() % kOps.size()]);
    Graph g = Chain(ops);
    std::vector<std::set<std::string>> sets = {{"A", "B", "C", "D"}};
    for (int p = 0; p < 2; ++p) {
      std::set<std::string> s;
      for (const auto& op : kOps)
        if (rng() % 2) s.insert(op);
      sets.push_back(s);
    }
    std::vector<NodeSupport> procs;
    for (const auto& s : sets) procs.push_back(Supports(s));
    auto a = AnalyzeModel(g, procs);
    ASSERT_TRUE(a.ok());
    // Brute force: masks per node, unit boundaries where masks change.
    std::vector<ProcessorMask> mask;
    for (const auto& op : ops) {
      ProcessorMask m = 0;
      for (size_t p = 0; p < sets.size(); ++p)
        if (sets[p].count(op)) m |= ProcessorBit(static_cast<int>(p));
      mask.push_back(m);
    }
    std::vector<int> starts = {0};
    for (int i = 1; i < n; ++i)
      if (mask[static_cast<size_t>(i)] != mask[static_cast<size_t>(i - 1)]) starts.push_back(i);
    ASSERT_EQ(a->unit_count(), static_cast<int>(starts.size()));
    starts.push_back(n);
    size_t expected_candidates = 0;
    for (size_t f = 0; f + 1 < starts.size(); ++f)
      for (size_t e = f + 1; e < starts.size(); ++e) {
        ProcessorMask m = ~ProcessorMask{0};
        for (int i = starts[f]; i < starts[e]; ++i) m &= mask[static_cast<size_t>(i)];
        int idx = a->CandidateIndex(static_cast<int>(f), static_cast<int>(e));
        if (m == 0) {
          EXPECT_EQ(idx, -1);
        } else {
          ++expected_candidates;
          ASSERT_GE(idx, 0);
          EXPECT_EQ(a->candidates()[static_cast<size_t>(idx)].processors, m);
          EXPECT_EQ(a->candidates()[static_cast<size_t>(idx)].node_count, static_cast<size_t>(starts[e] - starts[f]));
        }
      }
    EXPECT_EQ(a->candidates().size(), expected_candidates);
  }
}

TEST(TransferModel, SameDomainIsFree) {
  TransferModel t;
  EXPECT_EQ(t.CostUs(1 << 20, true), 0);
  EXPECT_GT(t.CostUs(1 << 20, false), t.CostUs(1 << 10, false));
}

}  // namespace
}  // namespace tutti
