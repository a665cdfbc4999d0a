#include "backends/cpu/cpu_backend.h"

#include <omp.h>

#include <cstring>
#include <thread>

#include "backends/cpu/kernel.h"

namespace tutti::cpu {
namespace {

// Runs a compiled graph node by node in topological order. Each value has one slot; constants are
// bound at compile time. (First version: every intermediate is heap-allocated as it is produced.)
class CpuExecutable final : public Executable {
 public:
  struct Step {
    NodeId node;
    std::unique_ptr<CpuKernel> kernel;
    std::vector<ValueId> inputs, outputs;
    std::string label;
  };

  CpuExecutable(Graph graph, std::vector<Step> steps, int threads)
      : graph_(std::move(graph)), steps_(std::move(steps)), threads_(threads), slots_(graph_.value_count()) {
    for (size_t v = 0; v < graph_.value_count(); ++v)
      if (graph_.value(static_cast<ValueId>(v)).is_constant()) slots_[v] = graph_.value(static_cast<ValueId>(v)).constant;
  }

  Status Run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs) override {
    if (inputs.size() != graph_.inputs().size())
      return InvalidArgument("model expects ", graph_.inputs().size(), " inputs, got ", inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      const Value& v = graph_.value(graph_.inputs()[i]);
      TUTTI_RETURN_IF_ERROR(CheckInput(v, inputs[i]));
      slots_[static_cast<size_t>(graph_.inputs()[i])] = inputs[i];
    }
    omp_set_num_threads(threads_);
    for (Step& s : steps_) {
      Context ctx(*this, s);
      Status st = s.kernel->Run(ctx);
      if (!st.ok()) return st.WithContext(s.label);
    }
    outputs.resize(graph_.outputs().size());
    for (size_t i = 0; i < graph_.outputs().size(); ++i) {
      Tensor& result = slots_[static_cast<size_t>(graph_.outputs()[i])];
      if (outputs[i].defined() && outputs[i].shape() == result.shape() && outputs[i].dtype() == result.dtype()) {
        if (!outputs[i].SharesStorageWith(result)) std::memcpy(outputs[i].raw_data(), result.raw_data(), result.nbytes());
      } else {
        outputs[i] = result;
      }
    }
    // Drop references to intermediates so callers own their outputs exclusively.
    for (size_t v = 0; v < slots_.size(); ++v)
      if (!graph_.value(static_cast<ValueId>(v)).is_constant()) slots_[v] = Tensor();
    return Status::Ok();
  }

 private:
  class Context final : public KernelContext {
   public:
    Context(CpuExecutable& ex, Step& s) : ex_(ex), s_(s) {}
    size_t input_count() const override { return s_.inputs.size(); }
    const Tensor* input(size_t i) const override {
      if (i >= s_.inputs.size() || s_.inputs[i] == kNoValue) return nullptr;
      const Tensor& t = ex_.slots_[static_cast<size_t>(s_.inputs[i])];
      return t.defined() ? &t : nullptr;
    }
    size_t output_count() const override { return s_.outputs.size(); }
    bool output_wanted(size_t i) const override { return i < s_.outputs.size() && s_.outputs[i] != kNoValue; }
    Result<Tensor*> AllocateOutput(size_t i, const Shape& shape, DataType dtype) override {
      if (!output_wanted(i)) return InvalidArgument("output ", i, " is not wanted");
      Tensor& slot = ex_.slots_[static_cast<size_t>(s_.outputs[i])];
      TUTTI_ASSIGN_OR_RETURN(slot, Tensor::Allocate(dtype, shape));
      return &slot;
    }
    int threads() const override { return ex_.threads_; }

   private:
    CpuExecutable& ex_;
    Step& s_;
  };

  static Status CheckInput(const Value& v, const Tensor& t) {
    if (!t.defined()) return InvalidArgument("input '", v.name, "' is missing");
    if (v.info.dtype != DataType::kUndefined && t.dtype() != v.info.dtype)
      return InvalidArgument("input '", v.name, "' has type ", DataTypeName(t.dtype()), ", the model expects ",
                             DataTypeName(v.info.dtype));
    if (v.info.shape) {
      const SymbolicShape& want = *v.info.shape;
      bool ok = want.size() == t.shape().size();
      for (size_t d = 0; ok && d < want.size(); ++d)
        if (want[d].known() && want[d].value != t.shape()[d]) ok = false;
      if (!ok)
        return InvalidArgument("input '", v.name, "' has shape ", ShapeToString(t.shape()), ", the model expects ",
                               SymbolicShapeToString(want));
    }
    return Status::Ok();
  }

  Graph graph_;
  std::vector<Step> steps_;
  int threads_;
  std::vector<Tensor> slots_;
};

}  // namespace

std::string CpuBackend::UnsupportedReason(const Graph& graph, const Node& node) const {
  const KernelRegistration* reg = KernelRegistry::Get().Find(node.domain, node.op_type);
  if (!reg) return "operator " + (node.domain.empty() ? "" : node.domain + ".") + node.op_type + " is not implemented on the CPU";
  if (reg->supports) {
    Status s = reg->supports(graph, node);
    if (!s.ok()) return s.message();
  }
  return "";
}

bool CpuBackend::SupportsNode(const Graph& graph, const Node& node) const {
  return UnsupportedReason(graph, node).empty();
}

std::vector<std::string> CpuBackend::SupportedOps() const { return KernelRegistry::Get().OpTypes(); }

Result<std::unique_ptr<Executable>> CpuBackend::Compile(const Graph& graph, const CompileOptions& options) {
  int threads = options.threads > 0 ? options.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  TUTTI_ASSIGN_OR_RETURN(std::vector<NodeId> order, graph.TopologicalOrder());
  std::vector<CpuExecutable::Step> steps;
  for (NodeId id : order) {
    const Node& n = graph.node(id);
    std::string why = UnsupportedReason(graph, n);
    if (!why.empty()) return Unimplemented(NodeLabel(n), ": ", why);
    const KernelRegistration* reg = KernelRegistry::Get().Find(n.domain, n.op_type);
    KernelBuildInfo info{graph, n, threads};
    auto kernel = reg->factory(info);
    if (!kernel.ok()) return kernel.status().WithContext(NodeLabel(n));
    steps.push_back({id, std::move(kernel).value(), n.inputs, n.outputs, NodeLabel(n)});
  }
  return std::unique_ptr<Executable>(new CpuExecutable(graph, std::move(steps), threads));
}

namespace {
Result<std::unique_ptr<Backend>> MakeCpuBackend(const std::string& device) {
  if (device != "cpu") return NotFound("unknown CPU device '", device, "' (use 'cpu')");
  return std::unique_ptr<Backend>(new CpuBackend());
}
struct RegisterCpu {
  RegisterCpu() { RegisterBackendFactory("cpu", &MakeCpuBackend); }
} register_cpu;
}  // namespace

}  // namespace tutti::cpu
