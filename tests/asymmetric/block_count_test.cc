// The asymmetric partition's decision rule (block_partition.h): whether an operator is cut at all,
// and into how many blocks, from the cores' speed ratio and a block's fixed cost. Expected values
// are worked by hand from the rule: equal blocks of work/B + overhead seconds (on the fastest core),
// each placed on the core that would finish it first, the smallest count within 10% of the best
// predicted makespan, only when every core's block is worth 10 times its fixed cost.
#include <gtest/gtest.h>

#include "backends/cpu/asymmetric/block_partition.h"

namespace tutti::cpu::asymmetric {
namespace {

TEST(AsymmetricBlockCountTest, EqualCoresGetOneBlockEach) {
  // 1 ms on two equal cores, 10 us per block: B=2 ends at 0.51 ms, B=3 at 0.687 (two blocks on
  // one core), B=4 at 0.52; B=2 is the best.
  EXPECT_EQ(AsymmetricBlockCount({1, 1}, 100, 1e-3, 1e-5), 2);
  EXPECT_EQ(AsymmetricBlockCount({3, 3, 3, 3}, 100, 1e-3, 1e-5), 4);  // the scale does not matter
}

TEST(AsymmetricBlockCountTest, HalfSpeedCoreGetsOneBlockOfThree) {
  // Core 1 at half speed. B=2 (0.51 ms blocks): the second block ends at 1.02 ms on either core.
  // B=3 (0.343 ms): two on core 0 end at 0.687, one on core 1 at 0.687 -- the best. B=6 ends at
  // 0.707, within 10% but more blocks.
  EXPECT_EQ(AsymmetricBlockCount({2, 1}, 100, 1e-3, 1e-5), 3);
  EXPECT_EQ(AsymmetricBlockCount({1, 0.5}, 100, 1e-3, 0), 3);
}

TEST(AsymmetricBlockCountTest, SlightlyUnequalCoresStayWithOneBlockEach) {
  // Speeds 1 and 0.95, no fixed cost: B=2 ends at 0.5/0.95 = 0.526 ms; the best any count does is
  // the proportional 1/1.95 = 0.513 ms; 0.526 is within 10% of it.
  EXPECT_EQ(AsymmetricBlockCount({1, 0.95}, 100, 1e-3, 0), 2);
}

TEST(AsymmetricBlockCountTest, TooLittleWorkPerBlockRunsWhole) {
  // 0.15 ms over two cores at 10 us per block: 1.5 blocks' worth of amortised work (10 x 10 us
  // each), fewer than the two cores need.
  EXPECT_EQ(AsymmetricBlockCount({1, 1}, 100, 1.5e-4, 1e-5), 0);
  EXPECT_EQ(AsymmetricBlockCount({2, 1}, 100, 1.5e-4, 1e-5), 0);
  // The same work with no fixed cost is cut.
  EXPECT_EQ(AsymmetricBlockCount({1, 1}, 100, 1.5e-4, 0), 2);
}

TEST(AsymmetricBlockCountTest, AmortisationCapsWhatTheSpeedRatioWants) {
  // The half-speed core wants three blocks, but 0.25 ms at 10 us per block amortises only two.
  EXPECT_EQ(AsymmetricBlockCount({2, 1}, 100, 2.5e-4, 1e-5), 2);
}

TEST(AsymmetricBlockCountTest, FewerUnitsThanCores) {
  // Three granules on eight cores: three blocks (each granule, if the work amortises three).
  EXPECT_EQ(AsymmetricBlockCount(std::vector<double>(8, 1.0), 3, 1e-3, 0), 3);
  EXPECT_EQ(AsymmetricBlockCount(std::vector<double>(8, 1.0), 3, 1e-3, 1e-5), 3);
  EXPECT_EQ(AsymmetricBlockCount(std::vector<double>(8, 1.0), 3, 2.5e-4, 1e-5), 0);  // amortises two
  // One granule on one core (one image of several): one block.
  EXPECT_EQ(AsymmetricBlockCount({1}, 4, 1e-3, 1e-5), 1);
}

TEST(AsymmetricBlockCountTest, BadInputsRunWhole) {
  EXPECT_EQ(AsymmetricBlockCount({}, 100, 1e-3, 1e-5), 0);
  EXPECT_EQ(AsymmetricBlockCount({1, 1}, 0, 1e-3, 1e-5), 0);
  EXPECT_EQ(AsymmetricBlockCount({1, 1}, 100, 0, 1e-5), 0);
  EXPECT_EQ(AsymmetricBlockCount({0, 0}, 100, 1e-3, 1e-5), 0);
}

std::shared_ptr<CorePool> Pool(std::vector<double> speeds) {
  std::vector<int> cores(speeds.size(), 0);  // unpinned: the test machine may have fewer cores
  auto pool = CorePool::Create(cores, {}, std::move(speeds), 0.3, /*pin=*/false);
  EXPECT_TRUE(pool.ok()) << pool.status().ToString();
  return pool.ok() ? *pool : nullptr;
}

// 96 channels in granules of 16; the whole extent is 40 MFLOP, 1 ms of arithmetic on the default
// model (40 GFLOP/s).
BlockShape FlopsOnly(int64_t e) { return {0, 0, 0, 40e6 * double(e) / 96}; }

// A memory-bound operator: 0.2 MFLOP (5 us) over 4 M operand elements (2 ms of traffic at the
// default model's 2 ns per element). Only the arithmetic divides among cores: too little to cut.
BlockShape Streaming(int64_t e) { return {1e3, 4e6 * double(e) / 96, 1e3, 0.2e6 * double(e) / 96}; }

TEST(AsymmetricBlockCountTest, PartitionCutsByTheRuleOrLeavesTheOperatorWhole) {
  const BlockCostModel model = BlockCostModel::Default();
  auto slow1 = Pool({2, 1});
  ASSERT_TRUE(slow1);
  const BlockPartition p = BlockPartition::Make(CpuPartition::kAsymmetric, *slow1, model, 1, 96, 16, FlopsOnly, 1e-5);
  ASSERT_EQ(p.blocks().size(), 3u);  // six granules in three blocks: 32 channels each
  EXPECT_EQ(p.blocks()[0].begin, 0);
  EXPECT_EQ(p.blocks()[1].begin, 32);
  EXPECT_EQ(p.blocks()[2].begin, 64);
  EXPECT_EQ(p.blocks()[2].end, 96);
  EXPECT_TRUE(BlockPartition::Make(CpuPartition::kAsymmetric, *slow1, model, 1, 96, 16, Streaming, 1e-5).blocks().empty());
  // 1 ms cannot amortise 100 us per block on two cores (10 x 100 us each): no blocks, run whole.
  EXPECT_TRUE(BlockPartition::Make(CpuPartition::kAsymmetric, *slow1, model, 1, 96, 16, FlopsOnly, 1e-4).blocks().empty());
  // The other modes keep their own cut whatever the overhead (the benchmark's baselines).
  EXPECT_EQ(BlockPartition::Make(CpuPartition::kEqual, *slow1, model, 1, 96, 16, FlopsOnly, 1e-4).blocks().size(), 2u);
  // Two images on two cores: each image is one core's share, one block each.
  EXPECT_EQ(BlockPartition::Make(CpuPartition::kAsymmetric, *slow1, model, 2, 96, 16, FlopsOnly, 1e-5).blocks().size(), 2u);
}

}  // namespace
}  // namespace tutti::cpu::asymmetric
