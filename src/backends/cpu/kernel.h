// CPU operator kernels. One operator (or a family sharing code) per file under backends/cpu/ops/,
// registered in that file with TUTTI_REGISTER_CPU_KERNEL -- adding an operator touches one file.
//
// A kernel is built once per compiled node, with every static fact known (concrete shapes where
// shape inference could compute them, constant inputs such as weights), so it can pre-pack
// weights and create oneDNN primitives up front. Run() then only computes.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "core/status.h"
#include "core/tensor.h"
#include "graph/graph.h"

namespace tutti::cpu {

namespace asymmetric {
class CorePool;
}

struct KernelBuildInfo {
  const Graph& graph;
  const Node& node;
  int threads;  // threads this executable may use (OpenMP inside oneDNN and our loops)
  // Set when the heavy kernels (Conv, Gemm, MatMul) cut their work into blocks for the pinned core
  // pool (asymmetric/block_partition.h) instead of threading it with OpenMP.
  asymmetric::CorePool* pool = nullptr;
  CpuPartition partition = CpuPartition::kOneDnn;
  // Shorthands over graph/node. Input i may be absent (optional input omitted).
  const Value* input(size_t i) const {
    return node.HasInput(i) ? &graph.value(node.inputs[i]) : nullptr;
  }
  const Value* output(size_t i) const {
    return i < node.outputs.size() && node.outputs[i] != kNoValue ? &graph.value(node.outputs[i]) : nullptr;
  }
  // The constant value of input i, or null if it is not a constant (or absent).
  const Tensor* constant_input(size_t i) const {
    const Value* v = input(i);
    return v && v->is_constant() ? &v->constant : nullptr;
  }
  // Concrete shape of input/output i if inference found one.
  std::optional<Shape> input_shape(size_t i) const;
  std::optional<Shape> output_shape(size_t i) const;
};

// What a kernel sees when it runs. Inputs are null when an optional input is omitted.
class KernelContext {
 public:
  virtual ~KernelContext() = default;
  virtual size_t input_count() const = 0;
  virtual const Tensor* input(size_t i) const = 0;
  virtual size_t output_count() const = 0;
  // The output tensor for slot i with this shape: from the executable's planned memory when the
  // shape matches what was planned, freshly allocated otherwise (data-dependent shapes).
  virtual Result<Tensor*> AllocateOutput(size_t i, const Shape& shape, DataType dtype) = 0;
  // Whether output slot i is consumed by anything (an omitted optional output is not).
  virtual bool output_wanted(size_t i) const = 0;
  virtual int threads() const = 0;
};

class CpuKernel {
 public:
  virtual ~CpuKernel() = default;
  virtual Status Run(KernelContext& ctx) = 0;
  // Outputs that may share their storage with input 0 (element-wise in-place, Reshape views).
  virtual bool output0_may_alias_input0() const { return false; }
  // A heavy operator (Conv, Gemm, MatMul) the asymmetric partitioner left whole: with a core pool,
  // it still runs with an OpenMP team of the executable's threads, as it would without a pool,
  // where the light operators between the pool's blocks run on the calling thread alone.
  virtual bool runs_whole_on_thread_team() const { return false; }
};

using KernelFactory = std::function<Result<std::unique_ptr<CpuKernel>>(const KernelBuildInfo&)>;
// Capability check on a node (dtypes, attribute values) before anything is compiled. Shapes may be
// symbolic here. Return an error Status naming the reason for "no".
using KernelSupport = std::function<Status(const Graph&, const Node&)>;

struct KernelRegistration {
  std::string op_type;
  std::string domain;  // "" = ai.onnx; "tutti" for internal fused ops
  KernelFactory factory;
  KernelSupport supports;  // may be empty: supports every node of this op type
};

class KernelRegistry {
 public:
  static KernelRegistry& Get();
  void Register(KernelRegistration reg);
  const KernelRegistration* Find(const std::string& domain, const std::string& op_type) const;
  std::vector<std::string> OpTypes() const;  // sorted, default domain only

 private:
  std::vector<KernelRegistration> regs_;
};

struct KernelRegistrar {
  explicit KernelRegistrar(KernelRegistration reg) { KernelRegistry::Get().Register(std::move(reg)); }
};

}  // namespace tutti::cpu

#define TUTTI_CPU_KERNEL_CONCAT_INNER(a, b) a##b
#define TUTTI_CPU_KERNEL_CONCAT(a, b) TUTTI_CPU_KERNEL_CONCAT_INNER(a, b)
// TUTTI_REGISTER_CPU_KERNEL("Relu", "", MakeRelu, SupportsRelu);   (supports may be nullptr)
#define TUTTI_REGISTER_CPU_KERNEL(op, domain, factory, supports)                              \
  static ::tutti::cpu::KernelRegistrar TUTTI_CPU_KERNEL_CONCAT(tutti_cpu_kernel_, __COUNTER__)( \
      ::tutti::cpu::KernelRegistration{op, domain, factory, supports})
