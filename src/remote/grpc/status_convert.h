// tutti Status <-> grpc::Status, both directions, so errors keep their kind and one-line message
// across the wire. Internal to remote/.
#pragma once

#include <grpcpp/grpcpp.h>

#include "core/status.h"

namespace tutti::remote {

grpc::Status ToGrpc(const Status& s);
// `what` names the call and the worker ("Run on worker 10.0.0.2:7000").
Status FromGrpc(const grpc::Status& s, const std::string& what);

}  // namespace tutti::remote
