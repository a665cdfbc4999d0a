// The classification losses PyTorch exports F.nll_loss / F.cross_entropy to:
// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (log-softmax over axis 1, then the same
// NLL). Per-class weights, ignore_index and the three reductions follow the ONNX reference: the
// mean divides by the summed weights of the targets that count (their number without weights).
#include <cmath>

#include "backends/cpu/ops/layout.h"

namespace tutti::cpu {
namespace {

enum class Red { kNone, kSum, kMean };

struct LossAttrs {
  Red red = Red::kMean;
  std::optional<int64_t> ignore;
};

template <typename T>
Status Nll(const LossAttrs& a, const T* logp, const Shape& in_shape, const Tensor& target, const Tensor* weight,
           KernelContext& ctx, DataType dt) {
  const int64_t N = in_shape[0], C = in_shape[1], D = DimProduct(in_shape, 2, in_shape.size());
  if (target.num_elements() != N * D) return InvalidArgument("target ", target.DebugString(), " does not fit the input");
  if (weight && weight->num_elements() != C) return InvalidArgument("weight must have ", C, " entries");
  const std::vector<int64_t> tg = target.ToInt64Vector();
  std::vector<T> loss(static_cast<size_t>(N * D));
  double wsum = 0, lsum = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t d = 0; d < D; ++d) {
      const int64_t t = tg[static_cast<size_t>(n * D + d)];
      T l = 0, w = 1;
      if (a.ignore && t == *a.ignore) {
        w = 0;
      } else {
        if (t < 0 || t >= C) return InvalidArgument("target ", t, " is out of range for ", C, " classes");
        if (weight) w = weight->data<T>()[t];
        l = -logp[(n * C + t) * D + d] * w;
      }
      loss[static_cast<size_t>(n * D + d)] = l;
      wsum += static_cast<double>(w);
      lsum += static_cast<double>(l);
    }
  if (a.red == Red::kNone) {
    TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, target.shape(), dt));
    std::copy(loss.begin(), loss.end(), y->data<T>());
    return Status::Ok();
  }
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, {}, dt));
  double v = lsum;
  if (a.red == Red::kMean) v = (weight || a.ignore) ? lsum / wsum : lsum / static_cast<double>(N * D);
  y->data<T>()[0] = static_cast<T>(v);
  return Status::Ok();
}

Status RunNll(const LossAttrs& a, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "input"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* t, RequiredInput(ctx, 1, "target"));
  if (x->rank() < 2) return InvalidArgument("input must be [N, C, ...], got ", x->DebugString());
  Status st = Status::Ok();
  bool known = DispatchType(FloatTypes{}, x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    st = Nll<T>(a, x->data<T>(), x->shape(), *t, ctx.input(2), ctx, x->dtype());
  });
  if (!known) return Unimplemented("NegativeLogLikelihoodLoss on ", DataTypeName(x->dtype()));
  return st;
}

Status RunSce(const LossAttrs& a, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "scores"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* t, RequiredInput(ctx, 1, "labels"));
  if (x->rank() < 2) return InvalidArgument("scores must be [N, C, ...], got ", x->DebugString());
  Status st = Status::Ok();
  bool known = DispatchType(FloatTypes{}, x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    const int64_t N = x->dim(0), C = x->dim(1), D = DimProduct(x->shape(), 2, x->shape().size());
    std::vector<T> logp(static_cast<size_t>(x->num_elements()));
    const T* in = x->data<T>();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t d = 0; d < D; ++d) {
        T mx = in[n * C * D + d];
        for (int64_t c = 1; c < C; ++c) mx = std::max(mx, in[(n * C + c) * D + d]);
        T sum = 0;
        for (int64_t c = 0; c < C; ++c) sum += std::exp(in[(n * C + c) * D + d] - mx);
        const T lse = std::log(sum);
        for (int64_t c = 0; c < C; ++c) {
          const int64_t i = (n * C + c) * D + d;
          logp[static_cast<size_t>(i)] = in[i] - mx - lse;
        }
      }
    st = Nll<T>(a, logp.data(), x->shape(), *t, ctx.input(2), ctx, x->dtype());
    if (st.ok() && ctx.output_wanted(1)) {
      Result<Tensor*> lp = ctx.AllocateOutput(1, x->shape(), x->dtype());
      if (!lp.ok()) {
        st = lp.status();
        return;
      }
      std::copy(logp.begin(), logp.end(), (*lp)->template data<T>());
    }
  });
  if (!known) return Unimplemented("SoftmaxCrossEntropyLoss on ", DataTypeName(x->dtype()));
  return st;
}

Result<LossAttrs> ReadLossAttrs(const Node& n) {
  LossAttrs a;
  const std::string r = n.GetString("reduction", "mean");
  if (r == "none") a.red = Red::kNone;
  else if (r == "sum") a.red = Red::kSum;
  else if (r == "mean") a.red = Red::kMean;
  else return InvalidArgument("reduction '", r, "'");
  if (n.HasAttr("ignore_index")) a.ignore = n.GetInt("ignore_index", 0);
  return a;
}

Status SupportsLoss(const Graph& g, const Node& n) {
  TUTTI_RETURN_IF_ERROR(ReadLossAttrs(n).status());
  TUTTI_RETURN_IF_ERROR(RequireInputType(g, n, 0, FloatTypes{}));
  return RequireInputType(g, n, 1, TypeList<int32_t, int64_t>{});
}

TUTTI_REGISTER_CPU_KERNEL(
    "NegativeLogLikelihoodLoss", "",
    [](const KernelBuildInfo& info) -> Result<std::unique_ptr<CpuKernel>> {
      TUTTI_ASSIGN_OR_RETURN(LossAttrs a, ReadLossAttrs(info.node));
      return MakeKernel([a](KernelContext& ctx) { return RunNll(a, ctx); });
    },
    SupportsLoss);
TUTTI_REGISTER_CPU_KERNEL(
    "SoftmaxCrossEntropyLoss", "",
    [](const KernelBuildInfo& info) -> Result<std::unique_ptr<CpuKernel>> {
      TUTTI_ASSIGN_OR_RETURN(LossAttrs a, ReadLossAttrs(info.node));
      return MakeKernel([a](KernelContext& ctx) { return RunSce(a, ctx); });
    },
    SupportsLoss);

}  // namespace
}  // namespace tutti::cpu
