// Conv through cuDNN (algorithm by cuDNN's timed search, cached per configuration; bias, a fused
// residual sum and ReLU in cuDNN's fused call, other activations in one epilogue kernel), Gemm and
// MatMul through cuBLAS. Precision: fp32 runs FMA-only kernels (no TF32), tf32 lets both libraries
// use TF32 tensor cores, fp16 stores tensors as half and accumulates in float.
#include <algorithm>
#include <cstring>

#include "backends/cpu/ops/window_geometry.h"
#include "backends/cuda/cuda_backend.h"
#include "backends/cuda/cuda_op.h"

namespace tutti::cuda {
namespace {

cudnnDataType_t StorageType(const CudaRunContext& ctx) { return ctx.half ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT; }

// NCHW descriptors of any rank >= 3; rank 3 (1-D conv) becomes [N, C, 1, W].
std::vector<int> CudnnDims(const Shape& s) {
  std::vector<int> d(s.begin(), s.end());
  if (d.size() == 3) d.insert(d.begin() + 2, 1);
  return d;
}
std::vector<int> PackedStrides(const std::vector<int>& d) {
  std::vector<int> st(d.size(), 1);
  for (int i = static_cast<int>(d.size()) - 2; i >= 0; --i) st[i] = st[i + 1] * d[i + 1];
  return st;
}

class ConvOp final : public CudaOp {
 public:
  ~ConvOp() override {
    if (x_) cudnnDestroyTensorDescriptor(x_);
    if (y_) cudnnDestroyTensorDescriptor(y_);
    if (b_) cudnnDestroyTensorDescriptor(b_);
    if (w_) cudnnDestroyFilterDescriptor(w_);
    if (conv_) cudnnDestroyConvolutionDescriptor(conv_);
    if (act_) cudnnDestroyActivationDescriptor(act_);
  }

  static Result<std::unique_ptr<CudaOp>> Make(CudaOpBuild& b) {
    const Node& n = b.node;
    auto op = std::make_unique<ConvOp>();
    const Shape xs = b.input_shape(0), ws = b.input_shape(1), ys = b.output_shape(0);
    if (xs.size() < 3 || xs.size() > 5) return Unimplemented("rank-", xs.size(), " Conv input");
    const Tensor* w = b.constant_input(1);
    if (!w) return Unimplemented("Conv weights must be constant on the GPU");
    std::vector<int64_t> kernel(ws.begin() + 2, ws.end());
    TUTTI_ASSIGN_OR_RETURN(cpu::WindowGeometry g,
                           cpu::ForwardWindow(n, xs, kernel, false, std::vector<int64_t>(ys.begin() + 2, ys.end())));
    // cuDNN pads both ends alike. An end pad the window never reaches (ForwardWindow trims it to the
    // output size) makes no difference: only a real asymmetry is refused.
    for (size_t d = 0; d < g.pad_begin.size(); ++d) {
      const int64_t span = (g.kernel[d] - 1) * g.dilations[d] + 1;
      const int64_t in = xs[d + 2];
      if ((in + 2 * g.pad_begin[d] - span) / g.strides[d] + 1 != g.out[d])
        return Unimplemented("asymmetric Conv padding on the GPU");
    }
    const int64_t group = n.GetInt("group", 1);
    TUTTI_ASSIGN_OR_RETURN(op->act_fn_, FusedActivation(n));
    op->has_sum_ = n.GetInt("_fused_sum", 0) != 0 && n.HasInput(3);
    op->channels_ = ys[1];
    op->inner_ = NumElements(ys) / (ys[0] * ys[1]);

    std::vector<int> xd = CudnnDims(xs), yd = CudnnDims(ys), wd = CudnnDims(ws);
    std::vector<int> pads(g.pad_begin.begin(), g.pad_begin.end()), strides(g.strides.begin(), g.strides.end()),
        dil(g.dilations.begin(), g.dilations.end());
    if (xs.size() == 3) {
      pads.insert(pads.begin(), 0);
      strides.insert(strides.begin(), 1);
      dil.insert(dil.begin(), 1);
    }
    const cudnnDataType_t dt = StorageType(b.ctx);
    TUTTI_CUDNN_TRY(cudnnCreateTensorDescriptor(&op->x_), "cudnnCreateTensorDescriptor");
    TUTTI_CUDNN_TRY(cudnnCreateTensorDescriptor(&op->y_), "cudnnCreateTensorDescriptor");
    TUTTI_CUDNN_TRY(cudnnCreateTensorDescriptor(&op->b_), "cudnnCreateTensorDescriptor");
    TUTTI_CUDNN_TRY(cudnnCreateFilterDescriptor(&op->w_), "cudnnCreateFilterDescriptor");
    TUTTI_CUDNN_TRY(cudnnCreateConvolutionDescriptor(&op->conv_), "cudnnCreateConvolutionDescriptor");
    TUTTI_CUDNN_TRY(cudnnCreateActivationDescriptor(&op->act_), "cudnnCreateActivationDescriptor");
    const int nd = static_cast<int>(xd.size());
    TUTTI_CUDNN_TRY(cudnnSetTensorNdDescriptor(op->x_, dt, nd, xd.data(), PackedStrides(xd).data()), "x descriptor");
    TUTTI_CUDNN_TRY(cudnnSetTensorNdDescriptor(op->y_, dt, nd, yd.data(), PackedStrides(yd).data()), "y descriptor");
    std::vector<int> bd(nd, 1);
    bd[1] = static_cast<int>(ys[1]);
    TUTTI_CUDNN_TRY(cudnnSetTensorNdDescriptor(op->b_, dt, nd, bd.data(), PackedStrides(bd).data()), "bias descriptor");
    TUTTI_CUDNN_TRY(cudnnSetFilterNdDescriptor(op->w_, dt, CUDNN_TENSOR_NCHW, nd, wd.data()), "filter descriptor");
    TUTTI_CUDNN_TRY(cudnnSetConvolutionNdDescriptor(op->conv_, nd - 2, pads.data(), strides.data(), dil.data(),
                                                    CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
                    "convolution descriptor");
    TUTTI_CUDNN_TRY(cudnnSetConvolutionGroupCount(op->conv_, static_cast<int>(group)), "group count");
    TUTTI_CUDNN_TRY(cudnnSetActivationDescriptor(op->act_, CUDNN_ACTIVATION_RELU, CUDNN_NOT_PROPAGATE_NAN, 0.0),
                    "activation descriptor");

    // Weights (storage type) and bias: storage type for cuDNN's fused call, float for the epilogue.
    std::vector<float> wf(w->data<float>(), w->data<float>() + w->num_elements());
    TUTTI_ASSIGN_OR_RETURN(op->weights_, b.UploadFloats(wf, true));
    std::vector<float> bias(static_cast<size_t>(ys[1]), 0.f);
    op->has_bias_ = n.HasInput(2);
    if (op->has_bias_) {
      const Tensor* bt = b.constant_input(2);
      if (!bt) return Unimplemented("Conv bias must be constant on the GPU");
      std::copy(bt->data<float>(), bt->data<float>() + bt->num_elements(), bias.begin());
    }
    op->fused_relu_ = op->act_fn_.fn == Fn::kRelu;
    TUTTI_RETURN_IF_ERROR(op->ChooseAlgorithm(b, xs, ys));
    if (op->fused_relu_) {
      TUTTI_ASSIGN_OR_RETURN(op->bias_, b.UploadFloats(bias, true));
      // cuDNN's fused call does not take every algorithm: try it once on scratch, else run unfused.
      const int64_t es = b.ctx.half ? 2 : 4;
      TUTTI_ASSIGN_OR_RETURN(void* x, b.Scratch(0, static_cast<size_t>(NumElements(xs) * es)));
      TUTTI_ASSIGN_OR_RETURN(void* y, b.Scratch(1, static_cast<size_t>(NumElements(ys) * es)));
      TUTTI_ASSIGN_OR_RETURN(void* ws, b.Scratch(3, op->workspace_));
      const float one = 1.f, zero = 0.f;
      const cudnnStatus_t st = cudnnConvolutionBiasActivationForward(
          b.ctx.cudnn, &one, op->x_, x, op->w_, op->weights_, op->conv_, op->algo_, ws, op->workspace_, &zero, op->y_, y,
          op->b_, op->bias_, op->act_, op->y_, y);
      if (st != CUDNN_STATUS_SUCCESS || cudaStreamSynchronize(b.ctx.stream) != cudaSuccess) {
        cudaGetLastError();
        op->fused_relu_ = false;
      }
    }
    if (!op->fused_relu_ && op->has_bias_) {
      TUTTI_ASSIGN_OR_RETURN(op->bias_, b.UploadFloats(bias, false));
    }
    return std::unique_ptr<CudaOp>(std::move(op));
  }

  Status ChooseAlgorithm(CudaOpBuild& b, const Shape& xs, const Shape& ys) {
    const Precision p = b.ctx.precision;
    const cudnnMathType_t math = p == Precision::kFp32 ? CUDNN_FMA_MATH
                               : p == Precision::kTf32 ? CUDNN_DEFAULT_MATH : CUDNN_TENSOR_OP_MATH;
    TUTTI_CUDNN_TRY(cudnnSetConvolutionMathType(conv_, math), "convolution math type");
    const std::string key = StrCat(PrecisionName(p), ShapeToString(xs), ShapeToString(ys), NodeSignature(b.node));
    {
      std::lock_guard<std::mutex> lock(b.algo_cache->mu);
      auto it = b.algo_cache->entries.find(key);
      if (it != b.algo_cache->entries.end()) {
        algo_ = static_cast<cudnnConvolutionFwdAlgo_t>(it->second.algo);
        workspace_ = it->second.workspace;
        return CudnnStatus(cudnnSetConvolutionMathType(conv_, static_cast<cudnnMathType_t>(it->second.math_type)),
                           "convolution math type");
      }
    }
    const int64_t es = b.ctx.half ? 2 : 4;
    TUTTI_ASSIGN_OR_RETURN(void* x, b.Scratch(0, static_cast<size_t>(NumElements(xs) * es)));
    TUTTI_ASSIGN_OR_RETURN(void* y, b.Scratch(1, static_cast<size_t>(NumElements(ys) * es)));
    TUTTI_CUDA_TRY(cudaMemsetAsync(x, 0, static_cast<size_t>(NumElements(xs) * es), b.ctx.stream), "clearing scratch");
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    const size_t ws_limit = std::min<size_t>(size_t{1} << 30, free_b / 4);
    void* ws = nullptr;
    auto wsr = b.Scratch(2, ws_limit);
    if (wsr.ok()) ws = *wsr;
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int count = 0;
    cudnnStatus_t found = cudnnFindConvolutionForwardAlgorithmEx(b.ctx.cudnn, x_, x, w_, weights_, conv_, y_, y,
                                                                 CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count, perf, ws,
                                                                 ws ? ws_limit : 0);
    if (found != CUDNN_STATUS_SUCCESS || count == 0) {  // no timed search: cuDNN's heuristics instead
      TUTTI_CUDNN_TRY(cudnnGetConvolutionForwardAlgorithm_v7(b.ctx.cudnn, x_, w_, conv_, y_,
                                                             CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count, perf),
                      "cuDNN algorithm heuristics");
    }
    // fp32 is exact float32: only FMA kernels. Among the rest, the fastest -- or, within 5% of it,
    // the one needing the least workspace (workspace is device memory the whole run holds).
    auto usable = [&](const cudnnConvolutionFwdAlgoPerf_t& r) {
      return r.status == CUDNN_STATUS_SUCCESS && (!ws || r.memory <= ws_limit) &&
             (p != Precision::kFp32 || r.mathType == CUDNN_FMA_MATH);
    };
    int chosen = -1;
    float best_time = 0;
    for (int i = 0; i < count; ++i) {
      if (!usable(perf[i])) continue;
      if (chosen < 0) {
        chosen = i;
        best_time = perf[i].time;
      } else if (perf[i].time >= 0 && perf[i].time <= best_time * 1.05f && perf[i].memory < perf[chosen].memory) {
        chosen = i;
      }
    }
    cudnnMathType_t chosen_math = chosen >= 0 ? perf[chosen].mathType : CUDNN_FMA_MATH;
    if (chosen < 0 && p == Precision::kFp32) {  // no result said FMA: take the first and force FMA math
      for (int i = 0; i < count && chosen < 0; ++i)
        if (perf[i].status == CUDNN_STATUS_SUCCESS && (!ws || perf[i].memory <= ws_limit)) chosen = i;
      chosen_math = CUDNN_FMA_MATH;
    }
    if (chosen < 0) return Unimplemented("cuDNN found no algorithm for this convolution in ", PrecisionName(p));
    algo_ = perf[chosen].algo;
    TUTTI_CUDNN_TRY(cudnnSetConvolutionMathType(conv_, chosen_math), "convolution math type");
    TUTTI_CUDNN_TRY(cudnnGetConvolutionForwardWorkspaceSize(b.ctx.cudnn, x_, w_, conv_, y_, algo_, &workspace_),
                    "convolution workspace size");
    perf[chosen].mathType = chosen_math;
    std::lock_guard<std::mutex> lock(b.algo_cache->mu);
    b.algo_cache->entries[key] = {static_cast<int>(algo_), static_cast<int>(perf[chosen].mathType), workspace_};
    return Status::Ok();
  }

  static std::string NodeSignature(const Node& n) {
    std::string s;
    for (const char* k : {"strides", "pads", "dilations"})
      for (int64_t v : n.GetInts(k)) s += StrCat(k[0], v);
    return StrCat(s, "g", n.GetInt("group", 1), n.GetString("auto_pad", ""));
  }

  Status Run(const CudaRunContext& ctx, std::span<const DeviceTensor> in, std::span<const DeviceTensor> out) override {
    const float one = 1.f, zero = 0.f;
    void* y = out[0].data;
    const void* sum = has_sum_ ? in[3].data : nullptr;
    if (fused_relu_) {
      const float alpha2 = sum ? 1.f : 0.f;
      return CudnnStatus(cudnnConvolutionBiasActivationForward(ctx.cudnn, &one, x_, in[0].data, w_, weights_, conv_, algo_,
                                                               ctx.workspace, workspace_, &alpha2, y_, sum ? sum : y, b_,
                                                               bias_, act_, y_, y),
                         "cudnnConvolutionBiasActivationForward");
    }
    TUTTI_CUDNN_TRY(cudnnConvolutionForward(ctx.cudnn, &one, x_, in[0].data, w_, weights_, conv_, algo_, ctx.workspace,
                                            workspace_, &zero, y_, y),
                    "cudnnConvolutionForward");
    if (!has_bias_ && !sum && act_fn_.fn == Fn::kIdentity) return Status::Ok();
    return CudaStatus(LaunchChannelAffine(ctx.half, y, y, out[0].num_elements(), inner_, channels_, nullptr,
                                          static_cast<const float*>(bias_), sum, act_fn_, ctx.stream),
                      "conv epilogue");
  }

  size_t workspace_bytes() const override { return workspace_; }
  bool needs_device_input(size_t i) const override { return i == 0 || i == 3; }

 private:
  cudnnTensorDescriptor_t x_ = nullptr, y_ = nullptr, b_ = nullptr;
  cudnnFilterDescriptor_t w_ = nullptr;
  cudnnConvolutionDescriptor_t conv_ = nullptr;
  cudnnActivationDescriptor_t act_ = nullptr;
  cudnnConvolutionFwdAlgo_t algo_ = CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
  size_t workspace_ = 0;
  void* weights_ = nullptr;
  void* bias_ = nullptr;
  bool has_bias_ = false, has_sum_ = false, fused_relu_ = false;
  FnParams act_fn_;
  int64_t channels_ = 1, inner_ = 1;
};

Status SupportsConv(const Graph& g, const Node& n) {
  TUTTI_RETURN_IF_ERROR(FloatTensorsOnly(g, n));
  if (!n.HasInput(1) || !IsConstant(g, n.inputs[1])) return Unimplemented("Conv with non-constant weights");
  if (n.HasInput(2) && !IsConstant(g, n.inputs[2])) return Unimplemented("Conv with a non-constant bias");
  const auto& xs = g.value(n.inputs[0]).info.shape;
  if (xs && (xs->size() < 3 || xs->size() > 5)) return Unimplemented("rank-", xs->size(), " Conv");
  const auto pads = n.GetInts("pads");
  for (size_t i = 0; i < pads.size() / 2; ++i)
    if (pads[i] != pads[i + pads.size() / 2]) return Unimplemented("asymmetric Conv padding");
  return Status::Ok();
}

// y[M,N] = act(alpha * op(A) op(B) + beta * C): row-major operands seen by column-major cuBLAS as
// their transposes, so it computes Y^T = op(B)^T op(A)^T.
struct GemmShape {
  int64_t m = 0, n = 0, k = 0;
  bool trans_a = false, trans_b = false;
  int64_t batch = 1, stride_a = 0, stride_b = 0, stride_y = 0;
};

Status RunGemm(const CudaRunContext& ctx, const GemmShape& s, float alpha, const void* a, const void* b, float beta,
               void* y) {
  const cudaDataType_t dt = ctx.half ? CUDA_R_16F : CUDA_R_32F;
  const cublasComputeType_t ct = ctx.precision == Precision::kTf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  const cublasOperation_t opa = s.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, opb = s.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int64_t lda = s.trans_a ? s.m : s.k, ldb = s.trans_b ? s.k : s.n;
  if (s.batch == 1)
    return CublasStatus(cublasGemmEx(ctx.cublas, opb, opa, static_cast<int>(s.n), static_cast<int>(s.m),
                                     static_cast<int>(s.k), &alpha, b, dt, static_cast<int>(ldb), a, dt,
                                     static_cast<int>(lda), &beta, y, dt, static_cast<int>(s.n), ct, CUBLAS_GEMM_DEFAULT),
                        "cublasGemmEx");
  return CublasStatus(cublasGemmStridedBatchedEx(ctx.cublas, opb, opa, static_cast<int>(s.n), static_cast<int>(s.m),
                                                 static_cast<int>(s.k), &alpha, b, dt, static_cast<int>(ldb), s.stride_b, a,
                                                 dt, static_cast<int>(lda), s.stride_a, &beta, y, dt, static_cast<int>(s.n),
                                                 s.stride_y, static_cast<int>(s.batch), ct, CUBLAS_GEMM_DEFAULT),
                      "cublasGemmStridedBatchedEx");
}

class GemmOp final : public CudaOp {
 public:
  static Result<std::unique_ptr<CudaOp>> Make(CudaOpBuild& b) {
    const Node& n = b.node;
    auto op = std::make_unique<GemmOp>();
    const Shape as = b.input_shape(0), bs = b.input_shape(1);
    if (as.size() != 2 || bs.size() != 2) return Unimplemented("Gemm on non-matrices");
    GemmShape& s = op->s_;
    s.trans_a = n.GetInt("transA", 0) != 0;
    s.trans_b = n.GetInt("transB", 0) != 0;
    s.m = s.trans_a ? as[1] : as[0];
    s.k = s.trans_a ? as[0] : as[1];
    s.n = s.trans_b ? bs[0] : bs[1];
    op->alpha_ = n.GetFloat("alpha", 1.f);
    op->beta_ = n.GetFloat("beta", 1.f);
    TUTTI_ASSIGN_OR_RETURN(op->act_, FusedActivation(n));
    if (n.HasInput(2) && op->beta_ != 0.f) {
      const Shape cs = b.input_shape(2);
      const Tensor* c = b.constant_input(2);
      const bool per_column = NumElements(cs) == s.n && (cs.empty() ? s.n == 1 : cs.back() == s.n);
      if (c && per_column) {  // the usual bias: scaled once here, added in the epilogue
        std::vector<float> bias(static_cast<size_t>(s.n));
        for (int64_t i = 0; i < s.n; ++i) bias[static_cast<size_t>(i)] = op->beta_ * c->data<float>()[i];
        TUTTI_ASSIGN_OR_RETURN(op->bias_, b.UploadFloats(bias, false));
      } else {  // any other broadcastable C: copied into Y first, cuBLAS adds beta * Y
        op->c_dims_ = {s.m, s.n};
        Shape c2 = cs;
        while (c2.size() < 2) c2.insert(c2.begin(), 1);
        op->c_strides_ = {c2[0] == 1 ? 0 : c2[1], c2[1] == 1 ? 0 : 1};
        op->copy_c_ = true;
      }
    }
    return std::unique_ptr<CudaOp>(std::move(op));
  }

  Status Run(const CudaRunContext& ctx, std::span<const DeviceTensor> in, std::span<const DeviceTensor> out) override {
    void* y = out[0].data;
    float beta = 0.f;
    if (copy_c_) {
      TUTTI_CUDA_TRY(LaunchStridedCopy(static_cast<int>(ctx.storage_size(DataType::kFloat32)), y, in[2].data, 2,
                                       c_dims_.data(), c_strides_.data(), 0, s_.m * s_.n, ctx.stream),
                     "Gemm C broadcast");
      beta = beta_;
    }
    TUTTI_RETURN_IF_ERROR(RunGemm(ctx, s_, alpha_, in[0].data, in[1].data, beta, y));
    if (!bias_ && act_.fn == Fn::kIdentity) return Status::Ok();
    return CudaStatus(LaunchChannelAffine(ctx.half, y, y, s_.m * s_.n, 1, s_.n, nullptr, static_cast<const float*>(bias_),
                                          nullptr, act_, ctx.stream),
                      "Gemm epilogue");
  }
  bool needs_device_input(size_t i) const override { return i < 2 || (i == 2 && copy_c_); }

 private:
  GemmShape s_;
  float alpha_ = 1.f, beta_ = 1.f;
  void* bias_ = nullptr;
  bool copy_c_ = false;
  std::vector<int64_t> c_dims_, c_strides_;
  FnParams act_;
};

class MatMulOp final : public CudaOp {
 public:
  static Result<std::unique_ptr<CudaOp>> Make(CudaOpBuild& b) {
    auto op = std::make_unique<MatMulOp>();
    Shape as = b.input_shape(0), bs = b.input_shape(1);
    if (as.empty() || bs.empty()) return Unimplemented("MatMul of scalars");
    if (as.size() == 1) as.insert(as.begin(), 1);
    if (bs.size() == 1) bs.push_back(1);
    GemmShape& s = op->s_;
    s.m = as[as.size() - 2];
    s.k = as.back();
    s.n = bs.back();
    const Shape abatch(as.begin(), as.end() - 2), bbatch(bs.begin(), bs.end() - 2);
    const int64_t na = NumElements(abatch), nb = NumElements(bbatch);
    if (nb == 1) {  // B is one matrix: A's batch folds into M
      s.m *= na;
    } else if (na == 1) {
      s.batch = nb;
      s.stride_a = 0;
      s.stride_b = s.k * s.n;
      s.stride_y = s.m * s.n;
    } else {
      Shape a2 = abatch, b2 = bbatch;
      while (a2.size() < b2.size()) a2.insert(a2.begin(), 1);
      while (b2.size() < a2.size()) b2.insert(b2.begin(), 1);
      if (a2 != b2) return Unimplemented("MatMul with partially broadcast batch dims ", ShapeToString(abatch), " x ",
                                         ShapeToString(bbatch));
      s.batch = na;
      s.stride_a = s.m * s.k;
      s.stride_b = s.k * s.n;
      s.stride_y = s.m * s.n;
    }
    TUTTI_ASSIGN_OR_RETURN(op->act_, FusedActivation(b.node));
    return std::unique_ptr<CudaOp>(std::move(op));
  }

  Status Run(const CudaRunContext& ctx, std::span<const DeviceTensor> in, std::span<const DeviceTensor> out) override {
    TUTTI_RETURN_IF_ERROR(RunGemm(ctx, s_, 1.f, in[0].data, in[1].data, 0.f, out[0].data));
    if (act_.fn == Fn::kIdentity) return Status::Ok();
    return CudaStatus(LaunchUnary(ctx.half, out[0].data, out[0].data, out[0].num_elements(), act_, ctx.stream),
                      "MatMul epilogue");
  }
  bool needs_device_input(size_t i) const override { return i < 2; }

 private:
  GemmShape s_;
  FnParams act_;
};

Status SupportsGemm(const Graph& g, const Node& n) {
  TUTTI_RETURN_IF_ERROR(FloatTensorsOnly(g, n));
  if (n.HasAttr("_fused_sum")) return Unimplemented("a fused sum on ", n.op_type);
  return Status::Ok();
}

TUTTI_REGISTER_CUDA_OP("Conv", ConvOp::Make, SupportsConv);
TUTTI_REGISTER_CUDA_OP("Gemm", GemmOp::Make, SupportsGemm);
TUTTI_REGISTER_CUDA_OP("MatMul", MatMulOp::Make, SupportsGemm);

}  // namespace
}  // namespace tutti::cuda
