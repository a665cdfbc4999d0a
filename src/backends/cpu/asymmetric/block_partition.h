// How one heavy operator's work is cut into blocks and handed to the pinned core pool (AsyMo, seed
// 001 §4.1-4.2). The kernel (ops/conv.cc, ops/gemm.cc) says what one block is -- a range of output
// channels / columns of one image -- and builds a oneDNN primitive per distinct block extent; oneDNN
// does the arithmetic inside a block. This file decides the cut and the placement:
//
//   kAsymmetric   an operator is cut only when every core can get a block whose predicted time
//                 amortises the fixed cost of a block (the hand-off and the primitive call);
//                 otherwise it runs whole with oneDNN's own threads. The block count follows from
//                 the cores' measured speed ratio (AsymmetricBlockCount); the cost model
//                 (block_cost_model.h) predicts the operator's time and a block's fixed cost. At
//                 run time the blocks are divided between core clusters in proportion to their
//                 measured speed (contiguous ranges, so no operand slice is shared across clusters
//                 needlessly), then each goes to the queue of its cluster that finishes soonest;
//                 idle workers steal.
//   kEqual        one equal piece per core, piece i on worker i, no stealing (OpenMP's static split).
//   kBlocksOnly   cost-model blocks placed statically by speed (earliest finish), no stealing.
//   kScheduleOnly the equal pieces, but placed on the shortest queue with stealing.
//
// The cut is fixed when the kernel is built (primitives exist per extent); only placement reads the
// speeds at run time, and the pool keeps learning them from every phase it runs.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "backends/backend.h"
#include "backends/cpu/asymmetric/block_cost_model.h"
#include "backends/cpu/asymmetric/thread_pool.h"
#include "core/status.h"

namespace tutti::cpu::asymmetric {

struct Block {
  int64_t image = 0;   // index along the independent leading dimension (batch)
  int64_t begin = 0;   // [begin, end) along the split dimension
  int64_t end = 0;
  double flops = 0;
  int64_t extent() const { return end - begin; }
};

class BlockPartition {
 public:
  // images x extent of work, cut along `extent` in multiples of `granule` (the last block of an image
  // may be shorter). shape_of(b): a block of extent b, for the cost model and for flops.
  // block_overhead_s: the fixed cost of one block that kAsymmetric must amortise (< 0: the default,
  // BlockOverheadSeconds). An empty partition (no blocks) means: run the operator whole.
  static BlockPartition Make(CpuPartition mode, const CorePool& pool, const BlockCostModel& model, int64_t images,
                             int64_t extent, int64_t granule, const std::function<BlockShape(int64_t)>& shape_of,
                             double block_overhead_s = -1);

  CpuPartition mode() const { return mode_; }
  const std::vector<Block>& blocks() const { return blocks_; }
  // The distinct block extents, ascending (one primitive each).
  std::vector<int64_t> extents() const;

  // Runs fn on every block on the pool and waits; the first error any block returned. Must not be
  // called from a pool worker.
  Status Run(CorePool& pool, const std::function<Status(const Block&)>& fn) const;

  // Placement of this partition's blocks given the pool's current speeds (exposed for tests).
  std::vector<PhaseTask> Place(const CorePool& pool) const;

 private:
  CpuPartition mode_ = CpuPartition::kAsymmetric;
  std::vector<Block> blocks_;
};

// Boundaries cutting [0, extent) into at most `parts` near-equal pieces, each (but the last) a
// multiple of `granule`: {0, b1, ..., extent}.
std::vector<int64_t> EqualCuts(int64_t extent, int64_t granule, int64_t parts);

// How many blocks kAsymmetric cuts one image of an operator into; 0: do not cut, run it whole.
//   speeds: the relative speeds (any positive scale) of the cores that share the image;
//   units: granules in the split dimension (the most blocks there can be);
//   work_s: the image's predicted arithmetic time on the fastest core (the cost model's flops term:
//           the part more cores divide; the operand traffic is bounded by the shared memory
//           bandwidth, so memory-bound operators come out small and run whole);
//   block_overhead_s: one block's fixed cost.
// Cut only when every core can get a block at least kAmortiseFactor times its fixed cost (below
// that, oneDNN's threading of the whole operator wins: the hand-offs cost more than the imbalance
// they remove). The count then follows from the measured speed ratio: B equal blocks of
// work_s / B + block_overhead_s, each placed on the core that would finish it first (the static
// picture of shortest-queue placement), give a predicted makespan; the count is the smallest whose
// makespan is within kStealSlack of the best count's -- the rest is left to stealing, and fewer
// blocks pay fewer hand-offs (equal speeds: one block per core; 2:1 on two cores: three blocks).
// Never more blocks than units, than the amortisation allows, or than kMaxBlocksPerCore per core.
inline constexpr double kAmortiseFactor = 10;
inline constexpr double kStealSlack = 0.1;
inline constexpr int64_t kMaxBlocksPerCore = 8;
int64_t AsymmetricBlockCount(const std::vector<double>& speeds, int64_t units, double work_s, double block_overhead_s);

// The fixed cost of one block: $TUTTI_ASYMO_BLOCK_OVERHEAD_US when set, else the cost model's
// per-block term plus the pool's hand-off (queueing, waking a worker, signalling completion).
double BlockOverheadSeconds(const BlockCostModel& model);

}  // namespace tutti::cpu::asymmetric
