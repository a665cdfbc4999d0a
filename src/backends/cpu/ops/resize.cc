// Resize (opset 11-18 form: X, roi, scales, sizes) with nearest, linear and cubic modes and every
// coordinate transformation ONNX defines. Interpolation is separable, so it runs one axis at a time
// over an [outer, in, inner] view: for each output position along the axis a short list of
// (input index, weight) taps is computed once -- exactly the neighbours and coefficients of ONNX's
// reference (edge-clamped, ratio in (0, 1], exclude_outside renormalising) -- and applied to whole
// rows of `inner` values.
#include <cmath>

#include "backends/cpu/ops/layout.h"

namespace tutti::cpu {
namespace {

enum class Mode { kNearest, kLinear, kCubic };
enum class Coord { kHalfPixel, kPytorchHalfPixel, kAlignCorners, kAsymmetric, kTfCropAndResize };
enum class Nearest { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil };

struct ResizeAttrs {
  Mode mode = Mode::kNearest;
  Coord coord = Coord::kHalfPixel;
  Nearest nearest = Nearest::kRoundPreferFloor;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  double extrapolation = 0;
  OptionalInts axes;
};

Result<ResizeAttrs> ParseAttrs(const Node& n) {
  ResizeAttrs a;
  const std::string mode = n.GetString("mode", "nearest");
  if (mode == "nearest") a.mode = Mode::kNearest;
  else if (mode == "linear") a.mode = Mode::kLinear;
  else if (mode == "cubic") a.mode = Mode::kCubic;
  else return Unimplemented("Resize mode '", mode, "'");
  const std::string c = n.GetString("coordinate_transformation_mode", "half_pixel");
  if (c == "half_pixel") a.coord = Coord::kHalfPixel;
  else if (c == "pytorch_half_pixel") a.coord = Coord::kPytorchHalfPixel;
  else if (c == "align_corners") a.coord = Coord::kAlignCorners;
  else if (c == "asymmetric") a.coord = Coord::kAsymmetric;
  else if (c == "tf_crop_and_resize") a.coord = Coord::kTfCropAndResize;
  else return Unimplemented("Resize coordinate_transformation_mode '", c, "'");
  const std::string nm = n.GetString("nearest_mode", "round_prefer_floor");
  if (nm == "round_prefer_floor") a.nearest = Nearest::kRoundPreferFloor;
  else if (nm == "round_prefer_ceil") a.nearest = Nearest::kRoundPreferCeil;
  else if (nm == "floor") a.nearest = Nearest::kFloor;
  else if (nm == "ceil") a.nearest = Nearest::kCeil;
  else return Unimplemented("Resize nearest_mode '", nm, "'");
  if (n.GetInt("antialias", 0) != 0) return Unimplemented("Resize with antialias");
  if (n.GetString("keep_aspect_ratio_policy", "stretch") != "stretch")
    return Unimplemented("Resize keep_aspect_ratio_policy other than stretch");
  a.cubic_a = n.GetFloat("cubic_coeff_a", -0.75f);
  a.exclude_outside = n.GetInt("exclude_outside", 0) != 0;
  a.extrapolation = n.GetFloat("extrapolation_value", 0.f);
  a.axes = AttrInts(n, "axes");
  return a;
}

struct Taps {
  std::vector<int64_t> index;   // n_taps per output position, clamped into the input
  std::vector<double> weight;
  std::vector<bool> outside;    // tf_crop_and_resize: this output position is the extrapolation value
  int n_taps = 1;
};

// Taps of one axis: `in` -> `out` positions with scale factor `scale`; roi_lo/hi for crop mode.
Taps AxisTaps(const ResizeAttrs& a, int64_t in, int64_t out, double scale, double roi_lo, double roi_hi) {
  Taps t;
  t.n_taps = a.mode == Mode::kCubic ? 4 : 2;
  const double out_width = scale * static_cast<double>(in);  // ONNX uses the real-valued width
  for (int64_t j = 0; j < out; ++j) {
    const double x = static_cast<double>(j);
    double xo = 0;
    bool outside = false;
    switch (a.coord) {
      case Coord::kHalfPixel: xo = (x + 0.5) / scale - 0.5; break;
      case Coord::kPytorchHalfPixel: xo = out_width == 1 ? -0.5 : (x + 0.5) / scale - 0.5; break;
      case Coord::kAlignCorners: xo = out_width == 1 ? 0 : x * static_cast<double>(in - 1) / (out_width - 1); break;
      case Coord::kAsymmetric: xo = x / scale; break;
      case Coord::kTfCropAndResize:
        xo = out_width == 1 ? (roi_hi - roi_lo) * static_cast<double>(in - 1) / 2
                            : x * (roi_hi - roi_lo) * static_cast<double>(in - 1) / (out_width - 1);
        xo += roi_lo * static_cast<double>(in - 1);
        outside = xo < 0 || xo > static_cast<double>(in - 1);
        break;
    }
    t.outside.push_back(outside);
    const double fl = std::floor(xo);
    const bool integral = xo == fl;
    const double ratio = integral ? 1.0 : xo - fl;
    // The reference takes the n nearest neighbours, ties to the lower index: for ratio 1 that is
    // [x-1, x] (linear) / [x-2 .. x+1] (cubic); otherwise [floor, floor+1] / [floor-1 .. floor+2].
    const int64_t base = static_cast<int64_t>(fl) - (integral ? 1 : 0) - (t.n_taps == 4 ? 1 : 0);
    double w[4];
    if (a.mode == Mode::kCubic) {
      const double A = a.cubic_a, r = ratio, s = 1 - ratio;
      w[0] = ((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A;
      w[1] = ((A + 2) * r - (A + 3)) * r * r + 1;
      w[2] = ((A + 2) * s - (A + 3)) * s * s + 1;
      w[3] = ((A * (s + 1) - 5 * A) * (s + 1) + 8 * A) * (s + 1) - 4 * A;
    } else if (a.mode == Mode::kLinear) {
      w[0] = 1 - ratio;
      w[1] = ratio;
    } else {
      bool right = true;
      if (!integral) {
        switch (a.nearest) {
          case Nearest::kRoundPreferFloor: right = ratio > 0.5; break;
          case Nearest::kRoundPreferCeil: right = ratio >= 0.5; break;
          case Nearest::kFloor: right = false; break;
          case Nearest::kCeil: right = true; break;
        }
      }
      w[0] = right ? 0 : 1;
      w[1] = right ? 1 : 0;
    }
    if (a.exclude_outside) {
      double sum = 0;
      for (int k = 0; k < t.n_taps; ++k) {
        const int64_t i = base + k;
        if (i < 0 || i >= in) w[k] = 0;
        sum += w[k];
      }
      for (int k = 0; k < t.n_taps; ++k) w[k] = sum != 0 ? w[k] / sum : 0;
    }
    for (int k = 0; k < t.n_taps; ++k) {
      t.index.push_back(std::clamp<int64_t>(base + k, 0, in - 1));
      t.weight.push_back(w[k]);
    }
  }
  return t;
}

// One axis: src [outer, in, inner] -> dst [outer, out, inner].
template <typename T>
void ResampleAxis(const T* src, T* dst, int64_t outer, int64_t in, int64_t out, int64_t inner, const Taps& t,
                  bool interpolate, T extrapolation) {
  ParallelRanges(outer * out, inner * t.n_taps, [&](int64_t b, int64_t e) {
    for (int64_t item = b; item < e; ++item) {
      const int64_t o = item / out, j = item % out;
      T* d = dst + item * inner;
      if (t.outside[static_cast<size_t>(j)]) {
        std::fill(d, d + inner, extrapolation);
        continue;
      }
      const size_t k0 = static_cast<size_t>(j * t.n_taps);
      if (!interpolate) {  // nearest: one tap of weight 1
        const size_t k = t.weight[k0] != 0 ? k0 : k0 + 1;
        std::memcpy(d, src + (o * in + t.index[k]) * inner, static_cast<size_t>(inner) * sizeof(T));
        continue;
      }
      std::fill(d, d + inner, T(0));
      for (int k = 0; k < t.n_taps; ++k) {
        const T w = static_cast<T>(t.weight[k0 + static_cast<size_t>(k)]);
        if (w == T(0)) continue;
        const T* s = src + (o * in + t.index[k0 + static_cast<size_t>(k)]) * inner;
        for (int64_t i = 0; i < inner; ++i) d[i] += w * s[i];
      }
    }
  });
}

Status RunResize(const ResizeAttrs& a, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  const int64_t rank = x->rank();
  const size_t r = static_cast<size_t>(rank);
  std::vector<int64_t> axes;
  if (a.axes) {
    for (int64_t ax : *a.axes) {
      TUTTI_ASSIGN_OR_RETURN(int64_t n, NormalizeAxis(ax, rank));
      axes.push_back(n);
    }
  } else {
    for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
  }
  std::vector<double> scale(r, 1.0), roi_lo(r, 0.0), roi_hi(r, 1.0);
  Shape out_shape = x->shape();
  const Tensor* scales = ctx.input(2);
  const Tensor* sizes = ctx.input(3);
  if (sizes && sizes->num_elements() > 0) {
    if (sizes->num_elements() != static_cast<int64_t>(axes.size()))
      return InvalidArgument("sizes has ", sizes->num_elements(), " values for ", axes.size(), " axes");
    for (size_t k = 0; k < axes.size(); ++k) {
      const size_t d = static_cast<size_t>(axes[k]);
      out_shape[d] = sizes->ElementAsInt64(static_cast<int64_t>(k));
      if (out_shape[d] < 0) return InvalidArgument("negative size ", out_shape[d]);
      scale[d] = x->shape()[d] ? static_cast<double>(out_shape[d]) / static_cast<double>(x->shape()[d]) : 1.0;
    }
  } else if (scales && scales->num_elements() > 0) {
    if (scales->num_elements() != static_cast<int64_t>(axes.size()))
      return InvalidArgument("scales has ", scales->num_elements(), " values for ", axes.size(), " axes");
    for (size_t k = 0; k < axes.size(); ++k) {
      const size_t d = static_cast<size_t>(axes[k]);
      scale[d] = scales->ElementAsDouble(static_cast<int64_t>(k));
      if (!(scale[d] > 0)) return InvalidArgument("scale ", scale[d], " must be positive");
      const double size = scale[d] * static_cast<double>(x->shape()[d]);
      if (!(size < 0x1p62)) return InvalidArgument("scale ", scale[d], " makes axis ", d, " impossibly large");
      out_shape[d] = static_cast<int64_t>(size);
    }
  } else {
    return InvalidArgument("Resize needs scales or sizes");
  }
  if (a.coord == Coord::kTfCropAndResize) {
    const Tensor* roi = ctx.input(1);
    if (!roi || roi->num_elements() != static_cast<int64_t>(2 * axes.size()))
      return InvalidArgument("tf_crop_and_resize needs roi with ", 2 * axes.size(), " values");
    for (size_t k = 0; k < axes.size(); ++k) {
      roi_lo[static_cast<size_t>(axes[k])] = roi->ElementAsDouble(static_cast<int64_t>(k));
      roi_hi[static_cast<size_t>(axes[k])] = roi->ElementAsDouble(static_cast<int64_t>(k + axes.size()));
    }
  }
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, out_shape, x->dtype()));
  if (y->num_elements() == 0) return Status::Ok();
  for (size_t d = 0; d < r; ++d)
    if (x->shape()[d] == 0) return InvalidArgument("cannot resize an empty dim ", d);
  Tensor cur = *x;
  Shape cur_shape = x->shape();
  Status st = Status::Ok();
  auto body = [&](auto tag) {
    using T = decltype(tag);
    for (size_t d = 0; d < r; ++d) {
      const bool identity = scale[d] == 1.0 && out_shape[d] == cur_shape[d] && a.coord != Coord::kTfCropAndResize;
      if (identity) continue;
      const Taps taps = AxisTaps(a, cur_shape[d], out_shape[d], scale[d], roi_lo[d], roi_hi[d]);
      Shape next_shape = cur_shape;
      next_shape[d] = out_shape[d];
      Result<Tensor> next = next_shape == out_shape ? Result<Tensor>(*y) : Tensor::Allocate(x->dtype(), next_shape);
      if (!next.ok()) {
        st = next.status();
        return;
      }
      ResampleAxis<T>(cur.data<T>(), next->data<T>(), DimProduct(cur_shape, 0, d), cur_shape[d], out_shape[d],
                      DimProduct(cur_shape, d + 1, r), taps, a.mode != Mode::kNearest, static_cast<T>(a.extrapolation));
      cur = *next;
      cur_shape = next_shape;
    }
    if (cur.raw_data() != y->raw_data()) CopyIfDistinct(cur, *y);
  };
  bool known = a.mode == Mode::kNearest && a.coord != Coord::kTfCropAndResize
                   ? DispatchType(NumericTypes{}, x->dtype(), body)
                   : DispatchType(FloatTypes{}, x->dtype(), body);
  if (!known) return Unimplemented("Resize on ", DataTypeName(x->dtype()));
  return st;
}

Result<std::unique_ptr<CpuKernel>> MakeResize(const KernelBuildInfo& info) {
  TUTTI_ASSIGN_OR_RETURN(ResizeAttrs a, ParseAttrs(info.node));
  return MakeKernel([a](KernelContext& ctx) { return RunResize(a, ctx); });
}

Status SupportsResize(const Graph& g, const Node& n) {
  TUTTI_ASSIGN_OR_RETURN(ResizeAttrs a, ParseAttrs(n));
  if (a.mode == Mode::kNearest && a.coord != Coord::kTfCropAndResize) return RequireInputType(g, n, 0, NumericTypes{});
  return RequireInputType(g, n, 0, FloatTypes{});
}

TUTTI_REGISTER_CPU_KERNEL("Resize", "", MakeResize, SupportsResize);

}  // namespace
}  // namespace tutti::cpu
