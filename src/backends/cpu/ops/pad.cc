// Pad in the loader's normal form: Pad(data, pads, constant_value?, axes?) with mode constant,
// reflect or edge (wrap, opset 19, is refused). Negative pads crop.
//
// Each output dim gets an index map (output coordinate -> input coordinate, or -1 for the constant
// border), computed once; every output row then is either all constant (an outer coordinate in the
// border) or a gather through the innermost map, whose middle stretch is a memcpy.
#include "backends/cpu/ops/layout.h"

namespace tutti::cpu {
namespace {

enum class PadMode { kConstant, kReflect, kEdge };

Result<PadMode> ParsePadMode(const std::string& m) {
  if (m == "constant") return PadMode::kConstant;
  if (m == "reflect") return PadMode::kReflect;
  if (m == "edge") return PadMode::kEdge;
  return Unimplemented("Pad mode '", m, "'");
}

// Input coordinate for output coordinate j of a dim padded by `before`, or -1 (constant border).
int64_t SourceIndex(int64_t j, int64_t before, int64_t n, PadMode mode) {
  int64_t i = j - before;
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case PadMode::kConstant: return -1;
    case PadMode::kEdge: return i < 0 ? 0 : n - 1;
    case PadMode::kReflect:
      if (n == 1) return 0;
      while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
      return i;
  }
  return -1;
}

Status RunPad(PadMode mode, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "data"));
  TUTTI_ASSIGN_OR_RETURN(OptionalInts pads_in, IntsFromInputOrAttr(ctx, 1, std::nullopt, "pads"));
  TUTTI_ASSIGN_OR_RETURN(OptionalInts axes_in, IntsFromInputOrAttr(ctx, 3, std::nullopt, "axes"));
  const int64_t rank = x->rank();
  const size_t r = static_cast<size_t>(rank);
  std::vector<int64_t> axes;
  if (axes_in) {
    for (int64_t a : *axes_in) {
      TUTTI_ASSIGN_OR_RETURN(int64_t n, NormalizeAxis(a, rank));
      axes.push_back(n);
    }
  } else {
    for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
  }
  if (!pads_in || pads_in->size() != 2 * axes.size())
    return InvalidArgument("pads must hold ", 2 * axes.size(), " values (begin and end per axis)");
  std::vector<int64_t> before(r, 0), after(r, 0);
  for (size_t k = 0; k < axes.size(); ++k) {
    before[static_cast<size_t>(axes[k])] = (*pads_in)[k];
    after[static_cast<size_t>(axes[k])] = (*pads_in)[k + axes.size()];
  }
  Shape out_shape(r);
  for (size_t d = 0; d < r; ++d) {
    out_shape[d] = x->shape()[d] + before[d] + after[d];
    if (out_shape[d] < 0) return InvalidArgument("pads crop dim ", d, " of ", x->DebugString(), " below zero");
    if (mode != PadMode::kConstant && out_shape[d] > 0 && x->shape()[d] == 0)
      return InvalidArgument("cannot ", mode == PadMode::kEdge ? "edge" : "reflect", "-pad an empty dim ", d);
  }
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, out_shape, x->dtype()));
  if (y->num_elements() == 0) return Status::Ok();
  std::vector<std::vector<int64_t>> map(r);
  for (size_t d = 0; d < r; ++d)
    for (int64_t j = 0; j < out_shape[d]; ++j) map[d].push_back(SourceIndex(j, before[d], x->shape()[d], mode));
  const std::vector<int64_t> strides = ContiguousStrides(x->shape());
  const Tensor* cv = ctx.input(2);
  if (cv && cv->num_elements() > 0 && cv->dtype() != x->dtype())
    return InvalidArgument("constant_value must have data's type");
  const int64_t inner = rank ? out_shape.back() : 1;
  const int64_t rows = y->num_elements() / inner;
  bool known = DispatchBySize(x->dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T fill = cv && cv->num_elements() > 0 ? *static_cast<const T*>(cv->raw_data()) : T(0);
    const T* in = static_cast<const T*>(x->raw_data());
    T* out = static_cast<T*>(y->raw_data());
    if (rank == 0) {
      out[0] = in[0];
      return;
    }
    const std::vector<int64_t>& last = map[r - 1];
    ParallelRanges(rows, inner, [&](int64_t b, int64_t e) {
      for (int64_t row = b; row < e; ++row) {
        T* dst = out + row * inner;
        int64_t off = 0, rest = row;
        bool border = false;
        for (size_t d = r - 1; d-- > 0;) {
          const int64_t src = map[d][static_cast<size_t>(rest % out_shape[d])];
          rest /= out_shape[d];
          if (src < 0) border = true;
          off += src * strides[d];
        }
        if (border) {
          std::fill(dst, dst + inner, fill);
          continue;
        }
        const T* src = in + off;
        for (int64_t j = 0; j < inner; ++j) {
          const int64_t i = last[static_cast<size_t>(j)];
          dst[j] = i < 0 ? fill : src[i];
        }
      }
    });
  });
  if (!known) return Unimplemented("Pad on ", DataTypeName(x->dtype()));
  return Status::Ok();
}

Result<std::unique_ptr<CpuKernel>> MakePad(const KernelBuildInfo& info) {
  TUTTI_ASSIGN_OR_RETURN(PadMode mode, ParsePadMode(info.node.GetString("mode", "constant")));
  return MakeKernel([mode](KernelContext& ctx) { return RunPad(mode, ctx); });
}

Status SupportsPad(const Graph& g, const Node& n) {
  TUTTI_RETURN_IF_ERROR(ParsePadMode(n.GetString("mode", "constant")).status());
  return RequireFixedSizeInput(g, n, 0);
}

TUTTI_REGISTER_CPU_KERNEL("Pad", "", MakePad, SupportsPad);

}  // namespace
}  // namespace tutti::cpu
