#include "backends/cpu/asymmetric/block_partition.h"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <set>

namespace tutti::cpu::asymmetric {
namespace {

// The pool's own cost per block beyond the kernel call: placing it on a queue, a worker taking it,
// the completion the caller waits for, and -- the large part where a core is shared with another
// process -- waking a worker that the kernel's scheduler must first give the core back to. Chosen
// on the 2-core machine with a busy loop on one core (2026-12-02, interleaved repetitions): at
// 20 us the mode still cut MobileNetV2's mid-sized convolutions and ran 1.9x slower than oneDNN's
// whole-operator threading (11.9 vs 6.4 ms); at 100 us (blocks of at least 1 ms) it ran at
// oneDNN's speed there (6.0 vs 6.3 ms) and ahead of it on VGG-16 (157 vs 173 ms).
constexpr double kHandOffSeconds = 100e-6;

// When the last of `blocks` equal blocks of `block_s` seconds (on a core of relative speed 1) ends
// if each goes to the core that would finish it first: the static picture of shortest-queue
// placement, which stealing then corrects at run time.
double EarliestFinishMakespan(const std::vector<double>& speeds, int64_t blocks, double block_s) {
  std::vector<double> finish(speeds.size(), 0);
  for (int64_t b = 0; b < blocks; ++b) {
    size_t best = 0;
    for (size_t w = 1; w < speeds.size(); ++w)
      if (finish[w] + block_s / speeds[w] < finish[best] + block_s / speeds[best]) best = w;
    finish[best] += block_s / speeds[best];
  }
  return *std::max_element(finish.begin(), finish.end());
}

// The speeds of the cores one image's blocks share: all of them, or with several images, an equal
// share of the fastest.
std::vector<double> ImageSpeeds(const CorePool& pool, int64_t images) {
  std::vector<double> speeds = pool.speeds().Snapshot();
  if (images > 1 && speeds.size() > 1) {
    const size_t per_image = static_cast<size_t>(std::max<int64_t>(1, static_cast<int64_t>(speeds.size()) / images));
    std::sort(speeds.begin(), speeds.end(), std::greater<>());
    speeds.resize(std::min(speeds.size(), per_image));
  }
  return speeds;
}

// The part of an operator's predicted time that more cores divide: its arithmetic (the model's
// flops term). Streaming the operands is bounded by the memory bandwidth the cores share, so a
// memory-bound operator (an FC layer at batch 1, a depthwise convolution) gains little from a cut
// and mostly pays its hand-offs; oneDNN runs it whole.
double DivisibleSeconds(const BlockCostModel& model, const BlockShape& whole) {
  return std::max(0.0, model.PredictSeconds(BlockShape{0, 0, 0, whole.flops}) - model.PredictSeconds(BlockShape{}));
}

}  // namespace

int64_t AsymmetricBlockCount(const std::vector<double>& speeds, int64_t units, double work_s, double block_overhead_s) {
  if (speeds.empty() || units < 1 || !(work_s > 0)) return 0;
  double fastest = 0;
  for (double s : speeds) fastest = std::max(fastest, s);
  if (!(fastest > 0)) return 0;
  std::vector<double> rel;  // relative to the fastest core, whose time work_s is
  for (double s : speeds) rel.push_back(std::max(s, 1e-3 * fastest) / fastest);
  const int64_t cores = static_cast<int64_t>(rel.size());
  const double overhead = std::max(0.0, block_overhead_s);
  // The most blocks whose work still amortises their fixed cost.
  const int64_t amortised = overhead > 0 ? static_cast<int64_t>(work_s / (kAmortiseFactor * overhead)) : units;
  const int64_t fewest = std::min(cores, units);
  if (amortised < fewest) return 0;  // some core's block would cost more in hand-off than it saves
  const int64_t most = std::min({units, amortised, kMaxBlocksPerCore * cores});
  // Predicted makespan per count, fixed cost included; the smallest count within the slack of the
  // best (fewer blocks: less hand-off, and measured speeds are noisy).
  std::vector<double> makespan;
  double best = std::numeric_limits<double>::infinity();
  for (int64_t b = fewest; b <= most; ++b) {
    makespan.push_back(EarliestFinishMakespan(rel, b, work_s / static_cast<double>(b) + overhead));
    best = std::min(best, makespan.back());
  }
  for (size_t i = 0; i < makespan.size(); ++i)
    if (makespan[i] <= best * (1 + kStealSlack)) return fewest + static_cast<int64_t>(i);
  return most;
}

double BlockOverheadSeconds(const BlockCostModel& model) {
  if (const char* env = std::getenv("TUTTI_ASYMO_BLOCK_OVERHEAD_US"); env && *env) {
    char* end = nullptr;
    const double us = std::strtod(env, &end);
    if (end != env && us >= 0) return us * 1e-6;
  }
  return model.coefficients()[0] + kHandOffSeconds;
}

std::vector<int64_t> EqualCuts(int64_t extent, int64_t granule, int64_t parts) {
  granule = std::max<int64_t>(1, granule);
  const int64_t units = (extent + granule - 1) / granule;
  parts = std::clamp<int64_t>(parts, 1, std::max<int64_t>(1, units));
  std::vector<int64_t> cuts = {0};
  for (int64_t i = 1; i < parts; ++i) {
    const int64_t c = std::min(extent, (units * i + parts / 2) / parts * granule);
    if (c > cuts.back() && c < extent) cuts.push_back(c);
  }
  cuts.push_back(extent);
  return cuts;
}

BlockPartition BlockPartition::Make(CpuPartition mode, const CorePool& pool, const BlockCostModel& model,
                                    int64_t images, int64_t extent, int64_t granule,
                                    const std::function<BlockShape(int64_t)>& shape_of, double block_overhead_s) {
  BlockPartition p;
  p.mode_ = mode;
  images = std::max<int64_t>(1, images);
  const int64_t workers = static_cast<int64_t>(pool.size());
  std::vector<int64_t> cuts;
  if (mode == CpuPartition::kEqual || mode == CpuPartition::kScheduleOnly) {
    // One piece per core over all images together: each image gets ceil(workers / images) pieces.
    cuts = EqualCuts(extent, granule, (workers + images - 1) / images);
  } else if (mode == CpuPartition::kAsymmetric) {
    const std::vector<double> speeds = ImageSpeeds(pool, images);
    granule = std::max<int64_t>(1, granule);
    const int64_t units = (extent + granule - 1) / granule;
    const double overhead = block_overhead_s >= 0 ? block_overhead_s : BlockOverheadSeconds(model);
    const int64_t blocks = AsymmetricBlockCount(speeds, units, DivisibleSeconds(model, shape_of(extent)), overhead);
    if (blocks == 0 || blocks * images < 2) return p;  // no blocks: the operator runs whole
    cuts = EqualCuts(extent, granule, blocks);
  } else {
    // kBlocksOnly: the cost model's extent for this image's share of the cores (the seed's
    // regression-directed cut, kept as the benchmark's "partitioning alone").
    const std::vector<double> speeds = ImageSpeeds(pool, images);
    const int64_t b = ChooseBlockExtent(model, extent, granule, shape_of, speeds);
    for (int64_t c = 0; c < extent; c += b) cuts.push_back(c);
    cuts.push_back(extent);
  }
  for (int64_t n = 0; n < images; ++n)
    for (size_t i = 0; i + 1 < cuts.size(); ++i) {
      Block blk{n, cuts[i], cuts[i + 1], 0};
      blk.flops = shape_of(blk.extent()).flops;
      p.blocks_.push_back(blk);
    }
  return p;
}

std::vector<int64_t> BlockPartition::extents() const {
  std::set<int64_t> s;
  for (const Block& b : blocks_) s.insert(b.extent());
  return {s.begin(), s.end()};
}

std::vector<PhaseTask> BlockPartition::Place(const CorePool& pool) const {
  std::vector<PhaseTask> tasks(blocks_.size());
  const size_t workers = pool.size();
  for (size_t i = 0; i < blocks_.size(); ++i) tasks[i].flops = blocks_[i].flops;
  switch (mode_) {
    case CpuPartition::kEqual:
      for (size_t i = 0; i < tasks.size(); ++i) tasks[i].worker = static_cast<int>(i % workers);
      break;
    case CpuPartition::kBlocksOnly: {
      // Static placement by the speeds known now: each block to the worker that would finish it
      // first if every worker ran its assigned blocks back to back.
      const std::vector<double> speed = pool.speeds().Snapshot();
      std::vector<double> finish(workers, 0);
      for (PhaseTask& t : tasks) {
        size_t best = 0;
        double best_t = std::numeric_limits<double>::infinity();
        for (size_t w = 0; w < workers; ++w) {
          const double f = finish[w] + t.flops / speed[w];
          if (f < best_t) best_t = f, best = w;
        }
        finish[best] = best_t;
        t.worker = static_cast<int>(best);
      }
      break;
    }
    case CpuPartition::kAsymmetric: {
      // Processor-level split first (seed 001 Fig. 8 step 1): each cluster a contiguous run of blocks
      // holding its share of the flops by summed measured speed; core-level placement inside.
      const int clusters = pool.cluster_count();
      if (clusters <= 1) break;
      std::vector<double> cluster_speed(static_cast<size_t>(clusters), 0);
      for (size_t w = 0; w < workers; ++w) cluster_speed[static_cast<size_t>(pool.cluster(w))] += pool.speeds().gflops(w);
      double total_speed = 0, total_flops = 0;
      for (double s : cluster_speed) total_speed += s;
      for (const PhaseTask& t : tasks) total_flops += t.flops;
      int c = 0;
      double quota = total_flops * cluster_speed[0] / total_speed, taken = 0;
      for (PhaseTask& t : tasks) {
        while (c + 1 < clusters && taken + t.flops / 2 > quota) {
          ++c;
          quota += total_flops * cluster_speed[static_cast<size_t>(c)] / total_speed;
        }
        t.cluster = c;
        taken += t.flops;
      }
      break;
    }
    default:
      break;  // kScheduleOnly: shortest queue anywhere
  }
  return tasks;
}

Status BlockPartition::Run(CorePool& pool, const std::function<Status(const Block&)>& fn) const {
  std::mutex mu;
  Status first = Status::Ok();  // guarded by mu
  const bool steal = mode_ == CpuPartition::kAsymmetric || mode_ == CpuPartition::kScheduleOnly;
  pool.Run(Place(pool), [&](size_t task, size_t) {
    Status s = fn(blocks_[task]);
    if (!s.ok()) {
      std::lock_guard<std::mutex> lock(mu);
      if (first.ok()) first = s;
    }
  }, PhaseOptions{.steal = steal, .learn_speeds = true});
  return first;
}

}  // namespace tutti::cpu::asymmetric
