// Data movement: views that cost nothing (Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout
// at inference), strided copies (Transpose, Slice, Expand), Concat as 2-D memcpys, and Pad.
#include <algorithm>

#include "backends/cuda/cuda_op.h"

namespace tutti::cuda {
namespace {

class ViewOp final : public CudaOp {
 public:
  Status Run(const CudaRunContext&, std::span<const DeviceTensor>, std::span<const DeviceTensor>) override {
    return Status::Ok();
  }
  bool is_view() const override { return true; }
  bool needs_device_input(size_t i) const override { return i == 0; }
};

Result<std::unique_ptr<CudaOp>> MakeView(CudaOpBuild& b) {
  if (b.node.op_type == "Cast" && b.input(0)->info.dtype != static_cast<DataType>(b.node.GetInt("to", 0)))
    return Unimplemented("Cast between different types on the GPU");
  return std::unique_ptr<CudaOp>(new ViewOp());
}

Status SupportsView(const Graph& g, const Node& n) {
  if (!n.HasInput(0)) return InvalidArgument("missing input");
  for (size_t i = 1; i < n.outputs.size(); ++i)
    if (n.outputs[i] != kNoValue) return Unimplemented(n.op_type, " output ", i);
  if (n.op_type == "Dropout" && n.HasInput(2) && IsConstant(g, n.inputs[2]) &&
      ConstantValue(g, n.inputs[2])->ElementAsInt64(0) != 0)
    return Unimplemented("Dropout in training mode");
  if (n.op_type == "Cast" && g.value(n.inputs[0]).info.dtype != static_cast<DataType>(n.GetInt("to", 0)))
    return Unimplemented("Cast from ", DataTypeName(g.value(n.inputs[0]).info.dtype), " on the GPU");
  for (size_t i = 1; i < n.inputs.size(); ++i)
    if (n.inputs[i] != kNoValue && !IsConstant(g, n.inputs[i]))
      return Unimplemented(n.op_type, " with a non-constant input ", i);
  const DataType t = g.value(n.inputs[0]).info.dtype;
  if (t == DataType::kString || t == DataType::kUndefined) return Unimplemented(n.op_type, " on ", DataTypeName(t));
  return Status::Ok();
}

std::vector<int64_t> DenseStrides(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (int64_t i = static_cast<int64_t>(s.size()) - 2; i >= 0; --i)
    st[static_cast<size_t>(i)] = st[static_cast<size_t>(i) + 1] * s[static_cast<size_t>(i) + 1];
  return st;
}

// y[idx] = x[base + sum idx_d * strides_d]
class StridedCopyOp final : public CudaOp {
 public:
  Status Run(const CudaRunContext& ctx, std::span<const DeviceTensor> in, std::span<const DeviceTensor> out) override {
    const int es = static_cast<int>(ctx.storage_size(out[0].dtype));
    return CudaStatus(LaunchStridedCopy(es, out[0].data, in[0].data, static_cast<int>(dims_.size()), dims_.data(),
                                        strides_.data(), base_, NumElements(dims_), ctx.stream),
                      "strided copy");
  }
  bool needs_device_input(size_t i) const override { return i == 0; }
  Shape dims_;
  std::vector<int64_t> strides_;
  int64_t base_ = 0;
};

Result<std::unique_ptr<CudaOp>> MakeTranspose(CudaOpBuild& b) {
  const Shape xs = b.input_shape(0);
  const size_t r = xs.size();
  std::vector<int64_t> perm = b.node.GetInts("perm");
  if (perm.empty())
    for (size_t i = 0; i < r; ++i) perm.push_back(static_cast<int64_t>(r - 1 - i));
  if (perm.size() != r) return InvalidArgument("perm has ", perm.size(), " entries for a rank-", r, " input");
  const auto in_strides = DenseStrides(xs);
  auto op = std::make_unique<StridedCopyOp>();
  for (size_t d = 0; d < r; ++d) {
    const int64_t p = perm[d] < 0 ? perm[d] + static_cast<int64_t>(r) : perm[d];
    op->dims_.push_back(xs[static_cast<size_t>(p)]);
    op->strides_.push_back(in_strides[static_cast<size_t>(p)]);
  }
  if (op->dims_.empty()) op->dims_ = {1}, op->strides_ = {0};
  return std::unique_ptr<CudaOp>(std::move(op));
}

Result<std::unique_ptr<CudaOp>> MakeExpand(CudaOpBuild& b) {
  const Shape xs = b.input_shape(0);
  auto op = std::make_unique<StridedCopyOp>();
  op->dims_ = b.output_shape(0);
  if (op->dims_.empty()) op->dims_ = {1};
  op->strides_.assign(op->dims_.size(), 0);
  const auto st = DenseStrides(xs);
  for (size_t k = 0; k < xs.size(); ++k) {
    const size_t di = xs.size() - 1 - k, dout = op->dims_.size() - 1 - k;
    op->strides_[dout] = xs[di] == 1 ? 0 : st[di];
  }
  return std::unique_ptr<CudaOp>(std::move(op));
}

// ONNX Slice: starts/ends/axes/steps inputs (opset >= 10; older models are normalised to this).
Result<std::unique_ptr<CudaOp>> MakeSlice(CudaOpBuild& b) {
  const Shape xs = b.input_shape(0);
  const int64_t r = static_cast<int64_t>(xs.size());
  auto ints = [&](size_t i) -> Result<std::vector<int64_t>> {
    if (!b.node.HasInput(i)) return std::vector<int64_t>{};
    const Tensor* t = b.constant_input(i);
    if (!t) return Unimplemented("Slice with non-constant input ", i);
    return t->ToInt64Vector();
  };
  TUTTI_ASSIGN_OR_RETURN(auto starts, ints(1));
  TUTTI_ASSIGN_OR_RETURN(auto ends, ints(2));
  TUTTI_ASSIGN_OR_RETURN(auto axes, ints(3));
  TUTTI_ASSIGN_OR_RETURN(auto steps, ints(4));
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    return InvalidArgument("Slice starts/ends/axes/steps differ in length");
  std::vector<int64_t> begin(static_cast<size_t>(r), 0), step(static_cast<size_t>(r), 1);
  for (size_t i = 0; i < starts.size(); ++i) {
    int64_t a = axes[i] < 0 ? axes[i] + r : axes[i];
    if (a < 0 || a >= r) return InvalidArgument("Slice axis out of range");
    const int64_t dim = xs[static_cast<size_t>(a)];
    if (steps[i] == 0) return InvalidArgument("Slice step 0");
    int64_t s = starts[i] < 0 ? starts[i] + dim : starts[i];
    s = steps[i] > 0 ? std::clamp<int64_t>(s, 0, dim) : std::clamp<int64_t>(s, 0, dim - 1);
    begin[static_cast<size_t>(a)] = s;
    step[static_cast<size_t>(a)] = steps[i];
  }
  auto op = std::make_unique<StridedCopyOp>();
  op->dims_ = b.output_shape(0);
  const auto st = DenseStrides(xs);
  for (int64_t d = 0; d < r; ++d) {
    op->strides_.push_back(step[static_cast<size_t>(d)] * st[static_cast<size_t>(d)]);
    op->base_ += begin[static_cast<size_t>(d)] * st[static_cast<size_t>(d)];
  }
  if (op->dims_.empty()) op->dims_ = {1}, op->strides_ = {0};
  return std::unique_ptr<CudaOp>(std::move(op));
}

Status SupportsMovement(const Graph& g, const Node& n) {
  if (!n.HasInput(0)) return InvalidArgument("missing input");
  for (size_t i = 1; i < n.inputs.size(); ++i)
    if (n.inputs[i] != kNoValue && !IsConstant(g, n.inputs[i]))
      return Unimplemented(n.op_type, " with a non-constant input ", i);
  const DataType t = g.value(n.inputs[0]).info.dtype;
  if (t == DataType::kString || t == DataType::kUndefined) return Unimplemented(n.op_type, " on ", DataTypeName(t));
  const auto& s = g.value(n.inputs[0]).info.shape;
  if (s && s->size() > static_cast<size_t>(kMaxRank)) return Unimplemented("rank > ", kMaxRank);
  return Status::Ok();
}

class ConcatOp final : public CudaOp {
 public:
  static Result<std::unique_ptr<CudaOp>> Make(CudaOpBuild& b) {
    const Shape ys = b.output_shape(0);
    const int64_t r = static_cast<int64_t>(ys.size());
    int64_t axis = b.node.GetInt("axis", 0);
    if (axis < 0) axis += r;
    if (axis < 0 || axis >= r) return InvalidArgument("Concat axis out of range");
    auto op = std::make_unique<ConcatOp>();
    op->outer_ = 1;
    for (int64_t d = 0; d < axis; ++d) op->outer_ *= ys[static_cast<size_t>(d)];
    int64_t inner = 1;
    for (int64_t d = axis + 1; d < r; ++d) inner *= ys[static_cast<size_t>(d)];
    op->out_row_ = ys[static_cast<size_t>(axis)] * inner;
    for (size_t i = 0; i < b.node.inputs.size(); ++i) op->rows_.push_back(b.input_shape(i)[static_cast<size_t>(axis)] * inner);
    return std::unique_ptr<CudaOp>(std::move(op));
  }
  Status Run(const CudaRunContext& ctx, std::span<const DeviceTensor> in, std::span<const DeviceTensor> out) override {
    const size_t es = static_cast<size_t>(ctx.storage_size(out[0].dtype));
    int64_t offset = 0;
    for (size_t i = 0; i < in.size(); ++i) {
      if (rows_[i] > 0 && outer_ > 0)
        TUTTI_CUDA_TRY(cudaMemcpy2DAsync(static_cast<char*>(out[0].data) + offset * es, out_row_ * es, in[i].data,
                                         rows_[i] * es, rows_[i] * es, outer_, cudaMemcpyDeviceToDevice, ctx.stream),
                       "Concat");
      offset += rows_[i];
    }
    return Status::Ok();
  }

 private:
  int64_t outer_ = 1, out_row_ = 0;
  std::vector<int64_t> rows_;
};

Status SupportsConcat(const Graph& g, const Node& n) {
  for (ValueId v : n.inputs)
    if (v == kNoValue) return InvalidArgument("missing input");
  const DataType t = g.value(n.inputs[0]).info.dtype;
  if (t == DataType::kString || t == DataType::kUndefined) return Unimplemented("Concat on ", DataTypeName(t));
  return Status::Ok();
}

class PadOp final : public CudaOp {
 public:
  static Result<std::unique_ptr<CudaOp>> Make(CudaOpBuild& b) {
    const Node& n = b.node;
    const Shape xs = b.input_shape(0);
    const size_t r = xs.size();
    auto op = std::make_unique<PadOp>();
    const std::string mode = n.GetString("mode", "constant");
    if (mode == "constant") op->mode_ = PadMode::kConstant;
    else if (mode == "reflect") op->mode_ = PadMode::kReflect;
    else if (mode == "edge") op->mode_ = PadMode::kEdge;
    else return Unimplemented("Pad mode ", mode);
    const Tensor* pads = b.constant_input(1);
    if (!pads) return Unimplemented("Pad with non-constant pads");
    const std::vector<int64_t> p = pads->ToInt64Vector();
    std::vector<int64_t> axes;
    if (const Tensor* a = b.constant_input(3)) axes = a->ToInt64Vector();
    if (axes.empty())
      for (size_t i = 0; i < r; ++i) axes.push_back(static_cast<int64_t>(i));
    if (p.size() != 2 * axes.size()) return InvalidArgument("Pad has ", p.size(), " pads for ", axes.size(), " axes");
    op->begin_.assign(r, 0);
    for (size_t i = 0; i < axes.size(); ++i) {
      const int64_t a = axes[i] < 0 ? axes[i] + static_cast<int64_t>(r) : axes[i];
      if (p[i] < 0 || p[i + axes.size()] < 0) return Unimplemented("negative Pad (cropping) on the GPU");
      op->begin_[static_cast<size_t>(a)] = p[i];
    }
    if (const Tensor* v = b.constant_input(2); v && v->num_elements() > 0) op->value_ = static_cast<float>(v->ElementAsDouble(0));
    op->in_ = xs;
    op->out_ = b.output_shape(0);
    if (op->in_.empty()) op->in_ = op->out_ = {1}, op->begin_ = {0};
    return std::unique_ptr<CudaOp>(std::move(op));
  }
  Status Run(const CudaRunContext& ctx, std::span<const DeviceTensor> in, std::span<const DeviceTensor> out) override {
    return CudaStatus(LaunchPad(ctx.half, out[0].data, in[0].data, static_cast<int>(out_.size()), out_.data(), in_.data(),
                                begin_.data(), mode_, value_, NumElements(out_), ctx.stream),
                      "Pad");
  }
  bool needs_device_input(size_t i) const override { return i == 0; }

 private:
  PadMode mode_ = PadMode::kConstant;
  float value_ = 0.f;
  Shape in_, out_;
  std::vector<int64_t> begin_;
};

Status SupportsPad(const Graph& g, const Node& n) {
  TUTTI_RETURN_IF_ERROR(FloatTensorsOnly(g, n));
  return SupportsMovement(g, n);
}

struct RegisterMovement {
  RegisterMovement() {
    auto& r = CudaOpRegistry::Get();
    for (const char* name : {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout", "Cast"})
      r.Register({name, MakeView, SupportsView});
    r.Register({"Transpose", MakeTranspose, SupportsMovement});
    r.Register({"Expand", MakeExpand, SupportsMovement});
    r.Register({"Slice", MakeSlice, SupportsMovement});
    r.Register({"Concat", ConcatOp::Make, SupportsConcat});
    r.Register({"Pad", PadOp::Make, SupportsPad});
  }
} register_movement;

}  // namespace
}  // namespace tutti::cuda
