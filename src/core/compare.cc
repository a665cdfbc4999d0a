#include "core/compare.h"

#include <algorithm>
#include <cmath>

namespace tutti {

double RelativePeakError(const Tensor& actual, const Tensor& expected) {
  if (actual.num_elements() != expected.num_elements()) return INFINITY;
  double max_diff = 0, max_ref = 0;
  const int64_t n = expected.num_elements();
  for (int64_t i = 0; i < n; ++i) {
    double a = actual.ElementAsDouble(i), b = expected.ElementAsDouble(i);
    if (std::isnan(a) != std::isnan(b)) return INFINITY;
    if (std::isnan(a)) continue;
    if (std::isinf(a) || std::isinf(b)) {
      if (a != b) return INFINITY;
      continue;
    }
    max_diff = std::max(max_diff, std::abs(a - b));
    max_ref = std::max(max_ref, std::abs(b));
  }
  return max_diff / std::max(max_ref, 1e-30);
}

}  // namespace tutti
