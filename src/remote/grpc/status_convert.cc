#include "remote/grpc/status_convert.h"

namespace tutti::remote {

grpc::Status ToGrpc(const Status& s) {
  using G = grpc::StatusCode;
  G code = G::UNKNOWN;
  switch (s.code()) {
    case StatusCode::kOk: return grpc::Status::OK;
    case StatusCode::kInvalidArgument: code = G::INVALID_ARGUMENT; break;
    case StatusCode::kNotFound: code = G::NOT_FOUND; break;
    case StatusCode::kUnimplemented: code = G::UNIMPLEMENTED; break;
    case StatusCode::kOutOfMemory: code = G::RESOURCE_EXHAUSTED; break;
    case StatusCode::kDeviceError: code = G::INTERNAL; break;
    case StatusCode::kUnavailable: code = G::UNAVAILABLE; break;
    case StatusCode::kResourceExhausted: code = G::RESOURCE_EXHAUSTED; break;
    case StatusCode::kDeadlineExceeded: code = G::DEADLINE_EXCEEDED; break;
    case StatusCode::kCancelled: code = G::CANCELLED; break;
    case StatusCode::kFailedPrecondition: code = G::FAILED_PRECONDITION; break;
    case StatusCode::kInternal: code = G::INTERNAL; break;
  }
  return grpc::Status(code, s.message());
}

Status FromGrpc(const grpc::Status& s, const std::string& what) {
  using G = grpc::StatusCode;
  if (s.ok()) return Status::Ok();
  StatusCode code = StatusCode::kInternal;
  switch (s.error_code()) {
    case G::INVALID_ARGUMENT: code = StatusCode::kInvalidArgument; break;
    case G::NOT_FOUND: code = StatusCode::kNotFound; break;
    case G::UNIMPLEMENTED: code = StatusCode::kUnimplemented; break;
    case G::RESOURCE_EXHAUSTED: code = StatusCode::kResourceExhausted; break;
    case G::UNAVAILABLE: code = StatusCode::kUnavailable; break;
    case G::DEADLINE_EXCEEDED: code = StatusCode::kDeadlineExceeded; break;
    case G::CANCELLED: code = StatusCode::kCancelled; break;
    case G::FAILED_PRECONDITION: code = StatusCode::kFailedPrecondition; break;
    // A refused token is a configuration error on the coordinator's side.
    case G::UNAUTHENTICATED: case G::PERMISSION_DENIED: code = StatusCode::kInvalidArgument; break;
    case G::INTERNAL: case G::DATA_LOSS: code = StatusCode::kDeviceError; break;
    default: code = StatusCode::kUnavailable; break;
  }
  std::string msg = s.error_message();
  // Keep errors on one line whatever the transport put in them.
  for (char& c : msg) if (c == '\n' || c == '\r') c = ' ';
  return Status(code, what + ": " + msg);
}

}  // namespace tutti::remote
