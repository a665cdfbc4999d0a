// Small graphs for the engine tests, built from Relu (a real CPU kernel) and two test-only ops in
// the "tutti.test" domain registered by test_kernels.cc: AddScalar (y = x + value) and SpinAdd
// (busy-waits `us` microseconds, then y = x + value) for tests that need a stage to take time.
#pragma once

#include <string>
#include <vector>

#include "graph/graph.h"

namespace tutti::testing {

// x[batch, n] -> op_0 -> op_1 -> ... -> y; ops are "Relu", "AddScalar:<value>" or
// "SpinAdd:<us>:<value>".
inline Graph ChainGraph(const std::vector<std::string>& ops, int64_t n = 16, const std::string& name = "chain") {
  Graph g;
  g.name = name;
  SymbolicShape shape{Dim::Symbol("batch"), Dim::Known(n)};
  ValueId x = g.AddInput("x", {DataType::kFloat32, shape});
  for (size_t i = 0; i < ops.size(); ++i) {
    ValueId y = g.AddValue("v" + std::to_string(i), {DataType::kFloat32, shape});
    const std::string& op = ops[i];
    std::string label = name + "_" + std::to_string(i);
    if (op == "Relu") {
      g.AddNode("Relu", {x}, {y}, {}, label);
    } else if (op.rfind("AddScalar:", 0) == 0) {
      g.AddNode("AddScalar", {x}, {y}, {{"value", std::stof(op.substr(10))}}, label, "tutti.test");
    } else {  // SpinAdd:us:value
      size_t colon = op.find(':', 8);
      g.AddNode("SpinAdd", {x}, {y},
                {{"us", static_cast<int64_t>(std::stoll(op.substr(8, colon - 8)))}, {"value", std::stof(op.substr(colon + 1))}},
                label, "tutti.test");
    }
    x = y;
  }
  g.AddOutput(x);
  return g;
}

}  // namespace tutti::testing
