// `tutti plan|run --split batch` end to end (issue 5): the plan is printed as JSON whose shares
// cover the batch; a split run reproduces PyTorch's output; bad processor lists and a plan without
// --split are one-line errors.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/test_support.h"

namespace tutti {
namespace {

struct Output {
  int exit_code = -1;
  std::string out, err;
};

Output Cli(const std::string& args) {
  const std::string err_file = (std::filesystem::temp_directory_path() / "tutti_batch_split_cli_err.txt").string();
  Output o;
  FILE* p = popen((std::string(TUTTI_CLI_PATH) + " " + args + " 2>" + err_file).c_str(), "r");
  if (!p) return o;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) o.out.append(buf, n);
  int status = pclose(p);
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream e(err_file);
  std::stringstream ss;
  ss << e.rdbuf();
  o.err = ss.str();
  return o;
}

std::string Model() { return testing::TestDataDir() + "/models/squeezenet1_1"; }

TEST(BatchSplitCli, PlanPrintsSharesCoveringTheBatch) {
  TUTTI_REQUIRE_FILE(Model() + ".onnx");
  Output o = Cli("plan " + Model() + ".onnx --split batch --batch 3 --processors cpu:0,cpu:1 --profile-runs 1 --json");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  auto j = nlohmann::json::parse(o.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << o.out;
  for (const char* plan : {"greedy", "exact", "single", "equal"}) {
    int64_t items = 0;
    for (const auto& s : j[plan]["shares"]) items += s["items"].get<int64_t>();
    EXPECT_EQ(items, 3) << plan;
  }
  EXPECT_LE(j["exact"]["predicted_ms"].get<double>(), j["greedy"]["predicted_ms"].get<double>() * (1 + 1e-9));
  EXPECT_GT(j["ideal_ms"].get<double>(), 0);
  EXPECT_EQ(j["processors"].size(), 2u);
}

TEST(BatchSplitCli, SplitRunMatchesPyTorch) {
  TUTTI_REQUIRE_FILE(Model() + ".onnx");
  TUTTI_REQUIRE_FILE(Model() + ".input.npy");
  Output o = Cli("run " + Model() + ".onnx --split batch --processors cpu:0,cpu:1 --profile-runs 1 --input " + Model() +
                 ".input.npy --expect output=" + Model() + ".output.npy --tolerance 1e-4 --json");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  auto j = nlohmann::json::parse(o.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << o.out;
  ASSERT_EQ(j["expect"].size(), 1u);
  EXPECT_TRUE(j["expect"][0]["ok"].get<bool>());
}

TEST(BatchSplitCli, BadRequestsAreOneLineErrors) {
  TUTTI_REQUIRE_FILE(Model() + ".onnx");
  for (const std::string& args : {"plan " + Model() + ".onnx --split batch --batch 2 --processors gpu:0",
                                  "plan " + Model() + ".onnx --batch 2 --processors cpu:0",
                                  "run " + Model() + ".onnx --split batch --batch 2",
                                  "plan " + Model() + ".onnx --split batch --batch 2 --processors cpu:0,cpu:0"}) {
    Output o = Cli(args);
    EXPECT_EQ(o.exit_code, 1) << args;
    EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << args << ": " << o.err;
    EXPECT_EQ(o.err.rfind("tutti: error: ", 0), 0u) << o.err;
  }
}

}  // namespace
}  // namespace tutti
