// The coordinator's connection to one worker. See remote/client.h.
#include "remote/client.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <sstream>

#include "remote/grpc/graph_codec.h"
#include "remote/grpc/status_convert.h"

namespace tutti::remote {

namespace {

using Clock = std::chrono::steady_clock;

class GrpcWorkerClient final : public WorkerClient {
 public:
  GrpcWorkerClient(std::string target, ConnectOptions o, std::shared_ptr<grpc::Channel> channel)
      : opts_(std::move(o)), channel_(std::move(channel)), stub_(proto::Worker::NewStub(channel_)) {
    info_.target = std::move(target);
  }

  Status Hello() {
    proto::HelloRequest req;
    req.set_protocol_version(opts_.protocol_version);
    req.set_coordinator("tutti");
    proto::HelloReply rep;
    auto ctx = Context(opts_.connect_timeout_ms);
    TUTTI_RETURN_IF_ERROR(FromGrpc(stub_->Hello(ctx.get(), req, &rep), What("Hello")));
    info_.name = rep.worker_name();
    info_.device = rep.device();
    info_.threads = rep.threads();
    info_.cores.assign(rep.cores().begin(), rep.cores().end());
    info_.supported_ops.assign(rep.supported_ops().begin(), rep.supported_ops().end());
    info_.max_message_bytes = rep.max_message_bytes();
    return Status::Ok();
  }

  const WorkerInfo& info() const override { return info_; }

  Result<WorkerHealth> Health() override {
    proto::HealthRequest req;
    proto::HealthReply rep;
    auto ctx = Context(opts_.call_timeout_ms);
    TUTTI_RETURN_IF_ERROR(FromGrpc(stub_->Health(ctx.get(), req, &rep), What("Health")));
    WorkerHealth h;
    h.ok = rep.ok();
    h.uptime_s = rep.uptime_s();
    h.runs_served = rep.runs_served();
    h.parts_prepared = rep.parts_prepared();
    h.runs_in_flight = rep.runs_in_flight();
    h.blob_bytes = rep.blob_bytes();
    return h;
  }

  Result<PreparedPart> Prepare(const Graph& graph, int threads) override {
    proto::PrepareRequest req;
    std::vector<BlobRef> blobs;
    {
      std::lock_guard<std::mutex> lock(hash_mu_);
      EncodeGraph(graph, req.mutable_graph(), &blobs, &hash_cache_);
    }
    req.mutable_options()->set_threads(threads);
    PreparedPart part;
    TUTTI_ASSIGN_OR_RETURN(part.blob_bytes_sent, UploadMissing(blobs));
    TUTTI_RETURN_IF_ERROR(CheckSize(req.ByteSizeLong(), "graph of part '" + graph.name + "'"));
    proto::PrepareReply rep;
    auto ctx = Context(opts_.prepare_timeout_ms);
    TUTTI_RETURN_IF_ERROR(FromGrpc(stub_->Prepare(ctx.get(), req, &rep), What("Prepare")));
    part.id = rep.part_id();
    part.compile_ms = rep.compile_ms();
    return part;
  }

  Status Run(uint64_t part, std::span<const Tensor> inputs, std::vector<Tensor>& outputs, RunTiming* timing,
             int timeout_ms) override {
    auto t0 = Clock::now();
    proto::RunRequest req;
    req.set_part_id(part);
    for (const Tensor& t : inputs) EncodeTensor(t, req.add_inputs());
    TUTTI_RETURN_IF_ERROR(CheckSize(req.ByteSizeLong(), "input tile"));
    proto::RunReply rep;
    auto ctx = Context(timeout_ms > 0 ? timeout_ms : opts_.run_timeout_ms);
    TUTTI_RETURN_IF_ERROR(FromGrpc(stub_->Run(ctx.get(), req, &rep), What("Run")));
    outputs.clear();
    for (int i = 0; i < rep.outputs_size(); ++i) {
      TUTTI_ASSIGN_OR_RETURN(Tensor t, DecodeTensor(rep.outputs(i), What("Run") + ": output " + std::to_string(i)));
      outputs.push_back(std::move(t));
    }
    if (timing) {
      timing->compute_us = rep.compute_us();
      timing->total_us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    }
    return Status::Ok();
  }

  Result<ProfileResult> Profile(uint64_t part, int warmup, int iters) override {
    proto::ProfileRequest req;
    req.set_part_id(part);
    req.set_warmup(warmup);
    req.set_iters(iters);
    proto::ProfileReply rep;
    // Profiling runs the part warmup+iters times on the worker: allow for that.
    auto ctx = Context(opts_.run_timeout_ms * std::max(1, warmup + iters));
    TUTTI_RETURN_IF_ERROR(FromGrpc(stub_->Profile(ctx.get(), req, &rep), What("Profile")));
    return ProfileResult{rep.median_us(), rep.min_us(), rep.mean_us()};
  }

  Status Release(uint64_t part) override {
    proto::ReleaseRequest req;
    req.set_part_id(part);
    proto::ReleaseReply rep;
    // Short: releasing runs in destructors, and a vanished worker has dropped the part anyway.
    auto ctx = Context(std::min(opts_.call_timeout_ms, 1000));
    return FromGrpc(stub_->Release(ctx.get(), req, &rep), What("Release"));
  }

  Result<double> Echo(int64_t out_bytes, int64_t back_bytes) override {
    proto::EchoRequest req;
    req.mutable_payload()->assign(static_cast<size_t>(std::max<int64_t>(0, out_bytes)), '\x3c');
    req.set_reply_bytes(back_bytes);
    TUTTI_RETURN_IF_ERROR(CheckSize(req.ByteSizeLong(), "echo payload"));
    proto::EchoReply rep;
    auto ctx = Context(opts_.call_timeout_ms);
    auto t0 = Clock::now();
    TUTTI_RETURN_IF_ERROR(FromGrpc(stub_->Echo(ctx.get(), req, &rep), What("Echo")));
    return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
  }

 private:
  std::unique_ptr<grpc::ClientContext> Context(int timeout_ms) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
    ctx->AddMetadata(kVersionKey, std::to_string(opts_.protocol_version));
    if (!opts_.token.empty()) ctx->AddMetadata(kTokenKey, opts_.token);
    return ctx;
  }

  std::string What(const std::string& call) const { return call + " on worker " + info_.target; }

  Status CheckSize(size_t bytes, const std::string& what) const {
    if (info_.max_message_bytes > 0 && static_cast<int64_t>(bytes) > info_.max_message_bytes)
      return ResourceExhausted(what, " is ", bytes, " bytes, over worker ", info_.target, "'s message limit of ",
                               info_.max_message_bytes, " bytes");
    return Status::Ok();
  }

  // Weights go once per worker, in bounded chunks, and only those the worker does not hold yet.
  Result<size_t> UploadMissing(const std::vector<BlobRef>& blobs) {
    if (blobs.empty()) return size_t{0};
    proto::BlobList ask, missing;
    std::set<uint64_t> seen;
    for (const BlobRef& b : blobs)
      if (seen.insert(b.hash).second) ask.add_hashes(b.hash);
    {
      auto ctx = Context(opts_.call_timeout_ms);
      TUTTI_RETURN_IF_ERROR(FromGrpc(stub_->MissingBlobs(ctx.get(), ask, &missing), What("MissingBlobs")));
    }
    std::set<uint64_t> want(missing.hashes().begin(), missing.hashes().end());
    size_t sent = 0;
    const int64_t chunk = std::min<int64_t>(kBlobChunkBytes, std::max<int64_t>(info_.max_message_bytes - 4096, 4096));
    for (const BlobRef& b : blobs) {
      if (!want.erase(b.hash)) continue;
      const auto* p = static_cast<const char*>(b.tensor.raw_data());
      const int64_t total = static_cast<int64_t>(b.tensor.nbytes());
      for (int64_t off = 0; off < total; off += chunk) {
        proto::BlobChunk c;
        c.set_hash(b.hash);
        c.set_total_bytes(total);
        c.set_offset(off);
        c.set_data(p + off, static_cast<size_t>(std::min(chunk, total - off)));
        proto::PutBlobReply rep;
        auto ctx = Context(opts_.call_timeout_ms);
        TUTTI_RETURN_IF_ERROR(FromGrpc(stub_->PutBlob(ctx.get(), c, &rep), What("PutBlob")));
      }
      sent += static_cast<size_t>(total);
    }
    return sent;
  }

  ConnectOptions opts_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<proto::Worker::Stub> stub_;
  WorkerInfo info_;
  std::mutex hash_mu_;  // guards hash_cache_ (Prepare may be called from several threads)
  BlobHashCache hash_cache_;
};

Result<std::string> ReadPem(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return NotFound("TLS CA file '", path, "' cannot be read");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

Result<std::unique_ptr<WorkerClient>> ConnectWorker(const std::string& target, const ConnectOptions& options) {
  if (target.empty() || target.find(':') == std::string::npos)
    return InvalidArgument("worker address '", target, "' is not HOST:PORT");
  std::shared_ptr<grpc::ChannelCredentials> creds;
  grpc::ChannelArguments args;
  if (!options.tls_ca_file.empty()) {
    grpc::SslCredentialsOptions ssl;
    TUTTI_ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadPem(options.tls_ca_file));
    creds = grpc::SslCredentials(ssl);
    if (!options.tls_server_name.empty()) args.SetSslTargetNameOverride(options.tls_server_name);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  args.SetMaxReceiveMessageSize(INT32_MAX);
  args.SetMaxSendMessageSize(INT32_MAX);
  // Detect a silent peer (cable cut, SIGSTOP) between calls too, not only through call deadlines.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 5000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 3000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  // One channel per client object: parallel tiles to one worker share nothing with other workers.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(target, creds, args);
  auto deadline = std::chrono::system_clock::now() + std::chrono::milliseconds(options.connect_timeout_ms);
  if (!channel->WaitForConnected(deadline))
    return Unavailable("worker ", target, " is unreachable (no connection within ", options.connect_timeout_ms, " ms",
                       options.tls_ca_file.empty() ? "" : "; check the TLS certificate and name", ")");
  auto client = std::make_unique<GrpcWorkerClient>(target, options, std::move(channel));
  TUTTI_RETURN_IF_ERROR(client->Hello());
  return std::unique_ptr<WorkerClient>(std::move(client));
}

Status CallRaw(const std::string& target, const std::string& method, const std::string& request,
               const ConnectOptions& options) {
  auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(options.call_timeout_ms));
  ctx.AddMetadata(kVersionKey, std::to_string(options.protocol_version));
  if (!options.token.empty()) ctx.AddMetadata(kTokenKey, options.token);
  grpc::Slice slice(request);
  grpc::ByteBuffer req(&slice, 1), rep;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, "/tutti.remote.proto.Worker/" + method, grpc::StubOptions(), &req, &rep,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  return FromGrpc(done.get_future().get(), method + " on worker " + target);
}

}  // namespace tutti::remote
