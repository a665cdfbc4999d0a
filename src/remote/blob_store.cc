#include "remote/blob_store.h"

#include <cstring>

#include "remote/protocol.h"

namespace tutti::remote {

uint64_t BlobHash(const void* data, size_t bytes) {
  // Word-wise multiply-mix (a 64-bit FNV variant): ~GB/s, enough to tell weights apart. Not a
  // security boundary -- the token is.
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (bytes * 0xff51afd7ed558ccdull);
  size_t i = 0;
  for (; i + 8 <= bytes; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 0x100000001B3ull;
    h ^= h >> 29;
  }
  for (; i < bytes; ++i) h = (h ^ p[i]) * 0x100000001B3ull;
  h ^= h >> 32;
  return h * 0xc4ceb9fe1a85ec53ull;
}


Status BlobStore::Put(uint64_t hash, int64_t total_bytes, int64_t offset, const std::string& data, bool* complete) {
  std::lock_guard<std::mutex> lock(mu_);
  *complete = false;
  if (ready_.count(hash)) {
    *complete = true;
    return Status::Ok();
  }
  if (total_bytes <= 0 || offset < 0 || offset > total_bytes ||
      static_cast<int64_t>(data.size()) > total_bytes - offset)
    return InvalidArgument("blob chunk: offset ", offset, " + ", data.size(), " bytes lies outside the announced ",
                           total_bytes, " bytes");
  auto it = pending_.find(hash);
  if (it == pending_.end()) {
    if (bytes_ + total_bytes > limit_) EvictUnused();
    if (bytes_ + total_bytes > limit_)
      return ResourceExhausted("a blob of ", total_bytes, " bytes exceeds the worker's weight memory limit (", limit_,
                               " bytes, ", bytes_, " in use)");
    TUTTI_ASSIGN_OR_RETURN(Tensor t, Tensor::Allocate(DataType::kUInt8, {total_bytes}));
    it = pending_.emplace(hash, Pending{std::move(t), 0}).first;
    bytes_ += total_bytes;
  }
  Pending& p = it->second;
  if (p.data.num_elements() != total_bytes)
    return InvalidArgument("blob chunk: total size ", total_bytes, " differs from the first chunk's ",
                           p.data.num_elements());
  std::memcpy(p.data.data<uint8_t>() + offset, data.data(), data.size());
  p.received += static_cast<int64_t>(data.size());
  if (p.received < total_bytes) return Status::Ok();
  Tensor done = std::move(p.data);
  pending_.erase(it);
  if (BlobHash(done.raw_data(), done.nbytes()) != hash) {
    bytes_ -= total_bytes;
    return InvalidArgument("blob content does not match its hash (corrupt or overlapping chunks)");
  }
  ready_[hash] = std::make_shared<Tensor>(std::move(done));
  *complete = true;
  return Status::Ok();
}

bool BlobStore::Has(uint64_t hash) {
  std::lock_guard<std::mutex> lock(mu_);
  return ready_.count(hash) != 0;
}

Tensor BlobStore::Get(uint64_t hash, DataType dtype, const Shape& shape) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = ready_.find(hash);
  if (it == ready_.end()) return Tensor();
  const std::shared_ptr<Tensor>& blob = it->second;
  if (static_cast<size_t>(NumElements(shape)) * DataTypeSize(dtype) != blob->nbytes()) return Tensor();
  return Tensor::Wrap(dtype, shape, blob->raw_data(), blob);
}

int64_t BlobStore::bytes() {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

void BlobStore::EvictUnused() {
  for (auto it = ready_.begin(); it != ready_.end();) {
    if (it->second.use_count() == 1) {
      bytes_ -= static_cast<int64_t>(it->second->nbytes());
      it = ready_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace tutti::remote
