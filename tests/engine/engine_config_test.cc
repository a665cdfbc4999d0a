// Engine config parsing: defaults in one place, every malformed field named in the error.
#include "engine/engine_config.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "engine/json_fields.h"

namespace tutti {
namespace {

TEST(EngineConfig, ParsesEveryField) {
  auto j = nlohmann::json::parse(R"({
    "processors": [{"name": "big", "device": "cpu", "cores": "0", "threads": 1, "deny_ops": ["Conv"]},
                   {"name": "little", "cores": "0", "allow_ops": ["Relu", "Add"]}],
    "scheduler": {"name": "least_slack_time_first", "window": 4, "drop_late": false, "fixed": {"m": "big"}},
    "queue": {"mode": "global", "capacity": 7, "work_stealing": true, "max_retries": 2},
    "profile": {"file": "p.json", "offline": false, "warmup_runs": 0, "runs": 5, "alpha": 0.5},
    "partition": {"min_subgraph_nodes": 3},
    "batch_split": {"max_batch": 16},
    "trace": true})");
  auto c = EngineConfigFromJson(j);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->processors.size(), 2u);
  EXPECT_EQ(c->processors[0].cpu_cores, std::vector<int>{0});
  EXPECT_EQ(c->processors[0].deny_ops, std::vector<std::string>{"Conv"});
  EXPECT_EQ(c->processors[1].allow_ops.size(), 2u);
  EXPECT_EQ(c->scheduler.name, "least_slack_time_first");
  EXPECT_EQ(c->schedule_window, 4);
  EXPECT_FALSE(c->scheduler.drop_late);
  EXPECT_EQ(c->scheduler.fixed.at("m"), "big");
  EXPECT_EQ(c->queue_mode, QueueMode::kGlobal);
  EXPECT_EQ(c->queue_capacity, 7u);
  EXPECT_TRUE(c->work_stealing);
  EXPECT_EQ(c->max_retries, 2);
  EXPECT_EQ(c->profile_file, "p.json");
  EXPECT_FALSE(c->offline_profile);
  EXPECT_EQ(c->profiler.timed_runs, 5);
  EXPECT_DOUBLE_EQ(c->smoothing_alpha, 0.5);
  EXPECT_EQ(c->analyzer.min_subgraph_nodes, 3);
  EXPECT_EQ(c->batch_split_max_batch, 16);
  EXPECT_TRUE(c->record_trace);
}

TEST(EngineConfig, EmptyObjectGivesDefaults) {
  auto c = EngineConfigFromJson(nlohmann::json::object());
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->processors.empty());
  EXPECT_EQ(c->scheduler.name, EngineConfig{}.scheduler.name);
}

struct BadCase {
  const char* json;
  const char* field;  // must appear in the message
};

class BadConfigTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadConfigTest, ErrorNamesTheField) {
  auto j = nlohmann::json::parse(GetParam().json);
  auto c = EngineConfigFromJson(j);
  ASSERT_FALSE(c.ok()) << GetParam().json;
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find(GetParam().field), std::string::npos) << c.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    Fields, BadConfigTest,
    ::testing::Values(BadCase{R"({"processors": {}})", "processors"},
                      BadCase{R"({"processors": [{"device": "cpu"}]})", "processors[0].name"},
                      BadCase{R"({"processors": [{"name": "a", "threads": 0}]})", "processors[0].threads"},
                      BadCase{R"({"processors": [{"name": "a", "cores": "x-y"}]})", "processors[0].cores"},
                      BadCase{R"({"processors": [{"name": "a", "deny_ops": "Conv"}]})", "processors[0].deny_ops"},
                      BadCase{R"({"processors": [{"name": "a"}, {"name": "a"}]})", "processors[1].name"},
                      BadCase{R"({"processors": [{"name": "a", "thread": 2}]})", "processors[0].thread"},
                      BadCase{R"({"scheduler": {"name": "fastest"}})", "scheduler.name"},
                      BadCase{R"({"scheduler": {"window": 0}})", "scheduler.window"},
                      BadCase{R"({"scheduler": "heft"})", "scheduler"},
                      BadCase{R"({"queue": {"mode": "lifo"}})", "queue.mode"},
                      BadCase{R"({"queue": {"capacity": -1}})", "queue.capacity"},
                      BadCase{R"({"profile": {"alpha": 2}})", "profile.alpha"},
                      BadCase{R"({"partition": {"min_subgraph_nodes": "3"}})", "partition.min_subgraph_nodes"},
                      BadCase{R"({"batch_split": {"max_batch": -1}})", "batch_split.max_batch"},
                      BadCase{R"({"batch_split": {"max": 8}})", "batch_split.max"},
                      BadCase{R"({"trace": "yes"})", "trace"}, BadCase{R"({"schedulr": {}})", "schedulr"}));

TEST(EngineConfig, MalformedJsonTextIsOneLineError) {
  auto j = ParseJsonText("{\"processors\": [", "cfg.json");
  ASSERT_FALSE(j.ok());
  EXPECT_NE(j.status().message().find("cfg.json"), std::string::npos);
  auto missing = LoadEngineConfig("/nonexistent/engine.json");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

TEST(EngineConfig, UnknownDeviceNamesTheProcessor) {
  EngineConfig c;
  ProcessorSpec s;
  s.name = "tpu0";
  s.device = "tpu";
  c.processors = {s};
  auto p = Processor::Create(s);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("tpu0"), std::string::npos);
}

TEST(Processor, CoreListsRoundTrip) {
  auto cores = ParseCoreList("0-3,6,8-9");
  ASSERT_TRUE(cores.ok());
  EXPECT_EQ(FormatCoreList(*cores), "0-3,6,8-9");
  EXPECT_FALSE(ParseCoreList("3-1").ok());
  EXPECT_FALSE(ParseCoreList("").ok());
}

TEST(Processor, DiscoveryCoversTheAllowedCores) {
  std::vector<ProcessorSpec> specs = DiscoverProcessors();
  ASSERT_FALSE(specs.empty());
  std::vector<int> covered;
  for (const ProcessorSpec& s : specs)
    if (s.device == "cpu") covered.insert(covered.end(), s.cpu_cores.begin(), s.cpu_cores.end());
  std::sort(covered.begin(), covered.end());
  EXPECT_EQ(covered, AllowedCpuCores());
}

}  // namespace
}  // namespace tutti
