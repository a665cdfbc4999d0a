// `tutti bench MODEL`: latency distribution, throughput and peak memory of one model on one
// processor, in the manner of onnxruntime_perf_test and trtexec. The JSON form is documented in
// docs/cli.md; bench/ scripts parse it to compare with ONNX Runtime.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>

#include "tools/batch_split_cli.h"
#include "tools/cli_util.h"

namespace tutti::cli {
namespace {

struct LatencySummary {
  double median = 0, p90 = 0, p99 = 0, min = 0, max = 0, mean = 0;
};

// Median (mean of the middle two for an even count) and nearest-rank p90/p99.
LatencySummary Summarise(std::vector<double> ms) {
  LatencySummary s;
  if (ms.empty()) return s;
  std::sort(ms.begin(), ms.end());
  const size_t n = ms.size();
  s.median = n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
  s.p90 = Percentile(ms, 90);
  s.p99 = Percentile(ms, 99);
  s.min = ms.front();
  s.max = ms.back();
  for (double x : ms) s.mean += x / static_cast<double>(n);
  return s;
}

int BenchBody(Args& args) {
  if (args.Has("split")) return RunSplitBatch(args, /*bench=*/true);  // one batch over several processors
  auto fail = [](const Status& s) { return ReportError(s); };
  auto model = ModelPathArg(args);
  if (!model.ok()) return fail(model.status());
  auto options = ParseSessionOptions(args);
  if (!options.ok()) return fail(options.status());
  auto input_flags = ParseInputFlags(args);
  if (!input_flags.ok()) return fail(input_flags.status());
  // --iterations N (--iters is the short spelling) or --duration S: a count or a time budget.
  if (args.Has("iters") && args.Has("iterations")) return fail(InvalidArgument("give --iterations or --iters, not both"));
  auto iters = args.GetInt(args.Has("iters") ? "iters" : "iterations", 20, 1, 100000000);
  if (!iters.ok()) return fail(iters.status());
  double duration_s = 0;
  if (auto d = args.Get("duration")) {
    if (args.Has("iters") || args.Has("iterations")) return fail(InvalidArgument("give --iterations or --duration, not both"));
    char* end = nullptr;
    duration_s = std::strtod(d->c_str(), &end);
    if (d->empty() || *end != '\0' || !(duration_s > 0 && duration_s <= 86400))
      return fail(InvalidArgument("--duration expects seconds in (0, 86400], got '", *d, "'"));
  }
  auto warmup = args.GetInt("warmup", 3, 0, 1000000);
  if (!warmup.ok()) return fail(warmup.status());
  const bool json = args.Has("json");
  const bool quiet = args.Has("quiet");
  if (Status s = args.CheckAllUsed(); !s.ok()) return fail(s);

  auto prepared = LoadAndPrepare(*model, *options, *input_flags);
  if (!prepared.ok()) return fail(prepared.status());
  Session& s = *prepared->session;
  const std::vector<Tensor>& tensors = prepared->tensors;
  const int64_t batch = prepared->batch;

  // Outputs are reused across runs, as a serving loop would, so allocation is not what we time.
  std::vector<Tensor> outputs;
  Stopwatch since_progress;
  for (int64_t i = 0; i < *warmup; ++i)
    if (Status st = s.Run(tensors, outputs); !st.ok()) return fail(st);
  std::vector<double> latencies_ms;
  Stopwatch timed;
  const double budget_ms = duration_s * 1000;
  while (duration_s > 0 ? (latencies_ms.empty() || timed.ms() < budget_ms)
                        : static_cast<int64_t>(latencies_ms.size()) < *iters) {
    Stopwatch run_timer;
    if (Status st = s.Run(tensors, outputs); !st.ok()) return fail(st);
    latencies_ms.push_back(run_timer.ms());
    // Progress for long runs on stderr, at most every 2 s, so stdout stays clean for --json.
    if (!quiet && since_progress.ms() > 2000) {
      if (duration_s > 0) {
        std::fprintf(stderr, "tutti bench: %zu runs, %.0f/%.0f s\n", latencies_ms.size(), timed.ms() / 1000, duration_s);
      } else {
        std::fprintf(stderr, "tutti bench: %zu/%lld runs\n", latencies_ms.size(), static_cast<long long>(*iters));
      }
      since_progress = Stopwatch();
    }
  }
  const double wall_ms = timed.ms();
  const LatencySummary lat = Summarise(latencies_ms);
  const double items_per_s = lat.median > 0 ? static_cast<double>(batch) * 1000.0 / lat.median : 0;
  const int64_t peak_rss = PeakResidentBytes();
  const ExecutableStats stats = s.stats(prepared->shapes);
  const int threads = EffectiveThreads(*options);
  if (json) {
    Json j;
    j["model"] = *model;
    j["device"] = options->device;
    j["threads"] = threads;
    j["precision"] = PrecisionName(options->compile.precision);
    j["batch"] = batch;
    j["iterations"] = latencies_ms.size();
    j["duration_s"] = duration_s > 0 ? Json(duration_s) : Json(nullptr);
    j["wall_ms"] = wall_ms;
    j["warmup"] = *warmup;
    j["load_ms"] = prepared->load_ms;
    j["compile_ms"] = prepared->compile_ms;
    j["latency_ms"] = {{"median", lat.median}, {"p90", lat.p90}, {"p99", lat.p99}, {"min", lat.min}, {"max", lat.max}, {"mean", lat.mean}};
    j["throughput_items_per_s"] = items_per_s;
    j["peak_rss_bytes"] = peak_rss;
    j["peak_device_bytes"] = stats.peak_device_bytes ? Json(stats.peak_device_bytes) : Json(nullptr);
    j["weight_bytes"] = stats.weight_bytes;
    j["arena_bytes"] = stats.arena_bytes;
    std::printf("%s\n", DumpJson(j).c_str());
  } else {
    std::printf("bench %s on %s (%d thread%s, %s), batch %lld, %lld runs after %lld warm-up\n", model->c_str(),
                options->device.c_str(), threads, threads == 1 ? "" : "s", PrecisionName(options->compile.precision),
                static_cast<long long>(batch), static_cast<long long>(latencies_ms.size()), static_cast<long long>(*warmup));
    std::printf("  latency ms   median %.3f  p90 %.3f  p99 %.3f  min %.3f  max %.3f  mean %.3f\n", lat.median, lat.p90,
                lat.p99, lat.min, lat.max, lat.mean);
    std::printf("  throughput   %.1f items/s\n", items_per_s);
    std::printf("  peak memory  %.1f MiB resident", static_cast<double>(peak_rss) / (1 << 20));
    if (stats.peak_device_bytes) std::printf(", %.1f MiB device", static_cast<double>(stats.peak_device_bytes) / (1 << 20));
    std::printf("\n  load %.1f ms, compile %.1f ms\n", prepared->load_ms, prepared->compile_ms);
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace

TUTTI_REGISTER_COMMAND("bench", "time a model: latency median/p90/p99/min/mean, throughput, peak memory",
                       "usage: tutti bench MODEL [options]\n"
                       "  --iterations N        timed runs (default 20; --iters N is the same)\n"
                       "  --duration S          time runs for S seconds instead of a count\n"
                       "  --warmup N            untimed runs first (default 3)\n"
                       "  --batch N             batch size (the leading symbolic dim of random inputs)\n"
                       "  --dim SYMBOL=N        value of another symbolic dim (repeatable)\n"
                       "  --input NAME=FILE     run on this input instead of random data (repeatable)\n"
                       "  --device D            cpu (default), cuda, cuda:N\n"
                       "  --threads N           CPU threads (default: all cores)\n"
                       "  --precision P         fp32 (default), tf32, fp16\n"
                       "  --cpu-partition M     how Conv/Gemm/MatMul share the CPU cores: auto (default:\n"
                       "                        asymmetric when the cores differ), asymmetric, equal,\n"
                       "                        blocks-only, schedule-only, onednn\n"
                       "  --energy-first        per-operator CPU frequency from data reuse (Linux cpufreq)\n"
                       "  --no-optimize         skip graph optimisations\n"
                       "  --quiet               no progress lines on stderr\n"
                       "  --json                print the results as JSON (schema in docs/cli.md)",
                       &BenchBody);

}  // namespace tutti::cli
