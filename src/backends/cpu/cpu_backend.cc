#include "backends/cpu/cpu_backend.h"

#include <omp.h>

#include <cstring>
#include <thread>

#include "backends/cpu/asymmetric/core_pool_registry.h"
#include "backends/cpu/asymmetric/cpu_frequency.h"
#include "backends/cpu/asymmetric/topology.h"
#include "backends/cpu/fusion.h"
#include "backends/cpu/kernel.h"
#include "backends/cpu/memory_plan.h"
#include "backends/cpu/ops/onednn_util.h"

namespace tutti::cpu {
namespace {

struct Step {
  std::unique_ptr<CpuKernel> kernel;
  std::vector<ValueId> inputs, outputs;
  std::string label;
  int64_t freq_khz = -1;  // energy-first mode: the CPU frequency this step runs at (-1: unchanged)
};

// Runs a compiled graph node by node in topological order. Intermediates live in one arena planned
// at compile time (memory_plan.h); values whose size depends on data, and graph outputs, are
// allocated per run (graph outputs straight into the caller's tensors when it passes them).
// Run is not reentrant: one run at a time per executable (the engine gives each worker its own).
class CpuExecutable final : public Executable {
 public:
  CpuExecutable(Graph graph, std::vector<Step> steps, int threads, std::vector<Tensor> planned,
                std::shared_ptr<void> arena, ExecutableStats stats, std::shared_ptr<asymmetric::CorePool> pool,
                std::unique_ptr<asymmetric::CpuFrequencyController> freq)
      : pool_(std::move(pool)),
        freq_(std::move(freq)),
        graph_(std::move(graph)),
        steps_(std::move(steps)),
        threads_(threads),
        planned_(std::move(planned)),
        arena_(std::move(arena)),
        stats_(stats),
        output_index_(graph_.value_count(), -1) {
    for (size_t i = 0; i < graph_.outputs().size(); ++i) output_index_[static_cast<size_t>(graph_.outputs()[i])] = static_cast<int>(i);
    ResetSlots();
  }

  Status Run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs) override {
    if (inputs.size() != graph_.inputs().size())
      return InvalidArgument("model expects ", graph_.inputs().size(), " inputs, got ", inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      const Value& v = graph_.value(graph_.inputs()[i]);
      TUTTI_RETURN_IF_ERROR(CheckInput(v, inputs[i]));
      slots_[static_cast<size_t>(graph_.inputs()[i])] = inputs[i];
    }
    outputs.resize(graph_.outputs().size());
    caller_outputs_ = &outputs;
    // With a core pool the heavy operators' blocks run on its pinned workers; the light operators
    // between them run on this thread alone, so no OpenMP team spins on the workers' cores. A heavy
    // operator left whole (too little work per block to amortise a cut) gets the team back: on 16
    // cores a batch-1 Gemm run by one thread was 6x slower than the equal split.
    const int light_threads = pool_ ? 1 : threads_;
    omp_set_num_threads(light_threads);
    Status st = Status::Ok();
    for (Step& s : steps_) {
      if (freq_ && s.freq_khz > 0) {
        if (Status f = freq_->Apply(s.freq_khz); !f.ok()) {  // lost the right mid-way: latency-first
          asymmetric::WarnEnergyModeUnavailableOnce(f.message());
          freq_.reset();
        }
      }
      Context ctx(*this, s);
      const bool team = pool_ && s.kernel->runs_whole_on_thread_team();
      if (team) omp_set_num_threads(threads_);
      st = s.kernel->Run(ctx);
      if (team) omp_set_num_threads(light_threads);
      if (!st.ok()) {
        st = st.WithContext(s.label);
        break;
      }
    }
    if (st.ok()) {
      for (size_t i = 0; i < graph_.outputs().size(); ++i) {
        const Tensor& result = slots_[static_cast<size_t>(graph_.outputs()[i])];
        Tensor& out = outputs[i];
        if (out.defined() && out.shape() == result.shape() && out.dtype() == result.dtype()) {
          if (!out.SharesStorageWith(result)) std::memcpy(out.raw_data(), result.raw_data(), result.nbytes());
        } else {
          out = result;
        }
      }
    }
    caller_outputs_ = nullptr;
    ResetSlots();  // callers own their outputs exclusively; inputs are not kept
    return st;
  }

  ExecutableStats stats() const override { return stats_; }

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
      const size_t v = static_cast<size_t>(s_.outputs[i]);
      Tensor& slot = ex_.slots_[v];
      const Tensor& planned = ex_.planned_[v];
      if (planned.defined() && planned.shape() == shape && planned.dtype() == dtype) {
        slot = planned;
        return &slot;
      }
      const int out = ex_.output_index_[v];
      if (out >= 0 && ex_.caller_outputs_) {  // write straight into the caller's tensor
        const Tensor& given = (*ex_.caller_outputs_)[static_cast<size_t>(out)];
        if (given.defined() && given.shape() == shape && given.dtype() == dtype && !ex_.IsInputStorage(given)) {
          slot = given;
          return &slot;
        }
      }
      TUTTI_ASSIGN_OR_RETURN(slot, Tensor::Allocate(dtype, shape));
      return &slot;
    }
    int threads() const override { return ex_.threads_; }

   private:
    CpuExecutable& ex_;
    Step& s_;
  };

  void ResetSlots() {
    slots_.assign(graph_.value_count(), Tensor());
    for (size_t v = 0; v < graph_.value_count(); ++v)
      if (graph_.value(static_cast<ValueId>(v)).is_constant()) slots_[v] = graph_.value(static_cast<ValueId>(v)).constant;
  }

  bool IsInputStorage(const Tensor& t) const {
    for (ValueId in : graph_.inputs())
      if (slots_[static_cast<size_t>(in)].SharesStorageWith(t)) return true;
    return false;
  }

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

  std::shared_ptr<asymmetric::CorePool> pool_;  // the heavy kernels' blocks run here (may be null)
  std::unique_ptr<asymmetric::CpuFrequencyController> freq_;  // energy-first mode only
  Graph graph_;
  std::vector<Step> steps_;
  int threads_;
  std::vector<Tensor> planned_;  // per value: its arena view, or undefined when not planned
  std::shared_ptr<void> arena_;
  ExecutableStats stats_;
  std::vector<int> output_index_;  // per value: graph output index or -1
  std::vector<Tensor> slots_;
  std::vector<Tensor>* caller_outputs_ = nullptr;
};

// Which values may stay in oneDNN's blocked layouts: output 0 of a layout-aware node whose every
// use is a layout-aware node reading it as data (input 0, a Conv's fused-sum input 3, any input of
// a Concat).
std::vector<bool> BlockableValues(const Graph& g, const std::vector<NodeId>& order, const std::vector<bool>& aware) {
  std::vector<bool> ok(g.value_count(), false);
  for (NodeId id : order) {
    const Node& n = g.node(id);
    if (!aware[static_cast<size_t>(id)] || n.outputs.empty() || n.outputs[0] == kNoValue) continue;
    const ValueId v = n.outputs[0];
    const Value& val = g.value(v);
    if (g.IsGraphOutput(v) || val.consumers.empty()) continue;
    bool all = true;
    for (NodeId c : val.consumers) {
      const Node& cn = g.node(c);
      if (!aware[static_cast<size_t>(c)]) all = false;
      for (size_t i = 0; all && i < cn.inputs.size(); ++i)
        if (cn.inputs[i] == v && i != 0 && !(i == 3 && cn.GetInt("_fused_sum", 0) != 0) && cn.op_type != "Concat")
          all = false;
      if (!all) break;
    }
    ok[static_cast<size_t>(v)] = all;
  }
  return ok;
}

// The cores the executable's pool is pinned to: the ones asked for, else the first `threads` this
// process may use.
std::vector<int> PoolCores(const CompileOptions& options, int threads) {
  if (!options.cpu_cores.empty()) return options.cpu_cores;
  std::vector<int> cores = asymmetric::AllowedCores();
  if (static_cast<int>(cores.size()) > threads) cores.resize(static_cast<size_t>(threads));
  return cores;
}

// Resolves CompileOptions::cpu_partition (kAuto: asymmetric when the cores differ) and, unless the
// answer is kOneDnn, the pool the heavy kernels' blocks run on. An explicit mode that cannot have a
// pool (a core that cannot be pinned) is an error; kAuto falls back to oneDNN's threading.
Result<CpuPartition> ChoosePartition(const Graph& graph, const std::vector<NodeId>& order, const CompileOptions& options,
                                     int threads, std::shared_ptr<asymmetric::CorePool>& pool) {
  CpuPartition mode = options.cpu_partition;
  if (mode == CpuPartition::kOneDnn) return mode;
  const std::vector<int> cores = PoolCores(options, threads);
  if (mode == CpuPartition::kAuto) {
    bool heavy = false;
    for (NodeId id : order) {
      const Node& n = graph.node(id);
      heavy = heavy || (n.domain.empty() && (n.op_type == "Conv" || n.op_type == "Gemm" || n.op_type == "MatMul"));
    }
    if (!heavy || cores.size() < 2) return CpuPartition::kOneDnn;
  }
  auto made = asymmetric::SharedCorePool(cores);
  if (!made.ok()) {
    if (mode == CpuPartition::kAuto) return CpuPartition::kOneDnn;
    return made.status().WithContext(std::string("cpu partition ") + CpuPartitionName(mode));
  }
  if (mode == CpuPartition::kAuto && !asymmetric::CoresDiffer(**made)) return CpuPartition::kOneDnn;
  pool = *made;
  return mode == CpuPartition::kAuto ? CpuPartition::kAsymmetric : mode;
}

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

Result<std::unique_ptr<Executable>> CpuBackend::Compile(const Graph& input_graph, const CompileOptions& options) {
  const int threads =
      options.threads > 0 ? options.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  Graph graph = input_graph;
  if (options.enable_fusion) FuseActivationsAndSums(graph);
  TUTTI_ASSIGN_OR_RETURN(std::vector<NodeId> order, graph.TopologicalOrder());
  // oneDNN picks implementations for the thread count it sees while creating primitives.
  omp_set_num_threads(threads);

  std::shared_ptr<asymmetric::CorePool> pool;
  TUTTI_ASSIGN_OR_RETURN(const CpuPartition partition, ChoosePartition(graph, order, options, threads, pool));
  std::unique_ptr<asymmetric::CpuFrequencyController> freq;
  if (options.cpu_energy_first) {
    freq = asymmetric::CpuFrequencyController::Open(options.cpufreq_root, PoolCores(options, threads));
    if (!freq->can_set()) {
      asymmetric::WarnEnergyModeUnavailableOnce(freq->reason());
      freq.reset();
    }
  }

  std::vector<bool> aware(graph.node_count(), false);
  for (NodeId id : order) {
    const Node& n = graph.node(id);
    std::string why = UnsupportedReason(graph, n);
    if (!why.empty()) return Unimplemented(NodeLabel(n), ": ", why);
    aware[static_cast<size_t>(id)] = FindLayoutAwareFactory(graph, n) != nullptr;
  }
  const std::vector<bool> blockable = BlockableValues(graph, order, aware);

  // Build kernels in order, so each layout-aware kernel knows the layout its inputs arrive in.
  std::vector<dnnl::memory::desc> layout(graph.value_count());
  std::vector<size_t> layout_bytes(graph.value_count(), 0);
  std::vector<Step> steps;
  std::vector<int> inplace_input;  // per step: input whose buffer the output may take over, or -1
  ExecutableStats stats;
  for (NodeId id : order) {
    const Node& n = graph.node(id);
    KernelBuildInfo info{graph, n, threads, pool.get(), partition};
    std::unique_ptr<CpuKernel> kernel;
    int inplace = -1;
    if (aware[static_cast<size_t>(id)]) {
      LayoutRequest req;
      for (ValueId v : n.inputs) req.inputs.push_back(v == kNoValue ? dnnl::memory::desc() : layout[static_cast<size_t>(v)]);
      req.output_may_block = n.outputs[0] != kNoValue && blockable[static_cast<size_t>(n.outputs[0])];
      auto k = (*FindLayoutAwareFactory(graph, n))(info, req);
      if (!k.ok()) return k.status().WithContext(NodeLabel(n));
      LayoutAwareKernel& lk = **k;
      if (n.outputs[0] != kNoValue) {
        layout[static_cast<size_t>(n.outputs[0])] = lk.output_desc();
        layout_bytes[static_cast<size_t>(n.outputs[0])] = lk.output_bytes();
      }
      stats.weight_bytes += lk.weight_bytes();
      inplace = lk.inplace_input();
      kernel = std::move(k).value();
    } else {
      auto k = KernelRegistry::Get().Find(n.domain, n.op_type)->factory(info);
      if (!k.ok()) return k.status().WithContext(NodeLabel(n));
      kernel = std::move(k).value();
      if (auto* lk = dynamic_cast<LayoutAwareKernel*>(kernel.get())) stats.weight_bytes += lk->weight_bytes();
    }
    if (inplace < 0 && kernel->output0_may_alias_input0()) inplace = 0;
    inplace_input.push_back(inplace);
    steps.push_back({std::move(kernel), n.inputs, n.outputs, NodeLabel(n)});
    if (freq) {
      const double reuse = asymmetric::OperatorDataReuse(graph, n);
      if (reuse >= 0) steps.back().freq_khz = freq->FrequencyFor(reuse);
    }
  }

  // Lifetimes, then buffers: a value an in-place step overwrites shares its input's buffer.
  const size_t nv = graph.value_count();
  std::vector<int> first(nv, -1), last(nv, -1), group(nv, -1);
  std::vector<size_t> bytes(nv, 0);
  std::vector<Shape> shapes(nv);
  for (size_t s = 0; s < steps.size(); ++s) {
    for (ValueId v : steps[s].inputs)
      if (v != kNoValue) last[static_cast<size_t>(v)] = static_cast<int>(s);
    for (ValueId v : steps[s].outputs) {
      if (v == kNoValue) continue;
      const Value& val = graph.value(v);
      auto shape = val.info.shape ? ToConcrete(*val.info.shape) : std::nullopt;
      if (!shape || val.info.dtype == DataType::kUndefined || DataTypeSize(val.info.dtype) == 0 || graph.IsGraphOutput(v))
        continue;  // allocated per run
      first[static_cast<size_t>(v)] = last[static_cast<size_t>(v)] = static_cast<int>(s);
      shapes[static_cast<size_t>(v)] = *shape;
      bytes[static_cast<size_t>(v)] =
          std::max(layout_bytes[static_cast<size_t>(v)], static_cast<size_t>(NumElements(*shape)) * DataTypeSize(val.info.dtype));
    }
  }
  std::vector<BufferRequest> buffers;
  for (size_t s = 0; s < steps.size(); ++s) {
    for (size_t o = 0; o < steps[s].outputs.size(); ++o) {
      const ValueId v = steps[s].outputs[o];
      if (v == kNoValue || first[static_cast<size_t>(v)] < 0) continue;
      const int in_idx = inplace_input[s];
      const ValueId in = o == 0 && in_idx >= 0 && static_cast<size_t>(in_idx) < steps[s].inputs.size()
                             ? steps[s].inputs[static_cast<size_t>(in_idx)] : kNoValue;
      const bool reads_twice = in != kNoValue && in_idx != 0 && steps[s].inputs[0] == in;
      if (in != kNoValue && first[static_cast<size_t>(in)] >= 0 && last[static_cast<size_t>(in)] == static_cast<int>(s) &&
          !reads_twice && bytes[static_cast<size_t>(in)] >= bytes[static_cast<size_t>(v)]) {
        const int gi = group[static_cast<size_t>(in)];
        group[static_cast<size_t>(v)] = gi;
        buffers[static_cast<size_t>(gi)].last_step = std::max(buffers[static_cast<size_t>(gi)].last_step, last[static_cast<size_t>(v)]);
        continue;
      }
      group[static_cast<size_t>(v)] = static_cast<int>(buffers.size());
      buffers.push_back({bytes[static_cast<size_t>(v)], first[static_cast<size_t>(v)], last[static_cast<size_t>(v)]});
    }
  }
  // A group's lifetime ends at the last read of any value in it (values later in a chain extend it).
  for (size_t v = 0; v < nv; ++v)
    if (group[v] >= 0) buffers[static_cast<size_t>(group[v])].last_step = std::max(buffers[static_cast<size_t>(group[v])].last_step, last[v]);
  const MemoryPlan plan = PlanArena(buffers);
  std::shared_ptr<void> arena;
  std::vector<Tensor> planned(nv);
  if (plan.arena_bytes > 0) {
    void* p = std::aligned_alloc(64, (plan.arena_bytes + 63) / 64 * 64);
    if (!p) return OutOfMemory("CPU activation arena of ", plan.arena_bytes, " bytes");
    arena = std::shared_ptr<void>(p, [](void* q) { std::free(q); });
    for (size_t v = 0; v < nv; ++v)
      if (group[v] >= 0)
        planned[v] = Tensor::Wrap(graph.value(static_cast<ValueId>(v)).info.dtype, shapes[v],
                                  static_cast<char*>(p) + plan.offsets[static_cast<size_t>(group[v])], arena);
  }
  stats.arena_bytes = plan.arena_bytes;
  for (size_t v = 0; v < nv; ++v)
    if (graph.value(static_cast<ValueId>(v)).is_constant()) stats.weight_bytes += graph.value(static_cast<ValueId>(v)).constant.nbytes();
  return std::unique_ptr<Executable>(new CpuExecutable(std::move(graph), std::move(steps), threads, std::move(planned),
                                                       std::move(arena), stats, std::move(pool), std::move(freq)));
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
