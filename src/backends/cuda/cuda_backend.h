// The CUDA backend: device "cuda" or "cuda:N". Heavy operators through cuDNN 9 and cuBLAS, the rest
// as the project's kernels (kernels.cu). An executable owns its device memory: uploaded weights,
// one activation arena planned by liveness (the CPU backend's planner), one shared workspace, and
// pinned host staging for inputs and outputs; after a first eager run it captures the whole run
// (copies included) into a CUDA graph and replays it.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "backends/backend.h"

namespace tutti::cuda {

// Algorithm choices of cuDNN's timed search, shared by the executables of one backend so a model
// compiled at several batch sizes (or twice) searches each convolution configuration once.
struct ConvAlgoCache {
  struct Entry {
    int algo = 0;
    int math_type = 0;
    size_t workspace = 0;
  };
  std::mutex mu;
  std::map<std::string, Entry> entries;
};

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device);
  std::string name() const override { return "cuda:" + std::to_string(device_); }
  bool SupportsNode(const Graph& graph, const Node& node) const override;
  std::vector<std::string> SupportedOps() const override;
  Result<std::unique_ptr<Executable>> Compile(const Graph& graph, const CompileOptions& options) override;

  // Why `node` cannot run here ("" when it can).
  std::string UnsupportedReason(const Graph& graph, const Node& node) const override;
  int device() const { return device_; }

 private:
  int device_;
  std::shared_ptr<ConvAlgoCache> algo_cache_;
};

// Free and total memory of CUDA device `device` (tests check that a failed request leaks nothing).
struct DeviceMemory {
  size_t free_bytes = 0, total_bytes = 0;
};
Result<DeviceMemory> QueryDeviceMemory(int device);

}  // namespace tutti::cuda
