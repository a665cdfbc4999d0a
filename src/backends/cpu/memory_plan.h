// Activation memory of a CPU executable: one arena, with offsets assigned so that buffers whose
// lifetimes overlap never overlap in memory ("greedy by size", as TensorFlow Lite's arena planner
// and ONNX Runtime's memory pattern planner do). Lifetimes are step indices of the sequential run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tutti::cpu {

struct BufferRequest {
  size_t bytes = 0;
  int first_step = 0;  // step that writes it
  int last_step = 0;   // last step that reads it
};

struct MemoryPlan {
  std::vector<size_t> offsets;  // per request, 64-byte aligned
  size_t arena_bytes = 0;
};

MemoryPlan PlanArena(const std::vector<BufferRequest>& requests);

}  // namespace tutti::cpu
