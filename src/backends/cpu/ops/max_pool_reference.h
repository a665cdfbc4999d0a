// MaxPool where oneDNN's pooling does not serve: the Indices output (argmax, what exported
// SegNet-style models feed MaxUnpool) and integer inputs. A direct loop over the shared window
// geometry; inputs that arrive in a blocked layout are brought to plain first.
#pragma once

#include "backends/cpu/ops/kernel_util.h"
#include "backends/cpu/ops/onednn_util.h"

namespace tutti::cpu {

// Whether `n` (a MaxPool) needs the reference kernel rather than oneDNN's.
bool NeedsReferenceMaxPool(const Graph& g, const Node& n);
Result<std::unique_ptr<LayoutAwareKernel>> MakeReferenceMaxPool(const KernelBuildInfo& info, const LayoutRequest& req);

}  // namespace tutti::cpu
