// The engine's timeline: every subgraph execution on its processor, written as Chrome
// trace-event JSON (opens in Perfetto / chrome://tracing), one track per processor. A stage on a
// processor outside host memory (a GPU) also shows its input and output copies, nested at the
// start and end of the stage: backends copy inside Executable::Run and time only the whole, so
// their length is the transfer model's estimate for the bytes moved (marked "estimated"). Flow
// arrows link the stages of one request, so a fallback chain reads across tracks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace tutti {

struct TraceEvent {
  enum Kind { kStage, kCopyIn, kCopyOut } kind = kStage;
  int processor = 0;
  uint64_t request_id = 0;
  std::string model;
  std::string subgraph;  // "whole model", "units 0-2"
  int64_t start_us = 0;  // engine clock
  int64_t end_us = 0;
  bool ok = true;
  int64_t bytes = 0;     // copies: bytes moved
};

// `processor_names[i]` names track i.
Status WriteChromeTrace(const std::vector<TraceEvent>& events, const std::vector<std::string>& processor_names,
                        const std::string& path);

}  // namespace tutti
