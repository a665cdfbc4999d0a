// What the model-running commands (run, bench, and later ones) share: turning flags into
// SessionOptions and input tensors, comparing outputs, and measuring time and memory.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "core/tensor.h"
#include "runtime/session.h"
#include "tools/command.h"

namespace tutti::cli {

// JSON output keeps keys in the order written ("model" first), which reads better than sorted.
using Json = nlohmann::ordered_json;

// --device, --threads, --precision, --cpu-partition, --energy-first, --no-optimize.
Result<SessionOptions> ParseSessionOptions(Args& args);

// The MODEL positional argument (exactly one).
Result<std::string> ModelPathArg(Args& args);

// An input tensor and where it came from ("random" or the file).
struct InputTensor {
  std::string name;
  Tensor tensor;
  std::string source;
};

// --input NAME=FILE (repeatable; a plain FILE when the model has one input), --batch N and
// --dim SYMBOL=N, parsed before the model is loaded so flag errors come first.
struct InputFlags {
  std::vector<std::pair<std::string, std::string>> files;  // (NAME or "" for the only input, FILE)
  std::optional<int64_t> batch;
  std::map<std::string, int64_t> dims;
};
Result<InputFlags> ParseInputFlags(Args& args);

// One tensor per graph input: from its file, or deterministic random data shaped by the model with
// symbolic dims resolved by --dim, by the symbols the given files bind, and for a leading dim by
// --batch (default 1). `batch` receives the leading dim of the first input.
Result<std::vector<InputTensor>> MakeInputs(const Graph& graph, const InputFlags& flags, int64_t* batch);

// A model loaded on its device with its inputs made and an executable compiled for them: what run
// and bench both start from. Inputs are checked before compiling, so a wrong input reads as such.
struct PreparedModel {
  std::unique_ptr<Session> session;
  std::vector<InputTensor> inputs;
  std::vector<Tensor> tensors;  // inputs[i].tensor, in graph-input order
  std::vector<Shape> shapes;
  int64_t batch = 1;
  double load_ms = 0, compile_ms = 0;
};
Result<PreparedModel> LoadAndPrepare(const std::string& model_path, const SessionOptions& options,
                                     const InputFlags& input_flags);

// The thread count a CPU executable will use for these options (0 means all cores).
int EffectiveThreads(const SessionOptions& options);

// The model file as loaded (model/onnx_loader.h), before any optimisation.
Result<Graph> LoadModelGraph(const std::string& path);

// .npy or ONNX TensorProto .pb, chosen by extension.
Result<Tensor> ReadTensorFile(const std::string& path);

// Deterministic pseudo-random data of any numeric dtype: floats in [-1, 1), integers in [0, 10),
// bools 0/1. Small integers keep index-like inputs (token ids, Gather indices) in range.
Result<Tensor> RandomTensorOf(DataType dtype, const Shape& shape, uint32_t seed);

// A file name for an output tensor name: keeps [A-Za-z0-9._-], maps the rest to '_', never empty,
// never starting with '.', and unique within `taken` (which it extends).
std::string OutputFileName(const std::string& tensor_name, std::vector<std::string>& taken);

// Nearest-rank percentile of ascending values: the smallest value with at least p% at or below it.
double Percentile(const std::vector<double>& sorted, double p);

// Peak resident set size of this process (VmHWM), in bytes; 0 if /proc is unavailable.
int64_t PeakResidentBytes();

Json ShapeJson(const Shape& shape);
Json SymbolicShapeJson(const std::optional<SymbolicShape>& shape);  // null when unknown

// JSON text that never throws on odd bytes in tensor names (invalid UTF-8 is replaced).
std::string DumpJson(const Json& j);

class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double ms() const {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

}  // namespace tutti::cli
