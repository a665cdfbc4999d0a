// Element-wise operators: the unary functions and activations (one kernel, Fn picks the function)
// and the broadcasting binary / variadic ones (Add, Mul, ..., Sum, Mean, Max, Min).
#include <map>

#include "backends/cuda/cuda_op.h"

namespace tutti::cuda {
namespace {

const std::map<std::string, Fn>& UnaryFns() {
  static const std::map<std::string, Fn> m = {
      {"Relu", Fn::kRelu}, {"LeakyRelu", Fn::kLeakyRelu}, {"Clip", Fn::kClip}, {"Sigmoid", Fn::kSigmoid},
      {"HardSigmoid", Fn::kHardSigmoid}, {"HardSwish", Fn::kHardSwish}, {"Tanh", Fn::kTanh}, {"Elu", Fn::kElu},
      {"Selu", Fn::kSelu}, {"Softplus", Fn::kSoftplus}, {"Softsign", Fn::kSoftsign}, {"Abs", Fn::kAbs},
      {"Neg", Fn::kNeg}, {"Exp", Fn::kExp}, {"Log", Fn::kLog}, {"Sqrt", Fn::kSqrt}, {"Reciprocal", Fn::kReciprocal},
      {"Floor", Fn::kFloor}, {"Ceil", Fn::kCeil}, {"Erf", Fn::kErf}, {"Sin", Fn::kSin}, {"Cos", Fn::kCos},
      {"Gelu", Fn::kGelu}, {"Sign", Fn::kSign}, {"Round", Fn::kRound}, {"ThresholdedRelu", Fn::kThresholdedRelu},
      {"Celu", Fn::kCelu}, {"Mish", Fn::kMish}, {"Tan", Fn::kTan}, {"Atan", Fn::kAtan}, {"Sinh", Fn::kSinh},
      {"Cosh", Fn::kCosh}, {"Asin", Fn::kAsin}, {"Acos", Fn::kAcos}};
  return m;
}

class UnaryOp final : public CudaOp {
 public:
  static Result<std::unique_ptr<CudaOp>> Make(CudaOpBuild& b) {
    const Node& n = b.node;
    auto op = std::make_unique<UnaryOp>();
    FnParams& f = op->f_;
    f.fn = UnaryFns().at(n.op_type);
    switch (f.fn) {
      case Fn::kLeakyRelu: f.alpha = n.GetFloat("alpha", 0.01f); break;
      case Fn::kElu: case Fn::kCelu: f.alpha = n.GetFloat("alpha", 1.f); break;
      case Fn::kThresholdedRelu: f.alpha = n.GetFloat("alpha", 1.f); break;
      case Fn::kHardSigmoid: f.alpha = n.GetFloat("alpha", 0.2f); f.beta = n.GetFloat("beta", 0.5f); break;
      case Fn::kSelu:
        f.alpha = n.GetFloat("alpha", 1.67326319217681884765625f);
        f.beta = n.GetFloat("gamma", 1.05070102214813232421875f);
        break;
      case Fn::kGelu:
        if (n.GetString("approximate", "none") != "none") return Unimplemented("Gelu approximate=tanh");
        break;
      case Fn::kClip: {
        f.alpha = -INFINITY;
        f.beta = INFINITY;
        for (size_t i = 1; i <= 2; ++i) {
          if (!n.HasInput(i)) continue;
          const Tensor* t = b.constant_input(i);
          if (!t || t->num_elements() != 1) return Unimplemented("Clip with non-constant bounds");
          (i == 1 ? f.alpha : f.beta) = static_cast<float>(t->ElementAsDouble(0));
        }
        break;
      }
      default: break;
    }
    return std::unique_ptr<CudaOp>(std::move(op));
  }
  Status Run(const CudaRunContext& ctx, std::span<const DeviceTensor> in, std::span<const DeviceTensor> out) override {
    return CudaStatus(LaunchUnary(ctx.half, out[0].data, in[0].data, out[0].num_elements(), f_, ctx.stream), "element-wise");
  }
  bool needs_device_input(size_t i) const override { return i == 0; }

 private:
  FnParams f_;
};

Status SupportsUnary(const Graph& g, const Node& n) {
  TUTTI_RETURN_IF_ERROR(FloatTensorsOnly(g, n));
  if (n.op_type == "Clip")
    for (size_t i = 1; i <= 2; ++i)
      if (n.HasInput(i) && !IsConstant(g, n.inputs[i])) return Unimplemented("Clip with non-constant bounds");
  if (n.op_type == "Gelu" && n.GetString("approximate", "none") != "none") return Unimplemented("Gelu approximate=tanh");
  return Status::Ok();
}

// Element strides of `in` broadcast to `out` (numpy rules), right-aligned.
std::vector<int64_t> BroadcastStrides(const Shape& in, const Shape& out) {
  std::vector<int64_t> st(out.size(), 0);
  int64_t stride = 1;
  for (size_t k = 0; k < in.size(); ++k) {
    const size_t di = in.size() - 1 - k, dout = out.size() - 1 - k;
    st[dout] = in[di] == 1 ? 0 : stride;
    stride *= in[di];
  }
  return st;
}

class BinaryOp final : public CudaOp {
 public:
  static Result<std::unique_ptr<CudaOp>> Make(CudaOpBuild& b) {
    const Node& n = b.node;
    auto op = std::make_unique<BinaryOp>();
    static const std::map<std::string, BinOp> kOps = {{"Add", BinOp::kAdd}, {"Sub", BinOp::kSub}, {"Mul", BinOp::kMul},
                                                      {"Div", BinOp::kDiv}, {"Pow", BinOp::kPow}, {"Max", BinOp::kMax},
                                                      {"Min", BinOp::kMin}, {"PRelu", BinOp::kPRelu}, {"Sum", BinOp::kAdd},
                                                      {"Mean", BinOp::kAdd}, {"Mod", BinOp::kMod}};
    op->op_ = kOps.at(n.op_type);
    if (n.op_type == "Mod" && n.GetInt("fmod", 0) != 0) op->op_ = BinOp::kFmod;
    op->out_ = b.output_shape(0);
    if (op->out_.size() > static_cast<size_t>(kMaxRank)) return Unimplemented("rank > ", kMaxRank);
    if (op->out_.empty()) op->out_ = {1};
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      Shape s = b.input_shape(i);
      if (s.empty()) s = {1};
      op->strides_.push_back(BroadcastStrides(s, op->out_));
    }
    op->dense_ = BroadcastStrides(op->out_, op->out_);
    if (n.op_type == "Mean") {
      TUTTI_ASSIGN_OR_RETURN(op->mean_scale_, b.UploadFloats({1.f / static_cast<float>(n.inputs.size())}, false));
    }
    return std::unique_ptr<CudaOp>(std::move(op));
  }

  Status Run(const CudaRunContext& ctx, std::span<const DeviceTensor> in, std::span<const DeviceTensor> out) override {
    const int rank = static_cast<int>(out_.size());
    const int64_t n = NumElements(out_);
    void* y = out[0].data;
    if (in.size() == 1) {  // Sum/Max/Min/Mean of one input: a (broadcast) copy
      TUTTI_CUDA_TRY(LaunchStridedCopy(static_cast<int>(ctx.storage_size(DataType::kFloat32)), y, in[0].data, rank,
                                       out_.data(), strides_[0].data(), 0, n, ctx.stream),
                     "element-wise");
    } else {
      TUTTI_CUDA_TRY(LaunchBinary(ctx.half, op_, y, in[0].data, in[1].data, rank, out_.data(), strides_[0].data(),
                                  strides_[1].data(), n, ctx.stream),
                     "element-wise");
      for (size_t i = 2; i < in.size(); ++i)  // variadic: fold the rest into y
        TUTTI_CUDA_TRY(LaunchBinary(ctx.half, op_, y, y, in[i].data, rank, out_.data(), dense_.data(), strides_[i].data(),
                                    n, ctx.stream),
                       "element-wise");
    }
    if (mean_scale_)
      TUTTI_CUDA_TRY(LaunchChannelAffine(ctx.half, y, y, n, 1, 1, static_cast<const float*>(mean_scale_), nullptr, nullptr,
                                         FnParams{}, ctx.stream),
                     "Mean");
    return Status::Ok();
  }

 private:
  BinOp op_ = BinOp::kAdd;
  Shape out_;
  std::vector<std::vector<int64_t>> strides_;
  std::vector<int64_t> dense_;
  void* mean_scale_ = nullptr;
};

Status SupportsBinary(const Graph& g, const Node& n) {
  TUTTI_RETURN_IF_ERROR(FloatTensorsOnly(g, n));
  for (ValueId v : n.inputs)
    if (v == kNoValue) return InvalidArgument("missing input");
  if (n.op_type == "Pow" && n.inputs.size() == 2 && g.value(n.inputs[1]).info.dtype != DataType::kFloat32)
    return Unimplemented("Pow with a non-float exponent");
  return Status::Ok();
}

struct RegisterPointwise {
  RegisterPointwise() {
    for (const auto& [name, fn] : UnaryFns()) CudaOpRegistry::Get().Register({name, UnaryOp::Make, SupportsUnary});
    for (const char* name : {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "PRelu", "Sum", "Mean", "Mod"})
      CudaOpRegistry::Get().Register({name, BinaryOp::Make, SupportsBinary});
  }
} register_pointwise;

}  // namespace
}  // namespace tutti::cuda
