// The Chrome trace writer: one named track per processor, one slice per stage (pieces of a fallback
// chain named by their units), copies as their own "copy" slices with the bytes moved, and an
// unwritable path as an error naming it.
#include "engine/trace.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

namespace tutti {
namespace {

TEST(ChromeTrace, TracksStagesAndCopies) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("tutti_trace_test_" + std::to_string(getpid()) + ".json")).string();
  std::vector<TraceEvent> events = {
      {TraceEvent::kStage, 0, 7, "resnet", "whole model", 100, 300, true},
      {TraceEvent::kStage, 1, 8, "mobilenet", "units 0-2", 150, 400, true},  // then units 2-3 on cpu0
      {TraceEvent::kCopyIn, 1, 8, "mobilenet", "", 150, 170, true, 602112},
      {TraceEvent::kCopyOut, 1, 8, "mobilenet", "", 390, 400, true, 4000},
      {TraceEvent::kStage, 0, 9, "resnet", "whole model", 300, 310, false},
      {TraceEvent::kStage, 0, 8, "mobilenet", "units 2-3", 410, 450, true},
  };
  ASSERT_TRUE(WriteChromeTrace(events, {"cpu0", "cuda:0"}, path).ok());
  std::ifstream in(path);
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  std::filesystem::remove(path);
  ASSERT_FALSE(j.is_discarded());
  std::map<int, std::string> tracks;
  std::vector<nlohmann::json> slices, flow_starts, flow_ends;
  for (const auto& e : j["traceEvents"]) {
    if (e["ph"] == "M" && e["name"] == "thread_name") tracks[e["tid"].get<int>()] = e["args"]["name"];
    if (e["ph"] == "X") slices.push_back(e);
    if (e["ph"] == "s") flow_starts.push_back(e);
    if (e["ph"] == "f") flow_ends.push_back(e);
  }
  // One arrow: request 8's first stage (cuda:0 track) to its second (cpu0 track).
  ASSERT_EQ(flow_starts.size(), 1u);
  ASSERT_EQ(flow_ends.size(), 1u);
  EXPECT_EQ(flow_starts[0]["id"], flow_ends[0]["id"]);
  EXPECT_EQ(flow_starts[0]["tid"], 1);
  EXPECT_EQ(flow_starts[0]["ts"], 150);
  EXPECT_EQ(flow_ends[0]["tid"], 0);
  EXPECT_EQ(flow_ends[0]["ts"], 410);
  EXPECT_EQ(tracks, (std::map<int, std::string>{{0, "cpu0"}, {1, "cuda:0"}}));
  ASSERT_EQ(slices.size(), events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    SCOPED_TRACE(slices[i].dump());
    EXPECT_EQ(slices[i]["tid"], events[i].processor);
    EXPECT_EQ(slices[i]["ts"], events[i].start_us);
    EXPECT_EQ(slices[i]["dur"], events[i].end_us - events[i].start_us);
    EXPECT_EQ(slices[i]["args"]["request"], events[i].request_id);
  }
  EXPECT_EQ(slices[0]["name"], "resnet");
  EXPECT_EQ(slices[0]["cat"], "subgraph");
  EXPECT_EQ(slices[1]["name"], "mobilenet [units 0-2]");
  EXPECT_EQ(slices[2]["cat"], "copy");
  EXPECT_EQ(slices[2]["name"], "copy in");
  EXPECT_EQ(slices[2]["args"]["bytes"], 602112);
  EXPECT_EQ(slices[2]["args"]["estimated"], true);
  EXPECT_EQ(slices[3]["name"], "copy out");
  EXPECT_EQ(slices[4]["cat"], "failed");
}

TEST(ChromeTrace, UnwritablePathIsAnErrorNamingIt) {
  Status s = WriteChromeTrace({}, {"cpu0"}, "/nonexistent-dir/trace.json");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/nonexistent-dir/trace.json"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace tutti
