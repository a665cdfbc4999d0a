// A processor is what one engine worker drives: a set of CPU cores with a thread count, a CUDA
// device (or one stream of it), later a remote device. It pairs a backend with the placement facts
// the backend does not know (pinning, threads) and with an operator allow/deny list, so that an
// accelerator lacking operators (an NPU, a DSP) can be described and the fallback path of the
// model analyzer is exercised on any machine (Band, section "Subgraph Partitioning").
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "core/status.h"
#include "graph/graph.h"

namespace tutti {

using ProcessorId = int;  // index into the engine's processor list

struct ProcessorSpec {
  std::string name;             // unique within an engine: "cpu0", "big", "cuda:0"
  std::string device = "cpu";   // backend device string, as CreateBackend takes it
  std::vector<int> cpu_cores;   // worker thread (and its compute threads) pinned here; empty = no pinning
  int threads = 1;              // compute threads the backend may use
  std::vector<std::string> allow_ops;  // non-empty: only these op types run here
  std::vector<std::string> deny_ops;   // these op types never run here
  std::string cluster;          // discovery's label for the core type ("big", "kind1"); informational

  // The key profiles are stored under: what determines a subgraph's latency here (device, cores,
  // threads), not the user's name for it, so a profile survives renaming a processor.
  std::string ProfileKey() const;
  // Processors in one memory domain exchange tensors without a copy (all CPU processors share
  // host memory); crossing domains costs a transfer.
  std::string MemoryDomain() const;
  std::string Describe() const;  // "cpu0: cpu, cores 0-1, 2 threads, deny [Conv]"
};

class Processor {
 public:
  // Creates the backend; errors name the processor and the device.
  static Result<std::unique_ptr<Processor>> Create(ProcessorSpec spec);

  const ProcessorSpec& spec() const { return spec_; }
  const std::string& name() const { return spec_.name; }
  Backend& backend() const { return *backend_; }
  CompileOptions compile_options() const;

  // Backend capability narrowed by the allow/deny lists.
  bool SupportsNode(const Graph& graph, const Node& node) const;
  // Pins the calling thread to spec().cpu_cores (no-op when empty). Errors name the cores.
  Status PinCurrentThread() const;

 private:
  Processor(ProcessorSpec spec, std::unique_ptr<Backend> backend)
      : spec_(std::move(spec)), backend_(std::move(backend)) {}
  ProcessorSpec spec_;
  std::unique_ptr<Backend> backend_;
};

// What this machine offers: one CPU processor per core cluster of the asymmetric-CPU topology
// (backends/cpu/asymmetric/topology.h: hwloc CPU kinds, else sysfs cpu_capacity / cpuinfo_max_freq,
// so big.LITTLE and hybrid x86 parts split), using every core of the cluster the process may run
// on, and one processor per CUDA device when a CUDA backend is registered.
std::vector<ProcessorSpec> DiscoverProcessors();
// The cores this process may run on (sched_getaffinity), sorted.
std::vector<int> AllowedCpuCores();

// "0-3,6" <-> {0,1,2,3,6}
std::string FormatCoreList(const std::vector<int>& cores);
Result<std::vector<int>> ParseCoreList(const std::string& text);

}  // namespace tutti
