// `tutti workload CONFIG.json`: many models on every processor at once through the engine (Band's
// workload runs): each model gets a request pattern -- periodic, a closed loop of N clients, or
// Poisson arrivals -- and an optional SLO; the report gives per model and overall the request
// outcomes (which always add up, with reasons), throughput, latency percentiles and SLO
// satisfaction, and per processor the utilisation. --trace writes the engine's timeline.
//
// The config is an engine config (engine/engine_config.h) plus the workload's own fields:
//
//   {"duration_s": 10, "seed": 1,
//    "models": [{"name": "mobilenet", "file": "mobilenet_v2.onnx", "batch": 1, "slo_ms": 50,
//                "pattern": "closed_loop", "clients": 2},
//               {"file": "resnet50.onnx", "pattern": "poisson", "rate_per_s": 20},
//               {"file": "squeezenet.onnx", "pattern": "periodic", "period_ms": 100}],
//    "processors": [...], "scheduler": {...}, "queue": {...}, "profile": {...}}
//
// Model files are relative to the config file's folder.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include "engine/engine.h"
#include "engine/json_fields.h"
#include "tools/cli_util.h"

namespace tutti::cli {
namespace {

enum class Pattern { kClosedLoop, kPeriodic, kPoisson };

struct ModelLoad {
  std::string name;
  std::string file;
  int64_t batch = 1;
  int64_t slo_us = 0;  // 0 = none
  Pattern pattern = Pattern::kClosedLoop;
  int clients = 1;         // closed loop
  double period_ms = 0;    // periodic
  double rate_per_s = 0;   // Poisson

  std::string PatternText() const {
    char buf[64];
    if (pattern == Pattern::kClosedLoop) std::snprintf(buf, sizeof buf, "closed loop x%d", clients);
    else if (pattern == Pattern::kPeriodic) std::snprintf(buf, sizeof buf, "every %g ms", period_ms);
    else std::snprintf(buf, sizeof buf, "poisson %g/s", rate_per_s);
    return buf;
  }
};

struct Workload {
  EngineConfig engine;
  std::vector<ModelLoad> models;
  double duration_s = 10;
  int64_t seed = 1;
};

Result<ModelLoad> ModelLoadFromJson(const nlohmann::json& j, const std::string& path, const std::filesystem::path& dir) {
  ModelLoad m;
  JsonFields f(j, path);
  f.String("name", m.name);
  f.String("file", m.file);
  f.Int("batch", m.batch, 1, 1 << 16);
  double slo_ms = 0;
  f.Double("slo_ms", slo_ms, 0, 3.6e6);
  m.slo_us = static_cast<int64_t>(std::llround(slo_ms * 1000));
  std::string pattern = "closed_loop";
  f.String("pattern", pattern);
  // Only the pattern's own parameter is read, so another pattern's parameter is reported as an
  // unknown field by Finish instead of being silently ignored.
  if (pattern == "closed_loop") {
    m.pattern = Pattern::kClosedLoop;
    f.Int("clients", m.clients, 1, 4096);
  } else if (pattern == "periodic") {
    m.pattern = Pattern::kPeriodic;
    if (!f.Has("period_ms")) f.Fail("period_ms", "is required for pattern \"periodic\"");
    f.Double("period_ms", m.period_ms, 0.01, 3.6e6);
  } else if (pattern == "poisson") {
    m.pattern = Pattern::kPoisson;
    if (!f.Has("rate_per_s")) f.Fail("rate_per_s", "is required for pattern \"poisson\"");
    f.Double("rate_per_s", m.rate_per_s, 1e-3, 1e6);
  } else {
    f.Fail("pattern", "must be \"closed_loop\", \"periodic\" or \"poisson\", got \"" + pattern + "\"");
  }
  if (!f.Has("file")) f.Fail("file", "is required");
  TUTTI_RETURN_IF_ERROR(f.Finish());
  if (m.file.empty()) return InvalidArgument("field '", path, ".file' is empty");
  std::filesystem::path file(m.file);
  if (file.is_relative()) m.file = (dir / file).lexically_normal().string();
  if (m.name.empty()) m.name = file.stem().string();
  return m;
}

Result<Workload> LoadWorkload(const std::string& file) {
  TUTTI_ASSIGN_OR_RETURN(nlohmann::json j, ReadJsonFile(file));
  if (!j.is_object()) return InvalidArgument(file, ": the workload config must be a JSON object");
  Workload w;
  // The workload's own fields are read here; what is left is the engine config.
  nlohmann::json own = nlohmann::json::object();
  for (const char* key : {"models", "duration_s", "seed"})
    if (j.contains(key)) {
      own[key] = j[key];
      j.erase(key);
    }
  JsonFields f(own, "");
  f.Double("duration_s", w.duration_s, 0.001, 86400);
  f.Int("seed", w.seed, 0, int64_t{1} << 31);
  const std::filesystem::path dir = std::filesystem::path(file).parent_path();
  if (const nlohmann::json* models = f.Array("models")) {
    for (size_t i = 0; i < models->size(); ++i) {
      auto m = ModelLoadFromJson((*models)[i], StrCat("models[", i, "]"), dir);
      if (!m.ok()) return m.status().WithContext(file);
      for (const ModelLoad& other : w.models)
        if (other.name == m->name)
          return InvalidArgument(file, ": field 'models[", i, "].name' repeats the name '", m->name, "'");
      w.models.push_back(std::move(m).value());
    }
  }
  if (Status s = f.Finish(); !s.ok()) return s.WithContext(file);
  if (w.models.empty()) return InvalidArgument(file, ": field 'models' must list at least one model");
  auto engine = EngineConfigFromJson(j, "");
  if (!engine.ok()) return engine.status().WithContext(file);
  w.engine = std::move(engine).value();
  return w;
}

// Outcomes of one model's requests, filled by engine callbacks on worker threads.
struct ModelTally {
  std::mutex mu;
  uint64_t submitted = 0, completed = 0, dropped = 0, failed = 0, slo_met = 0;
  std::vector<double> latency_ms;  // completed requests
  std::map<std::string, std::pair<uint64_t, std::string>> reasons;  // "dropped: deadline exceeded" -> (count, example)

  void Record(const Result<Outputs>& r, int64_t slo_us) {
    std::lock_guard<std::mutex> lock(mu);
    const std::string outcome = RequestOutcome(r.status());
    if (r.ok()) {
      ++completed;
      const int64_t us = r->finished_us - r->submitted_us;
      latency_ms.push_back(static_cast<double>(us) / 1000.0);
      if (slo_us > 0 && us <= slo_us) ++slo_met;
    } else {
      (outcome == "dropped" ? dropped : failed) += 1;
      auto& reason = reasons[outcome + ": " + StatusCodeName(r.status().code())];
      if (reason.first++ == 0) reason.second = r.status().message();
    }
  }
};

struct Totals {
  uint64_t submitted = 0, completed = 0, dropped = 0, failed = 0, slo_met = 0, slo_requests = 0;
  std::vector<double> latency_ms;
};

Json LatencyJson(std::vector<double> ms) {
  if (ms.empty()) return {{"p50", nullptr}, {"p95", nullptr}, {"p99", nullptr}, {"mean", nullptr}};
  std::sort(ms.begin(), ms.end());
  double mean = 0;
  for (double x : ms) mean += x / static_cast<double>(ms.size());
  return {{"p50", Percentile(ms, 50)}, {"p95", Percentile(ms, 95)}, {"p99", Percentile(ms, 99)}, {"mean", mean}};
}

Json CountsJson(uint64_t submitted, uint64_t completed, uint64_t dropped, uint64_t failed, double elapsed_s) {
  return {{"submitted", submitted}, {"completed", completed}, {"dropped", dropped}, {"failed", failed},
          {"throughput_per_s", elapsed_s > 0 ? static_cast<double>(completed) / elapsed_s : 0.0}};
}

// One progress line on stderr: rewritten in place on a terminal, a new line now and then otherwise.
class Progress {
 public:
  Progress(bool quiet, double duration_s) : quiet_(quiet), tty_(isatty(2)), duration_s_(duration_s) {}
  void Update(double t_s, uint64_t submitted, uint64_t completed, uint64_t dropped, uint64_t failed) {
    if (quiet_) return;
    const double every = tty_ ? 0.5 : std::max(1.0, duration_s_ / 5);
    if (t_s - last_s_ < every) return;
    last_s_ = t_s;
    std::fprintf(stderr, "%s[%6.1f / %.1f s] submitted %llu  completed %llu  dropped %llu  failed %llu  (%.1f/s)%s",
                 tty_ ? "\r" : "", t_s, duration_s_, static_cast<unsigned long long>(submitted),
                 static_cast<unsigned long long>(completed), static_cast<unsigned long long>(dropped),
                 static_cast<unsigned long long>(failed), t_s > 0 ? static_cast<double>(completed) / t_s : 0.0,
                 tty_ ? "   " : "\n");
    std::fflush(stderr);
  }
  // Only on a terminal: elsewhere stderr stays free for the one-line error of a failed run.
  void Note(const std::string& line) {
    if (quiet_ || !tty_) return;
    Finish();
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  void Finish() {
    if (!quiet_ && tty_ && last_s_ >= 0) std::fprintf(stderr, "\n");
    last_s_ = -1e9;
  }

 private:
  bool quiet_, tty_;
  double duration_s_;
  double last_s_ = -1e9;
};

int WorkloadBody(Args& args) {
  auto fail = [](const Status& s) { return ReportError(s); };
  if (args.positional().size() != 1)
    return fail(InvalidArgument("expected one workload config file (tutti workload CONFIG.json), got ",
                                args.positional().size(), " arguments"));
  const std::string config_file = args.positional()[0];
  const std::string trace_file = args.GetOr("trace", "");
  std::optional<double> duration_flag;
  if (auto d = args.Get("duration")) {
    char* end = nullptr;
    double v = std::strtod(d->c_str(), &end);
    if (d->empty() || *end != '\0' || !(v > 0 && v <= 86400))
      return fail(InvalidArgument("--duration expects seconds in (0, 86400], got '", *d, "'"));
    duration_flag = v;
  }
  const bool json = args.Has("json");
  const bool quiet = args.Has("quiet");
  if (Status s = args.CheckAllUsed(); !s.ok()) return fail(s);

  auto workload = LoadWorkload(config_file);
  if (!workload.ok()) return fail(workload.status());
  if (!trace_file.empty() && !std::ofstream(trace_file))  // before minutes of running, not after
    return fail(InvalidArgument("--trace: cannot write '", trace_file, "'"));
  Workload& w = *workload;
  if (duration_flag) w.duration_s = *duration_flag;
  if (!trace_file.empty()) w.engine.record_trace = true;

  // Inputs first, so a model that cannot be loaded or fed is reported before the engine starts.
  std::vector<Graph> graphs;
  std::vector<std::vector<Tensor>> inputs;
  for (const ModelLoad& m : w.models) {
    auto graph = LoadModelGraph(m.file);
    if (!graph.ok()) return fail(graph.status().WithContext("model '" + m.name + "'"));
    InputFlags flags;
    flags.batch = m.batch;
    int64_t batch = 1;
    auto made = MakeInputs(*graph, flags, &batch);
    if (!made.ok()) return fail(made.status().WithContext("model '" + m.name + "'"));
    std::vector<Tensor> tensors;
    for (InputTensor& in : *made) tensors.push_back(std::move(in.tensor));
    inputs.push_back(std::move(tensors));
    graphs.push_back(std::move(graph).value());
  }

  Progress progress(quiet, w.duration_s);
  auto engine_or = Engine::Create(w.engine);
  if (!engine_or.ok()) return fail(engine_or.status());
  Engine& engine = **engine_or;
  std::vector<ModelId> ids;
  for (size_t i = 0; i < w.models.size(); ++i) {
    progress.Note("registering and profiling " + w.models[i].name + " ...");
    auto id = engine.RegisterModel(std::move(graphs[i]), w.models[i].name);
    if (!id.ok()) return fail(id.status());
    ids.push_back(*id);
  }
  (void)engine.TakeTrace();  // nothing served yet; the trace starts with the run

  std::vector<std::unique_ptr<ModelTally>> tallies;
  for (size_t i = 0; i < w.models.size(); ++i) tallies.push_back(std::make_unique<ModelTally>());
  const EngineStats before = engine.stats();
  const int64_t start_us = engine.NowUs();
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::microseconds(static_cast<int64_t>(w.duration_s * 1e6));

  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stop = false;
  // Sleeps until `t` or the run ends; false when the run ended first.
  auto sleep_until = [&](std::chrono::steady_clock::time_point t) {
    std::unique_lock<std::mutex> lock(stop_mu);
    return !stop_cv.wait_until(lock, std::min(t, end), [&] { return stop; }) && t < end;
  };
  auto submit = [&](size_t m) {
    ModelTally& tally = *tallies[m];
    {
      std::lock_guard<std::mutex> lock(tally.mu);
      ++tally.submitted;
    }
    RequestOptions o;
    o.slo_us = w.models[m].slo_us;
    o.callback = [&tally, slo = o.slo_us](const Result<Outputs>& r) { tally.Record(r, slo); };
    return engine.Submit(ids[m], inputs[m], std::move(o));
  };

  std::vector<std::thread> clients;
  for (size_t m = 0; m < w.models.size(); ++m) {
    const ModelLoad& load = w.models[m];
    if (load.pattern == Pattern::kClosedLoop) {
      for (int c = 0; c < load.clients; ++c)
        clients.emplace_back([&, m] {
          while (std::chrono::steady_clock::now() < end) {
            submit(m).wait();
            std::lock_guard<std::mutex> lock(stop_mu);
            if (stop) break;
          }
        });
    } else {
      clients.emplace_back([&, m] {
        std::mt19937_64 rng(static_cast<uint64_t>(w.seed) * 1000003 + m);
        std::exponential_distribution<double> gap(load.pattern == Pattern::kPoisson ? load.rate_per_s : 1.0);
        auto next = start;
        for (;;) {
          // Periodic arrivals start at t=0; Poisson ones after a first random gap.
          if (load.pattern == Pattern::kPoisson) next += std::chrono::nanoseconds(static_cast<int64_t>(gap(rng) * 1e9));
          if (!sleep_until(next)) break;
          submit(m);  // open loop: the future is not waited on; the callback records the outcome
          if (load.pattern == Pattern::kPeriodic)
            next += std::chrono::nanoseconds(static_cast<int64_t>(load.period_ms * 1e6));
        }
      });
    }
  }

  // Progress until the duration is over, then let every admitted request end.
  for (;;) {
    auto now = std::chrono::steady_clock::now();
    uint64_t sub = 0, done = 0, dropped = 0, failed = 0;
    for (auto& t : tallies) {
      std::lock_guard<std::mutex> lock(t->mu);
      sub += t->submitted, done += t->completed, dropped += t->dropped, failed += t->failed;
    }
    progress.Update(std::chrono::duration<double>(now - start).count(), sub, done, dropped, failed);
    if (now >= end) break;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(std::chrono::milliseconds(100), end - now));
  }
  {
    std::lock_guard<std::mutex> lock(stop_mu);
    stop = true;
  }
  stop_cv.notify_all();
  for (auto& t : clients) t.join();
  engine.WaitIdle();
  const int64_t end_us = engine.NowUs();
  progress.Finish();
  const double elapsed_s = static_cast<double>(end_us - start_us) / 1e6;
  const EngineStats after = engine.stats();
  std::vector<TraceEvent> trace = engine.TakeTrace();
  if (Status s = engine.Shutdown(ShutdownMode::kFinish); !s.ok()) return fail(s);
  std::string trace_note;
  if (!trace_file.empty()) {
    std::vector<std::string> names;
    for (const auto& p : engine.processors()) names.push_back(p->spec().Describe());
    for (TraceEvent& e : trace) e.start_us -= start_us, e.end_us -= start_us;
    if (Status s = WriteChromeTrace(trace, names, trace_file); !s.ok()) return fail(s);
  }

  // The report.
  Json report;
  report["config"] = config_file;
  report["scheduler"] = engine.scheduler_name();
  report["duration_s"] = w.duration_s;
  report["elapsed_s"] = elapsed_s;
  Totals all;
  Json models = Json::array();
  for (size_t m = 0; m < w.models.size(); ++m) {
    const ModelLoad& load = w.models[m];
    ModelTally& t = *tallies[m];
    std::lock_guard<std::mutex> lock(t.mu);
    Json j = {{"name", load.name}, {"file", load.file}, {"batch", load.batch}, {"pattern", load.PatternText()}};
    j.update(CountsJson(t.submitted, t.completed, t.dropped, t.failed, elapsed_s));
    j["latency_ms"] = LatencyJson(t.latency_ms);
    j["slo_ms"] = load.slo_us > 0 ? Json(static_cast<double>(load.slo_us) / 1000) : Json(nullptr);
    // Band's SLO satisfaction: requests that completed within their SLO over all submitted (a
    // dropped or failed request missed it).
    j["slo_satisfaction"] = load.slo_us > 0 && t.submitted > 0 ? Json(static_cast<double>(t.slo_met) / t.submitted)
                                                               : Json(nullptr);
    Json reasons = Json::object();
    for (const auto& [reason, ce] : t.reasons) reasons[reason] = {{"count", ce.first}, {"example", ce.second}};
    j["reasons"] = reasons;
    models.push_back(j);
    all.submitted += t.submitted, all.completed += t.completed, all.dropped += t.dropped, all.failed += t.failed;
    if (load.slo_us > 0) all.slo_met += t.slo_met, all.slo_requests += t.submitted;
    all.latency_ms.insert(all.latency_ms.end(), t.latency_ms.begin(), t.latency_ms.end());
  }
  report["models"] = models;
  Json overall = CountsJson(all.submitted, all.completed, all.dropped, all.failed, elapsed_s);
  overall["latency_ms"] = LatencyJson(all.latency_ms);
  overall["slo_satisfaction"] =
      all.slo_requests > 0 ? Json(static_cast<double>(all.slo_met) / all.slo_requests) : Json(nullptr);
  overall["retried"] = after.retried - before.retried;
  overall["stolen"] = after.stolen - before.stolen;
  report["overall"] = overall;
  Json procs = Json::array();
  for (size_t p = 0; p < engine.processors().size(); ++p) {
    const ProcessorSpec& spec = engine.processors()[p]->spec();
    const int64_t busy = after.processors[p].busy_us - before.processors[p].busy_us;
    procs.push_back({{"name", spec.name}, {"device", spec.device},
                     {"cores", spec.cpu_cores.empty() ? Json(nullptr) : Json(FormatCoreList(spec.cpu_cores))},
                     {"threads", spec.threads}, {"stages", after.processors[p].stages - before.processors[p].stages},
                     {"busy_s", static_cast<double>(busy) / 1e6},
                     {"utilisation", elapsed_s > 0 ? static_cast<double>(busy) / 1e6 / elapsed_s : 0.0}});
  }
  report["processors"] = procs;
  report["trace"] = trace_file.empty() ? Json(nullptr) : Json(trace_file);

  if (json) {
    std::printf("%s\n", DumpJson(report).c_str());
    std::fflush(stdout);
    return 0;
  }
  auto ms = [](const Json& v) { return v.is_null() ? std::string("-") : StrCat(std::round(v.get<double>() * 100) / 100); };
  auto pct = [](const Json& v) { return v.is_null() ? std::string("-") : StrCat(std::round(v.get<double>() * 1000) / 10, "%"); };
  std::printf("workload %s: %zu model%s on %zu processor%s, scheduler %s, %.1f s (+%.2f s to drain)\n",
              config_file.c_str(), w.models.size(), w.models.size() == 1 ? "" : "s", engine.processors().size(),
              engine.processors().size() == 1 ? "" : "s", engine.scheduler_name().c_str(), w.duration_s,
              std::max(0.0, elapsed_s - w.duration_s));
  std::printf("  %-16s %-16s %9s %9s %7s %6s %8s %8s %8s %8s %7s\n", "model", "pattern", "submitted", "completed",
              "dropped", "failed", "req/s", "p50 ms", "p95 ms", "p99 ms", "SLO met");
  auto row = [&](const std::string& name, const std::string& pattern, const Json& j) {
    std::printf("  %-16s %-16s %9llu %9llu %7llu %6llu %8.2f %8s %8s %8s %7s\n", name.c_str(), pattern.c_str(),
                static_cast<unsigned long long>(j["submitted"].get<uint64_t>()),
                static_cast<unsigned long long>(j["completed"].get<uint64_t>()),
                static_cast<unsigned long long>(j["dropped"].get<uint64_t>()),
                static_cast<unsigned long long>(j["failed"].get<uint64_t>()), j["throughput_per_s"].get<double>(),
                ms(j["latency_ms"]["p50"]).c_str(), ms(j["latency_ms"]["p95"]).c_str(),
                ms(j["latency_ms"]["p99"]).c_str(), pct(j["slo_satisfaction"]).c_str());
  };
  for (const Json& j : report["models"]) row(j["name"].get<std::string>(), j["pattern"].get<std::string>(), j);
  row("overall", "", report["overall"]);
  for (const Json& j : report["models"])
    for (const auto& [reason, r] : j["reasons"].items())
      std::printf("  %s: %llu %s (e.g. %s)\n", j["name"].get<std::string>().c_str(),
                  static_cast<unsigned long long>(r["count"].get<uint64_t>()), reason.c_str(),
                  r["example"].get<std::string>().c_str());
  std::printf("  %-16s %-10s %-8s %8s %8s %11s\n", "processor", "device", "cores", "stages", "busy s", "utilisation");
  for (const Json& p : report["processors"])
    std::printf("  %-16s %-10s %-8s %8llu %8.2f %11s\n", p["name"].get<std::string>().c_str(),
                p["device"].get<std::string>().c_str(), p["cores"].is_null() ? "-" : p["cores"].get<std::string>().c_str(),
                static_cast<unsigned long long>(p["stages"].get<uint64_t>()), p["busy_s"].get<double>(),
                pct(p["utilisation"]).c_str());
  if (!trace_file.empty())
    std::printf("  trace: %s (%zu events; open in https://ui.perfetto.dev)\n", trace_file.c_str(), trace.size());
  std::fflush(stdout);
  return 0;
}

}  // namespace

TUTTI_REGISTER_COMMAND("workload", "run many models on every processor at once (engine workload benchmark)",
                       "usage: tutti workload CONFIG.json [options]\n"
                       "  CONFIG.json          an engine config (docs/engine.md) plus \"duration_s\", \"seed\" and\n"
                       "                       \"models\": [{\"file\", \"name\", \"batch\", \"slo_ms\", \"pattern\":\n"
                       "                       \"closed_loop\" (\"clients\") | \"periodic\" (\"period_ms\") |\n"
                       "                       \"poisson\" (\"rate_per_s\")}]; model files relative to the config\n"
                       "  --duration S         seconds of submitting (overrides duration_s)\n"
                       "  --trace FILE         write a Chrome trace-event JSON of every stage (opens in Perfetto)\n"
                       "  --json               print the report as JSON\n"
                       "  --quiet              no progress line",
                       &WorkloadBody);

}  // namespace tutti::cli
