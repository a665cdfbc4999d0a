// The worker's content-addressed weight store. Internal to remote/.
//
// Weights arrive once, in chunks, under a hash the coordinator computed; a blob becomes visible only
// when its last chunk arrived and the hash checks out. Graphs then refer to blobs by hash, and the
// tensors handed out share the blob's storage, so eviction (when the memory limit is hit) only drops
// blobs that no prepared part still uses.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "core/status.h"
#include "core/tensor.h"

namespace tutti::remote {

class BlobStore {
 public:
  explicit BlobStore(int64_t limit_bytes) : limit_(limit_bytes) {}

  // One chunk of blob `hash`. *complete is true once the blob is whole and verified.
  Status Put(uint64_t hash, int64_t total_bytes, int64_t offset, const std::string& data, bool* complete);
  bool Has(uint64_t hash);
  // A view of the blob as dtype/shape (sharing storage), or undefined when absent or of another size.
  Tensor Get(uint64_t hash, DataType dtype, const Shape& shape);
  int64_t bytes();

 private:
  struct Pending {
    Tensor data;
    int64_t received = 0;
  };
  void EvictUnused();  // caller holds mu_

  std::mutex mu_;  // guards everything below; chunk copies are small (4 MiB), so one lock suffices
  int64_t limit_;
  int64_t bytes_ = 0;
  std::unordered_map<uint64_t, Pending> pending_;
  std::unordered_map<uint64_t, std::shared_ptr<Tensor>> ready_;  // use_count 1: unused by any part
};

}  // namespace tutti::remote
