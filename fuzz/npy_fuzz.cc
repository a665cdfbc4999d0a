// libFuzzer target for the .npy reader (core/npy.h): the one parser that reads bytes users hand to
// `tutti run --input`. Besides "no crash, no sanitizer report, no huge allocation", it checks a
// property: whatever DecodeNpy accepts, EncodeNpy writes back and DecodeNpy reads to the same tensor.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "core/npy.h"

namespace {

std::span<const std::byte> AsBytes(const void* data, size_t size) {
  return {static_cast<const std::byte*>(data), size};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto tensor = tutti::DecodeNpy(AsBytes(data, size), "fuzz.npy");
  if (!tensor.ok()) {
    if (tensor.status().message().empty()) std::abort();  // every refusal must say why
    return 0;
  }
  auto encoded = tutti::EncodeNpy(*tensor);
  if (!encoded.ok()) std::abort();
  auto again = tutti::DecodeNpy(AsBytes(encoded->data(), encoded->size()), "round-trip.npy");
  if (!again.ok() || again->dtype() != tensor->dtype() || again->shape() != tensor->shape() ||
      again->nbytes() != tensor->nbytes() ||
      (tensor->nbytes() > 0 && std::memcmp(again->raw_data(), tensor->raw_data(), tensor->nbytes()) != 0))
    std::abort();
  return 0;
}
