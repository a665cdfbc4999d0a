// oneDNN plumbing shared by the heavy CPU kernels (conv.cc, gemm.cc, pool.cc, norm.cc, softmax.cc).
//
// Layouts. oneDNN's fastest convolutions read and write blocked layouts (nChw16c on AVX-512), so a
// chain of convolutions and poolings is fastest when activations stay blocked between them. The
// executable (cpu_backend.cc) decides per value whether it may stay blocked: it builds these
// "layout-aware" kernels in topological order through LayoutAwareFactory, telling each the layout
// its inputs arrive in and whether its output may stay blocked (every consumer is layout-aware and
// the value is not a graph output). The kernel answers with the layout it writes (output_desc) and
// the bytes that takes (padded channels may need more than the logical shape). Everywhere else a
// tensor's bytes are plain row-major, as the rest of tutti expects.
//
// Fused attributes, written by graph optimisation on Conv / ConvTranspose / Gemm / MatMul nodes:
//   _fused_activation  string: Relu, LeakyRelu, Clip, Sigmoid, HardSigmoid, HardSwish, Tanh, Elu,
//                      Softplus, Abs, Sqrt, Exp, Log, Gelu (erf form)
//   _fused_alpha/_fused_beta  floats: LeakyRelu/Elu alpha; Clip min/max; HardSigmoid alpha/beta
//   _fused_sum         int 1: one extra input after the op's own inputs (Conv/Gemm index 3, MatMul
//                      index 2) is added to the result before the activation (a residual Add).
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backends/cpu/kernel.h"

namespace tutti::cpu {

dnnl::engine& DnnlEngine();
// One stream per calling thread: streams are cheap, and runs on one thread are sequential.
dnnl::stream& DnnlStream();

dnnl::memory::dims ToDnnlDims(const Shape& shape);
// Row-major desc of `shape` (any rank >= 1; a scalar is [1]).
dnnl::memory::desc PlainDesc(const Shape& shape);
// Whether `md` is row-major dense over its dims (a zero md means plain too).
bool IsPlain(const dnnl::memory::desc& md);

// Runs f(); oneDNN reports failures by throwing dnnl::error, which must not escape the kernel.
template <typename F>
Status DnnlTry(const char* what, F&& f) {
  try {
    f();
  } catch (const dnnl::error& e) {
    return Unimplemented(what, ": oneDNN: ", e.what());
  } catch (const std::bad_alloc&) {
    return OutOfMemory(what, ": out of memory");
  }
  return Status::Ok();
}

// Primitive attributes every kernel uses: user scratchpad (see DnnlScratchpad) plus post-ops.
dnnl::primitive_attr MakeAttr(const dnnl::post_ops& ops = dnnl::post_ops());
// Scratchpad memory for `pd` on the calling thread, shared by every primitive this thread runs.
dnnl::memory DnnlScratchpad(const dnnl::primitive_desc_base& pd);

// ---- fused attributes --------------------------------------------------------------------------
struct FusedActivation {
  std::string op;  // "" = none
  float alpha = 0.f, beta = 0.f;
};
// Parsed and validated fused attributes of `n` (error names the unknown activation).
Result<FusedActivation> ParseFusedActivation(const Node& n);
bool HasFusedSum(const Node& n);
// Appends the activation's eltwise post-op(s) to `ops`.
void AppendActivation(const FusedActivation& act, dnnl::post_ops& ops);
// Applies the activation to one value, for the few kernels that do not run inside oneDNN.
float ApplyActivation(const FusedActivation& act, float x);

// ---- layouts -----------------------------------------------------------------------------------
// The layout request the executable gives a layout-aware kernel (all plain when default).
struct LayoutRequest {
  std::vector<dnnl::memory::desc> inputs;  // actual layout of input i; zero md (or absent) = plain
  bool output_may_block = false;           // output 0 may be written in a blocked layout
  const dnnl::memory::desc* input(size_t i) const {
    return i < inputs.size() && !inputs[i].is_zero() ? &inputs[i] : nullptr;
  }
};

// Brings a tensor from the layout it arrives in to the one a primitive wants (a reorder created
// once), into a buffer the kernel owns; no-op when they already agree.
class LayoutConverter {
 public:
  LayoutConverter() = default;
  // Throws dnnl::error (call inside DnnlTry).
  LayoutConverter(const dnnl::memory::desc& from, const dnnl::memory::desc& to);
  bool needed() const { return needed_; }
  // Pointer to data in the `to` layout: `src` itself or the converted copy.
  void* Convert(const void* src);
  // Writes `src` (in the `from` layout) into `dst` (in the `to` layout).
  void ConvertInto(const void* src, void* dst);
  const dnnl::memory::desc& to() const { return to_; }

 private:
  bool needed_ = false;
  dnnl::memory::desc from_, to_;
  dnnl::reorder reorder_;
  std::shared_ptr<void> buffer_;
};

// Reorders constant data (weights) once, at build time, into `to`; returns owned storage.
std::shared_ptr<void> ReorderConstant(const void* src, const dnnl::memory::desc& from, const dnnl::memory::desc& to);
std::shared_ptr<void> AlignedBuffer(size_t bytes);  // 64-byte aligned, zeroed

// Kernels whose tensors may be blocked. output_desc(0) is the layout written into output 0's
// buffer (zero md = plain); output_bytes(0) the bytes that buffer needs.
class LayoutAwareKernel : public CpuKernel {
 public:
  virtual dnnl::memory::desc output_desc() const { return {}; }
  virtual size_t output_bytes() const { return 0; }  // 0 = logical size
  virtual size_t weight_bytes() const { return 0; }
  // An input (other than 0) whose buffer output 0 may take over when this is its last use: the
  // residual a fused sum accumulates into. -1 = none.
  virtual int inplace_input() const { return -1; }
};

using LayoutAwareFactory =
    std::function<Result<std::unique_ptr<LayoutAwareKernel>>(const KernelBuildInfo&, const LayoutRequest&)>;
// Which nodes of an op type a layout-aware factory takes; the others run on the op's ordinary kernel.
using LayoutAwareApplies = std::function<bool(const Graph&, const Node&)>;
// Layout-aware factory for `n` (default domain), or null when none takes this node.
const LayoutAwareFactory* FindLayoutAwareFactory(const Graph& g, const Node& n);

struct LayoutAwareRegistrar {
  // The op runs only through `factory` (registered as its ordinary kernel too, plain layouts).
  LayoutAwareRegistrar(const std::string& op_type, LayoutAwareFactory factory, KernelSupport supports);
  // The op keeps its ordinary kernel; `factory` takes the nodes `applies` accepts (Concat: float
  // tensors joined on channels, which oneDNN concatenates in the producers' blocked layouts).
  LayoutAwareRegistrar(const std::string& op_type, LayoutAwareFactory factory, LayoutAwareApplies applies);
};

}  // namespace tutti::cpu

// Registers `op` both as an ordinary CPU kernel (plain layouts) and as a layout-aware one.
#define TUTTI_REGISTER_LAYOUT_AWARE_KERNEL(op, factory, supports)                                \
  static ::tutti::cpu::LayoutAwareRegistrar TUTTI_CPU_KERNEL_CONCAT(tutti_layout_kernel_, __COUNTER__)( \
      op, factory, supports)
// Adds a layout-aware kernel for the nodes of `op` that `applies` accepts; `op` keeps its own kernel.
#define TUTTI_REGISTER_LAYOUT_AWARE_VARIANT(op, factory, applies)                                \
  static ::tutti::cpu::LayoutAwareRegistrar TUTTI_CPU_KERNEL_CONCAT(tutti_layout_variant_, __COUNTER__)( \
      op, factory, ::tutti::cpu::LayoutAwareApplies(applies))
