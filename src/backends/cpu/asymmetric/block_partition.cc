#include "backends/cpu/asymmetric/block_partition.h"

#include <algorithm>
#include <limits>
#include <mutex>
#include <set>

namespace tutti::cpu::asymmetric {

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
                                    const std::function<BlockShape(int64_t)>& shape_of) {
  BlockPartition p;
  p.mode_ = mode;
  images = std::max<int64_t>(1, images);
  const int64_t workers = static_cast<int64_t>(pool.size());
  std::vector<int64_t> cuts;
  if (mode == CpuPartition::kEqual || mode == CpuPartition::kScheduleOnly) {
    // One piece per core over all images together: each image gets ceil(workers / images) pieces.
    cuts = EqualCuts(extent, granule, (workers + images - 1) / images);
  } else {
    // The cost model's extent for this image's share of the cores.
    std::vector<double> speeds = pool.speeds().Snapshot();
    if (images > 1 && static_cast<int64_t>(speeds.size()) > 1) {
      const size_t per_image = static_cast<size_t>(std::max<int64_t>(1, workers / images));
      std::sort(speeds.begin(), speeds.end(), std::greater<>());
      speeds.resize(std::min(speeds.size(), per_image));
    }
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
