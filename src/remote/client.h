// The coordinator's side of the worker protocol: one connection to one `tutti worker`.
//
// Every call has a deadline, so a worker that dies or is cut off is noticed within a bounded time
// (kUnavailable / kDeadlineExceeded); callers such as the spatial executor then re-plan without it.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "graph/graph.h"
#include "remote/protocol.h"

namespace tutti::remote {

struct ConnectOptions {
  std::string token;          // sent with every call
  std::string tls_ca_file;    // PEM of the worker's certificate (or its CA); empty: plaintext
  std::string tls_server_name;  // override the name checked in the worker's certificate
  int connect_timeout_ms = 3000;
  int call_timeout_ms = 10000;     // Hello, Health, Release, Echo, blob chunks
  int prepare_timeout_ms = 120000; // compiling a part (oneDNN primitive creation) can take a while
  int run_timeout_ms = 30000;      // default for Run; callers pass tighter ones from predictions
  int protocol_version = kProtocolVersion;  // tests set another to check the refusal

  // Defaults with TUTTI_REMOTE_TOKEN / TUTTI_REMOTE_CA / TUTTI_REMOTE_TIMEOUT_MS (Run deadline) /
  // TUTTI_REMOTE_CONNECT_TIMEOUT_MS applied, so a
  // remote device in an engine config needs no secrets in the config file.
  static ConnectOptions FromEnvironment();
};

struct WorkerInfo {
  std::string target;         // host:port as connected
  std::string name;
  std::string device;
  int threads = 0;
  std::vector<int> cores;
  std::vector<std::string> supported_ops;
  int64_t max_message_bytes = 0;
};

struct WorkerHealth {
  bool ok = false;
  double uptime_s = 0;
  int64_t runs_served = 0;
  int parts_prepared = 0;
  int runs_in_flight = 0;
  int64_t blob_bytes = 0;
};

struct PreparedPart {
  uint64_t id = 0;
  double compile_ms = 0;
  size_t blob_bytes_sent = 0;  // weights uploaded for this part (0 when the worker had them)
};

struct RunTiming {
  double compute_us = 0;  // inside the worker
  double total_us = 0;    // the whole call as the coordinator saw it
};

struct ProfileResult {
  double median_us = 0, min_us = 0, mean_us = 0;
};

class WorkerClient {
 public:
  virtual ~WorkerClient() = default;
  virtual const WorkerInfo& info() const = 0;
  virtual Result<WorkerHealth> Health() = 0;
  // Sends the graph (weights as blobs the worker lacks) and compiles it there. `graph` must have
  // concrete shapes. threads 0: the worker's own setting.
  virtual Result<PreparedPart> Prepare(const Graph& graph, int threads = 0) = 0;
  // Inputs in graph-input order; outputs replaced by the results. timeout_ms 0: the default.
  virtual Status Run(uint64_t part, std::span<const Tensor> inputs, std::vector<Tensor>& outputs,
                     RunTiming* timing = nullptr, int timeout_ms = 0) = 0;
  // Runs the part on the worker with worker-made inputs: compute time without any transfer.
  virtual Result<ProfileResult> Profile(uint64_t part, int warmup, int iters) = 0;
  virtual Status Release(uint64_t part) = 0;
  // Round trip with `out_bytes` sent and `back_bytes` returned: microseconds (link profiling).
  virtual Result<double> Echo(int64_t out_bytes, int64_t back_bytes) = 0;
};

// Connects and says Hello: fails with kUnavailable when the worker cannot be reached in time,
// kFailedPrecondition on a protocol version mismatch, kInvalidArgument on a wrong token.
Result<std::unique_ptr<WorkerClient>> ConnectWorker(const std::string& target, const ConnectOptions& options);

}  // namespace tutti::remote

namespace tutti::remote {

// Sends `request` bytes unchanged to the worker's `method` ("Run", "Prepare", ...) with the usual
// version and token metadata, and returns the worker's verdict. For protocol tests and fuzzing:
// messages the typed client would never build must still be refused without harming the worker.
Status CallRaw(const std::string& target, const std::string& method, const std::string& request,
               const ConnectOptions& options);

}  // namespace tutti::remote
