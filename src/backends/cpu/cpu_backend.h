// The CPU backend: oneDNN for the heavy operators, the project's own kernels for the rest.
#pragma once

#include "backends/backend.h"

namespace tutti::cpu {

class CpuBackend final : public Backend {
 public:
  std::string name() const override { return "cpu"; }
  bool SupportsNode(const Graph& graph, const Node& node) const override;
  // The reason a node is not supported ("" when it is), for `tutti info` and error messages.
  std::string UnsupportedReason(const Graph& graph, const Node& node) const override;
  std::vector<std::string> SupportedOps() const override;
  Result<std::unique_ptr<Executable>> Compile(const Graph& graph, const CompileOptions& options) override;
};

}  // namespace tutti::cpu
