// Session: lazy per-shape compilation, input validation, and concurrent Run calls. Checked
// against a naive reference computed here (max(x, 0)), not against tutti's own kernels.
#include "runtime/session.h"

#include <gtest/gtest.h>

#include <thread>

#include "runtime/input_check.h"
#include "support/test_support.h"

namespace tutti {
namespace {

// x[batch,3] -> Relu -> y[batch,3]
Graph ReluGraph() {
  Graph g;
  ValueId x = g.AddInput("x", {DataType::kFloat32, SymbolicShape{Dim::Symbol("batch"), Dim::Known(3)}});
  ValueId y = g.AddValue("y", {DataType::kFloat32, SymbolicShape{Dim::Symbol("batch"), Dim::Known(3)}});
  g.AddNode("Relu", {x}, {y}, {}, "relu");
  g.AddOutput(y);
  return g;
}

void ExpectRelu(const Tensor& in, const Tensor& out) {
  ASSERT_EQ(out.shape(), in.shape());
  for (int64_t i = 0; i < in.num_elements(); ++i) {
    float x = in.data<float>()[i];
    EXPECT_EQ(out.data<float>()[i], x > 0 ? x : 0.f) << i;
  }
}

TEST(SessionTest, CompilesOncePerShapeSignature) {
  auto s = Session::FromGraph(ReluGraph());
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ((*s)->compiled_count(), 0u);
  for (int64_t batch : {1, 4, 1, 4, 7}) {
    Tensor x = testing::RandomTensor({batch, 3}, static_cast<uint32_t>(batch));
    auto y = (*s)->Run({&x, 1});
    ASSERT_TRUE(y.ok()) << y.status().ToString();
    ASSERT_EQ(y->size(), 1u);
    ExpectRelu(x, (*y)[0]);
  }
  EXPECT_EQ((*s)->compiled_count(), 3u);
  auto specs = (*s)->input_specs();
  ASSERT_EQ(specs.size(), 1u);
  EXPECT_EQ(specs[0].name, "x");
  EXPECT_EQ(SymbolicShapeToString(*specs[0].shape), "[batch,3]");
}

TEST(SessionTest, WritesIntoCallerOutputsInPlace) {
  auto s = Session::FromGraph(ReluGraph());
  ASSERT_TRUE(s.ok());
  Tensor x = testing::RandomTensor({2, 3});
  std::vector<Tensor> out{Tensor::Zeros(DataType::kFloat32, {2, 3}).value()};
  Tensor mine = out[0];
  ASSERT_TRUE((*s)->Run({&x, 1}, out).ok());
  EXPECT_TRUE(out[0].SharesStorageWith(mine));
  ExpectRelu(x, mine);
}

TEST(SessionTest, InputErrorsNameTheInputAndBothShapes) {
  auto s = Session::FromGraph(ReluGraph());
  ASSERT_TRUE(s.ok());
  auto msg = [&](std::vector<Tensor> in) {
    auto r = (*s)->Run(in);
    return r.ok() ? std::string() : r.status().message();
  };
  EXPECT_NE(msg({Tensor::Zeros(DataType::kFloat32, {2, 4}).value()}).find("input 'x' has shape [2,4], the model expects [batch,3]"),
            std::string::npos);
  EXPECT_NE(msg({Tensor::Zeros(DataType::kFloat32, {6}).value()}).find("rank 2, got rank 1"), std::string::npos);
  EXPECT_NE(msg({Tensor::Zeros(DataType::kFloat64, {2, 3}).value()}).find("input 'x' has type float64, the model expects float32"),
            std::string::npos);
  EXPECT_NE(msg({}).find("takes 1 input ('x'), got 0"), std::string::npos);
  EXPECT_NE(msg({Tensor()}).find("input 'x' is missing"), std::string::npos);
  EXPECT_EQ((*s)->compiled_count(), 0u);
}

TEST(SessionTest, SymbolMustAgreeAcrossInputs) {
  Graph g;
  SymbolicShape shape{Dim::Symbol("batch"), Dim::Known(2)};
  ValueId a = g.AddInput("a", {DataType::kFloat32, shape});
  ValueId b = g.AddInput("b", {DataType::kFloat32, shape});
  ValueId ya = g.AddValue("ya", {DataType::kFloat32, shape});
  ValueId yb = g.AddValue("yb", {DataType::kFloat32, shape});
  g.AddNode("Relu", {a}, {ya});
  g.AddNode("Relu", {b}, {yb});
  g.AddOutput(ya);
  g.AddOutput(yb);
  std::vector<Tensor> in{testing::RandomTensor({3, 2}), testing::RandomTensor({4, 2})};
  auto r = CheckInputs(g, in);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("'batch' is 3 in input 'a'"), std::string::npos) << r.status().message();
  in[1] = testing::RandomTensor({3, 2}, 5);
  r = CheckInputs(g, in);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->at("batch"), 3);
}

TEST(SessionTest, UnknownOperatorIsReportedAtLoadNamingTheNode) {
  Graph g = ReluGraph();
  ValueId y = g.outputs()[0];
  ValueId z = g.AddValue("z", {DataType::kFloat32, {}});
  g.AddNode("Frobnicate", {y}, {z}, {}, "frob1");
  g.mutable_outputs() = {z};
  auto s = Session::FromGraph(std::move(g));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(s.status().message().find("Frobnicate 'frob1'"), std::string::npos) << s.status().message();
}

TEST(SessionTest, UnknownDeviceIsAnError) {
  SessionOptions options;
  options.device = "tpu:3";
  auto s = Session::FromGraph(ReluGraph(), options);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("tpu:3"), std::string::npos);
}

// Concurrent Runs on one Session are serialised, not racy (run under TSan in CI).
TEST(SessionTest, ConcurrentRunsAreSafe) {
  SessionOptions options;
  options.compile.threads = 1;
  auto s = Session::FromGraph(ReluGraph(), options);
  ASSERT_TRUE(s.ok());
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        Tensor x = testing::RandomTensor({1 + (i + t) % 3, 3}, static_cast<uint32_t>(t * 100 + i));
        auto y = (*s)->Run({&x, 1});
        if (!y.ok() || (*y)[0].shape() != x.shape()) {
          ++failures[t];
          continue;
        }
        for (int64_t k = 0; k < x.num_elements(); ++k)
          if ((*y)[0].data<float>()[k] != std::max(x.data<float>()[k], 0.f)) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
  EXPECT_EQ((*s)->compiled_count(), 3u);
}

}  // namespace
}  // namespace tutti
