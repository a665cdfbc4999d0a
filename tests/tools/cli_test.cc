// End-to-end tests of the `tutti` binary: every bad input the foundation issue lists gives exactly
// one line on stderr naming the problem and a non-zero exit (never a signal or a hang), and the
// happy paths of info/run/bench --json produce JSON that parses and says the right things.
// Every file is made here, in a temporary folder; the reference for Relu is computed here.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "core/npy.h"
#include "cli_runner.h"
#include "support/test_support.h"

namespace tutti {
namespace {

namespace fs = std::filesystem;
using testing::CliResult;
using testing::Describe;
using testing::RunCli;

// x[batch,4] -> Relu -> y, opset 13; `op` replaces Relu to make an unknown-operator model.
onnx::ModelProto ReluModel(const std::string& op = "Relu") {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("tutti cli_test");
  auto* opset = m.add_opset_import();
  opset->set_domain("");
  opset->set_version(13);
  auto* g = m.mutable_graph();
  g->set_name("relu_graph");
  for (auto [info, name] : {std::pair{g->add_input(), "x"}, std::pair{g->add_output(), "y"}}) {
    info->set_name(name);
    auto* tt = info->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    tt->mutable_shape()->add_dim()->set_dim_param("batch");
    tt->mutable_shape()->add_dim()->set_dim_value(4);
  }
  auto* n = g->add_node();
  n->set_op_type(op);
  n->set_name(op == "Relu" ? "relu1" : "frob1");
  n->add_input("x");
  n->add_output("y");
  return m;
}

// y = Relu(x + w) with w[4] stored in an external file that is not there.
onnx::ModelProto MissingExternalDataModel() {
  onnx::ModelProto m = ReluModel();
  auto* g = m.mutable_graph();
  g->mutable_node(0)->set_input(0, "xw");
  auto* add = g->add_node();
  add->set_op_type("Add");
  add->set_name("add1");
  add->add_input("x");
  add->add_input("w");
  add->add_output("xw");
  g->mutable_node()->SwapElements(0, 1);
  auto* w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(4);
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  auto* loc = w->add_external_data();
  loc->set_key("location");
  loc->set_value("weights_that_are_missing.bin");
  return m;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("tutti_cli_test_" + std::to_string(getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    relu_ = Write("relu.onnx", ReluModel().SerializeAsString());
  }

  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& bytes) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  std::string WriteNpyFile(const std::string& name, const Tensor& t) {
    std::string path = (dir_ / name).string();
    EXPECT_TRUE(WriteNpy(path, t).ok());
    return path;
  }

  void ExpectOneLineError(const std::vector<std::string>& args, const std::vector<std::string>& words) {
    testing::ExpectOneLineError(args, words);
  }

  fs::path dir_;
  std::string relu_;
};

TEST_F(CliTest, BadModelFilesAreOneLineErrors) {
  std::string model = ReluModel().SerializeAsString();
  std::string empty = Write("empty.onnx", "");
  std::string truncated = Write("truncated.onnx", model.substr(0, model.size() / 2));
  std::mt19937 rng(42);
  std::string noise(4096, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  std::string random = Write("random.onnx", noise);
  std::string text = Write("text.onnx", "this is a README, not an ONNX model\n");
  std::string npy = WriteNpyFile("tensor.onnx", testing::RandomTensor({2, 2}));
  std::string missing = (dir_ / "no_such_model.onnx").string();
  for (const char* cmd : {"info", "run", "bench"}) {
    for (const std::string& f : {empty, truncated, random, text, npy}) {
      SCOPED_TRACE(std::string(cmd) + " " + f);
      ExpectOneLineError({cmd, f}, {fs::path(f).filename().string()});
    }
    ExpectOneLineError({cmd, missing}, {"no_such_model.onnx"});
  }
}

TEST_F(CliTest, UnknownOperatorNamesNodeAndOp) {
  std::string m = Write("frob.onnx", ReluModel("Frobnicate").SerializeAsString());
  ExpectOneLineError({"run", m}, {"Frobnicate", "frob1"});
  ExpectOneLineError({"bench", m}, {"Frobnicate", "frob1"});
}

// Files that parse as ONNX but are not valid models: each refusal names what is wrong.
TEST_F(CliTest, InvalidModelsNameTheProblem) {
  onnx::ModelProto future = ReluModel();
  future.mutable_opset_import(0)->set_version(99);
  std::string opset = Write("opset99.onnx", future.SerializeAsString());
  onnx::ModelProto dangling = ReluModel();
  dangling.mutable_graph()->mutable_node(0)->set_input(0, "nowhere");
  std::string unproduced = Write("dangling.onnx", dangling.SerializeAsString());
  onnx::ModelProto cyclic = ReluModel();  // y = Relu(z), z = Relu(y)
  cyclic.mutable_graph()->mutable_node(0)->set_input(0, "z");
  auto* back = cyclic.mutable_graph()->add_node();
  back->set_op_type("Relu");
  back->set_name("relu2");
  back->add_input("y");
  back->add_output("z");
  std::string cycle = Write("cycle.onnx", cyclic.SerializeAsString());
  onnx::ModelProto no_graph = ReluModel();
  no_graph.clear_graph();
  std::string graphless = Write("graphless.onnx", no_graph.SerializeAsString());
  for (const char* cmd : {"info", "run"}) {
    SCOPED_TRACE(cmd);
    ExpectOneLineError({cmd, opset}, {"opset 99"});
    ExpectOneLineError({cmd, unproduced}, {"relu1", "nowhere"});
    ExpectOneLineError({cmd, cycle}, {"cycle"});
    ExpectOneLineError({cmd, graphless}, {"graphless.onnx", "graph"});
  }
}

TEST_F(CliTest, MissingExternalDataNamesTheFile) {
  std::string m = Write("ext.onnx", MissingExternalDataModel().SerializeAsString());
  for (const char* cmd : {"info", "run"}) ExpectOneLineError({cmd, m}, {"weights_that_are_missing.bin"});
}

TEST_F(CliTest, WrongInputsNameTheInput) {
  std::string shape = WriteNpyFile("shape.npy", testing::RandomTensor({2, 5}));
  ExpectOneLineError({"run", relu_, "--input", "x=" + shape}, {"input 'x'", "[2,5]", "[batch,4]"});
  std::string rank = WriteNpyFile("rank.npy", testing::RandomTensor({8}));
  ExpectOneLineError({"run", relu_, "--input", "x=" + rank}, {"input 'x'", "rank"});
  std::string type = WriteNpyFile("type.npy", Tensor::Zeros(DataType::kFloat64, {2, 4}).value());
  ExpectOneLineError({"run", relu_, "--input", "x=" + type}, {"input 'x'", "float64", "float32"});
  ExpectOneLineError({"run", relu_, "--input", "nosuch=" + shape}, {"no input 'nosuch'"});
  ExpectOneLineError({"run", relu_, "--input", "x=" + (dir_ / "absent.npy").string()}, {"absent.npy"});
  ExpectOneLineError({"run", relu_, "--input", "x=" + Write("x.txt", "1 2 3")}, {"x.txt", ".npy"});
  ExpectOneLineError({"run", relu_, "--input", "x=" + Write("empty.npy", "")}, {"empty.npy"});
  ExpectOneLineError({"run", relu_, "--input", "x=" + Write("text.npy", "not numpy at all")}, {"text.npy"});
  std::mt19937 rng(7);
  std::string noise(512, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  ExpectOneLineError({"run", relu_, "--input", "x=" + Write("noise.pb", noise)}, {"noise.pb"});
  ExpectOneLineError({"run", relu_, "--input", "x=" + Write("empty.pb", "")}, {"empty.pb"});
}

TEST_F(CliTest, NpyThatLiesAboutItsSize) {
  std::string good = *EncodeNpy(testing::RandomTensor({2, 4}));
  std::string shorter = Write("short.npy", good.substr(0, good.size() - 8));
  ExpectOneLineError({"run", relu_, "--input", "x=" + shorter}, {"short.npy", "float32[2,4]"});
  // A header claiming 4*10^13 elements (digits the reader accepts) over 32 bytes of data: an error, not an allocation.
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (10000000000000, 4), }";
  std::string lie = good;
  lie.replace(10, good.find('}') - 10 + 1, header);
  std::string huge = Write("huge.npy", lie);
  ExpectOneLineError({"run", relu_, "--input", "x=" + huge}, {"huge.npy", "lying"});
}

TEST_F(CliTest, BadFlagsAndNumbers) {
  ExpectOneLineError({"run", relu_, "--frobnicate", "3"}, {"unknown flag --frobnicate"});
  ExpectOneLineError({"bench", relu_, "--iters", "many"}, {"--iters", "many"});
  ExpectOneLineError({"bench", relu_, "--iters", "0"}, {"--iters"});
  ExpectOneLineError({"run", relu_, "--threads", "-2"}, {"--threads"});
  ExpectOneLineError({"run", relu_, "--batch", "1e3"}, {"--batch"});
  ExpectOneLineError({"run", relu_, "--batch"}, {"--batch"});
  ExpectOneLineError({"run", relu_, "--precision", "fp7"}, {"fp7"});
  ExpectOneLineError({"run", relu_, "--device", "tpu"}, {"tpu"});
  ExpectOneLineError({"run", relu_, "--device", "cuda:7"}, {"cuda:7"});
  ExpectOneLineError({"bench", relu_, "--device", "cuda:7"}, {"cuda:7"});
  ExpectOneLineError({"bench", relu_, "--duration", "-1"}, {"--duration"});
  ExpectOneLineError({"bench", relu_, "--duration", "2", "--iterations", "3"}, {"--duration"});
  ExpectOneLineError({"info", "--ops", "--device", "cuda:7"}, {"cuda:7"});
  ExpectOneLineError({"info", "--ops", relu_}, {"--ops"});
  ExpectOneLineError({"frobnicate"}, {"unknown command"});
  ExpectOneLineError({"run"}, {"MODEL"});
  ExpectOneLineError({"info", relu_, relu_}, {"unexpected argument"});
  ExpectOneLineError({"worker", "--listen", "127.0.0.1:0", "--link-rate", "fast"}, {"--link-rate", "fast"});
  ExpectOneLineError({"worker", "--listen", "127.0.0.1:0", "--link-rate", "100mbits"}, {"--link-rate", "mbits"});
}

TEST_F(CliTest, InfoJson) {
  CliResult r = RunCli({"info", relu_, "--json"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["inputs"][0]["name"], "x");
  EXPECT_EQ(j["inputs"][0]["dtype"], "float32");
  EXPECT_EQ(j["inputs"][0]["shape"], nlohmann::json::parse(R"(["batch", 4])"));
  EXPECT_EQ(j["outputs"][0]["name"], "y");
  EXPECT_EQ(j["opsets"][""], 13);
  EXPECT_EQ(j["nodes"], 1);
  EXPECT_EQ(j["operators"]["Relu"], 1);
  ASSERT_GE(j["backends"].size(), 1u);
  EXPECT_EQ(j["backends"][0]["device"], "cpu");
  EXPECT_EQ(j["backends"][0]["supported"]["Relu"], 1);
  EXPECT_TRUE(j["backends"][0]["unsupported"].empty());

  // An operator no backend has is listed, not an error: info is how users find out.
  std::string frob = Write("frob.onnx", ReluModel("Frobnicate").SerializeAsString());
  r = RunCli({"info", frob, "--json"});
  if (r.exit_code == 0) {
    j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["backends"][0]["unsupported"][0]["op"], "Frobnicate");
    EXPECT_EQ(j["backends"][0]["unsupported"][0]["example"], "frob1");
  } else {
    EXPECT_NE(r.err.find("Frobnicate"), std::string::npos) << Describe(r);
  }
  r = RunCli({"info", relu_});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_NE(r.out.find("Relu 1"), std::string::npos) << r.out;
}

TEST_F(CliTest, RunWritesOutputsAndChecksExpectations) {
  Tensor x = testing::RandomTensor({3, 4}, 9);
  Tensor ref = *Tensor::Allocate(DataType::kFloat32, {3, 4});
  for (int i = 0; i < 12; ++i) ref.data<float>()[i] = std::max(0.f, x.data<float>()[i]);
  std::string in = WriteNpyFile("x.npy", x);
  std::string want = WriteNpyFile("want.npy", ref);
  std::string out_dir = (dir_ / "out").string();
  CliResult r = RunCli({"run", relu_, "--input", "x=" + in, "--output-dir", out_dir, "--expect", "y=" + want, "--json",
                        "--threads", "1"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["batch"], 3);
  EXPECT_EQ(j["threads"], 1);
  EXPECT_EQ(j["inputs"][0]["source"], in);
  EXPECT_EQ(j["outputs"][0]["shape"], nlohmann::json::parse("[3, 4]"));
  EXPECT_EQ(j["expect"][0]["max_rel_error"], 0.0);
  EXPECT_EQ(j["expect"][0]["ok"], true);
  auto written = ReadNpy(out_dir + "/y.npy");
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  EXPECT_EQ(testing::RelativePeakError(*written, ref), 0.0);

  // The same input as an ONNX TensorProto .pb (how the ONNX node tests store tensors).
  onnx::TensorProto proto;
  proto.set_name("x");
  proto.set_data_type(onnx::TensorProto::FLOAT);
  for (int64_t d : x.shape()) proto.add_dims(d);
  for (int i = 0; i < 12; ++i) proto.add_float_data(x.data<float>()[i]);
  std::string pb = Write("x.pb", proto.SerializeAsString());
  r = RunCli({"run", relu_, "--input", "x=" + pb, "--expect", "y=" + want, "--json"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(nlohmann::json::parse(r.out)["expect"][0]["max_rel_error"], 0.0);

  // Random inputs shaped by --batch.
  r = RunCli({"run", relu_, "--batch", "5", "--json"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["inputs"][0]["source"], "random");
  EXPECT_EQ(j["outputs"][0]["shape"], nlohmann::json::parse("[5, 4]"));
  EXPECT_TRUE(j["outputs"][0]["file"].is_null());

  // A reference that does not match fails the command with one line.
  std::string wrong = WriteNpyFile("wrong.npy", x);  // Relu(x) != x for negative x
  ExpectOneLineError({"run", relu_, "--input", "x=" + in, "--expect", "y=" + wrong}, {"'y'", "wrong.npy", "tolerance"});
  // Plain text summary.
  r = RunCli({"run", relu_, "--input", in});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_NE(r.out.find("float32[3,4]"), std::string::npos) << r.out;
}

TEST_F(CliTest, BenchJson) {
  CliResult r = RunCli({"bench", relu_, "--batch", "2", "--iterations", "5", "--warmup", "1", "--json"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["batch"], 2);
  EXPECT_EQ(j["iterations"], 5);
  const auto& lat = j["latency_ms"];
  double median = lat["median"], p90 = lat["p90"], p99 = lat["p99"], min = lat["min"], max = lat["max"];
  double mean = lat["mean"];
  EXPECT_GT(min, 0.0);
  EXPECT_LE(min, median);
  EXPECT_LE(median, p90);
  EXPECT_LE(p90, p99);
  EXPECT_LE(p99, max);
  EXPECT_LE(min, mean);
  EXPECT_LE(mean, max);
  EXPECT_NEAR(j["throughput_items_per_s"].get<double>(), 2 * 1000.0 / median, 1e-6 * 2000.0 / median);
  EXPECT_GT(j["peak_rss_bytes"].get<int64_t>(), 1 << 20);
  EXPECT_TRUE(j["peak_device_bytes"].is_null());

  // A time budget instead of a count: at least one run, and about that long.
  r = RunCli({"bench", relu_, "--duration", "0.3", "--json", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  j = nlohmann::json::parse(r.out);
  EXPECT_GE(j["iterations"].get<int64_t>(), 1);
  EXPECT_GE(j["wall_ms"].get<double>(), 300.0);
}

// The operator list needs no model; on a build without CUDA the cuda backend is listed as absent.
TEST_F(CliTest, InfoOps) {
  CliResult r = RunCli({"info", "--ops", "--json"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["device"], "cpu");
  EXPECT_EQ(j[0]["available"], true);
  const auto& ops = j[0]["operators"];
  EXPECT_NE(std::find(ops.begin(), ops.end(), "Relu"), ops.end()) << ops.dump();
  EXPECT_EQ(j[1]["device"], "cuda");
  if (!j[1]["available"].get<bool>()) {
    EXPECT_FALSE(j[1]["reason"].get<std::string>().empty());
  }
  r = RunCli({"info", "--ops", "--device", "cpu"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out.rfind("cpu: ", 0), 0u) << r.out;
}

// The repository's demo model (models/demo.onnx, PyTorch's output beside it), as scripts/main.sh
// runs it. Found from the binary's place in build/<preset>/bin/; skips when not there.
TEST_F(CliTest, RunsTheDemoModelAgainstPyTorch) {
  const fs::path models = fs::path(TUTTI_CLI_PATH).parent_path() / ".." / ".." / ".." / "models";
  const std::string demo = (models / "demo.onnx").string();
  TUTTI_REQUIRE_FILE(demo);
  CliResult r = RunCli({"info", demo, "--json", "--device", "cpu"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto info = nlohmann::json::parse(r.out);
  if (!info["backends"][0]["unsupported"].empty())
    GTEST_SKIP() << "the cpu backend cannot run the demo model yet: " << info["backends"][0]["unsupported"].dump();
  const std::string out_dir = (dir_ / "out").string();
  r = RunCli({"run", demo, "--input", (models / "demo.input.npy").string(), "--expect",
              "probabilities=" + (models / "demo.output.npy").string(), "--output-dir", out_dir, "--json"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_LE(j["expect"][0]["max_rel_error"].get<double>(), 1e-4);
  auto written = ReadNpy(out_dir + "/probabilities.npy");
  auto want = ReadNpy((models / "demo.output.npy").string());
  ASSERT_TRUE(written.ok() && want.ok());
  EXPECT_LE(testing::RelativePeakError(*written, *want), 1e-4);
  // A reference that is not the model's output fails, with the summary still on stdout.
  std::string wrong = WriteNpyFile("wrong.npy", testing::RandomTensor(want->shape(), 3));
  ExpectOneLineError({"run", demo, "--input", (models / "demo.input.npy").string(), "--expect", "probabilities=" + wrong},
                     {"probabilities", "wrong.npy", "tolerance"});
}

// A real network through the whole CLI, against PyTorch's output (skips without test data).
TEST_F(CliTest, RunsATorchvisionModelAgainstPyTorch) {
  std::string base = testing::TestDataDir() + "/models/squeezenet1_1";
  TUTTI_REQUIRE_FILE(base + ".onnx");
  CliResult r = RunCli({"info", base + ".onnx", "--json"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto info = nlohmann::json::parse(r.out);
  if (!info["backends"][0]["unsupported"].empty())
    GTEST_SKIP() << "the cpu backend cannot run squeezenet1_1 yet: " << info["backends"][0]["unsupported"].dump();
  std::string in = info["inputs"][0]["name"], out = info["outputs"][0]["name"];
  r = RunCli({"run", base + ".onnx", "--input", in + "=" + base + ".input.npy", "--expect",
              out + "=" + base + ".output.npy", "--json"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_LE(j["expect"][0]["max_rel_error"].get<double>(), 1e-4);
}

}  // namespace
}  // namespace tutti
