#include "backends/cuda/cuda_op.h"

#include <algorithm>
#include <cmath>

namespace tutti::cuda {

Status CudaStatus(cudaError_t e, const std::string& what) {
  if (e == cudaSuccess) return Status::Ok();
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();  // allocation failures are not sticky; clear them so the device stays usable
    return OutOfMemory(what, ": CUDA out of memory");
  }
  return DeviceError(what, ": ", cudaGetErrorName(e), " (", cudaGetErrorString(e), ")");
}

Status CudnnStatus(cudnnStatus_t e, const std::string& what) {
  if (e == CUDNN_STATUS_SUCCESS) return Status::Ok();
  if (e == CUDNN_STATUS_ALLOC_FAILED) return OutOfMemory(what, ": cuDNN could not allocate device memory");
  if (e == CUDNN_STATUS_NOT_SUPPORTED) return Unimplemented(what, ": cuDNN does not support this configuration");
  return DeviceError(what, ": cuDNN ", cudnnGetErrorString(e));
}

Status CublasStatus(cublasStatus_t e, const std::string& what) {
  if (e == CUBLAS_STATUS_SUCCESS) return Status::Ok();
  if (e == CUBLAS_STATUS_ALLOC_FAILED) return OutOfMemory(what, ": cuBLAS could not allocate device memory");
  return DeviceError(what, ": cuBLAS ", cublasGetStatusName(e), " (", cublasGetStatusString(e), ")");
}

Result<DeviceBuffer> AllocateDevice(size_t bytes, const std::string& what) {
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, std::max<size_t>(bytes, 256));
  if (e != cudaSuccess) {
    cudaGetLastError();
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    if (e == cudaErrorMemoryAllocation)
      return OutOfMemory("CUDA out of memory: ", what, " needs ", (bytes + (1 << 20) - 1) >> 20, " MiB, the device has ",
                         free_b >> 20, " MiB free of ", total_b >> 20, " MiB");
    return CudaStatus(e, "allocating " + what);
  }
  return DeviceBuffer(p, [](void* q) { cudaFree(q); });
}

const Tensor* ConstantValue(const Graph& g, ValueId v) {
  for (int hops = 0; v != kNoValue && hops < 16; ++hops) {
    const Value& val = g.value(v);
    if (val.is_constant()) return &val.constant;
    if (val.producer == kNoNode) return nullptr;
    const Node& p = g.node(val.producer);
    if (p.op_type != "Identity" || !p.domain.empty() || !p.HasInput(0)) return nullptr;
    v = p.inputs[0];
  }
  return nullptr;
}

Shape CudaOpBuild::input_shape(size_t i) const {
  const Value* v = input(i);
  if (!v || !v->info.shape) return {};
  return ToConcrete(*v->info.shape).value_or(Shape{});
}

Shape CudaOpBuild::output_shape(size_t i) const {
  if (i >= node.outputs.size() || node.outputs[i] == kNoValue) return {};
  const Value& v = graph.value(node.outputs[i]);
  if (!v.info.shape) return {};
  return ToConcrete(*v.info.shape).value_or(Shape{});
}

Result<void*> CudaOpBuild::UploadFloats(const std::vector<float>& host, bool as_storage) {
  const bool to_half = as_storage && ctx.half;
  const size_t bytes = host.size() * (to_half ? 2 : 4);
  TUTTI_ASSIGN_OR_RETURN(DeviceBuffer buf, AllocateDevice(bytes, "weights of " + NodeLabel(node)));
  if (to_half) {
    std::vector<uint16_t> h(host.size());
    for (size_t i = 0; i < host.size(); ++i) h[i] = FloatToHalf(host[i]);
    TUTTI_CUDA_TRY(cudaMemcpy(buf.get(), h.data(), bytes, cudaMemcpyHostToDevice), "uploading weights");
  } else if (bytes) {
    TUTTI_CUDA_TRY(cudaMemcpy(buf.get(), host.data(), bytes, cudaMemcpyHostToDevice), "uploading weights");
  }
  weights->push_back(buf);
  *weight_bytes += bytes;
  return buf.get();
}

Result<void*> CudaOpBuild::Scratch(int slot, size_t bytes) {
  if (scratch->size() <= static_cast<size_t>(slot)) scratch->resize(static_cast<size_t>(slot) + 1);
  auto& [buf, size] = (*scratch)[static_cast<size_t>(slot)];
  if (!buf || size < bytes) {
    buf.reset();
    TUTTI_ASSIGN_OR_RETURN(buf, AllocateDevice(bytes, "algorithm search for " + NodeLabel(node)));
    size = bytes;
  }
  return buf.get();
}

CudaOpRegistry& CudaOpRegistry::Get() {
  static CudaOpRegistry r;
  return r;
}

const CudaOpRegistration* CudaOpRegistry::Find(const std::string& op_type) const {
  for (const auto& r : regs_)
    if (r.op_type == op_type) return &r;
  return nullptr;
}

std::vector<std::string> CudaOpRegistry::OpTypes() const {
  std::vector<std::string> ops;
  for (const auto& r : regs_) ops.push_back(r.op_type);
  std::sort(ops.begin(), ops.end());
  ops.erase(std::unique(ops.begin(), ops.end()), ops.end());
  return ops;
}

Status FloatTensorsOnly(const Graph& g, const Node& n) {
  auto ok = [](DataType t) { return t == DataType::kFloat32 || t == DataType::kUndefined; };
  for (ValueId v : n.inputs)
    if (v != kNoValue && !g.value(v).is_constant() && !ok(g.value(v).info.dtype))
      return Unimplemented(n.op_type, " on ", DataTypeName(g.value(v).info.dtype), " (the CUDA backend computes on float32)");
  for (ValueId v : n.outputs)
    if (v != kNoValue && !ok(g.value(v).info.dtype))
      return Unimplemented(n.op_type, " producing ", DataTypeName(g.value(v).info.dtype));
  return Status::Ok();
}

namespace {
Result<FnParams> ActivationByName(const std::string& op, float alpha, float beta, bool has_alpha, bool has_beta) {
  FnParams f;
  f.alpha = alpha;
  f.beta = beta;
  if (op == "Relu") f.fn = Fn::kRelu;
  else if (op == "LeakyRelu") { f.fn = Fn::kLeakyRelu; if (!has_alpha) f.alpha = 0.01f; }
  else if (op == "Clip") f.fn = Fn::kClip;
  else if (op == "Sigmoid") f.fn = Fn::kSigmoid;
  else if (op == "HardSigmoid") { f.fn = Fn::kHardSigmoid; if (!has_alpha) f.alpha = 0.2f; if (!has_beta) f.beta = 0.5f; }
  else if (op == "HardSwish") f.fn = Fn::kHardSwish;
  else if (op == "Tanh") f.fn = Fn::kTanh;
  else if (op == "Elu") { f.fn = Fn::kElu; if (!has_alpha) f.alpha = 1.f; }
  else if (op == "Softplus") f.fn = Fn::kSoftplus;
  else if (op == "Abs") f.fn = Fn::kAbs;
  else if (op == "Sqrt") f.fn = Fn::kSqrt;
  else if (op == "Exp") f.fn = Fn::kExp;
  else if (op == "Log") f.fn = Fn::kLog;
  else if (op == "Gelu") f.fn = Fn::kGelu;
  else return Unimplemented("fused activation ", op);
  return f;
}
}  // namespace

Result<FnParams> FusedActivation(const Node& n) {
  if (!n.HasAttr("_fused_activation")) return FnParams{};
  return ActivationByName(n.GetString("_fused_activation", ""), n.GetFloat("_fused_alpha", 0.f),
                          n.GetFloat("_fused_beta", 0.f), true, true);
}

}  // namespace tutti::cuda
