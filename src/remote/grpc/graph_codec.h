// Graph and tensor <-> protocol messages. Internal to remote/ (includes generated code).
//
// Decoding treats every message as hostile: dtypes, dims, byte counts, value indices and the
// graph's structure are checked, and any inconsistency is an InvalidArgument naming the field.
#pragma once

#include <functional>
#include <map>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "graph/graph.h"
#include "remote/protocol.grpc.pb.h"
#include "remote/protocol.h"

namespace tutti::remote {

// Largest rank and element count a decoded tensor may claim (a lie here must not allocate).
inline constexpr int kMaxRank = 8;

void EncodeTensor(const Tensor& t, proto::Tensor* msg);
Result<Tensor> DecodeTensor(const proto::Tensor& msg, const std::string& what);

// A constant that goes by hash: the coordinator collects them to upload the ones a worker lacks.
struct BlobRef {
  uint64_t hash;
  Tensor tensor;
};

// Hashes of constants already seen, by storage address. Entries hold the tensor, so an address
// cannot be freed and reused by other data while its hash is cached.
using BlobHashCache = std::map<const void*, BlobRef>;

// Constants of at least kBlobMinBytes are encoded by hash and appended to `blobs` (each hashed once
// per cache, so tiles of one model's layers hash their weights once).
void EncodeGraph(const Graph& g, proto::Graph* msg, std::vector<BlobRef>* blobs, BlobHashCache* hash_cache);

// `find_blob` returns the worker's copy of a blob, or an undefined Tensor when it lacks it.
using BlobLookup = std::function<Tensor(uint64_t hash, DataType dtype, const Shape& shape)>;
Result<Graph> DecodeGraph(const proto::Graph& msg, const BlobLookup& find_blob);

}  // namespace tutti::remote
