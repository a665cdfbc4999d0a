#include "backends/cpu/ops/max_pool_reference.h"

#include <limits>

#include "backends/cpu/ops/layout.h"
#include "backends/cpu/ops/window_geometry.h"

namespace tutti::cpu {
namespace {

class ReferenceMaxPool final : public LayoutAwareKernel {
 public:
  ReferenceMaxPool(WindowGeometry g, Shape x, Shape y, bool column_major, LayoutConverter in)
      : g_(std::move(g)), x_(std::move(x)), y_(std::move(y)), column_major_(column_major), in_(std::move(in)) {}

  Status Run(KernelContext& ctx) override {
    const Tensor* x = ctx.input(0);
    if (!x) return InvalidArgument("missing input");
    const void* src = x->raw_data();
    Status st = DnnlTry("bringing the input to a plain layout", [&] {
      if (in_.needed()) src = in_.Convert(src);
    });
    TUTTI_RETURN_IF_ERROR(st);
    TUTTI_ASSIGN_OR_RETURN(Tensor * y, ctx.AllocateOutput(0, y_, x->dtype()));
    Tensor* ind = nullptr;
    if (ctx.output_wanted(1)) {
      TUTTI_ASSIGN_OR_RETURN(ind, ctx.AllocateOutput(1, y_, DataType::kInt64));
    }
    bool known = DispatchType(NumericTypes{}, x->dtype(), [&](auto tag) {
      using T = decltype(tag);
      Compute<T>(static_cast<const T*>(src), y->data<T>(), ind ? ind->data<int64_t>() : nullptr);
    });
    if (!known) return Unimplemented("MaxPool on ", DataTypeName(x->dtype()));
    return Status::Ok();
  }

 private:
  template <typename T>
  void Compute(const T* in, T* out, int64_t* idx) const {
    const size_t r = g_.kernel.size();
    const Shape in_sp(x_.begin() + 2, x_.end());
    const int64_t planes = x_[0] * x_[1], in_plane = NumElements(in_sp), out_plane = NumElements(g_.out);
    const int64_t window = NumElements(g_.kernel);
    std::vector<int64_t> oc(r), kc(r), pos(r);
    for (int64_t p = 0; p < planes; ++p)
      for (int64_t o = 0; o < out_plane; ++o) {
        for (size_t d = r, rest = static_cast<size_t>(o); d-- > 0;) {
          oc[d] = static_cast<int64_t>(rest % static_cast<size_t>(g_.out[d]));
          rest /= static_cast<size_t>(g_.out[d]);
        }
        T best = std::numeric_limits<T>::lowest();
        int64_t best_at = -1;
        for (int64_t k = 0; k < window; ++k) {
          for (size_t d = r, rest = static_cast<size_t>(k); d-- > 0;) {
            kc[d] = static_cast<int64_t>(rest % static_cast<size_t>(g_.kernel[d]));
            rest /= static_cast<size_t>(g_.kernel[d]);
          }
          bool inside = true;
          int64_t off = 0;
          for (size_t d = 0; d < r && inside; ++d) {
            pos[d] = oc[d] * g_.strides[d] - g_.pad_begin[d] + kc[d] * g_.dilations[d];
            inside = pos[d] >= 0 && pos[d] < in_sp[d];
            off = off * in_sp[d] + pos[d];
          }
          if (!inside) continue;
          const T v = in[p * in_plane + off];
          if (best_at < 0 || v > best) {
            best = v;
            if (column_major_) {  // storage_order=1: the spatial index counted with the first dim fastest
              off = 0;
              for (size_t d = r; d-- > 0;) off = off * in_sp[d] + pos[d];
            }
            best_at = p * in_plane + off;
          }
        }
        out[p * out_plane + o] = best;
        if (idx) idx[p * out_plane + o] = best_at;
      }
  }

  WindowGeometry g_;
  Shape x_, y_;
  bool column_major_;
  LayoutConverter in_;
};

}  // namespace

bool NeedsReferenceMaxPool(const Graph& g, const Node& n) {
  if (n.op_type != "MaxPool" || !n.HasInput(0)) return false;
  const DataType t = g.value(n.inputs[0]).info.dtype;
  const bool indices = n.outputs.size() > 1 && n.outputs[1] != kNoValue;
  return indices || (t != DataType::kFloat32 && t != DataType::kUndefined);
}

Result<std::unique_ptr<LayoutAwareKernel>> MakeReferenceMaxPool(const KernelBuildInfo& info, const LayoutRequest& req) {
  const Node& n = info.node;
  auto xs = info.input_shape(0);
  if (!xs) return InvalidArgument("input shape must be known at compile time");
  std::vector<int64_t> expected;
  if (auto os = info.output_shape(0); os && os->size() == xs->size()) expected.assign(os->begin() + 2, os->end());
  TUTTI_ASSIGN_OR_RETURN(WindowGeometry g,
                         ForwardWindow(n, *xs, n.GetInts("kernel_shape", {}), n.GetInt("ceil_mode", 0) != 0, expected));
  Shape ys{(*xs)[0], (*xs)[1]};
  ys.insert(ys.end(), g.out.begin(), g.out.end());
  LayoutConverter in;
  if (const dnnl::memory::desc* md = req.input(0)) {
    TUTTI_RETURN_IF_ERROR(DnnlTry("creating the input reorder", [&] { in = LayoutConverter(*md, PlainDesc(*xs)); }));
  }
  return std::unique_ptr<LayoutAwareKernel>(
      new ReferenceMaxPool(std::move(g), *xs, std::move(ys), n.GetInt("storage_order", 0) != 0, std::move(in)));
}

}  // namespace tutti::cpu
