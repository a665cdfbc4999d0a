// A pool of one worker thread per core, each pinned to its core (AsyMo's scheduler, seed 001 §4.2):
// every task goes to the queue with the shortest expected finish time (queued work / the core's
// current speed), and a worker whose queue is empty steals, from its own cluster first.
//
// Work arrives in phases: a set of independent tasks (the blocks of one operator, or its feature-map
// copies) that Run() executes and waits for. Several phases (from several executables sharing the
// cores) may be in flight at once; each waits only for its own tasks. Inside a task, OpenMP is set
// to one thread, so a oneDNN call in a task computes on exactly this worker's core.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "backends/cpu/asymmetric/core_speed.h"
#include "core/status.h"

namespace tutti::cpu::asymmetric {

// The OpenMP team size a oneDNN call made by the calling thread would use (1 inside a pool task).
int OpenMpThreadsOfCaller();

struct PhaseTask {
  double flops = 0;  // expected work, for placement and speed accounting
  int worker = -1;   // >= 0: placed on this worker (static placement); -1: shortest queue
  int cluster = -1;  // with worker == -1: restrict placement to this cluster's workers (-1: any)
};

struct PhaseOptions {
  bool steal = true;          // idle workers may take this phase's queued tasks
  bool learn_speeds = true;   // fold this phase's measured per-core rates into the speeds
};

class CorePool {
 public:
  // One pinned worker per entry of `cores` (os indices); clusters[i] is worker i's cluster.
  // pin=false is for tests on machines that forbid affinity changes.
  static Result<std::shared_ptr<CorePool>> Create(std::vector<int> cores, std::vector<int> clusters,
                                                  std::vector<double> speeds_gflops, double smoothing,
                                                  bool pin = true);
  ~CorePool();
  CorePool(const CorePool&) = delete;
  CorePool& operator=(const CorePool&) = delete;

  size_t size() const { return workers_.size(); }
  int core(size_t worker) const { return cores_[worker]; }
  int cluster(size_t worker) const { return clusters_[worker]; }
  int cluster_count() const { return cluster_count_; }
  CoreSpeeds& speeds() { return speeds_; }
  const CoreSpeeds& speeds() const { return speeds_; }

  // Runs fn(task_index, worker_index) for every task and returns when all have finished. Must not be
  // called from inside a task (a worker waiting on its own queue would deadlock).
  void Run(const std::vector<PhaseTask>& tasks, const std::function<void(size_t, size_t)>& fn,
           const PhaseOptions& options = {});

  // Counters for tests and reports.
  uint64_t steals() const { return steals_.load(std::memory_order_relaxed); }
  uint64_t phases() const { return phases_.load(std::memory_order_relaxed); }  // Run calls with tasks
  size_t queued(size_t worker) const;  // tasks waiting in that worker's queue

 private:
  struct Phase;
  struct Item {
    Phase* phase;
    uint32_t task;
    double expected_s;  // flops / speed at placement time
  };
  struct Worker {
    std::mutex mu;
    std::deque<Item> queue;   // guarded by mu
    double queued_s = 0;      // guarded by mu: expected seconds of queued work
    std::thread thread;
  };

  CorePool(std::vector<int> cores, std::vector<int> clusters, std::vector<double> speeds, double smoothing);
  void WorkerLoop(size_t w);
  bool TryPop(size_t w, Item& out);
  bool TrySteal(size_t w, Item& out);
  void Execute(size_t w, const Item& item);
  size_t ShortestQueue(int cluster, double flops);

  std::vector<int> cores_, clusters_;
  int cluster_count_ = 1;
  CoreSpeeds speeds_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<uint64_t> steals_{0};
  std::atomic<uint64_t> phases_{0};
  // Sleeping: workers wait on wake_ when every queue looks empty; pushers bump it.
  std::atomic<uint32_t> wake_{0};
  std::atomic<bool> stop_{false};
  std::atomic<int> queued_items_{0};
  std::mutex place_mu_;  // makes one phase's placement decisions see each other's queue lengths
};

}  // namespace tutti::cpu::asymmetric
