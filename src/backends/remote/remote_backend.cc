#include "backends/remote/remote_backend.h"

#include <cstring>

namespace tutti {

RemoteExecutable::RemoteExecutable(std::shared_ptr<remote::WorkerClient> client, uint64_t part,
                                   std::vector<Shape> output_shapes, std::vector<DataType> output_types)
    : client_(std::move(client)), part_(part), output_shapes_(std::move(output_shapes)),
      output_types_(std::move(output_types)) {}

RemoteExecutable::~RemoteExecutable() {
  // Best effort: a dead worker has forgotten the part anyway, and the worker evicts unused parts.
  (void)client_->Release(part_);
}

Status RemoteExecutable::Run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs) {
  std::vector<Tensor> results;
  TUTTI_RETURN_IF_ERROR(client_->Run(part_, inputs, results, &last_, timeout_ms_));
  if (results.size() != output_shapes_.size())
    return DeviceError("worker ", client_->info().target, " returned ", results.size(), " outputs, expected ",
                       output_shapes_.size());
  outputs.resize(results.size());
  for (size_t i = 0; i < results.size(); ++i) {
    bool shape_known = output_shapes_[i] != Shape{-1};
    if ((shape_known && results[i].shape() != output_shapes_[i]) || results[i].dtype() != output_types_[i])
      return DeviceError("worker ", client_->info().target, " returned output ", i, " as ", results[i].DebugString(),
                         ", expected ", DataTypeName(output_types_[i]), ShapeToString(output_shapes_[i]));
    // backend.h's contract: a caller-provided output of the right shape is written in place.
    if (outputs[i].defined() && outputs[i].shape() == results[i].shape() && outputs[i].dtype() == results[i].dtype())
      std::memcpy(outputs[i].raw_data(), results[i].raw_data(), results[i].nbytes());
    else
      outputs[i] = std::move(results[i]);
  }
  return Status::Ok();
}

RemoteBackend::RemoteBackend(std::shared_ptr<remote::WorkerClient> client) : client_(std::move(client)) {
  ops_.insert(client_->info().supported_ops.begin(), client_->info().supported_ops.end());
}

Result<std::unique_ptr<RemoteBackend>> RemoteBackend::Connect(const std::string& target,
                                                              const remote::ConnectOptions& options) {
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<remote::WorkerClient> client, remote::ConnectWorker(target, options));
  return std::unique_ptr<RemoteBackend>(new RemoteBackend(std::shared_ptr<remote::WorkerClient>(std::move(client))));
}

bool RemoteBackend::SupportsNode(const Graph&, const Node& node) const {
  // The worker lists default-domain operators; internal ("tutti") ops come from the same release's
  // graph passes, which the version check guarantees the worker shares.
  return node.domain == "tutti" || (node.domain.empty() && ops_.count(node.op_type));
}

std::vector<std::string> RemoteBackend::SupportedOps() const { return {ops_.begin(), ops_.end()}; }

Result<std::unique_ptr<Executable>> RemoteBackend::Compile(const Graph& graph, const CompileOptions& options) {
  std::vector<Shape> shapes;
  std::vector<DataType> types;
  for (ValueId v : graph.outputs()) {
    const Value& val = graph.value(v);
    // Outputs without a declared shape are taken as the worker computes them.
    auto s = val.info.shape ? ToConcrete(*val.info.shape) : std::nullopt;
    shapes.push_back(s ? *s : Shape{-1});
    types.push_back(val.is_constant() ? val.constant.dtype() : val.info.dtype);
  }
  TUTTI_ASSIGN_OR_RETURN(remote::PreparedPart part, client_->Prepare(graph, options.threads));
  return std::unique_ptr<Executable>(new RemoteExecutable(client_, part.id, std::move(shapes), std::move(types)));
}

namespace {
Result<std::unique_ptr<Backend>> MakeRemoteBackend(const std::string& device) {
  // "remote:HOST:PORT" (HOST may be an IPv6 literal in brackets).
  std::string target = device.substr(std::strlen("remote:") <= device.size() ? std::strlen("remote:") : device.size());
  if (device.rfind("remote:", 0) != 0 || target.find(':') == std::string::npos)
    return InvalidArgument("remote device '", device, "' must be remote:HOST:PORT");
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<RemoteBackend> b,
                         RemoteBackend::Connect(target, remote::ConnectOptions::FromEnvironment()));
  return std::unique_ptr<Backend>(std::move(b));
}
struct RegisterRemote {
  RegisterRemote() { RegisterBackendFactory("remote", &MakeRemoteBackend); }
} register_remote;
}  // namespace

}  // namespace tutti
