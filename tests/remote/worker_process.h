// Starts a real `tutti worker` process on 127.0.0.1 with a free port (port 0, read back from its
// --port-file) and kills it when the test ends. Shared by the remote and fault tests.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace tutti::testing {

class WorkerProcess {
 public:
  // extra: flags after `tutti worker --listen 127.0.0.1:0 --port-file F`.
  explicit WorkerProcess(std::vector<std::string> extra = {}) {
    static int counter = 0;
    dir_ = std::filesystem::temp_directory_path() /
           ("tutti-worker-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
    std::filesystem::create_directories(dir_);
    std::string port_file = (dir_ / "port").string();
    log_ = (dir_ / "log").string();
    std::vector<std::string> argv = {TUTTI_CLI_PATH, "worker", "--listen", "127.0.0.1:0", "--port-file", port_file};
    argv.insert(argv.end(), extra.begin(), extra.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (posix_spawn(&pid_, cargv[0], &fa, nullptr, cargv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
    for (int i = 0; i < 1200 && pid_ > 0; ++i) {  // up to 60 s: a TSan build on a loaded 2-core machine
      std::ifstream f(port_file);
      if (f >> port_ && port_ > 0) break;
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) { pid_ = -1; break; }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~WorkerProcess() {
    Kill(SIGKILL);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  bool started() const { return pid_ > 0 && port_ > 0; }
  int port() const { return port_; }
  std::string target() const { return "127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return pid_; }
  void Signal(int sig) { if (pid_ > 0) ::kill(pid_, sig); }
  // SIGSTOP and wait until the kernel reports the process stopped: kill() returns before every
  // thread has stopped, and a thread still running would answer the next call.
  bool Freeze() {
    if (pid_ <= 0) return false;
    ::kill(pid_, SIGSTOP);
    // Every thread must be stopped, not only the leader: gRPC's pollers are separate threads.
    std::filesystem::path tasks = "/proc/" + std::to_string(pid_) + "/task";
    for (int i = 0; i < 400; ++i) {
      bool all_stopped = true;
      std::error_code ec;
      for (const auto& t : std::filesystem::directory_iterator(tasks, ec)) {
        std::ifstream f(t.path() / "stat");
        std::string line;
        std::getline(f, line);
        size_t paren = line.rfind(')');
        if (paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] != 'T') all_stopped = false;
      }
      if (!ec && all_stopped) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }
  void Kill(int sig = SIGKILL) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    // A stopped process must run to die of SIGTERM; SIGKILL needs no SIGCONT, and sending one would
    // let a frozen worker answer its pending request before dying.
    if (sig != SIGKILL) ::kill(pid_, SIGCONT);
    int status;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  bool alive() {
    if (pid_ <= 0) return false;
    int status;
    return waitpid(pid_, &status, WNOHANG) == 0;
  }
  std::string log() const {
    std::ifstream f(log_);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }

 private:
  std::filesystem::path dir_;
  std::string log_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// A loopback port nobody listens on: bind port 0, note the port, close.
inline int UnusedLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

}  // namespace tutti::testing
