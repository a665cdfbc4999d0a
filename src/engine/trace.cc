#include "engine/trace.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <map>

namespace tutti {

Status WriteChromeTrace(const std::vector<TraceEvent>& events, const std::vector<std::string>& processor_names,
                        const std::string& path) {
  nlohmann::json out = nlohmann::json::array();
  for (size_t p = 0; p < processor_names.size(); ++p) {
    out.push_back({{"ph", "M"}, {"name", "thread_name"}, {"pid", 1}, {"tid", p}, {"args", {{"name", processor_names[p]}}}});
    out.push_back({{"ph", "M"}, {"name", "thread_sort_index"}, {"pid", 1}, {"tid", p}, {"args", {{"sort_index", p}}}});
  }
  out.push_back({{"ph", "M"}, {"name", "process_name"}, {"pid", 1}, {"args", {{"name", "tutti engine"}}}});
  for (const TraceEvent& e : events) {
    if (e.kind != TraceEvent::kStage) {
      out.push_back({{"ph", "X"}, {"pid", 1}, {"tid", e.processor}, {"ts", e.start_us}, {"dur", e.end_us - e.start_us},
                     {"name", e.kind == TraceEvent::kCopyIn ? "copy in" : "copy out"}, {"cat", "copy"},
                     {"args", {{"request", e.request_id}, {"model", e.model}, {"bytes", e.bytes}, {"estimated", true}}}});
      continue;
    }
    out.push_back({{"ph", "X"}, {"pid", 1}, {"tid", e.processor}, {"ts", e.start_us}, {"dur", e.end_us - e.start_us},
                   {"name", e.model + (e.subgraph == "whole model" ? "" : " [" + e.subgraph + "]")},
                   {"cat", e.ok ? "subgraph" : "failed"},
                   {"args", {{"request", e.request_id}, {"subgraph", e.subgraph}, {"ok", e.ok}}}});
  }
  // Flow arrows along each fallback chain: from a request's stage to its next stage, which may be
  // on another processor's track (events of one request are recorded in the order they ran).
  std::map<uint64_t, const TraceEvent*> last_stage;
  uint64_t flow = 0;
  for (const TraceEvent& e : events) {
    if (e.kind != TraceEvent::kStage) continue;
    auto [it, first] = last_stage.try_emplace(e.request_id, &e);
    if (first) continue;
    const TraceEvent& prev = *it->second;
    ++flow;
    out.push_back({{"ph", "s"}, {"id", flow}, {"pid", 1}, {"tid", prev.processor}, {"ts", prev.start_us},
                   {"name", "request " + std::to_string(e.request_id)}, {"cat", "chain"}});
    out.push_back({{"ph", "f"}, {"bp", "e"}, {"id", flow}, {"pid", 1}, {"tid", e.processor}, {"ts", e.start_us},
                   {"name", "request " + std::to_string(e.request_id)}, {"cat", "chain"}});
    it->second = &e;
  }
  std::ofstream f(path);
  if (!f) return Unavailable("cannot write trace file '", path, "'");
  f << nlohmann::json{{"traceEvents", out}, {"displayTimeUnit", "ms"}}.dump() << "\n";
  if (!f) return Unavailable("cannot write trace file '", path, "'");
  return Status::Ok();
}

}  // namespace tutti
