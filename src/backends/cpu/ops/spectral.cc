// Fourier transforms of audio front-ends (opset 17): DFT along one axis (forward or inverse,
// optional one-sided output and dft_length) and STFT (framed, optionally windowed, DFT per frame).
// Signals end in a dim of 1 (real) or 2 (complex). Direct O(n^2) sums in double precision: these
// run on short frames in the models that use them.
#include <cmath>
#include <complex>

#include "backends/cpu/ops/layout.h"

namespace tutti::cpu {
namespace {

using Cplx = std::complex<double>;

// Writes the double-precision result into the output in its own dtype.
Status StoreAs(const Tensor& d, Tensor& y) {
  TUTTI_ASSIGN_OR_RETURN(Tensor c, CastTensor(d, y.dtype()));
  std::memcpy(y.raw_data(), c.raw_data(), c.nbytes());
  return Status::Ok();
}

// out[k] = sum_t in[t] e^(-+2 pi i k t / n) for k < bins; `in` has n_in <= n values (zero padded).
void Dft(const std::vector<Cplx>& in, int64_t n, int64_t bins, bool inverse, std::vector<Cplx>& out) {
  out.assign(static_cast<size_t>(bins), Cplx(0, 0));
  const double sign = inverse ? 1.0 : -1.0;
  const int64_t m = std::min<int64_t>(n, static_cast<int64_t>(in.size()));
  for (int64_t k = 0; k < bins; ++k) {
    Cplx acc(0, 0);
    for (int64_t t = 0; t < m; ++t) {
      const double ang = sign * 2 * M_PI * static_cast<double>((k * t) % n) / static_cast<double>(n);
      acc += in[static_cast<size_t>(t)] * Cplx(std::cos(ang), std::sin(ang));
    }
    out[static_cast<size_t>(k)] = inverse ? acc / static_cast<double>(n) : acc;
  }
}

Status RunDftOp(int64_t axis_attr, bool inverse, bool onesided, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "input"));
  if (x->rank() < 3 || (x->dim(-1) != 1 && x->dim(-1) != 2))
    return InvalidArgument("input must be [batch, ..., 1 or 2], got ", x->DebugString());
  TUTTI_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(axis_attr, x->rank() - 1));
  if (axis == 0) return InvalidArgument("DFT axis must not be the batch axis");
  const size_t a = static_cast<size_t>(axis);
  int64_t n = x->dim(axis);
  if (const Tensor* len = ctx.input(1); len && len->num_elements() == 1) n = len->ElementAsInt64(0);
  if (n < 1) return InvalidArgument("dft_length ", n, " must be positive");
  const int64_t bins = onesided ? n / 2 + 1 : n;
  Shape out_shape = x->shape();
  out_shape[a] = bins;
  out_shape.back() = 2;
  TUTTI_ASSIGN_OR_RETURN(Tensor xd, CastTensor(*x, DataType::kFloat64));
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, out_shape, x->dtype()));
  TUTTI_ASSIGN_OR_RETURN(Tensor yd, Tensor::Allocate(DataType::kFloat64, out_shape));
  const int64_t comps = x->dim(-1), len_in = x->dim(axis);
  const int64_t outer = DimProduct(x->shape(), 0, a);
  const int64_t inner = DimProduct(x->shape(), a + 1, x->shape().size() - 1);
  const double* in = xd.data<double>();
  double* out = yd.data<double>();
  std::vector<Cplx> sig, spec;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      sig.assign(static_cast<size_t>(len_in), Cplx(0, 0));
      for (int64_t t = 0; t < len_in; ++t) {
        const double* p = in + ((o * len_in + t) * inner + i) * comps;
        sig[static_cast<size_t>(t)] = Cplx(p[0], comps == 2 ? p[1] : 0.0);
      }
      Dft(sig, n, bins, inverse, spec);
      for (int64_t k = 0; k < bins; ++k) {
        double* q = out + ((o * bins + k) * inner + i) * 2;
        q[0] = spec[static_cast<size_t>(k)].real();
        q[1] = spec[static_cast<size_t>(k)].imag();
      }
    }
  return StoreAs(yd, *y);
}

Status RunStft(bool onesided, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "signal"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* step_t, RequiredInput(ctx, 1, "frame_step"));
  const Tensor* window = ctx.input(2);
  const Tensor* len_t = ctx.input(3);
  if (x->rank() != 3 || (x->dim(2) != 1 && x->dim(2) != 2))
    return InvalidArgument("signal must be [batch, length, 1 or 2], got ", x->DebugString());
  if (step_t->num_elements() != 1) return InvalidArgument("frame_step must be a scalar, got ", step_t->DebugString());
  const int64_t step = step_t->ElementAsInt64(0);
  int64_t flen = window ? window->num_elements() : 0;
  if (len_t && len_t->num_elements() == 1) flen = len_t->ElementAsInt64(0);
  if (window && window->num_elements() != flen)
    return InvalidArgument("window has ", window->num_elements(), " values, frame_length is ", flen);
  const int64_t batch = x->dim(0), length = x->dim(1), comps = x->dim(2);
  if (step < 1 || flen < 1 || flen > length)
    return InvalidArgument("frame_step ", step, " / frame_length ", flen, " do not fit a signal of ", length);
  const int64_t frames = 1 + (length - flen) / step;
  const int64_t bins = onesided ? flen / 2 + 1 : flen;
  TUTTI_ASSIGN_OR_RETURN(Tensor xd, CastTensor(*x, DataType::kFloat64));
  Tensor wd;
  if (window) {
    TUTTI_ASSIGN_OR_RETURN(wd, CastTensor(*window, DataType::kFloat64));
  }
  const Shape out_shape{batch, frames, bins, 2};
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, out_shape, x->dtype()));
  TUTTI_ASSIGN_OR_RETURN(Tensor yd, Tensor::Allocate(DataType::kFloat64, out_shape));
  std::vector<Cplx> sig(static_cast<size_t>(flen)), spec;
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t f = 0; f < frames; ++f) {
      for (int64_t t = 0; t < flen; ++t) {
        const double* p = xd.data<double>() + (b * length + f * step + t) * comps;
        const double w = window ? wd.data<double>()[t] : 1.0;
        sig[static_cast<size_t>(t)] = Cplx(p[0], comps == 2 ? p[1] : 0.0) * w;
      }
      Dft(sig, flen, bins, false, spec);
      for (int64_t k = 0; k < bins; ++k) {
        double* q = yd.data<double>() + ((b * frames + f) * bins + k) * 2;
        q[0] = spec[static_cast<size_t>(k)].real();
        q[1] = spec[static_cast<size_t>(k)].imag();
      }
    }
  return StoreAs(yd, *y);
}

TUTTI_REGISTER_CPU_KERNEL(
    "DFT", "",
    [](const KernelBuildInfo& info) {
      const int64_t axis = info.node.GetInt("axis", 1);
      const bool inverse = info.node.GetInt("inverse", 0) != 0;
      const bool onesided = info.node.GetInt("onesided", 0) != 0;
      return MakeKernel([=](KernelContext& ctx) { return RunDftOp(axis, inverse, onesided, ctx); });
    },
    [](const Graph& g, const Node& n) { return RequireInputType(g, n, 0, FloatTypes{}); });
TUTTI_REGISTER_CPU_KERNEL(
    "STFT", "",
    [](const KernelBuildInfo& info) {
      const bool onesided = info.node.GetInt("onesided", 1) != 0;
      return MakeKernel([onesided](KernelContext& ctx) { return RunStft(onesided, ctx); });
    },
    [](const Graph& g, const Node& n) { return RequireInputType(g, n, 0, FloatTypes{}); });

}  // namespace
}  // namespace tutti::cpu
