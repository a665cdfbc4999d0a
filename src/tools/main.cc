// The tutti command line. Each subcommand lives in its own file in this folder and registers here.
#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  std::printf("tutti: no subcommands yet\n");
  return argc > 1 ? 2 : 0;
}
