// Constants of the tutti worker protocol (remote/protocol.proto) that both sides must agree on.
// Free of gRPC so that code built without it can still name them.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tutti::remote {

// Bump on any incompatible change to protocol.proto or to the meaning of a field. A worker refuses
// a coordinator that speaks another version with a message naming both versions.
inline constexpr int32_t kProtocolVersion = 1;

// Metadata keys every call carries (gRPC metadata keys are lower-case).
inline constexpr char kVersionKey[] = "tutti-protocol-version";
inline constexpr char kTokenKey[] = "tutti-token";

// Largest single message a worker accepts by default: an input or output tile. Weights travel as
// blobs in kBlobChunkBytes pieces, so this bounds tiles, not models.
inline constexpr int64_t kDefaultMaxMessageBytes = 64ll << 20;
inline constexpr int64_t kBlobChunkBytes = 4ll << 20;
// Constants at least this large go as blobs (sent once, referenced by hash); smaller ones inline.
inline constexpr size_t kBlobMinBytes = 4096;

// Content hash of a blob (64-bit, word-wise multiply-mix): both sides compute it, the worker checks
// that an uploaded blob matches the hash it was announced under.
uint64_t BlobHash(const void* data, size_t bytes);

}  // namespace tutti::remote
