// CLI subcommands register themselves here, one file each (info.cc, run.cc, bench.cc, ...), so
// adding a command touches one file. main.cc dispatches on argv[1].
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace tutti::cli {

// Flags in the style of onnxruntime_perf_test / trtexec: `--name value`, `--name=value`, `--flag`.
// Positional arguments are kept in order. Every flag a command reads is checked off, so unknown
// flags are reported instead of silently ignored.
class Args {
 public:
  // `boolean_flags` take no value (e.g. {"json", "verbose"}).
  static Result<Args> Parse(int argc, char** argv, const std::vector<std::string>& boolean_flags);

  const std::vector<std::string>& positional() const { return positional_; }
  bool Has(const std::string& name);
  std::optional<std::string> Get(const std::string& name);
  std::vector<std::string> GetAll(const std::string& name);  // repeated flags (--input a --input b)
  std::string GetOr(const std::string& name, const std::string& dflt);
  Result<int64_t> GetInt(const std::string& name, int64_t dflt, int64_t min, int64_t max);
  // Error naming the first flag no command read (call after reading all flags).
  Status CheckAllUsed() const;

 private:
  std::vector<std::string> positional_;
  std::multimap<std::string, std::string> flags_;
  std::map<std::string, bool> used_;
};

struct Command {
  std::string name;
  std::string summary;  // one line for `tutti --help`
  std::string usage;    // full usage text for `tutti NAME --help`
  int (*run)(Args& args);  // exit code: 0 ok, 1 runtime failure, 2 usage error
};

void RegisterCommand(Command command);
const std::map<std::string, Command>& Commands();

struct CommandRegistrar {
  explicit CommandRegistrar(Command c) { RegisterCommand(std::move(c)); }
};

// Prints "tutti: error: message" as one line on stderr and returns the exit code for the status
// (2 for an unknown flag, 1 otherwise). Every command failure goes through here.
int ReportError(const Status& status);
// The same; `command` is not printed (kept so that commands written against it still build).
inline int ReportError(const std::string& command, const Status& status) { return ReportError(status); }

}  // namespace tutti::cli

#define TUTTI_REGISTER_COMMAND(...) \
  static ::tutti::cli::CommandRegistrar TUTTI_CONCAT(tutti_command_, __COUNTER__)(::tutti::cli::Command{__VA_ARGS__})
