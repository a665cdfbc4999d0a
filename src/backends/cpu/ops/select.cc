// Element selection and arrangement by a mask or per-batch lengths, and the identity-matrix
// generator: Compress ReverseSequence EyeLike. All move whole elements, so any fixed-size dtype.
#include "backends/cpu/ops/layout.h"

namespace tutti::cpu {
namespace {

// Compress(input, condition, axis?): the slices along `axis` whose condition is true (the
// flattened input without an axis). A condition shorter than the axis selects only from its length.
Status RunCompress(std::optional<int64_t> axis_attr, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "input"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* c, RequiredInput(ctx, 1, "condition"));
  if (c->dtype() != DataType::kBool) return InvalidArgument("condition must be bool, got ", DataTypeName(c->dtype()));
  Shape xs = x->shape();
  int64_t axis = 0;
  if (axis_attr) {
    TUTTI_ASSIGN_OR_RETURN(axis, NormalizeAxis(*axis_attr, x->rank()));
  } else {
    xs = {x->num_elements()};
  }
  const size_t a = static_cast<size_t>(axis);
  if (c->num_elements() > xs[a])
    return InvalidArgument("condition has ", c->num_elements(), " entries, the axis only ", xs[a]);
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < c->num_elements(); ++i)
    if (c->data<bool>()[i]) keep.push_back(i);
  Shape out_shape = xs;
  out_shape[a] = static_cast<int64_t>(keep.size());
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, out_shape, x->dtype()));
  const int64_t outer = DimProduct(xs, 0, a), n = xs[a], inner = DimProduct(xs, a + 1, xs.size());
  const size_t es = DataTypeSize(x->dtype()), row = static_cast<size_t>(inner) * es;
  const std::byte* src = static_cast<const std::byte*>(x->raw_data());
  std::byte* dst = static_cast<std::byte*>(y->raw_data());
  for (int64_t o = 0; o < outer; ++o)
    for (size_t j = 0; j < keep.size(); ++j)
      std::memcpy(dst + (static_cast<size_t>(o) * keep.size() + j) * row,
                  src + static_cast<size_t>(o * n + keep[j]) * row, row);
  return Status::Ok();
}

// ReverseSequence(input, sequence_lens): for batch entry b, its first lens[b] steps along
// time_axis are reversed, the rest copied.
Status RunReverseSequence(int64_t batch_axis, int64_t time_axis, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "input"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* lens_t, RequiredInput(ctx, 1, "sequence_lens"));
  if (x->rank() < 2 || (batch_axis != 0 && batch_axis != 1) || (time_axis != 0 && time_axis != 1) ||
      batch_axis == time_axis)
    return InvalidArgument("batch_axis ", batch_axis, " and time_axis ", time_axis, " must be 0 and 1 of a rank >= 2 input");
  const int64_t batch = x->dim(batch_axis), steps = x->dim(time_axis);
  const std::vector<int64_t> lens = lens_t->ToInt64Vector();
  if (static_cast<int64_t>(lens.size()) != batch)
    return InvalidArgument("sequence_lens has ", lens.size(), " entries for a batch of ", batch);
  for (int64_t l : lens)
    if (l < 0 || l > steps) return InvalidArgument("sequence length ", l, " is outside [0, ", steps, "]");
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, x->shape(), x->dtype()));
  const int64_t inner = DimProduct(x->shape(), 2, x->shape().size());
  const size_t row = static_cast<size_t>(inner) * DataTypeSize(x->dtype());
  const int64_t bstride = batch_axis == 0 ? x->dim(1) : 1, tstride = time_axis == 0 ? x->dim(1) : 1;
  const std::byte* src = static_cast<const std::byte*>(x->raw_data());
  std::byte* dst = static_cast<std::byte*>(y->raw_data());
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t t = 0; t < steps; ++t) {
      const int64_t from = t < lens[static_cast<size_t>(b)] ? lens[static_cast<size_t>(b)] - 1 - t : t;
      std::memcpy(dst + static_cast<size_t>(b * bstride + t * tstride) * row,
                  src + static_cast<size_t>(b * bstride + from * tstride) * row, row);
    }
  return Status::Ok();
}

// EyeLike(input): a 2-D tensor of input's shape with ones on diagonal k; dtype attribute or input's.
Status RunEyeLike(DataType dtype_attr, int64_t k, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "input"));
  if (x->rank() != 2) return InvalidArgument("EyeLike needs a 2-D input, got ", x->DebugString());
  const DataType dt = dtype_attr == DataType::kUndefined ? x->dtype() : dtype_attr;
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, x->shape(), dt));
  bool known = DispatchType(NumericBoolTypes{}, dt, [&](auto tag) {
    using T = decltype(tag);
    T* o = y->data<T>();
    const int64_t rows = x->dim(0), cols = x->dim(1);
    std::fill_n(o, rows * cols, T(0));
    for (int64_t r = 0; r < rows; ++r)
      if (r + k >= 0 && r + k < cols) o[r * cols + r + k] = T(1);
  });
  if (!known) return Unimplemented("EyeLike of ", DataTypeName(dt));
  return Status::Ok();
}

TUTTI_REGISTER_CPU_KERNEL(
    "Compress", "",
    [](const KernelBuildInfo& info) {
      std::optional<int64_t> axis;
      if (info.node.HasAttr("axis")) axis = info.node.GetInt("axis", 0);
      return MakeKernel([axis](KernelContext& ctx) { return RunCompress(axis, ctx); });
    },
    [](const Graph& g, const Node& n) -> Status {
      TUTTI_RETURN_IF_ERROR(RequireFixedSizeInput(g, n, 0));
      return RequireInputType(g, n, 1, BoolTypes{});
    });
TUTTI_REGISTER_CPU_KERNEL(
    "ReverseSequence", "",
    [](const KernelBuildInfo& info) {
      const int64_t b = info.node.GetInt("batch_axis", 1);
      const int64_t t = info.node.GetInt("time_axis", 0);
      return MakeKernel([b, t](KernelContext& ctx) { return RunReverseSequence(b, t, ctx); });
    },
    [](const Graph& g, const Node& n) -> Status {
      TUTTI_RETURN_IF_ERROR(RequireFixedSizeInput(g, n, 0));
      return RequireInputType(g, n, 1, TypeList<int32_t, int64_t>{});
    });
TUTTI_REGISTER_CPU_KERNEL(
    "EyeLike", "",
    [](const KernelBuildInfo& info) {
      const DataType dt = static_cast<DataType>(info.node.GetInt("dtype", 0));
      const int64_t k = info.node.GetInt("k", 0);
      return MakeKernel([dt, k](KernelContext& ctx) { return RunEyeLike(dt, k, ctx); });
    },
    [](const Graph& g, const Node& n) -> Status {
      const auto dt = static_cast<DataType>(n.GetInt("dtype", 0));
      if (dt != DataType::kUndefined && !TypeListContains(NumericBoolTypes{}, dt))
        return Unimplemented("EyeLike of ", DataTypeName(dt));
      return RequireFixedSizeInput(g, n, 0);
    });

}  // namespace
}  // namespace tutti::cpu
