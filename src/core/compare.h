// Comparing tensors the way tutti's correctness goals are stated: max |a-b| / max |b|, the error
// relative to the reference's peak magnitude (used by `tutti run --expect` and the test suite).
#pragma once

#include "core/tensor.h"

namespace tutti {

// NaN in one tensor but not the other, a differing infinity, or a shape or element-count mismatch
// gives +infinity; matching NaNs and infinities are skipped. A zero reference divides by 1e-30.
double RelativePeakError(const Tensor& actual, const Tensor& expected);

}  // namespace tutti
