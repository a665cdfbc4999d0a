// Latency estimator (exponential smoothing) and the profile file.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "profile/latency_estimator.h"
#include "profile/profile_store.h"
#include "profile/profiler.h"

namespace tutti {
namespace {

TEST(LatencyEstimator, SmoothsAndFollowsASlowdown) {
  LatencyEstimator e(0.25);
  int m = e.AddModel(2, 3);
  EXPECT_LT(e.Get(m, 1, 2), 0) << "unmeasured";
  e.Observe(m, 1, 2, 100);
  EXPECT_DOUBLE_EQ(e.Get(m, 1, 2), 100) << "first sample is taken as is";
  e.Observe(m, 1, 2, 200);
  EXPECT_DOUBLE_EQ(e.Get(m, 1, 2), 0.25 * 200 + 0.75 * 100);
  // The processor becomes 3x slower: within ~20 runs the estimate is within 1% of the new speed.
  for (int i = 0; i < 20; ++i) e.Observe(m, 1, 2, 300);
  EXPECT_NEAR(e.Get(m, 1, 2), 300, 3);
  EXPECT_LT(e.Get(m, 0, 2), 0) << "other entries untouched";
  EXPECT_EQ(e.samples(m, 1, 2), 22);
}

TEST(ProfileStore, RoundTripsAndMissingFileIsEmpty) {
  std::string path = ::testing::TempDir() + "/tutti_profile_test.json";
  std::remove(path.c_str());
  auto empty = ProfileStore::Load(path);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->size(), 0u);
  ProfileStore s;
  ProfileStore::Key k{ProfileStore::ModelKey(0xabcdef), ProfileStore::SubgraphKey(0, 3), "cpu/threads=1/cores=0"};
  s.Put(k, {812.5, 20});
  ASSERT_TRUE(s.Save(path).ok());
  auto loaded = ProfileStore::Load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  const ProfileEntry* e = loaded->Find(k);
  ASSERT_NE(e, nullptr);
  EXPECT_DOUBLE_EQ(e->latency_us, 812.5);
  EXPECT_EQ(e->samples, 20);
  EXPECT_EQ(std::get<0>(k), "0000000000abcdef");
}

TEST(ProfileStore, MalformedFileNamesTheField) {
  std::string path = ::testing::TempDir() + "/tutti_profile_bad.json";
  for (const char* text : {"{", R"({"format": "tutti-profile", "entries": [{"model": "a", "subgraph": "0-1",
                                  "processor": "cpu", "latency_us": "fast"}]})"}) {
    std::ofstream(path) << text;
    auto s = ProfileStore::Load(path);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.status().message().find(path), std::string::npos);
  }
  auto s = ProfileStore::Load(path);
  EXPECT_NE(s.status().message().find("entries[0].latency_us"), std::string::npos) << s.status().message();
}

TEST(Profiler, MedianOfTimedRunsAndErrorsPropagate) {
  int calls = 0;
  auto us = ProfileMedianUs([&] { ++calls; return Status::Ok(); }, {2, 5});
  ASSERT_TRUE(us.ok());
  EXPECT_EQ(calls, 7);
  EXPECT_GE(*us, 0);
  auto bad = ProfileMedianUs([] { return DeviceError("boom"); }, {0, 3});
  EXPECT_EQ(bad.status().code(), StatusCode::kDeviceError);
}

}  // namespace
}  // namespace tutti
