// One batch across several processors (issue 5; seed 003, "performance-based batch distribution on
// heterogeneous systems", KCC 2020): each processor takes a share of the batch sized to its speed,
// so the whole batch finishes sooner than on the fastest processor alone.
//
//   1. A batch profile table per (model, processor): the whole model timed at batch sizes 2^n and
//      their neighbours 2^n-1, 2^n+1 (where throughput tends to change most, the seed's choice),
//      up to a maximum or until memory runs out (recorded, not fatal); linear interpolation between
//      measured sizes; persisted in the profile file; rescaled when online runs drift from it.
//   2. The split: the seed's greedy search (each item to the processor that would finish it
//      soonest, then processors whose share slows the whole are dropped) and an exact search (DP
//      over every share size the tables can price) to check it. A share's cost is its table time
//      plus the cost of moving its inputs and outputs when the table does not already include it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "profile/profile_store.h"
#include "profile/profiler.h"

namespace tutti {

// The sizes the seed profiles: 1, and 2^n-1, 2^n, 2^n+1 for every 2^n up to `max_batch`, plus
// `max_batch` itself; sorted, unique, all in [1, max_batch].
std::vector<int64_t> BatchProfileSizes(int64_t max_batch);

// Measured latency of one model on one processor against batch size.
class BatchProfileTable {
 public:
  void Record(int64_t batch, double latency_us) { points_[batch] = latency_us; }
  // `batch` ran out of memory: it and every larger batch are infeasible here.
  void RecordOutOfMemory(int64_t batch);

  bool empty() const { return points_.empty(); }
  const std::map<int64_t, double>& points() const { return points_; }
  int64_t oom_batch() const { return oom_batch_; }  // 0: never ran out of memory
  // Whether a sweep up to `max_batch` would add nothing: it reaches max_batch or ran out of memory.
  bool Covers(int64_t max_batch) const {
    return oom_batch_ != 0 || (!points_.empty() && points_.rbegin()->first >= max_batch);
  }

  // Whether a share of `batch` may be run here: below the out-of-memory size and, once one was
  // seen, no larger than the largest size that was measured to fit.
  bool Fits(int64_t batch) const;
  // Expected latency of `batch` (>= 1): linear between measured sizes; above the largest, that
  // size's time per item; below the smallest, the smallest's time. Infinity when !Fits or empty.
  double LatencyUs(int64_t batch) const;
  // max over measured sizes of batch / latency: the processor's best throughput (items per us).
  double BestItemsPerUs() const;

  // Online drift (Band's estimator, applied to the table): each run of a share is compared with
  // the table; when the smoothed ratio measured/predicted leaves [1/(1+tol), 1+tol] over enough
  // runs, every point is rescaled by it (a processor that slowed down, e.g. another process on its
  // cores, is seen as slower) and true is returned so the caller can persist the refreshed table.
  bool Observe(int64_t batch, double latency_us);
  int refreshes() const { return refreshes_; }

 private:
  std::map<int64_t, double> points_;
  int64_t oom_batch_ = 0;
  double drift_ = 1;
  int drift_samples_ = 0;
  int refreshes_ = 0;
};

// Times `run(batch)` at BatchProfileSizes(max_batch) (median of `options`, after at least
// kWarmupRunsPerBatchSize untimed runs at each size). A kOutOfMemory failure is recorded and ends
// the sweep; any other failure is returned.
inline constexpr int kWarmupRunsPerBatchSize = 2;
Result<BatchProfileTable> ProfileBatchTable(const std::function<Status(int64_t batch)>& run, int64_t max_batch,
                                            const ProfilerOptions& options);

// Profile-file entries: subgraph "batch=N" is the whole model at batch N, "batch=N/oom" (latency
// 0) the size that ran out of memory. `model` and `processor` are ProfileStore's keys.
void PutBatchTable(ProfileStore& store, const std::string& model, const std::string& processor,
                   const BatchProfileTable& table);
std::optional<BatchProfileTable> FindBatchTable(const ProfileStore& store, const std::string& model,
                                                const std::string& processor);

// What the planner knows of one processor.
struct BatchSplitProcessor {
  std::string name;
  const BatchProfileTable* table = nullptr;  // must outlive the planning call
  // Moving a share's inputs there and its outputs back, when the table does not include it (tables
  // measured from host tensors do: backends copy inside Executable::Run). Zero for host memory.
  double transfer_fixed_us = 0;
  double transfer_us_per_item = 0;
  bool usable = true;  // false: leave it out (failed, excluded by the caller)

  // Predicted time of a share of `items` (0 for none; infinity when it cannot run it).
  double ShareUs(int64_t items) const;
  double TransferUs(int64_t items) const;
};

struct BatchShare {
  int processor = -1;   // index into the planner's processor list
  int64_t offset = 0;   // first item of the batch
  int64_t items = 0;    // >= 1
  double compute_us = 0, transfer_us = 0;
  double us() const { return compute_us + transfer_us; }
};

struct BatchSplitPlan {
  std::string search;               // "greedy" | "exact" | "single" | "equal"
  int64_t batch = 0;
  std::vector<BatchShare> shares;   // processor order, offsets consecutive, items sum to batch
  std::vector<int> left_out;        // usable processors that got no share
  double predicted_us = 0;          // the slowest share: shares run concurrently
};

// The seed's greedy search (item by item to the processor that would end it soonest), refined by
// moving blocks of items between pairs of processors, with processors left out where that is
// predicted faster: every subset tried for up to 8 usable processors, else dropped one at a time.
Result<BatchSplitPlan> PlanBatchSplitGreedy(std::span<const BatchSplitProcessor> processors, int64_t batch);
// Minimum predicted time over every split (DP over processors x items). batch <= kMaxExactBatch.
inline constexpr int64_t kMaxExactBatch = 8192;
Result<BatchSplitPlan> PlanBatchSplitExact(std::span<const BatchSplitProcessor> processors, int64_t batch);
// Baselines for benchmarks: the whole batch on the processor predicted fastest, and equal shares
// over the usable processors (the first ones get the remainder).
Result<BatchSplitPlan> PlanBatchSingle(std::span<const BatchSplitProcessor> processors, int64_t batch);
Result<BatchSplitPlan> PlanBatchEqual(std::span<const BatchSplitProcessor> processors, int64_t batch);
// A plan from explicit share sizes, one per processor (0 = none), priced by the tables.
Result<BatchSplitPlan> PlanFromShares(std::span<const BatchSplitProcessor> processors, std::span<const int64_t> items,
                                      std::string search);

enum class BatchSplitSearch { kGreedy, kExact };
Result<BatchSplitSearch> ParseBatchSplitSearch(const std::string& s);  // "greedy" | "exact"

// How one request wants its batch split (BatchSplitExecutor::Run, Engine's RequestOptions).
struct BatchSplitRequest {
  BatchSplitSearch search = BatchSplitSearch::kGreedy;
  // Explicit share per processor (0 = none), overriding the search (tests; the equal-split
  // baseline). Must sum to the batch.
  std::vector<int64_t> shares;
};

// The plan `request` asks for: its explicit shares (checked to cover `batch`), else its search.
Result<BatchSplitPlan> PlanBatchSplit(std::span<const BatchSplitProcessor> processors, int64_t batch,
                                      const BatchSplitRequest& request);

// "greedy: 100 items in 41.2 ms predicted\n  cpu0  items 0-63 (64)  41.2 ms\n ..." (one line per share
// and per left-out processor).
std::string DescribeBatchSplitPlan(const BatchSplitPlan& plan, std::span<const BatchSplitProcessor> processors);

}  // namespace tutti
