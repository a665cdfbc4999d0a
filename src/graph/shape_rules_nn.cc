// Rules for the neural-network operators: convolution, pooling, GEMM, normalisation, resizing.
#include <cmath>

#include "graph/shape_rules.h"

namespace tutti::shape_rules {
namespace {

// One spatial output dim of a convolution or pooling window.
// SAME_*: ceil(in / stride). VALID: ceil((in - dk + 1) / stride). Explicit pads: floor (or ceil
// with ceil_mode) of (in + pads - dk) / stride, plus one; with ceil_mode a last window that would
// start in the right padding is dropped (PyTorch's and ONNX's reference rule).
Dim WindowOut(const Dim& in, int64_t k, int64_t stride, int64_t dilation, int64_t pad_begin, int64_t pad_end,
              const std::string& auto_pad, bool ceil_mode) {
  if (!in.known() || stride <= 0) return Dim{};
  const int64_t dk = (k - 1) * dilation + 1;
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") return Dim::Known((in.value + stride - 1) / stride);
  if (auto_pad == "VALID") {
    const int64_t span = in.value - dk + 1;
    return span <= 0 ? Dim::Known(0) : Dim::Known((span + stride - 1) / stride);
  }
  const int64_t span = in.value + pad_begin + pad_end - dk;
  if (span < 0) return Dim::Known(0);
  int64_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
  if (ceil_mode && (out - 1) * stride >= in.value + pad_begin) --out;
  return Dim::Known(out);
}

Status ConvLike(Context& c) {
  const std::string& op = c.node.op_type;
  const bool is_conv = op == "Conv";
  const SymbolicShape* x = c.shape(0);
  c.Set(0, c.dtype(0), std::nullopt);
  if (op == "MaxPool" && c.node.outputs.size() > 1) c.Set(1, DataType::kInt64, std::nullopt);
  if (!x) return Status::Ok();
  if (x->size() < 3) return InvalidArgument("input has rank ", x->size(), ", needs at least 3 (N, C, spatial...)");
  const size_t spatial = x->size() - 2;
  std::vector<int64_t> kernel = c.node.GetInts("kernel_shape");
  const SymbolicShape* w = is_conv ? c.shape(1) : nullptr;
  if (kernel.empty() && w && w->size() == x->size()) {
    for (size_t i = 2; i < w->size(); ++i) kernel.push_back((*w)[i].known() ? (*w)[i].value : -1);
  }
  if (kernel.size() != spatial || std::count(kernel.begin(), kernel.end(), -1)) return Status::Ok();
  std::vector<int64_t> strides = c.node.GetInts("strides", std::vector<int64_t>(spatial, 1));
  std::vector<int64_t> dil = c.node.GetInts("dilations", std::vector<int64_t>(spatial, 1));
  std::vector<int64_t> pads = c.node.GetInts("pads", std::vector<int64_t>(2 * spatial, 0));
  if (strides.size() != spatial || dil.size() != spatial || pads.size() != 2 * spatial)
    return InvalidArgument("strides/dilations/pads do not match ", spatial, " spatial dims");
  const std::string auto_pad = c.node.GetString("auto_pad", "NOTSET");
  const bool ceil_mode = c.node.GetInt("ceil_mode", 0) != 0;
  SymbolicShape out;
  out.push_back((*x)[0]);
  if (is_conv) {
    Dim m = w && !w->empty() ? (*w)[0] : Dim{};
    out.push_back(m);
  } else {
    out.push_back((*x)[1]);
  }
  for (size_t i = 0; i < spatial; ++i)
    out.push_back(WindowOut((*x)[i + 2], kernel[i], strides[i], dil[i], pads[i], pads[i + spatial], auto_pad, ceil_mode));
  c.Set(0, c.dtype(0), out);
  if (op == "MaxPool" && c.node.outputs.size() > 1) c.Set(1, DataType::kInt64, out);
  return Status::Ok();
}
TUTTI_SHAPE_RULE(ConvLike, "Conv", "MaxPool", "AveragePool", "LpPool");

Status ConvTransposeRule(Context& c) {
  const SymbolicShape* x = c.shape(0);
  const SymbolicShape* w = c.shape(1);
  c.Set(0, c.dtype(0), std::nullopt);
  if (!x || !w || x->size() < 3 || w->size() != x->size()) return Status::Ok();
  const size_t spatial = x->size() - 2;
  const int64_t group = c.node.GetInt("group", 1);
  std::vector<int64_t> kernel = c.node.GetInts("kernel_shape");
  if (kernel.empty())
    for (size_t i = 2; i < w->size(); ++i) kernel.push_back((*w)[i].known() ? (*w)[i].value : -1);
  if (kernel.size() != spatial || std::count(kernel.begin(), kernel.end(), -1)) return Status::Ok();
  std::vector<int64_t> strides = c.node.GetInts("strides", std::vector<int64_t>(spatial, 1));
  std::vector<int64_t> dil = c.node.GetInts("dilations", std::vector<int64_t>(spatial, 1));
  std::vector<int64_t> pads = c.node.GetInts("pads", std::vector<int64_t>(2 * spatial, 0));
  std::vector<int64_t> out_pad = c.node.GetInts("output_padding", std::vector<int64_t>(spatial, 0));
  std::vector<int64_t> out_shape = c.node.GetInts("output_shape");
  if (strides.size() != spatial || dil.size() != spatial || pads.size() != 2 * spatial || out_pad.size() != spatial)
    return InvalidArgument("strides/dilations/pads/output_padding do not match ", spatial, " spatial dims");
  SymbolicShape out{(*x)[0], Mul((*w)[1], Dim::Known(group))};
  const std::string auto_pad = c.node.GetString("auto_pad", "NOTSET");
  for (size_t i = 0; i < spatial; ++i) {
    if (out_shape.size() == spatial) { out.push_back(Dim::Known(out_shape[i])); continue; }
    if (out_shape.size() == spatial + 2) { out.push_back(Dim::Known(out_shape[i + 2])); continue; }
    const Dim& in = (*x)[i + 2];
    if (!in.known()) { out.push_back(Dim{}); continue; }
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") { out.push_back(Dim::Known(in.value * strides[i])); continue; }
    const int64_t total_pad = auto_pad == "VALID" ? 0 : pads[i] + pads[i + spatial];
    out.push_back(Dim::Known(strides[i] * (in.value - 1) + out_pad[i] + ((kernel[i] - 1) * dil[i] + 1) - total_pad));
  }
  c.Set(0, c.dtype(0), out);
  return Status::Ok();
}
TUTTI_SHAPE_RULE(ConvTransposeRule, "ConvTranspose");

Status GlobalPool(Context& c) {
  const SymbolicShape* x = c.shape(0);
  if (!x) { c.Set(0, c.dtype(0), std::nullopt); return Status::Ok(); }
  if (x->size() < 2) return InvalidArgument("input has rank ", x->size(), ", needs at least 2");
  SymbolicShape out{(*x)[0], (*x)[1]};
  for (size_t i = 2; i < x->size(); ++i) out.push_back(Dim::Known(1));
  c.Set(0, c.dtype(0), out);
  return Status::Ok();
}
TUTTI_SHAPE_RULE(GlobalPool, "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool");

Status GemmRule(Context& c) {
  const SymbolicShape* a = c.shape(0);
  const SymbolicShape* b = c.shape(1);
  c.Set(0, c.dtype(0), std::nullopt);
  if (!a || !b) return Status::Ok();
  if (a->size() != 2 || b->size() != 2) return InvalidArgument("A and B must be 2-D, got ", SymbolicShapeToString(*a), " and ", SymbolicShapeToString(*b));
  const bool ta = c.node.GetInt("transA", 0) != 0, tb = c.node.GetInt("transB", 0) != 0;
  Dim m = (*a)[ta ? 1 : 0], ka = (*a)[ta ? 0 : 1], kb = (*b)[tb ? 1 : 0], n = (*b)[tb ? 0 : 1];
  if (ka.known() && kb.known() && ka.value != kb.value)
    return InvalidArgument("inner dimensions differ: A ", SymbolicShapeToString(*a), ", B ", SymbolicShapeToString(*b));
  c.Set(0, c.dtype(0), SymbolicShape{m, n});
  return Status::Ok();
}
TUTTI_SHAPE_RULE(GemmRule, "Gemm");

Status MatMulRule(Context& c) {
  const SymbolicShape* a = c.shape(0);
  const SymbolicShape* b = c.shape(1);
  DataType dt = c.node.op_type == "MatMulInteger" ? DataType::kInt32 : c.dtype(0);
  c.Set(0, dt, std::nullopt);
  if (!a || !b) return Status::Ok();
  if (a->empty() || b->empty()) return InvalidArgument("MatMul operands must not be scalars");
  SymbolicShape sa = *a, sb = *b;
  const bool a1 = sa.size() == 1, b1 = sb.size() == 1;
  if (a1) sa.insert(sa.begin(), Dim::Known(1));
  if (b1) sb.push_back(Dim::Known(1));
  const Dim& ka = sa[sa.size() - 1];
  const Dim& kb = sb[sb.size() - 2];
  if (ka.known() && kb.known() && ka.value != kb.value)
    return InvalidArgument("inner dimensions differ: ", SymbolicShapeToString(*a), " x ", SymbolicShapeToString(*b));
  SymbolicShape batch_a(sa.begin(), sa.end() - 2), batch_b(sb.begin(), sb.end() - 2);
  TUTTI_ASSIGN_OR_RETURN(SymbolicShape out, Broadcast(batch_a, batch_b));
  if (!a1) out.push_back(sa[sa.size() - 2]);
  if (!b1) out.push_back(sb[sb.size() - 1]);
  c.Set(0, dt, out);
  return Status::Ok();
}
TUTTI_SHAPE_RULE(MatMulRule, "MatMul", "MatMulInteger");

Status BatchNormRule(Context& c) {
  c.Set(0, c.dtype(0), c.has(0) ? c.value(0)->info.shape : std::nullopt);
  for (size_t o = 1; o < c.node.outputs.size(); ++o)
    c.Set(o, c.dtype(1), c.has(1) ? c.value(1)->info.shape : std::nullopt);
  return Status::Ok();
}
TUTTI_SHAPE_RULE(BatchNormRule, "BatchNormalization");

Status LayerNormRule(Context& c) {
  const SymbolicShape* x = c.shape(0);
  c.Set(0, c.dtype(0), x ? std::optional<SymbolicShape>(*x) : std::nullopt);
  if (!x) return Status::Ok();
  TUTTI_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(c.node.GetInt("axis", -1), static_cast<int64_t>(x->size())));
  SymbolicShape stat(x->begin(), x->begin() + axis);
  for (size_t i = static_cast<size_t>(axis); i < x->size(); ++i) stat.push_back(Dim::Known(1));
  DataType st = static_cast<DataType>(c.node.GetInt("stash_type", 1));
  for (size_t o = 1; o < c.node.outputs.size(); ++o) c.Set(o, st, stat);
  return Status::Ok();
}
TUTTI_SHAPE_RULE(LayerNormRule, "LayerNormalization");

Status ResizeRule(Context& c) {
  const SymbolicShape* x = c.shape(0);
  c.Set(0, c.dtype(0), std::nullopt);
  if (!x) return Status::Ok();
  const int64_t rank = static_cast<int64_t>(x->size());
  std::vector<int64_t> axes = c.node.GetInts("axes");
  if (axes.empty())
    for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
  for (int64_t& a : axes) { TUTTI_ASSIGN_OR_RETURN(a, NormalizeAxis(a, rank)); }
  SymbolicShape out = *x;
  if (c.has(3)) {  // sizes
    auto sizes = c.ints(3);
    if (!sizes) {
      out.assign(static_cast<size_t>(rank), Dim{});
      c.Set(0, c.dtype(0), out);
      return Status::Ok();
    }
    if (sizes->size() != axes.size()) return InvalidArgument("sizes has ", sizes->size(), " values for ", axes.size(), " axes");
    const std::string policy = c.node.GetString("keep_aspect_ratio_policy", "stretch");
    if (policy != "stretch") return Status::Ok();  // aspect-preserving sizes: left to the kernel
    for (size_t i = 0; i < axes.size(); ++i) out[static_cast<size_t>(axes[i])] = Dim::Known((*sizes)[i]);
    c.Set(0, c.dtype(0), out);
    return Status::Ok();
  }
  const Tensor* scales = c.constant(2);
  if (!scales) {
    if (c.has(2)) c.Set(0, c.dtype(0), SymbolicShape(static_cast<size_t>(rank), Dim{}));
    return Status::Ok();
  }
  if (static_cast<size_t>(scales->num_elements()) != axes.size())
    return InvalidArgument("scales has ", scales->num_elements(), " values for ", axes.size(), " axes");
  for (size_t i = 0; i < axes.size(); ++i) {
    Dim& d = out[static_cast<size_t>(axes[i])];
    const double s = scales->ElementAsDouble(static_cast<int64_t>(i));
    if (!(s > 0)) return InvalidArgument("scale ", s, " must be positive");
    if (d.known()) {
      const double size = std::floor(static_cast<double>(d.value) * s);
      // A hostile scale (1e30) has no int64 size: converting it would be undefined behaviour.
      if (!(size < 0x1p62)) return InvalidArgument("scale ", s, " makes axis ", axes[i], " impossibly large");
      d = Dim::Known(static_cast<int64_t>(size));
    } else if (s != 1.0) {
      d = Dim{};
    }
  }
  c.Set(0, c.dtype(0), out);
  return Status::Ok();
}
TUTTI_SHAPE_RULE(ResizeRule, "Resize");

Status PadRule(Context& c) {
  const SymbolicShape* x = c.shape(0);
  c.Set(0, c.dtype(0), std::nullopt);
  if (!x) return Status::Ok();
  const int64_t rank = static_cast<int64_t>(x->size());
  auto pads = c.ints(1);
  if (!pads) {
    c.Set(0, c.dtype(0), SymbolicShape(static_cast<size_t>(rank), Dim{}));
    return Status::Ok();
  }
  std::vector<int64_t> axes;
  if (c.has(3)) {
    auto a = c.ints(3);
    if (!a) return Status::Ok();
    axes = *a;
  } else {
    for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
  }
  const size_t k = axes.size();
  if (pads->size() != 2 * k) return InvalidArgument("pads has ", pads->size(), " values, expected ", 2 * k);
  SymbolicShape out = *x;
  for (size_t i = 0; i < k; ++i) {
    TUTTI_ASSIGN_OR_RETURN(int64_t a, NormalizeAxis(axes[i], rank));
    Dim& d = out[static_cast<size_t>(a)];
    if (d.known()) d = Dim::Known(d.value + (*pads)[i] + (*pads)[i + k]);
    else if ((*pads)[i] + (*pads)[i + k] != 0) d = Dim{};
  }
  c.Set(0, c.dtype(0), out);
  return Status::Ok();
}
TUTTI_SHAPE_RULE(PadRule, "Pad");

Status DepthSpace(Context& c) {
  const SymbolicShape* x = c.shape(0);
  c.Set(0, c.dtype(0), std::nullopt);
  if (!x) return Status::Ok();
  if (x->size() != 4) return InvalidArgument("input must be 4-D, got ", SymbolicShapeToString(*x));
  const int64_t b = c.node.GetInt("blocksize", 0);
  if (b <= 0) return InvalidArgument("blocksize must be positive");
  const bool to_space = c.node.op_type == "DepthToSpace";
  auto scale = [](const Dim& d, bool up, int64_t f) {
    if (!d.known()) return Dim{};
    return Dim::Known(up ? d.value * f : d.value / f);
  };
  c.Set(0, c.dtype(0), SymbolicShape{(*x)[0], scale((*x)[1], !to_space, b * b), scale((*x)[2], to_space, b),
                                     scale((*x)[3], to_space, b)});
  return Status::Ok();
}
TUTTI_SHAPE_RULE(DepthSpace, "DepthToSpace", "SpaceToDepth");

}  // namespace
}  // namespace tutti::shape_rules
