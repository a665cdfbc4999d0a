// The engine's timeline: every subgraph execution on its processor, written as Chrome
// trace-event JSON (opens in Perfetto / chrome://tracing), one track per processor.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace tutti {

struct TraceEvent {
  int processor = 0;
  uint64_t request_id = 0;
  std::string model;
  std::string subgraph;  // "whole model", "units 0-2"
  int64_t start_us = 0;  // engine clock
  int64_t end_us = 0;
  bool ok = true;
};

// `processor_names[i]` names track i.
Status WriteChromeTrace(const std::vector<TraceEvent>& events, const std::vector<std::string>& processor_names,
                        const std::string& path);

}  // namespace tutti
