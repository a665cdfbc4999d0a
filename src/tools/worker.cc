// `tutti worker`: serve this machine's processor to a coordinator (issue 7).
#include <csignal>
#include <cstdio>
#include <fstream>
#include <thread>

#include "remote/token_bucket.h"
#include "remote/worker.h"
#include "tools/command.h"

namespace tutti::cli {
namespace {

Result<std::vector<int>> ParseCores(const std::string& s) {
  // "0,2-3" -> {0,2,3}
  std::vector<int> cores;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t comma = s.find(',', pos);
    std::string item = s.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    size_t dash = item.find('-');
    char* end = nullptr;
    long a = std::strtol(item.c_str(), &end, 10);
    long b = a;
    if (end == item.c_str()) return InvalidArgument("--cores: '", item, "' is not a core number or range");
    if (dash != std::string::npos) {
      b = std::strtol(item.c_str() + dash + 1, &end, 10);
      if (*end != '\0') return InvalidArgument("--cores: '", item, "' is not a range like 2-3");
    } else if (*end != '\0') {
      return InvalidArgument("--cores: '", item, "' is not a core number");
    }
    if (a < 0 || b < a || b > 4095) return InvalidArgument("--cores: bad range '", item, "'");
    for (long c = a; c <= b; ++c) cores.push_back(static_cast<int>(c));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  if (cores.empty()) return InvalidArgument("--cores is empty");
  return cores;
}

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

int RunWorker(Args& args) {
  remote::WorkerOptions o;
  auto listen = args.Get("listen");
  if (!listen) return ReportError("worker", InvalidArgument("--listen ADDR:PORT is required"));
  o.listen = *listen;
  o.token = args.GetOr("token", "");
  if (auto f = args.Get("token-file")) {
    std::ifstream in(*f);
    if (!in || !std::getline(in, o.token)) return ReportError("worker", NotFound("token file '", *f, "' cannot be read"));
  }
  if (o.token.empty())
    if (const char* t = std::getenv("TUTTI_WORKER_TOKEN")) o.token = t;
  o.tls_cert_file = args.GetOr("tls-cert", "");
  o.tls_key_file = args.GetOr("tls-key", "");
  o.device = args.GetOr("device", "cpu");
  o.name = args.GetOr("name", "");
  auto threads = args.GetInt("threads", 0, 0, 1024);
  if (!threads.ok()) return ReportError("worker", threads.status());
  o.threads = static_cast<int>(*threads);
  if (auto c = args.Get("cores")) {
    auto cores = ParseCores(*c);
    if (!cores.ok()) return ReportError("worker", cores.status());
    o.cores = *cores;
  }
  auto max_mb = args.GetInt("max-message-mb", remote::kDefaultMaxMessageBytes >> 20, 1, 2047);
  if (!max_mb.ok()) return ReportError("worker", max_mb.status());
  o.max_message_bytes = *max_mb << 20;
  if (auto r = args.Get("link-rate")) {
    auto rate = remote::ParseLinkRate(*r);
    if (!rate.ok()) return ReportError("worker", rate.status().WithContext("--link-rate"));
    o.link_bytes_per_second = *rate;
  }
  std::string port_file = args.GetOr("port-file", "");
  if (Status s = args.CheckAllUsed(); !s.ok()) return ReportError("worker", s);
  if (o.token.empty() && o.listen.rfind("127.", 0) != 0 && o.listen.rfind("localhost", 0) != 0)
    std::fprintf(stderr, "tutti worker: warning: listening on %s without a token: anyone who can reach it can use it\n",
                 o.listen.c_str());

  auto server = remote::StartWorker(o);
  if (!server.ok()) return ReportError("worker", server.status());
  if (!port_file.empty()) {
    // Written after binding, then renamed, so a reader never sees a partial port number.
    std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << (*server)->port() << "\n";
    std::rename(tmp.c_str(), port_file.c_str());
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::thread waiter([&] { (*server)->Wait(); });
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::fprintf(stderr, "tutti worker: shutting down\n");
  (*server)->Shutdown();
  waiter.join();
  return 0;
}

TUTTI_REGISTER_COMMAND(
    "worker", "serve this machine's processor to a coordinator over gRPC",
    "usage: tutti worker --listen ADDR:PORT [--token T | --token-file F] [--tls-cert PEM --tls-key PEM]\n"
    "                    [--threads N] [--cores LIST] [--device cpu] [--name NAME] [--max-message-mb N]\n"
    "                    [--port-file F] [--link-rate RATE]\n"
    "  --listen      address to serve on; port 0 picks a free port (written to --port-file)\n"
    "  --token       coordinators must present this token (or TUTTI_WORKER_TOKEN)\n"
    "  --tls-cert/--tls-key  serve TLS only, with this certificate and key\n"
    "  --threads     CPU threads per run (default: all cores the worker may use)\n"
    "  --cores       pin the worker to these cores, e.g. 0,2-3\n"
    "  --max-message-mb  largest input tile accepted (default 64)\n"
    "  --link-rate   shape this worker's link to RATE each way, in tc's units (100mbit, 1gbit, 800kbit):\n"
    "                every request and reply waits as a token bucket with a 64 kB burst would let it",
    RunWorker);

}  // namespace
}  // namespace tutti::cli
