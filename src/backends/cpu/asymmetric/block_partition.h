// How one heavy operator's work is cut into blocks and handed to the pinned core pool (AsyMo, seed
// 001 §4.1-4.2). The kernel (ops/conv.cc, ops/gemm.cc) says what one block is -- a range of output
// channels / columns of one image -- and builds a oneDNN primitive per distinct block extent; oneDNN
// does the arithmetic inside a block. This file decides the cut and the placement:
//
//   kAsymmetric   block extent from the cost model (block_cost_model.h); at run time the blocks are
//                 divided between core clusters in proportion to their measured speed (contiguous
//                 ranges, so no operand slice is shared across clusters needlessly), then each goes
//                 to the queue of its cluster that finishes soonest; idle workers steal.
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
  static BlockPartition Make(CpuPartition mode, const CorePool& pool, const BlockCostModel& model, int64_t images,
                             int64_t extent, int64_t granule, const std::function<BlockShape(int64_t)>& shape_of);

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

}  // namespace tutti::cpu::asymmetric
