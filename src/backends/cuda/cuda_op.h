// CUDA operators: the per-node unit the CUDA executable runs. One family of operators per file
// (ops_dnn.cc: cuDNN/cuBLAS; ops_pointwise.cc, ops_movement.cc: the project's kernels), registered
// there with TUTTI_REGISTER_CUDA_OP, as the CPU backend does.
//
// An op is built once per compiled node with every shape concrete; it may upload pre-processed
// weights through the build context (they count in the executable's weight bytes). At run time it
// sees device pointers: its runtime inputs (constants the executable uploaded, in storage type) and
// outputs planned in the activation arena. Float tensors are stored as float, or as half in fp16
// mode (`half`); other dtypes as they are.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/cuda/kernels.h"
#include "core/status.h"
#include "graph/graph.h"

namespace tutti::cuda {

struct ConvAlgoCache;  // cuda_backend.h

// Turns a CUDA / cuDNN / cuBLAS error into a Status naming what was being done.
Status CudaStatus(cudaError_t e, const std::string& what);
Status CudnnStatus(cudnnStatus_t e, const std::string& what);
Status CublasStatus(cublasStatus_t e, const std::string& what);

#define TUTTI_CUDA_TRY(expr, what) TUTTI_RETURN_IF_ERROR(::tutti::cuda::CudaStatus((expr), (what)))
#define TUTTI_CUDNN_TRY(expr, what) TUTTI_RETURN_IF_ERROR(::tutti::cuda::CudnnStatus((expr), (what)))
#define TUTTI_CUBLAS_TRY(expr, what) TUTTI_RETURN_IF_ERROR(::tutti::cuda::CublasStatus((expr), (what)))

// Device memory owned by an executable; freed when the last reference goes.
using DeviceBuffer = std::shared_ptr<void>;
// cudaMalloc that reports out-of-memory as kOutOfMemory with the size and the device's free memory.
Result<DeviceBuffer> AllocateDevice(size_t bytes, const std::string& what);

struct DeviceTensor {
  void* data = nullptr;
  Shape shape;
  DataType dtype = DataType::kUndefined;  // logical dtype (float32 even when stored as half)
  int64_t num_elements() const { return NumElements(shape); }
};

// Handles and settings shared by the ops of one executable.
struct CudaRunContext {
  int device = 0;
  cudaStream_t stream = nullptr;
  cudnnHandle_t cudnn = nullptr;
  cublasHandle_t cublas = nullptr;
  Precision precision = Precision::kFp32;
  bool half = false;             // float tensors stored as half
  void* workspace = nullptr;     // shared scratch, at least every op's workspace_bytes()
  size_t workspace_bytes = 0;
  int64_t storage_size(DataType t) const { return half && t == DataType::kFloat32 ? 2 : static_cast<int64_t>(DataTypeSize(t)); }
};

// The constant behind `v`: its own, or that of the constant an Identity chain forwards (exporters
// share equal initializers through Identity nodes). Null when `v` is computed at run time.
const Tensor* ConstantValue(const Graph& g, ValueId v);
inline bool IsConstant(const Graph& g, ValueId v) { return ConstantValue(g, v) != nullptr; }

// What an op factory sees: the node, concrete shapes, constants, and the device to upload to.
struct CudaOpBuild {
  const Graph& graph;
  const Node& node;
  CudaRunContext& ctx;
  std::vector<DeviceBuffer>* weights;  // uploads land here (owned by the executable)
  size_t* weight_bytes;

  const Value* input(size_t i) const { return node.HasInput(i) ? &graph.value(node.inputs[i]) : nullptr; }
  const Tensor* constant_input(size_t i) const {
    return node.HasInput(i) ? ConstantValue(graph, node.inputs[i]) : nullptr;
  }
  Shape input_shape(size_t i) const;   // concrete (Compile checks every value is concrete)
  Shape output_shape(size_t i) const;
  // Uploads float data (converted to storage type when `as_storage` and half) to the device.
  Result<void*> UploadFloats(const std::vector<float>& host, bool as_storage);
  // Compile-time device scratch for a timed algorithm search: buffer `slot` of at least `bytes`
  // (grown on demand, kept for the rest of the build, freed with it).
  Result<void*> Scratch(int slot, size_t bytes);
  ConvAlgoCache* algo_cache = nullptr;
  std::vector<std::pair<DeviceBuffer, size_t>>* scratch = nullptr;  // owned by the compile
};

class CudaOp {
 public:
  virtual ~CudaOp() = default;
  // `in` has one entry per node input (data null for omitted ones and host-only constants),
  // `out` one per node output.
  virtual Status Run(const CudaRunContext& ctx, std::span<const DeviceTensor> in, std::span<const DeviceTensor> out) = 0;
  // Shared scratch this op needs at run time.
  virtual size_t workspace_bytes() const { return 0; }
  // Output 0 is a view of input 0 (Reshape & co.): no kernel, no buffer of its own.
  virtual bool is_view() const { return false; }
  // Whether input i must be on the device (false: the op read it at build time, e.g. shapes, weights it re-laid out).
  virtual bool needs_device_input(size_t i) const { return true; }
  // Whether the op can be recorded into a CUDA graph (no host synchronisation, no allocation).
  virtual bool capturable() const { return true; }
};

using CudaOpFactory = std::function<Result<std::unique_ptr<CudaOp>>(CudaOpBuild&)>;
// Capability: dtypes and attributes, shapes possibly symbolic. A non-OK status says why not.
using CudaOpSupport = std::function<Status(const Graph&, const Node&)>;

struct CudaOpRegistration {
  std::string op_type;
  CudaOpFactory factory;
  CudaOpSupport supports;  // may be empty
};

class CudaOpRegistry {
 public:
  static CudaOpRegistry& Get();
  void Register(CudaOpRegistration reg) { regs_.push_back(std::move(reg)); }
  const CudaOpRegistration* Find(const std::string& op_type) const;
  std::vector<std::string> OpTypes() const;

 private:
  std::vector<CudaOpRegistration> regs_;
};

struct CudaOpRegistrar {
  explicit CudaOpRegistrar(CudaOpRegistration reg) { CudaOpRegistry::Get().Register(std::move(reg)); }
};

// Helpers for capability checks shared by the op files.
// Every present non-constant input and every output of `n` is float32 (or not yet typed).
Status FloatTensorsOnly(const Graph& g, const Node& n);
// The fused activation of a Conv/Gemm/MatMul node (cpu fusion's _fused_* attributes) or of a
// plain activation op, as a device point-wise function.
Result<FnParams> FusedActivation(const Node& n);

}  // namespace tutti::cuda

#define TUTTI_CUDA_OP_CONCAT_INNER(a, b) a##b
#define TUTTI_CUDA_OP_CONCAT(a, b) TUTTI_CUDA_OP_CONCAT_INNER(a, b)
#define TUTTI_REGISTER_CUDA_OP(op, factory, supports)                                            \
  static ::tutti::cuda::CudaOpRegistrar TUTTI_CUDA_OP_CONCAT(tutti_cuda_op_, __COUNTER__)(      \
      ::tutti::cuda::CudaOpRegistration{op, factory, supports})
