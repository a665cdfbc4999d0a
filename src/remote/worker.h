// `tutti worker`: serves this machine's processor to a coordinator over gRPC (issue 7).
//
// A worker prepares model parts (tile subgraphs) sent by a coordinator, runs them on input tiles,
// and returns output tiles. It is defensive by design: every call must carry the configured token
// and the same protocol version; oversized and malformed messages are refused with a reason and
// never take the worker down.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "remote/protocol.h"

namespace tutti::remote {

struct WorkerOptions {
  std::string listen = "127.0.0.1:0";   // ADDR:PORT; port 0 picks a free one (see WorkerServer::port)
  std::string token;                    // empty: no token required (only sensible on loopback)
  std::string tls_cert_file;            // PEM; with tls_key_file, the worker speaks TLS only
  std::string tls_key_file;
  std::string device = "cpu";           // the backend parts compile for
  int threads = 0;                      // CPU threads per run (0: the backend's default)
  std::vector<int> cores;               // pin the worker process to these cores (empty: no pinning)
  int64_t max_message_bytes = kDefaultMaxMessageBytes;
  int64_t max_blob_bytes = 8ll << 30;   // weights held at once
  int max_parts = 512;                  // prepared parts held at once (least recently used dropped)
  std::string name;                     // reported to coordinators; defaults to the listen address
  // Shape the worker's own link to this rate each way (0: not shaped), for test beds that cannot
  // shape a real one (remote/token_bucket.h).
  double link_bytes_per_second = 0;
};

class WorkerServer {
 public:
  virtual ~WorkerServer() = default;
  virtual int port() const = 0;              // the bound port (useful with port 0)
  virtual void Wait() = 0;                   // blocks until Shutdown
  virtual void Shutdown() = 0;               // stops accepting, lets in-flight calls finish briefly
};

// Binds and starts serving; fails with a one-line reason (address in use, unreadable cert, ...).
Result<std::unique_ptr<WorkerServer>> StartWorker(const WorkerOptions& options);

// Whether this build has gRPC (false: StartWorker and ConnectWorker always fail with a reason).
bool RemoteSupported();

}  // namespace tutti::remote
