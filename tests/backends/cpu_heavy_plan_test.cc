// The CPU executable's plan -- fusion into post-ops, blocked layouts kept between oneDNN kernels,
// one arena with liveness-based reuse and in-place sums -- must not change any result: a
// ResNet/SqueezeNet-like graph run whole is compared with the same nodes run one at a time (each
// kernel alone, plain layouts, no fusion; those kernels are checked against direct loops in
// cpu_heavy_ops_test.cc).
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "backends/backend.h"
#include "support/test_support.h"

namespace tutti {
namespace {

using testing::RandomTensor;
using testing::RelativePeakError;

// A small network touching every planning case: residual adds (fused sums), Relu/Clip fusion,
// a value with two consumers, a channel count that is not a multiple of the block size (24), a
// plain consumer of a blocked producer (Concat, Flatten), pooling and a final Gemm.
Graph MakeNet(int64_t batch) {
  Graph g;
  auto f32 = [](Shape s) { return TensorInfo{DataType::kFloat32, ToSymbolic(s)}; };
  uint32_t seed = 100;
  auto weight = [&](Shape s) {
    const uint32_t id = seed++;
    return g.AddConstant("w" + std::to_string(id), RandomTensor(s, id));
  };
  auto value = [&](const std::string& name, Shape s) { return g.AddValue(name, f32(s)); };
  using A = std::map<std::string, AttrValue>;
  const std::vector<int64_t> pad1 = {1, 1, 1, 1};
  ValueId x = g.AddInput("x", f32({batch, 3, 20, 20}));
  ValueId c1 = value("c1", {batch, 32, 10, 10});
  g.AddNode("Conv", {x, weight({32, 3, 3, 3}), weight({32})}, {c1}, A{{"strides", std::vector<int64_t>{2, 2}}, {"pads", pad1}});
  ValueId r1 = value("r1", {batch, 32, 10, 10});
  g.AddNode("Relu", {c1}, {r1});
  // Residual block: r1 -> conv -> relu -> conv -> add(r1) -> relu
  ValueId c2 = value("c2", {batch, 32, 10, 10}), r2 = value("r2", {batch, 32, 10, 10});
  g.AddNode("Conv", {r1, weight({32, 32, 3, 3}), weight({32})}, {c2}, A{{"pads", pad1}});
  g.AddNode("Relu", {c2}, {r2});
  ValueId c3 = value("c3", {batch, 32, 10, 10}), s3 = value("s3", {batch, 32, 10, 10}), r3 = value("r3", {batch, 32, 10, 10});
  g.AddNode("Conv", {r2, weight({32, 32, 3, 3}), weight({32})}, {c3}, A{{"pads", pad1}});
  g.AddNode("Add", {c3, r1}, {s3});
  g.AddNode("Relu", {s3}, {r3});
  // MobileNet-like: 1x1 to 24 channels + Clip(0, 6), depthwise, residual without activation.
  ValueId c4 = value("c4", {batch, 24, 10, 10}), k4 = value("k4", {batch, 24, 10, 10});
  g.AddNode("Conv", {r3, weight({24, 32, 1, 1}), weight({24})}, {c4});
  ValueId lo = g.AddConstant("lo", Tensor::FromVector<float>({0.f})), hi = g.AddConstant("hi", Tensor::FromVector<float>({6.f}));
  g.AddNode("Clip", {c4, lo, hi}, {k4});
  ValueId c5 = value("c5", {batch, 24, 10, 10}), s5 = value("s5", {batch, 24, 10, 10});
  g.AddNode("Conv", {k4, weight({24, 1, 3, 3}), weight({24})}, {c5}, A{{"pads", pad1}, {"group", int64_t{24}}});
  g.AddNode("Add", {k4, c5}, {s5});
  // Pool, then a SqueezeNet fire module (Concat of two expand convs).
  ValueId p6 = value("p6", {batch, 24, 5, 5});
  g.AddNode("MaxPool", {s5}, {p6},
            A{{"kernel_shape", std::vector<int64_t>{3, 3}}, {"strides", std::vector<int64_t>{2, 2}}, {"ceil_mode", int64_t{1}}});
  ValueId e1 = value("e1", {batch, 16, 5, 5}), e3 = value("e3", {batch, 16, 5, 5}), cat = value("cat", {batch, 32, 5, 5});
  g.AddNode("Conv", {p6, weight({16, 24, 1, 1}), weight({16})}, {e1});
  g.AddNode("Conv", {p6, weight({16, 24, 3, 3}), weight({16})}, {e3}, A{{"pads", pad1}});
  g.AddNode("Concat", {e1, e3}, {cat}, A{{"axis", int64_t{1}}});
  ValueId gap = value("gap", {batch, 32, 1, 1}), flat = value("flat", {batch, 32}), y = value("y", {batch, 10});
  g.AddNode("GlobalAveragePool", {cat}, {gap});
  g.AddNode("Flatten", {gap}, {flat}, A{{"axis", int64_t{1}}});
  g.AddNode("Gemm", {flat, weight({10, 32}), weight({10})}, {y}, A{{"transB", int64_t{1}}});
  g.AddOutput(y);
  g.AddOutput(r3);  // an intermediate that is also a graph output (must come back plain)
  return g;
}

// Runs every node of `g` as its own one-node graph, feeding values along.
std::map<ValueId, Tensor> RunNodeByNode(const Graph& g, const Tensor& x, Backend& cpu) {
  std::map<ValueId, Tensor> vals;
  vals[g.inputs()[0]] = x;
  const std::vector<NodeId> order = g.TopologicalOrder().value();
  for (NodeId id : order) {
    const Node& n = g.node(id);
    Graph one;
    std::vector<ValueId> ins;
    std::vector<Tensor> feeds;
    for (ValueId v : n.inputs) {
      const Value& val = g.value(v);
      if (val.is_constant()) {
        ins.push_back(one.AddConstant(val.name, val.constant));
      } else {
        ins.push_back(one.AddInput(val.name, val.info));
        feeds.push_back(vals.at(v));
      }
    }
    ValueId out = one.AddValue(g.value(n.outputs[0]).name, g.value(n.outputs[0]).info);
    one.AddNode(n.op_type, ins, {out}, n.attrs, n.name);
    one.AddOutput(out);
    CompileOptions opts;
    opts.enable_fusion = false;
    auto exe = cpu.Compile(one, opts);
    if (!exe.ok()) {
      ADD_FAILURE() << exe.status().ToString();
      return vals;
    }
    std::vector<Tensor> outs;
    Status st = (*exe)->Run(feeds, outs);
    if (!st.ok()) {
      ADD_FAILURE() << st.ToString();
      return vals;
    }
    vals[n.outputs[0]] = outs[0];
  }
  return vals;
}

TEST(CpuPlanTest, WholeGraphMatchesNodeByNode) {
  auto cpu = CreateBackend("cpu");
  ASSERT_TRUE(cpu.ok());
  for (int64_t batch : {1, 3}) {
    Graph g = MakeNet(batch);
    ASSERT_TRUE(g.Validate().ok());
    Tensor x = RandomTensor({batch, 3, 20, 20}, 7);
    std::map<ValueId, Tensor> ref = RunNodeByNode(g, x, **cpu);
    for (bool fusion : {true, false})
      for (int threads : {1, 2}) {
        CompileOptions opts;
        opts.threads = threads;
        opts.enable_fusion = fusion;
        auto exe = (*cpu)->Compile(g, opts);
        ASSERT_TRUE(exe.ok()) << exe.status().ToString();
        EXPECT_GT((*exe)->stats().arena_bytes, 0u);
        for (int rep = 0; rep < 2; ++rep) {  // a second run reuses the arena
          std::vector<Tensor> outs;
          ASSERT_TRUE((*exe)->Run({&x, 1}, outs).ok());
          ASSERT_EQ(outs.size(), 2u);
          EXPECT_LT(RelativePeakError(outs[0], ref.at(g.outputs()[0])), 1e-5) << "fusion " << fusion << " threads " << threads;
          EXPECT_LT(RelativePeakError(outs[1], ref.at(g.outputs()[1])), 1e-5) << "fusion " << fusion << " threads " << threads;
        }
      }
  }
}

TEST(CpuPlanTest, WritesIntoCallerProvidedOutputs) {
  auto cpu = CreateBackend("cpu");
  ASSERT_TRUE(cpu.ok());
  Graph g = MakeNet(2);
  Tensor x = RandomTensor({2, 3, 20, 20}, 9);
  auto exe = (*cpu)->Compile(g, {});
  ASSERT_TRUE(exe.ok()) << exe.status().ToString();
  std::vector<Tensor> fresh;
  ASSERT_TRUE((*exe)->Run({&x, 1}, fresh).ok());
  // Two shares of a bigger tensor, as a batch split hands them in.
  Tensor big = Tensor::Zeros(DataType::kFloat32, {4, 10}).value();
  std::vector<Tensor> outs = {big.SliceOuter(2, 4), Tensor()};
  ASSERT_TRUE((*exe)->Run({&x, 1}, outs).ok());
  EXPECT_TRUE(outs[0].SharesStorageWith(big.SliceOuter(2, 4)));
  EXPECT_LT(RelativePeakError(big.SliceOuter(2, 4), fresh[0]), 1e-6);
  EXPECT_EQ(big.data<float>()[0], 0.f);  // rows outside the share untouched
}

}  // namespace
}  // namespace tutti
