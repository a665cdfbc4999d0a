// Split requests (RequestSplit::kBatch, issue 5): one batch over the engine's processors as shares.
// The output must equal the single-processor Session run of the whole batch, bit for bit (every
// processor here is a CPU and the graphs are row-wise), for uneven and explicit splits; a share
// whose processor fails is re-run elsewhere; and every request still ends exactly once.
#include <gtest/gtest.h>

#include <numeric>
#include <set>

#include "engine/engine.h"
#include "engine_test_support.h"
#include "partition/batch_split.h"
#include "profile/profile_store.h"
#include "support/test_support.h"
#include "test_graphs.h"

namespace tutti {
namespace {

using testing::BitEqual;
using testing::ChainGraph;
using testing::Cpu;
using testing::ExpectCountsAddUp;
using testing::MakeFaulty;
using testing::RandomTensor;
using testing::Reference;

EngineConfig TwoCpus() {
  EngineConfig c;
  c.processors = {Cpu("cpu0"), Cpu("cpu1")};
  c.scheduler.name = "heft";
  c.profiler.timed_runs = 1;
  c.profiler.warmup_runs = 0;
  c.record_trace = true;
  return c;
}

RequestOptions Split(std::vector<int64_t> shares = {}, BatchSplitSearch search = BatchSplitSearch::kGreedy) {
  RequestOptions o;
  o.split = RequestSplit::kBatch;
  o.batch_split.search = search;
  o.batch_split.shares = std::move(shares);
  return o;
}

Graph RowWise() { return ChainGraph({"Relu", "AddScalar:0.5", "Relu", "AddScalar:-0.75"}, 16, "m"); }

TEST(SplitRequest, ExplicitUnevenSharesEqualTheSingleProcessorRun) {
  auto engine = Engine::Create(TwoCpus());
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  Graph g = RowWise();
  auto m = (*engine)->RegisterModel(g, "m");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  const std::vector<std::vector<int64_t>> cases = {{6, 1}, {1, 6}, {3, 4}, {7, 0}, {0, 7}, {1, 1}};
  uint32_t seed = 1;
  for (const auto& shares : cases) {
    const int64_t batch = std::accumulate(shares.begin(), shares.end(), int64_t{0});
    Tensor x = RandomTensor({batch, 16}, seed++);
    auto r = (*engine)->Submit(*m, {x}, Split(shares)).get();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->tensors.size(), 1u);
    EXPECT_TRUE(BitEqual(r->tensors[0], Reference(g, x))) << "shares " << shares[0] << "+" << shares[1];
    // The plan is the one asked for: a share per non-zero entry, on that processor, in row order.
    std::vector<int64_t> planned(2, 0);
    for (const BatchShare& s : r->split.shares) planned[static_cast<size_t>(s.processor)] = s.items;
    EXPECT_EQ(planned, shares);
    EXPECT_EQ(r->stages, static_cast<int>(r->split.shares.size()));
  }
  // Every share ran as a stage of its own, on its processor, under the request's id.
  std::vector<TraceEvent> trace = (*engine)->TakeTrace();
  std::set<int> used;
  int shares = 0;
  for (const TraceEvent& e : trace) {
    if (e.subgraph.rfind("batch share", 0) != 0) continue;
    ++shares;
    used.insert(e.processor);
  }
  EXPECT_EQ(shares, 10);  // two per two-sided case, one per one-sided case
  EXPECT_EQ(used, (std::set<int>{0, 1}));
  EngineStats s = (*engine)->stats();
  EXPECT_EQ(s.submitted, cases.size());
  EXPECT_EQ(s.completed, cases.size());
  ExpectCountsAddUp(s);
  EXPECT_EQ(s.processors[0].stages + s.processors[1].stages, 10u);
}

TEST(SplitRequest, PlannedSplitsCoverEveryRow) {
  for (int64_t max_batch : {0, 8}) {  // tables seeded from the estimate, or swept at registration
    EngineConfig c = TwoCpus();
    c.batch_split_max_batch = max_batch;
    auto engine = Engine::Create(c);
    ASSERT_TRUE(engine.ok());
    Graph g = RowWise();
    auto m = (*engine)->RegisterModel(g, "m");
    ASSERT_TRUE(m.ok());
    for (BatchSplitSearch search : {BatchSplitSearch::kGreedy, BatchSplitSearch::kExact}) {
      for (int64_t batch : {1, 5, 7, 13}) {
        Tensor x = RandomTensor({batch, 16}, static_cast<uint32_t>(batch));
        auto r = (*engine)->Submit(*m, {x}, Split({}, search)).get();
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        EXPECT_TRUE(BitEqual(r->tensors[0], Reference(g, x))) << "batch " << batch;
        int64_t next = 0;
        for (const BatchShare& s : r->split.shares) {
          EXPECT_EQ(s.offset, next);
          next += s.items;
        }
        EXPECT_EQ(next, batch);
      }
    }
    ExpectCountsAddUp((*engine)->stats());
  }
}

TEST(SplitRequest, AFailingProcessorsShareIsRerunElsewhere) {
  RegisterBackendFactory("faulty", &MakeFaulty);
  for (int retries : {1, 0}) {
    EngineConfig c = TwoCpus();
    ProcessorSpec bad = Cpu("broken");
    bad.device = "faulty";
    c.processors = {bad, Cpu("cpu0")};
    c.max_retries = retries;
    auto engine = Engine::Create(c);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    Graph g = RowWise();
    auto m = (*engine)->RegisterModel(g, "m");
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    Tensor x = RandomTensor({7, 16}, 11);
    auto r = (*engine)->Submit(*m, {x}, Split({3, 4})).get();
    EngineStats s = (*engine)->stats();
    ExpectCountsAddUp(s);
    EXPECT_EQ(s.submitted, 1u);
    if (retries == 1) {
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_TRUE(BitEqual(r->tensors[0], Reference(g, x)));
      EXPECT_EQ(s.completed, 1u);
      EXPECT_EQ(s.retried, 1u);
      EXPECT_EQ(s.processors[1].stages, 2u);  // its own share and the broken processor's
    } else {
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.status().code(), StatusCode::kDeviceError);
      EXPECT_NE(r.status().message().find("broken"), std::string::npos) << r.status().message();
      EXPECT_NE(r.status().message().find("items 0-2"), std::string::npos) << r.status().message();
      EXPECT_EQ(s.failed, 1u);
    }
  }
}

TEST(SplitRequest, InterleavesWithOtherRequestsFromManyThreads) {
  EngineConfig c = TwoCpus();
  c.work_stealing = true;
  auto engine = Engine::Create(c);
  ASSERT_TRUE(engine.ok());
  Graph a = RowWise();
  Graph b = ChainGraph({"SpinAdd:300:1", "Relu"}, 8, "b");
  auto ma = (*engine)->RegisterModel(a, "a");
  auto mb = (*engine)->RegisterModel(b, "b");
  ASSERT_TRUE(ma.ok() && mb.ok());
  // Split requests of model a and plain ones of model b (300 us stages) on the same workers.
  testing::ExpectConcurrentRequestsMatch(**engine, 4, 10, [&](int t, int i) {
    const auto seed = static_cast<uint32_t>(t * 100 + i);
    if ((i + t) % 2 == 0) return testing::ConcurrentRequest{*ma, RandomTensor({2 + (i % 6), 16}, seed), &a, Split()};
    return testing::ConcurrentRequest{*mb, RandomTensor({1, 8}, seed), &b, {}};
  });
}

TEST(SplitRequest, BadSplitsFailThatRequestWithAReason) {
  EngineConfig c = TwoCpus();
  c.processors.push_back(Cpu("npu", {"AddScalar"}));  // cannot run the whole model: never gets a share
  auto engine = Engine::Create(c);
  ASSERT_TRUE(engine.ok());
  auto m = (*engine)->RegisterModel(RowWise(), "m");
  ASSERT_TRUE(m.ok());
  Tensor x = RandomTensor({4, 16}, 3);
  auto short_shares = (*engine)->Submit(*m, {x}, Split({1, 2, 0})).get();
  EXPECT_EQ(short_shares.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(short_shares.status().message().find("cover 3 items"), std::string::npos) << short_shares.status().message();
  auto wrong_count = (*engine)->Submit(*m, {x}, Split({4})).get();
  EXPECT_EQ(wrong_count.status().code(), StatusCode::kInvalidArgument);
  auto on_npu = (*engine)->Submit(*m, {x}, Split({2, 0, 2})).get();
  EXPECT_EQ(on_npu.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(on_npu.status().message().find("npu"), std::string::npos) << on_npu.status().message();
  auto bad_input = (*engine)->Submit(*m, {RandomTensor({4, 15}, 1)}, Split()).get();
  EXPECT_EQ(bad_input.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_input.status().message().find("'x'"), std::string::npos) << bad_input.status().message();
  auto no_model = (*engine)->Submit(42, {x}, Split()).get();
  EXPECT_EQ(no_model.status().code(), StatusCode::kNotFound);
  // A planned split leaves the processor that lacks an operator out.
  auto planned = (*engine)->Submit(*m, {x}, Split()).get();
  ASSERT_TRUE(planned.ok()) << planned.status().ToString();
  for (const BatchShare& s : planned->split.shares) EXPECT_NE(s.processor, 2);
  EngineStats s = (*engine)->stats();
  EXPECT_EQ(s.failed, 5u);
  EXPECT_EQ(s.completed, 1u);
  ExpectCountsAddUp(s);
}

TEST(SplitRequest, SweptBatchTablesArePersistedAndReused) {
  std::string path = ::testing::TempDir() + "/tutti_engine_split_profile.json";
  std::remove(path.c_str());
  Graph g = RowWise();
  std::string processor_key;
  {
    EngineConfig c = TwoCpus();
    c.profile_file = path;
    c.batch_split_max_batch = 4;
    auto engine = Engine::Create(c);
    ASSERT_TRUE(engine.ok());
    ASSERT_TRUE((*engine)->RegisterModel(g, "m").ok());
    processor_key = (*engine)->processors()[0]->spec().ProfileKey();
    ASSERT_TRUE((*engine)->Shutdown().ok());
  }
  auto store = ProfileStore::Load(path);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto table = FindBatchTable(*store, ProfileStore::ModelKey(g.Fingerprint()), processor_key);
  ASSERT_TRUE(table.has_value());
  std::set<int64_t> sizes;
  for (const auto& [b, us] : table->points()) sizes.insert(b);
  std::vector<int64_t> expected = BatchProfileSizes(4);
  EXPECT_EQ(sizes, std::set<int64_t>(expected.begin(), expected.end()));
}

}  // namespace
}  // namespace tutti
