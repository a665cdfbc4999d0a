// Running one batch as shares of a BatchSplitPlan (issue 5): the pieces every runner needs --
// BatchSplitExecutor on its own workers, the engine's split requests (RequestSplit::kBatch) on its
// -- so both slice, allocate and join alike. The outputs exist before any share runs, and each share
// gets views of its rows of them (Tensor::SliceOuter): an executable writes a defined output in
// place, so joining the shares needs no gather copy.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "graph/graph.h"
#include "partition/batch_split.h"
#include "profile/profiler.h"

namespace tutti {

// The leading dim every input shares (>= 1); otherwise an error naming the input that differs.
Result<int64_t> CommonBatch(const Graph& graph, std::span<const Tensor> inputs);

// Zero inputs of `batch` items (batch profiles); only the leading dim of an input may be symbolic.
Result<std::vector<Tensor>> ZeroBatchInputs(const Graph& graph, int64_t batch);

// A batch table swept with ZeroBatchInputs through `run_share` (ProfileBatchTable's sizes, warm-ups
// and failure rules). The engine and BatchSplitExecutor both sweep this way; each decides first
// whether a stored table already covers the sizes, and on which thread the sweep runs.
using RunBatchShare = std::function<Status(std::span<const Tensor> inputs, std::vector<Tensor>& outputs)>;
Result<BatchProfileTable> ProfileBatchTableWithZeros(const Graph& graph, const RunBatchShare& run_share,
                                                     int64_t max_batch, const ProfilerOptions& options);

// Rows [offset, offset + items) of every tensor, as views of the same storage.
std::vector<Tensor> SliceRows(std::span<const Tensor> tensors, int64_t offset, int64_t items);

// Allocates a graph's outputs for a batch of inputs, after checking each is batch-major. Output
// shapes are inferred once per input-shape signature and cached. Thread-safe.
class BatchOutputShapes {
 public:
  Result<std::vector<Tensor>> Allocate(const Graph& graph, std::span<const Tensor> inputs, int64_t batch);

 private:
  std::mutex mu_;  // guards cache_
  std::map<std::vector<Shape>, std::vector<TensorInfo>> cache_;
};

// After a share ran on `processor`: its rows that did not land in `outputs` in place (an
// executable that returned tensors of its own) are copied there. True when all were in place.
Result<bool> StoreShareRows(std::span<const Tensor> outputs, std::span<const Tensor> share_outputs, int64_t offset,
                            int64_t items, const std::string& processor);

}  // namespace tutti
