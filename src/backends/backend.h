// The backend contract: capability ("which nodes can I run") is separate from placement (the
// engine decides where), as in ONNX Runtime's GetCapability and ggml's supports_op.
//
// A Backend compiles a Graph whose shapes are concrete (see graph/shape_inference.h) into an
// Executable; one model at several batch sizes is several Executables over one shared Graph.
// Executables take and return host tensors in graph-input / graph-output order; a backend that
// computes elsewhere (a GPU, a remote device) copies inside Run and counts that in its timing.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "graph/graph.h"

namespace tutti {

enum class Precision { kFp32, kTf32, kFp16 };
const char* PrecisionName(Precision p);
Result<Precision> ParsePrecision(const std::string& s);  // "fp32" | "tf32" | "fp16"

// How the CPU backend spreads a convolution / Gemm / MatMul over its cores (AsyMo, seed 001; see
// backends/cpu/asymmetric/block_partition.h). kAsymmetric: cost-model blocks, split across clusters
// by measured speed, shortest-queue placement, stealing. kEqual: the same block kernels cut into one
// equal piece per core, statically placed (what OpenMP's static schedule does). kBlocksOnly /
// kScheduleOnly: the two halves of kAsymmetric alone, for the benchmark's breakdown. kOneDnn:
// oneDNN's own OpenMP threading of the whole operator. kAuto: kAsymmetric when the cores differ
// (declared kinds or measured speeds), else kOneDnn.
enum class CpuPartition { kAuto, kAsymmetric, kEqual, kBlocksOnly, kScheduleOnly, kOneDnn };
const char* CpuPartitionName(CpuPartition p);
// "auto" | "asymmetric" | "equal" | "blocks-only" | "schedule-only" | "onednn"
Result<CpuPartition> ParseCpuPartition(const std::string& s);

struct CompileOptions {
  int threads = 0;                // CPU threads; 0 = one per available core
  std::vector<int> cpu_cores;     // pin worker threads to these cores (empty = no pinning)
  Precision precision = Precision::kFp32;
  bool enable_fusion = true;      // backend-internal fusions (bias/activation/sum into conv)
  bool use_cuda_graph = true;     // capture fixed-shape runs (GPU backends)
  CpuPartition cpu_partition = CpuPartition::kAuto;
  // AsyMo's energy-first mode (seed 001 §5): each Conv/Gemm/MatMul runs at a CPU frequency chosen
  // from its data reuse, set through Linux cpufreq under cpufreq_root (tests use a fake tree).
  // Where frequencies cannot be set, the backend says so once and runs latency-first.
  bool cpu_energy_first = false;
  std::string cpufreq_root = "/sys/devices/system/cpu";
};

struct ExecutableStats {
  size_t weight_bytes = 0;        // constants the executable holds (host or device)
  size_t arena_bytes = 0;         // activation memory after liveness-based reuse
  size_t peak_device_bytes = 0;   // GPU backends: peak device memory of this executable
};

class Executable {
 public:
  virtual ~Executable() = default;
  // inputs: one per graph input, in order, with the compiled shapes and dtypes.
  // outputs: resized to the graph's output count. An entry that is already defined() with the right
  // shape and dtype is written in place (this is how batch-split shares land in one output tensor
  // without a gather copy); an undefined entry is allocated by the executable.
  virtual Status Run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs) = 0;
  virtual ExecutableStats stats() const { return {}; }
};

class Backend {
 public:
  virtual ~Backend() = default;
  // "cpu", "cuda:0", "remote:host:port" -- also the processor kind used in profiles and traces.
  virtual std::string name() const = 0;
  // Whether this backend can run `node` of `graph` (shapes may still be symbolic).
  virtual bool SupportsNode(const Graph& graph, const Node& node) const = 0;
  // Why SupportsNode is false, in words a user can act on ("int64 Conv", "non-constant weights");
  // "" when the backend cannot say.
  virtual std::string UnsupportedReason(const Graph&, const Node&) const { return ""; }
  // Operator types this backend implements (for `tutti info` and capability tables).
  virtual std::vector<std::string> SupportedOps() const = 0;
  // `graph` has concrete shapes on every value. Errors name the node that cannot be compiled.
  virtual Result<std::unique_ptr<Executable>> Compile(const Graph& graph, const CompileOptions& options) = 0;
};

// Creates a backend by device string: "cpu", "cuda", "cuda:N". Unknown or absent devices are a
// one-line error ("no CUDA device 3: this machine has 1").
Result<std::unique_ptr<Backend>> CreateBackend(const std::string& device);

// Registration, one line per backend (see backends/registry.cc).
using BackendFactory = Result<std::unique_ptr<Backend>> (*)(const std::string& device);
void RegisterBackendFactory(const std::string& prefix, BackendFactory factory);

}  // namespace tutti
