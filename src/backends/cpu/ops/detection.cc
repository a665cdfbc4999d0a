// The operators exported object detectors end in: NonMaxSuppression and RoiAlign (torchvision's
// Faster/Mask R-CNN, YOLO exports with NMS). Semantics follow the ONNX spec and ONNX Runtime where
// the spec leaves room (RoiAlign max mode, sample positions outside the image).
#include <cmath>
#include <numeric>

#include "backends/cpu/ops/layout.h"

namespace tutti::cpu {
namespace {

// ---- NonMaxSuppression -----------------------------------------------------------------------------
struct Box {
  float y1, x1, y2, x2;
};

Box ReadBox(const float* b, bool center) {
  if (center) {  // [x_center, y_center, width, height]
    return {b[1] - b[3] / 2, b[0] - b[2] / 2, b[1] + b[3] / 2, b[0] + b[2] / 2};
  }
  // [y1, x1, y2, x2], either corner pair may come first.
  return {std::min(b[0], b[2]), std::min(b[1], b[3]), std::max(b[0], b[2]), std::max(b[1], b[3])};
}

float Iou(const Box& a, const Box& b) {
  const float ih = std::min(a.y2, b.y2) - std::max(a.y1, b.y1), iw = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
  if (ih <= 0 || iw <= 0) return 0;
  const float inter = ih * iw;
  const float area_a = (a.y2 - a.y1) * (a.x2 - a.x1), area_b = (b.y2 - b.y1) * (b.x2 - b.x1);
  const float uni = area_a + area_b - inter;
  return uni <= 0 ? 0 : inter / uni;
}

Status RunNms(bool center, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* boxes, RequiredInput(ctx, 0, "boxes"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* scores, RequiredInput(ctx, 1, "scores"));
  if (boxes->dtype() != DataType::kFloat32 || scores->dtype() != DataType::kFloat32)
    return Unimplemented("NonMaxSuppression on ", DataTypeName(boxes->dtype()));
  if (boxes->rank() != 3 || boxes->dim(2) != 4 || scores->rank() != 3 || scores->dim(0) != boxes->dim(0) ||
      scores->dim(2) != boxes->dim(1))
    return InvalidArgument("boxes ", boxes->DebugString(), " and scores ", scores->DebugString(), " do not fit");
  int64_t max_out = 0;
  float iou_th = 0, score_th = -std::numeric_limits<float>::infinity();
  bool has_score_th = false;
  if (const Tensor* t = ctx.input(2); t && t->num_elements() > 0) max_out = t->ElementAsInt64(0);
  if (const Tensor* t = ctx.input(3); t && t->num_elements() > 0) iou_th = static_cast<float>(t->ElementAsDouble(0));
  if (const Tensor* t = ctx.input(4); t && t->num_elements() > 0) {
    score_th = static_cast<float>(t->ElementAsDouble(0));
    has_score_th = true;
  }
  const int64_t batches = boxes->dim(0), n = boxes->dim(1), classes = scores->dim(1);
  std::vector<int64_t> selected;  // triples
  for (int64_t b = 0; b < batches; ++b) {
    std::vector<Box> bx(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) bx[static_cast<size_t>(i)] = ReadBox(boxes->data<float>() + (b * n + i) * 4, center);
    for (int64_t c = 0; c < classes; ++c) {
      const float* s = scores->data<float>() + (b * classes + c) * n;
      std::vector<int64_t> order;
      for (int64_t i = 0; i < n; ++i)
        if (!has_score_th || s[i] > score_th) order.push_back(i);
      std::stable_sort(order.begin(), order.end(), [s](int64_t x, int64_t y) { return s[x] > s[y]; });
      std::vector<int64_t> kept;
      for (int64_t i : order) {
        if (static_cast<int64_t>(kept.size()) >= max_out) break;
        bool keep = true;
        for (int64_t k : kept)
          if (Iou(bx[static_cast<size_t>(i)], bx[static_cast<size_t>(k)]) > iou_th) {
            keep = false;
            break;
          }
        if (keep) kept.push_back(i);
      }
      for (int64_t k : kept) selected.insert(selected.end(), {b, c, k});
    }
  }
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, {static_cast<int64_t>(selected.size() / 3), 3}, DataType::kInt64));
  std::copy(selected.begin(), selected.end(), y->data<int64_t>());
  return Status::Ok();
}

// ---- RoiAlign ----------------------------------------------------------------------------------------
struct RoiAlignAttrs {
  bool max_mode = false, half_pixel = true;
  int64_t out_h = 1, out_w = 1, sampling = 0;
  float scale = 1;
};

template <typename T>
Status ComputeRoiAlign(const RoiAlignAttrs& a, const Tensor& x, const Tensor& rois, const std::vector<int64_t>& batch_idx,
                       Tensor& y) {
  const int64_t C = x.dim(1), H = x.dim(2), W = x.dim(3), R = rois.dim(0);
  const T* in = x.data<T>();
  const T* rp = rois.data<T>();
  T* out = y.data<T>();
  for (int64_t r = 0; r < R; ++r) {
    const int64_t bi = batch_idx[static_cast<size_t>(r)];
    if (bi < 0 || bi >= x.dim(0)) return InvalidArgument("batch index ", bi, " is out of range for ", x.dim(0), " images");
    const double off = a.half_pixel ? 0.5 : 0.0;
    const double sw = rp[r * 4] * a.scale - off, sh = rp[r * 4 + 1] * a.scale - off;
    const double ew = rp[r * 4 + 2] * a.scale - off, eh = rp[r * 4 + 3] * a.scale - off;
    double rw = ew - sw, rh = eh - sh;
    if (!a.half_pixel) {
      rw = std::max(rw, 1.0);
      rh = std::max(rh, 1.0);
    }
    const double bh = rh / static_cast<double>(a.out_h), bw = rw / static_cast<double>(a.out_w);
    const int64_t gh = a.sampling > 0 ? a.sampling : static_cast<int64_t>(std::ceil(rh / static_cast<double>(a.out_h)));
    const int64_t gw = a.sampling > 0 ? a.sampling : static_cast<int64_t>(std::ceil(rw / static_cast<double>(a.out_w)));
    const double count = static_cast<double>(std::max<int64_t>(gh * gw, 1));
    for (int64_t c = 0; c < C; ++c) {
      const T* plane = in + (bi * C + c) * H * W;
      for (int64_t ph = 0; ph < a.out_h; ++ph)
        for (int64_t pw = 0; pw < a.out_w; ++pw) {
          double acc = 0;
          bool first = true;
          for (int64_t iy = 0; iy < gh; ++iy) {
            double yy = sh + static_cast<double>(ph) * bh + (static_cast<double>(iy) + 0.5) * bh / static_cast<double>(gh);
            for (int64_t ix = 0; ix < gw; ++ix) {
              double xx = sw + static_cast<double>(pw) * bw + (static_cast<double>(ix) + 0.5) * bw / static_cast<double>(gw);
              double v = 0, vmax = 0;
              if (!(yy < -1.0 || yy > static_cast<double>(H) || xx < -1.0 || xx > static_cast<double>(W))) {
                double y = std::max(yy, 0.0), xq = std::max(xx, 0.0);
                int64_t yl = static_cast<int64_t>(y), xl = static_cast<int64_t>(xq), yh, xh;
                if (yl >= H - 1) {
                  yh = yl = H - 1;
                  y = static_cast<double>(yl);
                } else {
                  yh = yl + 1;
                }
                if (xl >= W - 1) {
                  xh = xl = W - 1;
                  xq = static_cast<double>(xl);
                } else {
                  xh = xl + 1;
                }
                const double ly = y - static_cast<double>(yl), lx = xq - static_cast<double>(xl);
                const double hy = 1 - ly, hx = 1 - lx;
                const double v1 = hy * hx * plane[yl * W + xl], v2 = hy * lx * plane[yl * W + xh];
                const double v3 = ly * hx * plane[yh * W + xl], v4 = ly * lx * plane[yh * W + xh];
                v = v1 + v2 + v3 + v4;
                vmax = std::max(std::max(v1, v2), std::max(v3, v4));
              }
              if (a.max_mode) {
                acc = first ? vmax : std::max(acc, vmax);
                first = false;
              } else {
                acc += v;
              }
            }
          }
          out[((r * C + c) * a.out_h + ph) * a.out_w + pw] = static_cast<T>(a.max_mode ? acc : acc / count);
        }
    }
  }
  return Status::Ok();
}

Status RunRoiAlign(const RoiAlignAttrs& a, KernelContext& ctx) {
  TUTTI_ASSIGN_OR_RETURN(const Tensor* x, RequiredInput(ctx, 0, "X"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* rois, RequiredInput(ctx, 1, "rois"));
  TUTTI_ASSIGN_OR_RETURN(const Tensor* bidx, RequiredInput(ctx, 2, "batch_indices"));
  if (x->rank() != 4 || rois->rank() != 2 || rois->dim(1) != 4 || bidx->num_elements() != rois->dim(0))
    return InvalidArgument("X ", x->DebugString(), ", rois ", rois->DebugString(), " and batch_indices ",
                           bidx->DebugString(), " do not fit");
  if (rois->dtype() != x->dtype()) return InvalidArgument("rois must have X's type");
  TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, {rois->dim(0), x->dim(1), a.out_h, a.out_w}, x->dtype()));
  const std::vector<int64_t> bi = bidx->ToInt64Vector();
  Status st = Status::Ok();
  bool known = DispatchType(FloatTypes{}, x->dtype(), [&](auto tag) {
    st = ComputeRoiAlign<decltype(tag)>(a, *x, *rois, bi, *y);
  });
  if (!known) return Unimplemented("RoiAlign on ", DataTypeName(x->dtype()));
  return st;
}

TUTTI_REGISTER_CPU_KERNEL(
    "NonMaxSuppression", "",
    [](const KernelBuildInfo& info) {
      const bool center = info.node.GetInt("center_point_box", 0) != 0;
      return MakeKernel([center](KernelContext& ctx) { return RunNms(center, ctx); });
    },
    [](const Graph& g, const Node& n) -> Status {
      TUTTI_RETURN_IF_ERROR(RequireInputType(g, n, 0, TypeList<float>{}));
      return RequireInputType(g, n, 1, TypeList<float>{});
    });
TUTTI_REGISTER_CPU_KERNEL(
    "RoiAlign", "",
    [](const KernelBuildInfo& info) -> Result<std::unique_ptr<CpuKernel>> {
      const Node& n = info.node;
      RoiAlignAttrs a;
      a.max_mode = n.GetString("mode", "avg") == "max";
      // Opset 10 has no coordinate_transformation_mode and behaves as output_half_pixel.
      const std::string ctm =
          n.GetString("coordinate_transformation_mode", info.graph.opset() >= 16 ? "half_pixel" : "output_half_pixel");
      a.half_pixel = ctm == "half_pixel";
      a.out_h = n.GetInt("output_height", 1);
      a.out_w = n.GetInt("output_width", 1);
      a.sampling = n.GetInt("sampling_ratio", 0);
      a.scale = n.GetFloat("spatial_scale", 1.f);
      return MakeKernel([a](KernelContext& ctx) { return RunRoiAlign(a, ctx); });
    },
    [](const Graph& g, const Node& n) -> Status {
      const std::string mode = n.GetString("mode", "avg");
      if (mode != "avg" && mode != "max") return InvalidArgument("RoiAlign mode '", mode, "'");
      const std::string ctm = n.GetString("coordinate_transformation_mode", "half_pixel");
      if (ctm != "half_pixel" && ctm != "output_half_pixel")
        return InvalidArgument("RoiAlign coordinate_transformation_mode '", ctm, "'");
      return RequireInputType(g, n, 0, FloatTypes{});
    });

}  // namespace
}  // namespace tutti::cpu
