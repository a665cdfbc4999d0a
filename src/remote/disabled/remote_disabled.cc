// Built instead of remote/grpc/ when gRPC is absent: the API stays, every entry point explains why
// it cannot work, so the CLI and engine configs give a one-line reason instead of failing to link.
#include "remote/client.h"
#include "remote/worker.h"

namespace tutti::remote {
namespace {
Status NoGrpc() {
  return Unavailable("this build of tutti has no gRPC, so no remote workers (apt-get install libgrpc++-dev "
                     "protobuf-compiler-grpc, then re-run cmake)");
}
}  // namespace

bool RemoteSupported() { return false; }
Result<std::unique_ptr<WorkerServer>> StartWorker(const WorkerOptions&) { return NoGrpc(); }
Result<std::unique_ptr<WorkerClient>> ConnectWorker(const std::string&, const ConnectOptions&) { return NoGrpc(); }
Status CallRaw(const std::string&, const std::string&, const std::string&, const ConnectOptions&) { return NoGrpc(); }

}  // namespace tutti::remote
