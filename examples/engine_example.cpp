// The engine's C++ API in one program: two models registered on every processor of this machine,
// requests submitted from several threads -- some waited on through futures, some answered by
// callbacks -- and each request's outputs printed with how it ended.
//
//   build/release/bin/example_engine_example MODEL_A.onnx MODEL_B.onnx
//   (without arguments it builds two small models in memory, so it runs anywhere)
#include <atomic>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine.h"
#include "model/onnx_loader.h"

namespace {

// x[1, 64] -> Relu -> Sigmoid -> ... -> y: a stand-in for a real model when no file is given.
tutti::Graph SmallModel(const std::string& name, int ops) {
  tutti::Graph g;
  g.name = name;
  tutti::SymbolicShape shape{tutti::Dim::Known(1), tutti::Dim::Known(64)};
  tutti::ValueId x = g.AddInput("x", {tutti::DataType::kFloat32, shape});
  for (int i = 0; i < ops; ++i) {
    tutti::ValueId y = g.AddValue(name + "_v" + std::to_string(i), {tutti::DataType::kFloat32, shape});
    g.AddNode(i % 2 ? "Sigmoid" : "Relu", {x}, {y}, {}, name + "_n" + std::to_string(i));
    x = y;
  }
  g.AddOutput(x);
  return g;
}

// One input per graph input (float, as image models take), every symbolic dim bound to 1, filled with a pattern that depends on
// `seed` so that each request's outputs differ.
std::vector<tutti::Tensor> MakeInputs(const tutti::Graph& g, int seed) {
  std::vector<tutti::Tensor> inputs;
  for (tutti::ValueId id : g.inputs()) {
    tutti::Shape shape;
    if (g.value(id).info.shape)
      for (const tutti::Dim& d : *g.value(id).info.shape) shape.push_back(d.known() ? d.value : 1);
    tutti::Tensor t = tutti::Tensor::Zeros(tutti::DataType::kFloat32, shape).value();
    float* p = t.data<float>();
    for (int64_t i = 0; i < t.num_elements(); ++i) p[i] = std::sin(0.1f * static_cast<float>(i + seed));
    inputs.push_back(std::move(t));
  }
  return inputs;
}

std::string Summary(const tutti::Tensor& t) {
  double sum = 0;
  const float* p = t.data<float>();
  for (int64_t i = 0; i < t.num_elements(); ++i) sum += p[i];
  return tutti::ShapeToString(t.shape()) + " sum " + std::to_string(sum);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 1 && argc != 3) {
    std::fprintf(stderr, "usage: %s [MODEL_A.onnx MODEL_B.onnx]\n", argv[0]);
    return 2;
  }
  // Every processor this machine has (CPU core clusters, CUDA devices); HEFT places each request
  // on the processor (or chain of processors) expected to finish it first.
  tutti::EngineConfig config;
  config.scheduler.name = "heft";
  auto engine = tutti::Engine::Create(config);
  if (!engine.ok()) {
    std::fprintf(stderr, "engine: %s\n", engine.status().ToString().c_str());
    return 1;
  }
  for (const auto& p : (*engine)->processors()) std::printf("processor %s\n", p->spec().Describe().c_str());

  // Registration analyses each model for every processor and profiles its subgraphs. The graphs
  // are kept to shape the inputs.
  std::vector<tutti::Graph> graphs;
  std::vector<tutti::ModelId> models;
  for (int i = 0; i < 2; ++i) {
    tutti::Result<tutti::Graph> g = argc == 3 ? tutti::LoadOnnxModel(argv[1 + i])
                                              : tutti::Result<tutti::Graph>(SmallModel(i ? "b" : "a", 4 + 2 * i));
    if (!g.ok()) {
      std::fprintf(stderr, "load: %s\n", g.status().ToString().c_str());
      return 1;
    }
    graphs.push_back(*g);
    tutti::Result<tutti::ModelId> id = (*engine)->RegisterModel(std::move(g).value());
    if (!id.ok()) {
      std::fprintf(stderr, "register: %s\n", id.status().ToString().c_str());
      return 1;
    }
    models.push_back(*id);
  }

  // Four threads submit at once. Even threads wait on futures; odd ones use callbacks and only
  // count what arrives (a callback runs on an engine worker, so it must not block).
  std::mutex print_mu;
  std::atomic<int> by_callback{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < 3; ++r) {
        const size_t which = static_cast<size_t>((t + r) % 2);
        const tutti::ModelId m = models[which];
        std::vector<tutti::Tensor> inputs = MakeInputs(graphs[which], t * 10 + r);
        tutti::RequestOptions options;
        options.slo_us = 0;  // no deadline; an SLO-aware scheduler would drop a request that cannot meet one
        if (t % 2 == 0) {
          tutti::Result<tutti::Outputs> out = (*engine)->Submit(m, std::move(inputs), options).get();
          std::lock_guard<std::mutex> lock(print_mu);
          if (out.ok())
            std::printf("thread %d request %d model %d (future):   %s, %lld us, %d stage(s)\n", t, r, m,
                        Summary(out->tensors[0]).c_str(), static_cast<long long>(out->finished_us - out->submitted_us),
                        out->stages);
          else
            std::printf("thread %d request %d model %d (future):   %s\n", t, r, m, out.status().ToString().c_str());
        } else {
          options.callback = [&, t, r, m](const tutti::Result<tutti::Outputs>& out) {
            by_callback.fetch_add(1);
            std::lock_guard<std::mutex> lock(print_mu);
            if (out.ok())
              std::printf("thread %d request %d model %d (callback): %s\n", t, r, m, Summary(out->tensors[0]).c_str());
            else
              std::printf("thread %d request %d model %d (callback): %s\n", t, r, m, out.status().ToString().c_str());
          };
          (void)(*engine)->Submit(m, std::move(inputs), std::move(options));
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  (*engine)->WaitIdle();  // callbacks included

  tutti::EngineStats s = (*engine)->stats();
  std::printf("submitted %llu = completed %llu + dropped %llu + failed %llu (%d by callback)\n",
              static_cast<unsigned long long>(s.submitted), static_cast<unsigned long long>(s.completed),
              static_cast<unsigned long long>(s.dropped), static_cast<unsigned long long>(s.failed), by_callback.load());
  for (const auto& p : s.processors)
    std::printf("  %s ran %llu stage(s), busy %.2f ms\n", p.name.c_str(), static_cast<unsigned long long>(p.stages),
                static_cast<double>(p.busy_us) / 1000);
  tutti::Status shut = (*engine)->Shutdown(tutti::ShutdownMode::kFinish);
  return shut.ok() && s.failed == 0 ? 0 : 1;
}
