// Shared by the CPU operator tests: run one node on the CPU backend, make tensors of any dtype, and
// a naive broadcasting reference (index arithmetic per element, nothing shared with the kernels).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "core/tensor.h"
#include "graph/graph.h"

namespace tutti::testing {

struct NodeRun {
  NodeRun(std::string op_type, std::vector<Tensor> in, std::map<std::string, AttrValue> attributes = {},
          size_t output_count = 1)
      : op(std::move(op_type)), inputs(std::move(in)), attrs(std::move(attributes)), outputs(output_count) {}
  std::string op;
  std::vector<Tensor> inputs;  // an undefined Tensor is an omitted optional input
  std::map<std::string, AttrValue> attrs;
  size_t outputs = 1;
  std::vector<bool> constant;  // per input: bind as an initializer instead of a graph input
  std::string domain;
};

// Builds a one-node graph (inputs with their concrete shapes), compiles it on "cpu", runs it.
inline Result<std::vector<Tensor>> RunNode(const NodeRun& r) {
  Graph g;
  std::vector<ValueId> ins;
  std::vector<Tensor> feeds;
  for (size_t i = 0; i < r.inputs.size(); ++i) {
    const Tensor& t = r.inputs[i];
    if (!t.defined()) {
      ins.push_back(kNoValue);
      continue;
    }
    const std::string name = "in" + std::to_string(i);
    if (i < r.constant.size() && r.constant[i]) {
      ins.push_back(g.AddConstant(name, t));
    } else {
      ins.push_back(g.AddInput(name, {t.dtype(), ToSymbolic(t.shape())}));
      feeds.push_back(t);
    }
  }
  std::vector<ValueId> outs;
  for (size_t i = 0; i < r.outputs; ++i) {
    outs.push_back(g.AddValue("out" + std::to_string(i)));
    g.AddOutput(outs.back());
  }
  g.AddNode(r.op, ins, outs, r.attrs, "node", r.domain);
  TUTTI_ASSIGN_OR_RETURN(auto backend, CreateBackend("cpu"));
  if (!backend->SupportsNode(g, g.node(0))) return Unimplemented(r.op, " is not supported");
  CompileOptions opts;
  opts.threads = 2;
  TUTTI_ASSIGN_OR_RETURN(auto exe, backend->Compile(g, opts));
  std::vector<Tensor> out;
  TUTTI_RETURN_IF_ERROR(exe->Run(feeds, out));
  return out;
}

inline void SetElement(Tensor& t, int64_t i, double v) {
  switch (t.dtype()) {
    case DataType::kFloat32: t.data<float>()[i] = static_cast<float>(v); break;
    case DataType::kFloat64: t.data<double>()[i] = v; break;
    case DataType::kInt64: t.data<int64_t>()[i] = static_cast<int64_t>(v); break;
    case DataType::kInt32: t.data<int32_t>()[i] = static_cast<int32_t>(v); break;
    case DataType::kInt16: t.data<int16_t>()[i] = static_cast<int16_t>(v); break;
    case DataType::kInt8: t.data<int8_t>()[i] = static_cast<int8_t>(v); break;
    case DataType::kUInt8: t.data<uint8_t>()[i] = static_cast<uint8_t>(v); break;
    case DataType::kUInt16: t.data<uint16_t>()[i] = static_cast<uint16_t>(v); break;
    case DataType::kUInt32: t.data<uint32_t>()[i] = static_cast<uint32_t>(v); break;
    case DataType::kUInt64: t.data<uint64_t>()[i] = static_cast<uint64_t>(v); break;
    case DataType::kBool: t.data<bool>()[i] = v != 0; break;
    case DataType::kFloat16: t.data<uint16_t>()[i] = FloatToHalf(static_cast<float>(v)); break;
    default: ADD_FAILURE() << "SetElement on " << DataTypeName(t.dtype());
  }
}

// Uniform values in [lo, hi] (integers for integer dtypes, 0/1 for bool).
inline Tensor RandomOf(DataType dt, const Shape& shape, uint32_t seed, double lo = -3, double hi = 3) {
  Tensor t = Tensor::Allocate(dt, shape).value();
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  const bool integral = dt != DataType::kFloat32 && dt != DataType::kFloat64 && dt != DataType::kFloat16;
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    double v = dist(rng);
    if (dt == DataType::kBool) v = v > (lo + hi) / 2;
    else if (integral) v = std::round(v);
    SetElement(t, i, v);
  }
  return t;
}

inline Shape BroadcastRef(const std::vector<Shape>& shapes) {
  size_t r = 0;
  for (const Shape& s : shapes) r = std::max(r, s.size());
  Shape out(r, 1);
  for (const Shape& s : shapes)
    for (size_t j = 0; j < s.size(); ++j) {
      int64_t& o = out[r - 1 - j];
      if (s[s.size() - 1 - j] != 1) o = s[s.size() - 1 - j];
    }
  return out;
}

// Index of output element `flat` in an input of shape `in` broadcast to `out`.
inline int64_t BroadcastIndex(const Shape& out, const Shape& in, int64_t flat) {
  int64_t idx = 0, stride = 1;
  for (size_t j = 0; j < out.size(); ++j) {
    const size_t d = out.size() - 1 - j;
    const int64_t coord = flat % out[d];
    flat /= out[d];
    if (j < in.size()) {
      const int64_t id = in[in.size() - 1 - j];
      if (id != 1) idx += coord * stride;
      stride *= id;
    }
  }
  return idx;
}

// Element-wise reference over doubles with broadcasting.
inline Tensor RefElementwise(const std::vector<Tensor>& ins, DataType out_dt,
                             const std::function<double(const std::vector<double>&)>& f) {
  std::vector<Shape> shapes;
  for (const Tensor& t : ins) shapes.push_back(t.shape());
  const Shape out_shape = BroadcastRef(shapes);
  Tensor out = Tensor::Allocate(out_dt, out_shape).value();
  std::vector<double> args(ins.size());
  for (int64_t i = 0; i < out.num_elements(); ++i) {
    for (size_t k = 0; k < ins.size(); ++k) args[k] = ins[k].ElementAsDouble(BroadcastIndex(out_shape, ins[k].shape(), i));
    SetElement(out, i, f(args));
  }
  return out;
}

// Same dtype and shape; values equal within rtol/atol (exact for integers and bool).
inline ::testing::AssertionResult TensorsClose(const Tensor& actual, const Tensor& expected, double rtol = 1e-5,
                                               double atol = 1e-6) {
  if (actual.dtype() != expected.dtype())
    return ::testing::AssertionFailure() << "dtype " << DataTypeName(actual.dtype()) << " vs " << DataTypeName(expected.dtype());
  if (actual.shape() != expected.shape())
    return ::testing::AssertionFailure() << "shape " << ShapeToString(actual.shape()) << " vs "
                                         << ShapeToString(expected.shape());
  const bool exact = actual.dtype() != DataType::kFloat32 && actual.dtype() != DataType::kFloat64 &&
                     actual.dtype() != DataType::kFloat16;
  for (int64_t i = 0; i < expected.num_elements(); ++i) {
    const double a = actual.ElementAsDouble(i), b = expected.ElementAsDouble(i);
    if (std::isnan(a) && std::isnan(b)) continue;
    const bool ok = exact ? a == b : (a == b || std::abs(a - b) <= atol + rtol * std::abs(b));
    if (!ok) return ::testing::AssertionFailure() << "element " << i << ": " << a << " vs expected " << b;
  }
  return ::testing::AssertionSuccess();
}

}  // namespace tutti::testing
