// Reading a JSON object into a config struct whose defaults live in the struct: each call reads
// one optional field, checks its type and range, and keeps the first error, which names the full
// field path ("processors[1].threads must be an integer in [1, 1024]"). Finish() reports fields
// nobody read, so a typo in a config is an error instead of a silently ignored setting.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"

namespace tutti {

class JsonFields {
 public:
  // `path` names the object in messages: "engine config", "models[2]"; "" for a file's top level.
  JsonFields(const nlohmann::json& object, std::string path);

  bool Has(const std::string& key) const;
  void Int(const std::string& key, int64_t& out, int64_t min, int64_t max);
  void Int(const std::string& key, int& out, int min, int max);
  void Double(const std::string& key, double& out, double min, double max);
  void Bool(const std::string& key, bool& out);
  void String(const std::string& key, std::string& out);
  void StringList(const std::string& key, std::vector<std::string>& out);
  // The field's JSON if present and of the given kind ("object"/"array"), else null (an error
  // when present with another kind).
  const nlohmann::json* Object(const std::string& key);
  const nlohmann::json* Array(const std::string& key);
  // "path.key" for nested readers ("key" at the top level, where path is "").
  std::string Path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  // Records an error about a field unless one is already recorded.
  void Fail(const std::string& key, const std::string& what);
  void Fail(const Status& status) { if (status_.ok() && !status.ok()) status_ = status; }

  // The first error, or the first unknown field.
  Status Finish();

 private:
  const nlohmann::json* Get(const std::string& key);
  const nlohmann::json& object_;
  std::string path_;
  std::set<std::string> read_;
  Status status_;
};

// Parses a whole JSON text; errors name `what` (a file name) and the position.
Result<nlohmann::json> ParseJsonText(const std::string& text, const std::string& what);
Result<nlohmann::json> ReadJsonFile(const std::string& path);

}  // namespace tutti
