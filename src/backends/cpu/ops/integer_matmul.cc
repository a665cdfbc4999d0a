// Integer matrix products of quantised models: MatMulInteger (int32 accumulation with zero
// points) and QLinearMatMul (requantised uint8/int8 output). Both take NumPy matmul's batched and
// broadcast shapes. Accumulation is exact in int32, requantisation rounds half to even and
// saturates, as the ONNX spec states.
#include <cmath>
#include <limits>

#include "backends/cpu/ops/broadcast.h"

namespace tutti::cpu {
namespace {

// Shapes of a NumPy matmul: promotes 1-D operands, broadcasts the batch dims.
struct MatMulShape {
  Shape out;                 // final output shape (1-D promotions removed)
  Shape batch;               // broadcast batch dims
  int64_t m = 0, k = 0, n = 0;
  Shape a_batch, b_batch;    // each operand's own batch dims
};

Result<MatMulShape> PlanMatMul(const Shape& a0, const Shape& b0) {
  if (a0.empty() || b0.empty()) return InvalidArgument("matmul operands must have rank >= 1");
  Shape a = a0, b = b0;
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (b.size() == 1) b.push_back(1);
  MatMulShape p;
  p.m = a[a.size() - 2];
  p.k = a.back();
  p.n = b.back();
  if (b[b.size() - 2] != p.k)
    return InvalidArgument("matmul of ", ShapeToString(a0), " and ", ShapeToString(b0), ": inner dims differ");
  p.a_batch.assign(a.begin(), a.end() - 2);
  p.b_batch.assign(b.begin(), b.end() - 2);
  const Shape shapes[] = {p.a_batch, p.b_batch};
  TUTTI_ASSIGN_OR_RETURN(p.batch, BroadcastShapes(shapes));
  p.out = p.batch;
  if (a0.size() > 1) p.out.push_back(p.m);
  if (b0.size() > 1) p.out.push_back(p.n);
  return p;
}

// Offset of batch index `i` (of the broadcast batch) in an operand with batch dims `own`.
int64_t BatchOffset(const Shape& batch, const Shape& own, int64_t i) {
  int64_t off = 0, stride = 1;
  for (size_t j = 0; j < batch.size(); ++j) {
    const size_t d = batch.size() - 1 - j;
    const int64_t coord = i % batch[d];
    i /= batch[d];
    if (j < own.size()) {
      const int64_t od = own[own.size() - 1 - j];
      if (od != 1) off += coord * stride;
      stride *= od;
    }
  }
  return off;
}

// Zero point of a scalar or of a per-row (A: per M) / per-column (B: per N) vector.
Result<std::vector<int32_t>> ZeroPoints(const Tensor* zp, int64_t count) {
  if (!zp) return std::vector<int32_t>(1, 0);
  std::vector<int64_t> v = zp->ToInt64Vector();
  if (v.size() != 1 && static_cast<int64_t>(v.size()) != count)
    return InvalidArgument("zero point ", zp->DebugString(), " must be a scalar or have ", count, " entries");
  return std::vector<int32_t>(v.begin(), v.end());
}

// int32 product C = (A - za) (B - zb) over all batches.
Status IntegerProduct(const Tensor& a, const Tensor& b, const std::vector<int32_t>& za, const std::vector<int32_t>& zb,
                      const MatMulShape& p, std::vector<int32_t>& c) {
  const std::vector<int64_t> av = a.ToInt64Vector(), bv = b.ToInt64Vector();
  const int64_t batches = NumElements(p.batch);
  c.assign(static_cast<size_t>(batches * p.m * p.n), 0);
  for (int64_t bi = 0; bi < batches; ++bi) {
    const int64_t ao = BatchOffset(p.batch, p.a_batch, bi) * p.m * p.k;
    const int64_t bo = BatchOffset(p.batch, p.b_batch, bi) * p.k * p.n;
    for (int64_t i = 0; i < p.m; ++i)
      for (int64_t j = 0; j < p.n; ++j) {
        const int32_t zai = za[za.size() == 1 ? 0 : static_cast<size_t>(i)];
        const int32_t zbj = zb[zb.size() == 1 ? 0 : static_cast<size_t>(j)];
        int32_t acc = 0;
        for (int64_t q = 0; q < p.k; ++q)
          acc += (static_cast<int32_t>(av[static_cast<size_t>(ao + i * p.k + q)]) - zai) *
                 (static_cast<int32_t>(bv[static_cast<size_t>(bo + q * p.n + j)]) - zbj);
        c[static_cast<size_t>((bi * p.m + i) * p.n + j)] = acc;
      }
  }
  return Status::Ok();
}

Status RunMatMulInteger(KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* a, RequiredInput(ctx, 0, "A"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* b, RequiredInput(ctx, 1, "B"));
  TUTTI_ASSIGN_OR_RETURN(MatMulShape p, PlanMatMul(a->shape(), b->shape()));
  TUTTI_ASSIGN_OR_RETURN(std::vector<int32_t> za, ZeroPoints(ctx.input(2), p.m));
  TUTTI_ASSIGN_OR_RETURN(std::vector<int32_t> zb, ZeroPoints(ctx.input(3), p.n));
  std::vector<int32_t> c;
  TUTTI_RETURN_IF_ERROR(IntegerProduct(*a, *b, za, zb, p, c));
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, p.out, DataType::kInt32));
  std::copy(c.begin(), c.end(), y->data<int32_t>());
  return Status::Ok();
}

// QLinearMatMul(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp).
Status RunQLinearMatMul(KernelContext& ctx) {
  const char* names[] = {"a", "a_scale", "a_zero_point", "b", "b_scale", "b_zero_point", "y_scale", "y_zero_point"};
  const Tensor* in[8];
  for (size_t i = 0; i < 8; ++i) {
    TUTTI_ASSIGN_OR_RETURN(in[i], RequiredInput(ctx, i, names[i]));
  }
  TUTTI_ASSIGN_OR_RETURN(MatMulShape p, PlanMatMul(in[0]->shape(), in[3]->shape()));
  TUTTI_ASSIGN_OR_RETURN(std::vector<int32_t> za, ZeroPoints(in[2], p.m));
  TUTTI_ASSIGN_OR_RETURN(std::vector<int32_t> zb, ZeroPoints(in[5], p.n));
  std::vector<int32_t> c;
  TUTTI_RETURN_IF_ERROR(IntegerProduct(*in[0], *in[3], za, zb, p, c));
  TUTTI_ASSIGN_OR_RETURN(Tensor sa, CastTensor(*in[1], DataType::kFloat32));
  TUTTI_ASSIGN_OR_RETURN(Tensor sb, CastTensor(*in[4], DataType::kFloat32));
  TUTTI_ASSIGN_OR_RETURN(Tensor sy, CastTensor(*in[6], DataType::kFloat32));
  if (sy.num_elements() != 1 || in[7]->num_elements() != 1) return Unimplemented("per-axis y scale in QLinearMatMul");
  if ((sa.num_elements() != 1 && sa.num_elements() != p.m) || (sb.num_elements() != 1 && sb.num_elements() != p.n))
    return InvalidArgument("a_scale / b_scale must be scalars or have ", p.m, " / ", p.n, " entries");
  const DataType out_dt = in[7]->dtype();
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, p.out, out_dt));
  const float ys = sy.data<float>()[0];
  const float yz = static_cast<float>(in[7]->ElementAsInt64(0));
  bool known = DispatchType(TypeList<uint8_t, int8_t>{}, out_dt, [&](auto tag) {
    using T = decltype(tag);
    constexpr float lo = std::numeric_limits<T>::min(), hi = std::numeric_limits<T>::max();
    T* o = y->data<T>();
    for (size_t idx = 0; idx < c.size(); ++idx) {
      const int64_t i = static_cast<int64_t>(idx / static_cast<size_t>(p.n)) % p.m, j = static_cast<int64_t>(idx) % p.n;
      const float s = sa.data<float>()[sa.num_elements() == 1 ? 0 : i] * sb.data<float>()[sb.num_elements() == 1 ? 0 : j];
      o[idx] = static_cast<T>(std::clamp(std::nearbyint(static_cast<float>(c[idx]) * s / ys) + yz, lo, hi));
    }
  });
  if (!known) return Unimplemented("QLinearMatMul to ", DataTypeName(out_dt));
  return Status::Ok();
}

using Int8Types = TypeList<uint8_t, int8_t>;

TUTTI_REGISTER_CPU_KERNEL(
    "MatMulInteger", "", [](const KernelBuildInfo&) { return MakeKernel(RunMatMulInteger); },
    [](const Graph& g, const Node& n) -> Status {
      TUTTI_RETURN_IF_ERROR(RequireInputType(g, n, 0, Int8Types{}));
      return RequireInputType(g, n, 1, Int8Types{});
    });
TUTTI_REGISTER_CPU_KERNEL(
    "QLinearMatMul", "", [](const KernelBuildInfo&) { return MakeKernel(RunQLinearMatMul); },
    [](const Graph& g, const Node& n) -> Status {
      TUTTI_RETURN_IF_ERROR(RequireInputType(g, n, 0, Int8Types{}));
      TUTTI_RETURN_IF_ERROR(RequireInputType(g, n, 3, Int8Types{}));
      return RequireInputType(g, n, 7, Int8Types{});
    });

}  // namespace
}  // namespace tutti::cpu
