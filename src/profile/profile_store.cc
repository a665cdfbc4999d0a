#include "profile/profile_store.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace tutti {

Result<ProfileStore> ProfileStore::Load(const std::string& path) {
  ProfileStore store;
  if (!std::filesystem::exists(path)) return store;
  std::ifstream in(path);
  if (!in) return NotFound("cannot read profile file '", path, "'");
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  auto bad = [&](const std::string& what) { return InvalidArgument("profile file '", path, "': ", what); };
  if (j.is_discarded()) return bad("not valid JSON");
  if (!j.is_object() || j.value("format", "") != "tutti-profile") return bad("field 'format' must be \"tutti-profile\"");
  if (!j.contains("entries") || !j["entries"].is_array()) return bad("field 'entries' must be an array");
  size_t i = 0;
  for (const auto& e : j["entries"]) {
    std::string where = StrCat("entries[", i++, "]");
    if (!e.is_object()) return bad(where + " must be an object");
    for (const char* f : {"model", "subgraph", "processor"})
      if (!e.contains(f) || !e[f].is_string()) return bad(StrCat(where, ".", f, " must be a string"));
    if (!e.contains("latency_us") || !e["latency_us"].is_number() || e["latency_us"].get<double>() < 0)
      return bad(where + ".latency_us must be a non-negative number");
    ProfileEntry entry{e["latency_us"].get<double>(), e.value("samples", 1)};
    store.Put({e["model"].get<std::string>(), e["subgraph"].get<std::string>(), e["processor"].get<std::string>()}, entry);
  }
  return store;
}

Status ProfileStore::Save(const std::string& path) const {
  nlohmann::json entries = nlohmann::json::array();
  for (const auto& [key, e] : entries_)
    entries.push_back({{"model", std::get<0>(key)}, {"subgraph", std::get<1>(key)}, {"processor", std::get<2>(key)},
                       {"latency_us", e.latency_us}, {"samples", e.samples}});
  nlohmann::json j = {{"format", "tutti-profile"}, {"version", 1}, {"entries", entries}};
  // Write beside and rename, so a crash never leaves a half-written profile behind.
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) return Unavailable("cannot write profile file '", path, "'");
    out << j.dump(1) << "\n";
    if (!out) return Unavailable("cannot write profile file '", path, "'");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return Unavailable("cannot replace profile file '", path, "'");
  return Status::Ok();
}

std::string ProfileStore::ModelKey(uint64_t fingerprint) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(fingerprint));
  return buf;
}

std::string ProfileStore::SubgraphKey(int first_unit, int end_unit) { return StrCat(first_unit, "-", end_unit); }

const ProfileEntry* ProfileStore::Find(const Key& key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : &it->second;
}

}  // namespace tutti
