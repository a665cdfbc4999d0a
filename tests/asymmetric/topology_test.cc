// Topology detection against fake sysfs trees (the shapes real kernels expose on big.LITTLE arm64,
// hybrid x86 with cpufreq, and VMs without either), so the grouping logic is tested on any machine.
#include "backends/cpu/asymmetric/topology.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace tutti::cpu::asymmetric {
namespace {

namespace fs = std::filesystem;

class FakeSysfs {
 public:
  FakeSysfs() {
    root_ = fs::temp_directory_path() /
            ("tutti_fake_sysfs_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  ~FakeSysfs() { fs::remove_all(root_); }
  // Adds cpuN; a value of 0 leaves that file out (as on machines without it).
  void AddCpu(int n, int64_t capacity, int64_t max_freq_khz) {
    const fs::path dir = root_ / ("cpu" + std::to_string(n));
    fs::create_directories(dir / "cpufreq");
    if (capacity) std::ofstream(dir / "cpu_capacity") << capacity << "\n";
    if (max_freq_khz) std::ofstream(dir / "cpufreq" / "cpuinfo_max_freq") << max_freq_khz << "\n";
  }
  std::string root() const { return root_.string(); }

 private:
  static inline int counter_ = 0;
  fs::path root_;
};

TEST(TopologyTest, BigLittleByCapacityFastestClusterFirst) {
  FakeSysfs sys;
  for (int c = 0; c < 4; ++c) sys.AddCpu(c, 446, 1800000);  // LITTLE
  for (int c = 4; c < 6; ++c) sys.AddCpu(c, 1024, 2400000);  // big
  // Files the tree also has that are not cpus must be ignored.
  std::filesystem::create_directories(sys.root() + "/cpufreq");
  std::filesystem::create_directories(sys.root() + "/cpuidle");
  auto topo = DetectCpuTopology({.sysfs_cpu_root = sys.root(), .cores = {}});
  ASSERT_TRUE(topo.ok()) << topo.status().ToString();
  ASSERT_EQ(topo->cores.size(), 6u);
  ASSERT_EQ(topo->clusters.size(), 2u);
  EXPECT_TRUE(topo->heterogeneous());
  EXPECT_EQ(topo->clusters[0].kind, "big");
  EXPECT_EQ(topo->clusters[0].cores, (std::vector<int>{4, 5}));
  EXPECT_EQ(topo->clusters[1].kind, "LITTLE");
  EXPECT_EQ(topo->clusters[1].cores, (std::vector<int>{0, 1, 2, 3}));
  ASSERT_NE(topo->core(5), nullptr);
  EXPECT_EQ(topo->core(5)->capacity, 1024);
  EXPECT_EQ(topo->core(5)->max_freq_khz, 2400000);
  EXPECT_EQ(topo->core(5)->cluster, 0);
  EXPECT_EQ(topo->core(1)->kind, "LITTLE");
  EXPECT_EQ(topo->core(9), nullptr);
}

TEST(TopologyTest, MaxFrequencyAloneSplitsClusters) {
  FakeSysfs sys;
  sys.AddCpu(0, 0, 3000000);
  sys.AddCpu(1, 0, 2000000);
  sys.AddCpu(2, 0, 1000000);
  auto topo = DetectCpuTopology({.sysfs_cpu_root = sys.root(), .cores = {}});
  ASSERT_TRUE(topo.ok()) << topo.status().ToString();
  ASSERT_EQ(topo->clusters.size(), 3u);
  EXPECT_EQ(topo->clusters[0].cores, (std::vector<int>{0}));
  EXPECT_EQ(topo->clusters[2].cores, (std::vector<int>{2}));
  EXPECT_EQ(topo->clusters[2].kind, "kind2");
}

TEST(TopologyTest, VmWithoutCpufreqIsOneCluster) {
  FakeSysfs sys;
  sys.AddCpu(0, 0, 0);
  sys.AddCpu(1, 0, 0);
  auto topo = DetectCpuTopology({.sysfs_cpu_root = sys.root(), .cores = {}});
  ASSERT_TRUE(topo.ok()) << topo.status().ToString();
  ASSERT_EQ(topo->clusters.size(), 1u);
  EXPECT_FALSE(topo->heterogeneous());
  EXPECT_EQ(topo->clusters[0].kind, "core");
  EXPECT_EQ(topo->cores[1].capacity, 0);
}

TEST(TopologyTest, SubsetOfCoresAndErrors) {
  FakeSysfs sys;
  for (int c = 0; c < 4; ++c) sys.AddCpu(c, c < 2 ? 1024 : 512, 0);
  auto topo = DetectCpuTopology({.sysfs_cpu_root = sys.root(), .cores = {3, 1, 3}});
  ASSERT_TRUE(topo.ok()) << topo.status().ToString();
  ASSERT_EQ(topo->cores.size(), 2u);
  EXPECT_EQ(topo->cores[0].os_index, 1);
  EXPECT_EQ(topo->clusters.size(), 2u);

  auto neg = DetectCpuTopology({.sysfs_cpu_root = sys.root(), .cores = {-1}});
  ASSERT_FALSE(neg.ok());
  EXPECT_NE(neg.status().message().find("-1"), std::string::npos) << neg.status().message();

  auto empty = DetectCpuTopology({.sysfs_cpu_root = sys.root() + "/nope", .cores = {}});
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("nope"), std::string::npos);
}

TEST(TopologyTest, RealMachineDescribesAllowedCores) {
  auto topo = DetectCpuTopology();
  ASSERT_TRUE(topo.ok()) << topo.status().ToString();
  EXPECT_EQ(topo->cores.size(), AllowedCores().size());
  size_t in_clusters = 0;
  for (const auto& c : topo->clusters) in_clusters += c.cores.size();
  EXPECT_EQ(in_clusters, topo->cores.size());

  auto bad = DetectCpuTopology({.cores = {100000}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("100000"), std::string::npos);
}

}  // namespace
}  // namespace tutti::cpu::asymmetric
