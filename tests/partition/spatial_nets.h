// Small NCHW networks for spatial-split tests: chains with strided/padded/dilated windows, a
// residual block with a strided shortcut, an inception-style concatenation block, depthwise convs.
// Shapes of every value are filled in by running the naive reference once (so no formula of ours
// decides them).
#pragma once

#include <map>
#include <string>

#include "spatial_naive_backend.h"
#include "support/test_support.h"

namespace tutti::testing {

class NetBuilder {
 public:
  NetBuilder(const std::string& name, Shape input) : input_shape_(input) {
    g_.name = name;
    g_.set_opset("", 13);
    cur_ = g_.AddInput("x", {DataType::kFloat32, ToSymbolic(input)});
    channels_[cur_] = input[1];
  }
  ValueId cur() const { return cur_; }
  void set_cur(ValueId v) { cur_ = v; }

  ValueId Conv(int64_t oc, std::vector<int64_t> k, std::vector<int64_t> strides, std::vector<int64_t> pads,
               std::vector<int64_t> dilations = {1, 1}, int64_t group = 1, std::string auto_pad = "") {
    int64_t ic = channels_.at(cur_);
    Tensor w = RandomTensor({oc, ic / group, k[0], k[1]}, seed_++);
    Tensor b = RandomTensor({oc}, seed_++);
    ValueId wv = g_.AddConstant(Name("w"), w), bv = g_.AddConstant(Name("b"), b);
    std::map<std::string, AttrValue> a = {{"strides", strides}, {"dilations", dilations}, {"group", group}};
    if (auto_pad.empty()) a["pads"] = pads;
    else a["auto_pad"] = auto_pad;
    return Emit("Conv", {cur_, wv, bv}, std::move(a), oc);
  }
  ValueId Pool(const std::string& op, std::vector<int64_t> k, std::vector<int64_t> strides, std::vector<int64_t> pads,
               bool ceil = false) {
    return Emit(op, {cur_}, {{"kernel_shape", k}, {"strides", strides}, {"pads", pads}, {"ceil_mode", int64_t{ceil}}},
                channels_.at(cur_));
  }
  ValueId Relu() { return Emit("Relu", {cur_}, {}, channels_.at(cur_)); }
  ValueId Clip6() {
    ValueId lo = g_.AddConstant(Name("lo"), Tensor::FromVector<float>({0.f})),
            hi = g_.AddConstant(Name("hi"), Tensor::FromVector<float>({6.f}));
    return Emit("Clip", {cur_, lo, hi}, {}, channels_.at(cur_));
  }
  ValueId Add(ValueId a, ValueId b) { return Emit("Add", {a, b}, {}, channels_.at(a)); }
  ValueId Concat(std::vector<ValueId> vs) {
    int64_t c = 0;
    for (ValueId v : vs) c += channels_.at(v);
    return Emit("Concat", vs, {{"axis", int64_t{1}}}, c);
  }
  ValueId GlobalAveragePool() { return Emit("GlobalAveragePool", {cur_}, {}, channels_.at(cur_)); }

  // Ends the graph at the current value and fills in every value's shape from a reference run.
  Graph Finish() {
    g_.AddOutput(cur_);
    NaiveExecutable ref(g_);
    auto all = ref.RunAll(RandomTensor(input_shape_, 1));
    for (auto& [v, t] : all) g_.value(v).info = {DataType::kFloat32, ToSymbolic(t.shape())};
    return g_;
  }

 private:
  std::string Name(const std::string& base) { return base + std::to_string(counter_++); }
  ValueId Emit(const std::string& op, std::vector<ValueId> ins, std::map<std::string, AttrValue> attrs, int64_t c) {
    std::string name = Name(op);
    ValueId out = g_.AddValue(name + "_out", {DataType::kFloat32, std::nullopt});
    g_.AddNode(op, std::move(ins), {out}, std::move(attrs), name);
    channels_[out] = c;
    return cur_ = out;
  }

  Graph g_;
  Shape input_shape_;
  ValueId cur_;
  std::map<ValueId, int64_t> channels_;
  int counter_ = 0;
  uint64_t seed_ = 100;
};

// conv(3x3,p1) relu maxpool(2,s2) conv(5x5,s2,p2) conv(3x3,dil2,p2) avgpool(3,s2,p1,ceil) conv(4x4,s2,SAME_UPPER)
// conv(3x3, s3, p(0,1,2,1)) relu | GlobalAveragePool (head)
inline Graph ChainNet() {
  NetBuilder b("chain", {1, 3, 37, 29});
  b.Conv(4, {3, 3}, {1, 1}, {1, 1, 1, 1});
  b.Relu();
  b.Pool("MaxPool", {2, 2}, {2, 2}, {0, 0, 0, 0});
  b.Conv(5, {5, 5}, {2, 2}, {2, 2, 2, 2});
  b.Conv(4, {3, 3}, {1, 1}, {2, 2, 2, 2}, {2, 2});
  b.Pool("AveragePool", {3, 3}, {2, 2}, {1, 1, 1, 1}, true);
  b.Conv(6, {4, 4}, {2, 2}, {}, {1, 1}, 1, "SAME_UPPER");
  b.Conv(3, {3, 3}, {1, 1}, {0, 1, 2, 1});
  b.Relu();
  b.GlobalAveragePool();
  return b.Finish();
}

// stem conv, a residual block with a strided shortcut (1x1 s2) beside conv3x3 s2 -> relu -> conv,
// an identity residual block, then an inception-style block (1x1 | 3x3 | maxpool 3 s1 p1 -> concat),
// a depthwise conv + ReLU6 (MobileNet), and the head.
inline Graph BlockNet() {
  NetBuilder b("blocks", {2, 3, 31, 22});
  ValueId x = b.Conv(6, {3, 3}, {1, 1}, {1, 1, 1, 1});
  b.Conv(8, {3, 3}, {2, 2}, {1, 1, 1, 1});
  b.Relu();
  ValueId main = b.Conv(8, {3, 3}, {1, 1}, {1, 1, 1, 1});
  b.set_cur(x);
  ValueId shortcut = b.Conv(8, {1, 1}, {2, 2}, {0, 0, 0, 0});
  ValueId y = b.Add(main, shortcut);
  b.set_cur(y);
  b.Relu();
  ValueId r = b.cur();
  b.Conv(8, {3, 3}, {1, 1}, {1, 1, 1, 1});
  b.Relu();
  ValueId m2 = b.Conv(8, {3, 3}, {1, 1}, {1, 1, 1, 1});
  b.set_cur(b.Add(m2, r));
  ValueId z = b.cur();
  ValueId c1 = b.Conv(4, {1, 1}, {1, 1}, {0, 0, 0, 0});
  b.set_cur(z);
  ValueId c3 = b.Conv(4, {3, 3}, {1, 1}, {1, 1, 1, 1});
  b.set_cur(z);
  ValueId mp = b.Pool("MaxPool", {3, 3}, {1, 1}, {1, 1, 1, 1});
  b.set_cur(b.Concat({c1, c3, mp}));
  b.Conv(16, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, 16);
  b.Clip6();
  b.GlobalAveragePool();
  return b.Finish();
}

}  // namespace tutti::testing
