// The tutti command line: `tutti COMMAND [args]`. Each command lives in its own file here.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "tools/command.h"
#include "tools/openmp_env.h"

namespace {
void PrintHelp() {
  std::printf("tutti: DNN inference on every processor at once\n\nusage: tutti COMMAND [options]\n\ncommands:\n");
  for (const auto& [name, c] : tutti::cli::Commands()) std::printf("  %-11s %s\n", name.c_str(), c.summary.c_str());
  std::printf("\n`tutti COMMAND --help` shows a command's options.\n");
}
}  // namespace

int main(int argc, char** argv) {
  tutti::cli::ChooseOpenMpWaitPolicy(argv);
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    PrintHelp();
    return argc < 2 ? 2 : 0;
  }
  const auto& commands = tutti::cli::Commands();
  auto it = commands.find(argv[1]);
  if (it == commands.end()) {
    std::fprintf(stderr, "tutti: error: unknown command '%s' (see tutti --help)\n", argv[1]);
    return 2;
  }
  for (int i = 2; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::printf("%s\n", it->second.usage.c_str());
      return 0;
    }
  }
  auto args = tutti::cli::Args::Parse(argc - 2, argv + 2, {"json", "verbose", "quiet", "no-optimize", "help", "ops", "baselines", "energy-first", "calibrate"});
  if (!args.ok()) return tutti::cli::ReportError(args.status());
  // Anything that escapes a command (std::filesystem, allocation) is still the one-line error every
  // failure must be, never std::terminate.
  try {
    return it->second.run(*args);
  } catch (const std::exception& e) {
    return tutti::cli::ReportError(tutti::Internal("unexpected error: ", e.what()));
  } catch (...) {
    return tutti::cli::ReportError(tutti::Internal("unexpected error"));
  }
}
