// The oneDNN-backed CPU operators against naive reference loops written here (direct definitions
// of each operator, no shared code with the kernels): odd sizes, groups, dilations, padding,
// auto_pad, ceil mode, transposes, broadcasts and fused post-ops.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "support/test_support.h"

namespace tutti {
namespace {

using testing::RandomTensor;
using testing::RelativePeakError;
using Attrs = std::map<std::string, AttrValue>;

struct In {
  Tensor t;
  bool constant = false;
};

// Builds a one-node graph, compiles it on the CPU backend, runs it, returns output 0.
Result<Tensor> RunNode(const std::string& op, const std::vector<In>& inputs, const Attrs& attrs, const Shape& out_shape,
                       int threads = 2) {
  Graph g;
  std::vector<ValueId> ids;
  std::vector<Tensor> feeds;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string name = "in" + std::to_string(i);
    if (!inputs[i].t.defined()) {
      ids.push_back(kNoValue);
    } else if (inputs[i].constant) {
      ids.push_back(g.AddConstant(name, inputs[i].t));
    } else {
      ids.push_back(g.AddInput(name, {DataType::kFloat32, ToSymbolic(inputs[i].t.shape())}));
      feeds.push_back(inputs[i].t);
    }
  }
  ValueId y = g.AddValue("y", {DataType::kFloat32, ToSymbolic(out_shape)});
  g.AddNode(op, ids, {y}, attrs, "node");
  g.AddOutput(y);
  TUTTI_ASSIGN_OR_RETURN(auto backend, CreateBackend("cpu"));
  CompileOptions opts;
  opts.threads = threads;
  TUTTI_ASSIGN_OR_RETURN(auto exe, backend->Compile(g, opts));
  std::vector<Tensor> outs;
  TUTTI_RETURN_IF_ERROR(exe->Run(feeds, outs));
  return outs.at(0);
}

Tensor Empty(const Shape& s) { return Tensor::Zeros(DataType::kFloat32, s).value(); }

// ---- Conv reference: spatial dims padded to 3 (D, H, W) ------------------------------------------
struct ConvSpec {
  Shape x, w;  // x [N, C, s...], w [M, C/g, k...]
  int64_t group = 1;
  std::vector<int64_t> strides = {}, dilations = {}, pads = {};  // empty = defaults
  bool bias = true;
  std::string auto_pad = {};
};

std::vector<int64_t> Pad3(std::vector<int64_t> v, size_t r, int64_t fill) {
  v.insert(v.begin(), 3 - r, fill);
  return v;
}

// Output spatial sizes, ONNX's formulas.
std::vector<int64_t> ConvGeometry(const ConvSpec& c, std::vector<int64_t>& pb, std::vector<int64_t>& pe) {
  const size_t r = c.x.size() - 2;
  std::vector<int64_t> st = c.strides.empty() ? std::vector<int64_t>(r, 1) : c.strides;
  std::vector<int64_t> di = c.dilations.empty() ? std::vector<int64_t>(r, 1) : c.dilations;
  std::vector<int64_t> pads = c.pads.empty() ? std::vector<int64_t>(2 * r, 0) : c.pads;
  std::vector<int64_t> out(r);
  pb.assign(pads.begin(), pads.begin() + r);
  pe.assign(pads.begin() + r, pads.end());
  for (size_t i = 0; i < r; ++i) {
    const int64_t in = c.x[i + 2], span = (c.w[i + 2] - 1) * di[i] + 1;
    if (c.auto_pad == "SAME_UPPER" || c.auto_pad == "SAME_LOWER") {
      out[i] = (in + st[i] - 1) / st[i];
      const int64_t total = std::max<int64_t>(0, (out[i] - 1) * st[i] + span - in);
      pb[i] = c.auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      pe[i] = total - pb[i];
    } else {
      out[i] = (in + pb[i] + pe[i] - span) / st[i] + 1;
    }
  }
  return out;
}

Tensor ConvReference(const ConvSpec& c, const Tensor& x, const Tensor& w, const Tensor* b, Shape& out_shape) {
  const size_t r = c.x.size() - 2;
  std::vector<int64_t> pb, pe;
  std::vector<int64_t> out = ConvGeometry(c, pb, pe);
  std::vector<int64_t> st = Pad3(c.strides.empty() ? std::vector<int64_t>(r, 1) : c.strides, r, 1);
  std::vector<int64_t> di = Pad3(c.dilations.empty() ? std::vector<int64_t>(r, 1) : c.dilations, r, 1);
  std::vector<int64_t> in3 = Pad3(std::vector<int64_t>(c.x.begin() + 2, c.x.end()), r, 1);
  std::vector<int64_t> k3 = Pad3(std::vector<int64_t>(c.w.begin() + 2, c.w.end()), r, 1);
  std::vector<int64_t> o3 = Pad3(out, r, 1), p3 = Pad3(pb, r, 0);
  const int64_t n = c.x[0], ci = c.x[1], co = c.w[0], g = c.group, cig = ci / g, cog = co / g;
  out_shape = {n, co};
  out_shape.insert(out_shape.end(), out.begin(), out.end());
  Tensor y = Empty(out_shape);
  const float *xv = x.data<float>(), *wv = w.data<float>();
  float* yv = y.data<float>();
  for (int64_t b0 = 0; b0 < n; ++b0)
    for (int64_t m = 0; m < co; ++m)
      for (int64_t od = 0; od < o3[0]; ++od)
        for (int64_t oh = 0; oh < o3[1]; ++oh)
          for (int64_t ow = 0; ow < o3[2]; ++ow) {
            double acc = b ? b->data<float>()[m] : 0.0;
            const int64_t grp = m / cog;
            for (int64_t cc = 0; cc < cig; ++cc)
              for (int64_t kd = 0; kd < k3[0]; ++kd)
                for (int64_t kh = 0; kh < k3[1]; ++kh)
                  for (int64_t kw = 0; kw < k3[2]; ++kw) {
                    const int64_t id = od * st[0] + kd * di[0] - p3[0], ih = oh * st[1] + kh * di[1] - p3[1],
                                  iw = ow * st[2] + kw * di[2] - p3[2];
                    if (id < 0 || ih < 0 || iw < 0 || id >= in3[0] || ih >= in3[1] || iw >= in3[2]) continue;
                    const int64_t xc = grp * cig + cc;
                    acc += double(xv[(((b0 * ci + xc) * in3[0] + id) * in3[1] + ih) * in3[2] + iw]) *
                           wv[(((m * cig + cc) * k3[0] + kd) * k3[1] + kh) * k3[2] + kw];
                  }
            yv[(((b0 * co + m) * o3[0] + od) * o3[1] + oh) * o3[2] + ow] = static_cast<float>(acc);
          }
  return y;
}

Attrs ConvAttrs(const ConvSpec& c) {
  Attrs a;
  a["group"] = c.group;
  if (!c.strides.empty()) a["strides"] = c.strides;
  if (!c.dilations.empty()) a["dilations"] = c.dilations;
  if (!c.pads.empty()) a["pads"] = c.pads;
  if (!c.auto_pad.empty()) a["auto_pad"] = c.auto_pad;
  return a;
}

class ConvTest : public ::testing::TestWithParam<ConvSpec> {};

TEST_P(ConvTest, MatchesDirectLoops) {
  const ConvSpec& c = GetParam();
  Tensor x = RandomTensor(c.x, 1), w = RandomTensor(c.w, 2), b = RandomTensor({c.w[0]}, 3);
  Shape out_shape;
  Tensor ref = ConvReference(c, x, w, c.bias ? &b : nullptr, out_shape);
  for (bool constant_weights : {true, false}) {
    std::vector<In> ins = {{x}, {w, constant_weights}};
    if (c.bias) ins.push_back({b, constant_weights});
    auto y = RunNode("Conv", ins, ConvAttrs(c), out_shape);
    ASSERT_TRUE(y.ok()) << y.status().ToString();
    ASSERT_EQ(y->shape(), out_shape);
    EXPECT_LT(RelativePeakError(*y, ref), 1e-5) << "constant weights: " << constant_weights;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, ConvTest,
    ::testing::Values(ConvSpec{{1, 3, 11, 13}, {5, 3, 3, 3}},                                    // plain 2-D
                      ConvSpec{{2, 6, 9, 7}, {4, 3, 3, 2}, 2, {2, 1}, {1, 2}, {1, 0, 2, 1}},        // groups, stride, dilation
                      ConvSpec{{1, 16, 10, 10}, {16, 1, 3, 3}, 16, {1, 1}, {}, {1, 1, 1, 1}},       // depthwise
                      ConvSpec{{1, 32, 7, 9}, {24, 32, 1, 1}, 1, {}, {}, {}, false},                // 1x1, no bias
                      ConvSpec{{2, 5, 17}, {7, 5, 4}, 1, {3}, {2}, {2, 1}},                         // 1-D
                      ConvSpec{{1, 4, 5, 6, 7}, {3, 4, 2, 3, 2}, 1, {1, 2, 1}, {}, {0, 1, 1, 1, 0, 1}},  // 3-D
                      ConvSpec{{1, 3, 10, 11}, {4, 3, 4, 3}, 1, {2, 3}, {}, {}, true, "SAME_UPPER"},
                      ConvSpec{{1, 3, 10, 11}, {4, 3, 4, 3}, 1, {2, 3}, {}, {}, true, "SAME_LOWER"},
                      ConvSpec{{1, 3, 8, 8}, {4, 3, 3, 3}, 1, {2, 2}, {}, {}, true, "VALID"},
                      ConvSpec{{3, 64, 14, 14}, {128, 64, 3, 3}, 1, {2, 2}, {}, {1, 1, 1, 1}}));  // ResNet-like

float Act(const std::string& op, float v, float alpha, float beta) {
  if (op == "Relu") return std::max(v, 0.f);
  if (op == "LeakyRelu") return v > 0 ? v : alpha * v;
  if (op == "Clip") return std::min(std::max(v, alpha), beta);
  if (op == "Sigmoid") return 1.f / (1.f + std::exp(-v));
  if (op == "HardSwish") return v * std::min(1.f, std::max(0.f, v / 6.f + 0.5f));
  if (op == "HardSigmoid") return std::min(1.f, std::max(0.f, alpha * v + beta));
  if (op == "Tanh") return std::tanh(v);
  return v;
}

struct FusedCase {
  std::string act;
  float alpha, beta;
  bool sum;
};
class ConvFusedTest : public ::testing::TestWithParam<FusedCase> {};

TEST_P(ConvFusedTest, PostOpsMatchReference) {
  const FusedCase& f = GetParam();
  ConvSpec c{{2, 8, 9, 9}, {16, 8, 3, 3}, 1, {}, {}, {1, 1, 1, 1}};
  Tensor x = RandomTensor(c.x, 4), w = RandomTensor(c.w, 5), b = RandomTensor({16}, 6);
  Shape out_shape;
  Tensor ref = ConvReference(c, x, w, &b, out_shape);
  Tensor sum = RandomTensor(out_shape, 7);
  for (int64_t i = 0; i < ref.num_elements(); ++i)
    ref.data<float>()[i] = Act(f.act, ref.data<float>()[i] + (f.sum ? sum.data<float>()[i] : 0.f), f.alpha, f.beta);
  Attrs a = ConvAttrs(c);
  if (!f.act.empty()) a["_fused_activation"] = f.act;
  a["_fused_alpha"] = f.alpha;
  a["_fused_beta"] = f.beta;
  std::vector<In> ins = {{x}, {w, true}, {b, true}};
  if (f.sum) {
    a["_fused_sum"] = int64_t{1};
    ins.push_back({sum});
  }
  auto y = RunNode("Conv", ins, a, out_shape);
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_LT(RelativePeakError(*y, ref), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Activations, ConvFusedTest,
                         ::testing::Values(FusedCase{"Relu", 0, 0, false}, FusedCase{"Relu", 0, 0, true},
                                           FusedCase{"", 0, 0, true}, FusedCase{"Clip", 0.f, 6.f, false},
                                           FusedCase{"LeakyRelu", 0.1f, 0, true}, FusedCase{"Sigmoid", 0, 0, false},
                                           FusedCase{"HardSwish", 0, 0, false}, FusedCase{"HardSigmoid", 0.3f, 0.4f, false},
                                           FusedCase{"Tanh", 0, 0, false}));

TEST(ConvTest, UnknownFusedActivationIsAnError) {
  auto y = RunNode("Conv", {{RandomTensor({1, 2, 4, 4})}, {RandomTensor({2, 2, 1, 1}), true}},
                   {{"_fused_activation", std::string("Frobnicate")}}, {1, 2, 4, 4});
  ASSERT_FALSE(y.ok());
  EXPECT_NE(y.status().message().find("Frobnicate"), std::string::npos) << y.status().message();
}

// ---- ConvTranspose: scatter definition ----------------------------------------------------------
struct DeconvSpec {
  Shape x, w;  // w [C, M/g, k...]
  int64_t group;
  std::vector<int64_t> strides, pads, output_padding, dilations;
};
class ConvTransposeTest : public ::testing::TestWithParam<DeconvSpec> {};

TEST_P(ConvTransposeTest, MatchesScatterLoops) {
  const DeconvSpec& c = GetParam();
  const size_t r = c.x.size() - 2;
  ASSERT_LE(r, 2u);
  const int64_t n = c.x[0], ci = c.x[1], g = c.group, cig = ci / g, cog = c.w[1], co = cog * g;
  auto at = [&](const std::vector<int64_t>& v, size_t i, int64_t d) { return v.empty() ? d : v[i]; };
  Shape out_shape = {n, co};
  std::vector<int64_t> in2 = Pad3(std::vector<int64_t>(c.x.begin() + 2, c.x.end()), r, 1);
  in2.erase(in2.begin());
  std::vector<int64_t> k2 = {r == 2 ? c.w[2] : 1, c.w.back()}, s2(2, 1), d2(2, 1), p2(2, 0), o2(2, 1);
  for (size_t i = 0; i < r; ++i) {
    const size_t j = i + 2 - r;
    s2[j] = at(c.strides, i, 1);
    d2[j] = at(c.dilations, i, 1);
    p2[j] = at(c.pads, i, 0);
    o2[j] = s2[j] * (in2[j] - 1) + at(c.output_padding, i, 0) + (k2[j] - 1) * d2[j] + 1 - p2[j] - at(c.pads, i + r, 0);
    out_shape.push_back(o2[j]);
  }
  Tensor x = RandomTensor(c.x, 8), w = RandomTensor(c.w, 9), b = RandomTensor({co}, 10);
  Tensor ref = Empty(out_shape);
  float* yv = ref.data<float>();
  for (int64_t b0 = 0; b0 < n; ++b0)
    for (int64_t m = 0; m < co; ++m)
      for (int64_t i = 0; i < o2[0] * o2[1]; ++i) yv[(b0 * co + m) * o2[0] * o2[1] + i] = b.data<float>()[m];
  for (int64_t b0 = 0; b0 < n; ++b0)
    for (int64_t cc = 0; cc < ci; ++cc)
      for (int64_t ih = 0; ih < in2[0]; ++ih)
        for (int64_t iw = 0; iw < in2[1]; ++iw)
          for (int64_t mm = 0; mm < cog; ++mm)
            for (int64_t kh = 0; kh < k2[0]; ++kh)
              for (int64_t kw = 0; kw < k2[1]; ++kw) {
                const int64_t oh = ih * s2[0] + kh * d2[0] - p2[0], ow = iw * s2[1] + kw * d2[1] - p2[1];
                if (oh < 0 || ow < 0 || oh >= o2[0] || ow >= o2[1]) continue;
                const int64_t m = (cc / cig) * cog + mm;
                yv[((b0 * co + m) * o2[0] + oh) * o2[1] + ow] +=
                    x.data<float>()[((b0 * ci + cc) * in2[0] + ih) * in2[1] + iw] *
                    w.data<float>()[((cc * cog + mm) * k2[0] + kh) * k2[1] + kw];
              }
  Attrs a = {{"group", c.group}};
  if (!c.strides.empty()) a["strides"] = c.strides;
  if (!c.pads.empty()) a["pads"] = c.pads;
  if (!c.output_padding.empty()) a["output_padding"] = c.output_padding;
  if (!c.dilations.empty()) a["dilations"] = c.dilations;
  auto y = RunNode("ConvTranspose", {{x}, {w, true}, {b, true}}, a, out_shape);
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  ASSERT_EQ(y->shape(), out_shape);
  EXPECT_LT(RelativePeakError(*y, ref), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Shapes, ConvTransposeTest,
                         ::testing::Values(DeconvSpec{{1, 3, 5, 6}, {3, 2, 3, 3}, 1, {}, {}, {}, {}},
                                           DeconvSpec{{2, 4, 5, 4}, {4, 3, 3, 2}, 2, {2, 3}, {1, 0, 1, 1}, {1, 2}, {}},
                                           DeconvSpec{{1, 2, 7}, {2, 3, 3}, 1, {2}, {}, {}, {2}},
                                           DeconvSpec{{1, 6, 4, 4}, {6, 1, 3, 3}, 6, {2, 2}, {1, 1, 1, 1}, {1, 1}, {}}));

// ---- Gemm / MatMul ------------------------------------------------------------------------------
struct GemmCase {
  int64_t m, k, n;
  bool ta, tb;
  float alpha, beta;
  Shape c;  // empty = no C
  bool const_b, const_c;
};
class GemmTest : public ::testing::TestWithParam<GemmCase> {};

TEST_P(GemmTest, MatchesDirectLoops) {
  const GemmCase& p = GetParam();
  Tensor a = RandomTensor(p.ta ? Shape{p.k, p.m} : Shape{p.m, p.k}, 11);
  Tensor b = RandomTensor(p.tb ? Shape{p.n, p.k} : Shape{p.k, p.n}, 12);
  Tensor c = p.c.empty() ? Tensor() : RandomTensor(p.c, 13);
  Tensor ref = Empty({p.m, p.n});
  for (int64_t i = 0; i < p.m; ++i)
    for (int64_t j = 0; j < p.n; ++j) {
      double acc = 0;
      for (int64_t q = 0; q < p.k; ++q)
        acc += double(a.data<float>()[p.ta ? q * p.m + i : i * p.k + q]) * b.data<float>()[p.tb ? j * p.k + q : q * p.n + j];
      double cv = 0;
      if (c.defined()) {
        const int64_t cm = c.rank() == 2 ? c.dim(0) : 1, cn = c.rank() >= 1 ? c.dim(-1) : 1;
        cv = c.data<float>()[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
      }
      ref.data<float>()[i * p.n + j] = static_cast<float>(p.alpha * acc + p.beta * cv);
    }
  std::vector<In> ins = {{a}, {b, p.const_b}};
  if (c.defined()) ins.push_back({c, p.const_c});
  Attrs at = {{"transA", int64_t{p.ta}}, {"transB", int64_t{p.tb}}, {"alpha", p.alpha}, {"beta", p.beta}};
  auto y = RunNode("Gemm", ins, at, {p.m, p.n});
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_LT(RelativePeakError(*y, ref), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Cases, GemmTest,
                         ::testing::Values(GemmCase{3, 5, 7, false, false, 1, 1, {7}, true, true},
                                           GemmCase{3, 5, 7, true, true, 0.5f, 2, {3, 7}, true, false},
                                           GemmCase{4, 9, 6, false, true, 2, 0.25f, {4, 1}, false, true},
                                           GemmCase{1, 512, 1000, false, true, 1, 1, {1000}, true, true},
                                           GemmCase{2, 3, 4, true, false, 1.5f, 1, {}, false, false},
                                           GemmCase{5, 4, 3, false, false, 1, 0.5f, {1}, false, false}));

struct MatMulCase {
  Shape a, b;
  bool const_b;
};
class MatMulTest : public ::testing::TestWithParam<MatMulCase> {};

TEST_P(MatMulTest, MatchesNumPySemantics) {
  const MatMulCase& p = GetParam();
  Tensor a = RandomTensor(p.a, 14), b = RandomTensor(p.b, 15);
  Shape as = p.a, bs = p.b;
  if (as.size() == 1) as.insert(as.begin(), 1);
  if (bs.size() == 1) bs.push_back(1);
  const size_t rank = std::max(as.size(), bs.size());
  as.insert(as.begin(), rank - as.size(), 1);
  bs.insert(bs.begin(), rank - bs.size(), 1);
  const int64_t m = as[rank - 2], k = as[rank - 1], n = bs[rank - 1];
  Shape batch;
  for (size_t i = 0; i + 2 < rank; ++i) batch.push_back(std::max(as[i], bs[i]));
  Shape out = batch;
  if (p.a.size() > 1) out.push_back(m);
  if (p.b.size() > 1) out.push_back(n);
  Tensor ref = Empty(out);
  const int64_t nb = NumElements(batch);
  for (int64_t bi = 0; bi < nb; ++bi) {
    int64_t aoff = 0, boff = 0, rem = bi, astride = 1, bstride = 1;
    for (size_t d = batch.size(); d-- > 0;) {  // broadcast index per operand
      const int64_t idx = rem % batch[d];
      rem /= batch[d];
      aoff += (as[d] == 1 ? 0 : idx) * astride;
      boff += (bs[d] == 1 ? 0 : idx) * bstride;
      astride *= as[d];
      bstride *= bs[d];
    }
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t q = 0; q < k; ++q)
          acc += double(a.data<float>()[aoff * m * k + i * k + q]) * b.data<float>()[boff * k * n + q * n + j];
        ref.data<float>()[(bi * m + i) * n + j] = static_cast<float>(acc);
      }
  }
  auto y = RunNode("MatMul", {{a}, {b, p.const_b}}, {}, out);
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  ASSERT_EQ(y->shape(), out);
  EXPECT_LT(RelativePeakError(*y, ref), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(Cases, MatMulTest,
                         ::testing::Values(MatMulCase{{3, 5}, {5, 7}, true}, MatMulCase{{2, 3, 5}, {2, 5, 4}, false},
                                           MatMulCase{{2, 1, 3, 5}, {4, 5, 6}, false}, MatMulCase{{5}, {5, 3}, false},
                                           MatMulCase{{2, 3, 5}, {5}, false}, MatMulCase{{7}, {7}, false},
                                           MatMulCase{{4, 3, 5}, {5, 2}, true}));

// ---- Pooling ------------------------------------------------------------------------------------
struct PoolCase {
  std::string op;
  Shape x;
  std::vector<int64_t> kernel = {}, strides = {}, pads = {}, dilations = {};
  int64_t ceil_mode = 0, count_include_pad = 0;
};
class PoolTest : public ::testing::TestWithParam<PoolCase> {};

TEST_P(PoolTest, MatchesDirectLoops) {
  const PoolCase& p = GetParam();
  ASSERT_EQ(p.x.size(), 4u);
  const bool global = p.op.rfind("Global", 0) == 0, is_max = p.op.find("Max") != std::string::npos;
  std::vector<int64_t> k = global ? std::vector<int64_t>{p.x[2], p.x[3]} : p.kernel;
  std::vector<int64_t> s = p.strides.empty() ? std::vector<int64_t>{1, 1} : p.strides;
  std::vector<int64_t> pd = p.pads.empty() ? std::vector<int64_t>{0, 0, 0, 0} : p.pads;
  std::vector<int64_t> d = p.dilations.empty() ? std::vector<int64_t>{1, 1} : p.dilations;
  std::vector<int64_t> o(2);
  for (int i = 0; i < 2; ++i) {
    const int64_t room = p.x[i + 2] + pd[i] + pd[i + 2] - ((k[i] - 1) * d[i] + 1);
    o[i] = (p.ceil_mode ? (room + s[i] - 1) / s[i] : room / s[i]) + 1;
  }
  Shape out = {p.x[0], p.x[1], o[0], o[1]};
  Tensor x = RandomTensor(p.x, 16), ref = Empty(out);
  for (int64_t nc = 0; nc < p.x[0] * p.x[1]; ++nc)
    for (int64_t oh = 0; oh < o[0]; ++oh)
      for (int64_t ow = 0; ow < o[1]; ++ow) {
        double acc = is_max ? -INFINITY : 0;
        int64_t count = 0;
        for (int64_t kh = 0; kh < k[0]; ++kh)
          for (int64_t kw = 0; kw < k[1]; ++kw) {
            const int64_t ih = oh * s[0] + kh * d[0] - pd[0], iw = ow * s[1] + kw * d[1] - pd[1];
            // PyTorch/ONNX count padding only up to the padded input's end, never the ceil overhang.
            if (ih < p.x[2] + pd[2] && iw < p.x[3] + pd[3] && p.count_include_pad) ++count;
            if (ih < 0 || iw < 0 || ih >= p.x[2] || iw >= p.x[3]) continue;
            const float v = x.data<float>()[(nc * p.x[2] + ih) * p.x[3] + iw];
            if (is_max) acc = std::max<double>(acc, v);
            else acc += v;
            if (!p.count_include_pad) ++count;
          }
        ref.data<float>()[(nc * o[0] + oh) * o[1] + ow] = static_cast<float>(is_max ? acc : acc / count);
      }
  Attrs a;
  if (!global) {
    a["kernel_shape"] = p.kernel;
    if (!p.strides.empty()) a["strides"] = p.strides;
    if (!p.pads.empty()) a["pads"] = p.pads;
    if (!p.dilations.empty()) a["dilations"] = p.dilations;
    a["ceil_mode"] = p.ceil_mode;
    if (!is_max) a["count_include_pad"] = p.count_include_pad;
  }
  auto y = RunNode(p.op, {{x}}, a, out);
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  ASSERT_EQ(y->shape(), out);
  EXPECT_LT(RelativePeakError(*y, ref), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, PoolTest,
    ::testing::Values(PoolCase{"MaxPool", {1, 3, 11, 13}, {3, 3}, {2, 2}},
                      PoolCase{"MaxPool", {2, 5, 12, 12}, {3, 2}, {2, 1}, {1, 0, 1, 1}},
                      PoolCase{"MaxPool", {1, 16, 111, 111}, {3, 3}, {2, 2}, {}, {}, 1},  // SqueezeNet's ceil
                      PoolCase{"MaxPool", {1, 4, 9, 10}, {2, 3}, {1, 1}, {}, {2, 2}},
                      PoolCase{"AveragePool", {1, 3, 10, 9}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}, 0, 0},
                      PoolCase{"AveragePool", {1, 3, 10, 9}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}, 0, 1},
                      PoolCase{"AveragePool", {1, 3, 10, 10}, {3, 3}, {2, 2}, {}, {}, 1, 0},
                      PoolCase{"GlobalAveragePool", {2, 20, 7, 5}}, PoolCase{"GlobalMaxPool", {2, 20, 7, 5}}));

// ---- BatchNormalization, LRN, Softmax ------------------------------------------------------------
TEST(BatchNormTest, MatchesFormula) {
  for (bool constant : {true, false}) {
    Shape xs = {2, 7, 5, 3};
    Tensor x = RandomTensor(xs, 17), sc = RandomTensor({7}, 18), bi = RandomTensor({7}, 19), mean = RandomTensor({7}, 20);
    Tensor var = RandomTensor({7}, 21);
    for (int64_t i = 0; i < 7; ++i) var.data<float>()[i] = std::fabs(var.data<float>()[i]) + 0.1f;
    Tensor ref = Empty(xs);
    for (int64_t i = 0; i < x.num_elements(); ++i) {
      const int64_t c = (i / 15) % 7;
      ref.data<float>()[i] = (x.data<float>()[i] - mean.data<float>()[c]) / std::sqrt(var.data<float>()[c] + 1e-3f) *
                                 sc.data<float>()[c] + bi.data<float>()[c];
    }
    auto y = RunNode("BatchNormalization", {{x}, {sc, constant}, {bi, constant}, {mean, constant}, {var, constant}},
                     {{"epsilon", 1e-3f}}, xs);
    ASSERT_TRUE(y.ok()) << y.status().ToString();
    EXPECT_LT(RelativePeakError(*y, ref), 1e-5);
  }
}

TEST(LrnTest, OddAndEvenSizesMatchFormula) {
  for (int64_t size : {3, 4, 5}) {
    Shape xs = {2, 9, 4, 3};
    Tensor x = RandomTensor(xs, 22), ref = Empty(xs);
    const float alpha = 2e-4f, beta = 0.75f, bias = 1.5f;
    const int64_t inner = 12;
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t c = 0; c < 9; ++c)
        for (int64_t i = 0; i < inner; ++i) {
          double sq = 0;
          for (int64_t j = c - (size - 1) / 2; j <= c + size / 2; ++j)
            if (j >= 0 && j < 9) sq += std::pow(x.data<float>()[(b * 9 + j) * inner + i], 2);
          const int64_t at = (b * 9 + c) * inner + i;
          ref.data<float>()[at] = static_cast<float>(x.data<float>()[at] / std::pow(bias + alpha / size * sq, beta));
        }
    auto y = RunNode("LRN", {{x}}, {{"size", size}, {"alpha", alpha}, {"beta", beta}, {"bias", bias}}, xs);
    ASSERT_TRUE(y.ok()) << y.status().ToString();
    EXPECT_LT(RelativePeakError(*y, ref), 1e-5) << "size " << size;
  }
}

TEST(SoftmaxTest, EveryAxisBothKinds) {
  Shape xs = {3, 4, 5};
  Tensor x = RandomTensor(xs, 23);
  for (const char* op : {"Softmax", "LogSoftmax"})
    for (int64_t axis : {-1, 0, 1, 2}) {
      const int64_t ax = axis < 0 ? axis + 3 : axis;
      int64_t outer = 1, inner = 1;
      for (int64_t d = 0; d < ax; ++d) outer *= xs[d];
      for (int64_t d = ax + 1; d < 3; ++d) inner *= xs[d];
      const int64_t len = xs[ax];
      Tensor ref = Empty(xs);
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
          double mx = -INFINITY, sum = 0;
          for (int64_t j = 0; j < len; ++j) mx = std::max<double>(mx, x.data<float>()[(o * len + j) * inner + i]);
          for (int64_t j = 0; j < len; ++j) sum += std::exp(x.data<float>()[(o * len + j) * inner + i] - mx);
          for (int64_t j = 0; j < len; ++j) {
            const double v = x.data<float>()[(o * len + j) * inner + i] - mx;
            ref.data<float>()[(o * len + j) * inner + i] =
                static_cast<float>(std::string(op) == "Softmax" ? std::exp(v) / sum : v - std::log(sum));
          }
        }
      auto y = RunNode(op, {{x}}, {{"axis", axis}}, xs);
      ASSERT_TRUE(y.ok()) << y.status().ToString();
      EXPECT_LT(RelativePeakError(*y, ref), 1e-5) << op << " axis " << axis;
    }
}

}  // namespace
}  // namespace tutti
