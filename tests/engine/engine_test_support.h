// Helpers shared by the engine tests: CPU processor specs, the independent reference (a Session run
// of the same graph), bit-equality, the request-count invariant, and a processor that breaks.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "backends/backend.h"
#include "engine/engine.h"
#include "runtime/session.h"

namespace tutti::testing {

inline ProcessorSpec Cpu(const std::string& name, std::vector<std::string> deny = {}, std::vector<std::string> allow = {}) {
  ProcessorSpec s;
  s.name = name;
  s.device = "cpu";
  s.threads = 1;
  s.deny_ops = std::move(deny);
  s.allow_ops = std::move(allow);
  return s;
}

inline bool BitEqual(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

inline Tensor Reference(const Graph& g, const Tensor& x) {
  auto s = Session::FromGraph(g);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  auto out = (*s)->Run(std::vector<Tensor>{x});
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return (*out)[0];
}

inline void ExpectCountsAddUp(const EngineStats& s) {
  EXPECT_EQ(s.submitted, s.completed + s.dropped + s.failed)
      << "submitted " << s.submitted << " completed " << s.completed << " dropped " << s.dropped << " failed " << s.failed;
}

// One request of ExpectConcurrentRequestsMatch: what to submit and the graph that is its reference.
struct ConcurrentRequest {
  ModelId model = -1;
  Tensor input;
  const Graph* graph = nullptr;
  RequestOptions options;
};

// Submits `per_thread` requests, make(thread, i), from each of `threads` threads, each waiting for
// its answer; every one must complete, call its callback once and equal its Session reference.
inline void ExpectConcurrentRequestsMatch(Engine& engine, int threads, int per_thread,
                                          const std::function<ConcurrentRequest(int, int)>& make) {
  std::atomic<int> mismatches{0}, errors{0}, callbacks{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        ConcurrentRequest req = make(t, i);
        Tensor want = Reference(*req.graph, req.input);
        req.options.callback = [&](const Result<Outputs>&) { callbacks.fetch_add(1); };
        auto r = engine.Submit(req.model, {req.input}, req.options).get();
        if (!r.ok()) {
          errors.fetch_add(1);
          ADD_FAILURE() << r.status().ToString();
        } else if (!BitEqual(r->tensors[0], want)) {
          mismatches.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : pool) t.join();
  engine.WaitIdle();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(callbacks.load(), threads * per_thread);
  EngineStats s = engine.stats();
  EXPECT_EQ(s.submitted, static_cast<uint64_t>(threads * per_thread));
  EXPECT_EQ(s.completed, s.submitted);
  ExpectCountsAddUp(s);
  EXPECT_TRUE(engine.Shutdown().ok());
}

// A backend whose executables fail with a device error: a processor that breaks.
class FaultyBackend final : public Backend {
 public:
  explicit FaultyBackend(std::unique_ptr<Backend> inner) : inner_(std::move(inner)) {}
  std::string name() const override { return "faulty"; }
  bool SupportsNode(const Graph& g, const Node& n) const override { return inner_->SupportsNode(g, n); }
  std::vector<std::string> SupportedOps() const override { return inner_->SupportedOps(); }
  Result<std::unique_ptr<Executable>> Compile(const Graph&, const CompileOptions&) override {
    return std::unique_ptr<Executable>(new Failing());
  }

 private:
  struct Failing final : Executable {
    Status Run(std::span<const Tensor>, std::vector<Tensor>&) override { return DeviceError("simulated device fault"); }
  };
  std::unique_ptr<Backend> inner_;
};

inline Result<std::unique_ptr<Backend>> MakeFaulty(const std::string&) {
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<Backend> cpu, CreateBackend("cpu"));
  return std::unique_ptr<Backend>(new FaultyBackend(std::move(cpu)));
}

}  // namespace tutti::testing
