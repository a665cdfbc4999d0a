#include "engine/json_fields.h"

#include <fstream>
#include <sstream>

namespace tutti {

JsonFields::JsonFields(const nlohmann::json& object, std::string path) : object_(object), path_(std::move(path)) {
  if (!object_.is_object()) status_ = InvalidArgument(path_.empty() ? "the config" : path_, " must be a JSON object");
}

bool JsonFields::Has(const std::string& key) const { return object_.is_object() && object_.contains(key); }

const nlohmann::json* JsonFields::Get(const std::string& key) {
  read_.insert(key);
  if (!status_.ok() || !Has(key)) return nullptr;
  return &object_.at(key);
}

void JsonFields::Fail(const std::string& key, const std::string& what) {
  if (status_.ok()) status_ = InvalidArgument("field '", Path(key), "' ", what);
}

void JsonFields::Int(const std::string& key, int64_t& out, int64_t min, int64_t max) {
  const nlohmann::json* j = Get(key);
  if (!j) return;
  if (!j->is_number_integer() || j->get<int64_t>() < min || j->get<int64_t>() > max)
    return Fail(key, StrCat("must be an integer in [", min, ", ", max, "], got ", j->dump()));
  out = j->get<int64_t>();
}

void JsonFields::Int(const std::string& key, int& out, int min, int max) {
  int64_t v = out;
  Int(key, v, min, max);
  out = static_cast<int>(v);
}

void JsonFields::Double(const std::string& key, double& out, double min, double max) {
  const nlohmann::json* j = Get(key);
  if (!j) return;
  if (!j->is_number() || j->get<double>() < min || j->get<double>() > max)
    return Fail(key, StrCat("must be a number in [", min, ", ", max, "], got ", j->dump()));
  out = j->get<double>();
}

void JsonFields::Bool(const std::string& key, bool& out) {
  const nlohmann::json* j = Get(key);
  if (!j) return;
  if (!j->is_boolean()) return Fail(key, "must be true or false, got " + j->dump());
  out = j->get<bool>();
}

void JsonFields::String(const std::string& key, std::string& out) {
  const nlohmann::json* j = Get(key);
  if (!j) return;
  if (!j->is_string()) return Fail(key, "must be a string, got " + j->dump());
  out = j->get<std::string>();
}

void JsonFields::StringList(const std::string& key, std::vector<std::string>& out) {
  const nlohmann::json* j = Get(key);
  if (!j) return;
  if (!j->is_array()) return Fail(key, "must be an array of strings, got " + j->dump());
  std::vector<std::string> values;
  for (const auto& e : *j) {
    if (!e.is_string()) return Fail(key, "must be an array of strings, got " + j->dump());
    values.push_back(e.get<std::string>());
  }
  out = std::move(values);
}

const nlohmann::json* JsonFields::Object(const std::string& key) {
  const nlohmann::json* j = Get(key);
  if (j && !j->is_object()) {
    Fail(key, "must be an object, got " + j->dump());
    return nullptr;
  }
  return j;
}

const nlohmann::json* JsonFields::Array(const std::string& key) {
  const nlohmann::json* j = Get(key);
  if (j && !j->is_array()) {
    Fail(key, "must be an array, got " + j->dump());
    return nullptr;
  }
  return j;
}

Status JsonFields::Finish() {
  if (!status_.ok() || !object_.is_object()) return status_;
  for (const auto& [key, value] : object_.items())
    if (!read_.count(key)) return InvalidArgument("unknown field '", Path(key), "'");
  return Status::Ok();
}

Result<nlohmann::json> ParseJsonText(const std::string& text, const std::string& what) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // e.what() carries "parse error at line L, column C: ..."
    return InvalidArgument(what, ": not valid JSON: ", e.what());
  }
}

Result<nlohmann::json> ReadJsonFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound("cannot read '", path, "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseJsonText(ss.str(), path);
}

}  // namespace tutti
