#include "backends/cpu/ops/conv_blocks.h"

#include <omp.h>

#include <numeric>

#include "backends/cpu/asymmetric/block_cost_model.h"

namespace tutti::cpu {

using dnnl::memory;
using tag = memory::format_tag;

int64_t ChannelBlockOf(const memory::desc& md, const Shape& dims, tag* out) {
  static const std::vector<std::pair<tag, int64_t>> kTags[] = {
      {{tag::abc, 1}, {tag::aBc16b, 16}, {tag::aBc8b, 8}, {tag::aBc4b, 4}},
      {{tag::abcd, 1}, {tag::aBcd16b, 16}, {tag::aBcd8b, 8}, {tag::aBcd4b, 4}},
      {{tag::abcde, 1}, {tag::aBcde16b, 16}, {tag::aBcde8b, 8}, {tag::aBcde4b, 4}}};
  if (dims.size() < 3 || dims.size() > 5 || md.is_zero()) return 0;
  for (const auto& [t, b] : kTags[dims.size() - 3]) {
    if (md == memory::desc(ToDnnlDims(dims), memory::data_type::f32, t)) {
      if (out) *out = t;
      return b;
    }
  }
  return 0;
}

namespace {

// Runs f with OpenMP set to one thread, so oneDNN builds the primitive for one core.
template <typename F>
void WithOneThread(F&& f) {
  const int before = omp_get_max_threads();
  omp_set_num_threads(1);
  try {
    f();
  } catch (...) {
    omp_set_num_threads(before);
    throw;
  }
  omp_set_num_threads(before);
}

Shape WithChannels(const Shape& s, int64_t n, int64_t c) {
  Shape r = s;
  r[0] = n;
  r[1] = c;
  return r;
}

}  // namespace

Result<std::unique_ptr<ConvBlocks>> ConvBlocks::Make(const ConvBlockSetup& s, asymmetric::CorePool& pool,
                                                     CpuPartition mode) {
  if (!s.weights || pool.size() < 2) return std::unique_ptr<ConvBlocks>();
  tag src_tag{}, dst_tag{};
  const int64_t bs = ChannelBlockOf(s.src, s.x, &src_tag), bd = ChannelBlockOf(s.dst, s.y, &dst_tag);
  if (bs == 0 || bd == 0) return std::unique_ptr<ConvBlocks>();
  auto b = std::unique_ptr<ConvBlocks>(new ConvBlocks());
  b->pool_ = &pool;
  b->x_ = s.x;
  b->y_ = s.y;
  b->src_tag_ = src_tag;
  b->dst_tag_ = dst_tag;
  const int64_t n = s.x[0], c_in = s.x[1], c_out = s.y[1];
  const int64_t in_sp = NumElements(Shape(s.x.begin() + 2, s.x.end()));
  const int64_t out_sp = NumElements(Shape(s.y.begin() + 2, s.y.end()));
  const int64_t ks = NumElements(s.kernel);
  b->src_image_bytes_ = s.src.get_size() / static_cast<size_t>(n);
  b->dst_image_bytes_ = s.dst.get_size() / static_cast<size_t>(n);
  b->src_channel_bytes_ = static_cast<size_t>(in_sp) * sizeof(float);
  b->dst_channel_bytes_ = static_cast<size_t>(out_sp) * sizeof(float);
  b->grouped_ = s.groups > 1;
  int64_t extent, granule;
  std::function<asymmetric::BlockShape(int64_t)> shape_of;
  if (!b->grouped_) {
    extent = c_out;
    granule = std::max<int64_t>(bd, 8);  // full SIMD vectors of output channels
    shape_of = [=](int64_t e) {
      return asymmetric::BlockShape{double(c_in * in_sp), double(e * c_in * ks), double(e * out_sp),
                                    2.0 * double(e * out_sp) * double(c_in * ks)};
    };
  } else {
    b->icg_ = c_in / s.groups;
    b->ocg_ = c_out / s.groups;
    const int64_t icg = b->icg_, ocg = b->ocg_;
    extent = s.groups;
    // The fewest groups whose input and output channel counts both start on a layout block.
    const int64_t aligned = std::lcm(bs / std::gcd(bs, icg), bd / std::gcd(bd, ocg));
    // ... and at least 8 output channels (a SIMD vector), in whole multiples of that alignment.
    const int64_t min_groups = (8 + ocg - 1) / ocg;
    granule = (min_groups + aligned - 1) / aligned * aligned;
    shape_of = [=](int64_t e) {
      return asymmetric::BlockShape{double(e * icg * in_sp), double(e * ocg * icg * ks), double(e * ocg * out_sp),
                                    2.0 * double(e * ocg * out_sp) * double(icg * ks)};
    };
  }
  if (extent < 2 * granule) return std::unique_ptr<ConvBlocks>();  // one block: nothing to share
  b->partition_ = asymmetric::BlockPartition::Make(mode, pool, asymmetric::ProcessCostModel(), n, extent, granule, shape_of);

  Status st = DnnlTry("creating the convolution blocks", [&] {
    WithOneThread([&] {
      for (int64_t e : b->partition_.extents()) {
        const memory::desc src = b->grouped_ ? memory::desc(ToDnnlDims(WithChannels(s.x, 1, e * b->icg_)), memory::data_type::f32, src_tag)
                                             : memory::desc(ToDnnlDims(WithChannels(s.x, 1, c_in)), memory::data_type::f32, src_tag);
        const int64_t oc = b->grouped_ ? e * b->ocg_ : e;
        const memory::desc dst(ToDnnlDims(WithChannels(s.y, 1, oc)), memory::data_type::f32, dst_tag);
        memory::dims wdims = b->grouped_ ? memory::dims{e, b->ocg_, b->icg_} : memory::dims{e, c_in};
        wdims.insert(wdims.end(), s.kernel.begin(), s.kernel.end());
        const memory::desc w_any(wdims, memory::data_type::f32, tag::any);
        const memory::desc bias = s.has_bias ? memory::desc({oc}, memory::data_type::f32, tag::a) : memory::desc();
        dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src,
                                          w_any, bias, dst, s.strides, s.dilations, s.pad_begin, s.pad_end);
        dnnl::convolution_forward::primitive_desc pd(d, MakeAttr(s.ops), DnnlEngine());
        b->prims_[e] = Prim{dnnl::convolution_forward(pd), pd};
      }
    });
    // Each block's weights: its slice of the ONNX buffer (strides, no copy) reordered once.
    std::vector<int64_t> kstrides(s.kernel.size());
    int64_t st = 1;
    for (size_t i = s.kernel.size(); i-- > 0;) kstrides[i] = st, st *= s.kernel[i];
    for (const asymmetric::Block& blk : b->partition_.blocks()) {
      if (blk.image != 0) break;  // every image is cut the same way
      const int64_t e = blk.extent();
      memory::dims wdims, wstrides;
      const float* from;
      if (!b->grouped_) {
        wdims = {e, c_in};
        wstrides = {c_in * ks, ks};
        from = s.weights + blk.begin * c_in * ks;
      } else {
        wdims = {e, b->ocg_, b->icg_};
        wstrides = {b->ocg_ * b->icg_ * ks, b->icg_ * ks, ks};
        from = s.weights + blk.begin * b->ocg_ * b->icg_ * ks;
      }
      wdims.insert(wdims.end(), s.kernel.begin(), s.kernel.end());
      wstrides.insert(wstrides.end(), kstrides.begin(), kstrides.end());
      const memory::desc user(wdims, memory::data_type::f32, wstrides);
      const memory::desc want = b->prims_.at(e).pd.weights_desc();
      b->weights_[blk.begin] = ReorderConstant(from, user, want);
      b->weight_bytes_ += want.get_size();
    }
  });
  if (!st.ok()) return st;
  return b;
}

Status ConvBlocks::Run(const void* src, void* dst, const void* bias) {
  const char* src_bytes = static_cast<const char*>(src);
  char* dst_bytes = static_cast<char*>(dst);
  const float* bias_f = static_cast<const float*>(bias);
  return partition_.Run(*pool_, [&](const asymmetric::Block& blk) -> Status {
    const Prim& p = prims_.at(blk.extent());
    const int64_t in_c0 = grouped_ ? blk.begin * icg_ : 0;
    const int64_t out_c0 = grouped_ ? blk.begin * ocg_ : blk.begin;
    const char* s = src_bytes + static_cast<size_t>(blk.image) * src_image_bytes_ + static_cast<size_t>(in_c0) * src_channel_bytes_;
    char* d = dst_bytes + static_cast<size_t>(blk.image) * dst_image_bytes_ + static_cast<size_t>(out_c0) * dst_channel_bytes_;
    return DnnlTry("convolution block", [&] {
      std::unordered_map<int, memory> args = {
          {DNNL_ARG_SRC, memory(p.pd.src_desc(), DnnlEngine(), const_cast<char*>(s))},
          {DNNL_ARG_WEIGHTS, memory(p.pd.weights_desc(), DnnlEngine(), weights_.at(blk.begin).get())},
          {DNNL_ARG_DST, memory(p.pd.dst_desc(), DnnlEngine(), d)},
          {DNNL_ARG_SCRATCHPAD, DnnlScratchpad(p.pd)}};
      if (bias_f) args[DNNL_ARG_BIAS] = memory(p.pd.bias_desc(), DnnlEngine(), const_cast<float*>(bias_f + out_c0));
      p.prim.execute(DnnlStream(), args);
      DnnlStream().wait();
    });
  });
}

}  // namespace tutti::cpu
