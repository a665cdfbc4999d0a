// Pooling, BatchNormalization (inference), Softmax/LogSoftmax and the Reduce* family as the
// project's kernels: all memory-bound, one pass each.
#include <algorithm>
#include <cmath>

#include "backends/cpu/ops/window_geometry.h"
#include "backends/cuda/cuda_op.h"

namespace tutti::cuda {
namespace {

class PoolOp final : public CudaOp {
 public:
  static Result<std::unique_ptr<CudaOp>> Make(CudaOpBuild& b) {
    const Node& n = b.node;
    const Shape xs = b.input_shape(0), ys = b.output_shape(0);
    if (xs.size() != 3 && xs.size() != 4) return Unimplemented("rank-", xs.size(), " pooling on the GPU (1-D and 2-D only)");
    const bool global = n.op_type.rfind("Global", 0) == 0;
    cpu::WindowGeometry g;
    if (global) {
      g = cpu::GlobalWindow(xs);
    } else {
      TUTTI_ASSIGN_OR_RETURN(g, cpu::ForwardWindow(n, xs, n.GetInts("kernel_shape"), n.GetInt("ceil_mode", 0) != 0,
                                                   std::vector<int64_t>(ys.begin() + 2, ys.end())));
    }
    auto op = std::make_unique<PoolOp>();
    Pool2d& p = op->p_;
    const bool two_d = xs.size() == 4;
    auto at = [&](const std::vector<int64_t>& v, int64_t one_d) { return two_d ? v[0] : one_d; };
    auto at2 = [&](const std::vector<int64_t>& v) { return two_d ? v[1] : v[0]; };
    p.n = xs[0];
    p.c = xs[1];
    p.h = two_d ? xs[2] : 1;
    p.w = xs.back();
    p.oh = two_d ? g.out[0] : 1;
    p.ow = g.out.back();
    p.kh = at(g.kernel, 1);
    p.kw = at2(g.kernel);
    p.sh = at(g.strides, 1);
    p.sw = at2(g.strides);
    p.dh = at(g.dilations, 1);
    p.dw = at2(g.dilations);
    p.ph = at(g.pad_begin, 0);
    p.pw = at2(g.pad_begin);
    // Declared end pads (before ceil mode grew them): cells there count for count_include_pad.
    const std::vector<int64_t> pads = n.GetInts("pads");
    const size_t r = xs.size() - 2;
    std::vector<int64_t> declared_end(r, 0);
    if (pads.size() == 2 * r) declared_end.assign(pads.begin() + static_cast<long>(r), pads.end());
    else if (!g.end_pad_grown) declared_end = g.pad_end;
    p.ph_end = two_d ? declared_end[0] : 0;
    p.pw_end = declared_end.back();
    p.is_max = n.op_type.find("Max") != std::string::npos;
    p.count_include_pad = n.GetInt("count_include_pad", 0) != 0;
    return std::unique_ptr<CudaOp>(std::move(op));
  }

  Status Run(const CudaRunContext& ctx, std::span<const DeviceTensor> in, std::span<const DeviceTensor> out) override {
    return CudaStatus(LaunchPool2d(ctx.half, out[0].data, in[0].data, p_, ctx.stream), "pooling");
  }

 private:
  Pool2d p_{};
};

Status SupportsPool(const Graph& g, const Node& n) {
  TUTTI_RETURN_IF_ERROR(FloatTensorsOnly(g, n));
  if (n.outputs.size() > 1 && n.outputs[1] != kNoValue) return Unimplemented("MaxPool's Indices output");
  const auto& xs = g.value(n.inputs[0]).info.shape;
  if (xs && xs->size() != 3 && xs->size() != 4) return Unimplemented(n.op_type, " on rank-", xs->size(), " input");
  if (n.GetInt("storage_order", 0) != 0) return Unimplemented("MaxPool storage_order");
  return Status::Ok();
}

// Inference BatchNormalization: y = x * scale' + shift' with the statistics folded at build time.
class BatchNormOp final : public CudaOp {
 public:
  static Result<std::unique_ptr<CudaOp>> Make(CudaOpBuild& b) {
    const Node& n = b.node;
    const Shape xs = b.input_shape(0);
    if (xs.size() < 2) return Unimplemented("BatchNormalization on rank < 2");
    const Tensor* scale = b.constant_input(1);
    const Tensor* bias = b.constant_input(2);
    const Tensor* mean = b.constant_input(3);
    const Tensor* var = b.constant_input(4);
    if (!scale || !bias || !mean || !var) return Unimplemented("BatchNormalization with non-constant statistics");
    const float eps = n.GetFloat("epsilon", 1e-5f);
    auto op = std::make_unique<BatchNormOp>();
    op->c_ = xs[1];
    op->inner_ = NumElements(xs) / (xs[0] * xs[1]);
    std::vector<float> s(static_cast<size_t>(op->c_)), t(static_cast<size_t>(op->c_));
    for (int64_t c = 0; c < op->c_; ++c) {
      const double k = scale->data<float>()[c] / std::sqrt(static_cast<double>(var->data<float>()[c]) + eps);
      s[static_cast<size_t>(c)] = static_cast<float>(k);
      t[static_cast<size_t>(c)] = static_cast<float>(bias->data<float>()[c] - k * mean->data<float>()[c]);
    }
    TUTTI_ASSIGN_OR_RETURN(op->scale_, b.UploadFloats(s, false));
    TUTTI_ASSIGN_OR_RETURN(op->shift_, b.UploadFloats(t, false));
    return std::unique_ptr<CudaOp>(std::move(op));
  }
  Status Run(const CudaRunContext& ctx, std::span<const DeviceTensor> in, std::span<const DeviceTensor> out) override {
    return CudaStatus(LaunchChannelAffine(ctx.half, out[0].data, in[0].data, out[0].num_elements(), inner_, c_,
                                          static_cast<const float*>(scale_), static_cast<const float*>(shift_), nullptr,
                                          FnParams{}, ctx.stream),
                      "batch normalization");
  }
  bool needs_device_input(size_t i) const override { return i == 0; }

 private:
  int64_t c_ = 1, inner_ = 1;
  void* scale_ = nullptr;
  void* shift_ = nullptr;
};

Status SupportsBatchNorm(const Graph& g, const Node& n) {
  TUTTI_RETURN_IF_ERROR(FloatTensorsOnly(g, n));
  for (size_t i = 1; i < n.outputs.size(); ++i)
    if (n.outputs[i] != kNoValue) return Unimplemented("BatchNormalization in training mode");
  if (n.GetInt("training_mode", 0) != 0) return Unimplemented("BatchNormalization in training mode");
  for (size_t i = 1; i <= 4; ++i)
    if (!n.HasInput(i) || !IsConstant(g, n.inputs[i]))
      return Unimplemented("BatchNormalization with non-constant statistics");
  return Status::Ok();
}

class SoftmaxOp final : public CudaOp {
 public:
  static Result<std::unique_ptr<CudaOp>> Make(CudaOpBuild& b) {
    const Shape xs = b.input_shape(0);
    auto op = std::make_unique<SoftmaxOp>();
    const int64_t rank = static_cast<int64_t>(xs.size());
    int64_t axis = b.node.GetInt("axis", -1);
    if (axis < 0) axis += rank;
    if (rank == 0) axis = 0;
    if (axis < 0 || axis > std::max<int64_t>(rank - 1, 0)) return InvalidArgument("axis out of range");
    op->outer_ = 1;
    op->inner_ = 1;
    for (int64_t d = 0; d < axis; ++d) op->outer_ *= xs[static_cast<size_t>(d)];
    for (int64_t d = axis + 1; d < rank; ++d) op->inner_ *= xs[static_cast<size_t>(d)];
    op->axis_ = rank == 0 ? 1 : xs[static_cast<size_t>(axis)];
    op->log_ = b.node.op_type == "LogSoftmax";
    return std::unique_ptr<CudaOp>(std::move(op));
  }
  Status Run(const CudaRunContext& ctx, std::span<const DeviceTensor> in, std::span<const DeviceTensor> out) override {
    return CudaStatus(LaunchSoftmax(ctx.half, out[0].data, in[0].data, outer_, axis_, inner_, log_, ctx.stream), "softmax");
  }

 private:
  int64_t outer_ = 1, axis_ = 1, inner_ = 1;
  bool log_ = false;
};

// Reduce*: the reduced axes must be adjacent once size-1 dims are ignored ([outer, axis, inner]).
// One function for both the capability check (SupportsReduce, when shapes are known) and the build,
// so a node the backend accepts is one it can build.
struct ReduceExtents {
  int64_t outer = 1, axis = 1, inner = 1;
};
Result<ReduceExtents> ReduceLayout(const Node& n, const Shape& xs, const Tensor* axes_input) {
  const int64_t rank = static_cast<int64_t>(xs.size());
  std::vector<int64_t> axes;
  if (n.HasInput(1)) {
    if (!axes_input) return Unimplemented("non-constant reduction axes");
    axes = axes_input->ToInt64Vector();
  } else {
    axes = n.GetInts("axes");
  }
  std::vector<bool> reduced(static_cast<size_t>(rank), axes.empty() && n.GetInt("noop_with_empty_axes", 0) == 0);
  for (int64_t a : axes) {
    if (a < 0) a += rank;
    if (a < 0 || a >= rank) return InvalidArgument("reduction axis out of range");
    reduced[static_cast<size_t>(a)] = true;
  }
  int64_t lo = rank, hi = -1;
  for (int64_t d = 0; d < rank; ++d)
    if (reduced[static_cast<size_t>(d)] && xs[static_cast<size_t>(d)] != 1) lo = std::min(lo, d), hi = std::max(hi, d);
  if (hi < 0) lo = hi = rank;  // nothing (of size > 1) reduced
  for (int64_t d = lo; d <= hi && d < rank; ++d)
    if (!reduced[static_cast<size_t>(d)] && xs[static_cast<size_t>(d)] != 1)
      return Unimplemented("reducing non-adjacent axes on the GPU");
  ReduceExtents e;
  for (int64_t d = 0; d < rank; ++d) {
    const int64_t v = xs[static_cast<size_t>(d)];
    if (d < lo) e.outer *= v;
    else if (d <= hi) e.axis *= v;
    else e.inner *= v;
  }
  return e;
}

class ReduceOp final : public CudaOp {
 public:
  static Result<std::unique_ptr<CudaOp>> Make(CudaOpBuild& b) {
    const Node& n = b.node;
    TUTTI_ASSIGN_OR_RETURN(const ReduceExtents e, ReduceLayout(n, b.input_shape(0), b.constant_input(1)));
    auto op = std::make_unique<ReduceOp>();
    op->outer_ = e.outer, op->axis_ = e.axis, op->inner_ = e.inner;
    static const char* kOps[] = {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
                                 "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp"};
    for (int i = 0; i < 10; ++i)
      if (n.op_type == kOps[i]) op->op_ = i;
    return std::unique_ptr<CudaOp>(std::move(op));
  }
  Status Run(const CudaRunContext& ctx, std::span<const DeviceTensor> in, std::span<const DeviceTensor> out) override {
    return CudaStatus(LaunchReduce(ctx.half, out[0].data, in[0].data, outer_, axis_, inner_, op_, ctx.stream), "reduction");
  }
  bool needs_device_input(size_t i) const override { return i == 0; }

 private:
  int64_t outer_ = 1, axis_ = 1, inner_ = 1;
  int op_ = 0;
};

Status SupportsReduce(const Graph& g, const Node& n) {
  TUTTI_RETURN_IF_ERROR(FloatTensorsOnly(g, n));
  if (n.HasInput(1) && !IsConstant(g, n.inputs[1])) return Unimplemented("non-constant reduction axes");
  const Value& x = g.value(n.inputs.at(0));
  if (x.info.shape) {
    if (std::optional<Shape> xs = ToConcrete(*x.info.shape))
      return ReduceLayout(n, *xs, n.HasInput(1) ? ConstantValue(g, n.inputs[1]) : nullptr).status();
  }
  return Status::Ok();
}

TUTTI_REGISTER_CUDA_OP("MaxPool", PoolOp::Make, SupportsPool);
TUTTI_REGISTER_CUDA_OP("AveragePool", PoolOp::Make, SupportsPool);
TUTTI_REGISTER_CUDA_OP("GlobalAveragePool", PoolOp::Make, SupportsPool);
TUTTI_REGISTER_CUDA_OP("GlobalMaxPool", PoolOp::Make, SupportsPool);
TUTTI_REGISTER_CUDA_OP("BatchNormalization", BatchNormOp::Make, SupportsBatchNorm);
TUTTI_REGISTER_CUDA_OP("Softmax", SoftmaxOp::Make, FloatTensorsOnly);
TUTTI_REGISTER_CUDA_OP("LogSoftmax", SoftmaxOp::Make, FloatTensorsOnly);
TUTTI_REGISTER_CUDA_OP("ReduceSum", ReduceOp::Make, SupportsReduce);
TUTTI_REGISTER_CUDA_OP("ReduceMean", ReduceOp::Make, SupportsReduce);
TUTTI_REGISTER_CUDA_OP("ReduceMax", ReduceOp::Make, SupportsReduce);
TUTTI_REGISTER_CUDA_OP("ReduceMin", ReduceOp::Make, SupportsReduce);
TUTTI_REGISTER_CUDA_OP("ReduceProd", ReduceOp::Make, SupportsReduce);
TUTTI_REGISTER_CUDA_OP("ReduceSumSquare", ReduceOp::Make, SupportsReduce);
TUTTI_REGISTER_CUDA_OP("ReduceL1", ReduceOp::Make, SupportsReduce);
TUTTI_REGISTER_CUDA_OP("ReduceL2", ReduceOp::Make, SupportsReduce);
TUTTI_REGISTER_CUDA_OP("ReduceLogSum", ReduceOp::Make, SupportsReduce);
TUTTI_REGISTER_CUDA_OP("ReduceLogSumExp", ReduceOp::Make, SupportsReduce);
}  // namespace
}  // namespace tutti::cuda
