// Det: determinants of the trailing square matrices, by LU decomposition with partial pivoting in
// double precision.
#include <cmath>

#include "backends/cpu/ops/layout.h"

namespace tutti::cpu {
namespace {

Status RunDet(KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  if (x->rank() < 2 || x->dim(-1) != x->dim(-2)) return InvalidArgument("Det needs [*, M, M], got ", x->DebugString());
  const int64_t m = x->dim(-1);
  Shape ys(x->shape().begin(), x->shape().end() - 2);
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, ys, x->dtype()));
  TUTTI_ASSIGN_OR_RETURN(Tensor xd, CastTensor(*x, DataType::kFloat64));
  const int64_t count = NumElements(ys);
  std::vector<double> a(static_cast<size_t>(m * m));
  std::vector<double> dets(static_cast<size_t>(count));
  for (int64_t b = 0; b < count; ++b) {
    std::copy_n(xd.data<double>() + b * m * m, m * m, a.begin());
    double det = 1;
    for (int64_t c = 0; c < m && det != 0; ++c) {
      int64_t piv = c;
      for (int64_t r = c + 1; r < m; ++r)
        if (std::abs(a[static_cast<size_t>(r * m + c)]) > std::abs(a[static_cast<size_t>(piv * m + c)])) piv = r;
      if (a[static_cast<size_t>(piv * m + c)] == 0) {
        det = 0;
        break;
      }
      if (piv != c) {
        for (int64_t k = 0; k < m; ++k) std::swap(a[static_cast<size_t>(c * m + k)], a[static_cast<size_t>(piv * m + k)]);
        det = -det;
      }
      const double p = a[static_cast<size_t>(c * m + c)];
      det *= p;
      for (int64_t r = c + 1; r < m; ++r) {
        const double f = a[static_cast<size_t>(r * m + c)] / p;
        for (int64_t k = c; k < m; ++k) a[static_cast<size_t>(r * m + k)] -= f * a[static_cast<size_t>(c * m + k)];
      }
    }
    dets[static_cast<size_t>(b)] = det;
  }
  Tensor dt = Tensor::Wrap(DataType::kFloat64, ys, dets.data(), nullptr);
  TUTTI_ASSIGN_OR_RETURN(Tensor cast, CastTensor(dt, x->dtype()));
  std::memcpy(y->raw_data(), cast.raw_data(), cast.nbytes());
  return Status::Ok();
}

TUTTI_REGISTER_CPU_KERNEL(
    "Det", "", [](const KernelBuildInfo&) { return MakeKernel(RunDet); },
    [](const Graph& g, const Node& n) { return RequireInputType(g, n, 0, FloatTypes{}); });

}  // namespace
}  // namespace tutti::cpu
