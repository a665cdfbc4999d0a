// One worker per processor: the thread that runs that processor's stages one at a time (Band runs
// at most one subgraph per processor, so a model never fights another for the same cores).
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <thread>

#include "engine/engine.h"

namespace tutti {

// Fields are guarded by Engine::mu_, except `thread`.
struct Engine::Worker {
  std::thread thread;
  std::condition_variable cv;                // work arrived, or stop
  std::deque<std::shared_ptr<Job>> queue;    // stages assigned here, next first
  bool busy = false;                         // a stage is running
  double running_end_us = 0;                 // when the running stage is expected to end
  double queued_us = 0;                      // expected latency of everything in `queue`
};

}  // namespace tutti
