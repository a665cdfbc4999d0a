// Window and filter-bank generators of audio front-ends (opset 17): HannWindow HammingWindow
// BlackmanWindow, and MelWeightMatrix. A window is 1-D of the given size; `periodic` picks N
// (periodic) or N - 1 (symmetric) as the denominator, as the ONNX spec defines them.
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

// MelWeightMatrix(num_mel_bins, dft_length, sample_rate, lower_edge_hertz, upper_edge_hertz):
// [dft_length/2 + 1, num_mel_bins] triangular filters on the mel scale, computed as ONNX's
// reference does (band edges floored to DFT bins).
Status RunMelWeightMatrix(DataType dt, KernelContext& ctx) {
  double v[5];
  const char* names[] = {"num_mel_bins", "dft_length", "sample_rate", "lower_edge_hertz", "upper_edge_hertz"};
  for (size_t i = 0; i < 5; ++i) {
    TUTTI_ASSIGN_OR_RETURN(const Tensor* t, RequiredInput(ctx, i, names[i]));
    TUTTI_ASSIGN_OR_RETURN(v[i], ScalarInput(*t, names[i]));
  }
  const int64_t mels = static_cast<int64_t>(v[0]), dft = static_cast<int64_t>(v[1]);
  const double rate = v[2];
  if (mels < 1 || dft < 1 || rate <= 0) return InvalidArgument("MelWeightMatrix needs positive sizes and sample rate");
  const int64_t spec_bins = dft / 2 + 1;
  auto to_mel = [](double hz) { return 2595 * std::log10(1 + hz / 700); };
  const double lo = to_mel(v[3]), hi = to_mel(v[4]);
  const double step = (hi - lo) / static_cast<double>(mels + 2);
  std::vector<int64_t> edge(static_cast<size_t>(mels + 2));
  for (int64_t i = 0; i < mels + 2; ++i) {
    const double hz = 700 * (std::pow(10.0, (static_cast<double>(i) * step + lo) / 2595) - 1);
    edge[static_cast<size_t>(i)] = static_cast<int64_t>(std::floor(static_cast<double>(dft + 1) * hz / rate));
  }
  std::vector<double> w(static_cast<size_t>(spec_bins * mels), 0.0);
  auto at = [&](int64_t j, int64_t i) -> Result<double*> {
    if (j < 0 || j >= spec_bins) return InvalidArgument("mel band edge ", j, " is outside ", spec_bins, " DFT bins");
    return &w[static_cast<size_t>(j * mels + i)];
  };
  for (int64_t i = 0; i < mels; ++i) {
    const int64_t l = edge[static_cast<size_t>(i)], c = edge[static_cast<size_t>(i + 1)], h = edge[static_cast<size_t>(i + 2)];
    if (c == l) {
      TUTTI_ASSIGN_OR_RETURN(double* p, at(c, i));
      *p = 1;
    } else {
      for (int64_t j = l; j <= c; ++j) {
        TUTTI_ASSIGN_OR_RETURN(double* p, at(j, i));
        *p = static_cast<double>(j - l) / static_cast<double>(c - l);
      }
    }
    for (int64_t j = c; j < h; ++j) {
      TUTTI_ASSIGN_OR_RETURN(double* p, at(j, i));
      *p = static_cast<double>(h - j) / static_cast<double>(h - c);
    }
  }
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, {spec_bins, mels}, dt));
  bool known = DispatchType(NumericTypes{}, dt, [&](auto tag) {
    using T = decltype(tag);
    for (size_t i = 0; i < w.size(); ++i) y->data<T>()[i] = static_cast<T>(w[i]);
  });
  if (!known) return Unimplemented("MelWeightMatrix of ", DataTypeName(dt));
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

TUTTI_REGISTER_CPU_KERNEL(
    "MelWeightMatrix", "",
    [](const KernelBuildInfo& info) {
      const DataType dt = static_cast<DataType>(info.node.GetInt("output_datatype", 1));
      return MakeKernel([dt](KernelContext& ctx) { return RunMelWeightMatrix(dt, ctx); });
    },
    [](const Graph&, const Node& n) -> Status {
      const DataType dt = static_cast<DataType>(n.GetInt("output_datatype", 1));
      if (!TypeListContains(NumericTypes{}, dt)) return Unimplemented("MelWeightMatrix of ", DataTypeName(dt));
      return Status::Ok();
    });

}  // namespace
}  // namespace tutti::cpu
