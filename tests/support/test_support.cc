#include "support/test_support.h"

#include "core/compare.h"

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
  return ::tutti::RelativePeakError(actual, expected);  // one definition, shared with `tutti run --expect`
}

Tensor RandomTensor(const Shape& shape, uint32_t seed) {
  Tensor t = Tensor::Allocate(DataType::kFloat32, shape).value();
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  for (int64_t i = 0; i < t.num_elements(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

}  // namespace tutti::testing
