#include "backends/cpu/asymmetric/thread_pool.h"

#include "backends/cpu/asymmetric/topology.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <limits>

namespace tutti::cpu::asymmetric {
namespace {

using Clock = std::chrono::steady_clock;

// How long an idle worker keeps polling before it sleeps. Between two operators of a model there is
// usually a short element-wise op on the caller's thread; waking a sleeping thread costs tens of
// microseconds on a VM, so a short spin pays. Longer spins would steal time from a co-runner.
int SpinMicros() {
  static const int us = [] {
    const char* env = std::getenv("TUTTI_ASYMO_SPIN_US");
    return env ? std::max(0, std::atoi(env)) : 100;
  }();
  return us;
}

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

}  // namespace

int OpenMpThreadsOfCaller() { return omp_get_max_threads(); }

struct CorePool::Phase {
  const std::function<void(size_t, size_t)>* fn = nullptr;
  const std::vector<PhaseTask>* tasks = nullptr;
  bool steal = true;
  std::atomic<size_t> remaining{0};
  // Slot w is written only by worker w, read by the caller after `remaining` reached zero.
  std::vector<double> flops_by_worker, busy_by_worker;
  std::mutex done_mu;  // the finishing worker signals under it, so the caller may destroy the phase
  std::condition_variable done_cv;
  bool done = false;
};

CorePool::CorePool(std::vector<int> cores, std::vector<int> clusters, std::vector<double> speeds, double smoothing)
    : cores_(std::move(cores)), clusters_(std::move(clusters)), speeds_(std::move(speeds), smoothing) {
  cluster_count_ = clusters_.empty() ? 1 : *std::max_element(clusters_.begin(), clusters_.end()) + 1;
}

Result<std::shared_ptr<CorePool>> CorePool::Create(std::vector<int> cores, std::vector<int> clusters,
                                                   std::vector<double> speeds_gflops, double smoothing, bool pin) {
  if (cores.empty()) return InvalidArgument("a core pool needs at least one core");
  if (clusters.empty()) clusters.assign(cores.size(), 0);
  if (speeds_gflops.empty()) speeds_gflops.assign(cores.size(), 1.0);
  if (clusters.size() != cores.size() || speeds_gflops.size() != cores.size())
    return InvalidArgument("core pool: ", cores.size(), " cores but ", clusters.size(), " cluster ids and ",
                           speeds_gflops.size(), " speeds");
  for (int c : clusters)
    if (c < 0) return InvalidArgument("core pool: negative cluster id");
  std::shared_ptr<CorePool> pool(new CorePool(std::move(cores), std::move(clusters), std::move(speeds_gflops), smoothing));
  // Start-up handshake: each worker reports whether it could pin itself. Shared ownership, so a
  // worker still inside notify is never left touching a dead stack frame.
  struct Startup {
    std::mutex mu;
    std::condition_variable cv;
    size_t reported = 0;
    int bad_core = -1;
  };
  auto startup = std::make_shared<Startup>();
  for (size_t w = 0; w < pool->cores_.size(); ++w) pool->workers_.push_back(std::make_unique<Worker>());
  for (size_t w = 0; w < pool->cores_.size(); ++w) {
    pool->workers_[w]->thread = std::thread([raw = pool.get(), w, pin, startup] {
      bool ok = true;
      if (pin) ok = PinCurrentThread(raw->cores_[w]);
      {
        std::lock_guard<std::mutex> lock(startup->mu);
        ++startup->reported;
        if (!ok) startup->bad_core = raw->cores_[w];
        startup->cv.notify_all();
      }
      if (ok) raw->WorkerLoop(w);
    });
  }
  int bad_core;
  {
    std::unique_lock<std::mutex> lock(startup->mu);
    startup->cv.wait(lock, [&] { return startup->reported == pool->cores_.size(); });
    bad_core = startup->bad_core;
  }
  if (bad_core >= 0) return Unavailable("cannot pin a worker thread to CPU core ", bad_core);
  return pool;
}

CorePool::~CorePool() {
  stop_.store(true);
  wake_.fetch_add(1);
  wake_.notify_all();
  for (auto& w : workers_)
    if (w->thread.joinable()) w->thread.join();
}

size_t CorePool::ShortestQueue(int cluster, double flops) {
  size_t best = 0;
  double best_s = std::numeric_limits<double>::infinity();
  for (size_t w = 0; w < workers_.size(); ++w) {
    if (cluster >= 0 && clusters_[w] != cluster) continue;
    double queued;
    {
      std::lock_guard<std::mutex> lock(workers_[w]->mu);
      queued = workers_[w]->queued_s;
    }
    const double finish = queued + flops / (speeds_.gflops(w) * 1e9);
    if (finish < best_s) best_s = finish, best = w;
  }
  return best;
}

void CorePool::Run(const std::vector<PhaseTask>& tasks, const std::function<void(size_t, size_t)>& fn,
                   const PhaseOptions& options) {
  if (tasks.empty()) return;
  phases_.fetch_add(1, std::memory_order_relaxed);
  Phase ph;
  ph.fn = &fn;
  ph.tasks = &tasks;
  ph.steal = options.steal;
  ph.remaining.store(tasks.size());
  ph.flops_by_worker.assign(workers_.size(), 0);
  ph.busy_by_worker.assign(workers_.size(), 0);
  {
    std::lock_guard<std::mutex> place(place_mu_);
    for (size_t i = 0; i < tasks.size(); ++i) {
      const PhaseTask& t = tasks[i];
      const size_t w = t.worker >= 0 ? static_cast<size_t>(t.worker) % workers_.size() : ShortestQueue(t.cluster, t.flops);
      Worker& wk = *workers_[w];
      const double expected = t.flops / (speeds_.gflops(w) * 1e9);
      std::lock_guard<std::mutex> lock(wk.mu);
      wk.queue.push_back(Item{&ph, static_cast<uint32_t>(i), expected});
      wk.queued_s += expected;
    }
  }
  queued_items_.fetch_add(static_cast<int>(tasks.size()));
  wake_.fetch_add(1);
  wake_.notify_all();

  const auto spin_until = Clock::now() + std::chrono::microseconds(SpinMicros());
  while (ph.remaining.load(std::memory_order_acquire) != 0 && Clock::now() < spin_until) CpuRelax();
  {
    std::unique_lock<std::mutex> lock(ph.done_mu);
    ph.done_cv.wait(lock, [&] { return ph.done; });
  }
  if (options.learn_speeds) speeds_.Observe(ph.flops_by_worker, ph.busy_by_worker);
}

size_t CorePool::queued(size_t worker) const {
  std::lock_guard<std::mutex> lock(workers_[worker]->mu);
  return workers_[worker]->queue.size();
}

bool CorePool::TryPop(size_t w, Item& out) {
  Worker& wk = *workers_[w];
  std::lock_guard<std::mutex> lock(wk.mu);
  if (wk.queue.empty()) return false;
  out = wk.queue.front();
  wk.queue.pop_front();
  wk.queued_s = wk.queue.empty() ? 0 : std::max(0.0, wk.queued_s - out.expected_s);
  return true;
}

bool CorePool::TrySteal(size_t w, Item& out) {
  // Victims: the same cluster first (no data crosses clusters needlessly), then the rest; within
  // each, the queue with the most expected work.
  for (int pass = 0; pass < 2; ++pass) {
    while (true) {
      size_t victim = workers_.size();
      double most = 0;
      for (size_t v = 0; v < workers_.size(); ++v) {
        if (v == w || (clusters_[v] == clusters_[w]) != (pass == 0)) continue;
        std::lock_guard<std::mutex> lock(workers_[v]->mu);
        if (!workers_[v]->queue.empty() && workers_[v]->queued_s >= most) most = workers_[v]->queued_s, victim = v;
      }
      if (victim == workers_.size()) break;
      Worker& vk = *workers_[victim];
      std::lock_guard<std::mutex> lock(vk.mu);
      for (auto it = vk.queue.rbegin(); it != vk.queue.rend(); ++it) {
        if (!it->phase->steal) continue;
        out = *it;
        vk.queue.erase(std::next(it).base());
        vk.queued_s = vk.queue.empty() ? 0 : std::max(0.0, vk.queued_s - out.expected_s);
        steals_.fetch_add(1, std::memory_order_relaxed);
        return true;
      }
      break;  // the fullest queue holds only pinned tasks; do not spin over the others
    }
  }
  return false;
}

void CorePool::Execute(size_t w, const Item& item) {
  queued_items_.fetch_sub(1);
  Phase& ph = *item.phase;
  const auto t0 = Clock::now();
  (*ph.fn)(item.task, w);
  ph.busy_by_worker[w] += std::chrono::duration<double>(Clock::now() - t0).count();
  ph.flops_by_worker[w] += (*ph.tasks)[item.task].flops;
  if (ph.remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    std::lock_guard<std::mutex> lock(ph.done_mu);
    ph.done = true;
    ph.done_cv.notify_all();
  }
}

void CorePool::WorkerLoop(size_t w) {
  // oneDNN and sgemm calls in tasks read this thread's OpenMP team size: one thread, this core.
  omp_set_num_threads(1);
  while (!stop_.load()) {
    // Read before looking at the queues: a push after this read changes wake_ and the wait below
    // returns at once, so no push is ever slept through.
    const uint32_t seen = wake_.load();
    Item item;
    if (TryPop(w, item) || TrySteal(w, item)) {
      Execute(w, item);
      continue;
    }
    const auto spin_until = Clock::now() + std::chrono::microseconds(SpinMicros());
    bool more = false;
    while (!stop_.load() && Clock::now() < spin_until) {
      if (queued_items_.load() > 0 && (TryPop(w, item) || TrySteal(w, item))) {
        Execute(w, item);
        more = true;
        break;
      }
      for (int i = 0; i < 32; ++i) CpuRelax();
    }
    if (more || stop_.load()) continue;
    // Items only another worker may run (static placement) do not keep this worker awake.
    wake_.wait(seen);
  }
}

}  // namespace tutti::cpu::asymmetric
