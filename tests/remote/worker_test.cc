// The worker protocol end to end: real `tutti worker` processes on 127.0.0.1, a coordinator-side
// client, and the refusals issue 7 asks for (token, version, size, TLS, unreachable, dead worker).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "backends/remote/remote_backend.h"
#include "engine/engine.h"
#include "remote/client.h"
#include "remote/worker.h"
#include "support/test_support.h"
#include "worker_process.h"

namespace tutti {
namespace {

using remote::ConnectOptions;
using testing::WorkerProcess;

#define REQUIRE_REMOTE() \
  if (!remote::RemoteSupported()) GTEST_SKIP() << "this build has no gRPC"

// x -> Relu -> y, plus an unused 64 KiB constant so the weight (blob) path is exercised.
Graph ReluGraph(const Shape& shape, float constant_fill = 1.f) {
  Graph g;
  g.name = "relu_tile";
  g.set_opset("", 13);
  ValueId x = g.AddInput("x", {DataType::kFloat32, ToSymbolic(shape)});
  ValueId y = g.AddValue("y", {DataType::kFloat32, ToSymbolic(shape)});
  Tensor w = Tensor::Allocate(DataType::kFloat32, {16384}).value();
  for (int i = 0; i < 16384; ++i) w.data<float>()[i] = constant_fill * static_cast<float>(i);
  g.AddConstant("unused_weight", w);
  g.AddNode("Relu", {x}, {y}, {}, "relu");
  g.AddOutput(y);
  return g;
}

ConnectOptions WithToken(const std::string& token) {
  ConnectOptions o;
  o.token = token;
  o.connect_timeout_ms = 5000;
  return o;
}

TEST(RemoteWorkerTest, PrepareRunProfileMatchLocalRelu) {
  REQUIRE_REMOTE();
  WorkerProcess w({"--token", "s3cret", "--threads", "1"});
  ASSERT_TRUE(w.started()) << w.log();
  auto client = remote::ConnectWorker(w.target(), WithToken("s3cret"));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_EQ((*client)->info().device, "cpu");
  EXPECT_FALSE((*client)->info().supported_ops.empty());

  Graph g = ReluGraph({2, 3, 5, 7});
  auto part = (*client)->Prepare(g);
  ASSERT_TRUE(part.ok()) << part.status().ToString();
  EXPECT_EQ(part->blob_bytes_sent, 16384u * 4);  // first time: the weight travels
  auto again = (*client)->Prepare(g);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->blob_bytes_sent, 0u);  // the worker has it
  EXPECT_EQ(again->id, part->id);         // and the compiled part too

  Tensor x = testing::RandomTensor({2, 3, 5, 7}, 7);
  std::vector<Tensor> out;
  remote::RunTiming timing;
  ASSERT_TRUE((*client)->Run(part->id, {&x, 1}, out, &timing).ok());
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].shape(), x.shape());
  // Independent reference: max(x, 0) elementwise.
  for (int64_t i = 0; i < x.num_elements(); ++i) ASSERT_EQ(out[0].data<float>()[i], std::max(0.f, x.data<float>()[i]));
  EXPECT_GT(timing.total_us, 0);

  auto prof = (*client)->Profile(part->id, 1, 3);
  ASSERT_TRUE(prof.ok()) << prof.status().ToString();
  EXPECT_GT(prof->median_us, 0);
  auto echo = (*client)->Echo(1000, 100000);
  ASSERT_TRUE(echo.ok()) << echo.status().ToString();
  auto health = (*client)->Health();
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->runs_served, 1);
  EXPECT_GE(health->blob_bytes, 16384 * 4);
  ASSERT_TRUE((*client)->Release(part->id).ok());
  Status gone = (*client)->Run(part->id, {&x, 1}, out);
  EXPECT_EQ(gone.code(), StatusCode::kNotFound) << gone.ToString();
}

TEST(RemoteWorkerTest, WrongOrMissingTokenIsRefusedAndWorkerStaysUp) {
  REQUIRE_REMOTE();
  WorkerProcess w({"--token", "right"});
  ASSERT_TRUE(w.started()) << w.log();
  auto bad = remote::ConnectWorker(w.target(), WithToken("wrong"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("wrong token"), std::string::npos) << bad.status().ToString();
  auto none = remote::ConnectWorker(w.target(), WithToken(""));
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("requires a token"), std::string::npos) << none.status().ToString();
  // A prefix of the token is not the token.
  EXPECT_FALSE(remote::ConnectWorker(w.target(), WithToken("righ")).ok());
  auto good = remote::ConnectWorker(w.target(), WithToken("right"));
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_TRUE((*good)->Health().ok());
  EXPECT_TRUE(w.alive());
  EXPECT_NE(w.log().find("wrong token"), std::string::npos);  // refusals are logged
}

TEST(RemoteWorkerTest, ProtocolVersionMismatchIsAClearRefusal) {
  REQUIRE_REMOTE();
  WorkerProcess w;
  ASSERT_TRUE(w.started()) << w.log();
  ConnectOptions o = WithToken("");
  o.protocol_version = remote::kProtocolVersion + 1;
  auto c = remote::ConnectWorker(w.target(), o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kFailedPrecondition);
  const std::string& m = c.status().message();
  EXPECT_NE(m.find("protocol version mismatch"), std::string::npos) << m;
  EXPECT_NE(m.find(std::to_string(remote::kProtocolVersion + 1)), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos);
  EXPECT_TRUE(remote::ConnectWorker(w.target(), WithToken("")).ok());
}

TEST(RemoteWorkerTest, OversizedTileIsRefusedBeforeSending) {
  REQUIRE_REMOTE();
  WorkerProcess w({"--max-message-mb", "1"});
  ASSERT_TRUE(w.started()) << w.log();
  auto client = remote::ConnectWorker(w.target(), WithToken(""));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_EQ((*client)->info().max_message_bytes, 1 << 20);
  Graph g = ReluGraph({1, 4, 256, 512});  // 2 MiB input tile
  auto part = (*client)->Prepare(g);
  ASSERT_TRUE(part.ok()) << part.status().ToString();
  Tensor x = testing::RandomTensor({1, 4, 256, 512});
  std::vector<Tensor> out;
  Status s = (*client)->Run(part->id, {&x, 1}, out);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.ToString();
  EXPECT_NE(s.message().find("message limit"), std::string::npos) << s.ToString();
  EXPECT_TRUE((*client)->Health().ok());
}

// Protocol-buffer wire format by hand, so the test can say things the typed client never would.
std::string Varint(uint64_t v) {
  std::string out;
  do {
    out.push_back(static_cast<char>((v & 0x7f) | (v > 0x7f ? 0x80 : 0)));
    v >>= 7;
  } while (v);
  return out;
}
std::string Bytes(int field, const std::string& payload) {
  return Varint(static_cast<uint64_t>(field) << 3 | 2) + Varint(payload.size()) + payload;
}
std::string Int(int field, uint64_t v) { return Varint(static_cast<uint64_t>(field) << 3) + Varint(v); }

TEST(RemoteWorkerTest, MalformedMessagesAreRefusedAndWorkerStaysUp) {
  REQUIRE_REMOTE();
  WorkerProcess w({"--max-message-mb", "1"});
  ASSERT_TRUE(w.started()) << w.log();
  ConnectOptions o = WithToken("");
  // Not a protobuf at all.
  Status garbage = remote::CallRaw(w.target(), "Run", std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11), o);
  EXPECT_FALSE(garbage.ok());
  // A graph whose node reads value #99 of 0.
  std::string node = Bytes(2, "Relu") + Bytes(4, Varint(99));
  Status bad_graph = remote::CallRaw(w.target(), "Prepare", Bytes(1, Bytes(3, node)), o);
  EXPECT_EQ(bad_graph.code(), StatusCode::kInvalidArgument) << bad_graph.ToString();
  EXPECT_NE(bad_graph.message().find("out of range"), std::string::npos) << bad_graph.ToString();
  // A graph constant that claims [2^31, 2^31] floats but carries 4 bytes: refused, not allocated.
  std::string huge = Int(1, 1) + Bytes(2, Varint(1ull << 31) + Varint(1ull << 31)) + Bytes(3, "abcd");
  std::string value = Bytes(1, "w") + Int(2, 1) + Bytes(5, huge) + Int(6, 1);
  Status bad_tensor = remote::CallRaw(w.target(), "Prepare", Bytes(1, Bytes(2, value)), o);
  EXPECT_EQ(bad_tensor.code(), StatusCode::kInvalidArgument) << bad_tensor.ToString();
  // A blob chunk lying about its offset.
  Status bad_chunk = remote::CallRaw(w.target(), "PutBlob", Int(1, 7) + Int(2, 10) + Int(3, 8) + Bytes(4, "12345"), o);
  EXPECT_EQ(bad_chunk.code(), StatusCode::kInvalidArgument) << bad_chunk.ToString();
  // An input tile over the worker's message limit, sent by a client that does not check.
  std::string big_tensor = Int(1, 1) + Bytes(2, Varint(1) + Varint(600000)) + Bytes(3, std::string(2400000, 'x'));
  Status oversized = remote::CallRaw(w.target(), "Run", Int(1, 1) + Bytes(2, big_tensor), o);
  EXPECT_EQ(oversized.code(), StatusCode::kResourceExhausted) << oversized.ToString();
  // Without the protocol version metadata: refused as not a coordinator.
  ConnectOptions no_version = o;
  no_version.protocol_version = 0;
  EXPECT_FALSE(remote::CallRaw(w.target(), "Health", "", no_version).ok());

  EXPECT_TRUE(w.alive());
  auto client = remote::ConnectWorker(w.target(), o);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_TRUE((*client)->Health().ok());
}

TEST(RemoteWorkerTest, TlsWorkerServesTlsClientsOnly) {
  REQUIRE_REMOTE();
  std::string dir = ::testing::TempDir() + "/tutti-tls-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  std::string cert = dir + "/cert.pem", key = dir + "/key.pem";
  std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -addext "
                    "subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " + key + " -out " + cert + " >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "no openssl to make a test certificate";
  WorkerProcess w({"--tls-cert", cert, "--tls-key", key, "--token", "t"});
  ASSERT_TRUE(w.started()) << w.log();
  ConnectOptions o = WithToken("t");
  o.tls_ca_file = cert;
  o.tls_server_name = "localhost";
  auto tls = remote::ConnectWorker(w.target(), o);
  ASSERT_TRUE(tls.ok()) << tls.status().ToString();
  Graph g = ReluGraph({2, 3});
  auto part = (*tls)->Prepare(g);
  ASSERT_TRUE(part.ok()) << part.status().ToString();
  Tensor x = testing::RandomTensor({2, 3}, 4);
  std::vector<Tensor> out;
  ASSERT_TRUE((*tls)->Run(part->id, {&x, 1}, out).ok());
  for (int i = 0; i < 6; ++i) EXPECT_EQ(out[0].data<float>()[i], std::max(0.f, x.data<float>()[i]));
  // A plaintext client cannot talk to it.
  ConnectOptions plain = WithToken("t");
  plain.connect_timeout_ms = 1000;
  EXPECT_FALSE(remote::ConnectWorker(w.target(), plain).ok());
  EXPECT_TRUE(w.alive());
  std::filesystem::remove_all(dir);
}

TEST(RemoteWorkerTest, UnreachableWorkerFailsWithinTheConnectTimeout) {
  REQUIRE_REMOTE();
  ConnectOptions o = WithToken("");
  o.connect_timeout_ms = 500;
  auto t0 = std::chrono::steady_clock::now();
  auto c = remote::ConnectWorker("127.0.0.1:" + std::to_string(testing::UnusedLoopbackPort()), o);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnavailable);
  EXPECT_LT(ms, 15000);  // bounded (the connect timeout plus slack for a heavily loaded machine)
  EXPECT_FALSE(remote::ConnectWorker("no-port-here", o).ok());
}

TEST(RemoteWorkerTest, KilledOrFrozenWorkerIsNoticedWithinTheDeadline) {
  REQUIRE_REMOTE();
  Graph g = ReluGraph({1, 2, 8, 8});
  Tensor x = testing::RandomTensor({1, 2, 8, 8});
  std::vector<Tensor> out;
  ConnectOptions o = WithToken("");
  o.run_timeout_ms = 1500;
  {
    WorkerProcess w;
    ASSERT_TRUE(w.started()) << w.log();
    auto client = remote::ConnectWorker(w.target(), o);
    ASSERT_TRUE(client.ok());
    auto part = (*client)->Prepare(g);
    ASSERT_TRUE(part.ok());
    ASSERT_TRUE((*client)->Run(part->id, {&x, 1}, out).ok());
    w.Kill(SIGKILL);
    auto t0 = std::chrono::steady_clock::now();
    Status s = (*client)->Run(part->id, {&x, 1}, out);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_FALSE(s.ok());
    EXPECT_TRUE(s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded) << s.ToString();
    EXPECT_LT(ms, o.run_timeout_ms + 15000);  // bounded; slack for a heavily loaded machine
  }
  {
    WorkerProcess w;
    ASSERT_TRUE(w.started()) << w.log();
    auto client = remote::ConnectWorker(w.target(), o);
    ASSERT_TRUE(client.ok());
    auto part = (*client)->Prepare(g);
    ASSERT_TRUE(part.ok());
    ASSERT_TRUE(w.Freeze());  // cut off: the process is there, the socket open, nothing answers
    auto t0 = std::chrono::steady_clock::now();
    Status s = (*client)->Run(part->id, {&x, 1}, out);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded) << s.ToString();
    EXPECT_GE(ms, o.run_timeout_ms * 0.9);  // it waited for the deadline, not less
    EXPECT_LT(ms, o.run_timeout_ms + 15000);
    w.Signal(SIGCONT);
    EXPECT_TRUE((*client)->Health().ok());  // and it recovers once it answers again
  }
}

TEST(RemoteWorkerTest, RemoteBackendThroughTheRegistry) {
  REQUIRE_REMOTE();
  WorkerProcess w({"--token", "envtoken"});
  ASSERT_TRUE(w.started()) << w.log();
  setenv("TUTTI_REMOTE_TOKEN", "envtoken", 1);
  auto backend = CreateBackend("remote:" + w.target());
  unsetenv("TUTTI_REMOTE_TOKEN");
  ASSERT_TRUE(backend.ok()) << backend.status().ToString();
  EXPECT_EQ((*backend)->name(), "remote:" + w.target());
  Graph g = ReluGraph({3, 4});
  EXPECT_TRUE((*backend)->SupportsNode(g, g.node(0)));
  auto exe = (*backend)->Compile(g, {});
  ASSERT_TRUE(exe.ok()) << exe.status().ToString();
  Tensor x = testing::RandomTensor({3, 4}, 3);
  // In-place contract: a defined output of the right shape is written, not replaced.
  std::vector<Tensor> out = {Tensor::Zeros(DataType::kFloat32, {3, 4}).value()};
  Tensor keep = out[0];
  ASSERT_TRUE((*exe)->Run({&x, 1}, out).ok());
  EXPECT_TRUE(out[0].SharesStorageWith(keep));
  for (int64_t i = 0; i < 12; ++i) EXPECT_EQ(keep.data<float>()[i], std::max(0.f, x.data<float>()[i]));

  EXPECT_FALSE(CreateBackend("remote:nonsense").ok());
}

// Issue 7: "a remote device is a processor like any other in the engine config". A config naming
// a worker next to the local CPU registers a model, places it on the worker (fixed scheduler) and
// returns what the local CPU computes.
TEST(RemoteWorkerTest, RemoteProcessorInAnEngineConfig) {
  REQUIRE_REMOTE();
  WorkerProcess w({"--threads", "1"});
  ASSERT_TRUE(w.started()) << w.log();
  auto config = EngineConfigFromJson(nlohmann::json::parse(R"({
      "processors": [{"name": "cpu", "device": "cpu"}, {"name": "board", "device": "remote:)" + w.target() + R"("}],
      "scheduler": {"name": "fixed", "fixed": {"relu": "board"}},
      "profile": {"offline": false}})"));
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  auto engine = Engine::Create(*config);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  EXPECT_EQ((*engine)->processors()[1]->spec().MemoryDomain(), "remote:" + w.target());  // transfers are counted
  Graph g = ReluGraph({1, 3, 6, 5});
  auto m = (*engine)->RegisterModel(g, "relu");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  Tensor x = testing::RandomTensor({1, 3, 6, 5}, 11);
  auto r = (*engine)->Submit(*m, {x}).get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->tensors.size(), 1u);
  for (int64_t i = 0; i < x.num_elements(); ++i)
    ASSERT_EQ(r->tensors[0].data<float>()[i], std::max(0.f, x.data<float>()[i])) << i;
  EngineStats stats = (*engine)->stats();
  ASSERT_EQ(stats.processors.size(), 2u);
  EXPECT_EQ(stats.processors[1].stages, 1u) << "the request ran on the worker";
  auto health = remote::ConnectWorker(w.target(), WithToken(""));
  ASSERT_TRUE(health.ok());
  auto h = (*health)->Health();
  ASSERT_TRUE(h.ok());
  EXPECT_GE(h->runs_served, 1);
  EXPECT_TRUE((*engine)->Shutdown().ok());

  // An unreachable worker in a config is a clear error naming the processor.
  auto dead = EngineConfigFromJson(nlohmann::json::parse(
      R"({"processors": [{"name": "gone", "device": "remote:127.0.0.1:)" +
      std::to_string(testing::UnusedLoopbackPort()) + R"("}]})"));
  ASSERT_TRUE(dead.ok());
  setenv("TUTTI_REMOTE_CONNECT_TIMEOUT_MS", "500", 1);
  auto none = Engine::Create(*dead);
  unsetenv("TUTTI_REMOTE_CONNECT_TIMEOUT_MS");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("gone"), std::string::npos) << none.status().ToString();
}

TEST(RemoteWorkerTest, WorkerRejectsBadFlagsWithOneLine) {
  std::string cmd = std::string(TUTTI_CLI_PATH) + " worker --listen 127.0.0.1:0 --cores 3-1 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[512] = {0};
  size_t n = fread(buf, 1, sizeof buf - 1, p);
  int rc = pclose(p);
  std::string out(buf, n);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("--cores"), std::string::npos) << out;
}

}  // namespace
}  // namespace tutti
