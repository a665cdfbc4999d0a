#include "backends/cuda/cuda_backend.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "backends/cpu/fusion.h"
#include "backends/cpu/memory_plan.h"
#include "backends/cuda/cuda_op.h"

namespace tutti::cuda {
namespace {

struct Step {
  std::unique_ptr<CudaOp> op;
  std::vector<ValueId> inputs, outputs;
  std::string label;
};

// Where a value lives on the device: its own arena slot, an uploaded constant, or (views) the
// value it aliases.
struct Placement {
  void* data = nullptr;
  Shape shape;
  DataType dtype = DataType::kUndefined;
};

// Per-executable CUDA state; destroyed in reverse order of creation.
struct DeviceState {
  int device = 0;
  cudaStream_t stream = nullptr;
  cudnnHandle_t cudnn = nullptr;
  cublasHandle_t cublas = nullptr;
  cudaGraphExec_t graph_exec = nullptr;
  void* pinned = nullptr;
  ~DeviceState() {
    cudaSetDevice(device);
    if (graph_exec) cudaGraphExecDestroy(graph_exec);
    if (cublas) cublasDestroy(cublas);
    if (cudnn) cudnnDestroy(cudnn);
    if (stream) cudaStreamDestroy(stream);
    if (pinned) cudaFreeHost(pinned);
  }
};

struct IoSlot {
  ValueId value = kNoValue;
  size_t pinned_offset = 0;   // float32 (or other dtype) bytes in the pinned staging buffer
  void* device_io = nullptr;  // device buffer in I/O dtype (fp16 mode: separate float32 buffer)
  void* device_data = nullptr;  // storage the graph reads/writes
  Shape shape;
  DataType dtype = DataType::kUndefined;
  bool convert = false;  // fp16 mode: float32 <-> half between device_io and device_data
  Tensor constant;       // graph outputs that are constants: returned from the host copy
};

class CudaExecutable final : public Executable {
 public:
  Status Run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs) override {
    if (inputs.size() != inputs_.size())
      return InvalidArgument("model expects ", inputs_.size(), " inputs, got ", inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      const IoSlot& s = inputs_[i];
      if (!inputs[i].defined() || inputs[i].dtype() != s.dtype || inputs[i].shape() != s.shape)
        return InvalidArgument("input ", i, " is ", inputs[i].DebugString(), ", the executable was compiled for ",
                               DataTypeName(s.dtype), ShapeToString(s.shape));
    }
    TUTTI_CUDA_TRY(cudaSetDevice(state_->device), "selecting the CUDA device");
    char* pinned = static_cast<char*>(state_->pinned);
    for (size_t i = 0; i < inputs.size(); ++i)
      std::memcpy(pinned + inputs_[i].pinned_offset, inputs[i].raw_data(), inputs[i].nbytes());

    Status st;
    if (state_->graph_exec) {
      st = CudaStatus(cudaGraphLaunch(state_->graph_exec, state_->stream), "launching the CUDA graph");
    } else if (use_graph_ && eager_runs_ > 0) {
      st = CaptureAndLaunch();
    } else {
      st = Enqueue();
    }
    const Status sync = CudaStatus(cudaStreamSynchronize(state_->stream), "running on " + device_name_);
    if (st.ok()) st = sync;
    if (!st.ok()) return st;
    ++eager_runs_;

    outputs.resize(outputs_.size());
    for (size_t i = 0; i < outputs_.size(); ++i) {
      const IoSlot& s = outputs_[i];
      Tensor& out = outputs[i];
      if (s.constant.defined()) {
        TUTTI_ASSIGN_OR_RETURN(out, s.constant.Clone());
        continue;
      }
      if (!(out.defined() && out.shape() == s.shape && out.dtype() == s.dtype)) {
        TUTTI_ASSIGN_OR_RETURN(out, Tensor::Allocate(s.dtype, s.shape));
      }
      std::memcpy(out.raw_data(), pinned + s.pinned_offset, out.nbytes());
    }
    return Status::Ok();
  }

  ExecutableStats stats() const override { return stats_; }

  // Everything one run does on the stream: copies in, ops, copies out. Also what a graph records.
  Status Enqueue() {
    cudaStream_t s = state_->stream;
    char* pinned = static_cast<char*>(state_->pinned);
    for (const IoSlot& in : inputs_) {
      const size_t bytes = static_cast<size_t>(NumElements(in.shape)) * DataTypeSize(in.dtype);
      TUTTI_CUDA_TRY(cudaMemcpyAsync(in.device_io, pinned + in.pinned_offset, bytes, cudaMemcpyHostToDevice, s),
                     "copying inputs to " + device_name_);
      if (in.convert)
        TUTTI_CUDA_TRY(LaunchFloatToHalf(in.device_data, static_cast<const float*>(in.device_io), NumElements(in.shape), s),
                       "converting inputs to float16");
    }
    std::vector<DeviceTensor> ins, outs;
    for (Step& step : steps_) {
      if (step.op->is_view()) continue;
      ins.clear();
      outs.clear();
      for (size_t i = 0; i < step.inputs.size(); ++i) ins.push_back(Resolve(step.inputs[i], step.op->needs_device_input(i)));
      for (ValueId v : step.outputs) outs.push_back(Resolve(v, true));
      Status st = step.op->Run(ctx_, ins, outs);
      if (!st.ok()) return st.WithContext(step.label);
      if (debug_sync_) {
        st = CudaStatus(cudaStreamSynchronize(s), "running");
        if (!st.ok()) return st.WithContext(step.label);
      }
    }
    for (const IoSlot& out : outputs_) {
      if (out.constant.defined()) continue;
      if (out.convert)
        TUTTI_CUDA_TRY(LaunchHalfToFloat(static_cast<float*>(out.device_io), out.device_data, NumElements(out.shape), s),
                       "converting outputs to float32");
      const size_t bytes = static_cast<size_t>(NumElements(out.shape)) * DataTypeSize(out.dtype);
      TUTTI_CUDA_TRY(cudaMemcpyAsync(pinned + out.pinned_offset, out.device_io, bytes, cudaMemcpyDeviceToHost, s),
                     "copying outputs from " + device_name_);
    }
    return Status::Ok();
  }

  // Records Enqueue() into a graph once; a failure falls back to eager runs for good.
  Status CaptureAndLaunch() {
    cudaGraph_t graph = nullptr;
    use_graph_ = false;
    if (cudaStreamBeginCapture(state_->stream, cudaStreamCaptureModeThreadLocal) != cudaSuccess) {
      cudaGetLastError();
      return Enqueue();
    }
    Status st = Enqueue();
    const cudaError_t end = cudaStreamEndCapture(state_->stream, &graph);
    cudaGraphExec_t exec = nullptr;
    cudaError_t inst = cudaErrorStreamCaptureInvalidated;
    if (st.ok() && end == cudaSuccess && graph) inst = cudaGraphInstantiate(&exec, graph, 0);
    if (graph) cudaGraphDestroy(graph);
    if (inst != cudaSuccess) {  // slower, not wrong: say so once, then run eagerly from now on
      cudaGetLastError();
      std::fprintf(stderr, "tutti: %s: CUDA graph capture failed (%s), running eagerly\n", device_name_.c_str(),
                   !st.ok() ? st.message().c_str() : cudaGetErrorString(end != cudaSuccess ? end : inst));
      return Enqueue();
    }
    state_->graph_exec = exec;
    return CudaStatus(cudaGraphLaunch(exec, state_->stream), "launching the CUDA graph");
  }

  DeviceTensor Resolve(ValueId v, bool wanted) const {
    if (v == kNoValue || !wanted) return {};
    const Placement& p = places_[static_cast<size_t>(v)];
    return DeviceTensor{p.data, p.shape, p.dtype};
  }

  std::string device_name_;
  std::unique_ptr<DeviceState> state_;
  CudaRunContext ctx_;
  std::vector<Step> steps_;
  std::vector<Placement> places_;
  std::vector<IoSlot> inputs_, outputs_;
  std::vector<DeviceBuffer> buffers_;  // weights, arena, workspace, fp16 I/O staging
  ExecutableStats stats_;
  bool use_graph_ = false;
  bool debug_sync_ = false;
  int eager_runs_ = 0;
};

Result<int> DeviceCount() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();
    if (e == cudaErrorNoDevice) return Unavailable("no CUDA GPU on this machine");
    if (e == cudaErrorInsufficientDriver)
      return Unavailable("no CUDA GPU on this machine (no NVIDIA driver, or one older than CUDA ", CUDART_VERSION / 1000,
                         " needs)");
    return Unavailable("no usable CUDA GPU on this machine (", cudaGetErrorString(e), ")");
  }
  if (n == 0) return Unavailable("no CUDA GPU on this machine");
  return n;
}

}  // namespace

CudaBackend::CudaBackend(int device) : device_(device), algo_cache_(std::make_shared<ConvAlgoCache>()) {}

std::string CudaBackend::UnsupportedReason(const Graph& graph, const Node& node) const {
  if (!node.domain.empty() && node.domain != "ai.onnx")
    return "operator " + node.domain + "." + node.op_type + " is not implemented on the GPU";
  const CudaOpRegistration* reg = CudaOpRegistry::Get().Find(node.op_type);
  if (!reg) return "operator " + node.op_type + " is not implemented on the GPU";
  if (reg->supports) {
    Status s = reg->supports(graph, node);
    if (!s.ok()) return s.message();
  }
  return "";
}

bool CudaBackend::SupportsNode(const Graph& graph, const Node& node) const {
  return UnsupportedReason(graph, node).empty();
}

std::vector<std::string> CudaBackend::SupportedOps() const { return CudaOpRegistry::Get().OpTypes(); }

Result<std::unique_ptr<Executable>> CudaBackend::Compile(const Graph& input_graph, const CompileOptions& options) {
  Graph graph = input_graph;
  if (options.enable_fusion) cpu::FuseActivationsAndSums(graph);
  TUTTI_ASSIGN_OR_RETURN(std::vector<NodeId> order, graph.TopologicalOrder());
  for (NodeId id : order) {
    const Node& n = graph.node(id);
    std::string why = UnsupportedReason(graph, n);
    if (!why.empty()) return Unimplemented(NodeLabel(n), ": ", why, " (", name(), ")");
    for (ValueId v : n.outputs) {
      if (v == kNoValue) continue;
      const Value& val = graph.value(v);
      if (!val.info.shape || !ToConcrete(*val.info.shape) || val.info.dtype == DataType::kUndefined)
        return Unimplemented(NodeLabel(n), ": output '", val.name, "' has no concrete shape and type (", name(),
                             " needs static shapes)");
    }
  }

  auto exe = std::make_unique<CudaExecutable>();
  exe->device_name_ = name();
  exe->state_ = std::make_unique<DeviceState>();
  DeviceState& ds = *exe->state_;
  ds.device = device_;
  TUTTI_CUDA_TRY(cudaSetDevice(device_), "selecting " + name());
  TUTTI_CUDA_TRY(cudaStreamCreateWithFlags(&ds.stream, cudaStreamNonBlocking), "creating a CUDA stream");
  TUTTI_CUDNN_TRY(cudnnCreate(&ds.cudnn), "creating the cuDNN handle");
  TUTTI_CUDNN_TRY(cudnnSetStream(ds.cudnn, ds.stream), "cudnnSetStream");
  TUTTI_CUBLAS_TRY(cublasCreate(&ds.cublas), "creating the cuBLAS handle");
  TUTTI_CUBLAS_TRY(cublasSetStream(ds.cublas, ds.stream), "cublasSetStream");
  // fp32 is exact float32: no TF32 anywhere. cuBLAS follows the compute type of each call (ops_dnn.cc).
  TUTTI_CUBLAS_TRY(cublasSetMathMode(ds.cublas, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
  CudaRunContext& ctx = exe->ctx_;
  ctx.device = device_;
  ctx.stream = ds.stream;
  ctx.cudnn = ds.cudnn;
  ctx.cublas = ds.cublas;
  ctx.precision = options.precision;
  ctx.half = options.precision == Precision::kFp16;

  // Ops, in order. Constants an op reads on the device are uploaded once, in storage type.
  size_t weight_bytes = 0;
  std::vector<std::pair<DeviceBuffer, size_t>> scratch;
  const size_t nv = graph.value_count();
  exe->places_.assign(nv, Placement{});
  auto upload_constant = [&](ValueId v) -> Status {
    Placement& p = exe->places_[static_cast<size_t>(v)];
    if (p.data) return Status::Ok();
    const Tensor& t = graph.value(v).constant;
    p.shape = t.shape();
    p.dtype = t.dtype();
    const bool to_half = ctx.half && t.dtype() == DataType::kFloat32;
    const size_t bytes = to_half ? t.nbytes() / 2 : t.nbytes();
    TUTTI_ASSIGN_OR_RETURN(DeviceBuffer buf, AllocateDevice(bytes, "constant '" + graph.value(v).name + "'"));
    if (to_half) {
      std::vector<uint16_t> h(static_cast<size_t>(t.num_elements()));
      for (size_t i = 0; i < h.size(); ++i) h[i] = FloatToHalf(t.data<float>()[i]);
      TUTTI_CUDA_TRY(cudaMemcpy(buf.get(), h.data(), bytes, cudaMemcpyHostToDevice), "uploading constants");
    } else if (bytes) {
      TUTTI_CUDA_TRY(cudaMemcpy(buf.get(), t.raw_data(), bytes, cudaMemcpyHostToDevice), "uploading constants");
    }
    p.data = buf.get();
    exe->buffers_.push_back(buf);
    weight_bytes += bytes;
    return Status::Ok();
  };
  size_t workspace = 0;
  for (NodeId id : order) {
    const Node& n = graph.node(id);
    CudaOpBuild build{graph, n, ctx, &exe->buffers_, &weight_bytes};
    build.algo_cache = algo_cache_.get();
    build.scratch = &scratch;
    auto op = CudaOpRegistry::Get().Find(n.op_type)->factory(build);
    if (!op.ok()) return op.status().WithContext(NodeLabel(n));
    for (size_t i = 0; i < n.inputs.size(); ++i)
      if (n.inputs[i] != kNoValue && graph.value(n.inputs[i]).is_constant() && (*op)->needs_device_input(i))
        TUTTI_RETURN_IF_ERROR(upload_constant(n.inputs[i]).WithContext(NodeLabel(n)));
    workspace = std::max(workspace, (*op)->workspace_bytes());
    exe->steps_.push_back({std::move(op).value(), n.inputs, n.outputs, NodeLabel(n)});
  }
  scratch.clear();  // the algorithm search's buffers

  // Liveness: graph inputs are written at step 0 (the copy in), ops run at 1..S, outputs are read
  // at S+1 (the copy out). Views share their source's buffer, extending its lifetime.
  const int S = static_cast<int>(exe->steps_.size());
  std::vector<ValueId> root(nv);
  for (size_t v = 0; v < nv; ++v) root[v] = static_cast<ValueId>(v);
  std::vector<int> first(nv, -1), last(nv, -1);
  for (ValueId v : graph.inputs()) first[static_cast<size_t>(v)] = last[static_cast<size_t>(v)] = 0;
  for (int s = 0; s < S; ++s) {
    const Step& step = exe->steps_[static_cast<size_t>(s)];
    if (step.op->is_view()) {
      const ValueId src = root[static_cast<size_t>(step.inputs[0])];
      root[static_cast<size_t>(step.outputs[0])] = src;
      last[static_cast<size_t>(src)] = std::max(last[static_cast<size_t>(src)], s + 1);
      continue;
    }
    for (size_t i = 0; i < step.inputs.size(); ++i) {
      const ValueId v = step.inputs[i];
      if (v == kNoValue || !step.op->needs_device_input(i)) continue;
      const ValueId r = root[static_cast<size_t>(v)];
      last[static_cast<size_t>(r)] = std::max(last[static_cast<size_t>(r)], s + 1);
    }
    for (ValueId v : step.outputs)
      if (v != kNoValue) first[static_cast<size_t>(v)] = last[static_cast<size_t>(v)] = s + 1;
  }
  for (ValueId v : graph.outputs()) {
    const ValueId r = root[static_cast<size_t>(v)];
    last[static_cast<size_t>(r)] = S + 1;
  }
  std::vector<cpu::BufferRequest> requests;
  std::vector<int> request_of(nv, -1);
  for (size_t v = 0; v < nv; ++v) {
    if (first[v] < 0 || root[v] != static_cast<ValueId>(v) || graph.value(static_cast<ValueId>(v)).is_constant()) continue;
    const Value& val = graph.value(static_cast<ValueId>(v));
    const Shape shape = *ToConcrete(*val.info.shape);
    request_of[v] = static_cast<int>(requests.size());
    requests.push_back({static_cast<size_t>(NumElements(shape) * ctx.storage_size(val.info.dtype)), first[v], last[v]});
  }
  const cpu::MemoryPlan plan = cpu::PlanArena(requests);
  char* arena = nullptr;
  if (plan.arena_bytes > 0) {
    TUTTI_ASSIGN_OR_RETURN(DeviceBuffer buf, AllocateDevice(plan.arena_bytes, "the activation arena"));
    arena = static_cast<char*>(buf.get());
    exe->buffers_.push_back(buf);
  }
  for (size_t v = 0; v < nv; ++v) {
    const Value& val = graph.value(static_cast<ValueId>(v));
    Placement& p = exe->places_[v];
    if (request_of[v] >= 0) {
      p.data = arena + plan.offsets[static_cast<size_t>(request_of[v])];
      p.shape = *ToConcrete(*val.info.shape);
      p.dtype = val.info.dtype;
    }
  }
  for (int s = 0; s < S; ++s) {  // views: the source's storage under the view's shape
    const Step& step = exe->steps_[static_cast<size_t>(s)];
    if (!step.op->is_view()) continue;
    const ValueId in = step.inputs[0];
    if (graph.value(in).is_constant()) TUTTI_RETURN_IF_ERROR(upload_constant(in));
    Placement& p = exe->places_[static_cast<size_t>(step.outputs[0])];
    p.data = exe->places_[static_cast<size_t>(in)].data;
    p.shape = *ToConcrete(*graph.value(step.outputs[0]).info.shape);
    p.dtype = graph.value(step.outputs[0]).info.dtype;
  }
  if (workspace > 0) {
    TUTTI_ASSIGN_OR_RETURN(DeviceBuffer ws, AllocateDevice(workspace, "the cuDNN/cuBLAS workspace"));
    ctx.workspace = ws.get();
    ctx.workspace_bytes = workspace;
    exe->buffers_.push_back(ws);
  }

  // I/O: pinned staging on the host, float32 device staging in fp16 mode.
  size_t pinned_bytes = 0, io_bytes = 0;
  auto add_io = [&](ValueId v, std::vector<IoSlot>& list) -> Status {
    IoSlot s;
    const Value& val = graph.value(v);
    s.value = v;
    if (val.is_constant()) {
      s.constant = val.constant;
      s.shape = val.constant.shape();
      s.dtype = val.constant.dtype();
      list.push_back(s);
      return Status::Ok();
    }
    s.shape = *ToConcrete(*val.info.shape);
    s.dtype = val.info.dtype;
    s.pinned_offset = pinned_bytes;
    const size_t bytes = static_cast<size_t>(NumElements(s.shape)) * DataTypeSize(s.dtype);
    pinned_bytes += (bytes + 255) / 256 * 256;
    s.device_data = exe->places_[static_cast<size_t>(root[static_cast<size_t>(v)])].data;
    s.convert = ctx.half && s.dtype == DataType::kFloat32;
    if (s.convert) {
      TUTTI_ASSIGN_OR_RETURN(DeviceBuffer buf, AllocateDevice(bytes, "float32 staging for '" + val.name + "'"));
      s.device_io = buf.get();
      exe->buffers_.push_back(buf);
      io_bytes += bytes;
    } else {
      s.device_io = s.device_data;
    }
    list.push_back(s);
    return Status::Ok();
  };
  for (ValueId v : graph.inputs()) TUTTI_RETURN_IF_ERROR(add_io(v, exe->inputs_));
  for (ValueId v : graph.outputs()) TUTTI_RETURN_IF_ERROR(add_io(v, exe->outputs_));
  TUTTI_CUDA_TRY(cudaHostAlloc(&ds.pinned, std::max<size_t>(pinned_bytes, 256), cudaHostAllocDefault),
                 "allocating pinned host staging");

  bool capturable = true;
  for (const Step& s : exe->steps_) capturable = capturable && s.op->capturable();
  exe->use_graph_ = options.use_cuda_graph && capturable && !std::getenv("TUTTI_CUDA_NO_GRAPH");
  exe->debug_sync_ = std::getenv("TUTTI_CUDA_SYNC") != nullptr;  // attribute async faults to their op
  if (exe->debug_sync_) exe->use_graph_ = false;
  exe->stats_.weight_bytes = weight_bytes;
  exe->stats_.arena_bytes = plan.arena_bytes;
  exe->stats_.peak_device_bytes = weight_bytes + plan.arena_bytes + workspace + io_bytes;
  TUTTI_CUDA_TRY(cudaDeviceSynchronize(), "compiling for " + name());
  return std::unique_ptr<Executable>(std::move(exe));
}

Result<DeviceMemory> QueryDeviceMemory(int device) {
  TUTTI_ASSIGN_OR_RETURN(int count, DeviceCount());
  if (device < 0 || device >= count) return NotFound("no CUDA device ", device);
  TUTTI_CUDA_TRY(cudaSetDevice(device), "selecting the CUDA device");
  DeviceMemory m;
  TUTTI_CUDA_TRY(cudaMemGetInfo(&m.free_bytes, &m.total_bytes), "cudaMemGetInfo");
  return m;
}

namespace {

Result<std::unique_ptr<Backend>> MakeCudaBackend(const std::string& device) {
  int index = 0;
  if (device != "cuda") {
    const std::string n = device.substr(5);
    char* end = nullptr;
    const long v = device.rfind("cuda:", 0) == 0 && !n.empty() ? std::strtol(n.c_str(), &end, 10) : -1;
    if (v < 0 || !end || *end != '\0') return InvalidArgument("bad CUDA device '", device, "' (use cuda or cuda:N)");
    index = static_cast<int>(v);
  }
  Result<int> devices = DeviceCount();
  if (!devices.ok()) return devices.status().WithContext(device);  // name what was asked for
  const int count = *devices;
  if (index >= count)
    return NotFound("no CUDA device ", index, ": this machine has ", count, count == 1 ? " GPU" : " GPUs",
                    " (cuda:0", count > 1 ? StrCat("..cuda:", count - 1) : std::string(), ")");
  return std::unique_ptr<Backend>(new CudaBackend(index));
}

struct RegisterCuda {
  RegisterCuda() { RegisterBackendFactory("cuda", &MakeCudaBackend); }
} register_cuda;

}  // namespace
}  // namespace tutti::cuda
