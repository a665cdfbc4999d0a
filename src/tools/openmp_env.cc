#include "tools/openmp_env.h"

#include <unistd.h>

#include <cstdlib>

namespace tutti::cli {

void ChooseOpenMpWaitPolicy(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) return;
  if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
  execv("/proc/self/exe", argv);
  unsetenv("OMP_WAIT_POLICY");  // exec failed: keep running as we are, with the default policy
}

}  // namespace tutti::cli
