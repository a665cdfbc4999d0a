// Runs the `tutti` binary for end-to-end CLI tests: captures stdout and stderr, reports a signal
// or a hang (killed after a timeout) instead of hanging the test.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace tutti::testing {

struct CliResult {
  int exit_code = -1;   // valid when !signaled && !timed_out
  int signal = 0;       // the signal that killed it, if any
  bool timed_out = false;
  std::string out, err;
};

// Runs the binary with `args`, capturing stdout and stderr; kills it after `timeout_s`.
inline CliResult RunCli(const std::vector<std::string>& args, int timeout_s = 120) {
  CliResult r;
  int out_pipe[2], err_pipe[2];
  if (pipe(out_pipe) != 0 || pipe(err_pipe) != 0) return r;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    close(out_pipe[0]);
    close(err_pipe[0]);
    std::vector<char*> argv;
    std::string bin = TUTTI_CLI_PATH;
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[4096];
  while (open_fds > 0) {
    int left_ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
    if (left_ms <= 0) {
      r.timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    if (poll(fds, 2, left_ms) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) close(f.fd);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status) && !r.timed_out) r.signal = WTERMSIG(status);
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  return r;
}

inline std::string Describe(const CliResult& r) {
  return "exit " + std::to_string(r.exit_code) + ", signal " + std::to_string(r.signal) + ", stderr:\n" + r.err +
         "stdout:\n" + r.out.substr(0, 2000);
}

// The contract for bad input: non-zero exit, no signal, no hang, one stderr line with `words`.
inline void ExpectOneLineError(const std::vector<std::string>& args, const std::vector<std::string>& words) {
  CliResult r = RunCli(args, 60);
  SCOPED_TRACE(Describe(r));
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.signal, 0);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_GT(r.exit_code, 0);
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.back(), '\n');
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "more than one line on stderr";
  EXPECT_EQ(r.err.rfind("tutti: error: ", 0), 0u);
  for (const auto& w : words) EXPECT_NE(r.err.find(w), std::string::npos) << "stderr lacks '" << w << "'";
}

}  // namespace tutti::testing
