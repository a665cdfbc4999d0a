// Helpers shared by the test binaries: where generated data lives, comparing tensors the way the
// issues define tolerance (max |a-b| / max |b|), and building small graphs by hand.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "core/tensor.h"

namespace tutti::testing {

// build/testdata (made by scripts/make-testdata.sh); TUTTI_TESTDATA overrides.
std::string TestDataDir();

// max |a-b| / max(|b|, tiny): the relative-to-peak error the correctness goals are stated in.
double RelativePeakError(const Tensor& actual, const Tensor& expected);

// Fills with deterministic pseudo-random values in [-1, 1).
Tensor RandomTensor(const Shape& shape, uint32_t seed = 1);

}  // namespace tutti::testing

// Skips the calling test with a visible reason if `path` does not exist.
#define TUTTI_REQUIRE_FILE(path)                                                           \
  if (!std::filesystem::exists(path))                                                      \
  GTEST_SKIP() << "missing " << (path) << " (generate it with scripts/make-testdata.sh)"
