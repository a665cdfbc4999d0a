#include <map>
#include <mutex>

#include "backends/backend.h"

namespace tutti {

const char* PrecisionName(Precision p) {
  switch (p) {
    case Precision::kFp32: return "fp32";
    case Precision::kTf32: return "tf32";
    case Precision::kFp16: return "fp16";
  }
  return "?";
}

Result<Precision> ParsePrecision(const std::string& s) {
  if (s == "fp32") return Precision::kFp32;
  if (s == "tf32") return Precision::kTf32;
  if (s == "fp16") return Precision::kFp16;
  return InvalidArgument("unknown precision '", s, "' (expected fp32, tf32 or fp16)");
}

namespace {
constexpr std::pair<CpuPartition, const char*> kCpuPartitionNames[] = {
    {CpuPartition::kAuto, "auto"},           {CpuPartition::kAsymmetric, "asymmetric"},
    {CpuPartition::kEqual, "equal"},         {CpuPartition::kBlocksOnly, "blocks-only"},
    {CpuPartition::kScheduleOnly, "schedule-only"}, {CpuPartition::kOneDnn, "onednn"}};
}  // namespace

const char* CpuPartitionName(CpuPartition p) {
  for (const auto& [v, name] : kCpuPartitionNames)
    if (v == p) return name;
  return "?";
}

Result<CpuPartition> ParseCpuPartition(const std::string& s) {
  for (const auto& [v, name] : kCpuPartitionNames)
    if (s == name) return v;
  return InvalidArgument("unknown CPU partition '", s,
                         "' (expected auto, asymmetric, equal, blocks-only, schedule-only or onednn)");
}

namespace {
std::mutex& RegistryMutex() {
  static std::mutex m;
  return m;
}
std::map<std::string, BackendFactory>& Registry() {
  static std::map<std::string, BackendFactory> r;
  return r;
}
}  // namespace

void RegisterBackendFactory(const std::string& prefix, BackendFactory factory) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  Registry()[prefix] = factory;
}

Result<std::unique_ptr<Backend>> CreateBackend(const std::string& device) {
  std::string prefix = device.substr(0, device.find(':'));
  BackendFactory factory = nullptr;
  {
    std::lock_guard<std::mutex> lock(RegistryMutex());
    auto it = Registry().find(prefix);
    if (it != Registry().end()) factory = it->second;
  }
  if (!factory) {
    std::string known;
    {
      std::lock_guard<std::mutex> lock(RegistryMutex());
      for (auto& [k, v] : Registry()) known += (known.empty() ? "" : ", ") + k;
    }
    if (prefix == "cuda") return Unavailable("device '", device, "': this build of tutti has no CUDA backend");
    return NotFound("unknown device '", device, "' (this build knows: ", known, ")");
  }
  return factory(device);
}

}  // namespace tutti
