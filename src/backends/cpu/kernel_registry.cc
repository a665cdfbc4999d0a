#include <algorithm>

#include "backends/cpu/kernel.h"

namespace tutti::cpu {

std::optional<Shape> KernelBuildInfo::input_shape(size_t i) const {
  const Value* v = input(i);
  if (!v || !v->info.shape) return std::nullopt;
  return ToConcrete(*v->info.shape);
}

std::optional<Shape> KernelBuildInfo::output_shape(size_t i) const {
  const Value* v = output(i);
  if (!v || !v->info.shape) return std::nullopt;
  return ToConcrete(*v->info.shape);
}

KernelRegistry& KernelRegistry::Get() {
  static KernelRegistry r;
  return r;
}

void KernelRegistry::Register(KernelRegistration reg) { regs_.push_back(std::move(reg)); }

const KernelRegistration* KernelRegistry::Find(const std::string& domain, const std::string& op_type) const {
  const std::string d = domain == "ai.onnx" ? "" : domain;
  for (const auto& r : regs_)
    if (r.op_type == op_type && r.domain == d) return &r;
  return nullptr;
}

std::vector<std::string> KernelRegistry::OpTypes() const {
  std::vector<std::string> ops;
  for (const auto& r : regs_)
    if (r.domain.empty()) ops.push_back(r.op_type);
  std::sort(ops.begin(), ops.end());
  ops.erase(std::unique(ops.begin(), ops.end()), ops.end());
  return ops;
}

}  // namespace tutti::cpu
