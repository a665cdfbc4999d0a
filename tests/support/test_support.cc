#include "support/test_support.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>

namespace tutti::testing {

std::string TestDataDir() {
  if (const char* env = std::getenv("TUTTI_TESTDATA")) return env;
  return TUTTI_TESTDATA_DIR;
}

double RelativePeakError(const Tensor& actual, const Tensor& expected) {
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

Tensor RandomTensor(const Shape& shape, uint32_t seed) {
  Tensor t = Tensor::Allocate(DataType::kFloat32, shape).value();
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  for (int64_t i = 0; i < t.num_elements(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

}  // namespace tutti::testing
