#include "tools/cli_util.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "core/npy.h"
#include "model/onnx_loader.h"
#include "model/tensor_proto_io.h"
#include "runtime/input_check.h"

namespace tutti::cli {
namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// NAME=N with N a positive integer (--dim).
Result<std::pair<std::string, int64_t>> ParseDimFlag(const std::string& s) {
  size_t eq = s.find('=');
  if (eq == std::string::npos || eq == 0) return InvalidArgument("--dim expects SYMBOL=N, got '", s, "'");
  std::string value = s.substr(eq + 1);
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || errno == ERANGE || v < 1 || v > (1 << 24))
    return InvalidArgument("--dim ", s.substr(0, eq), " expects a positive integer, got '", value, "'");
  return std::make_pair(s.substr(0, eq), static_cast<int64_t>(v));
}

// splitmix64: the same numbers on every platform (std:: distributions are not portable).
struct SplitMix {
  uint64_t state;
  uint64_t Next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }  // [0, 1)
};

}  // namespace

Result<std::string> ModelPathArg(Args& args) {
  const auto& pos = args.positional();
  if (pos.empty()) return InvalidArgument("missing MODEL (see --help)");
  if (pos.size() > 1) return InvalidArgument("unexpected argument '", pos[1], "' (one MODEL only)");
  return pos[0];
}

Result<SessionOptions> ParseSessionOptions(Args& args) {
  SessionOptions o;
  o.device = args.GetOr("device", "cpu");
  // A device that is not here (cuda:7, cuda on a GPU-less machine) is reported before a large model
  // is loaded for nothing.
  if (auto backend = CreateBackend(o.device); !backend.ok()) return backend.status().WithContext("--device");
  TUTTI_ASSIGN_OR_RETURN(int64_t threads, args.GetInt("threads", 0, 0, 4096));
  o.compile.threads = static_cast<int>(threads);
  if (auto p = args.Get("precision")) {
    auto precision = ParsePrecision(*p);
    if (!precision.ok()) return precision.status().WithContext("--precision");
    o.compile.precision = *precision;
  }
  if (auto p = args.Get("cpu-partition")) {
    auto partition = ParseCpuPartition(*p);
    if (!partition.ok()) return partition.status().WithContext("--cpu-partition");
    o.compile.cpu_partition = *partition;
  }
  o.compile.cpu_energy_first = args.Has("energy-first");
  o.optimize = !args.Has("no-optimize");
  return o;
}

Result<Tensor> ReadTensorFile(const std::string& path) {
  if (EndsWith(path, ".npy")) return ReadNpy(path);
  if (EndsWith(path, ".pb")) return ReadTensorProtoFile(path);
  return InvalidArgument(path, ": unknown tensor file type (expected .npy or an ONNX TensorProto .pb)");
}

Result<Graph> LoadModelGraph(const std::string& path) {
  return LoadOnnxModel(path);
}

Result<Tensor> RandomTensorOf(DataType dtype, const Shape& shape, uint32_t seed) {
  TUTTI_ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(dtype, shape));
  SplitMix rng{seed * 0x2545f4914f6cdd1dull + 1};
  const int64_t n = t.num_elements();
  auto fill = [&](auto* p, auto make) {
    for (int64_t i = 0; i < n; ++i) p[i] = make();
  };
  auto real = [&] { return rng.Uniform() * 2 - 1; };
  auto small = [&] { return static_cast<int>(rng.Next() % 10); };
  switch (dtype) {
    case DataType::kFloat32: fill(t.data<float>(), [&] { return static_cast<float>(real()); }); break;
    case DataType::kFloat64: fill(t.data<double>(), real); break;
    case DataType::kFloat16: fill(t.data<uint16_t>(), [&] { return FloatToHalf(static_cast<float>(real())); }); break;
    case DataType::kBool: fill(t.data<uint8_t>(), [&] { return static_cast<uint8_t>(rng.Next() & 1); }); break;
    case DataType::kInt8: fill(t.data<int8_t>(), [&] { return static_cast<int8_t>(small()); }); break;
    case DataType::kUInt8: fill(t.data<uint8_t>(), [&] { return static_cast<uint8_t>(small()); }); break;
    case DataType::kInt16: fill(t.data<int16_t>(), [&] { return static_cast<int16_t>(small()); }); break;
    case DataType::kUInt16: fill(t.data<uint16_t>(), [&] { return static_cast<uint16_t>(small()); }); break;
    case DataType::kInt32: fill(t.data<int32_t>(), [&] { return static_cast<int32_t>(small()); }); break;
    case DataType::kUInt32: fill(t.data<uint32_t>(), [&] { return static_cast<uint32_t>(small()); }); break;
    case DataType::kInt64: fill(t.data<int64_t>(), [&] { return static_cast<int64_t>(small()); }); break;
    case DataType::kUInt64: fill(t.data<uint64_t>(), [&] { return static_cast<uint64_t>(small()); }); break;
    default: return InvalidArgument("cannot make random data of type ", DataTypeName(dtype));
  }
  return t;
}

Result<InputFlags> ParseInputFlags(Args& args) {
  InputFlags f;
  for (const std::string& spec : args.GetAll("input")) {
    size_t eq = spec.find('=');
    if (eq == std::string::npos) {
      f.files.emplace_back("", spec);
    } else {
      if (eq == 0 || eq + 1 == spec.size()) return InvalidArgument("--input expects NAME=FILE, got '", spec, "'");
      f.files.emplace_back(spec.substr(0, eq), spec.substr(eq + 1));
    }
  }
  if (args.Get("batch")) {
    TUTTI_ASSIGN_OR_RETURN(int64_t b, args.GetInt("batch", 1, 1, 1 << 20));
    f.batch = b;
  }
  for (const std::string& s : args.GetAll("dim")) {
    TUTTI_ASSIGN_OR_RETURN(auto d, ParseDimFlag(s));
    f.dims[d.first] = d.second;
  }
  return f;
}

Result<std::vector<InputTensor>> MakeInputs(const Graph& g, const InputFlags& flags, int64_t* batch) {
  std::map<std::string, std::string> files;  // input name -> file
  for (const auto& [given_name, file] : flags.files) {
    std::string name = given_name;
    if (name.empty()) {
      if (g.inputs().size() != 1)
        return InvalidArgument("--input ", file, ": say which input, as NAME=FILE (the model's inputs: ",
                               QuotedInputNames(g), ")");
      name = g.value(g.inputs()[0]).name;
    }
    bool known = false;
    for (ValueId v : g.inputs()) known |= g.value(v).name == name;
    if (!known) return InvalidArgument("--input: the model has no input '", name, "' (its inputs: ", QuotedInputNames(g), ")");
    if (!files.emplace(name, file).second) return InvalidArgument("--input '", name, "' given twice");
  }
  if (flags.batch && *flags.batch != 1) {
    bool has_batch_dim = false;
    for (ValueId id : g.inputs()) {
      const auto& shape = g.value(id).info.shape;
      has_batch_dim |= shape && !shape->empty() && !(*shape)[0].known();
    }
    if (!has_batch_dim)
      return InvalidArgument("--batch ", *flags.batch, ": the model's inputs have no symbolic batch dimension (",
                             QuotedInputNames(g), ")");
  }
  const int64_t batch_flag = flags.batch.value_or(1);

  // Files first: the symbols they bind ("batch" = 4) shape the random inputs too.
  std::vector<InputTensor> out(g.inputs().size());
  std::map<std::string, int64_t> from_files;
  for (size_t i = 0; i < g.inputs().size(); ++i) {
    const Value& v = g.value(g.inputs()[i]);
    auto it = files.find(v.name);
    if (it == files.end()) continue;
    TUTTI_ASSIGN_OR_RETURN(Tensor t, ReadTensorFile(it->second));
    if (v.info.shape && v.info.shape->size() == t.shape().size()) {
      for (size_t d = 0; d < t.shape().size(); ++d) {
        const Dim& dim = (*v.info.shape)[d];
        if (dim.known()) continue;
        if (!dim.symbol.empty()) from_files.emplace(dim.symbol, t.shape()[d]);
        if (d == 0 && flags.batch && t.shape()[0] != *flags.batch)
          return InvalidArgument("--batch ", *flags.batch, " but input '", v.name, "' from ", it->second, " has batch ",
                                 t.shape()[0]);
      }
    }
    out[i] = {v.name, std::move(t), it->second};
  }
  for (size_t i = 0; i < g.inputs().size(); ++i) {
    if (out[i].tensor.defined()) continue;
    const Value& v = g.value(g.inputs()[i]);
    if (!v.info.shape)
      return InvalidArgument("input '", v.name, "' has no shape in the model; give it with --input ", v.name, "=FILE");
    Shape shape;
    for (size_t d = 0; d < v.info.shape->size(); ++d) {
      const Dim& dim = (*v.info.shape)[d];
      auto flag = dim.symbol.empty() ? flags.dims.end() : flags.dims.find(dim.symbol);
      auto file = dim.symbol.empty() ? from_files.end() : from_files.find(dim.symbol);
      if (dim.known()) {
        shape.push_back(dim.value);
      } else if (flag != flags.dims.end()) {
        shape.push_back(flag->second);
      } else if (file != from_files.end()) {
        shape.push_back(file->second);
      } else if (d == 0) {
        shape.push_back(batch_flag);
      } else {
        return InvalidArgument("input '", v.name, "' dim ", d, " ('", dim.symbol.empty() ? "?" : dim.symbol,
                               "') is not fixed by the model; set it with --dim ",
                               dim.symbol.empty() ? "SYMBOL" : dim.symbol, "=N or give the input with --input");
      }
    }
    auto t = RandomTensorOf(v.info.dtype, shape, static_cast<uint32_t>(1000 + i));
    if (!t.ok()) return t.status().WithContext(StrCat("input '", v.name, "'"));
    out[i] = {v.name, std::move(t).value(), "random"};
  }
  *batch = batch_flag;
  if (!out.empty() && out[0].tensor.rank() > 0) *batch = out[0].tensor.dim(0);
  return out;
}

Result<PreparedModel> LoadAndPrepare(const std::string& model_path, const SessionOptions& options,
                                     const InputFlags& input_flags) {
  PreparedModel p;
  Stopwatch load_timer;
  TUTTI_ASSIGN_OR_RETURN(p.session, Session::Load(model_path, options));
  p.load_ms = load_timer.ms();
  TUTTI_ASSIGN_OR_RETURN(p.inputs, MakeInputs(p.session->graph(), input_flags, &p.batch));
  for (const InputTensor& in : p.inputs) {
    p.tensors.push_back(in.tensor);
    p.shapes.push_back(in.tensor.shape());
  }
  TUTTI_RETURN_IF_ERROR(CheckInputs(p.session->graph(), p.tensors).status());
  Stopwatch compile_timer;
  TUTTI_RETURN_IF_ERROR(p.session->Prepare(p.shapes));
  p.compile_ms = compile_timer.ms();
  return p;
}

int EffectiveThreads(const SessionOptions& options) {
  if (options.compile.threads > 0) return options.compile.threads;
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

std::string OutputFileName(const std::string& tensor_name, std::vector<std::string>& taken) {
  std::string base;
  for (char c : tensor_name) base += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-') ? c : '_';
  if (base.empty() || base[0] == '.') base = "output" + base;
  if (base.size() > 200) base.resize(200);
  std::string name = base + ".npy";
  for (int k = 2; std::find(taken.begin(), taken.end(), name) != taken.end(); ++k) name = base + "_" + std::to_string(k) + ".npy";
  taken.push_back(name);
  return name;
}

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

int64_t PeakResidentBytes() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtoll(line.c_str() + 6, nullptr, 10) * 1024;  // "VmHWM:  1234 kB"
  }
  return 0;
}

std::string DumpJson(const Json& j) { return j.dump(2, ' ', false, Json::error_handler_t::replace); }

Json ShapeJson(const Shape& shape) {
  Json j = Json::array();
  for (int64_t d : shape) j.push_back(d);
  return j;
}

Json SymbolicShapeJson(const std::optional<SymbolicShape>& shape) {
  if (!shape) return nullptr;
  Json j = Json::array();
  for (const Dim& d : *shape) {
    if (d.known()) {
      j.push_back(d.value);
    } else if (!d.symbol.empty()) {
      j.push_back(d.symbol);
    } else {
      j.push_back(nullptr);
    }
  }
  return j;
}

}  // namespace tutti::cli
