// A deliberately naive NCHW float interpreter, independent of the CPU backend's kernels, used as
// the single-device reference for spatial-split tests: the split run and the whole run execute the
// same plain loops, so any difference comes from the row bands, halos and edge pads under test.
// Registered as backend "naive" (e.g. CreateBackend("naive")).
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "backends/backend.h"

namespace tutti::testing {

class NaiveExecutable final : public Executable {
 public:
  explicit NaiveExecutable(Graph g) : g_(std::move(g)) {}

  Status Run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs) override {
    std::map<ValueId, Tensor> env;
    TUTTI_RETURN_IF_ERROR(Interpret(inputs, env));
    outputs.clear();
    for (ValueId v : g_.outputs()) outputs.push_back(env.at(v));
    return Status::Ok();
  }
  // Every value of a one-input graph (an empty map on failure).
  std::map<ValueId, Tensor> RunAll(const Tensor& input) {
    std::map<ValueId, Tensor> env;
    if (!Interpret({&input, 1}, env).ok()) env.clear();
    return env;
  }

 private:
  Status Interpret(std::span<const Tensor> inputs, std::map<ValueId, Tensor>& env) {
    for (size_t i = 0; i < g_.inputs().size(); ++i) env[g_.inputs()[i]] = inputs[i];
    auto get = [&](ValueId v) -> Tensor { return g_.value(v).is_constant() ? g_.value(v).constant : env.at(v); };
    TUTTI_ASSIGN_OR_RETURN(auto order, g_.TopologicalOrder());
    for (NodeId id : order) {
      const Node& n = g_.node(id);
      TUTTI_ASSIGN_OR_RETURN(Tensor out, Eval(n, get));
      env[n.outputs[0]] = std::move(out);
    }
    return Status::Ok();
  }

  template <typename Get>
  Result<Tensor> Eval(const Node& n, Get& get) {
    const Tensor x = get(n.inputs[0]);
    const std::string& op = n.op_type;
    if (op == "Relu" || op == "Clip" || op == "Identity") {
      Tensor y = Tensor::Allocate(DataType::kFloat32, x.shape()).value();
      float lo = op == "Relu" ? 0.f : -std::numeric_limits<float>::infinity();
      float hi = std::numeric_limits<float>::infinity();
      if (op == "Clip" && n.HasInput(1)) lo = get(n.inputs[1]).template data<float>()[0];
      if (op == "Clip" && n.HasInput(2)) hi = get(n.inputs[2]).template data<float>()[0];
      for (int64_t i = 0; i < x.num_elements(); ++i) y.data<float>()[i] = std::min(hi, std::max(lo, x.data<float>()[i]));
      return y;
    }
    if (op == "Add" || op == "Mul") {
      const Tensor b = get(n.inputs[1]);
      Tensor y = Tensor::Allocate(DataType::kFloat32, x.shape()).value();
      bool per_channel = b.num_elements() != x.num_elements();  // [C,1,1] constants
      int64_t hw = x.dim(2) * x.dim(3);
      for (int64_t i = 0; i < x.num_elements(); ++i) {
        float bv = per_channel ? b.data<float>()[(i / hw) % x.dim(1)] : b.data<float>()[i];
        y.data<float>()[i] = op == "Add" ? x.data<float>()[i] + bv : x.data<float>()[i] * bv;
      }
      return y;
    }
    if (op == "Concat") {
      Shape s = x.shape();
      s[1] = 0;
      for (ValueId v : n.inputs) s[1] += get(v).dim(1);
      Tensor y = Tensor::Allocate(DataType::kFloat32, s).value();
      int64_t plane = s[2] * s[3], c0 = 0;
      for (ValueId v : n.inputs) {
        Tensor p = get(v);
        for (int64_t b = 0; b < s[0]; ++b)
          std::copy_n(p.data<float>() + b * p.dim(1) * plane, p.dim(1) * plane, y.data<float>() + (b * s[1] + c0) * plane);
        c0 += p.dim(1);
      }
      return y;
    }
    if (op == "Slice") {  // crops along the height only, as the spatial tiles use it
      int64_t start = get(n.inputs[1]).template data<int64_t>()[0], end = get(n.inputs[2]).template data<int64_t>()[0];
      if (get(n.inputs[3]).template data<int64_t>()[0] != 2) return Unimplemented("naive Slice: height only");
      Shape s = x.shape();
      s[2] = end - start;
      Tensor y = Tensor::Allocate(DataType::kFloat32, s).value();
      for (int64_t p = 0; p < s[0] * s[1]; ++p)
        for (int64_t r = 0; r < s[2]; ++r)
          std::copy_n(x.data<float>() + (p * x.dim(2) + start + r) * s[3], s[3], y.data<float>() + (p * s[2] + r) * s[3]);
      return y;
    }
    if (op == "Conv" || op == "MaxPool" || op == "AveragePool") return Window(n, x, get);
    if (op == "GlobalAveragePool") {
      Tensor y = Tensor::Allocate(DataType::kFloat32, {x.dim(0), x.dim(1), 1, 1}).value();
      int64_t hw = x.dim(2) * x.dim(3);
      for (int64_t p = 0; p < x.dim(0) * x.dim(1); ++p) {
        double s = 0;
        for (int64_t i = 0; i < hw; ++i) s += x.data<float>()[p * hw + i];
        y.data<float>()[p] = static_cast<float>(s / static_cast<double>(hw));
      }
      return y;
    }
    return Unimplemented("naive backend: no ", op);
  }

  template <typename Get>
  Result<Tensor> Window(const Node& n, const Tensor& x, Get& get) {
    const bool conv = n.op_type == "Conv";
    Tensor w = conv ? get(n.inputs[1]) : Tensor();
    std::vector<int64_t> k = n.GetInts("kernel_shape");
    if (conv) k = {w.dim(2), w.dim(3)};
    auto st = n.GetInts("strides", {1, 1}), dl = n.GetInts("dilations", {1, 1}), pd = n.GetInts("pads", {0, 0, 0, 0});
    std::string ap = n.GetString("auto_pad", "NOTSET");
    int64_t H = x.dim(2), W = x.dim(3);
    if (ap == "SAME_UPPER" || ap == "SAME_LOWER") {
      for (int a = 0; a < 2; ++a) {
        int64_t in = a ? W : H, out = (in + st[a] - 1) / st[a];
        int64_t total = std::max<int64_t>(0, (out - 1) * st[a] + (k[a] - 1) * dl[a] + 1 - in);
        pd[a] = ap == "SAME_UPPER" ? total / 2 : total - total / 2;
        pd[a + 2] = total - pd[a];
      }
    }
    bool ceil = n.GetInt("ceil_mode", 0) != 0;
    auto out_dim = [&](int64_t in, int a) {
      int64_t span = in + pd[a] + pd[a + 2] - ((k[a] - 1) * dl[a] + 1);
      int64_t o = ceil ? (span + st[a] - 1) / st[a] + 1 : span / st[a] + 1;
      if (ceil && (o - 1) * st[a] >= in + pd[a]) --o;
      return o;
    };
    int64_t OH = out_dim(H, 0), OW = out_dim(W, 1);
    int64_t C = x.dim(1), OC = conv ? w.dim(0) : C, groups = conv ? n.GetInt("group", 1) : C;
    int64_t icg = C / groups, ocg = OC / groups;
    Tensor y = Tensor::Allocate(DataType::kFloat32, {x.dim(0), OC, OH, OW}).value();
    const float* bias = conv && n.HasInput(2) ? get(n.inputs[2]).template data<float>() : nullptr;
    bool include_pad = n.GetInt("count_include_pad", 0) != 0;
    for (int64_t b = 0; b < x.dim(0); ++b)
      for (int64_t oc = 0; oc < OC; ++oc)
        for (int64_t oh = 0; oh < OH; ++oh)
          for (int64_t ow = 0; ow < OW; ++ow) {
            double acc = n.op_type == "MaxPool" ? -std::numeric_limits<double>::infinity() : 0;
            int64_t count = 0;
            int64_t g0 = oc / ocg;
            for (int64_t ic = conv ? g0 * icg : oc; ic < (conv ? (g0 + 1) * icg : oc + 1); ++ic)
              for (int64_t kh = 0; kh < k[0]; ++kh)
                for (int64_t kw = 0; kw < k[1]; ++kw) {
                  int64_t ih = oh * st[0] - pd[0] + kh * dl[0], iw = ow * st[1] - pd[1] + kw * dl[1];
                  bool inside = ih >= 0 && ih < H && iw >= 0 && iw < W;
                  if (include_pad && ih < H + pd[2] && iw < W + pd[3]) ++count;
                  if (!inside) continue;
                  if (!include_pad) ++count;
                  float xv = x.data<float>()[((b * C + ic) * H + ih) * W + iw];
                  if (conv) acc += xv * w.data<float>()[((oc * icg + ic - g0 * icg) * k[0] + kh) * k[1] + kw];
                  else if (n.op_type == "MaxPool") acc = std::max<double>(acc, xv);
                  else acc += xv;
                }
            if (n.op_type == "AveragePool") acc /= static_cast<double>(std::max<int64_t>(1, count));
            if (bias) acc += bias[oc];
            y.data<float>()[((b * OC + oc) * OH + oh) * OW + ow] = static_cast<float>(acc);
          }
    return y;
  }

  Graph g_;
};

class NaiveBackend final : public Backend {
 public:
  std::string name() const override { return "naive"; }
  bool SupportsNode(const Graph&, const Node& n) const override {
    auto ops = SupportedOps();
    return std::find(ops.begin(), ops.end(), n.op_type) != ops.end();
  }
  std::vector<std::string> SupportedOps() const override {
    return {"Relu", "Clip", "Identity", "Add", "Mul", "Concat", "Slice", "Conv", "MaxPool", "AveragePool",
            "GlobalAveragePool"};
  }
  Result<std::unique_ptr<Executable>> Compile(const Graph& graph, const CompileOptions&) override {
    return std::unique_ptr<Executable>(new NaiveExecutable(graph));
  }
};

inline void RegisterNaiveBackend() {
  RegisterBackendFactory("naive", [](const std::string&) -> Result<std::unique_ptr<Backend>> {
    return std::unique_ptr<Backend>(new NaiveBackend());
  });
}

}  // namespace tutti::testing
