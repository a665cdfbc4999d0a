#include "tools/command.h"

#include <cstdio>
#include <cstdlib>

namespace tutti::cli {

Result<Args> Args::Parse(int argc, char** argv, const std::vector<std::string>& boolean_flags) {
  Args a;
  for (int i = 0; i < argc; ++i) {
    std::string s = argv[i];
    if (s.rfind("--", 0) != 0 || s == "--") {
      a.positional_.push_back(s);
      continue;
    }
    std::string name = s.substr(2), value;
    size_t eq = name.find('=');
    bool boolean = false;
    for (const auto& b : boolean_flags) boolean |= (b == name);
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (boolean) {
      value = "1";
    } else {
      if (i + 1 >= argc) return InvalidArgument("flag --", name, " needs a value");
      value = argv[++i];
    }
    a.flags_.emplace(name, value);
    a.used_[name] = false;
  }
  return a;
}

bool Args::Has(const std::string& name) {
  if (!flags_.count(name)) return false;
  used_[name] = true;
  return true;
}

std::optional<std::string> Args::Get(const std::string& name) {
  auto it = flags_.find(name);
  if (it == flags_.end()) return std::nullopt;
  used_[name] = true;
  return it->second;
}

std::vector<std::string> Args::GetAll(const std::string& name) {
  std::vector<std::string> v;
  auto [b, e] = flags_.equal_range(name);
  for (auto it = b; it != e; ++it) v.push_back(it->second);
  if (b != e) used_[name] = true;
  return v;
}

std::string Args::GetOr(const std::string& name, const std::string& dflt) {
  auto v = Get(name);
  return v ? *v : dflt;
}

Result<int64_t> Args::GetInt(const std::string& name, int64_t dflt, int64_t min, int64_t max) {
  auto v = Get(name);
  if (!v) return dflt;
  char* end = nullptr;
  errno = 0;
  long long x = std::strtoll(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0' || errno == ERANGE)
    return InvalidArgument("--", name, " expects an integer, got '", *v, "'");
  if (x < min || x > max) return InvalidArgument("--", name, " must be between ", min, " and ", max, ", got ", x);
  return static_cast<int64_t>(x);
}

Status Args::CheckAllUsed() const {
  for (const auto& [name, used] : used_)
    if (!used) return InvalidArgument("unknown flag --", name);
  return Status::Ok();
}

namespace {
std::map<std::string, Command>& Registry() {
  static std::map<std::string, Command> r;
  return r;
}
}  // namespace

void RegisterCommand(Command command) { Registry()[command.name] = std::move(command); }
const std::map<std::string, Command>& Commands() { return Registry(); }

int ReportError(const Status& status) {
  std::string msg = status.message();
  for (char& c : msg)
    if (c == '\n') c = ' ';  // one line, always
  std::fprintf(stderr, "tutti: error: %s\n", msg.c_str());
  return status.code() == StatusCode::kInvalidArgument && msg.rfind("unknown flag", 0) == 0 ? 2 : 1;
}

}  // namespace tutti::cli
