// Window generators of audio front-ends (opset 17): HannWindow HammingWindow BlackmanWindow.
// The output is 1-D of the given size; `periodic` picks N (periodic) or N - 1 (symmetric) as the
// denominator, as the ONNX spec defines them.
#include <cmath>

#include "backends/cpu/ops/kernel_util.h"

namespace tutti::cpu {
namespace {

enum class Window { kHann, kHamming, kBlackman };

Status RunWindow(Window w, bool periodic, DataType dt, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* size_t_, RequiredInput(ctx, 0, "size"));
  if (size_t_->num_elements() != 1) return InvalidArgument("size must be a scalar, got ", size_t_->DebugString());
  const int64_t n = size_t_->ElementAsInt64(0);
  if (n < 0) return InvalidArgument("window size ", n, " is negative");
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, {n}, dt));
  const double denom = periodic ? static_cast<double>(n) : static_cast<double>(n - 1);
  bool known = DispatchType(NumericTypes{}, dt, [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < n; ++i) {
      const double k = 2 * M_PI * static_cast<double>(i) / denom;
      double v;
      switch (w) {
        case Window::kHann: v = 0.5 - 0.5 * std::cos(k); break;
        case Window::kHamming: v = 25.0 / 46.0 - 21.0 / 46.0 * std::cos(k); break;
        default: v = 0.42 - 0.5 * std::cos(k) + 0.08 * std::cos(2 * k); break;
      }
      y->data<T>()[i] = static_cast<T>(v);
    }
  });
  if (!known) return Unimplemented("window of ", DataTypeName(dt));
  return Status::Ok();
}

Result<std::unique_ptr<CpuKernel>> MakeWindow(Window w, const KernelBuildInfo& info) {
  const bool periodic = info.node.GetInt("periodic", 1) != 0;
  const DataType dt = static_cast<DataType>(info.node.GetInt("output_datatype", 1));
  return MakeKernel([=](KernelContext& ctx) { return RunWindow(w, periodic, dt, ctx); });
}

Status SupportsWindow(const Graph& g, const Node& n) {
  const DataType dt = static_cast<DataType>(n.GetInt("output_datatype", 1));
  if (!TypeListContains(NumericTypes{}, dt)) return Unimplemented(n.op_type, " of ", DataTypeName(dt));
  return RequireInputType(g, n, 0, TypeList<int32_t, int64_t>{});
}

TUTTI_REGISTER_CPU_KERNEL(
    "HannWindow", "", [](const KernelBuildInfo& info) { return MakeWindow(Window::kHann, info); }, SupportsWindow);
TUTTI_REGISTER_CPU_KERNEL(
    "HammingWindow", "", [](const KernelBuildInfo& info) { return MakeWindow(Window::kHamming, info); }, SupportsWindow);
TUTTI_REGISTER_CPU_KERNEL(
    "BlackmanWindow", "", [](const KernelBuildInfo& info) { return MakeWindow(Window::kBlackman, info); },
    SupportsWindow);

}  // namespace
}  // namespace tutti::cpu
