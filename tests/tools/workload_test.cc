// End-to-end tests of `tutti workload` and `tutti processors`: a run with every request pattern
// reports outcomes that add up (per model, overall, and in the reasons), latencies and utilisation
// that are consistent, and a Chrome trace with one slice per stage the processors report; every
// malformed config is one stderr line naming the field. Models and configs are made here.
#include <sched.h>

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "cli_runner.h"
#include "support/test_support.h"

namespace tutti {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::CliResult;
using testing::Describe;
using testing::ExpectOneLineError;
using testing::RunCli;

// x[batch, 256] -> Relu -> Sigmoid -> ... (`ops` nodes) -> y, opset 13.
onnx::ModelProto ChainModel(int ops) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("tutti workload_test");
  auto* opset = m.add_opset_import();
  opset->set_domain("");
  opset->set_version(13);
  auto* g = m.mutable_graph();
  g->set_name("chain");
  for (auto [info, name] : {std::pair{g->add_input(), "x"}, std::pair{g->add_output(), "y"}}) {
    info->set_name(name);
    auto* tt = info->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    tt->mutable_shape()->add_dim()->set_dim_param("batch");
    tt->mutable_shape()->add_dim()->set_dim_value(256);
  }
  for (int i = 0; i < ops; ++i) {
    auto* n = g->add_node();
    n->set_op_type(i % 2 ? "Sigmoid" : "Relu");
    n->set_name("n" + std::to_string(i));
    n->add_input(i == 0 ? "x" : "v" + std::to_string(i - 1));
    n->add_output(i + 1 == ops ? "y" : "v" + std::to_string(i));
  }
  return m;
}

class WorkloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("tutti_workload_test_" + std::to_string(getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    std::ofstream(dir_ / "a.onnx", std::ios::binary) << ChainModel(4).SerializeAsString();
    std::ofstream(dir_ / "b.onnx", std::ios::binary) << ChainModel(2).SerializeAsString();
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Two single-thread CPU processors; `models` and any top-level field override the rest.
  std::string Config(const json& overrides, const std::string& name = "workload.json") {
    json c = {{"duration_s", 0.5},
              {"processors", {{{"name", "cpu0"}, {"threads", 1}}, {{"name", "cpu1"}, {"threads", 1}}}},
              {"scheduler", {{"name", "heft"}}},
              {"profile", {{"warmup_runs", 0}, {"runs", 1}}},
              {"models", {{{"file", "a.onnx"}, {"pattern", "closed_loop"}, {"clients", 2}}}}};
    for (const auto& [k, v] : overrides.items()) {
      if (v.is_null()) c.erase(k);
      else c[k] = v;
    }
    return WriteText(name, c.dump(2));
  }
  std::string WriteText(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  // Runs with --json and checks what must hold of every report.
  json RunReport(const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"workload"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back("--json");
    CliResult r = RunCli(args, 120);
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
    json j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << Describe(r);
    if (j.is_discarded()) return json::object();
    uint64_t sub = 0, done = 0, dropped = 0, failed = 0;
    for (const json& m : j["models"]) {
      SCOPED_TRACE(m.dump());
      const uint64_t s = m["submitted"], c = m["completed"], d = m["dropped"], f = m["failed"];
      EXPECT_EQ(s, c + d + f);
      uint64_t by_reason = 0;
      for (const auto& [reason, r] : m["reasons"].items()) {
        by_reason += r["count"].get<uint64_t>();
        EXPECT_FALSE(r["example"].get<std::string>().empty()) << reason;
      }
      EXPECT_EQ(by_reason, d + f) << "every dropped or failed request has a reason";
      if (c > 0) {
        EXPECT_LE(m["latency_ms"]["p50"].get<double>(), m["latency_ms"]["p95"].get<double>());
        EXPECT_LE(m["latency_ms"]["p95"].get<double>(), m["latency_ms"]["p99"].get<double>());
        EXPECT_GT(m["latency_ms"]["p50"].get<double>(), 0);
      }
      EXPECT_NEAR(m["throughput_per_s"].get<double>(), static_cast<double>(c) / j["elapsed_s"].get<double>(), 1e-6);
      sub += s, done += c, dropped += d, failed += f;
    }
    EXPECT_EQ(j["overall"]["submitted"].get<uint64_t>(), sub);
    EXPECT_EQ(j["overall"]["completed"].get<uint64_t>(), done);
    EXPECT_EQ(j["overall"]["dropped"].get<uint64_t>(), dropped);
    EXPECT_EQ(j["overall"]["failed"].get<uint64_t>(), failed);
    EXPECT_GE(j["elapsed_s"].get<double>(), j["duration_s"].get<double>());
    for (const json& p : j["processors"]) {
      EXPECT_GE(p["utilisation"].get<double>(), 0);
      EXPECT_LE(p["utilisation"].get<double>(), 1.0 + 1e-3) << p.dump();
    }
    return j;
  }

  fs::path dir_;
};

TEST_F(WorkloadTest, EveryPatternReportsCountsThatAddUpAndATraceOfEveryStage) {
  std::string config = Config({{"models",
                                {{{"name", "loop"}, {"file", "a.onnx"}, {"pattern", "closed_loop"}, {"clients", 2}},
                                 {{"name", "tick"}, {"file", "b.onnx"}, {"pattern", "periodic"}, {"period_ms", 20},
                                  {"slo_ms", 1000}, {"batch", 2}},
                                 {{"name", "rand"}, {"file", "b.onnx"}, {"pattern", "poisson"}, {"rate_per_s", 40}}}}});
  std::string trace = (dir_ / "trace.json").string();
  json j = RunReport({config, "--trace", trace});
  ASSERT_EQ(j["models"].size(), 3u);
  EXPECT_GT(j["models"][0]["completed"].get<uint64_t>(), 0u) << "a closed loop always has a request in flight";
  // 0.5 s at one request per 20 ms, the first at t=0.
  EXPECT_NEAR(j["models"][1]["submitted"].get<double>(), 25, 3);
  EXPECT_EQ(j["models"][1]["batch"], 2);
  EXPECT_TRUE(j["models"][1]["slo_satisfaction"].is_number());
  EXPECT_TRUE(j["models"][0]["slo_satisfaction"].is_null()) << "no SLO, no satisfaction figure";
  ASSERT_EQ(j["processors"].size(), 2u);

  std::ifstream in(trace);
  json t = json::parse(in, nullptr, false);
  ASSERT_FALSE(t.is_discarded()) << "the trace is JSON";
  uint64_t slices = 0, stages = 0;
  std::set<int> named_tracks;
  for (const json& e : t["traceEvents"]) {
    if (e["ph"] == "M" && e["name"] == "thread_name") named_tracks.insert(e["tid"].get<int>());
    if (e["ph"] != "X" || e["cat"] == "copy") continue;
    ++slices;
    EXPECT_GE(e["dur"].get<int64_t>(), 0);
    EXPECT_TRUE(e["tid"] == 0 || e["tid"] == 1) << e.dump();
  }
  for (const json& p : j["processors"]) stages += p["stages"].get<uint64_t>();
  EXPECT_EQ(named_tracks, (std::set<int>{0, 1})) << "one named track per processor";
  EXPECT_EQ(slices, stages) << "one slice per subgraph execution";
  EXPECT_GE(stages, j["overall"]["completed"].get<uint64_t>());
}

TEST_F(WorkloadTest, FullQueueAndHopelessSlosAreReportedWithReasons) {
  // Capacity 1 with a fast open loop: most arrivals find the queue full. An SLO of 1 us: nothing
  // completes within it, whether the scheduler drops the request or runs it late.
  std::string config = Config({{"queue", {{"capacity", 1}}},
                               {"scheduler", {{"name", "least_slack_time_first"}}},
                               {"models",
                                {{{"name", "flood"}, {"file", "a.onnx"}, {"pattern", "poisson"}, {"rate_per_s", 5000}},
                                 {{"name", "late"}, {"file", "b.onnx"}, {"pattern", "closed_loop"}, {"slo_ms", 0.001}}}}});
  json j = RunReport({config, "--duration", "0.3"});
  ASSERT_EQ(j["models"].size(), 2u);
  const json& flood = j["models"][0];
  EXPECT_GT(flood["failed"].get<uint64_t>(), 0u) << flood.dump();
  EXPECT_TRUE(flood["reasons"].contains("failed: resource exhausted")) << flood["reasons"].dump();
  EXPECT_EQ(j["models"][1]["slo_satisfaction"].get<double>(), 0.0);
  EXPECT_NEAR(j["duration_s"].get<double>(), 0.3, 1e-9) << "--duration overrides the config";
}

TEST_F(WorkloadTest, HumanReportHasATableAndEveryProcessor) {
  CliResult r = RunCli({"workload", Config({}), "--duration", "0.2"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  for (const char* word : {"submitted", "completed", "p99 ms", "SLO met", "overall", "utilisation", "cpu0", "cpu1"})
    EXPECT_NE(r.out.find(word), std::string::npos) << word << "\n" << r.out;
  EXPECT_NE(r.err.find("submitted"), std::string::npos) << "a progress line on stderr";
}

TEST_F(WorkloadTest, MalformedConfigsNameTheField) {
  struct Case {
    json overrides;
    std::string field;
  };
  const std::vector<Case> cases = {
      {{{"models", {{{"file", "a.onnx"}, {"pattern", "bursty"}}}}}, "models[0].pattern"},
      {{{"models", {{{"file", "a.onnx"}, {"pattern", "poisson"}}}}}, "models[0].rate_per_s"},
      {{{"models", {{{"file", "a.onnx"}, {"pattern", "periodic"}, {"period_ms", -5}}}}}, "models[0].period_ms"},
      {{{"models", {{{"file", "a.onnx"}, {"pattern", "periodic"}, {"period_ms", 5}, {"clients", 2}}}}},
       "models[0].clients"},
      {{{"models", {{{"file", "a.onnx"}, {"slo_ms", "fast"}}}}}, "models[0].slo_ms"},
      {{{"models", {{{"pattern", "closed_loop"}}}}}, "models[0].file"},
      {{{"models", {{{"file", "a.onnx"}}, {{"file", "a.onnx"}}}}}, "models[1].name"},
      {{{"models", json::array()}}, "models"},
      {{{"models", nullptr}}, "models"},
      {{{"duration_s", "ten"}}, "duration_s"},
      {{{"duraton_s", 3}}, "duraton_s"},
      {{{"queue", {{"capacity", -1}}}}, "queue.capacity"},
      {{{"scheduler", {{"name", "fastest"}}}}, "scheduler.name"},
      {{{"processors", {{{"name", "cpu0"}, {"threads", 0}}}}}, "processors[0].threads"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.overrides.dump());
    ExpectOneLineError({"workload", Config(c.overrides)}, {"'" + c.field + "'", "workload.json"});
  }
  ExpectOneLineError({"workload", WriteText("bad.json", "{\"models\": [")}, {"bad.json", "JSON"});
  ExpectOneLineError({"workload", (dir_ / "absent.json").string()}, {"absent.json"});
  ExpectOneLineError({"workload", Config({{"models", {{{"file", "missing.onnx"}}}}})}, {"missing.onnx"});
  ExpectOneLineError({"workload", Config({}), "--duration", "soon"}, {"--duration"});
  ExpectOneLineError({"workload"}, {"config"});
}

TEST(ProcessorsCommand, ListsProcessorsCoveringEveryAllowedCore) {
  CliResult r = RunCli({"processors", "--json"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  ASSERT_FALSE(j["processors"].empty());
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  EXPECT_EQ(j["cpu_cores"].size(), static_cast<size_t>(CPU_COUNT(&set))) << "one entry per core this process may use";
  int cpu_threads = 0;
  for (const json& p : j["processors"])
    if (p["device"] == "cpu") cpu_threads += p["threads"].get<int>();
  EXPECT_EQ(cpu_threads, CPU_COUNT(&set)) << "the CPU processors use every allowed core once";
  CliResult human = RunCli({"processors"});
  ASSERT_EQ(human.exit_code, 0) << Describe(human);
  EXPECT_NE(human.out.find("cpu"), std::string::npos);
}

}  // namespace
}  // namespace tutti
