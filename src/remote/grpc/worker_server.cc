// The worker: a gRPC service over one local backend. See remote/worker.h.
#include <grpcpp/grpcpp.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>
#include <unordered_map>

#include "backends/backend.h"
#include "remote/blob_store.h"
#include "remote/grpc/graph_codec.h"
#include "remote/grpc/status_convert.h"
#include "remote/token_bucket.h"
#include "remote/worker.h"

namespace tutti::remote {
namespace {

using Clock = std::chrono::steady_clock;

double MicrosSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

Result<std::string> ReadFile(const std::string& path, const std::string& what) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return NotFound(what, " '", path, "' cannot be read");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Constant-time comparison, so response timing does not reveal how much of a token matched.
bool SameToken(const std::string& given, const std::string& expected) {
  if (expected.empty()) return false;
  size_t diff = given.size() ^ expected.size();
  for (size_t i = 0; i < expected.size(); ++i)
    diff |= static_cast<unsigned char>(expected[i] ^ (i < given.size() ? given[i] : 0));
  return diff == 0;
}

// A compiled tile subgraph. Runs of one part are serialised by run_mu (executables keep per-run
// state); different parts run concurrently.
struct Part {
  Graph graph;
  std::unique_ptr<Executable> exe;
  std::mutex run_mu;
  uint64_t key = 0;
  Clock::time_point last_used;
};

class WorkerService final : public proto::Worker::Service {
 public:
  WorkerService(const WorkerOptions& o, std::unique_ptr<Backend> backend)
      : opts_(o), backend_(std::move(backend)), blobs_(o.max_blob_bytes), started_(Clock::now()) {
    if (o.link_bytes_per_second > 0) {
      // One bucket each way, as tc shapes each end of a veth pair.
      inbound_ = std::make_unique<TokenBucket>(o.link_bytes_per_second, kLinkBurstBytes, SteadyShapingClock());
      outbound_ = std::make_unique<TokenBucket>(o.link_bytes_per_second, kLinkBurstBytes, SteadyShapingClock());
    }
  }

  grpc::Status Hello(grpc::ServerContext* ctx, const proto::HelloRequest* req, proto::HelloReply* rep) override {
    if (auto s = Admit(ctx, "Hello", *req); !s.ok()) return s;
    if (req->protocol_version() != kProtocolVersion) return VersionMismatch(req->protocol_version());
    rep->set_protocol_version(kProtocolVersion);
    rep->set_worker_name(opts_.name);
    rep->set_device(backend_->name());
    rep->set_threads(opts_.threads);
    for (int c : opts_.cores) rep->add_cores(c);
    for (const std::string& op : backend_->SupportedOps()) rep->add_supported_ops(op);
    rep->set_max_message_bytes(opts_.max_message_bytes);
    Log("coordinator '", req->coordinator(), "' connected from ", ctx->peer());
    return Reply(*rep);
  }

  grpc::Status Health(grpc::ServerContext* ctx, const proto::HealthRequest* req, proto::HealthReply* rep) override {
    if (auto s = Admit(ctx, "Health", *req); !s.ok()) return s;
    rep->set_ok(true);
    rep->set_uptime_s(MicrosSince(started_) / 1e6);
    rep->set_runs_served(runs_served_.load());
    rep->set_runs_in_flight(runs_in_flight_.load());
    rep->set_blob_bytes(blobs_.bytes());
    {
      std::lock_guard<std::mutex> lock(parts_mu_);
      rep->set_parts_prepared(static_cast<int32_t>(parts_.size()));
    }
    return Reply(*rep);
  }

  grpc::Status MissingBlobs(grpc::ServerContext* ctx, const proto::BlobList* req, proto::BlobList* rep) override {
    if (auto s = Admit(ctx, "MissingBlobs", *req); !s.ok()) return s;
    for (uint64_t h : req->hashes())
      if (!blobs_.Has(h)) rep->add_hashes(h);
    return Reply(*rep);
  }

  grpc::Status PutBlob(grpc::ServerContext* ctx, const proto::BlobChunk* req, proto::PutBlobReply* rep) override {
    if (auto s = Admit(ctx, "PutBlob", *req); !s.ok()) return s;
    bool complete = false;
    Status s = blobs_.Put(req->hash(), req->total_bytes(), req->offset(), req->data(), &complete);
    rep->set_complete(complete);
    if (!s.ok()) return Refuse(s, "PutBlob");
    return Reply(*rep);
  }

  grpc::Status Prepare(grpc::ServerContext* ctx, const proto::PrepareRequest* req, proto::PrepareReply* rep) override {
    if (auto s = Admit(ctx, "Prepare", *req); !s.ok()) return s;
    auto t0 = Clock::now();
    auto graph = DecodeGraph(req->graph(), [this](uint64_t h, DataType t, const Shape& s) { return blobs_.Get(h, t, s); });
    if (!graph.ok()) return Refuse(graph.status(), "Prepare");
    for (ValueId v : graph->inputs())
      if (!graph->value(v).info.shape || !ToConcrete(*graph->value(v).info.shape))
        return Refuse(InvalidArgument("input '", graph->value(v).name, "' has no concrete shape"), "Prepare");
    int threads = req->options().threads() > 0 ? req->options().threads() : opts_.threads;
    uint64_t key = graph->Fingerprint() * 31 + static_cast<uint64_t>(threads);
    bool cached = false;
    {
      std::lock_guard<std::mutex> lock(parts_mu_);
      auto it = by_key_.find(key);
      if (it != by_key_.end()) {
        rep->set_part_id(it->second);
        parts_[it->second]->last_used = Clock::now();
        cached = true;
      }
    }
    if (cached) return Reply(*rep);
    CompileOptions co;
    co.threads = threads;
    co.cpu_cores = opts_.cores;
    auto exe = backend_->Compile(*graph, co);
    if (!exe.ok()) return Refuse(exe.status(), "Prepare");
    auto part = std::make_shared<Part>();
    part->graph = std::move(graph).value();
    part->exe = std::move(exe).value();
    part->key = key;
    part->last_used = Clock::now();
    std::lock_guard<std::mutex> lock(parts_mu_);
    uint64_t id = next_part_++;
    parts_[id] = part;
    by_key_[key] = id;
    EvictParts();
    rep->set_part_id(id);
    rep->set_compile_ms(MicrosSince(t0) / 1e3);
    return Reply(*rep);
  }

  grpc::Status Run(grpc::ServerContext* ctx, const proto::RunRequest* req, proto::RunReply* rep) override {
    if (auto s = Admit(ctx, "Run", *req); !s.ok()) return s;
    std::shared_ptr<Part> part = FindPart(req->part_id());
    if (!part) return Refuse(NotFound("part ", req->part_id(), " is not prepared on this worker (released or evicted)"), "Run");
    const Graph& g = part->graph;
    if (static_cast<size_t>(req->inputs_size()) != g.inputs().size())
      return Refuse(InvalidArgument("part expects ", g.inputs().size(), " inputs, got ", req->inputs_size()), "Run");
    std::vector<Tensor> inputs;
    for (int i = 0; i < req->inputs_size(); ++i) {
      const Value& v = g.value(g.inputs()[static_cast<size_t>(i)]);
      auto t = DecodeTensor(req->inputs(i), "input '" + v.name + "'");
      if (!t.ok()) return Refuse(t.status(), "Run");
      if (t->shape() != *ToConcrete(*v.info.shape) || t->dtype() != v.info.dtype)
        return Refuse(InvalidArgument("input '", v.name, "' is ", t->DebugString(), ", the part expects ",
                                      DataTypeName(v.info.dtype), SymbolicShapeToString(*v.info.shape)), "Run");
      inputs.push_back(std::move(t).value());
    }
    std::vector<Tensor> outputs;
    ++runs_in_flight_;
    auto t0 = Clock::now();
    Status s;
    {
      std::lock_guard<std::mutex> lock(part->run_mu);
      s = part->exe->Run(inputs, outputs);
    }
    double us = MicrosSince(t0);
    --runs_in_flight_;
    if (!s.ok()) return Refuse(s, "Run");
    ++runs_served_;
    int64_t bytes = 0;
    for (const Tensor& t : outputs) bytes += static_cast<int64_t>(t.nbytes());
    if (bytes > opts_.max_message_bytes)
      return Refuse(ResourceExhausted("output tile of ", bytes, " bytes exceeds the message limit of ",
                                      opts_.max_message_bytes), "Run");
    for (const Tensor& t : outputs) EncodeTensor(t, rep->add_outputs());
    rep->set_compute_us(us);
    return Reply(*rep);
  }

  grpc::Status Profile(grpc::ServerContext* ctx, const proto::ProfileRequest* req, proto::ProfileReply* rep) override {
    if (auto s = Admit(ctx, "Profile", *req); !s.ok()) return s;
    std::shared_ptr<Part> part = FindPart(req->part_id());
    if (!part) return Refuse(NotFound("part ", req->part_id(), " is not prepared on this worker"), "Profile");
    int warmup = std::clamp(req->warmup(), 0, 100), iters = std::clamp(req->iters(), 1, 1000);
    std::vector<Tensor> inputs;
    for (ValueId v : part->graph.inputs()) {
      const Value& val = part->graph.value(v);
      auto t = Tensor::Zeros(val.info.dtype, *ToConcrete(*val.info.shape));
      if (!t.ok()) return Refuse(t.status(), "Profile");
      inputs.push_back(std::move(t).value());
    }
    std::vector<double> times;
    {
      std::lock_guard<std::mutex> lock(part->run_mu);
      for (int i = 0; i < warmup + iters; ++i) {
        std::vector<Tensor> outputs;
        auto t0 = Clock::now();
        Status s = part->exe->Run(inputs, outputs);
        if (!s.ok()) return Refuse(s, "Profile");
        if (i >= warmup) times.push_back(MicrosSince(t0));
        if (ctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "profile cancelled");
      }
    }
    std::sort(times.begin(), times.end());
    double sum = 0;
    for (double t : times) sum += t;
    rep->set_median_us(times[times.size() / 2]);
    rep->set_min_us(times.front());
    rep->set_mean_us(sum / static_cast<double>(times.size()));
    return Reply(*rep);
  }

  grpc::Status Release(grpc::ServerContext* ctx, const proto::ReleaseRequest* req, proto::ReleaseReply* rep) override {
    if (auto s = Admit(ctx, "Release", *req); !s.ok()) return s;
    std::lock_guard<std::mutex> lock(parts_mu_);
    auto it = parts_.find(req->part_id());
    if (it != parts_.end()) {
      by_key_.erase(it->second->key);
      parts_.erase(it);
    }
    return Reply(*rep);
  }

  grpc::Status Echo(grpc::ServerContext* ctx, const proto::EchoRequest* req, proto::EchoReply* rep) override {
    if (auto s = Admit(ctx, "Echo", *req); !s.ok()) return s;
    if (req->reply_bytes() < 0 || req->reply_bytes() > opts_.max_message_bytes - 1024)
      return Refuse(InvalidArgument("echo reply of ", req->reply_bytes(), " bytes is outside the message limit"), "Echo");
    rep->mutable_payload()->assign(static_cast<size_t>(req->reply_bytes()), '\x5a');
    return Reply(*rep);
  }

 private:
  template <typename... Args>
  void Log(const Args&... args) {
    std::string line = StrCat("[worker ", opts_.name, "] ", args...);
    std::fprintf(stderr, "%s\n", line.c_str());
  }

  // Every call: same protocol version, then the token. Refusals are logged (without the token). An
  // admitted request then waits for the inbound link (--link-rate), as if its bytes were still
  // arriving.
  grpc::Status Admit(grpc::ServerContext* ctx, const char* call, const google::protobuf::Message& req) {
    const auto& md = ctx->client_metadata();
    auto v = md.find(kVersionKey);
    if (v == md.end()) {
      Log("refused ", call, " from ", ctx->peer(), ": no protocol version");
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          StrCat("no '", kVersionKey, "' metadata: the caller is not a tutti coordinator"));
    }
    std::string version(v->second.data(), v->second.size());
    if (version != std::to_string(kProtocolVersion)) {
      Log("refused ", call, " from ", ctx->peer(), ": protocol version ", version);
      return VersionMismatch(version);
    }
    if (!opts_.token.empty()) {
      auto t = md.find(kTokenKey);
      std::string token = t == md.end() ? std::string() : std::string(t->second.data(), t->second.size());
      if (!SameToken(token, opts_.token)) {
        Log("refused ", call, " from ", ctx->peer(), ": ", token.empty() ? "no token" : "wrong token");
        return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                            token.empty() ? "this worker requires a token (--token / TUTTI_REMOTE_TOKEN)"
                                          : "wrong token for this worker");
      }
    }
    if (inbound_) inbound_->Pass(static_cast<int64_t>(req.ByteSizeLong()));
    return grpc::Status::OK;
  }

  // A successful reply waits for the outbound link (--link-rate) before it leaves. Callers hold no
  // lock here: the wait is as long as the transfer.
  grpc::Status Reply(const google::protobuf::Message& rep) {
    if (outbound_) outbound_->Pass(static_cast<int64_t>(rep.ByteSizeLong()));
    return grpc::Status::OK;
  }

  template <typename V>
  grpc::Status VersionMismatch(const V& theirs) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        StrCat("protocol version mismatch: the coordinator speaks version ", theirs,
                               ", this worker speaks version ", kProtocolVersion,
                               " (run the same tutti release on both sides)"));
  }

  grpc::Status Refuse(const Status& s, const char* call) {
    if (!s.ok()) Log(call, " failed: ", s.message());
    return ToGrpc(s);
  }

  std::shared_ptr<Part> FindPart(uint64_t id) {
    std::lock_guard<std::mutex> lock(parts_mu_);
    auto it = parts_.find(id);
    if (it == parts_.end()) return nullptr;
    it->second->last_used = Clock::now();
    return it->second;
  }

  // Least recently used parts go first. Caller holds parts_mu_. A part being run stays alive
  // through the runner's shared_ptr.
  void EvictParts() {
    while (parts_.size() > static_cast<size_t>(std::max(1, opts_.max_parts))) {
      auto oldest = parts_.begin();
      for (auto it = parts_.begin(); it != parts_.end(); ++it)
        if (it->second->last_used < oldest->second->last_used) oldest = it;
      by_key_.erase(oldest->second->key);
      parts_.erase(oldest);
    }
  }

  WorkerOptions opts_;
  std::unique_ptr<Backend> backend_;
  BlobStore blobs_;
  Clock::time_point started_;
  std::unique_ptr<TokenBucket> inbound_, outbound_;  // --link-rate; null: unshaped
  std::atomic<int64_t> runs_served_{0};
  std::atomic<int> runs_in_flight_{0};
  std::mutex parts_mu_;  // guards parts_, by_key_, next_part_
  std::unordered_map<uint64_t, std::shared_ptr<Part>> parts_;
  std::unordered_map<uint64_t, uint64_t> by_key_;  // graph fingerprint + threads -> part id
  uint64_t next_part_ = 1;
};

class GrpcWorkerServer final : public WorkerServer {
 public:
  int port() const override { return port_; }
  void Wait() override { server_->Wait(); }
  void Shutdown() override {
    std::lock_guard<std::mutex> lock(shutdown_mu_);
    if (shut_down_) return;
    shut_down_ = true;
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }
  ~GrpcWorkerServer() override {
    if (server_) Shutdown();
  }

  std::unique_ptr<WorkerService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::mutex shutdown_mu_;
  bool shut_down_ = false;
};

}  // namespace

bool RemoteSupported() { return true; }

Result<std::unique_ptr<WorkerServer>> StartWorker(const WorkerOptions& options) {
  WorkerOptions o = options;
  if (o.name.empty()) o.name = o.listen;
  if (o.max_message_bytes < (1 << 20)) return InvalidArgument("max message size must be at least 1 MiB");
  if (o.tls_cert_file.empty() != o.tls_key_file.empty())
    return InvalidArgument("TLS needs both a certificate and a key (--tls-cert and --tls-key)");
  if (!o.cores.empty()) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c : o.cores) {
      if (c < 0 || c >= CPU_SETSIZE) return InvalidArgument("core ", c, " is out of range");
      CPU_SET(c, &set);
    }
    // Threads created from here on (gRPC's, OpenMP's) inherit this mask.
    if (sched_setaffinity(0, sizeof set, &set) != 0) return InvalidArgument("cannot pin to the given cores (do they exist?)");
  }
  TUTTI_ASSIGN_OR_RETURN(std::unique_ptr<Backend> backend, CreateBackend(o.device));

  std::shared_ptr<grpc::ServerCredentials> creds;
  if (!o.tls_cert_file.empty()) {
    TUTTI_ASSIGN_OR_RETURN(std::string cert, ReadFile(o.tls_cert_file, "TLS certificate"));
    TUTTI_ASSIGN_OR_RETURN(std::string key, ReadFile(o.tls_key_file, "TLS key"));
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({key, cert});
    creds = grpc::SslServerCredentials(ssl);
  } else {
    creds = grpc::InsecureServerCredentials();
  }

  auto server = std::make_unique<GrpcWorkerServer>();
  server->service_ = std::make_unique<WorkerService>(o, std::move(backend));
  grpc::ServerBuilder b;
  b.AddListeningPort(o.listen, creds, &server->port_);
  b.RegisterService(server->service_.get());
  b.SetMaxReceiveMessageSize(static_cast<int>(std::min<int64_t>(o.max_message_bytes, INT32_MAX)));
  b.SetMaxSendMessageSize(static_cast<int>(std::min<int64_t>(o.max_message_bytes, INT32_MAX)));
  // Notice vanished coordinators so their calls do not hold a part's lock forever.
  b.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  b.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  b.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 1000);
  b.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  server->server_ = b.BuildAndStart();
  if (!server->server_ || server->port_ == 0)
    return Unavailable("cannot listen on '", o.listen, "' (address in use, malformed, or not an address of this machine)");
  std::string shaping =
      o.link_bytes_per_second > 0 ? StrCat(", link shaped to ", o.link_bytes_per_second * 8e-6, " Mbit/s each way") : "";
  std::fprintf(stderr, "[worker %s] listening on port %d (%s, %s%s)\n", o.name.c_str(), server->port_,
               o.tls_cert_file.empty() ? "plaintext" : "TLS", o.token.empty() ? "no token" : "token required",
               shaping.c_str());
  return std::unique_ptr<WorkerServer>(std::move(server));
}

}  // namespace tutti::remote
