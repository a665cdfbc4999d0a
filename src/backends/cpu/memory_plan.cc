#include "backends/cpu/memory_plan.h"

#include <algorithm>
#include <numeric>

namespace tutti::cpu {

MemoryPlan PlanArena(const std::vector<BufferRequest>& requests) {
  constexpr size_t kAlign = 64;
  MemoryPlan plan;
  plan.offsets.assign(requests.size(), 0);
  std::vector<size_t> order(requests.size());
  std::iota(order.begin(), order.end(), 0);
  // Largest first: big buffers claim low offsets, small ones fill the gaps between them.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return requests[a].bytes > requests[b].bytes; });
  struct Placed {
    size_t offset, end;
    int first, last;
  };
  std::vector<Placed> placed;
  for (size_t idx : order) {
    const BufferRequest& r = requests[idx];
    const size_t size = (std::max<size_t>(r.bytes, 1) + kAlign - 1) / kAlign * kAlign;
    // Occupied ranges of buffers alive at the same time, by offset; take the first gap that fits.
    std::vector<std::pair<size_t, size_t>> busy;
    for (const Placed& p : placed)
      if (p.first <= r.last_step && r.first_step <= p.last) busy.emplace_back(p.offset, p.end);
    std::sort(busy.begin(), busy.end());
    size_t offset = 0;
    for (const auto& [begin, end] : busy) {
      if (offset + size <= begin) break;
      offset = std::max(offset, end);
    }
    plan.offsets[idx] = offset;
    placed.push_back({offset, offset + size, r.first_step, r.last_step});
    plan.arena_bytes = std::max(plan.arena_bytes, offset + size);
  }
  return plan;
}

}  // namespace tutti::cpu
