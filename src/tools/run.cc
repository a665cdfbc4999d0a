// `tutti run MODEL`: one inference on one processor, inputs from files or random, outputs to .npy,
// optionally checked against reference outputs (--expect).
#include <cstdio>
#include <filesystem>

#include "core/compare.h"
#include "core/npy.h"
#include "runtime/input_check.h"
#include "tools/batch_split_cli.h"
#include "tools/cli_util.h"

namespace tutti::cli {
namespace {

struct Expectation {
  std::string output;
  std::string file;
};

int RunBody(Args& args) {
  if (args.Has("split")) return RunSplitBatch(args, /*bench=*/false);  // one batch over several processors
  auto fail = [](const Status& s) { return ReportError(s); };
  auto model = ModelPathArg(args);
  if (!model.ok()) return fail(model.status());
  auto options = ParseSessionOptions(args);
  if (!options.ok()) return fail(options.status());
  auto input_flags = ParseInputFlags(args);
  if (!input_flags.ok()) return fail(input_flags.status());
  const std::string output_dir = args.GetOr("output-dir", "");
  std::vector<Expectation> expectations;
  for (const std::string& e : args.GetAll("expect")) {
    size_t eq = e.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == e.size())
      return fail(InvalidArgument("--expect expects OUTPUT=FILE, got '", e, "'"));
    expectations.push_back({e.substr(0, eq), e.substr(eq + 1)});
  }
  double tolerance = 1e-4;
  if (auto t = args.Get("tolerance")) {
    char* end = nullptr;
    tolerance = std::strtod(t->c_str(), &end);
    if (t->empty() || *end != '\0' || !(tolerance >= 0))
      return fail(InvalidArgument("--tolerance expects a non-negative number, got '", *t, "'"));
  }
  const bool json = args.Has("json");
  if (Status s = args.CheckAllUsed(); !s.ok()) return fail(s);

  auto prepared = LoadAndPrepare(*model, *options, *input_flags);
  if (!prepared.ok()) return fail(prepared.status());
  Session& s = *prepared->session;
  const auto& inputs = prepared->inputs;
  Stopwatch run_timer;
  auto outputs = s.Run(prepared->tensors);
  if (!outputs.ok()) return fail(outputs.status());
  const double run_ms = run_timer.ms();

  const std::vector<TensorSpec> out_specs = s.output_specs();
  std::vector<std::string> files(outputs->size());
  if (!output_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(output_dir, ec);
    if (ec) return fail(InvalidArgument("--output-dir ", output_dir, ": ", ec.message()));
    std::vector<std::string> taken;
    for (size_t i = 0; i < outputs->size(); ++i) {
      files[i] = (std::filesystem::path(output_dir) / OutputFileName(out_specs[i].name, taken)).string();
      if (Status w = WriteNpy(files[i], (*outputs)[i]); !w.ok()) return fail(w);
    }
  }

  // Reference comparisons; the first failure is the command's error, after the summary.
  Json expect_json = Json::array();
  Status expect_status;
  for (const Expectation& e : expectations) {
    size_t index = out_specs.size();
    for (size_t i = 0; i < out_specs.size(); ++i)
      if (out_specs[i].name == e.output) index = i;
    if (index == out_specs.size())
      return fail(InvalidArgument("--expect: the model has no output '", e.output, "' (its outputs: ",
                                  QuotedOutputNames(s.graph()), ")"));
    auto ref = ReadTensorFile(e.file);
    if (!ref.ok()) return fail(ref.status());
    const Tensor& got = (*outputs)[index];
    if (ref->shape() != got.shape())
      return fail(InvalidArgument("--expect ", e.output, ": output has shape ", ShapeToString(got.shape()), ", ", e.file,
                                  " has ", ShapeToString(ref->shape())));
    const double err = RelativePeakError(got, *ref);
    const bool ok = err <= tolerance;
    expect_json.push_back({{"output", e.output}, {"file", e.file}, {"max_rel_error", err}, {"ok", ok}});
    if (!ok && expect_status.ok())
      expect_status = InvalidArgument("output '", e.output, "' differs from ", e.file, ": max|a-b|/max|b| = ", err,
                                      " > tolerance ", tolerance);
  }

  const int threads = EffectiveThreads(*options);
  if (json) {
    Json j;
    j["model"] = *model;
    j["device"] = options->device;
    j["threads"] = threads;
    j["precision"] = PrecisionName(options->compile.precision);
    j["batch"] = prepared->batch;
    j["load_ms"] = prepared->load_ms;
    j["compile_ms"] = prepared->compile_ms;
    j["run_ms"] = run_ms;
    for (const InputTensor& in : inputs)
      j["inputs"].push_back({{"name", in.name}, {"dtype", DataTypeName(in.tensor.dtype())},
                             {"shape", ShapeJson(in.tensor.shape())}, {"source", in.source}});
    for (size_t i = 0; i < outputs->size(); ++i)
      j["outputs"].push_back({{"name", out_specs[i].name}, {"dtype", DataTypeName((*outputs)[i].dtype())},
                              {"shape", ShapeJson((*outputs)[i].shape())},
                              {"file", files[i].empty() ? Json(nullptr) : Json(files[i])}});
    j["expect"] = expect_json;
    std::printf("%s\n", DumpJson(j).c_str());
  } else {
    std::printf("ran %s on %s (%d thread%s, %s), batch %lld\n", model->c_str(), options->device.c_str(), threads,
                threads == 1 ? "" : "s", PrecisionName(options->compile.precision), static_cast<long long>(prepared->batch));
    for (const InputTensor& in : inputs)
      std::printf("  input   %-24s %-28s %s\n", in.name.c_str(), in.tensor.DebugString().c_str(), in.source.c_str());
    for (size_t i = 0; i < outputs->size(); ++i)
      std::printf("  output  %-24s %-28s %s\n", out_specs[i].name.c_str(), (*outputs)[i].DebugString().c_str(),
                  files[i].empty() ? "" : ("-> " + files[i]).c_str());
    for (const auto& e : expect_json)
      std::printf("  expect  %-24s max|a-b|/max|b| = %.3g (tolerance %.3g) %s\n",
                  e["output"].get<std::string>().c_str(), e["max_rel_error"].get<double>(), tolerance,
                  e["ok"].get<bool>() ? "ok" : "MISMATCH");
    std::printf("  load %.1f ms, compile %.1f ms, run %.2f ms\n", prepared->load_ms, prepared->compile_ms, run_ms);
  }
  std::fflush(stdout);
  return expect_status.ok() ? 0 : fail(expect_status);
}

}  // namespace

TUTTI_REGISTER_COMMAND("run", "run a model once: inputs from .npy/.pb or random, outputs to .npy",
                       "usage: tutti run MODEL [options]\n"
                       "  --input NAME=FILE     input from a .npy or ONNX TensorProto .pb (repeatable; FILE alone\n"
                       "                        when the model has one input); missing inputs are random\n"
                       "  --batch N             batch size for random inputs (the leading symbolic dim)\n"
                       "  --dim SYMBOL=N        value of another symbolic dim for random inputs (repeatable)\n"
                       "  --output-dir DIR      write each output to DIR/<output name>.npy\n"
                       "  --expect NAME=FILE    compare output NAME to a reference; fail above --tolerance\n"
                       "  --tolerance T         max |a-b|/max|b| allowed by --expect (default 1e-4)\n"
                       "  --device D            cpu (default), cuda, cuda:N\n"
                       "  --threads N           CPU threads (default: all cores)\n"
                       "  --precision P         fp32 (default), tf32, fp16\n"
                       "  --cpu-partition M     how Conv/Gemm/MatMul share the CPU cores: auto (default:\n"
                       "                        asymmetric when the cores differ), asymmetric, equal,\n"
                       "                        blocks-only, schedule-only, onednn\n"
                       "  --energy-first        per-operator CPU frequency from data reuse (Linux cpufreq)\n"
                       "  --no-optimize         skip graph optimisations\n"
                       "  --json                print the summary as JSON (see docs/cli.md)",
                       &RunBody);

}  // namespace tutti::cli
