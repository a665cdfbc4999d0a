// Checking user tensors against a graph's declared inputs: the one place that turns "wrong shape"
// into a message naming the input, what the model expects and what it got. The Session uses it
// before compiling, and the engine uses it before splitting a request across processors.
#pragma once

#include <map>
#include <span>
#include <string>

#include "core/status.h"
#include "core/tensor.h"
#include "graph/graph.h"

namespace tutti {

// Values the symbolic dims of the inputs take ("batch" -> 8).
using SymbolBindings = std::map<std::string, int64_t>;

// Checks count, dtype, rank and every known dim, and that each named symbol (e.g. "batch") takes
// one value across all inputs. Returns the bindings it found.
// Errors read: input 'x' has shape [2,3], the model expects [batch,3,224,224]
Result<SymbolBindings> CheckInputs(const Graph& graph, std::span<const Tensor> inputs);

// "'a', 'b'" -- for messages listing what a model has.
std::string QuotedInputNames(const Graph& graph);
std::string QuotedOutputNames(const Graph& graph);

}  // namespace tutti
