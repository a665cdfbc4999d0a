// GridSample (opset 16, what F.grid_sample exports to): 2-D sampling of X at normalised grid
// positions, bilinear / nearest / bicubic, zeros / border / reflection padding, align_corners.
// The coordinate handling is PyTorch's (grid_sampler_compute_source_index), which the ONNX spec
// and its test data follow.
#include <cmath>

#include "backends/cpu/ops/layout.h"

namespace tutti::cpu {
namespace {

enum class Mode { kBilinear, kNearest, kBicubic };
enum class Padding { kZeros, kBorder, kReflection };

struct GridAttrs {
  Mode mode = Mode::kBilinear;
  Padding padding = Padding::kZeros;
  bool align = false;
};

double Unnormalize(double c, int64_t size, bool align) {
  return align ? (c + 1) / 2 * static_cast<double>(size - 1) : ((c + 1) * static_cast<double>(size) - 1) / 2;
}

double Reflect(double c, double twice_low, double twice_high) {
  if (twice_low == twice_high) return 0;
  const double mn = twice_low / 2, span = (twice_high - twice_low) / 2;
  c = std::fabs(c - mn);
  const double extra = std::fmod(c, span);
  const int64_t flips = static_cast<int64_t>(std::floor(c / span));
  return flips % 2 == 0 ? extra + mn : span - extra + mn;
}

double ApplyPadding(double c, int64_t size, const GridAttrs& a) {
  const double hi = static_cast<double>(size - 1);
  if (a.padding == Padding::kBorder) return std::clamp(c, 0.0, hi);
  if (a.padding == Padding::kReflection) {
    c = a.align ? Reflect(c, 0, 2 * hi) : Reflect(c, -1, 2 * static_cast<double>(size) - 1);
    return std::clamp(c, 0.0, hi);
  }
  return c;
}

double Cubic1(double x, double A) { return ((A + 2) * x - (A + 3)) * x * x + 1; }
double Cubic2(double x, double A) { return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; }

template <typename T>
void Sample(const GridAttrs& a, const Tensor& x, const Tensor& grid, Tensor& y) {
  const int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3), Ho = grid.dim(1), Wo = grid.dim(2);
  const T* in = x.data<T>();
  const T* g = grid.data<T>();
  T* out = y.data<T>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oh = 0; oh < Ho; ++oh)
      for (int64_t ow = 0; ow < Wo; ++ow) {
        const T* gp = g + ((n * Ho + oh) * Wo + ow) * 2;
        const double ux = Unnormalize(static_cast<double>(gp[0]), W, a.align);
        const double uy = Unnormalize(static_cast<double>(gp[1]), H, a.align);
        for (int64_t c = 0; c < C; ++c) {
          const T* plane = in + (n * C + c) * H * W;
          auto at = [&](int64_t yy, int64_t xx) -> double {
            return yy >= 0 && yy < H && xx >= 0 && xx < W ? static_cast<double>(plane[yy * W + xx]) : 0.0;
          };
          double v = 0;
          if (a.mode == Mode::kBicubic) {
            const double fx = std::floor(ux), fy = std::floor(uy), tx = ux - fx, ty = uy - fy;
            const double A = -0.75;
            const double cx[4] = {Cubic2(tx + 1, A), Cubic1(tx, A), Cubic1(1 - tx, A), Cubic2(2 - tx, A)};
            const double cy[4] = {Cubic2(ty + 1, A), Cubic1(ty, A), Cubic1(1 - ty, A), Cubic2(2 - ty, A)};
            for (int i = 0; i < 4; ++i) {
              double row = 0;
              for (int j = 0; j < 4; ++j) {
                // Each tap is padded on its own (PyTorch's get_value_bounded).
                const double px = ApplyPadding(fx - 1 + j, W, a), py = ApplyPadding(fy - 1 + i, H, a);
                row += cx[j] * at(static_cast<int64_t>(py), static_cast<int64_t>(px));
              }
              v += cy[i] * row;
            }
          } else {
            const double sx = ApplyPadding(ux, W, a), sy = ApplyPadding(uy, H, a);
            if (a.mode == Mode::kNearest) {
              v = at(static_cast<int64_t>(std::nearbyint(sy)), static_cast<int64_t>(std::nearbyint(sx)));
            } else {
              const double x0 = std::floor(sx), y0 = std::floor(sy), lx = sx - x0, ly = sy - y0;
              const int64_t xi = static_cast<int64_t>(x0), yi = static_cast<int64_t>(y0);
              v = (1 - ly) * ((1 - lx) * at(yi, xi) + lx * at(yi, xi + 1)) +
                  ly * ((1 - lx) * at(yi + 1, xi) + lx * at(yi + 1, xi + 1));
            }
          }
          out[((n * C + c) * Ho + oh) * Wo + ow] = static_cast<T>(v);
        }
      }
}

Status RunGridSample(const GridAttrs& a, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* grid, RequiredInput(ctx, 1, "grid"));
  if (x->rank() != 4 || grid->rank() != 4 || grid->dim(3) != 2 || grid->dim(0) != x->dim(0))
    return InvalidArgument("X ", x->DebugString(), " and grid ", grid->DebugString(), " must be [N,C,H,W] and [N,H,W,2]");
  if (grid->dtype() != x->dtype()) return Unimplemented("grid of another type than X");
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, {x->dim(0), x->dim(1), grid->dim(1), grid->dim(2)}, x->dtype()));
  bool known = DispatchType(FloatTypes{}, x->dtype(), [&](auto tag) { Sample<decltype(tag)>(a, *x, *grid, *y); });
  if (!known) return Unimplemented("GridSample on ", DataTypeName(x->dtype()));
  return Status::Ok();
}

Result<GridAttrs> ReadGridAttrs(const Node& n) {
  GridAttrs a;
  const std::string mode = n.GetString("mode", "bilinear"), pad = n.GetString("padding_mode", "zeros");
  if (mode == "bilinear") a.mode = Mode::kBilinear;
  else if (mode == "nearest") a.mode = Mode::kNearest;
  else if (mode == "bicubic") a.mode = Mode::kBicubic;
  else return InvalidArgument("GridSample mode '", mode, "'");
  if (pad == "zeros") a.padding = Padding::kZeros;
  else if (pad == "border") a.padding = Padding::kBorder;
  else if (pad == "reflection") a.padding = Padding::kReflection;
  else return InvalidArgument("GridSample padding_mode '", pad, "'");
  a.align = n.GetInt("align_corners", 0) != 0;
  return a;
}

TUTTI_REGISTER_CPU_KERNEL(
    "GridSample", "",
    [](const KernelBuildInfo& info) -> Result<std::unique_ptr<CpuKernel>> {
      TUTTI_ASSIGN_OR_RETURN(GridAttrs a, ReadGridAttrs(info.node));
      return MakeKernel([a](KernelContext& ctx) { return RunGridSample(a, ctx); });
    },
    [](const Graph& g, const Node& n) -> Status {
      TUTTI_RETURN_IF_ERROR(ReadGridAttrs(n).status());
      return RequireInputType(g, n, 0, FloatTypes{});
    });

}  // namespace
}  // namespace tutti::cpu
