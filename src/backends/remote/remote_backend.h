// A remote device as a Backend: "remote:HOST:PORT" is a processor like any other. Compile()
// prepares the graph on the worker (weights uploaded once per worker), Run() sends the inputs and
// returns the worker's outputs; the transfer is inside Run, as backend.h asks of devices that
// compute elsewhere.
//
// Token and TLS settings come from ConnectOptions::FromEnvironment() (TUTTI_REMOTE_TOKEN,
// TUTTI_REMOTE_CA) when created through CreateBackend, so engine configs carry no secrets.
#pragma once

#include <memory>
#include <set>
#include <string>

#include "backends/backend.h"
#include "remote/client.h"

namespace tutti {

class RemoteExecutable final : public Executable {
 public:
  RemoteExecutable(std::shared_ptr<remote::WorkerClient> client, uint64_t part, std::vector<Shape> output_shapes,
                   std::vector<DataType> output_types);
  ~RemoteExecutable() override;
  Status Run(std::span<const Tensor> inputs, std::vector<Tensor>& outputs) override;

  // Deadline of each Run (0: the connection's default). The spatial executor derives it from the
  // predicted time so a silent worker is given up on quickly.
  void set_timeout_ms(int ms) { timeout_ms_ = ms; }
  const remote::RunTiming& last_timing() const { return last_; }
  uint64_t part_id() const { return part_; }
  remote::WorkerClient& client() { return *client_; }

 private:
  std::shared_ptr<remote::WorkerClient> client_;
  uint64_t part_;
  std::vector<Shape> output_shapes_;
  std::vector<DataType> output_types_;
  int timeout_ms_ = 0;
  remote::RunTiming last_;
};

class RemoteBackend final : public Backend {
 public:
  // target: "HOST:PORT". Fails when the worker is unreachable, refuses the token, or speaks another
  // protocol version.
  static Result<std::unique_ptr<RemoteBackend>> Connect(const std::string& target,
                                                        const remote::ConnectOptions& options);

  std::string name() const override { return "remote:" + client_->info().target; }
  bool SupportsNode(const Graph& graph, const Node& node) const override;
  std::vector<std::string> SupportedOps() const override;
  Result<std::unique_ptr<Executable>> Compile(const Graph& graph, const CompileOptions& options) override;

  remote::WorkerClient& client() { return *client_; }
  std::shared_ptr<remote::WorkerClient> shared_client() { return client_; }

 private:
  explicit RemoteBackend(std::shared_ptr<remote::WorkerClient> client);
  std::shared_ptr<remote::WorkerClient> client_;
  std::set<std::string> ops_;
};

}  // namespace tutti
