// Operators that change only the shape: Reshape Flatten Squeeze Unsqueeze Identity Dropout
// (inference), plus Expand. The shape rules are ONNX's; the data is copied unless the executable
// let the output share input 0's storage (output0_may_alias_input0), which makes them free.
// Axes come as input 1 (the loader's normal form, model/opset_normalize.h).
#include "backends/cpu/ops/broadcast.h"
#include "backends/cpu/ops/layout.h"

namespace tutti::cpu {
namespace {

Status WriteReshaped(KernelContext& ctx, const Tensor& x, const Shape& shape) {
  if (NumElements(shape) != x.num_elements())
    return InvalidArgument("cannot reshape ", x.DebugString(), " to ", ShapeToString(shape));
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, shape, x.dtype()));
  CopyIfDistinct(x, *y);
  return Status::Ok();
}

// ONNX Reshape: 0 keeps the input dim (unless allowzero), one -1 is inferred.
Result<Shape> ReshapeTarget(const Shape& in, const std::vector<int64_t>& spec, bool allowzero) {
  Shape out(spec.size());
  int64_t known = 1;
  int infer = -1;
  for (size_t i = 0; i < spec.size(); ++i) {
    int64_t d = spec[i];
    if (d == -1) {
      if (infer >= 0) return InvalidArgument("shape ", ShapeToString(spec), " has more than one -1");
      infer = static_cast<int>(i);
      continue;
    }
    if (d == 0 && !allowzero) {
      if (i >= in.size()) return InvalidArgument("shape ", ShapeToString(spec), " copies dim ", i, " that the input lacks");
      d = in[i];
    }
    if (d < 0) return InvalidArgument("shape ", ShapeToString(spec), " has a negative dim");
    out[i] = d;
    known *= d;
  }
  if (infer >= 0) {
    const int64_t total = NumElements(in);
    if (known == 0 || total % known != 0)
      return InvalidArgument("cannot infer the -1 of shape ", ShapeToString(spec), " for ", total, " elements");
    out[static_cast<size_t>(infer)] = total / known;
  }
  return out;
}

Result<std::unique_ptr<CpuKernel>> MakeReshape(const KernelBuildInfo& info) {
  const bool allowzero = info.node.GetInt("allowzero", 0) != 0;
  return MakeKernel(
      [allowzero](KernelContext& ctx) -> Status {
        TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "data"));
        TUTTI_ASSIGN_OR_RETURN(const Tensor* s, RequiredInput(ctx, 1, "shape"));
        if (s->dtype() != DataType::kInt64) return InvalidArgument("shape must be int64, got ", DataTypeName(s->dtype()));
        TUTTI_ASSIGN_OR_RETURN(Shape out, ReshapeTarget(x->shape(), s->ToInt64Vector(), allowzero));
        return WriteReshaped(ctx, *x, out);
      },
      true);
}

Result<std::unique_ptr<CpuKernel>> MakeFlatten(const KernelBuildInfo& info) {
  const int64_t axis = info.node.GetInt("axis", 1);
  return MakeKernel(
      [axis](KernelContext& ctx) -> Status {
        TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "input"));
        TUTTI_ASSIGN_OR_RETURN(int64_t a, NormalizeAxis(axis, x->rank(), true));
        const size_t split = static_cast<size_t>(a);
        const Shape s{DimProduct(x->shape(), 0, split), DimProduct(x->shape(), split, x->shape().size())};
        return WriteReshaped(ctx, *x, s);
      },
      true);
}

Status RunSqueeze(KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "data"));
  TUTTI_ASSIGN_OR_RETURN(OptionalInts axes, IntsFromInputOrAttr(ctx, 1, std::nullopt, "axes"));
  Shape out;
  if (!axes) {
    for (int64_t d : x->shape())
      if (d != 1) out.push_back(d);
  } else {
    TUTTI_ASSIGN_OR_RETURN(std::vector<int64_t> ax, NormalizeAxes(*axes, x->rank()));
    for (int64_t d = 0; d < x->rank(); ++d) {
      if (std::binary_search(ax.begin(), ax.end(), d)) {
        if (x->dim(d) != 1) return InvalidArgument("cannot squeeze dim ", d, " of ", x->DebugString(), ": it is not 1");
      } else {
        out.push_back(x->dim(d));
      }
    }
  }
  return WriteReshaped(ctx, *x, out);
}

Status RunUnsqueeze(KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "data"));
  TUTTI_ASSIGN_OR_RETURN(OptionalInts axes, IntsFromInputOrAttr(ctx, 1, std::nullopt, "axes"));
  if (!axes) return InvalidArgument("Unsqueeze needs axes");
  const int64_t rank = x->rank() + static_cast<int64_t>(axes->size());
  TUTTI_ASSIGN_OR_RETURN(std::vector<int64_t> ax, NormalizeAxes(*axes, rank));
  Shape out;
  size_t next = 0;
  for (int64_t d = 0; d < rank; ++d) {
    if (std::binary_search(ax.begin(), ax.end(), d)) {
      out.push_back(1);
    } else {
      out.push_back(x->shape()[next++]);
    }
  }
  return WriteReshaped(ctx, *x, out);
}

Status RunIdentity(KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "input"));
  return WriteReshaped(ctx, *x, x->shape());
}

// Inference Dropout is the identity; the optional mask is all true (nothing dropped).
Status RunDropout(KernelContext& ctx) {
  TUTTI_RETURN_IF_ERROR(RunIdentity(ctx));
  if (ctx.output_count() > 1 && ctx.output_wanted(1)) {
    TUTTI_ASSIGN_OR_RETURN(Tensor * mask, ctx.AllocateOutput(1, ctx.input(0)->shape(), DataType::kBool));
    std::fill_n(mask->data<bool>(), mask->num_elements(), true);
  }
  return Status::Ok();
}

Status SupportsDropout(const Graph& g, const Node& n) {
  TUTTI_RETURN_IF_ERROR(RequireFixedSizeInput(g, n, 0));
  if (n.HasInput(2)) {
    const Value& mode = g.value(n.inputs[2]);
    if (!mode.is_constant() || mode.constant.num_elements() != 1 || mode.constant.ElementAsDouble(0) != 0)
      return Unimplemented("Dropout in training mode (only inference is supported)");
  }
  return Status::Ok();
}

Status RunExpand(KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "input"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* s, RequiredInput(ctx, 1, "shape"));
  if (s->dtype() != DataType::kInt64) return InvalidArgument("shape must be int64, got ", DataTypeName(s->dtype()));
  const Shape shapes[] = {x->shape(), s->ToInt64Vector()};
  TUTTI_ASSIGN_OR_RETURN(Shape out_shape, BroadcastShapes(shapes));
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, out_shape, x->dtype()));
  BroadcastCopy(*x, *y);
  return Status::Ok();
}

Status AnyFixedSize(const Graph& g, const Node& n) { return RequireFixedSizeInput(g, n, 0); }
// Identity also passes sequences and optionals through in ONNX; those have no tensor dtype here.
Status TensorIdentity(const Graph& g, const Node& n) {
  if (InputDType(g, n, 0) == DataType::kUndefined) return Unimplemented("Identity on a non-tensor value");
  return RequireFixedSizeInput(g, n, 0);
}

TUTTI_REGISTER_CPU_KERNEL("Reshape", "", MakeReshape, AnyFixedSize);
TUTTI_REGISTER_CPU_KERNEL("Flatten", "", MakeFlatten, AnyFixedSize);
TUTTI_REGISTER_CPU_KERNEL(
    "Squeeze", "", [](const KernelBuildInfo&) { return MakeKernel(RunSqueeze, true); }, AnyFixedSize);
TUTTI_REGISTER_CPU_KERNEL(
    "Unsqueeze", "", [](const KernelBuildInfo&) { return MakeKernel(RunUnsqueeze, true); }, AnyFixedSize);
TUTTI_REGISTER_CPU_KERNEL(
    "Identity", "", [](const KernelBuildInfo&) { return MakeKernel(RunIdentity, true); }, TensorIdentity);
TUTTI_REGISTER_CPU_KERNEL(
    "Dropout", "", [](const KernelBuildInfo&) { return MakeKernel(RunDropout, true); }, SupportsDropout);
TUTTI_REGISTER_CPU_KERNEL(
    "Expand", "", [](const KernelBuildInfo&) { return MakeKernel(RunExpand); }, AnyFixedSize);

}  // namespace
}  // namespace tutti::cpu
